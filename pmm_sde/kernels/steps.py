"""Fused single steps of the jump and diffusion simulators, and whole-trajectory oracle kernels.

Each function has a torch reference (``backend="torch"``), written with the arithmetic of the
package's family, process or solver, and a Triton path (``"triton"``; ``"auto"`` picks it for
CUDA tensors when triton imports) that reads ``mu`` and ``xhat`` once, draws the step's noise
in-kernel from the same counter-based stream, and writes ``mu'`` once. The solvers ``tau_leap``,
``pmm_chain`` and ``euler_maruyama`` run their steps through these functions on the Triton backend
(``fused_backend``).

Scalars (``A0``, ``A1``, ``h``, prior parameters) are Python floats or 0-dim tensors; they are
cast to the state's dtype first, and the per-call coefficients (``b0 + A0``, ``sqrt(dA)``, ...)
are computed by torch in that dtype for both paths. ``mu`` and ``xhat`` are float32 or float64
tensors of the same shape; draws use the flat (row-major) element index of ``mu``, as
``pmm_sde.run_chain`` and the solvers' ``Noise`` do.

The whole-trajectory functions run ``n`` independent one-dimensional chains from the prior on a
grid of cumulative information ``A_grid``, driven by an exact oracle of ``pmm_sde.targets``: the
torch reference loops over the step's torch reference with the target's own predictor (step ``k``
uses counter ``k * COUNTERS_PER_STEP``, as ``pmm_sde.run_chain``); the Triton kernel keeps ``mu``
in registers for all steps, evaluates the oracle in-kernel and writes ``mu`` once.

Agreement of the backends:

* ``tau_leap_step`` and ``gamma_oracle_tau_leap``: bitwise (float32 and float64). The counts are
  integers decided by float64 comparisons (see :mod:`pmm_sde.streams.triton_draws`), and the
  update is IEEE ``*``, ``+``, ``/`` in the same order.
* ``gamma_mixture_oracle_tau_leap`` and ``point_masses_oracle_tau_leap``: ``mu`` depends on the
  oracle only through the counts, and the oracle's ``exp``/``log``/``lgamma`` (torch's softmax uses
  its own fast ``exp``) agree to a few ulp between the backends, not always bitwise; so ``mu`` is
  bitwise equal unless a count's decision lands within that discrepancy of its threshold: a
  relative change of the rate of about 1e-14 in float64 (a few ulp of float32 in float32).
* ``pmm_chain_step``, ``euler_maruyama_step`` and ``gaussian_oracle_pmm_chain``: the update is
  bitwise for a given ``z``; ``z`` itself is the Box-Muller normal of :mod:`pmm_sde.streams.reference`, whose
  float64 ``log``/``cos``/``sin`` may differ in the last bit between math libraries, so float32
  ``z`` agrees to 1 ulp (almost always exactly) and float64 ``z`` to a few ulp. The step then
  agrees to within the same number of ulp of its ``sqrt(dA) z`` term (on CUDA both sides use
  libdevice); the Gaussian chain contracts, so the trajectory does too.
"""

from __future__ import annotations

import numbers
from typing import Callable

import torch

from ..streams import reference as random
from .._validation import as_float_tensor
from ..chain import COUNTERS_PER_STEP, Predictor
from ..families import ConjugateFamily, GammaPoisson, NormalNormal
from ..targets import Gamma, GammaMixture, Gaussian, PointMasses, Target
from ..streams import native
from ..streams.backend import resolve_backend

Scalar = float | torch.Tensor
_FLOAT_DTYPES = (torch.float32, torch.float64)


def _check_state(mu: torch.Tensor, xhat: torch.Tensor) -> None:
    """``mu`` and ``xhat``: float32/float64 tensors of one shape, dtype and device."""
    if not (torch.is_tensor(mu) and torch.is_tensor(xhat)):
        raise ValueError("mu and xhat must be tensors")
    if mu.dtype not in _FLOAT_DTYPES:
        raise ValueError(f"mu must be a float32 or float64 tensor, got {mu.dtype}")
    if (xhat.shape, xhat.dtype, xhat.device) != (mu.shape, mu.dtype, mu.device):
        raise ValueError(f"xhat must match mu in shape, dtype and device: mu {tuple(mu.shape)} {mu.dtype} "
                         f"{mu.device}, xhat {tuple(xhat.shape)} {xhat.dtype} {xhat.device}")


def _scalars(reference: torch.Tensor, *values: Scalar) -> list[torch.Tensor]:
    """``values`` as 0-dim tensors with the dtype and device of ``reference``."""
    out = [torch.as_tensor(v, dtype=reference.dtype, device=reference.device) for v in values]
    for v in out:
        if v.dim() != 0:
            raise ValueError(f"scalar arguments must be floats or 0-dim tensors, got shape {tuple(v.shape)}")
    return out


def fused_backend(backend: str, mu: torch.Tensor, xhat: torch.Tensor, *scalars: torch.Tensor) -> str:
    """Where a solver runs a step as one of the fused steps here: ``"triton"`` or ``"native"`` when
    ``backend`` resolves to it on ``mu``'s device (``resolve_backend``) and the step fits the kernels
    (``mu`` float32 or float64, ``xhat`` of its shape, dtype and device, each of ``scalars`` one
    value), else ``"torch"`` (the solver's own torch code)."""
    chosen = resolve_backend(backend, mu.device)
    if chosen == "torch":
        return "torch"
    fits = (mu.dtype in _FLOAT_DTYPES and torch.is_tensor(xhat)
            and (xhat.shape, xhat.dtype, xhat.device) == (mu.shape, mu.dtype, mu.device)
            and all(not torch.is_tensor(s) or s.numel() == 1 for s in scalars))
    return chosen if fits else "torch"


def tau_leap_step(mu: torch.Tensor, xhat: torch.Tensor, A0: Scalar, A1: Scalar, prior_rate: Scalar, seed: int,
                  counter: int, backend: str = "auto", *, dA: Scalar | None = None) -> torch.Tensor:
    """Gamma-Poisson tau-leap (PMM chain) step over ``[A0, A1]`` with the prediction ``xhat`` frozen:

        mu' = ((b0 + A0) mu + N) / (b0 + A1),   N ~ Poisson(dA xhat)  (stream ``(seed, counter)``),

    ``b0`` = ``prior_rate``, ``dA = A1 - A0`` unless given (a solver whose ``A1`` was accumulated as
    ``A0 + dA`` passes its ``dA``, which ``A1 - A0`` need not round back to). This is
    ``GammaPoisson.absorb`` of ``GammaPoisson.evidence`` (the prior concentration does not enter:
    ``mu`` carries it). A negative or non-finite rate ``dA xhat`` gives NaN at its position.
    Bitwise equal across backends.
    """
    _check_state(mu, xhat)
    b0, A0, A1 = _scalars(mu, prior_rate, A0, A1)
    lam0, lam1 = b0 + A0, b0 + A1
    dA = A1 - A0 if dA is None else _scalars(mu, dA)[0]
    chosen = resolve_backend(backend, mu.device)
    if chosen == "triton":
        from . import triton_steps
        return triton_steps.tau_leap_step(mu, xhat, torch.stack([lam0, lam1, dA]), seed, counter).reshape(mu.shape)
    if chosen == "native":
        return native.fused_step("tau_leap", mu, xhat, [lam0, lam1, dA], seed, counter)
    return (lam0 * mu + random.poisson(dA * xhat, seed, counter, validate=False)) / lam1


def categorical_tau_leap_step(mu: torch.Tensor, xhat: torch.Tensor, A: torch.Tensor, dA: Scalar,
                              prior_strength: Scalar, seed: int, counter: int, backend: str = "auto"
                              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Dirichlet-Categorical tau-leap step over the exposure ``dA`` with the prediction ``xhat`` frozen,
    per position (the last axis holds its K classes):

        c ~ Poisson(dA xhat)  (stream ``(seed, counter)``),   A' = A + sum_k c_k,
        mu' = ((s0 + A) mu + c) / (s0 + A'),

    ``s0`` = ``prior_strength`` (the Dirichlet's total concentration, one value), ``A`` the events
    per position, shaped ``mu.shape[:-1] + (1,)`` in mu's dtype and device. This is
    ``DirichletCategorical.absorb`` of its evidence; returns ``(mu', A')``. A negative or non-finite
    rate gives NaN at its class and at its position's ``A'``. Bitwise equal across backends (the
    class sums are of integers, exact in float32 below 2^24 events per position).
    """
    _check_state(mu, xhat)
    if not torch.is_tensor(A) or (A.shape, A.dtype, A.device) != (mu.shape[:-1] + (1,), mu.dtype, mu.device):
        raise ValueError(f"A must be a tensor of shape mu.shape[:-1] + (1,) = {tuple(mu.shape[:-1]) + (1,)} in mu's "
                         f"dtype and device, got {tuple(A.shape) if torch.is_tensor(A) else type(A).__name__}")
    s0, dA = _scalars(mu, prior_strength, dA)
    chosen = resolve_backend(backend, mu.device)
    if chosen == "triton":
        from . import triton_steps
        return triton_steps.categorical_tau_leap_step(mu, xhat, A, torch.stack([s0, dA]), seed, counter)
    if chosen == "native":
        return native.categorical_tau_leap_step(mu, xhat, A, [s0, dA], seed, counter)
    counts = random.poisson(dA * xhat, seed, counter, validate=False)
    A_next = A + counts.sum(-1, keepdim=True)
    return ((s0 + A) * mu + counts) / (s0 + A_next), A_next


def pmm_chain_step(mu: torch.Tensor, xhat: torch.Tensor, A0: Scalar, A1: Scalar, precision: Scalar, seed: int,
                   counter: int, backend: str = "auto") -> torch.Tensor:
    """Normal-Normal PMM-chain step (``NormalNormalSDE.frozen_step``) over ``[A0, A1]``, ``A1 >= A0``:

        mu' = ((l0 + A0) mu + ((A1 - A0) xhat + sqrt(A1 - A0) z)) / (l0 + A1),   z ~ N(0, 1),

    ``l0`` = ``precision``, ``z = pmm_sde.streams.reference.normal(mu.shape, seed, counter)``. Backends agree
    bitwise for equal ``z`` (see the module docstring for ``z``).
    """
    _check_state(mu, xhat)
    l0, A0, A1 = _scalars(mu, precision, A0, A1)
    lam0, lam1, dA = l0 + A0, l0 + A1, A1 - A0
    sqrt_dA = torch.sqrt(dA)
    chosen = resolve_backend(backend, mu.device)
    if chosen == "triton":
        from . import triton_steps
        coef = torch.stack([lam0, lam1, dA, sqrt_dA])
        return triton_steps.pmm_chain_step(mu, xhat, coef, seed, counter).reshape(mu.shape)
    if chosen == "native":
        return native.fused_step("pmm_chain", mu, xhat, [lam0, lam1, dA, sqrt_dA], seed, counter)
    z = random.normal(tuple(mu.shape), seed, counter, dtype=mu.dtype, device=mu.device)
    return (lam0 * mu + (dA * xhat + sqrt_dA * z)) / lam1


def euler_maruyama_step(mu: torch.Tensor, xhat: torch.Tensor, h: Scalar, alpha0: Scalar, lambda0: Scalar,
                        seed: int, counter: int, backend: str = "auto") -> torch.Tensor:
    """Euler-Maruyama step of the Normal-Normal SDE (``solvers.EulerMaruyama``), ``alpha0 h >= 0``:

        mu' = mu + (alpha0 / lambda0) (xhat - mu) h + (sqrt(alpha0 h) / lambda0) z,   z ~ N(0, 1),

    ``z = pmm_sde.streams.reference.normal(mu.shape, seed, counter)``. Backends agree bitwise for equal ``z``.
    """
    _check_state(mu, xhat)
    h, alpha0, lambda0 = _scalars(mu, h, alpha0, lambda0)
    drift, diffusion = alpha0 / lambda0, torch.sqrt(alpha0 * h) / lambda0
    chosen = resolve_backend(backend, mu.device)
    if chosen == "triton":
        from . import triton_steps
        coef = torch.stack([drift, h, diffusion])
        return triton_steps.euler_maruyama_step(mu, xhat, coef, seed, counter).reshape(mu.shape)
    if chosen == "native":
        return native.fused_step("euler_maruyama", mu, xhat, [drift, h, diffusion], seed, counter)
    z = random.normal(tuple(mu.shape), seed, counter, dtype=mu.dtype, device=mu.device)
    return mu + drift * (xhat - mu) * h + diffusion * z


# ---------------------------------------------------------------- whole trajectories
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


def _oracle_trajectory(n: int, grid: torch.Tensor, family: ConjugateFamily, predictor: Predictor,
                       step: Callable[..., torch.Tensor], seed: int) -> torch.Tensor:
    """The torch reference: from the prior mean, for ``k = 0..K-1``, ``xhat = predictor(mu, A_k)`` and
    ``mu <- step(mu, xhat, A_k, A_{k+1}, prior strength, seed, k * COUNTERS_PER_STEP)``."""
    family = family.cast(grid)
    mu, _ = family.initial_state(n, ())
    for k in range(grid.numel() - 1):
        xhat = predictor(mu, grid[k])
        mu = step(mu, xhat, grid[k], grid[k + 1], family.prior_strength, seed, k * COUNTERS_PER_STEP,
                  backend="torch")
    return mu


def gamma_oracle_tau_leap(n: int, A_grid: torch.Tensor, a0: Scalar, b0: Scalar, a_star: Scalar, b_star: Scalar,
                          seed: int, backend: str = "auto", dtype: torch.dtype = torch.float64,
                          device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Gamma-Poisson tau-leap chains driven by the Gamma oracle.

    Prior ``Gamma(a0, b0)``, target ``Gamma(a*, b*)`` (all > 0), cumulative information ``A_grid =
    (A_0, .., A_K)`` (1-D, non-decreasing, >= 0, cast to ``dtype``). From ``mu = a0 / b0``, step
    ``k = 0..K-1`` (counter ``k * COUNTERS_PER_STEP``, as ``pmm_sde.run_chain``) is

        N = (b0 + A_k) mu - a0,   xhat = (a* + N) / (b* + A_k),   mu <- tau_leap_step(mu, xhat, A_k, A_{k+1}).

    The Triton kernel keeps ``mu`` in registers for all K steps and writes it once; the torch
    reference loops over ``tau_leap_step`` with the ``Gamma`` target's oracle. Returns a tensor of
    shape ``(n,)``, bitwise equal across backends. The count is ``N_T = (b0 + A_K) mu - a0``.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = _gamma_prior(a0, b0)
    target = Gamma(_float64(a_star, "a_star", positive=True), _float64(b_star, "b_star", positive=True))
    _scalar_target(target, "a_star and b_star must be scalars")
    if resolve_backend(backend, grid.device) == "triton":
        from . import triton_steps
        prior = family.cast(grid)
        coef = torch.stack([prior.concentration, prior.rate, target.concentration.to(grid), target.rate.to(grid),
                            prior.prior_mean])
        return triton_steps.gamma_oracle_tau_leap(n, grid, coef, seed)
    return _oracle_trajectory(n, grid, family, target.predictor(family), tau_leap_step, seed)


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
    element's events in place. Bitwise equal across backends but for the last bit of a float64
    ``log`` or ``exp`` landing a comparison on the other side of a ``W_J`` or of a count's threshold.
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
        from . import triton_steps
        return triton_steps.gamma_oracle_tau_leap_events(n, W, w, a_star.to(W).reshape(1), terminal, seed)
    if chosen == "native":
        return native.gamma_oracle_tau_leap_events(n, W, w, float(a_star), terminal, seed)
    steps = w.numel()
    counts = torch.zeros(n, dtype=torch.float64, device=grid.device)
    positions = torch.arange(n, device=grid.device)
    k = torch.zeros(n, dtype=torch.int64, device=grid.device)
    event = 0
    while positions.numel() > 0:
        w0, w1, _, _ = random.philox4x32(seed, positions & 0xFFFFFFFF, positions >> 32, event, 0)
        scale = a_star.to(W) + counts[positions]
        target = W[k] - torch.log(random.to_unit_interval(w0, torch.float64)) / scale
        J = torch.searchsorted(W, target, right=True)
        going = J <= steps
        positions, J, scale, w1 = positions[going], J[going], scale[going], w1[going]
        c = random.zero_truncated_poisson(scale * w[J - 1], random.to_unit_interval(w1, torch.float64), seed, event,
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
        xhat = sum_j softmax(l)_j (a_j + N) / (b_j + A_k),   mu <- tau_leap_step(mu, xhat, A_k, A_{k+1}),

    the posterior mean under the mixture (component posteriors ``Gamma(a_j + N, b_j + A_k)``, weights
    from the negative binomial evidence). The torch reference calls the ``GammaMixture`` oracle;
    the Triton kernel evaluates it in registers (log-sum-exp with the maximum subtracted, as
    ``torch.softmax``). Returns shape ``(n,)``; see the module docstring for the agreement of the
    backends. The count is ``N_T = (b0 + A_K) mu - a0``, whose exact law under the target is
    ``pmm_sde.count_laws.target_count_law``.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = _gamma_prior(a0, b0)
    target = _scalar_target(GammaMixture(_float64(weights, "weights"), _float64(concentrations, "concentrations"),
                                         _float64(rates, "rates")),
                            "concentrations and rates must be 1-D (one value per component)")
    if resolve_backend(backend, grid.device) == "triton":
        from . import triton_steps
        prior = family.cast(grid)
        w, a, b = (p.to(grid) for p in (target.weights, target.concentrations, target.rates))
        components = torch.stack([a, b, torch.log(w), torch.lgamma(a), a * torch.log(b)])
        log_rates = torch.log(b + grid[:-1, None])
        coef = torch.stack([prior.concentration, prior.rate, prior.prior_mean])
        return triton_steps.gamma_mixture_oracle_tau_leap(n, grid, log_rates, components, coef, seed)
    return _oracle_trajectory(n, grid, family, target.predictor(family), tau_leap_step, seed)


def point_masses_oracle_tau_leap(n: int, A_grid: torch.Tensor, a0: Scalar, b0: Scalar, weights, values, seed: int,
                                 backend: str = "auto", dtype: torch.dtype = torch.float64,
                                 device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Gamma-Poisson tau-leap chains driven by the exact oracle of
    the point masses ``P(x = v_j) = w_j`` (``pmm_sde.targets.PointMasses``).

    Prior ``Gamma(a0, b0)`` (``a0, b0 > 0``); ``weights`` (K,) non-negative summing to 1, ``values``
    (K,) >= 0; ``A_grid`` as in ``gamma_oracle_tau_leap``. From ``mu = a0 / b0``, step ``k`` (counter
    ``k * COUNTERS_PER_STEP``) is, with ``N = round((b0 + A_k) mu - a0)``,

        l_j = log w_j + xlogy(N, v_j) - A_k v_j,   xhat = sum_j softmax(l)_j v_j,
        mu <- tau_leap_step(mu, xhat, A_k, A_{k+1}),

    the posterior mean given ``N ~ Poisson(A_k x)``. The torch reference calls the ``PointMasses``
    oracle; the Triton kernel evaluates it in registers. Returns shape ``(n,)``; see the module
    docstring for the agreement of the backends. ``N_T = (b0 + A_K) mu - a0`` follows
    ``sum_j w_j Poisson(A_K v_j)`` in the limit of fine grids.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = _gamma_prior(a0, b0)
    target = _scalar_target(PointMasses(_float64(weights, "weights"), _float64(values, "values")),
                            "values must be 1-D (one value per point)")
    predictor = target.predictor(family)  # checks values >= 0
    if resolve_backend(backend, grid.device) == "triton":
        from . import triton_steps
        prior = family.cast(grid)
        w, v = target.weights.to(grid), target.values.to(grid)
        components = torch.stack([v, torch.log(w), torch.log(v)])
        coef = torch.stack([prior.concentration, prior.rate, prior.prior_mean])
        return triton_steps.point_masses_oracle_tau_leap(n, grid, components, coef, seed)
    return _oracle_trajectory(n, grid, family, predictor, tau_leap_step, seed)


def gaussian_oracle_pmm_chain(n: int, A_grid: torch.Tensor, m0: Scalar, l0: Scalar, mean: Scalar, std: Scalar,
                              seed: int, backend: str = "auto", dtype: torch.dtype = torch.float64,
                              device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Normal-Normal PMM chains driven by the Gaussian oracle.

    Prior ``N(m0, 1/l0)`` (``l0 > 0``), target ``N(m, s^2)`` (``mean``, ``std > 0``; ``s^2`` is
    computed in float64, as by a float64 ``pmm_sde.targets.Gaussian``, then cast), ``A_grid`` as in
    ``gamma_oracle_tau_leap``. From ``mu = m0``, step ``k`` (counter ``k * COUNTERS_PER_STEP``) is,
    with ``S = (l0 + A_k) mu - l0 m0``,

        xhat = (m + s^2 S) / (1 + A_k s^2),   mu <- pmm_chain_step(mu, xhat, A_k, A_{k+1}),

    i.e. ``xhat`` is affine in ``mu`` and the chain is Gaussian (``sample(..., "pmm_chain")`` on the
    same grid of A). The torch reference calls the ``Gaussian`` oracle; the Triton kernel keeps
    ``mu`` in registers. Returns shape ``(n,)``; the backends agree as ``pmm_chain_step`` does.
    """
    grid = _trajectory_grid(n, A_grid, dtype, device)
    family = NormalNormal(_float64(m0, "m0"), _float64(l0, "l0", positive=True))
    target = _scalar_target(Gaussian(_float64(mean, "mean"), _float64(std, "std", positive=True)),
                            "mean and std must be scalars")
    if resolve_backend(backend, grid.device) == "triton":
        from . import triton_steps
        prior = family.cast(grid)
        variance = (target.std ** 2).to(grid)
        A0, A1 = grid[:-1], grid[1:]
        dA = A1 - A0
        table = torch.stack([prior.precision + A0, prior.precision + A1, dA, torch.sqrt(dA), 1.0 + A0 * variance], 1)
        coef = torch.stack([prior.prior_statistic, target.mean.to(grid), variance, prior.prior_mean])
        return triton_steps.gaussian_oracle_pmm_chain(n, table, coef, seed)
    return _oracle_trajectory(n, grid, family, target.predictor(family), pmm_chain_step, seed)
