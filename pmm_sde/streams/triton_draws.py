"""Triton kernels of the counter-based streams of :mod:`pmm_sde.streams.reference` (normal, Poisson).

Each kernel repeats the torch reference operation for operation and in the same order (the same
Philox4x32-10 words through ``tl.philox``, the same float64 arithmetic) and is launched with
``enable_fp_fusion=False``; how far they agree: ``docs/kernels.md``.

The kernels take a flat contiguous tensor; entry ``e`` of it has the element index ``offset + e`` of
``pmm_sde.streams.reference.element_index`` (``offset``: the element index of the first entry; the
block draws share one Philox block per group of four elements where ``offset`` is a multiple of 4,
the constant ``ALIGNED``, and draw each lane's group otherwise). This module imports triton; import it only when triton is
installed (``pmm_sde.streams.backend.triton_available``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import triton
import triton.language as tl

from . import reference


class Launch(NamedTuple):
    """Elements per program (a multiple of 4) and warps per program."""

    block: int
    num_warps: int


#: Kernels that draw Poisson counts run their search and rejection loops until the slowest lane of
#: the program is done, so a program is one warp of 64 elements (two per thread): the loops'
#: "any lane left" test is one warp vote (no barrier), and the wait is for the slowest of 64, not
#: of 256. The benchmarks (``python -m benchmarks.kernels --sweep``) time other choices on a GPU.
POISSON_LAUNCH = Launch(64, 1)
#: Normal draws have no loop.
NORMAL_LAUNCH = Launch(1024, 4)

_INVERSION_MAX = tl.constexpr(reference.POISSON_INVERSION_MAX)
_EXACT_MAX = tl.constexpr(reference.LOG_FACTORIAL_EXACT_MAX)
_S0 = tl.constexpr(reference.STIRLING_SERIES[0])
_S1 = tl.constexpr(reference.STIRLING_SERIES[1])
_S2 = tl.constexpr(reference.STIRLING_SERIES[2])
_S3 = tl.constexpr(reference.STIRLING_SERIES[3])
_S4 = tl.constexpr(reference.STIRLING_SERIES[4])
_HALF_LOG_2PI = tl.constexpr(reference.HALF_LOG_2PI)
_TWO_PI = tl.constexpr(2.0 * math.pi)
_WORD_BITS = tl.constexpr(reference.unit_interval_bits(torch.float64))
_INF = tl.constexpr(float("inf"))


@triton.jit
def _philox(seed, index, counter, attempt):
    """Words of Philox4x32-10 with key ``seed`` at block ``(index lo, index hi, counter, attempt)``.

    ``counter`` and ``attempt`` are in [0, 2^32): ints or int32/uint32/int64 scalars (Triton types
    an int argument in [2^31, 2^32) as int64 or uint32 depending on its version).
    """
    lo = index.to(tl.uint32)
    zero = lo * 0
    return tl.philox(seed, lo, (index >> 32).to(tl.uint32), (zero + counter).to(tl.uint32),
                     (zero + attempt).to(tl.uint32))


@triton.jit
def _unit_interval(word, BITS: tl.constexpr):
    """``pmm_sde.streams.reference.to_unit_interval`` with ``BITS`` kept bits, as float64 (exact)."""
    return ((word >> (32 - BITS)).to(tl.float64) + 0.5) * (2.0**-BITS)


@triton.jit
def _interleave(a0, a1, a2, a3, BLOCK: tl.constexpr):
    """The ``BLOCK`` values ``a0[0], a1[0], a2[0], a3[0], a0[1], ..`` of four blocks of ``BLOCK // 4``."""
    return tl.reshape(tl.join(tl.join(a0, a2), tl.join(a1, a3)), (BLOCK,))


@triton.jit
def _lane_words(seed, first, counter, BLOCK: tl.constexpr):
    """``pmm_sde.streams.reference.lane_word`` at flat indices ``first + arange(BLOCK)`` (``first``, ``BLOCK``
    multiples of 4): one Philox block ``(g, counter, 0)`` per group ``g`` of four elements."""
    w0, w1, w2, w3 = _philox(seed, first // 4 + tl.arange(0, BLOCK // 4), counter, 0)
    return _interleave(w0, w1, w2, w3, BLOCK)


@triton.jit
def _any(flags):
    """Whether any entry of the boolean block ``flags`` is set."""
    return tl.max(flags.to(tl.int32), axis=0) > 0


@triton.jit
def _log_factorial(k):
    """``pmm_sde.streams.reference.log_factorial``, op for op, with its one ``log`` taken once: of the exact
    product where ``k <= 18``, of ``x`` where Stirling's series applies (a lane needs only one)."""
    exact = tl.zeros_like(k) + 1.0
    for j in tl.static_range(2, _EXACT_MAX + 1):
        exact = tl.where(k >= j, exact * j, exact)
    x = tl.maximum(k, _EXACT_MAX + 1) + 1.0
    small = k <= _EXACT_MAX
    log_value = tl.log(tl.where(small, exact, x))
    s = 1.0 / x
    s2 = s * s
    series = s * (_S0 + s2 * (_S1 + s2 * (_S2 + s2 * (_S3 + s2 * _S4))))
    stirling = (x - 0.5) * log_value - x + _HALF_LOG_2PI + series
    return tl.where(small, log_value, stirling)


@triton.jit
def _poisson_search(lam, d):
    """``pmm_sde.streams.reference._poisson_search``: the inversion's count from ``D_0 = d`` (``u e^lam``: the
    smallest ``k`` with ``F(k; lam) >= u``).

    The block searches in lockstep: pass ``k`` (a scalar, exact in float64) updates every lane's
    ``P, T, D`` and counts the lanes still searching. A lane's values after its search ended are
    never read.
    """
    t = tl.zeros_like(lam) + 1.0
    p = t
    active = d > t
    count = tl.zeros(lam.shape, dtype=tl.int32)
    step = 0
    while _any(active):
        step += 1
        k = step.to(tl.float64)
        count += active.to(tl.int32)
        p = p * lam
        t = k * t + p
        d = d * k
        active = active & (d > t)
    return count.to(tl.float64)


@triton.jit
def _expm1(x):
    """``pmm_sde.streams.reference._expm1``: ``exp(x) - 1`` for float64 ``x >= 0`` (Kahan's ``(e - 1) x / log e``)."""
    e = tl.exp(x)
    one = e == 1.0
    return tl.where(one, x, (e - 1.0) * x / tl.log(tl.where(one, 2.0, e)))


@triton.jit
def _poisson_ptrs(lam, pending, seed, index, counter, LOWEST: tl.constexpr):
    """``pmm_sde.streams.reference._poisson_ptrs`` for the entries flagged ``pending`` (``lam >= POISSON_INVERSION_MAX``):
    attempt ``j = 0, 1, ..`` from words ``(w0, w1)`` of block ``(index, counter, j + 1)``; counts below
    ``LOWEST`` are rejected."""
    slam = tl.sqrt(lam)
    loglam = tl.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    inv_alpha = 1.1239 + 1.1328 / (b - 3.4)
    log_inv_alpha = tl.log(inv_alpha)
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    result = tl.zeros_like(lam) - 1.0
    attempt = 1
    while _any(pending):
        w0, w1, _, _ = _philox(seed, index, counter, attempt)
        u = _unit_interval(w0, _WORD_BITS) - 0.5
        v = _unit_interval(w1, _WORD_BITS)
        us = 0.5 - tl.abs(u)
        k = tl.floor((2.0 * a / us + b) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= v_r)
        log_accept = (tl.log(v) + log_inv_alpha - tl.log(a / (us * us) + b)
                      <= -lam + k * loglam - _log_factorial(k))
        low = k < LOWEST
        rejected_early = low | ((us < 0.013) & (v > us))
        accept = pending & ~low & (quick | (~rejected_early & log_accept))
        result = tl.where(accept, k, result)
        pending = pending & ~accept
        attempt += 1
    return result


@triton.jit
def _poisson_from_words(rate, words, index, in_range, seed, counter):
    """``pmm_sde.streams.reference.poisson(rate, seed, counter, validate=False)`` at flat indices ``index`` (lanes not
    ``in_range`` are padding), with ``words`` the elements' ``lane_word`` (their inversion uniforms).

    ``rate`` is float32 or float64; the count is returned in float64 (NaN where the rate is
    negative, NaN or infinite), to be cast to the state's dtype as the torch path does.
    """
    lam = rate.to(tl.float64)
    valid = (lam >= 0.0) & (lam < _INF)
    lam = tl.where(valid, lam, 0.0)
    small = lam < _INVERSION_MAX
    big = in_range & ~small
    u = _unit_interval(words, _WORD_BITS)
    lam_small = tl.where(small, lam, 0.0)
    counts = _poisson_search(lam_small, tl.where(small, u, 0.0) * tl.exp(lam_small))
    if _any(big):
        counts = tl.where(big, _poisson_ptrs(tl.where(big, lam, _INVERSION_MAX), big, seed, index, counter, 0),
                          counts)
    return tl.where(valid, counts, _INF - _INF)  # inf - inf: NaN (a NaN global fails Triton's nan != nan check)


@triton.jit
def _poisson_draw(rate, seed, first, n, offset, counter, BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    """``_poisson_from_words`` of the entries ``first + arange(BLOCK)`` (``first`` a multiple of 4; lanes
    from ``n`` on are padding) at element indices ``offset`` on: one Philox block per group of four
    elements where ``ALIGNED`` (``offset`` a multiple of 4), each lane's group's block otherwise."""
    entry = first + tl.arange(0, BLOCK)
    if ALIGNED:
        return _poisson_from_words(rate, _lane_words(seed, offset + first, counter, BLOCK), offset + entry,
                                   entry < n, seed, counter)
    return _poisson_draw_at(rate, offset + entry, entry < n, seed, counter)


@triton.jit
def _poisson_draw_at(rate, index, in_range, seed, counter):
    """``_poisson_from_words`` at arbitrary flat indices ``index`` (a 1-D block): each lane computes its
    group's Philox block ``(index >> 2, counter, 0)`` and takes word ``index & 3``."""
    w0, w1, w2, w3 = _philox(seed, index >> 2, counter, 0)
    lane = index & 3
    words = tl.where(lane == 0, w0, tl.where(lane == 1, w1, tl.where(lane == 2, w2, w3)))
    return _poisson_from_words(rate, words, index, in_range, seed, counter)


@triton.jit
def _zero_truncated_poisson(rate, u, pending, seed, index, counter):
    """``pmm_sde.streams.reference.zero_truncated_poisson`` for the lanes flagged ``pending`` (float64 ``rate > 0``,
    ``u`` the inversion uniform; other lanes get 0)."""
    small = pending & (rate < _INVERSION_MAX)
    big = pending & ~small
    lam_small = tl.where(small, rate, 0.0)
    counts = _poisson_search(lam_small, 1.0 + tl.where(small, u, 0.0) * _expm1(lam_small))
    if _any(big):
        counts = tl.where(big, _poisson_ptrs(tl.where(big, rate, _INVERSION_MAX), big, seed, index, counter, 1),
                          counts)
    return counts


@triton.jit(do_not_specialize=["seed", "counter", "offset"])
def _poisson_kernel(rate_ptr, out_ptr, n, seed, counter, offset, BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    """``out[e] = pmm_sde.streams.reference.poisson(rate, seed, counter, validate=False, offset=offset)[e]`` for
    the flat ``rate``."""
    first = tl.program_id(0).to(tl.int64) * BLOCK
    index = first + tl.arange(0, BLOCK)
    rate = tl.load(rate_ptr + index, mask=index < n, other=0.0)
    tl.store(out_ptr + index, _poisson_draw(rate, seed, first, n, offset, counter, BLOCK, ALIGNED), mask=index < n)


@triton.jit
def _box_muller(radius_word, angle_word, BITS: tl.constexpr):
    """``(r cos a, r sin a)``, ``r = sqrt(-2 log U(radius_word))``, ``a = 2 pi U(angle_word)``, in float64."""
    radius = tl.sqrt(-2.0 * tl.log(_unit_interval(radius_word, BITS)))
    angle = _TWO_PI * _unit_interval(angle_word, BITS)
    return radius * tl.cos(angle), radius * tl.sin(angle)


@triton.jit
def _normal_block(seed, first, counter, BITS: tl.constexpr, BLOCK: tl.constexpr):
    """``pmm_sde.streams.reference.normal(.., seed, counter)`` at flat indices ``first + arange(BLOCK)``, in float64
    (``first`` and ``BLOCK`` multiples of 4). Element ``4 g + j`` is lane ``j`` of Philox block
    ``(g, counter, 0)``: ``r cos``, ``r sin`` of words ``(w0, w1)`` for lanes 0, 1 and of ``(w2, w3)`` for
    lanes 2, 3. One Philox block, two logs and one cos and sin per pair for each group of four."""
    w0, w1, w2, w3 = _philox(seed, first // 4 + tl.arange(0, BLOCK // 4), counter, 0)
    z0, z1 = _box_muller(w0, w1, BITS)
    z2, z3 = _box_muller(w2, w3, BITS)
    return _interleave(z0, z1, z2, z3, BLOCK)


@triton.jit
def _normal_at(seed, index, counter, BITS: tl.constexpr):
    """``pmm_sde.streams.reference.normal(.., seed, counter, index=index)`` at arbitrary element indices, in
    float64: each lane computes its group's Philox block ``(index >> 2, counter, 0)`` and the Box-Muller
    pair of its lane."""
    w0, w1, w2, w3 = _philox(seed, index >> 2, counter, 0)
    lane = index & 3
    second_pair = lane >= 2
    z_cos, z_sin = _box_muller(tl.where(second_pair, w2, w0), tl.where(second_pair, w3, w1), BITS)
    return tl.where((lane & 1) == 1, z_sin, z_cos)


@triton.jit
def _normal_draw(seed, first, counter, BITS: tl.constexpr, BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    """The normals of elements ``first + arange(BLOCK)``: ``_normal_block`` where ``ALIGNED`` (``first`` a
    multiple of 4), ``_normal_at`` otherwise."""
    if ALIGNED:
        return _normal_block(seed, first, counter, BITS, BLOCK)
    return _normal_at(seed, first + tl.arange(0, BLOCK), counter, BITS)


@triton.jit(do_not_specialize=["seed", "counter", "offset"])
def _normal_kernel(out_ptr, n, seed, counter, offset, BITS: tl.constexpr, BLOCK: tl.constexpr,
                   ALIGNED: tl.constexpr):
    """``out[e] = pmm_sde.streams.reference.normal(shape, seed, counter, offset=offset)[e]`` for ``e < n``."""
    first = tl.program_id(0).to(tl.int64) * BLOCK
    index = first + tl.arange(0, BLOCK)
    tl.store(out_ptr + index, _normal_draw(seed, offset + first, counter, BITS, BLOCK, ALIGNED), mask=index < n)


def _key(seed: int) -> int:
    """The 64-bit Philox key of ``seed``, as ``pmm_sde.streams.reference.philox4x32`` reduces it."""
    return int(seed) & 0xFFFFFFFFFFFFFFFF


def _counter_word(counter: int) -> int:
    """The 32-bit counter word of ``counter``, as ``pmm_sde.streams.reference.philox4x32`` reduces it."""
    return int(counter) & 0xFFFFFFFF


def poisson(rate: torch.Tensor, seed: int, counter: int, offset: int = 0) -> torch.Tensor:
    """Poisson counts equal to ``pmm_sde.streams.reference.poisson(rate, seed, counter, offset=offset)``, by a
    Triton kernel.

    ``rate`` is a float32 or float64 tensor of finite entries >= 0 (not checked here); the
    counts have its dtype and shape.
    """
    flat = rate.contiguous()
    out = torch.empty_like(flat)
    n = flat.numel()
    if n:
        block, num_warps = POISSON_LAUNCH
        _poisson_kernel[(triton.cdiv(n, block),)](flat, out, n, _key(seed), _counter_word(counter), int(offset),
                                                  BLOCK=block, ALIGNED=offset % 4 == 0, num_warps=num_warps,
                                                  enable_fp_fusion=False)
    return out


def normal(shape: tuple[int, ...], seed: int, counter: int, dtype: torch.dtype,
           device: torch.device | str | None, offset: int = 0) -> torch.Tensor:
    """Standard normals equal to ``pmm_sde.streams.reference.normal(shape, seed, counter, dtype=dtype,
    offset=offset)``.

    ``dtype`` is float32 or float64; computed by a Triton kernel in float64, stored in ``dtype``.
    """
    out = torch.empty(shape, dtype=dtype, device=device)
    n = out.numel()
    if n:
        block, num_warps = NORMAL_LAUNCH
        _normal_kernel[(triton.cdiv(n, block),)](
            out, n, _key(seed), _counter_word(counter), int(offset), BITS=reference.unit_interval_bits(dtype),
            BLOCK=block, ALIGNED=offset % 4 == 0, num_warps=num_warps, enable_fp_fusion=False)
    return out
