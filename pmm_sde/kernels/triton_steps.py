"""Triton kernels of the fused steps of :mod:`pmm_sde.kernels.ops` and of the whole-trajectory
oracle simulators of :mod:`pmm_sde.convergence.oracle_trajectories`.

A fused step reads ``mu`` and ``xhat``, draws from the device functions of
:mod:`pmm_sde.streams.triton_draws` and writes ``mu'``; its wrapper, named like the op, takes
``(mu, xhat, coefficients, seed, counter, offset)`` with the coefficients computed by torch in the
state's dtype and ``offset`` the element index of the state's first entry. A whole-trajectory kernel keeps ``mu`` in registers for all steps and evaluates the oracle
in the kernel. Each repeats its torch reference operation for operation (``enable_fp_fusion=False``,
``_div``, float64 ``_exp`` and ``_lgamma``); how far they agree: ``docs/kernels.md``.

This module imports triton; import it only when triton is installed.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ..streams import reference as streams
from ..streams import triton_draws as triton_random
from ..streams.reference import COUNTERS_PER_STEP
from ..streams.triton_draws import (_HALF_LOG_2PI, _S0, _S1, _S2, _S3, _S4, _WORD_BITS, _any, _counter_word, _key,
                            _normal_block, _normal_draw, _poisson_draw)

_COUNTERS_PER_STEP = tl.constexpr(COUNTERS_PER_STEP)
_NEG_INF = tl.constexpr(float("-inf"))
#: ``_lgamma`` raises its argument to at least this by ``Gamma(x + 1) = x Gamma(x)`` before Stirling's
#: series, whose first omitted term is then below ``691 / 360360 / 16^11 < 1.1e-16``.
_LGAMMA_SHIFT = tl.constexpr(16)


@triton.jit
def _div(a, b):
    """IEEE round-to-nearest ``a / b``: ``div_rn`` for float32, ``/`` (``div.rn.f64``) for float64."""
    if a.dtype == tl.float32:
        result = tl.math.div_rn(a, b)
    else:
        result = a / b
    return result


@triton.jit
def _exp(x):
    """``exp(x)`` evaluated in float64 and rounded to ``x``'s dtype."""
    return tl.exp(x.to(tl.float64)).to(x.dtype)


@triton.jit
def _lgamma(x):
    """``log Gamma(x)`` for float64 ``x > 0``: the shift ``lgamma(x) = lgamma(y) - log(x (x+1) .. (y-1))``
    to ``y >= _LGAMMA_SHIFT``, then Stirling's series at ``y`` through the ``y^-9`` term (the series of
    ``pmm_sde.streams.reference.log_factorial``). Absolute error about 1e-14 (from the shift's cancellation for
    small ``x``), relative error a few ulp for large values."""
    product = tl.zeros_like(x) + 1.0
    y = x
    for _ in tl.static_range(_LGAMMA_SHIFT):
        low = y < _LGAMMA_SHIFT
        product = tl.where(low, product * y, product)
        y = tl.where(low, y + 1.0, y)
    s = 1.0 / y
    s2 = s * s
    series = s * (_S0 + s2 * (_S1 + s2 * (_S2 + s2 * (_S3 + s2 * _S4))))
    return (y - 0.5) * tl.log(y) - y + _HALF_LOG_2PI + series - tl.log(product)


@triton.jit
def _round_half_even(x):
    """``torch.round(x)``: the nearest integer, ties to even."""
    low = tl.floor(x)
    fraction = x - low
    odd = (low - 2.0 * tl.floor(low * 0.5)) == 1.0
    up = (fraction > 0.5) | ((fraction == 0.5) & odd)
    return tl.where(up, low + 1.0, low)


@triton.jit
def _first(BLOCK: tl.constexpr):
    """The flat index of this program's first element."""
    return tl.program_id(0).to(tl.int64) * BLOCK


@triton.jit
def _block(n, BLOCK: tl.constexpr):
    """This program's flat element indices and the mask of those below ``n``."""
    index = _first(BLOCK) + tl.arange(0, BLOCK)
    return index, index < n


@triton.jit
def _load_state(mu_ptr, xhat_ptr, n, BLOCK: tl.constexpr):
    """The prologue of the step kernels: ``(index, in_range, mu, xhat)`` of this program's block."""
    index, in_range = _block(n, BLOCK)
    mu = tl.load(mu_ptr + index, mask=in_range, other=0.0)
    xhat = tl.load(xhat_ptr + index, mask=in_range, other=0.0)
    return index, in_range, mu, xhat


@triton.jit
def _gamma_start(coef_ptr, n, MEAN: tl.constexpr, BLOCK: tl.constexpr):
    """The prologue of the Gamma-Poisson trajectory kernels: ``(index, in_range, a0, b0, mu)`` with
    ``a0, b0 = coef[0], coef[1]`` and ``mu`` the prior mean ``coef[MEAN]`` in every lane."""
    index, in_range = _block(n, BLOCK)
    a0 = tl.load(coef_ptr)
    b0 = tl.load(coef_ptr + 1)
    return index, in_range, a0, b0, tl.zeros((BLOCK,), dtype=a0.dtype) + tl.load(coef_ptr + MEAN)


@triton.jit
def _component_row(components_ptr, row, K: tl.constexpr, KP: tl.constexpr, OTHER: tl.constexpr):
    """Row ``row`` of the ``(rows, K)`` table ``components`` as a block of ``KP`` lanes (``OTHER`` past K)."""
    component = tl.arange(0, KP)
    return tl.load(components_ptr + row * K + component, mask=component < K, other=OTHER)


@triton.jit
def _tau_leap_update(mu, xhat, lam0, lam1, dA, n, seed, counter, offset, BLOCK: tl.constexpr,
                     ALIGNED: tl.constexpr):
    """``(lam0 mu + N) / lam1``, ``N ~ Poisson(dA xhat)`` from stream ``(seed, counter)``, cast to mu's dtype
    (this program's ``BLOCK`` entries, of ``n``, at element indices ``offset`` on; ``_poisson_draw``)."""
    counts = _poisson_draw(dA * xhat, seed, _first(BLOCK), n, offset, counter, BLOCK, ALIGNED).to(mu.dtype)
    return _div(lam0 * mu + counts, lam1)


@triton.jit
def _frozen_normal_update(mu, xhat, lam0, lam1, dA, sqrt_dA, z):
    """``(lam0 mu + (dA xhat + sqrt(dA) z)) / lam1``: ``NormalNormalSDE.frozen_step``."""
    return _div(lam0 * mu + (dA * xhat + sqrt_dA * z), lam1)


@triton.jit
def _mixture_mean(log_weights, means):
    """``sum_k softmax(log_weights)_k means_k`` over axis 1, as ``pmm_sde.targets.base.mixture_mean``:
    ``r = exp(l - max l) * (1 / sum exp(l - max l))``; entries ``l = -inf`` weigh 0."""
    shifted = _exp(log_weights - tl.max(log_weights, axis=1)[:, None])
    total = tl.sum(shifted, axis=1)
    r = shifted * _div(tl.zeros_like(total) + 1.0, total)[:, None]
    return tl.sum(r * means, axis=1)


@triton.jit(do_not_specialize=["seed", "counter", "offset"])
def _tau_leap_kernel(mu_ptr, xhat_ptr, out_ptr, coef_ptr, n, seed, counter, offset, BLOCK: tl.constexpr,
                     ALIGNED: tl.constexpr):
    """``mu' = (lam0 mu + Poisson(dA xhat)) / lam1`` with ``coef = (lam0, lam1, dA)``."""
    index, in_range, mu, xhat = _load_state(mu_ptr, xhat_ptr, n, BLOCK)
    mu = _tau_leap_update(mu, xhat, tl.load(coef_ptr), tl.load(coef_ptr + 1), tl.load(coef_ptr + 2), n, seed,
                          counter, offset, BLOCK, ALIGNED)
    tl.store(out_ptr + index, mu, mask=in_range)


@triton.jit(do_not_specialize=["seed", "counter", "offset"])
def _categorical_tau_leap_kernel(mu_ptr, xhat_ptr, A_ptr, out_ptr, A_out_ptr, coef_ptr, positions, seed, counter,
                                 offset, K: tl.constexpr, KP: tl.constexpr, BP: tl.constexpr):
    """``kernels.categorical_tau_leap`` on ``BP`` positions of ``K`` classes (padded to ``KP``, a power
    of 2), ``coef = (s0, dA)``: ``c ~ Poisson(dA xhat)``, ``A' = A + sum_k c_k``,
    ``mu' = ((s0 + A) mu + c) / (s0 + A')``; entry ``(p, k)`` has flat index ``p K + k`` and element
    index ``offset + p K + k``."""
    position = tl.program_id(0).to(tl.int64) * BP + tl.arange(0, BP)
    klass = tl.arange(0, KP)
    in_position = position < positions
    in_range = in_position[:, None] & (klass < K)[None, :]
    index = position[:, None] * K + klass[None, :]
    mu = tl.load(mu_ptr + index, mask=in_range, other=0.0)
    xhat = tl.load(xhat_ptr + index, mask=in_range, other=0.0)
    A = tl.load(A_ptr + position, mask=in_position, other=0.0)
    s0 = tl.load(coef_ptr)
    dA = tl.load(coef_ptr + 1)
    counts = triton_random._poisson_draw_at(tl.reshape(dA * xhat, (BP * KP,)), tl.reshape(offset + index, (BP * KP,)),
                                            tl.reshape(in_range, (BP * KP,)), seed, counter)
    counts = tl.where(in_range, tl.reshape(counts, (BP, KP)).to(mu.dtype), 0.0)
    A_next = A + tl.sum(counts, axis=1)
    mu = _div((s0 + A)[:, None] * mu + counts, (s0 + A_next)[:, None] + tl.zeros_like(mu))
    tl.store(out_ptr + index, mu, mask=in_range)
    tl.store(A_out_ptr + position, A_next, mask=in_position)


@triton.jit(do_not_specialize=["seed", "counter", "offset"])
def _pmm_chain_kernel(mu_ptr, xhat_ptr, out_ptr, coef_ptr, n, seed, counter, offset, BITS: tl.constexpr,
                      BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    """``mu' = (lam0 mu + (dA xhat + sqrt(dA) z)) / lam1`` with ``coef = (lam0, lam1, dA, sqrt(dA))``."""
    index, in_range, mu, xhat = _load_state(mu_ptr, xhat_ptr, n, BLOCK)
    z = _normal_draw(seed, offset + _first(BLOCK), counter, BITS, BLOCK, ALIGNED).to(mu.dtype)
    mu = _frozen_normal_update(mu, xhat, tl.load(coef_ptr), tl.load(coef_ptr + 1), tl.load(coef_ptr + 2),
                               tl.load(coef_ptr + 3), z)
    tl.store(out_ptr + index, mu, mask=in_range)


@triton.jit(do_not_specialize=["seed", "counter", "offset"])
def _euler_maruyama_kernel(mu_ptr, xhat_ptr, out_ptr, coef_ptr, n, seed, counter, offset, BITS: tl.constexpr,
                           BLOCK: tl.constexpr, ALIGNED: tl.constexpr):
    """``mu' = mu + c (xhat - mu) h + g z`` with ``coef = (c, h, g)``, ``c = alpha0 / lambda0``,
    ``g = sqrt(alpha0 h) / lambda0``."""
    index, in_range, mu, xhat = _load_state(mu_ptr, xhat_ptr, n, BLOCK)
    c = tl.load(coef_ptr)
    h = tl.load(coef_ptr + 1)
    g = tl.load(coef_ptr + 2)
    z = _normal_draw(seed, offset + _first(BLOCK), counter, BITS, BLOCK, ALIGNED).to(mu.dtype)
    tl.store(out_ptr + index, mu + c * (xhat - mu) * h + g * z, mask=in_range)


@triton.jit(do_not_specialize=["seed"])
def _gamma_oracle_tau_leap_kernel(out_ptr, grid_ptr, coef_ptr, n, seed, STEPS: tl.constexpr, BLOCK: tl.constexpr):
    """All ``STEPS`` tau-leap steps of the Gamma oracle in registers; writes the terminal ``mu``.

    ``STEPS`` is a compile-time constant (one compilation per grid length).

    ``coef = (a0, b0, a*, b*, a0 / b0)``, ``grid = (A_0, .., A_STEPS)``; step ``k`` (counter
    ``8 k``): ``N = (b0 + A_k) mu - a0``, ``xhat = (a* + N) / (b* + A_k)``,
    ``mu <- ((b0 + A_k) mu + Poisson((A_{k+1} - A_k) xhat)) / (b0 + A_{k+1})``.
    """
    index, in_range, a0, b0, mu = _gamma_start(coef_ptr, n, 4, BLOCK)
    a_star = tl.load(coef_ptr + 2)
    b_star = tl.load(coef_ptr + 3)
    for k in range(STEPS):
        A0 = tl.load(grid_ptr + k)
        A1 = tl.load(grid_ptr + k + 1)
        lam0 = b0 + A0
        xhat = _div(a_star + (lam0 * mu - a0), b_star + A0)
        mu = _tau_leap_update(mu, xhat, lam0, b0 + A1, A1 - A0, n, seed, k * _COUNTERS_PER_STEP, 0, BLOCK, True)
    tl.store(out_ptr + index, mu, mask=in_range)


@triton.jit(do_not_specialize=["seed"])
def _gamma_oracle_events_kernel(out_ptr, W_ptr, w_ptr, a_star_ptr, terminal_ptr, n, seed, STEPS: tl.constexpr,
                                SEARCH_PASSES: tl.constexpr, PER_LANE: tl.constexpr, BLOCK: tl.constexpr):
    """``pmm_sde.convergence.oracle_trajectories.gamma_oracle_tau_leap_events``: the Gamma-oracle chain from event to event.

    ``W`` (STEPS + 1) and ``w`` (STEPS) float64 as there, ``a_star`` (1,) float64, ``terminal =
    (a0, b0 + A_K)`` in the state's dtype. Lane ``l`` of the program runs its ``PER_LANE`` elements
    ``first + l, first + l + BLOCK, ..`` one after the other, so that a warp waits for the largest
    sum of ``PER_LANE`` elements' iterations rather than for its largest single element. Iteration
    ``j`` of an element at step ``k`` with count ``N`` (block ``(e, j, 0)``): ``E = -log u0``, ``J``
    the first index with ``W_J > W_k + E / (a* + N)`` (a binary search over ``k+1 .. STEPS+1`` in
    ``SEARCH_PASSES = STEPS.bit_length()`` halvings, ``STEPS + 1`` when no ``W_J`` exceeds);
    ``J <= STEPS``: ``N += c``, ``c ~ Poisson((a* + N) w_{J-1}) | c >= 1`` from ``u1``, ``k = J``;
    else the element is done: ``mu = (a0 + N) / (b0 + A_K)`` is written and the lane moves on.
    """
    lane = tl.arange(0, BLOCK)
    index = tl.program_id(0).to(tl.int64) * (BLOCK * PER_LANE) + lane
    a_star = tl.load(a_star_ptr)
    a0 = tl.load(terminal_ptr)
    lam_K = tl.zeros((BLOCK,), dtype=a0.dtype) + tl.load(terminal_ptr + 1)
    turn = tl.zeros((BLOCK,), dtype=tl.int32)
    event = tl.zeros((BLOCK,), dtype=tl.int32)
    k = tl.zeros((BLOCK,), dtype=tl.int32)
    counts = tl.zeros((BLOCK,), dtype=tl.float64)
    active = index < n
    while _any(active):
        w0, w1, _, _ = triton_random._philox(seed, index, event, 0)
        scale = a_star + counts
        target = tl.load(W_ptr + k) - tl.log(triton_random._unit_interval(w0, _WORD_BITS)) / scale
        low = k + 1
        high = tl.zeros_like(k) + (STEPS + 1)
        for _ in tl.static_range(SEARCH_PASSES):
            open_ = low < high
            middle = (low + high) // 2
            right = open_ & (tl.load(W_ptr + middle, mask=open_, other=0.0) <= target)
            low = tl.where(right, middle + 1, low)
            high = tl.where(open_ & ~right, middle, high)
        going = active & (low <= STEPS)
        rate = scale * tl.load(w_ptr + low - 1, mask=going, other=1.0)
        counts += triton_random._zero_truncated_poisson(rate, triton_random._unit_interval(w1, _WORD_BITS), going,
                                                        seed, index, event)
        done = active & ~going
        tl.store(out_ptr + index, _div(a0 + counts.to(a0.dtype), lam_K), mask=done)
        k = tl.where(going, low, tl.where(done, 0, k))
        event = tl.where(done, 0, event + 1)
        counts = tl.where(done, 0.0, counts)
        turn = tl.where(done, turn + 1, turn)
        index = tl.where(done, index + BLOCK, index)
        active = (turn < PER_LANE) & (index < n)


@triton.jit(do_not_specialize=["seed"])
def _gamma_mixture_tau_leap_kernel(out_ptr, grid_ptr, log_rates_ptr, components_ptr, coef_ptr, n, seed,
                                   STEPS: tl.constexpr, K: tl.constexpr, KP: tl.constexpr, BLOCK: tl.constexpr):
    """All ``STEPS`` tau-leap steps of the Gamma-mixture oracle in registers; writes the terminal ``mu``.

    ``coef = (a0, b0, a0 / b0)``; ``components`` (5, K) holds rows ``a``, ``b``, ``log w``,
    ``lgamma(a)``, ``a log b``; ``log_rates[k] = log(b + A_k)`` (STEPS, K); ``KP`` is K rounded up
    to a power of 2 (padding components weigh 0). Step ``k`` (counter ``8 k``), with
    ``N = (b0 + A_k) mu - a0``:

        l_j = log w_j + (((lgamma(a_j + N) - lgamma(a_j)) + a_j log b_j) - (a_j + N) log(b_j + A_k)),
        xhat = sum_j softmax(l)_j (a_j + N) / (b_j + A_k),
        mu <- ((b0 + A_k) mu + Poisson((A_{k+1} - A_k) xhat)) / (b0 + A_{k+1}).
    """
    index, in_range, a0, b0, mu = _gamma_start(coef_ptr, n, 2, BLOCK)
    real = tl.arange(0, KP) < K
    a = _component_row(components_ptr, 0, K, KP, 1.0)
    b = _component_row(components_ptr, 1, K, KP, 1.0)
    log_w = _component_row(components_ptr, 2, K, KP, 0.0)
    lgamma_a = _component_row(components_ptr, 3, K, KP, 0.0)
    a_log_b = _component_row(components_ptr, 4, K, KP, 0.0)
    for k in range(STEPS):
        A0 = tl.load(grid_ptr + k)
        A1 = tl.load(grid_ptr + k + 1)
        lam0 = b0 + A0
        aN = a[None, :] + (lam0 * mu - a0)[:, None]
        log_b_A = _component_row(log_rates_ptr, k, K, KP, 0.0)
        evidence = ((_lgamma(aN.to(tl.float64)).to(aN.dtype) - lgamma_a[None, :]) + a_log_b[None, :]) \
            - aN * log_b_A[None, :]
        log_weights = tl.where(real[None, :], log_w[None, :] + evidence, _NEG_INF)
        means = _div(aN, tl.zeros_like(aN) + (b + A0)[None, :])
        xhat = _mixture_mean(log_weights, means)
        mu = _tau_leap_update(mu, xhat, lam0, b0 + A1, A1 - A0, n, seed, k * _COUNTERS_PER_STEP, 0, BLOCK, True)
    tl.store(out_ptr + index, mu, mask=in_range)


@triton.jit(do_not_specialize=["seed"])
def _point_masses_tau_leap_kernel(out_ptr, grid_ptr, components_ptr, coef_ptr, n, seed, STEPS: tl.constexpr,
                                  K: tl.constexpr, KP: tl.constexpr, BLOCK: tl.constexpr):
    """All ``STEPS`` tau-leap steps of the point-mass oracle in registers; writes the terminal ``mu``.

    ``coef = (a0, b0, a0 / b0)``; ``components`` (3, K) holds rows ``v``, ``log w``, ``log v``; ``KP``
    is K rounded up to a power of 2 (padding points weigh 0). Step ``k`` (counter ``8 k``), with
    ``N = round((b0 + A_k) mu - a0)`` (ties to even, as ``torch.round``):

        l_j = log w_j + (xlogy(N, v_j) - A_k v_j),   xhat = sum_j softmax(l)_j v_j,
        mu <- ((b0 + A_k) mu + Poisson((A_{k+1} - A_k) xhat)) / (b0 + A_{k+1}),

    ``xlogy(N, v) = 0`` for ``N = 0``, else ``N log v``.
    """
    index, in_range, a0, b0, mu = _gamma_start(coef_ptr, n, 2, BLOCK)
    real = tl.arange(0, KP) < K
    v = _component_row(components_ptr, 0, K, KP, 0.0)
    log_w = _component_row(components_ptr, 1, K, KP, 0.0)
    log_v = _component_row(components_ptr, 2, K, KP, 0.0)
    values = tl.zeros((BLOCK, KP), dtype=a0.dtype) + v[None, :]
    for k in range(STEPS):
        A0 = tl.load(grid_ptr + k)
        A1 = tl.load(grid_ptr + k + 1)
        lam0 = b0 + A0
        N = _round_half_even(lam0 * mu - a0)[:, None] + tl.zeros((BLOCK, KP), dtype=a0.dtype)
        zero = N == 0.0  # xlogy(0, v) = 0, also for v = 0 (log v = -inf, whose product with 0 is masked out)
        evidence = tl.where(zero, 0.0, N * tl.where(zero, 0.0, log_v[None, :])) - A0 * v[None, :]
        log_weights = tl.where(real[None, :], log_w[None, :] + evidence, _NEG_INF)
        xhat = _mixture_mean(log_weights, values)
        mu = _tau_leap_update(mu, xhat, lam0, b0 + A1, A1 - A0, n, seed, k * _COUNTERS_PER_STEP, 0, BLOCK, True)
    tl.store(out_ptr + index, mu, mask=in_range)


@triton.jit(do_not_specialize=["seed"])
def _gaussian_pmm_chain_kernel(out_ptr, table_ptr, coef_ptr, n, seed, STEPS: tl.constexpr, BITS: tl.constexpr,
                               BLOCK: tl.constexpr):
    """All ``STEPS`` Normal-Normal PMM-chain steps of the Gaussian oracle in registers; writes ``mu``.

    ``coef = (l0 m0, m, s^2, m0)``; ``table[k] = (l0 + A_k, l0 + A_{k+1}, dA, sqrt(dA), 1 + A_k s^2)``
    with ``dA = A_{k+1} - A_k``. Step ``k`` (counter ``8 k``, ``z`` the stream's normal):

        xhat = (m + s^2 ((l0 + A_k) mu - l0 m0)) / (1 + A_k s^2),
        mu <- ((l0 + A_k) mu + (dA xhat + sqrt(dA) z)) / (l0 + A_{k+1}).
    """
    index, in_range = _block(n, BLOCK)
    prior_statistic = tl.load(coef_ptr)
    mean = tl.load(coef_ptr + 1)
    variance = tl.load(coef_ptr + 2)
    mu = tl.zeros((BLOCK,), dtype=mean.dtype) + tl.load(coef_ptr + 3)
    for k in range(STEPS):
        row = table_ptr + 5 * k
        lam0 = tl.load(row)
        xhat = _div(mean + variance * (lam0 * mu - prior_statistic), tl.zeros_like(mu) + tl.load(row + 4))
        z = _normal_block(seed, _first(BLOCK), k * _COUNTERS_PER_STEP, BITS, BLOCK).to(mu.dtype)
        mu = _frozen_normal_update(mu, xhat, lam0, tl.load(row + 1), tl.load(row + 2), tl.load(row + 3), z)
    tl.store(out_ptr + index, mu, mask=in_range)


def _launch(kernel, launch: triton_random.Launch, mu: torch.Tensor, xhat: torch.Tensor, coef: torch.Tensor,
            seed: int, counter: int, offset: int, **meta) -> torch.Tensor:
    """Run an elementwise step ``kernel`` on the flat contiguous ``mu`` and ``xhat`` whose first entry is
    element ``offset``; ``mu'`` shaped like ``mu``."""
    mu_flat, xhat_flat = mu.contiguous(), xhat.contiguous()
    out = torch.empty_like(mu_flat)
    n = out.numel()
    if n:
        kernel[(triton.cdiv(n, launch.block),)](mu_flat, xhat_flat, out, coef, n, _key(seed), _counter_word(counter),
                                                int(offset), BLOCK=launch.block, ALIGNED=offset % 4 == 0,
                                                num_warps=launch.num_warps, enable_fp_fusion=False, **meta)
    return out


def _launch_trajectory(kernel, launch: triton_random.Launch, n: int, tables: tuple[torch.Tensor, ...],
                       coef: torch.Tensor, seed: int, **meta) -> torch.Tensor:
    """Run a whole-trajectory ``kernel(out, *tables, coef, n, seed, ...)``: the terminal ``mu`` of ``n``
    elements, in the dtype and on the device of ``coef``."""
    out = torch.empty(n, dtype=coef.dtype, device=coef.device)
    if n:
        kernel[(triton.cdiv(n, launch.block),)](out, *(t.contiguous() for t in tables), coef, n, _key(seed),
                                                BLOCK=launch.block, num_warps=launch.num_warps,
                                                enable_fp_fusion=False, **meta)
    return out


def _components_meta(components: torch.Tensor) -> dict[str, int]:
    """``K`` (components, the last axis of ``components``) and ``KP`` (K rounded up to a power of 2)."""
    K = components.shape[-1]
    return {"K": K, "KP": triton.next_power_of_2(K)}


def tau_leap(mu: torch.Tensor, xhat: torch.Tensor, coefficients: list[torch.Tensor], seed: int, counter: int,
             offset: int = 0) -> torch.Tensor:
    """``kernels.tau_leap`` by ``_tau_leap_kernel``; ``coefficients = (b0 + A0, b0 + A1, dA)`` in mu's dtype."""
    return _launch(_tau_leap_kernel, triton_random.POISSON_LAUNCH, mu, xhat, torch.stack(coefficients), seed,
                   counter, offset).reshape(mu.shape)


#: Elements per program of the categorical tau-leap step (positions per program: this over KP).
CATEGORICAL_BLOCK = 64


def categorical_tau_leap(mu: torch.Tensor, xhat: torch.Tensor, A: torch.Tensor, coefficients: list[torch.Tensor],
                         seed: int, counter: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``kernels.categorical_tau_leap`` by ``_categorical_tau_leap_kernel``; ``coefficients = (s0, dA)`` in
    mu's dtype, ``A`` shaped ``mu.shape[:-1] + (1,)``."""
    coef = torch.stack(coefficients)
    mu_flat, xhat_flat, A_flat = mu.contiguous(), xhat.contiguous(), A.contiguous()
    out, A_out = torch.empty_like(mu_flat), torch.empty_like(A_flat)
    K = mu.shape[-1]
    positions = A_flat.numel()
    if positions:
        KP = triton.next_power_of_2(K)
        BP = max(1, CATEGORICAL_BLOCK // KP)
        _categorical_tau_leap_kernel[(triton.cdiv(positions, BP),)](
            mu_flat, xhat_flat, A_flat, out, A_out, coef, positions, _key(seed), _counter_word(counter), int(offset),
            K=K, KP=KP,
            BP=BP, num_warps=triton_random.POISSON_LAUNCH.num_warps, enable_fp_fusion=False)
    return out, A_out


def pmm_chain(mu: torch.Tensor, xhat: torch.Tensor, coefficients: list[torch.Tensor], seed: int, counter: int,
              offset: int = 0) -> torch.Tensor:
    """``kernels.pmm_chain`` by ``_pmm_chain_kernel``; ``coefficients = (l0 + A0, l0 + A1, dA, sqrt(dA))``."""
    return _launch(_pmm_chain_kernel, triton_random.NORMAL_LAUNCH, mu, xhat, torch.stack(coefficients), seed, counter,
                   offset, BITS=streams.unit_interval_bits(mu.dtype)).reshape(mu.shape)


def euler_maruyama(mu: torch.Tensor, xhat: torch.Tensor, coefficients: list[torch.Tensor], seed: int, counter: int,
                   offset: int = 0) -> torch.Tensor:
    """``kernels.euler_maruyama`` by ``_euler_maruyama_kernel``; ``coefficients = (reversion, h, scale)``."""
    return _launch(_euler_maruyama_kernel, triton_random.NORMAL_LAUNCH, mu, xhat, torch.stack(coefficients), seed,
                   counter, offset, BITS=streams.unit_interval_bits(mu.dtype)).reshape(mu.shape)


def gamma_oracle_tau_leap(n: int, grid: torch.Tensor, coef: torch.Tensor, seed: int) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` elements from ``_gamma_oracle_tau_leap_kernel``.

    ``grid`` (cumulative information, in the state's dtype) and ``coef = (a0, b0, a*, b*, a0/b0)``
    are on the target device in the same dtype, which is the state's.
    """
    return _launch_trajectory(_gamma_oracle_tau_leap_kernel, triton_random.POISSON_LAUNCH, n, (grid,), coef, seed,
                              STEPS=grid.numel() - 1)


#: Elements that a lane of the event-to-event kernel runs in turn. A warp waits for its slowest lane:
#: with one element per lane that is the largest of 64 counts (about 2.4 standard deviations above
#: the mean, and under a Gamma target the counts are overdispersed); with 8 in turn, the largest of
#: 64 sums of 8, whose relative spread is sqrt(8) times smaller.
EVENTS_PER_LANE = 8


def gamma_oracle_tau_leap_events(n: int, W: torch.Tensor, w: torch.Tensor, a_star: torch.Tensor,
                                 terminal: torch.Tensor, seed: int) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` elements from ``_gamma_oracle_events_kernel`` (``W``, ``w``, ``a_star``
    float64 and ``terminal`` in the state's dtype, on the target device)."""
    out = torch.empty(n, dtype=terminal.dtype, device=terminal.device)
    if n:
        launch = triton_random.POISSON_LAUNCH
        steps = w.numel()
        _gamma_oracle_events_kernel[(triton.cdiv(n, launch.block * EVENTS_PER_LANE),)](
            out, W.contiguous(), w.contiguous(), a_star, terminal, n, _key(seed), STEPS=steps,
            SEARCH_PASSES=steps.bit_length(), PER_LANE=EVENTS_PER_LANE, BLOCK=launch.block,
            num_warps=launch.num_warps, enable_fp_fusion=False)
    return out


def gamma_mixture_oracle_tau_leap(n: int, grid: torch.Tensor, log_rates: torch.Tensor, components: torch.Tensor,
                                  coef: torch.Tensor, seed: int) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` elements from ``_gamma_mixture_tau_leap_kernel`` (see it for the arguments;
    all in the state's dtype on the target device)."""
    return _launch_trajectory(_gamma_mixture_tau_leap_kernel, triton_random.POISSON_LAUNCH, n,
                              (grid, log_rates, components), coef, seed, STEPS=grid.numel() - 1,
                              **_components_meta(components))


def point_masses_oracle_tau_leap(n: int, grid: torch.Tensor, components: torch.Tensor, coef: torch.Tensor,
                                 seed: int) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` elements from ``_point_masses_tau_leap_kernel`` (see it for the arguments;
    all in the state's dtype on the target device)."""
    return _launch_trajectory(_point_masses_tau_leap_kernel, triton_random.POISSON_LAUNCH, n, (grid, components), coef,
                              seed, STEPS=grid.numel() - 1, **_components_meta(components))


def gaussian_oracle_pmm_chain(n: int, table: torch.Tensor, coef: torch.Tensor, seed: int) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` elements from ``_gaussian_pmm_chain_kernel``; ``table`` (STEPS, 5) and
    ``coef`` (4,) in the state's dtype on the target device."""
    return _launch_trajectory(_gaussian_pmm_chain_kernel, triton_random.NORMAL_LAUNCH, n, (table,), coef, seed,
                              STEPS=table.shape[0], BITS=streams.unit_interval_bits(coef.dtype))
