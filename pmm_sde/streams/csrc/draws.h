/* The draws that the fused steps (steps.c) take from normal.c and poisson.c. */
#ifndef PMM_SDE_DRAWS_H
#define PMM_SDE_DRAWS_H

#include <stdint.h>

/* Normals of elements first .. first + count - 1 into out[0 .. count - 1]. */
void pmm_normal_range_f32(uint64_t seed, uint32_t counter, int64_t first, int64_t count, float *out);
void pmm_normal_range_f64(uint64_t seed, uint32_t counter, int64_t first, int64_t count, double *out);

/* Poisson counts of elements first .. first + count - 1 at rate[0 .. count - 1] into out[0 .. count - 1]
 * (NaN for a rate that is negative, NaN or infinite). */
void pmm_poisson_range(const double *rate, int64_t first, int64_t count, uint64_t seed, uint32_t counter,
                       double *out);

/* pmm_sde.streams.reference.zero_truncated_poisson of one element: Poisson(rate) given >= 1 for a rate > 0, from
 * the inversion uniform u below rate 30, else PTRS attempts from blocks (element, counter, j + 1). */
double pmm_zero_truncated_poisson(double rate, double u, uint64_t seed, uint32_t counter, uint64_t element);

#endif
