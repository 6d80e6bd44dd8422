/* Poisson counts of pmm_sde.streams.reference.poisson (element e = offset + flat position), compiled for the CPU.
 *
 * The same float64 operations in the same order as the torch reference, so compile without
 * fast-math and with -ffp-contract=off (no fused multiply-add):
 *   rate < 30: inversion by sequential search, u = U(word e & 3 of block (e >> 2, counter, 0)):
 *       D_0 = u exp(rate), T_0 = P_0 = 1;  while D_k > T_k: k <- k + 1, P_k = P_{k-1} rate,
 *       T_k = k T_{k-1} + P_k, D_k = D_{k-1} k  (u > F(k) iff D_k > T_k, no division);
 *   rate >= 30: Hormann's PTRS, attempt j = 0, 1, .. from words (w0, w1) of block (e, counter, j + 1);
 *   a rate that is negative, NaN or infinite gives NaN.
 * And pmm_sde.streams.reference.zero_truncated_poisson: the search from D_0 = 1 + u expm1(rate) below 30, PTRS
 * rejecting 0 from 30.
 */
#include <math.h>

#include "draws.h"
#include "philox.h"

#define INVERSION_MAX 30.0          /* pmm_sde.streams.reference.POISSON_INVERSION_MAX */
#define LOG_FACTORIAL_EXACT_MAX 18  /* pmm_sde.streams.reference.LOG_FACTORIAL_EXACT_MAX */
#define HALF_LOG_2PI 0.9189385332046727
/* Elements per block of Philox words drawn ahead. */
#define CHUNK 256

/* log k! : log of the exact product for k <= 18, Stirling's series at x = k + 1 above. */
static double log_factorial(double k) {
    if (k <= LOG_FACTORIAL_EXACT_MAX) {
        double product = 1.0;
        for (double j = 2.0; j <= k; j += 1.0) product *= j;
        return log(product);
    }
    double x = k + 1.0;
    double s = 1.0 / x;
    double s2 = s * s;
    double series = s * (1.0 / 12.0 + s2 * (-1.0 / 360.0 + s2 * (1.0 / 1260.0 + s2 * (-1.0 / 1680.0
                                                                                     + s2 * (1.0 / 1188.0)))));
    return (x - 0.5) * log(x) - x + HALF_LOG_2PI + series;
}

/* The inversion's search from D_0 = d: u exp(rate) for Poisson(rate), 1 + u expm1(rate) for the
 * zero-truncated law. */
static double poisson_search(double rate, double d) {
    double t = 1.0, p = 1.0, k = 0.0;
    while (d > t) {  /* a stalled T_k ends when both overflow to inf (k near 171) */
        k += 1.0;
        p = p * rate;
        t = k * t + p;
        d = d * k;
    }
    return k;
}

/* pmm_sde.streams.reference._expm1: exp(x) - 1 for x >= 0 by Kahan's (e - 1) x / log e. */
static double expm1_kahan(double x) {
    double e = exp(x);
    return e == 1.0 ? x : (e - 1.0) * x / log(e);
}

/* PTRS attempt j = 0, 1, .. from words (w0, w1) of block (element, counter, j + 1); attempt 0's words
 * are given. Counts below lowest are rejected (lowest = 1: the zero-truncated law). */
static double poisson_ptrs(double lam, uint32_t w0, uint32_t w1, uint64_t seed, uint32_t counter, uint64_t element,
                           double lowest) {
    double slam = sqrt(lam), loglam = log(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    double v_r = 0.9277 - 3.6224 / (b - 2.0);
    for (uint32_t attempt = 1;; ++attempt) {
        if (attempt > 1) {
            uint32_t w2, w3;
            pmm_philox_blocks(seed, element, 1, counter, attempt, &w0, &w1, &w2, &w3);
        }
        double u = pmm_unit_interval(w0, 32) - 0.5;
        double v = pmm_unit_interval(w1, 32);
        double us = 0.5 - fabs(u);
        double k = floor((2.0 * a / us + b) * u + lam + 0.43);
        if (k < lowest) continue;
        if (us >= 0.07 && v <= v_r) return k;
        if (us < 0.013 && v > us) continue;
        if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <= -lam + k * loglam - log_factorial(k)) return k;
    }
}

void pmm_poisson_range(const double *rate, int64_t first, int64_t count, uint64_t seed, uint32_t counter,
                       double *out) {
    /* A chunk's inversion words: blocks (g, counter, 0) of its groups g = e >> 2; with a rate >= 30
     * in the chunk, also the first PTRS attempt's blocks (e, counter, 1) of its elements. */
    uint32_t w0[CHUNK / 4 + 2], w1[CHUNK / 4 + 2], w2[CHUNK / 4 + 2], w3[CHUNK / 4 + 2];
    uint32_t p0[CHUNK], p1[CHUNK], p2[CHUNK], p3[CHUNK];
    const uint32_t *lanes[4] = {w0, w1, w2, w3};
    for (int64_t done = 0; done < count; done += CHUNK) {
        int n = count - done < CHUNK ? (int)(count - done) : CHUNK;
        uint64_t base = (uint64_t)(first + done), g0 = base >> 2;
        pmm_philox_blocks(seed, g0, (int)(((base + (uint64_t)n - 1) >> 2) - g0 + 1), counter, 0, w0, w1, w2, w3);
        int big = 0;
        for (int i = 0; i < n; ++i) big |= rate[done + i] >= INVERSION_MAX;
        if (big) pmm_philox_blocks(seed, base, n, counter, 1, p0, p1, p2, p3);
        for (int i = 0; i < n; ++i) {
            double lam = rate[done + i];
            uint64_t element = base + (uint64_t)i;
            if (!(isfinite(lam) && lam >= 0)) out[done + i] = NAN;
            else if (lam < INVERSION_MAX)
                out[done + i] = poisson_search(lam, pmm_unit_interval(lanes[element & 3][(element >> 2) - g0], 32)
                                                        * exp(lam));
            else out[done + i] = poisson_ptrs(lam, p0[i], p1[i], seed, counter, element, 0.0);
        }
    }
}

double pmm_zero_truncated_poisson(double rate, double u, uint64_t seed, uint32_t counter, uint64_t element) {
    if (rate < INVERSION_MAX) return poisson_search(rate, 1.0 + u * expm1_kahan(rate));
    uint32_t w0, w1, w2, w3;
    pmm_philox_blocks(seed, element, 1, counter, 1, &w0, &w1, &w2, &w3);
    return poisson_ptrs(rate, w0, w1, seed, counter, element, 1.0);
}

#define DEFINE_POISSON(T, SUFFIX)                                                                       \
    void pmm_poisson_##SUFFIX(const T *rate, int64_t numel, uint64_t seed, uint32_t counter, int64_t offset, \
                              T *out) {                                                                 \
        double rate64[CHUNK], counts[CHUNK];                                                            \
        for (int64_t first = 0; first < numel; first += CHUNK) {                                       \
            int n = numel - first < CHUNK ? (int)(numel - first) : CHUNK;                               \
            for (int i = 0; i < n; ++i) rate64[i] = (double)rate[first + i];                            \
            pmm_poisson_range(rate64, offset + first, n, seed, counter, counts);                        \
            for (int i = 0; i < n; ++i) out[first + i] = (T)counts[i];                                  \
        }                                                                                               \
    }

DEFINE_POISSON(float, f32)
DEFINE_POISSON(double, f64)
