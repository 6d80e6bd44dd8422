"""Whole-trajectory simulators of one-dimensional oracle problems: ``n`` independent chains from the
prior on a grid of cumulative information ``A_grid``, driven by an exact oracle of
:mod:`pmm_sde.targets`, returning the terminal ``mu``.

The torch reference loops over the fused step's torch reference (:mod:`pmm_sde.kernels.ops`; step
``k`` draws from counter ``k * COUNTERS_PER_STEP``, as ``pmm_sde.run_chain``) with the target's own
predictor. The Triton kernels (:mod:`pmm_sde.kernels.triton_steps`) keep ``mu`` in registers for
all steps, evaluate the oracle in-kernel and write ``mu`` once; the event-to-event simulator also
has a compiled CPU version. ``backend`` is resolved once per call (``pmm_sde.streams.resolve_backend``).
How the backends agree is told in ``docs/kernels.md``.
"""

from __future__ import annotations

import numbers
from typing import Callable

import torch

from .. import kernels
from .._validation import as_float_tensor
from ..chain import Predictor
from ..families import ConjugateFamily, GammaPoisson, NormalNormal
from ..processes import NormalNormalSDE
from ..schedules import Linear
from ..streams import Noise, native, reference, resolve_backend
from ..targets import Gamma, GammaMixture, Gaussian, PointMasses, Target

Scalar = float | torch.Tensor
_FLOAT_DTYPES = (torch.float32, torch.float64)
Step = Callable[[Noise, int, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

def _trajectory_grid(n: int, A_grid, dtype: torch.dtype, device) -> torch.Tensor:
    """``A_grid`` in ``dtype`` on ``device``: 1-D, at least two points, finite, non-decreasing, >= 0
    (Python numbers are read as float64 first); and ``n``, the number of chains, an int >= 0."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"n (the number of chains) must be an int >= 0, got {n!r}")
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.empty(0).device if device is None else torch.device(device)
    grid = as_float_tensor(A_grid, "A_grid", dtype).to(device)
    if grid.dim() != 1 or grid.numel() < 2:
        raise ValueError(f"A_grid must be 1-D with at least two points, got shape {tuple(grid.shape)}")
    if not bool((grid[1:] >= grid[:-1]).all() & (grid[0] >= 0)):
        raise ValueError("A_grid must be non-decreasing and >= 0")
    return grid


def _float64(value, name: str, positive: bool = False) -> torch.Tensor:
    """``value`` as a finite float64 CPU tensor (Python numbers exactly), > 0 everywhere if ``positive``."""
    tensor = as_float_tensor(value, name, torch.float64).cpu()
    if positive and not bool((tensor > 0).all()):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return tensor


def _scalar_target(target: Target, requirement: str) -> Target:
    """``target`` if its data points are scalars (one-dimensional chains), else a ValueError."""
    if target.shape != torch.Size():
        raise ValueError(f"{requirement} for one-dimensional chains, got a target of data shape "
                         f"{tuple(target.shape)}")
    return target


def _gamma_prior(a0: Scalar, b0: Scalar) -> GammaPoisson:
    """The prior ``Gamma(a0, b0)`` of the Gamma-Poisson trajectories, its parameters named in errors."""
    return GammaPoisson(_float64(a0, "a0", positive=True), _float64(b0, "b0", positive=True))


def _oracle_trajectory(n: int, grid: torch.Tensor, family: ConjugateFamily, predictor: Predictor, step: Step,
                       seed: int) -> torch.Tensor:
    """The torch reference: from the prior mean, for ``k = 0..K-1``, ``xhat = predictor(mu, A_k)`` and
    ``mu <- step(noise, k, mu, xhat, A_k, A_{k+1})`` with the counter-based noise on the torch backend."""
    family = family.cast(grid)
    mu, _ = family.initial_state(n, ())
    noise = Noise(seed, mu.shape, mu.dtype, mu.device, backend="torch")
    for k in range(grid.numel() - 1):
        mu = step(noise, k, mu, predictor(mu, grid[k]), grid[k], grid[k + 1])
    return mu


def _tau_leap_step(family: GammaPoisson) -> Step:
    """The Gamma-Poisson leap over ``[A0, A1]`` of the grid: ``kernels.tau_leap`` with
    ``(b0 + A0, b0 + A1, A1 - A0)``."""
    return lambda noise, k, mu, xhat, A0, A1: kernels.tau_leap(noise, k, 0, mu, xhat, family.strength(A0),
                                                                family.strength(A1), A1 - A0)


def gamma_oracle_tau_leap(n: int, A_grid: torch.Tensor, a0: Scalar, b0: Scalar, a_star: Scalar, b_star: Scalar,
                          seed: int, backend: str = "auto", dtype: torch.dtype = torch.float64,
                          device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Gamma-Poisson tau-leap chains driven by the Gamma oracle.

    Prior ``Gamma(a0, b0)``, target ``Gamma(a*, b*)`` (all > 0), cumulative information ``A_grid =
    (A_0, .., A_K)`` (1-D, non-decreasing, >= 0, cast to ``dtype``). From ``mu = a0 / b0``, step
    ``k = 0..K-1`` (counter ``k * COUNTERS_PER_STEP``, as ``pmm_sde.run_chain``) is

        N = (b0 + A_k) mu - a0,   xhat = (a* + N) / (b* + A_k),   mu <- tau_leap(mu, xhat, A_k, A_{k+1}).

    The Triton kernel keeps ``mu`` in registers for all K steps and writes it once; the torch
    reference loops over ``kernels.tau_leap`` with the ``Gamma`` target's oracle. Returns a tensor of
    shape ``(n,)``. The count is ``N_T = (b0 + A_K) mu - a0``.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = _gamma_prior(a0, b0)
    target = Gamma(_float64(a_star, "a_star", positive=True), _float64(b_star, "b_star", positive=True))
    _scalar_target(target, "a_star and b_star must be scalars")
    if resolve_backend(backend, grid.device) == "triton":
        from ..kernels import triton_steps
        prior = family.cast(grid)
        coef = torch.stack([prior.concentration, prior.rate, target.concentration.to(grid), target.rate.to(grid),
                            prior.prior_mean])
        return triton_steps.gamma_oracle_tau_leap(n, grid, coef, seed)
    return _oracle_trajectory(n, grid, family, target.predictor(family), _tau_leap_step(family.cast(grid)), seed)


def _gamma_event_tables(grid: torch.Tensor, b_star: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(W, w)`` in float64: ``w_k = (A_{k+1} - A_k) / (b* + A_k)`` and its prefix sums ``W_0 = 0``,
    ``W_{k+1} = W_k + w_k`` (``torch.cumsum``), from the grid in the state's dtype."""
    A = grid.to(torch.float64)
    w = (A[1:] - A[:-1]) / (b_star.to(A) + A[:-1])
    return torch.cat([torch.zeros(1, dtype=A.dtype, device=A.device), torch.cumsum(w, 0)]), w


def gamma_oracle_tau_leap_events(n: int, A_grid: torch.Tensor, a0: Scalar, b0: Scalar, a_star: Scalar,
                                 b_star: Scalar, seed: int, backend: str = "auto", dtype: torch.dtype = torch.float64,
                                 device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of the chains of ``gamma_oracle_tau_leap``, the same law, simulated from one step
    with counts to the next: a cost per event, not per step.

    With the oracle the rate of step ``k`` is ``(a* + N) w_k``, ``w_k = (A_{k+1} - A_k) / (b* + A_k)``,
    and between steps with counts ``N`` is constant; so the steps without counts are skipped
    exactly. From step ``k`` with count ``N`` (at first 0 and 0), event ``j`` of element ``e`` takes
    Philox block ``(e, j, 0)`` (float64 uniforms ``u0``, ``u1`` of its words 0 and 1, as
    ``to_unit_interval``) and, in float64 with ``W`` the prefix sums of ``w``:

        E = -log u0,   J = the first index with W_J > W_k + E / (a* + N)   (``searchsorted``),
        if J > K: stop;   else  N += c,  c ~ Poisson((a* + N) w_{J-1}) given c >= 1,  k = J,

    the steps ``k .. J-2`` having no counts with probability ``exp(-(a* + N)(W_{J-1} - W_k))`` and
    step ``J-1`` its first counts, drawn by ``pmm_sde.streams.reference.zero_truncated_poisson`` from ``u1`` (PTRS
    attempts from blocks ``(e, j, 1), (e, j, 2), ..``). Then ``mu = (a0 + N) / (b0 + A_K)`` in
    ``dtype``. Arguments as ``gamma_oracle_tau_leap``; the grid is cast to ``dtype`` first, so the
    chain is the one on that grid. Equal in law to ``gamma_oracle_tau_leap`` (another stream: its
    draws are per step). The torch reference loops over events for all elements at once; the
    Triton kernel (CUDA) and the compiled CPU code (``native``, the default on the CPU) run each
    element's events in place.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    prior = _gamma_prior(a0, b0).cast(grid)
    a_star, b_star = _float64(a_star, "a_star", positive=True), _float64(b_star, "b_star", positive=True)
    if a_star.dim() or b_star.dim():
        raise ValueError("a_star and b_star must be scalars")
    W, w = _gamma_event_tables(grid, b_star)
    terminal = torch.stack([prior.concentration, prior.rate + grid[-1]]).reshape(2)
    chosen = resolve_backend(backend, grid.device)
    if chosen == "triton":
        from ..kernels import triton_steps
        return triton_steps.gamma_oracle_tau_leap_events(n, W, w, a_star.to(W).reshape(1), terminal, seed)
    if chosen == "native":
        return native.gamma_oracle_tau_leap_events(n, W, w, float(a_star), terminal, seed)
    steps = w.numel()
    counts = torch.zeros(n, dtype=torch.float64, device=grid.device)
    positions = torch.arange(n, device=grid.device)
    k = torch.zeros(n, dtype=torch.int64, device=grid.device)
    event = 0
    while positions.numel() > 0:
        w0, w1, _, _ = reference.philox4x32(seed, positions & 0xFFFFFFFF, positions >> 32, event, 0)
        scale = a_star.to(W) + counts[positions]
        target = W[k] - torch.log(reference.to_unit_interval(w0, torch.float64)) / scale
        J = torch.searchsorted(W, target, right=True)
        going = J <= steps
        positions, J, scale, w1 = positions[going], J[going], scale[going], w1[going]
        c = reference.zero_truncated_poisson(scale * w[J - 1], reference.to_unit_interval(w1, torch.float64), seed, event,
                                          positions)
        counts[positions] += c
        k = J
        event += 1
    return (terminal[0] + counts.to(dtype)) / terminal[1]


def gamma_mixture_oracle_tau_leap(n: int, A_grid: torch.Tensor, a0: Scalar, b0: Scalar, weights, concentrations,
                                  rates, seed: int, backend: str = "auto", dtype: torch.dtype = torch.float64,
                                  device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Gamma-Poisson tau-leap chains driven by the exact oracle of
    the Gamma mixture ``sum_j w_j Gamma(a_j, b_j)`` (``pmm_sde.targets.GammaMixture``).

    Prior ``Gamma(a0, b0)`` (``a0, b0 > 0``); ``weights`` (K,) non-negative summing to 1,
    ``concentrations`` and ``rates`` (> 0) of length K (or scalars, shared); ``A_grid`` as in
    ``gamma_oracle_tau_leap``. From ``mu = a0 / b0``, step ``k`` (counter ``k * COUNTERS_PER_STEP``)
    is, with ``N = (b0 + A_k) mu - a0``,

        l_j = log w_j + lgamma(a_j + N) - lgamma(a_j) + a_j log b_j - (a_j + N) log(b_j + A_k),
        xhat = sum_j softmax(l)_j (a_j + N) / (b_j + A_k),   mu <- tau_leap(mu, xhat, A_k, A_{k+1}),

    the posterior mean under the mixture (component posteriors ``Gamma(a_j + N, b_j + A_k)``, weights
    from the negative binomial evidence). The torch reference calls the ``GammaMixture`` oracle;
    the Triton kernel evaluates it in registers (log-sum-exp with the maximum subtracted, as
    ``torch.softmax``). Returns shape ``(n,)``. The count is ``N_T = (b0 + A_K) mu - a0``, whose exact law under the target is
    ``pmm_sde.convergence.count_laws.target_count_law``.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = _gamma_prior(a0, b0)
    target = _scalar_target(GammaMixture(_float64(weights, "weights"), _float64(concentrations, "concentrations"),
                                         _float64(rates, "rates")),
                            "concentrations and rates must be 1-D (one value per component)")
    if resolve_backend(backend, grid.device) == "triton":
        from ..kernels import triton_steps
        prior = family.cast(grid)
        w, a, b = (p.to(grid) for p in (target.weights, target.concentrations, target.rates))
        components = torch.stack([a, b, torch.log(w), torch.lgamma(a), a * torch.log(b)])
        log_rates = torch.log(b + grid[:-1, None])
        coef = torch.stack([prior.concentration, prior.rate, prior.prior_mean])
        return triton_steps.gamma_mixture_oracle_tau_leap(n, grid, log_rates, components, coef, seed)
    return _oracle_trajectory(n, grid, family, target.predictor(family), _tau_leap_step(family.cast(grid)), seed)


def point_masses_oracle_tau_leap(n: int, A_grid: torch.Tensor, a0: Scalar, b0: Scalar, weights, values, seed: int,
                                 backend: str = "auto", dtype: torch.dtype = torch.float64,
                                 device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Gamma-Poisson tau-leap chains driven by the exact oracle of
    the point masses ``P(x = v_j) = w_j`` (``pmm_sde.targets.PointMasses``).

    Prior ``Gamma(a0, b0)`` (``a0, b0 > 0``); ``weights`` (K,) non-negative summing to 1, ``values``
    (K,) >= 0; ``A_grid`` as in ``gamma_oracle_tau_leap``. From ``mu = a0 / b0``, step ``k`` (counter
    ``k * COUNTERS_PER_STEP``) is, with ``N = round((b0 + A_k) mu - a0)``,

        l_j = log w_j + xlogy(N, v_j) - A_k v_j,   xhat = sum_j softmax(l)_j v_j,
        mu <- tau_leap(mu, xhat, A_k, A_{k+1}),

    the posterior mean given ``N ~ Poisson(A_k x)``. The torch reference calls the ``PointMasses``
    oracle; the Triton kernel evaluates it in registers. Returns shape ``(n,)``. ``N_T = (b0 + A_K) mu - a0`` follows
    ``sum_j w_j Poisson(A_K v_j)`` in the limit of fine grids.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = _gamma_prior(a0, b0)
    target = _scalar_target(PointMasses(_float64(weights, "weights"), _float64(values, "values")),
                            "values must be 1-D (one value per point)")
    predictor = target.predictor(family)  # checks values >= 0
    if resolve_backend(backend, grid.device) == "triton":
        from ..kernels import triton_steps
        prior = family.cast(grid)
        w, v = target.weights.to(grid), target.values.to(grid)
        components = torch.stack([v, torch.log(w), torch.log(v)])
        coef = torch.stack([prior.concentration, prior.rate, prior.prior_mean])
        return triton_steps.point_masses_oracle_tau_leap(n, grid, components, coef, seed)
    return _oracle_trajectory(n, grid, family, predictor, _tau_leap_step(family.cast(grid)), seed)


def gaussian_oracle_pmm_chain(n: int, A_grid: torch.Tensor, m0: Scalar, l0: Scalar, mean: Scalar, std: Scalar,
                              seed: int, backend: str = "auto", dtype: torch.dtype = torch.float64,
                              device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Normal-Normal PMM chains driven by the Gaussian oracle.

    Prior ``N(m0, 1/l0)`` (``l0 > 0``), target ``N(m, s^2)`` (``mean``, ``std > 0``; ``s^2`` is
    computed in float64, as by a float64 ``pmm_sde.targets.Gaussian``, then cast), ``A_grid`` as in
    ``gamma_oracle_tau_leap``. From ``mu = m0``, step ``k`` (counter ``k * COUNTERS_PER_STEP``) is,
    with ``S = (l0 + A_k) mu - l0 m0``,

        xhat = (m + s^2 S) / (1 + A_k s^2),   mu <- pmm_chain(mu, xhat, A_k, A_{k+1}),

    i.e. ``xhat`` is affine in ``mu`` and the chain is Gaussian (``sample(..., "pmm_chain")`` on the
    same grid of A). The torch reference calls the ``Gaussian`` oracle; the Triton kernel keeps
    ``mu`` in registers. Returns shape ``(n,)``.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = NormalNormal(_float64(m0, "m0"), _float64(l0, "l0", positive=True))
    target = _scalar_target(Gaussian(_float64(mean, "mean"), _float64(std, "std", positive=True)),
                            "mean and std must be scalars")
    if resolve_backend(backend, grid.device) == "triton":
        from ..kernels import triton_steps
        prior = family.cast(grid)
        variance = (target.std ** 2).to(grid)
        A0, A1 = grid[:-1], grid[1:]
        dA = A1 - A0
        table = torch.stack([prior.precision + A0, prior.precision + A1, dA, torch.sqrt(dA), 1.0 + A0 * variance], 1)
        coef = torch.stack([prior.prior_statistic, target.mean.to(grid), variance, prior.prior_mean])
        return triton_steps.gaussian_oracle_pmm_chain(n, table, coef, seed)
    process = NormalNormalSDE(family, Linear(1.0), target.predictor(family)).cast(grid)
    return _oracle_trajectory(n, grid, family, process.predictor,
                              lambda noise, k, mu, xhat, A0, A1: process.frozen_step(noise, k, 0, mu, xhat, A0, A1),
                              seed)
