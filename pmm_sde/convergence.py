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

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

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
                dtype: torch.dtype = torch.float64, min_z: float = 5.0, progress=None) -> dict[str, OrderFit]:
    """Measured weak order of ``solver`` on ``process`` for each functional in ``FUNCTIONALS``.

    ``steps`` should refine (doubling step counts refine the named grids). ``progress``: a tqdm
    bar advanced once per run.
    """
    solver = get_solver(solver, process)
    bm = None
    if solver.strong_order is not None and solver.process_type.__name__ == "NormalNormalSDE":
        import torchsde

        d = int(np.prod(process.family.state_shape(process.shape))) if process.shape else 1
        bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(n, d), dtype=dtype, entropy=seed, cache_size=None,
                                       levy_area_approximation="space-time")
    runs = []
    for N in steps:
        runs.append(sample(process, solver, steps=N, n=n, seed=seed, grid=grid, bm=bm, dtype=dtype).mu)
        if progress is not None:
            progress.update(1)
    centre = runs[-1].reshape(n, -1).double().mean(0)
    values = [_per_sample(mu, centre) for mu in runs]
    diffs = [values[i] - values[i + 1] for i in range(len(steps) - 1)]
    D = torch.stack([d.mean(0) for d in diffs])
    se = torch.stack([d.std(0) / n ** 0.5 for d in diffs])
    return {name: fit_order(steps[:-1], D[:, j].tolist(), se[:, j].tolist(), min_z, name)
            for j, name in enumerate(FUNCTIONALS)}


@dataclass
class ConvergenceStudy:
    """Weak-order fits of several solvers on one process: a table, JSON, CSV and a figure."""

    process: str
    declared: dict[str, float]
    fits: dict[str, dict[str, OrderFit]] = field(default_factory=dict)

    def measured(self, solver: str) -> float:
        """The median of the functionals' fitted slopes (NaN when none could be fitted)."""
        slopes = [f.slope for f in self.fits[solver].values() if not np.isnan(f.slope)]
        return float(np.median(slopes)) if slopes else float("nan")

    def table(self) -> dict[str, dict]:
        """``{solver: {"weak_order", "declared_weak_order", "functionals": {name: fit fields}}}``."""
        return {solver: {"weak_order": self.measured(solver), "declared_weak_order": self.declared[solver],
                         "functionals": {name: vars(fit) for name, fit in fits.items()}}
                for solver, fits in self.fits.items()}

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"process": self.process, "solvers": self.table()}, indent=2))

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["solver", "functional", "declared", "slope", "stderr"])
        for solver, fits in self.fits.items():
            for name, fit in fits.items():
                writer.writerow([solver, name, self.declared[solver], fit.slope, fit.stderr])
        return out.getvalue()

    def plot(self, path: str | Path) -> None:
        """Refinement differences |D_N| against N, one panel per functional, log-log."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(FUNCTIONALS), figsize=(4.2 * len(FUNCTIONALS), 3.6))
        for ax, name in zip(axes, FUNCTIONALS):
            for solver, fits in self.fits.items():
                fit = fits[name]
                ax.loglog(fit.steps, fit.differences, "o-",
                          label=f"{solver}: {fit.slope:.2f} (declared {self.declared[solver]:g})")
            ax.set_xlabel("steps N")
            ax.set_ylabel(f"|D_N| of {name}")
            ax.legend(fontsize=7)
        fig.suptitle(self.process, fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def convergence_study(process: PMMProcess, solvers: list[str], steps: list[int], n: int, seed: int = 0,
                      progress: bool = False, name: str | None = None) -> ConvergenceStudy:
    """Weak orders of each solver on ``process`` (see ``weak_orders``), with a progress bar."""
    resolved = [get_solver(s, process) for s in solvers]
    study = ConvergenceStudy(name or repr(process), {s.name: s.weak_order for s in resolved})
    with tqdm(total=len(resolved) * len(steps), desc="convergence", disable=not progress) as bar:
        for solver in resolved:
            study.fits[solver.name] = weak_orders(process, solver, steps, n, seed=seed, progress=bar)
    return study
