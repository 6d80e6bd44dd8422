"""Orders fitted to errors at refining step counts.

For step counts ``N_0 < N_1 < ...`` (each grid refining the previous one) the weak error of a
functional ``E f(mu_T)`` behaves like ``C N^-p``, so the differences between successive
refinements ``D_i = E f(Y_{N_i}) - E f(Y_{N_{i+1}})`` behave like ``C (1 - r^-p) N_i^-p``: the
log-log slope of ``|D_i|`` against ``N_i`` estimates ``p`` without an exact reference. Each ``D_i``
comes with its standard error (0 for errors computed without Monte Carlo), and points below
``min_z`` standard errors are left out of the fit. How the differences are measured is
``pmm_sde.convergence.studies`` (Monte Carlo) and ``pmm_sde.convergence.quadrature``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .. import _validation
from ..streams import MAX_STEPS

#: The functionals ``f`` of the terminal state whose weak errors are fitted: ``E mu``, the variance, ``E cos mu``.
FUNCTIONALS = ("mean", "variance", "cos")


def study_steps(steps, minimum: int = 3) -> list[int]:
    """The step counts of a study: at least ``minimum`` ints in ``[1, MAX_STEPS]``, strictly
    increasing (an order is a slope through at least two errors, hence three refinements)."""
    if isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__"):
        raise ValueError(f"steps must be a list of step counts, got {steps!r}")
    steps = [_validation.positive_int(N, "each entry of steps", maximum=MAX_STEPS) for N in steps]
    if len(steps) < minimum:
        raise ValueError(f"steps must hold at least {minimum} step counts to fit an order, got {steps}")
    if any(fine <= coarse for coarse, fine in zip(steps, steps[1:])):
        raise ValueError(f"steps must be strictly increasing, got {steps}")
    return steps


@dataclass
class OrderFit:
    """Fitted order of one functional: ``slope`` with its least-squares standard error and the 95%
    confidence interval ``slope -+ t_{0.975, m-2} stderr`` over the ``m`` points used (NaN with
    fewer than three)."""

    functional: str
    slope: float
    stderr: float
    steps: list[int]
    differences: list[float]
    standard_errors: list[float]
    used: list[bool]
    interval: tuple[float, float] = (float("nan"), float("nan"))


def fit_order(steps, differences, standard_errors, min_z: float = 5.0, functional: str = "") -> OrderFit:
    """Least-squares slope of ``-log|D|`` on ``log N`` over points with ``|D| > min_z * SE``."""
    if not len(steps) == len(differences) == len(standard_errors):
        raise ValueError(f"steps, differences and standard_errors must have the same length, got "
                         f"{len(steps)}, {len(differences)} and {len(standard_errors)}")
    steps = np.asarray(steps, dtype=float)
    D = np.abs(np.asarray(differences, dtype=float))
    se = np.asarray(standard_errors, dtype=float)
    used = D > min_z * se
    slope, stderr = float("nan"), float("nan")
    if used.sum() >= 2:
        x, y = np.log(steps[used]), np.log(D[used])
        coef, cov = np.polyfit(x, y, 1, cov=True) if used.sum() > 2 else (np.polyfit(x, y, 1), None)
        slope = -float(coef[0])
        stderr = float(np.sqrt(cov[0, 0])) if cov is not None else float("nan")
    half = float(stats.t.ppf(0.975, used.sum() - 2)) * stderr if used.sum() > 2 else float("nan")
    return OrderFit(functional, slope, stderr, steps.astype(int).tolist(), D.tolist(), se.tolist(), used.tolist(),
                    (slope - half, slope + half))
