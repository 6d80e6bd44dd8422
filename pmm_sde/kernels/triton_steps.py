"""Triton kernels of fused jump-simulator steps: read ``mu`` and ``xhat``, draw, write ``mu'``.

Each kernel repeats its torch reference in :mod:`pmm_sde.kernels.steps` operation for operation:
the random draws come from the device functions of :mod:`pmm_sde.kernels.triton_random` (same
Philox stream, same float64 Poisson and Box-Muller arithmetic), and the update is evaluated in
the state's dtype in the reference's order. Kernels run with ``enable_fp_fusion=False`` (no
contracted ``a * b + c``) and divide by ``_div`` (IEEE round-to-nearest: ``tl.math.div_rn`` in
float32, where Triton's plain ``/`` may be an approximate division on CUDA). The per-call scalars (``b0 + A0``,
``sqrt(dA)``, ...) are computed by torch on the host side in the state's dtype and passed as a
small tensor, so both paths multiply by the very same numbers.

This module imports triton; import it only when triton is installed.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .. import random as streams
from ..chain import COUNTERS_PER_STEP
from .triton_random import (_INVERSION_MAX, _NUM_WARPS, _TWO_PI, _WORD_BITS, _any, _counter_word, _key,
                            _philox, _poisson_inversion, _poisson_ptrs, _unit_interval)

#: Elements per program. Small, because a block runs its Poisson loops until its slowest element is done.
BLOCK = 256
_COUNTERS_PER_STEP = tl.constexpr(COUNTERS_PER_STEP)
_INF = tl.constexpr(float("inf"))


@triton.jit
def _div(a, b):
    """IEEE round-to-nearest ``a / b``: ``div_rn`` for float32, ``/`` (``div.rn.f64``) for float64."""
    if a.dtype == tl.float32:
        result = tl.math.div_rn(a, b)
    else:
        result = a / b
    return result


@triton.jit
def _poisson_draw(rate, in_range, seed, index, counter):
    """``pmm_sde.random.poisson(rate, seed, counter, validate=False)`` at flat indices ``index``.

    ``rate`` is float32 or float64; the count is returned in float64 (NaN where the rate is
    negative, NaN or infinite), to be cast to the state's dtype as the torch path does.
    """
    lam = rate.to(tl.float64)
    valid = (lam >= 0.0) & (lam < _INF)
    lam = tl.where(valid, lam, 0.0)
    small = lam < _INVERSION_MAX
    big = in_range & ~small
    w0, _, _, _ = _philox(seed, index, counter, 0)
    counts = _poisson_inversion(tl.where(small, lam, 0.0), tl.where(small, _unit_interval(w0, _WORD_BITS), 0.0))
    if _any(big):
        counts = tl.where(big, _poisson_ptrs(tl.where(big, lam, _INVERSION_MAX), big, seed, index, counter),
                          counts)
    return tl.where(valid, counts, _INF - _INF)  # inf - inf: NaN (a NaN global fails Triton's nan != nan check)


@triton.jit
def _normal_draw(seed, index, counter, BITS: tl.constexpr):
    """``pmm_sde.random.normal`` at flat indices ``index``, in float64 (before rounding to the dtype).

    Element ``e`` is lane ``e & 3`` of Philox block ``(e >> 2, counter, 0)``: lanes 0, 1 use words
    ``(w0, w1)``, lanes 2, 3 words ``(w2, w3)``; even lanes ``r cos``, odd lanes ``r sin``.
    """
    w0, w1, w2, w3 = _philox(seed, index >> 2, counter, 0)
    lane = index & 3
    first = lane < 2
    radius = tl.sqrt(-2.0 * tl.log(_unit_interval(tl.where(first, w0, w2), BITS)))
    angle = _TWO_PI * _unit_interval(tl.where(first, w1, w3), BITS)
    return radius * tl.where((lane & 1) == 0, tl.cos(angle), tl.sin(angle))


@triton.jit(do_not_specialize=["seed", "counter"])
def _tau_leap_kernel(mu_ptr, xhat_ptr, out_ptr, coef_ptr, n, seed, counter, BLOCK: tl.constexpr):
    """``mu' = (lam0 mu + Poisson(dA xhat)) / lam1`` with ``coef = (lam0, lam1, dA)``."""
    index = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    in_range = index < n
    lam0 = tl.load(coef_ptr)
    lam1 = tl.load(coef_ptr + 1)
    dA = tl.load(coef_ptr + 2)
    mu = tl.load(mu_ptr + index, mask=in_range, other=0.0)
    xhat = tl.load(xhat_ptr + index, mask=in_range, other=0.0)
    counts = _poisson_draw(dA * xhat, in_range, seed, index, counter).to(mu.dtype)
    tl.store(out_ptr + index, _div(lam0 * mu + counts, lam1), mask=in_range)


@triton.jit(do_not_specialize=["seed", "counter"])
def _pmm_chain_kernel(mu_ptr, xhat_ptr, out_ptr, coef_ptr, n, seed, counter, BITS: tl.constexpr,
                      BLOCK: tl.constexpr):
    """``mu' = (lam0 mu + (dA xhat + sqrt(dA) z)) / lam1`` with ``coef = (lam0, lam1, dA, sqrt(dA))``."""
    index = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    in_range = index < n
    lam0 = tl.load(coef_ptr)
    lam1 = tl.load(coef_ptr + 1)
    dA = tl.load(coef_ptr + 2)
    sqrt_dA = tl.load(coef_ptr + 3)
    mu = tl.load(mu_ptr + index, mask=in_range, other=0.0)
    xhat = tl.load(xhat_ptr + index, mask=in_range, other=0.0)
    z = _normal_draw(seed, index, counter, BITS).to(mu.dtype)
    tl.store(out_ptr + index, _div(lam0 * mu + (dA * xhat + sqrt_dA * z), lam1), mask=in_range)


@triton.jit(do_not_specialize=["seed", "counter"])
def _euler_maruyama_kernel(mu_ptr, xhat_ptr, out_ptr, coef_ptr, n, seed, counter, BITS: tl.constexpr,
                           BLOCK: tl.constexpr):
    """``mu' = mu + c (xhat - mu) h + g z`` with ``coef = (c, h, g)``, ``c = alpha0 / lambda0``,
    ``g = sqrt(alpha0 h) / lambda0``."""
    index = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    in_range = index < n
    c = tl.load(coef_ptr)
    h = tl.load(coef_ptr + 1)
    g = tl.load(coef_ptr + 2)
    mu = tl.load(mu_ptr + index, mask=in_range, other=0.0)
    xhat = tl.load(xhat_ptr + index, mask=in_range, other=0.0)
    z = _normal_draw(seed, index, counter, BITS).to(mu.dtype)
    tl.store(out_ptr + index, mu + c * (xhat - mu) * h + g * z, mask=in_range)


@triton.jit(do_not_specialize=["seed"])
def _gamma_oracle_tau_leap_kernel(out_ptr, grid_ptr, coef_ptr, n, seed, STEPS: tl.constexpr, BLOCK: tl.constexpr):
    """All ``STEPS`` tau-leap steps of the Gamma oracle in registers; writes the terminal ``mu``.

    ``STEPS`` is a compile-time constant (one compilation per grid length).

    ``coef = (a0, b0, a*, b*, a0 / b0)``, ``grid = (A_0, .., A_STEPS)``; step ``k`` (counter
    ``8 k``): ``N = (b0 + A_k) mu - a0``, ``xhat = (a* + N) / (b* + A_k)``,
    ``mu <- ((b0 + A_k) mu + Poisson((A_{k+1} - A_k) xhat)) / (b0 + A_{k+1})``.
    """
    index = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    in_range = index < n
    a0 = tl.load(coef_ptr)
    b0 = tl.load(coef_ptr + 1)
    a_star = tl.load(coef_ptr + 2)
    b_star = tl.load(coef_ptr + 3)
    mu = tl.zeros((BLOCK,), dtype=a0.dtype) + tl.load(coef_ptr + 4)
    for k in range(STEPS):
        A0 = tl.load(grid_ptr + k)
        A1 = tl.load(grid_ptr + k + 1)
        lam0 = b0 + A0
        xhat = _div(a_star + (lam0 * mu - a0), b_star + A0)
        counts = _poisson_draw((A1 - A0) * xhat, in_range, seed, index, k * _COUNTERS_PER_STEP).to(mu.dtype)
        mu = _div(lam0 * mu + counts, b0 + A1)
    tl.store(out_ptr + index, mu, mask=in_range)


def _launch(kernel, mu: torch.Tensor, xhat: torch.Tensor, coef: torch.Tensor, seed: int, counter: int,
            **meta) -> torch.Tensor:
    """Run an elementwise step ``kernel`` on the flat contiguous ``mu`` and ``xhat``; ``mu'`` shaped like ``mu``."""
    mu_flat, xhat_flat = mu.contiguous(), xhat.contiguous()
    out = torch.empty_like(mu_flat)
    n = out.numel()
    if n:
        kernel[(triton.cdiv(n, BLOCK),)](mu_flat, xhat_flat, out, coef, n, _key(seed), _counter_word(counter),
                                         BLOCK=BLOCK, num_warps=_NUM_WARPS, enable_fp_fusion=False, **meta)
    return out


def tau_leap_step(mu: torch.Tensor, xhat: torch.Tensor, coef: torch.Tensor, seed: int, counter: int
                  ) -> torch.Tensor:
    """The Gamma-Poisson step of ``_tau_leap_kernel``; ``coef = (b0 + A0, b0 + A1, A1 - A0)`` in mu's dtype."""
    return _launch(_tau_leap_kernel, mu, xhat, coef, seed, counter)


def pmm_chain_step(mu: torch.Tensor, xhat: torch.Tensor, coef: torch.Tensor, seed: int, counter: int
                   ) -> torch.Tensor:
    """The Normal-Normal step of ``_pmm_chain_kernel``; ``coef = (l0 + A0, l0 + A1, dA, sqrt(dA))``."""
    return _launch(_pmm_chain_kernel, mu, xhat, coef, seed, counter, BITS=streams.unit_interval_bits(mu.dtype))


def euler_maruyama_step(mu: torch.Tensor, xhat: torch.Tensor, coef: torch.Tensor, seed: int, counter: int
                        ) -> torch.Tensor:
    """The Euler-Maruyama step of ``_euler_maruyama_kernel``; ``coef = (alpha0/lambda0, h, sqrt(alpha0 h)/lambda0)``."""
    return _launch(_euler_maruyama_kernel, mu, xhat, coef, seed, counter,
                   BITS=streams.unit_interval_bits(mu.dtype))


def gamma_oracle_tau_leap(n: int, grid: torch.Tensor, coef: torch.Tensor, seed: int) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` elements from ``_gamma_oracle_tau_leap_kernel``.

    ``grid`` (cumulative information, in the state's dtype) and ``coef = (a0, b0, a*, b*, a0/b0)``
    are on the target device in the same dtype, which is the state's.
    """
    out = torch.empty(n, dtype=coef.dtype, device=coef.device)
    if n:
        _gamma_oracle_tau_leap_kernel[(triton.cdiv(n, BLOCK),)](
            out, grid, coef, n, _key(seed), STEPS=grid.numel() - 1, BLOCK=BLOCK, num_warps=_NUM_WARPS,
            enable_fp_fusion=False)
    return out
