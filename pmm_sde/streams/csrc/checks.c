/* The prediction checks of pmm_sde.chain.PredictionMonitor on the CPU: the number of entries of
 * x[0 .. numel - 1] that are NaN or infinite, or (nonnegative != 0) below 0. IEEE comparisons:
 * v - v == 0 exactly when v is finite, v >= 0 is false for NaN (compile without fast-math). */
#include <stdint.h>

#define DEFINE_COUNT_INVALID(T, SUFFIX)                                                        \
    int64_t pmm_count_invalid_##SUFFIX(const T *x, int64_t numel, int nonnegative) {           \
        int64_t invalid = 0;                                                                   \
        if (nonnegative) {                                                                     \
            for (int64_t i = 0; i < numel; ++i) invalid += !(x[i] >= 0 && x[i] - x[i] == 0);   \
        } else {                                                                               \
            for (int64_t i = 0; i < numel; ++i) invalid += !(x[i] - x[i] == 0);                \
        }                                                                                      \
        return invalid;                                                                        \
    }

DEFINE_COUNT_INVALID(float, f32)
DEFINE_COUNT_INVALID(double, f64)
