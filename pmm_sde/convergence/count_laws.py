"""Exact laws of the count ``N_T`` of a one-dimensional Gamma-Poisson process, for weak errors
without Monte Carlo noise.

The state of a one-dimensional Gamma-Poisson process at a grid time is its count ``N`` (``mu =
(a0 + N) / (b0 + A)``), so the law of ``N_T`` under a tau-leaping scheme is a pmf propagated
through each step's transition matrix on a truncated support ``{0, .., S - 1}``:

    tau_leap:    K[n, m] = Poisson(m - n; dA xhat(n, A0)),
    tau_leap_2:  K[n, m] = sum_j Poisson(j - n; dA/2 xhat(n, A0))
                                 Poisson(m - j; dA/2 max(2 xhat(j, A0 + dA/2) - xhat(n, A0), 0)),

    nb_leap:     K[n, m] = NegativeBinomial(m - n; xhat(n, A0) / d_n, 1 / (1 + dA d_n)),
                 d_n = max(xhat(n + 1, A0) - xhat(n, A0), 0)   (Poisson(m - n; dA xhat(n, A0)) where d_n = 0),

the step equations of ``TauLeap``, ``TauLeap2`` and ``NegativeBinomialLeap``, with ``xhat(n, A)`` the
predictor at the state of count ``n`` (evaluated on ``{0, .., S}``). The target's own law: for a Gamma mixture ``sum_m w_m Gamma(a_m, b_m)``,
``N_T ~ sum_m w_m NegativeBinomial(a_m, b_m / (b_m + A_T))`` (pmm-notes fact 12 per component);
for point masses ``sum_m w_m delta(v_m)``, ``N_T ~ sum_m w_m Poisson(A_T v_m)``.
A law that leaves more than ``TAIL_TOLERANCE`` of its mass beyond the support raises.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from .._validation import as_float_tensor, positive_int
from ..grids import make_grid, validate_times
from ..processes import GammaPoissonCoxSDE
from ..solvers import REGISTRY
from ..targets import Gamma, GammaMixture, PointMasses

#: The most probability mass a truncated law may lose beyond its support.
TAIL_TOLERANCE = 1e-9


def poisson_kernel(rates: np.ndarray, support: int) -> np.ndarray:
    """``K[..., n, m] = Poisson(m - n; rates[..., n])`` for ``n, m < support``."""
    jumps = np.arange(1, support)
    pmf = np.exp(-rates)[..., None] * np.concatenate(
        [np.ones(rates.shape + (1,)), np.cumprod(rates[..., None] / jumps, axis=-1)], axis=-1)
    offset = np.arange(support)[None, :] - np.arange(support)[:, None]
    kernel = np.take_along_axis(pmf, np.broadcast_to(np.maximum(offset, 0), pmf.shape), axis=-1)
    return np.where(offset >= 0, kernel, 0.0)


def _checked(law: np.ndarray, what: str) -> np.ndarray:
    lost = 1.0 - law.sum()
    if lost > TAIL_TOLERANCE:
        raise ValueError(f"{what} loses {lost:.2e} of its mass beyond the support of {law.size} counts; "
                         f"raise support")
    return law


def target_count_law(target: Gamma | GammaMixture | PointMasses, A: float, support: int) -> np.ndarray:
    """pmf of ``N(A)`` on ``{0, .., support - 1}`` for a scalar Gamma, Gamma-mixture or point-mass target;
    ``A`` a finite number >= 0, ``support`` an int >= 1."""
    information = as_float_tensor(A, "A", torch.float64)
    if information.numel() != 1 or not float(information) >= 0:
        raise ValueError(f"A must be a finite number >= 0, got {A!r}")
    A = float(information)
    k = np.arange(positive_int(support, "support"))
    if isinstance(target, (Gamma, GammaMixture)):
        mixture = isinstance(target, GammaMixture)
        weights = target.weights.tolist() if mixture else [1.0]
        a = (target.concentrations if mixture else target.concentration).reshape(-1).tolist()
        b = (target.rates if mixture else target.rate).reshape(-1).tolist()
        components = [stats.nbinom(ai, bi / (bi + A)) for ai, bi in zip(a, b)]
    elif isinstance(target, PointMasses):
        weights, components = target.weights.tolist(), [stats.poisson(A * v) for v in target.values.reshape(-1).tolist()]
    else:
        raise ValueError(f"target must be a scalar Gamma, GammaMixture or PointMasses, got {type(target).__name__}")
    if len(components) != len(weights):
        raise ValueError("target must be one-dimensional (scalar components)")
    return _checked(sum(w * c.pmf(k) for w, c in zip(weights, components)), "the target's count law")


def _tau_leap(xhat, A0: float, A1: float, support: int) -> np.ndarray:
    return poisson_kernel((A1 - A0) * xhat(A0)[:support], support)


def _tau_leap_2(xhat, A0: float, A1: float, support: int) -> np.ndarray:
    half = 0.5 * (A1 - A0)
    x0 = xhat(A0)[:support]
    second = half * np.maximum(2.0 * xhat(A0 + half)[None, :support] - x0[:, None], 0.0)
    return np.einsum("nj,njm->nm", poisson_kernel(half * x0, support), poisson_kernel(second, support))


def _nb_leap(xhat, A0: float, A1: float, support: int) -> np.ndarray:
    x = xhat(A0)
    x0, slope = x[:support], np.maximum(np.diff(x), 0.0)
    spread = slope > 0
    safe = np.where(spread, slope, 1.0)
    offset = np.arange(support)[None, :] - np.arange(support)[:, None]
    negative_binomial = stats.nbinom.pmf(np.maximum(offset, 0), (x0 / safe)[:, None], (1.0 / (1.0 + (A1 - A0) * safe))[:, None])
    return np.where(spread[:, None], np.where(offset >= 0, negative_binomial, 0.0), poisson_kernel((A1 - A0) * x0, support))


SCHEME_KERNELS = {"tau_leap": _tau_leap, "tau_leap_2": _tau_leap_2, "nb_leap": _nb_leap}


def scheme_count_law(process: GammaPoissonCoxSDE, solver: str, steps: int, support: int,
                     grid: str | torch.Tensor | None = None) -> np.ndarray:
    """pmf of ``N_T`` under ``solver`` (``"tau_leap"``, ``"tau_leap_2"`` or ``"nb_leap"``) with ``steps``
    steps on ``grid`` (default: the solver's default grid; or a tensor of times), for a one-dimensional
    Gamma-Poisson ``process``."""
    if not isinstance(solver, str) or solver not in SCHEME_KERNELS:
        raise ValueError(f"solver must be one of {sorted(SCHEME_KERNELS)}, got {solver!r}")
    support = positive_int(support, "support")
    if not isinstance(process, GammaPoissonCoxSDE) or process.counts_information:
        raise ValueError("process must be a Gamma-Poisson process")
    if process.shape not in ((), (1,)):
        raise ValueError(f"process must be one-dimensional, got shape {process.shape}")
    N = torch.arange(support + 1, dtype=torch.float64)
    family = process.family.cast(N)

    def xhat(A: float) -> np.ndarray:
        A = torch.tensor(A, dtype=torch.float64)
        mu = family.posterior_mean(N.reshape(-1, *process.shape), A)
        return process.predictor(mu, A).reshape(-1).double().numpy()

    if isinstance(grid, torch.Tensor):
        times = validate_times(grid)
        if len(times) != steps + 1:
            raise ValueError(f"steps must be the grid's {len(times) - 1} intervals, got {steps}")
    else:
        times = make_grid(process.schedule, steps, grid or REGISTRY[solver].default_grid)
    A = process.schedule.A(times).double().numpy()
    law = np.eye(support)[0]
    for A0, A1 in zip(A[:-1], A[1:]):
        law = law @ SCHEME_KERNELS[solver](xhat, float(A0), float(A1), support)
    return _checked(law, f"the count law of {solver} at {steps} steps")
