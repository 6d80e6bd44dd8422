/* Fused CPU steps of pmm_sde.kernels.ops: one pass that reads mu and xhat, draws the step's
 * noise from the counter-based stream and writes mu', with the torch reference's arithmetic in
 * the state's type T (float or double) and order (compile without fast-math or fused
 * multiply-adds). An elementwise step pmm_<op>_step_f32 / _f64 takes
 * (mu, xhat, n, coefficient..., seed, counter, offset, out), the coefficients in the order of the op's
 * torch reference (pmm_sde.streams.native.fused_step declares it):
 *   euler_maruyama: mu' = mu + drift (xhat - mu) h + diffusion z,
 *   pmm_chain:      mu' = (lam0 mu + (dA xhat + sqrt_dA z)) / lam1,
 *   tau_leap:       mu' = (lam0 mu + N) / lam1,  N ~ Poisson(dA xhat),
 *   categorical_tau_leap (positions of K classes, A per position):
 *                   c ~ Poisson(dA xhat),  A' = A + sum_k c_k,  mu' = ((s0 + A) mu + c) / (s0 + A'),
 * where z, N and c are the normals and counts of element offset + e (e the flat index) of the stream
 * (seed, counter): offset is the element index of the state's first entry (a run's first sample times
 * the entries per sample).
 */
#include <stdint.h>

#include "draws.h"

/* Elements per block of normals drawn ahead of the update: the normals' chunk (normal.c), so that the
 * blocks, aligned to multiples of it in the element index, each fill one chunk. */
#define STEP_CHUNK 1024

/* The body of a step whose update reads mu[e], xhat[e] and the normal z[j] of e = first + j (element
 * offset + e): the normals are drawn ahead of the update, a block at a time. */
#define NORMAL_STEP_BODY(T, SUFFIX, UPDATE)                                                              \
    T z[STEP_CHUNK];                                                                                     \
    for (int64_t first = 0; first < numel;) {                                                           \
        int64_t count = STEP_CHUNK - (offset + first) % STEP_CHUNK;                                      \
        count = numel - first < count ? numel - first : count;                                           \
        pmm_normal_range_##SUFFIX(seed, counter, offset + first, count, z);                             \
        for (int64_t j = 0; j < count; ++j) {                                                           \
            int64_t e = first + j;                                                                       \
            out[e] = UPDATE;                                                                             \
        }                                                                                                \
        first += count;                                                                                  \
    }

#define DEFINE_STEPS(T, SUFFIX)                                                                          \
    void pmm_euler_maruyama_step_##SUFFIX(const T *mu, const T *xhat, int64_t numel, T drift, T h,      \
                                          T diffusion, uint64_t seed, uint32_t counter, int64_t offset, T *out) {\
        NORMAL_STEP_BODY(T, SUFFIX, mu[e] + drift * (xhat[e] - mu[e]) * h + diffusion * z[j])           \
    }                                                                                                    \
                                                                                                         \
    void pmm_pmm_chain_step_##SUFFIX(const T *mu, const T *xhat, int64_t numel, T lam0, T lam1, T dA,    \
                                     T sqrt_dA, uint64_t seed, uint32_t counter, int64_t offset, T *out) {\
        NORMAL_STEP_BODY(T, SUFFIX, (lam0 * mu[e] + (dA * xhat[e] + sqrt_dA * z[j])) / lam1)             \
    }                                                                                                    \
                                                                                                         \
    void pmm_tau_leap_step_##SUFFIX(const T *mu, const T *xhat, int64_t numel, T lam0, T lam1, T dA,     \
                                    uint64_t seed, uint32_t counter, int64_t offset, T *out) {\
        double rate[STEP_CHUNK], counts[STEP_CHUNK];                                                     \
        for (int64_t first = 0; first < numel; first += STEP_CHUNK) {                                   \
            int64_t count = numel - first < STEP_CHUNK ? numel - first : STEP_CHUNK;                    \
            for (int64_t j = 0; j < count; ++j) rate[j] = (double)(T)(dA * xhat[first + j]);            \
            pmm_poisson_range(rate, offset + first, count, seed, counter, counts);\
            for (int64_t j = 0; j < count; ++j) {                                                       \
                int64_t e = first + j;                                                                   \
                out[e] = (lam0 * mu[e] + (T)counts[j]) / lam1;                                           \
            }                                                                                            \
        }                                                                                                \
    }

/* The class counts of position p go to out[p K .. p K + K - 1] first (as T, which holds them exactly, as
 * the torch path's counts), summed in class order; then the update overwrites them. */
#define DEFINE_CATEGORICAL_STEP(T, SUFFIX)                                                               \
    void pmm_categorical_tau_leap_step_##SUFFIX(const T *mu, const T *xhat, const T *A, int64_t positions, \
                                                int64_t K, T s0, T dA, uint64_t seed, uint32_t counter, int64_t offset,\
                                                T *out, T *A_out) {                                       \
        double rate[STEP_CHUNK], counts[STEP_CHUNK];                                                     \
        for (int64_t p = 0; p < positions; ++p) {                                                        \
            int64_t row = p * K;                                                                         \
            T total = 0;                                                                                 \
            for (int64_t first = 0; first < K; first += STEP_CHUNK) {                                    \
                int64_t count = K - first < STEP_CHUNK ? K - first : STEP_CHUNK;                        \
                for (int64_t j = 0; j < count; ++j) rate[j] = (double)(T)(dA * xhat[row + first + j]);  \
                pmm_poisson_range(rate, offset + row + first, count, seed, counter, counts);\
                for (int64_t j = 0; j < count; ++j) {                                                   \
                    out[row + first + j] = (T)counts[j];                                                 \
                    total += (T)counts[j];                                                               \
                }                                                                                        \
            }                                                                                            \
            T A_next = A[p] + total, lam0 = s0 + A[p], lam1 = s0 + A_next;                               \
            for (int64_t k = 0; k < K; ++k) out[row + k] = (lam0 * mu[row + k] + out[row + k]) / lam1;   \
            A_out[p] = A_next;                                                                           \
        }                                                                                                \
    }

DEFINE_STEPS(float, f32)
DEFINE_STEPS(double, f64)
DEFINE_CATEGORICAL_STEP(float, f32)
DEFINE_CATEGORICAL_STEP(double, f64)
