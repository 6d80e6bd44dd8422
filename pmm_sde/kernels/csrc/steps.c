/* Fused CPU steps of pmm_sde.kernels.steps: one pass that reads mu and xhat, draws the step's
 * noise from the counter-based stream and writes mu', with the torch reference's arithmetic in
 * the state's type T (float or double) and order (compile without fast-math or fused
 * multiply-adds):
 *   euler_maruyama: mu' = mu + drift (xhat - mu) h + diffusion z,
 *   pmm_chain:      mu' = (lam0 mu + (dA xhat + sqrt_dA z)) / lam1,
 *   tau_leap:       mu' = (lam0 mu + N) / lam1,  N ~ Poisson(dA xhat),
 * where z and N are the normals and counts of element e (flat index) of the stream (seed, counter).
 */
#include <stdint.h>

#include "draws.h"

/* Elements per block of normals drawn ahead of the update (a multiple of 4). */
#define STEP_CHUNK 1024

/* The body of a step whose update reads mu[e], xhat[e] and the normal z[j] of element e = first + j:
 * the normals are drawn STEP_CHUNK at a time ahead of the update. */
#define NORMAL_STEP_BODY(T, SUFFIX, UPDATE)                                                              \
    T z[STEP_CHUNK];                                                                                     \
    for (int64_t first = 0; first < numel; first += STEP_CHUNK) {                                       \
        int64_t count = numel - first < STEP_CHUNK ? numel - first : STEP_CHUNK;                        \
        pmm_normal_range_##SUFFIX(seed, counter, first, count, z);                                      \
        for (int64_t j = 0; j < count; ++j) {                                                           \
            int64_t e = first + j;                                                                       \
            out[e] = UPDATE;                                                                             \
        }                                                                                                \
    }

#define DEFINE_STEPS(T, SUFFIX)                                                                          \
    void pmm_euler_maruyama_step_##SUFFIX(const T *mu, const T *xhat, int64_t numel, T drift, T h,      \
                                          T diffusion, uint64_t seed, uint32_t counter, T *out) {      \
        NORMAL_STEP_BODY(T, SUFFIX, mu[e] + drift * (xhat[e] - mu[e]) * h + diffusion * z[j])           \
    }                                                                                                    \
                                                                                                         \
    void pmm_pmm_chain_step_##SUFFIX(const T *mu, const T *xhat, int64_t numel, T lam0, T lam1, T dA,    \
                                     T sqrt_dA, uint64_t seed, uint32_t counter, T *out) {              \
        NORMAL_STEP_BODY(T, SUFFIX, (lam0 * mu[e] + (dA * xhat[e] + sqrt_dA * z[j])) / lam1)             \
    }                                                                                                    \
                                                                                                         \
    void pmm_tau_leap_step_##SUFFIX(const T *mu, const T *xhat, int64_t numel, T lam0, T lam1, T dA,     \
                                    uint64_t seed, uint32_t counter, T *out) {                          \
        double rate[STEP_CHUNK], counts[STEP_CHUNK];                                                     \
        for (int64_t first = 0; first < numel; first += STEP_CHUNK) {                                   \
            int64_t count = numel - first < STEP_CHUNK ? numel - first : STEP_CHUNK;                    \
            for (int64_t j = 0; j < count; ++j) rate[j] = (double)(T)(dA * xhat[first + j]);            \
            pmm_poisson_range(rate, first, count, seed, counter, counts);                               \
            for (int64_t j = 0; j < count; ++j) {                                                       \
                int64_t e = first + j;                                                                   \
                out[e] = (lam0 * mu[e] + (T)counts[j]) / lam1;                                           \
            }                                                                                            \
        }                                                                                                \
    }

DEFINE_STEPS(float, f32)
DEFINE_STEPS(double, f64)
