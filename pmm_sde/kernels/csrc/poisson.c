/* Poisson counts of pmm_sde.random.poisson (element e = flat position), compiled for the CPU.
 *
 * The same float64 operations in the same order as the torch reference, so compile without
 * fast-math and with -ffp-contract=off (no fused multiply-add):
 *   rate < 10: inversion by sequential search, u = U(w0) of block (e, counter, 0):
 *       p_0 = exp(-rate), F_0 = p_0;  k <- k + 1, p_k = p_{k-1} rate / k, F_k = F_{k-1} + p_k
 *       while u > F_k and p_k > 0;
 *   rate >= 10: Hormann's PTRS, attempt j from words (w0, w1) of block (e, counter, j);
 *   a rate that is negative, NaN or infinite gives NaN.
 */
#include <math.h>

#include "philox.h"

#define INVERSION_MAX 10.0          /* pmm_sde.random.POISSON_INVERSION_MAX */
#define LOG_FACTORIAL_EXACT_MAX 18  /* pmm_sde.random.LOG_FACTORIAL_EXACT_MAX */
#define HALF_LOG_2PI 0.9189385332046727

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

static double poisson_inversion(double rate, double u) {
    double p = exp(-rate), cdf = p, k = 0.0;
    while (u > cdf) {
        k += 1.0;
        p = p * rate / k;
        cdf = cdf + p;
        if (!(p > 0)) break;  /* a cdf that stalls below u through rounding ends the search */
    }
    return k;
}

static double poisson_ptrs(double lam, uint64_t seed, uint32_t counter, uint64_t element) {
    double slam = sqrt(lam), loglam = log(lam);
    double b = 0.931 + 2.53 * slam;
    double a = -0.059 + 0.02483 * b;
    double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    double v_r = 0.9277 - 3.6224 / (b - 2.0);
    for (uint32_t attempt = 0;; ++attempt) {
        uint32_t c[4];
        pmm_philox_block(seed, element, counter, attempt, c);
        double u = pmm_unit_interval(c[0], 32) - 0.5;
        double v = pmm_unit_interval(c[1], 32);
        double us = 0.5 - fabs(u);
        double k = floor((2.0 * a / us + b) * u + lam + 0.43);
        if (us >= 0.07 && v <= v_r) return k;
        if (k < 0 || (us < 0.013 && v > us)) continue;
        if (log(v) + log(inv_alpha) - log(a / (us * us) + b) <= -lam + k * loglam - log_factorial(k)) return k;
    }
}

static double poisson_one(double rate, uint64_t seed, uint32_t counter, uint64_t element) {
    if (!(isfinite(rate) && rate >= 0)) return NAN;
    if (rate < INVERSION_MAX) {
        uint32_t c[4];
        pmm_philox_block(seed, element, counter, 0, c);
        return poisson_inversion(rate, pmm_unit_interval(c[0], 32));
    }
    return poisson_ptrs(rate, seed, counter, element);
}

void pmm_poisson_f32(const float *rate, int64_t numel, uint64_t seed, uint32_t counter, float *out) {
    for (int64_t e = 0; e < numel; ++e) out[e] = (float)poisson_one((double)rate[e], seed, counter, (uint64_t)e);
}

void pmm_poisson_f64(const double *rate, int64_t numel, uint64_t seed, uint32_t counter, double *out) {
    for (int64_t e = 0; e < numel; ++e) out[e] = poisson_one(rate[e], seed, counter, (uint64_t)e);
}
