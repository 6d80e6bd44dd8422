/* Philox4x32-10 and the word-to-uniform map of pmm_sde.streams.reference, for the compiled CPU draws.
 *
 * Key (k0, k1) = low and high words of the 64-bit seed; counter block (c0, c1, c2, c3); ten
 * rounds of  (c0, c1, c2, c3) <- (hi(B c2) ^ c1 ^ k0, lo(B c2), hi(A c0) ^ c3 ^ k1, lo(A c0))
 * with the key bumped by (KEY_A, KEY_B) after each round (Salmon et al., SC'11; Random123's
 * constants, as pmm_sde.streams.reference.philox4x32 and triton.language.philox).
 */
#ifndef PMM_SDE_PHILOX_H
#define PMM_SDE_PHILOX_H

#include <stdint.h>

#define PMM_PHILOX_ROUND_A 0xD2511F53u
#define PMM_PHILOX_ROUND_B 0xCD9E8D57u
#define PMM_PHILOX_KEY_A 0x9E3779B9u
#define PMM_PHILOX_KEY_B 0xBB67AE85u
#define PMM_PHILOX_ROUNDS 10

/* Replace the blocks i < n, (c0[i], c1[i], c2[i], c3[i]), by their Philox4x32-10 images under the
 * key seed. Lane-wise over separate arrays, so that the compiler vectorizes the rounds (32x32 -> 64
 * bit products: vpmuludq on x86-64). */
static inline void pmm_philox(uint64_t seed, int n, uint32_t *restrict c0, uint32_t *restrict c1,
                              uint32_t *restrict c2, uint32_t *restrict c3) {
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < PMM_PHILOX_ROUNDS; ++round) {
        for (int i = 0; i < n; ++i) {
            uint64_t product_a = (uint64_t)c0[i] * PMM_PHILOX_ROUND_A;
            uint64_t product_b = (uint64_t)c2[i] * PMM_PHILOX_ROUND_B;
            uint32_t old_c1 = c1[i], old_c3 = c3[i];
            c0[i] = (uint32_t)(product_b >> 32) ^ old_c1 ^ k0;
            c2[i] = (uint32_t)(product_a >> 32) ^ old_c3 ^ k1;
            c1[i] = (uint32_t)product_b;
            c3[i] = (uint32_t)product_a;
        }
        k0 += PMM_PHILOX_KEY_A;
        k1 += PMM_PHILOX_KEY_B;
    }
}

/* The blocks (e lo, e hi, counter, attempt) of elements e = first .. first + n - 1. */
static inline void pmm_philox_blocks(uint64_t seed, uint64_t first, int n, uint32_t counter, uint32_t attempt,
                                     uint32_t *restrict c0, uint32_t *restrict c1, uint32_t *restrict c2,
                                     uint32_t *restrict c3) {
    for (int i = 0; i < n; ++i) {
        uint64_t element = first + (uint64_t)i;
        c0[i] = (uint32_t)element;
        c1[i] = (uint32_t)(element >> 32);
        c2[i] = counter;
        c3[i] = attempt;
    }
    pmm_philox(seed, n, c0, c1, c2, c3);
}

/* to_unit_interval: (floor(w 2^(bits-32)) + 1/2) 2^-bits, exact in double (bits = 32 or 23). */
static inline double pmm_unit_interval(uint32_t word, int bits) {
    double scale = bits == 32 ? 0x1p-32 : 0x1p-23;
    return ((double)(word >> (32 - bits)) + 0.5) * scale;
}

#endif
