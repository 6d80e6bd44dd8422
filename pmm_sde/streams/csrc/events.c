/* pmm_sde.kernels.gamma_oracle_tau_leap_events, compiled for the CPU: the Gamma-oracle tau-leap chain
 * from one step with counts to the next, element by element, with the float64 operations of the
 * torch reference in its order (compile without fast-math, with -ffp-contract=off).
 *
 * W[0 .. steps] are the prefix sums of w[k] = dA_k / (b* + A_k). Element e at step k with count N,
 * event j: (w0, w1) = words 0, 1 of block (e, j, 0);  E = -log U(w0);  J = the first index with
 * W[J] > W[k] + E / (a* + N) (a binary search over k + 1 .. steps, steps + 1 when none);  J > steps:
 * done;  else N += a zero-truncated Poisson((a* + N) w[J - 1]) count from U(w1), k = J.
 * Then mu = (a0 + N) / lam_K in the state's type (lam_K = b0 + A_K).
 */
#include <math.h>

#include "draws.h"
#include "philox.h"

static double gamma_events_count(const double *W, const double *w, int64_t steps, double a_star, uint64_t seed,
                                 uint64_t element) {
    double count = 0.0;
    int64_t k = 0;
    for (uint32_t event = 0;; ++event) {
        uint32_t w0, w1, w2, w3;
        pmm_philox_blocks(seed, element, 1, event, 0, &w0, &w1, &w2, &w3);
        double scale = a_star + count;
        double target = W[k] - log(pmm_unit_interval(w0, 32)) / scale;
        int64_t low = k + 1, high = steps + 1;
        while (low < high) {
            int64_t middle = (low + high) / 2;
            if (W[middle] <= target) low = middle + 1;
            else high = middle;
        }
        if (low > steps) return count;
        count += pmm_zero_truncated_poisson(scale * w[low - 1], pmm_unit_interval(w1, 32), seed, event, element);
        k = low;
    }
}

#define DEFINE_GAMMA_EVENTS(T, SUFFIX)                                                                        \
    void pmm_gamma_events_##SUFFIX(int64_t n, const double *W, const double *w, int64_t steps, double a_star,  \
                                   T a0, T lam_K, uint64_t seed, T *out) {                                    \
        for (int64_t e = 0; e < n; ++e)                                                                       \
            out[e] = (a0 + (T)gamma_events_count(W, w, steps, a_star, seed, (uint64_t)e)) / lam_K;            \
    }

DEFINE_GAMMA_EVENTS(float, f32)
DEFINE_GAMMA_EVENTS(double, f64)
