"""Weak orders measured by successive refinement with common random numbers.

For step counts ``N_0 < N_1 < ...`` (each grid refining the previous one) the weak error of a
functional ``E f(mu_T)`` behaves like ``C N^-p``, so the differences between successive
refinements ``D_i = E f(Y_{N_i}) - E f(Y_{N_{i+1}})`` behave like ``C (1 - r^-p) N_i^-p``: the
log-log slope of ``|D_i|`` against ``N_i`` estimates ``p`` without an exact reference. Runs share
their randomness (one Brownian path for solvers with a strong order, the same seed otherwise), so
``D_i`` has a far smaller Monte Carlo error than either expectation; each ``D_i`` comes with its
standard error, and points below ``min_z`` standard errors are left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .driver import sample
from .processes import PMMProcess
from .solvers import get_solver

FUNCTIONALS = ("mean", "variance", "cos")


def _per_sample(mu: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Per-sample values of the functionals, averaged over coordinates: ``(n, 3)``."""
    flat = mu.reshape(mu.shape[0], -1).double()
    return torch.stack([flat, (flat - centre) ** 2, torch.cos(flat)], -1).mean(1)


@dataclass
class OrderFit:
    """Fitted order of one functional: ``slope`` with its least-squares standard error."""

    functional: str
    slope: float
    stderr: float
    steps: list[int]
    differences: list[float]
    standard_errors: list[float]
    used: list[bool]


def fit_order(steps, differences, standard_errors, min_z: float = 5.0, functional: str = "") -> OrderFit:
    """Least-squares slope of ``-log|D|`` on ``log N`` over points with ``|D| > min_z * SE``."""
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
    return OrderFit(functional, slope, stderr, steps.astype(int).tolist(), D.tolist(), se.tolist(), used.tolist())


def weak_orders(process: PMMProcess, solver, steps: list[int], n: int, seed: int = 0, grid: str | None = None,
                dtype: torch.dtype = torch.float64, min_z: float = 5.0) -> dict[str, OrderFit]:
    """Measured weak order of ``solver`` on ``process`` for each functional in ``FUNCTIONALS``.

    ``steps`` must refine (each grid a subset of the next: doubling on the named grids).
    """
    solver = get_solver(solver, process)
    bm = None
    if solver.strong_order is not None and solver.process_type.__name__ == "NormalNormalSDE":
        import torchsde

        d = int(np.prod(process.family.state_shape(process.shape))) if process.shape else 1
        bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(n, d), dtype=dtype, entropy=seed, cache_size=None,
                                       levy_area_approximation="space-time")
    runs = [sample(process, solver, steps=N, n=n, seed=seed, grid=grid, bm=bm, dtype=dtype).mu for N in steps]
    centre = runs[-1].reshape(n, -1).double().mean(0)
    values = [_per_sample(mu, centre) for mu in runs]
    diffs = [values[i] - values[i + 1] for i in range(len(steps) - 1)]
    D = torch.stack([d.mean(0) for d in diffs])
    se = torch.stack([d.std(0) / n ** 0.5 for d in diffs])
    return {name: fit_order(steps[:-1], D[:, j].tolist(), se[:, j].tolist(), min_z, name)
            for j, name in enumerate(FUNCTIONALS)}
