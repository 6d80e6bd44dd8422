"""Counter-based random streams: Philox4x32-10 keyed by a seed, indexed by (element, counter).

Every draw is a pure function of ``(seed, counter, element index)``, so sample ``i`` of a batch
sees the same numbers whatever the batch size (the element index of sample ``i`` is
``i * numel_per_sample + j``), and the compiled backends repeat it (``docs/kernels.md``).

Philox4x32-10 (Salmon et al., SC'11) with the round and key constants of Random123, as in
``triton.language.randint4x``: the key is the 64-bit seed split into two 32-bit words, the
counter block is ``(c0, c1, c2, c3)``. Words are held in int64 tensors; a 32x32 -> 64-bit
product is one int64 multiplication, which wraps modulo 2^64 and so holds the product's 64 bits
exactly (two's complement): an arithmetic shift and a mask give its high word, a mask its low word.

Counter layout used throughout the package:
``c0, c1`` = low and high words of the element (or group) index, ``c2`` = the caller's counter
(for a chain: step and draw slot), ``c3`` = the attempt number of a rejection sampler.
"""

from __future__ import annotations

import math
import operator

import torch

from .._validation import seed as _seed

_M32 = 0xFFFFFFFF
_ROUND_A = 0xD2511F53
_ROUND_B = 0xCD9E8D57
_KEY_A = 0x9E3779B9
_KEY_B = 0xBB67AE85
ROUNDS = 10
#: Counter words are 32 bits: ``c1``, ``c2`` and ``c3`` hold values in ``[0, COUNTER_RANGE)``.
COUNTER_RANGE = 2**32
#: Counter words ``c2`` reserved for the draws of one step: step ``k`` of a run uses
#: ``k * COUNTERS_PER_STEP + slot``.
COUNTERS_PER_STEP = 8
#: Counter words are 32 bits, so a run takes at most this many steps (more would wrap around and
#: repeat the noise of earlier steps).
MAX_STEPS = COUNTER_RANGE // COUNTERS_PER_STEP

#: Threshold of the Poisson sampler: inversion below, PTRS transformed rejection at or above. PTRS
#: is valid from 10; inversion by products (``_poisson_search``) costs about ``rate`` multiplies
#: and stays far from float64 overflow (its ``k! e^rate`` is below 1e110 here), so it runs up to 30:
#: on a GPU every lane of a warp waits for the warp's slowest, and one PTRS attempt costs as much as
#: about 40 inversion steps (``benchmarks/kernel_sass.py``). On the CPU an inversion draw at rate 30
#: costs about 80 ns, a PTRS draw about 60 ns.
POISSON_INVERSION_MAX = 30.0
#: ``log_factorial`` takes ``log k!`` from the exact product up to this ``k``, Stirling above.
LOG_FACTORIAL_EXACT_MAX = 18
#: Coefficients of ``1/x, 1/x^3, .., 1/x^9`` in Stirling's series for ``log Gamma(x)``.
STIRLING_SERIES = (1.0 / 12.0, -1.0 / 360.0, 1.0 / 1260.0, -1.0 / 1680.0, 1.0 / 1188.0)
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def philox4x32(
    seed: int,
    c0: torch.Tensor,
    c1: torch.Tensor | int,
    c2: torch.Tensor | int,
    c3: torch.Tensor | int,
    rounds: int = ROUNDS,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Philox4x32 bijection of the counter block ``(c0, c1, c2, c3)`` under key ``seed``.

    Returns four int64 tensors holding unsigned 32-bit words. ``seed`` must be an int in
    ``[0, 2^64)`` and integer counter words in ``[0, 2^32)``: values beyond would alias others.
    """
    seed = _seed(seed)
    k0, k1 = seed & _M32, (seed >> 32) & _M32
    c1 = c1 if torch.is_tensor(c1) else torch.full_like(c0, _word(c1, "index (high word)"))
    c2 = c2 if torch.is_tensor(c2) else torch.full_like(c0, _word(c2, "counter"))
    c3 = c3 if torch.is_tensor(c3) else torch.full_like(c0, _word(c3, "attempt"))
    for _ in range(rounds):
        # The products' low words become c1 and c3 unmasked: they only enter xors that are masked.
        product_a, product_b = c0 * _ROUND_A, c2 * _ROUND_B
        c0 = (product_b >> 32).bitwise_xor_(c1).bitwise_xor_(k0).bitwise_and_(_M32)
        c2 = (product_a >> 32).bitwise_xor_(c3).bitwise_xor_(k1).bitwise_and_(_M32)
        c1, c3 = product_b, product_a
        k0 = (k0 + _KEY_A) & _M32
        k1 = (k1 + _KEY_B) & _M32
    return c0, c1 & _M32, c2, c3 & _M32


def _word(value, name: str) -> int:
    """An integer counter word in ``[0, 2^32)``; ``name`` is what the caller calls it."""
    if not isinstance(value, bool):
        try:
            word = operator.index(value)
        except TypeError:
            word = -1
        if 0 <= word < COUNTER_RANGE:
            return word
    raise ValueError(f"{name} must be an integer in [0, 2**32) (a 32-bit counter word: larger values would "
                     f"wrap around and repeat other draws), got {value!r}")


def _sizes(shape) -> tuple[int, ...]:
    """``shape`` as a tuple of ints >= 0."""
    sizes = tuple(shape) if isinstance(shape, (tuple, list, torch.Size)) else None
    if sizes is None or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in sizes):
        raise ValueError(f"shape must be a tuple of ints >= 0, got {shape!r}")
    return sizes


def _split_index(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return index & _M32, (index >> 32) & _M32


def unit_interval_bits(dtype: torch.dtype) -> int:
    """Leading bits of a Philox word that ``to_unit_interval`` keeps: 32 for float64, else 23.

    23 is the most bits whose midpoints ``(m + 1/2) 2^-b`` float32 represents exactly.
    """
    return 32 if dtype == torch.float64 else 23


def to_unit_interval(word: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Map a 32-bit word to the open interval (0, 1): ``(floor(w 2^(b-32)) + 1/2) 2^-b``.

    ``b = unit_interval_bits(dtype)``; the result is exact in float64 (``dtype`` float64) or
    float32 (any other ``dtype``) and lies in ``[2^-(b+1), 1 - 2^-(b+1)]``.
    """
    bits = unit_interval_bits(dtype)
    real = torch.float64 if dtype == torch.float64 else torch.float32
    return ((word >> (32 - bits)).to(real) + 0.5) * 2.0**-bits


def element_index(shape: torch.Size | tuple[int, ...], device: torch.device | str | None = None,
                  offset: int = 0) -> torch.Tensor:
    """Flat element indices ``offset + arange(numel)`` laid out in ``shape`` (int64)."""
    numel = math.prod(_sizes(shape))
    return torch.arange(offset, offset + numel, dtype=torch.int64, device=device).reshape(shape)


def uniform(shape: tuple[int, ...], seed: int, counter: int, *, dtype: torch.dtype = torch.float32,
            device: torch.device | str | None = None, index: torch.Tensor | None = None,
            attempt: int = 0) -> torch.Tensor:
    """U(0, 1) draws, element ``e`` from word 0 of ``Philox(seed; e, counter, attempt)``."""
    index = element_index(shape, device) if index is None else index
    lo, hi = _split_index(index)
    w0, _, _, _ = philox4x32(seed, lo, hi, counter, attempt)
    return to_unit_interval(w0, dtype)


def lane_word(seed: int, index: torch.Tensor, counter: int) -> torch.Tensor:
    """Word ``e & 3`` of Philox block ``(e >> 2, counter, 0)`` for each element index ``e``: one
    32-bit word per element, the four elements of a group sharing a block (int64 tensor)."""
    lo, hi = _split_index(index >> 2)
    words = torch.stack(philox4x32(seed, lo, hi, counter, 0), dim=-1)
    return words.gather(-1, (index & 3).unsqueeze(-1)).squeeze(-1)


def _normal_blocks(seed: int, counter: int, groups: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The four float64 Box-Muller lanes of each group's Philox block ``(g, counter, 0)``, on a
    new last axis: ``(r_a cos t_a, r_a sin t_a, r_b cos t_b, r_b sin t_b)`` with ``(r_a, t_a)``
    from words ``(w0, w1)`` and ``(r_b, t_b)`` from ``(w2, w3)``."""
    lo, hi = _split_index(groups)
    w0, w1, w2, w3 = philox4x32(seed, lo, hi, counter, 0)
    lanes = []
    for radius_word, angle_word in ((w0, w1), (w2, w3)):
        radius = torch.sqrt(-2.0 * torch.log(to_unit_interval(radius_word, dtype).to(torch.float64)))
        angle = (2.0 * math.pi) * to_unit_interval(angle_word, dtype).to(torch.float64)
        lanes += [radius * torch.cos(angle), radius * torch.sin(angle)]
    return torch.stack(lanes, dim=-1)


def normal(shape: tuple[int, ...], seed: int, counter: int | torch.Tensor, *, dtype: torch.dtype = torch.float32,
           device: torch.device | str | None = None, index: torch.Tensor | None = None,
           offset: int = 0) -> torch.Tensor:
    """Standard normal draws by Box-Muller.

    Elements ``4g .. 4g+3`` share one Philox block ``(g, counter, 0)``: words ``(w0, w1)`` give
    lanes 0 and 1 (``r cos``, ``r sin``), words ``(w2, w3)`` lanes 2 and 3. The uniforms are
    ``to_unit_interval(w, dtype)``; the transform is evaluated in float64 and rounded once to
    ``dtype``.
    Without ``index`` (elements ``offset .. offset + numel - 1``) each block is computed once for
    its 4 lanes. With ``index``, ``counter`` may also be an int64 tensor shaped like it (words in
    ``[0, 2^32)``): element ``index[i]`` then draws from block ``(index[i] >> 2, counter[i], 0)``
    (the per-sample nodes of ``streams.brownian_tree``).
    """
    if index is None:
        numel = math.prod(_sizes(shape))
        first, lead = divmod(offset, 4)
        groups = torch.arange(first, (offset + numel + 3) // 4, dtype=torch.int64, device=device)
        blocks = _normal_blocks(seed, counter, groups, dtype).to(dtype).reshape(-1)
        return blocks[lead:lead + numel].reshape(shape)
    blocks = _normal_blocks(seed, counter, index >> 2, dtype)
    return blocks.gather(-1, (index & 3).unsqueeze(-1)).squeeze(-1).to(dtype)


def log_factorial(k: torch.Tensor) -> torch.Tensor:
    """``log k!`` for integer-valued float64 ``k >= 0`` (entries ``k < 0`` give 0).

    ``log`` of the exact product ``k!`` for ``k <= LOG_FACTORIAL_EXACT_MAX`` (18! < 2^53), else
    Stirling's series at ``x = k + 1 >= 20`` through the ``x^-9`` term (truncation < 1e-17).
    Only ``+ - * /`` and ``log`` are used, in a fixed order, so a kernel can repeat it op for op;
    the products ``k!`` are exact in float64, so they are read from a table of the same values.
    """
    table = torch.tensor([float(math.factorial(j)) for j in range(LOG_FACTORIAL_EXACT_MAX + 1)],
                         dtype=k.dtype, device=k.device)
    exact = table[torch.clamp(k, 0, LOG_FACTORIAL_EXACT_MAX).long()]
    x = torch.clamp(k, min=LOG_FACTORIAL_EXACT_MAX + 1) + 1.0
    s = 1.0 / x
    s2 = s * s
    c0, c1, c2, c3, c4 = STIRLING_SERIES
    series = s * (c0 + s2 * (c1 + s2 * (c2 + s2 * (c3 + s2 * c4))))
    stirling = (x - 0.5) * torch.log(x) - x + HALF_LOG_2PI + series
    return torch.where(k <= LOG_FACTORIAL_EXACT_MAX, torch.log(exact), stirling)


def _poisson_search(rate: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """The sequential search of the Poisson inversion (rate < POISSON_INVERSION_MAX), from ``D_0 = d``.

    With S_k = sum_{j<=k} rate^j / j!, the test u > F(k) = e^-rate S_k is D_k > T_k for
    D_k = k! u e^rate and T_k = k! S_k, updated by products alone (no division):

        D_0 = u e^rate,  T_0 = P_0 = 1;   P_k = P_{k-1} rate,  T_k = k T_{k-1} + P_k,  D_k = D_{k-1} k.

    The count is the number of k >= 0 with D_k > T_k before the first failure: the smallest k
    with F(k) >= u for ``d = u e^rate``, a Poisson(rate) count for u ~ U(0, 1). The zero-truncated
    law (Poisson(rate) given >= 1) inverts ``u' = F(0) + u (1 - F(0))``: ``d = 1 + u expm1(rate)``.
    If rounding ever stalled T_k below D_k, both would reach inf (k! overflows near k = 171) and
    the search ends. Each pass works on the still-searching entries only (gathered by position),
    with the same arithmetic per entry as a pass over all of them.
    """
    shape = rate.shape
    rate, d = rate.flatten(), d.flatten()
    count = torch.zeros_like(rate)
    positions = torch.nonzero(d > 1.0).squeeze(1)
    d_a, rate_a = d[positions], rate[positions]
    p_a, t_a = torch.ones_like(d_a), torch.ones_like(d_a)
    k = 0.0
    while positions.numel() > 0:
        k += 1.0
        count[positions] = k
        p_a = p_a * rate_a
        t_a = t_a * k + p_a
        d_a = d_a * k
        keep = torch.nonzero(d_a > t_a).squeeze(1)
        positions, p_a, t_a, d_a, rate_a = (x[keep] for x in (positions, p_a, t_a, d_a, rate_a))
    return count.reshape(shape)


def _expm1(x: torch.Tensor) -> torch.Tensor:
    """``exp(x) - 1`` for float64 ``x >= 0``, to a few ulp near 0 (Kahan): ``(e - 1) x / log e`` with
    ``e = exp(x)``, and ``x`` where ``e`` rounds to 1. Written out so that the Triton kernels repeat it."""
    e = torch.exp(x)
    one = e == 1.0
    return torch.where(one, x, (e - 1.0) * x / torch.log(torch.where(one, 2.0, e)))


def _poisson_ptrs(rate: torch.Tensor, seed: int, counter: int, index: torch.Tensor, lowest: int = 0) -> torch.Tensor:
    """Hormann's PTRS transformed rejection (rate >= POISSON_INVERSION_MAX; valid for rate >= 10):
    attempt ``j = 0, 1, ..`` of element ``e`` from words ``(w0, w1)`` of Philox block
    ``(e, counter, j + 1)``. ``lowest = 1`` also rejects 0: the zero-truncated law.

    Each attempt works on the still-pending entries only (gathered by position), with the same
    arithmetic per entry as an attempt over all of them.
    """
    shape = rate.shape
    lam = rate.flatten()
    slam = torch.sqrt(lam)
    loglam = torch.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    result = torch.full_like(lam, -1.0)
    lo, hi = _split_index(index.flatten())
    positions = torch.arange(lam.numel(), device=lam.device)
    attempt = 1
    while positions.numel() > 0:
        w0, w1, _, _ = philox4x32(seed, lo, hi, counter, attempt)
        u = to_unit_interval(w0, torch.float64) - 0.5
        v = to_unit_interval(w1, torch.float64)
        us = 0.5 - u.abs()
        k = torch.floor((2.0 * a / us + b) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= v_r)
        log_accept = (torch.log(v) + torch.log(inv_alpha) - torch.log(a / (us * us) + b)
                      <= -lam + k * loglam - log_factorial(k))
        low = k < lowest
        rejected_early = low | ((us < 0.013) & (v > us))
        accept = ~low & (quick | (~rejected_early & log_accept))
        result[positions[accept]] = k[accept]
        keep = torch.nonzero(~accept).squeeze(1)
        positions, lam, loglam, b, a, inv_alpha, v_r, lo, hi = (
            x[keep] for x in (positions, lam, loglam, b, a, inv_alpha, v_r, lo, hi))
        attempt += 1
    return result.reshape(shape)


def poisson(rate: torch.Tensor, seed: int, counter: int = 0, *, index: torch.Tensor | None = None,
            validate: bool = True, offset: int = 0) -> torch.Tensor:
    """Poisson(rate) counts, exact in law for every finite rate >= 0, deterministic in (seed, counter).

    Inversion by sequential search for rate < 30 (one uniform: ``lane_word``, word ``e & 3`` of
    block ``(e >> 2, counter, 0)``), PTRS transformed rejection (Hormann 1993) for rate >= 30
    (attempt ``j`` from block ``(e, counter, j + 1)``), computed in float64 so float32 rates up to
    1e7 and beyond are safe. Entry ``e`` is element ``offset + e`` unless ``index`` gives the
    elements. Returns counts with the dtype and shape of ``rate``. With
    ``validate=False`` an invalid rate (negative, NaN, inf) gives NaN at its position instead of
    raising, with no host sync.
    """
    if validate:
        bad = ~torch.isfinite(rate) | (rate < 0)
        if bool(bad.any()):
            raise ValueError("poisson: rate must be finite and >= 0")
    index = element_index(rate.shape, rate.device, offset) if index is None else index
    rate64 = rate.to(torch.float64)
    valid = torch.isfinite(rate64) & (rate64 >= 0)
    lam = torch.where(valid, rate64, torch.zeros_like(rate64))
    small = lam < POISSON_INVERSION_MAX
    lam_small = torch.where(small, lam, torch.zeros_like(lam))
    u = torch.where(small, to_unit_interval(lane_word(seed, index, counter), torch.float64), torch.zeros_like(lam))
    counts = _poisson_search(lam_small, u * torch.exp(lam_small))
    if bool((~small).any()):
        big = ~small
        counts = counts.masked_scatter(big, _poisson_ptrs(lam[big], seed, counter, index[big]))
    return torch.where(valid, counts, torch.full_like(counts, float("nan"))).to(rate.dtype)


def zero_truncated_poisson(rate: torch.Tensor, u: torch.Tensor, seed: int, counter: int,
                           index: torch.Tensor) -> torch.Tensor:
    """Counts of law Poisson(rate) given >= 1, for float64 rates > 0, exact in law.

    Below rate 30 the inversion of ``u`` (U(0, 1), the caller's) by ``_poisson_search`` from
    ``d = 1 + u expm1(rate)``; from 30 PTRS rejecting 0, attempt ``j`` of element ``index`` from
    block ``(index, counter, j + 1)``. Float64 counts, shaped like ``rate``.
    """
    small = rate < POISSON_INVERSION_MAX
    lam_small = torch.where(small, rate, torch.zeros_like(rate))
    counts = _poisson_search(lam_small, 1.0 + torch.where(small, u, torch.zeros_like(u)) * _expm1(lam_small))
    if bool((~small).any()):
        big = ~small
        counts = counts.masked_scatter(big, _poisson_ptrs(rate[big], seed, counter, index[big], lowest=1))
    return counts


def gamma(concentration: torch.Tensor, seed: int, counter: int, *,
          index: torch.Tensor | None = None) -> torch.Tensor:
    """Gamma(concentration, 1) draws by Marsaglia-Tsang (concentration < 1 boosted by U^(1/a)).

    Attempt ``j`` of element ``e`` uses Philox block ``(e, counter, j + 1)`` (normal from words
    0-1, acceptance uniform from word 2); the boost uniform uses attempt block 0, word 3.
    """
    index = element_index(concentration.shape, concentration.device) if index is None else index
    a = concentration.to(torch.float64)
    boosted = a < 1.0
    d = torch.where(boosted, a + 1.0, a) - 1.0 / 3.0
    c = 1.0 / torch.sqrt(9.0 * d)
    lo, hi = _split_index(index)
    result = torch.zeros_like(a)
    pending = torch.ones_like(a, dtype=torch.bool)
    attempt = 1
    while bool(pending.any()):
        w0, w1, w2, _ = philox4x32(seed, lo, hi, counter, attempt)
        z = (torch.sqrt(-2.0 * torch.log(to_unit_interval(w0, torch.float64)))
             * torch.cos(2.0 * math.pi * to_unit_interval(w1, torch.float64)))
        u = to_unit_interval(w2, torch.float64)
        v = (1.0 + c * z) ** 3
        ok = (v > 0) & (torch.log(u) < 0.5 * z * z + d - d * v + d * torch.log(v.clamp(min=1e-300)))
        accept = pending & ok
        result = torch.where(accept, d * v, result)
        pending = pending & ~accept
        attempt += 1
    _, _, _, w3 = philox4x32(seed, lo, hi, counter, 0)
    boost = to_unit_interval(w3, torch.float64) ** (1.0 / a)
    result = torch.where(boosted, result * boost, result)
    return result.to(concentration.dtype)
