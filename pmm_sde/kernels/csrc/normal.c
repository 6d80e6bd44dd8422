/* Standard normals of pmm_sde.random.normal (elements 0 .. numel - 1), compiled for the CPU.
 *
 * Group g (elements 4g .. 4g+3) is the Philox block (g, counter, 0); words (w0, w1) give the
 * radius and angle of lanes 0 and 1, words (w2, w3) those of lanes 2 and 3:
 *     r = sqrt(-2 log U(w_radius)),  t = 2 pi U(w_angle),  lanes (r cos t, r sin t),
 * in double, rounded once to the output type. The transform runs over a chunk of groups at a
 * time in separate loops (log and sqrt, then cos, then sin) so that the compiler can call
 * vector math (glibc's libmvec under -ffast-math); those functions are within a few ulps of
 * the reference's, so float32 draws agree with the torch path to one ulp and almost always
 * exactly, float64 draws in their last bits.
 */
#include <math.h>
#include <stddef.h>

#include "philox.h"

#define CHUNK 256
#define TWO_PI 6.283185307179586

/* Fill out32 (float) or out64 (double) with the normals of groups [g0, g0 + n) cut at numel. */
static void normal_chunk(uint64_t seed, uint32_t counter, int bits, int64_t g0, int n, int64_t numel,
                         float *out32, double *out64) {
    double radius[2 * CHUNK], angle[2 * CHUNK], lane_cos[2 * CHUNK], lane_sin[2 * CHUNK];
    for (int i = 0; i < n; ++i) {
        uint32_t c[4];
        pmm_philox_block(seed, (uint64_t)(g0 + i), counter, 0, c);
        radius[i] = pmm_unit_interval(c[0], bits);
        angle[i] = pmm_unit_interval(c[1], bits);
        radius[n + i] = pmm_unit_interval(c[2], bits);
        angle[n + i] = pmm_unit_interval(c[3], bits);
    }
    for (int j = 0; j < 2 * n; ++j) {
        radius[j] = sqrt(-2.0 * log(radius[j]));
        angle[j] = TWO_PI * angle[j];
    }
    for (int j = 0; j < 2 * n; ++j) lane_cos[j] = radius[j] * cos(angle[j]);
    for (int j = 0; j < 2 * n; ++j) lane_sin[j] = radius[j] * sin(angle[j]);
    int64_t first = 4 * g0;
    int64_t count = numel - first < 4 * (int64_t)n ? numel - first : 4 * (int64_t)n;
    for (int64_t j = 0; j < count; ++j) {
        int i = (int)(j >> 2), lane = (int)(j & 3);
        int pair = (lane >> 1) * n + i;
        double value = (lane & 1) ? lane_sin[pair] : lane_cos[pair];
        if (out32 != NULL) out32[first + j] = (float)value;
        else out64[first + j] = value;
    }
}

static void normal_fill(uint64_t seed, uint32_t counter, int bits, int64_t numel, float *out32, double *out64) {
    int64_t groups = (numel + 3) / 4;
    for (int64_t g0 = 0; g0 < groups; g0 += CHUNK) {
        int n = groups - g0 < CHUNK ? (int)(groups - g0) : CHUNK;
        normal_chunk(seed, counter, bits, g0, n, numel, out32, out64);
    }
}

/* float32 draws: uniforms from the leading 23 bits of each word. */
void pmm_normal_f32(uint64_t seed, uint32_t counter, int64_t numel, float *out) {
    normal_fill(seed, counter, 23, numel, out, NULL);
}

/* float64 draws: uniforms from all 32 bits of each word. */
void pmm_normal_f64(uint64_t seed, uint32_t counter, int64_t numel, double *out) {
    normal_fill(seed, counter, 32, numel, NULL, out);
}
