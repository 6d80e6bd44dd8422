"""Step grids ``0 = t_0 < t_1 < ... < t_N = 1`` for a schedule.

- ``log``: a first step from 0 to ``A_min``, then uniform in ``log A`` (log-SNR), DPM-Solver++'s
  choice; its log-SNR step ``log(N A(1) / 2) / (2N)`` shrinks only like ``log N / N``. ``A_min`` defaults to
  ``min(2 / N, A(1) / 4)``, so the first (stochastic) step shrinks as the grid refines; it is in
  units of the data's precision (suited to data of unit scale).
- ``uniform``: uniform in t.
- ``log1p``: uniform in ``log(1 + A)`` (geometric growth of information; the default).
- ``log1p_sqrt``: uniform in ``log(1 + sqrt(A))``: steps uniform in ``u = sqrt(A)`` near A = 0 and
  geometric later; the default of the probability-flow solvers, whose ODE reads ``dy/du = xhat``
  (on ``log1p`` their first steps are ``O(N^-1/2)`` long in u, which costs half an order); ``ode_2m``
  extrapolates in ``log(1 + sqrt(A))``, the variable this grid is uniform in.
- ``edm``: Karras et al.'s rho-spacing in ``sigma = A^(-1/2)`` from ``sigma_max`` down to
  ``sigma_min = A(1)^(-1/2)``, preceded by the step from A = 0 (sigma = infinity) to ``sigma_max``.
- ``uniform_A``: uniform in A; shown for comparison only: its first step already carries a 1/N
  share of the total information, which for large totals collapses the chain in one step.

Measured with the exact variance recursion of the plug-in chain (Gaussian target N(1.5, 0.5^2),
prior N(0, 1), A(1) = 1e4, oracle predictor; ``tests/test_grids.py``), relative error of Var(mu_1)
at N = 10, 40, 160, 640 steps:

    log1p      -0.428  -0.133  -0.035  -0.0089
    edm        -0.622  -0.238  -0.068  -0.0174
    uniform_A  -0.994  -0.975  -0.904  -0.696

(``uniform`` in t equals ``log1p`` under ``Exponential`` and ``uniform_A`` under ``Linear``.)
The log1p grid halves the error when N doubles (weak order 1) and is the default.
"""

from __future__ import annotations

import torch

from ._validation import as_float_tensor, positive_float, positive_int
from .streams import MAX_STEPS
from .schedules import Schedule

GRIDS = ("log1p", "log1p_sqrt", "log", "uniform", "edm", "uniform_A")
DEFAULT_GRID = "log1p"


def make_grid(schedule: Schedule, steps: int, kind: str = DEFAULT_GRID, *, rho: float = 7.0,
              sigma_max: float = 80.0, A_min: float | None = None) -> torch.Tensor:
    """Times ``t_0 = 0 < ... < t_N = 1`` (float64) of the named grid for ``schedule``; ``steps``
    an int in ``[1, MAX_STEPS]`` (the most steps a run can count), ``kind`` one of ``GRIDS``."""
    if not isinstance(schedule, Schedule):
        raise ValueError(f"schedule must be a Schedule, got {type(schedule).__name__}")
    steps = positive_int(steps, "steps", maximum=MAX_STEPS)
    if kind not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS} or a tensor of times, got {kind!r}")
    total = schedule.total
    k = torch.arange(steps + 1, dtype=torch.float64)
    if kind == "uniform":
        return k / steps
    if kind == "log1p":
        A = torch.expm1(k / steps * torch.log1p(torch.tensor(total, dtype=torch.float64)))
    elif kind == "log1p_sqrt":
        A = torch.expm1(k / steps * torch.log1p(torch.tensor(total, dtype=torch.float64).sqrt())) ** 2
    elif kind == "log":
        A_min = min(2.0 / steps, total / 4) if A_min is None else positive_float(A_min, "A_min")
        if not A_min < total:
            raise ValueError(f"A_min must lie in (0, A(1) = {total:g}), got {A_min!r}")
        if steps == 1:
            A = torch.tensor([0.0, total], dtype=torch.float64)
        else:
            j = torch.arange(steps, dtype=torch.float64) / (steps - 1)
            A = torch.cat([torch.zeros(1, dtype=torch.float64), A_min * (total / A_min) ** j])
    elif kind == "uniform_A":
        A = total * k / steps
    elif kind == "edm":
        rho, sigma_max = positive_float(rho, "rho"), positive_float(sigma_max, "sigma_max")
        sigma_min = total ** -0.5
        if not sigma_max > sigma_min:
            raise ValueError(f"sigma_max must exceed sigma_min = A(1)^(-1/2) = {sigma_min:g}")
        if steps == 1:
            A = torch.tensor([0.0, total], dtype=torch.float64)
        else:
            j = torch.arange(steps, dtype=torch.float64) / (steps - 1)
            sigma = (sigma_max ** (1 / rho) + j * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
            A = torch.cat([torch.zeros(1, dtype=torch.float64), sigma ** -2.0])
    t = schedule.inverse(A).to(torch.float64)
    t[0], t[-1] = 0.0, 1.0
    return validate_times(t, "grid")


def validate_times(times, name: str = "grid", minimum: int = 2) -> torch.Tensor:
    """A strictly increasing 1-D tensor of at least ``minimum`` times in [0, 1] (float64)."""
    times = as_float_tensor(times, name, torch.float64)
    if times.dim() != 1 or times.numel() < minimum:
        raise ValueError(f"{name} must be a 1-D tensor of at least {minimum} time{'s' * (minimum > 1)}, "
                         f"got shape {tuple(times.shape)}")
    if not bool((times[1:] > times[:-1]).all()):
        raise ValueError(f"{name} must be strictly increasing")
    if float(times[0]) < 0.0 or float(times[-1]) > 1.0:
        raise ValueError(f"{name} must lie in [0, 1]")
    return times


def information_steps(schedule: Schedule, times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A(t_k), alpha_k = A(t_k) - A(t_{k-1}))`` on the grid; rejects a decreasing schedule."""
    A = schedule.A(times.to(torch.float64))
    alphas = A[1:] - A[:-1]
    if not bool(torch.isfinite(A).all()) or not bool((alphas >= 0).all()):
        raise ValueError(f"schedule {schedule!r} must be finite and non-decreasing on the grid")
    return A, alphas
