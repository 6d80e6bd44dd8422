/* Standard normals of pmm_sde.streams.reference.normal (elements first .. first + numel - 1), compiled for the CPU.
 *
 * Group g (elements 4g .. 4g+3) is the Philox block (g, counter, 0); words (w0, w1) give the
 * radius and angle of lanes 0 and 1, words (w2, w3) those of lanes 2 and 3:
 *     r = sqrt(-2 log U(w_radius)),  t = 2 pi U(w_angle),  lanes (r cos t, r sin t),
 * in double, rounded once to the output type. The transform runs over a chunk of groups at a
 * time in separate loops (log and sqrt, then cos, then sin) so that the compiler can call
 * vector math (glibc's libmvec under -ffast-math). How the draws agree with the torch path:
 * docs/kernels.md.
 */
#include <math.h>
#include <stddef.h>

#include "draws.h"
#include "philox.h"

#define CHUNK 256
#define TWO_PI 6.283185307179586

/* out[4i .. 4i+3] = (r_a cos t_a, r_a sin t_a, r_b cos t_b, r_b sin t_b) of group i < n, converted
 * to out's type. */
#define STORE_LANES(out, n, lane_cos, lane_sin)          \
    for (int i = 0; i < (n); ++i) {                      \
        (out)[4 * i] = (lane_cos)[i];                    \
        (out)[4 * i + 1] = (lane_sin)[i];                \
        (out)[4 * i + 2] = (lane_cos)[(n) + i];          \
        (out)[4 * i + 3] = (lane_sin)[(n) + i];          \
    }

/* The normals of the CHUNK groups g0 .. g0 + CHUNK - 1 (g0 a multiple of CHUNK), of which elements
 * 4 g0 + lo .. 4 g0 + hi - 1 go to out32 (float) or out64 (double). Every chunk is computed whole at
 * a position fixed by its groups: vector math may round differently from its scalar remainder loop,
 * so a group's lanes go through the same code whatever range is asked for. */
static void normal_chunk(uint64_t seed, uint32_t counter, int bits, int64_t g0, int lo, int hi,
                         float *out32, double *out64) {
    enum { n = CHUNK };
    uint32_t w0[CHUNK], w1[CHUNK], w2[CHUNK], w3[CHUNK];
    double radius[2 * CHUNK], angle[2 * CHUNK], lane_cos[2 * CHUNK], lane_sin[2 * CHUNK];
    pmm_philox_blocks(seed, (uint64_t)g0, n, counter, 0, w0, w1, w2, w3);
    for (int i = 0; i < n; ++i) {
        radius[i] = pmm_unit_interval(w0[i], bits);
        angle[i] = pmm_unit_interval(w1[i], bits);
        radius[n + i] = pmm_unit_interval(w2[i], bits);
        angle[n + i] = pmm_unit_interval(w3[i], bits);
    }
    for (int j = 0; j < 2 * n; ++j) {
        radius[j] = sqrt(-2.0 * log(radius[j]));
        angle[j] = TWO_PI * angle[j];
    }
    for (int j = 0; j < 2 * n; ++j) lane_cos[j] = radius[j] * cos(angle[j]);
    for (int j = 0; j < 2 * n; ++j) lane_sin[j] = radius[j] * sin(angle[j]);
    if (lo == 0 && hi == 4 * n) {  /* the whole chunk: lanes interleaved without a branch per element */
        if (out32 != NULL) {
            STORE_LANES(out32, n, lane_cos, lane_sin)
        } else {
            STORE_LANES(out64, n, lane_cos, lane_sin)
        }
        return;
    }
    for (int j = lo; j < hi; ++j) {
        int pair = ((j & 3) >> 1) * n + (j >> 2);
        double value = (j & 1) ? lane_sin[pair] : lane_cos[pair];
        if (out32 != NULL) out32[j - lo] = (float)value;
        else out64[j - lo] = value;
    }
}

/* Elements first .. first + count - 1, from the chunks of CHUNK groups that hold them. */
static void normal_range(uint64_t seed, uint32_t counter, int bits, int64_t first, int64_t count,
                         float *out32, double *out64) {
    for (int64_t done = 0; done < count;) {
        int64_t element = first + done;
        int64_t g0 = (element >> 2) / CHUNK * CHUNK;
        int lo = (int)(element - 4 * g0);
        int hi = count - done < 4 * CHUNK - lo ? lo + (int)(count - done) : 4 * CHUNK;
        normal_chunk(seed, counter, bits, g0, lo, hi, out32 == NULL ? NULL : out32 + done,
                     out64 == NULL ? NULL : out64 + done);
        done += hi - lo;
    }
}

/* float32 draws: uniforms from the leading 23 bits of each word. */
void pmm_normal_range_f32(uint64_t seed, uint32_t counter, int64_t first, int64_t count, float *out) {
    normal_range(seed, counter, 23, first, count, out, NULL);
}

/* float64 draws: uniforms from all 32 bits of each word. */
void pmm_normal_range_f64(uint64_t seed, uint32_t counter, int64_t first, int64_t count, double *out) {
    normal_range(seed, counter, 32, first, count, NULL, out);
}

void pmm_normal_f32(uint64_t seed, uint32_t counter, int64_t first, int64_t numel, float *out) {
    pmm_normal_range_f32(seed, counter, first, numel, out);
}

void pmm_normal_f64(uint64_t seed, uint32_t counter, int64_t first, int64_t numel, double *out) {
    pmm_normal_range_f64(seed, counter, first, numel, out);
}
