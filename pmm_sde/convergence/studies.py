"""Weak and strong orders measured by successive refinement with common random numbers.

The differences of successive refinements ``D_i = E f(Y_{N_i}) - E f(Y_{N_{i+1}})`` are fitted by
``pmm_sde.convergence.orders`` (the log-log slope of ``|D_i|`` against ``N_i`` estimates the weak
order). Runs share their randomness (``common_noise``: one counter-based Brownian path for the
Brownian solvers with a strong order, one set of unit-rate Poisson paths for tau-leaping, the same
seed otherwise), so ``D_i`` has a far smaller Monte Carlo error than either expectation; each
``D_i`` comes with its standard error, and points below ``min_z`` standard errors are left out of
the fit. The per-sample differences are streamed (``refinement_statistics``): float64 sums per
block of global sample indices, folded in block order, so the figures do not depend on the chunk
size or on how many ranks share the blocks (``docs/howto/scale.md``).

Exact weak errors (``exact_weak_orders``): for a one-dimensional Gamma-Poisson process the laws of
``N_T`` under tau-leaping and under the target are computed exactly
(``pmm_sde.convergence.count_laws``), so the errors of the functionals carry no Monte Carlo noise;
this is how weak order 2 of ``tau_leap_2`` is resolved, which Monte Carlo would need millions of
samples per step count for.

Antithetic refinement (``coupling="antithetic"``, Brownian solvers reading ``bm`` on their grid's
steps only: the one-step solvers and ``sde_3m``; step counts that double): each difference ``D_i``
is estimated from its own coarse run and two fine runs whose Brownian paths differ only in the sign of the bridge values at the fine midpoints
(``pmm_sde.streams.couplings``); the odd part of the pathwise difference cancels, so the estimator's
variance falls like ``N^-3`` instead of ``N^-2`` and second-order solvers' differences stay above
their standard errors on finer grids.

Strong errors: with the same coupling, the pathwise differences ``S_i = E|Y_{N_i} - Y_{N_{i+1}}|``
(L1, averaged over coordinates) behave like ``C (1 + O(r^-q)) N_i^-q`` for a solver of strong
order ``q``, and are fitted the same way.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import _validation, distributed
from ..driver import sample
from ..grids import make_grid
from ..processes import NormalNormalSDE, PMMProcess
from ..solvers import TorchsdeSolver, get_grid_solver
from ..streams import AntitheticRefinement, CounterBrownian, PoissonPaths
from .count_laws import scheme_count_law
from .orders import FUNCTIONALS, OrderFit, fit_order, study_steps
from .quadrature import quadrature_weak_orders
from .streaming import DEFAULT_BLOCK, StreamingStatistics, block_statistics, check_blocks

#: How a study's weak errors were measured.
REFINEMENT = "differences of successive refinements, Monte Carlo with common noise"
EXACT_LAW = "errors of the scheme's exact law of N_T against the target's"
QUADRATURE = "differences of successive refinements, expectations by backward quadrature"
ANTITHETIC = "differences of successive refinements, Monte Carlo with an antithetic Brownian-bridge coupling"
#: Counter words reserved per refinement difference of the antithetic coupling (``counter_base = i << 24``).
ANTITHETIC_COUNTER_BITS = 24


def study_samples(n) -> int:
    """The Monte Carlo samples of a study: an int >= 2 (a standard error needs two)."""
    try:
        return _validation.positive_int(n, "n", minimum=2)
    except ValueError as error:
        raise ValueError(f"{error} (a standard error needs two samples)") from None


def _per_sample(flat: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """Per-sample values of the functionals of states ``(n, d)``, averaged over coordinates: ``(n, 3)``."""
    return torch.stack([flat, (flat - centre) ** 2, torch.cos(flat)], -1).mean(1)


def _coordinates(process: PMMProcess) -> int:
    return int(np.prod(process.family.state_shape(process.shape))) if process.shape else 1


def common_noise(process: PMMProcess, solver, n: int, seed: int, dtype: torch.dtype = torch.float64,
                 first_sample: int = 0, times: torch.Tensor | None = None) -> dict:
    """Keyword arguments of ``sample`` that make runs at different step counts share their noise:
    ``bm`` (a ``CounterBrownian`` of the samples ``first_sample .. first_sample + n - 1``, exact at
    ``times``) for Brownian solvers with a strong order, ``poisson_paths`` for solvers drawing Poisson
    counts, none otherwise (the seed is shared). Each sample's noise depends on ``(seed, its global
    index)`` only."""
    solver = get_grid_solver(solver, process)
    if solver.poisson_counts:
        return {"poisson_paths": PoissonPaths(seed)}
    if solver.strong_order is not None and isinstance(process, NormalNormalSDE):
        return {"bm": CounterBrownian(0.0, 1.0, (n, _coordinates(process)), seed, times=times, dtype=dtype,
                                      first_sample=first_sample)}
    return {}


def _study_times(process: PMMProcess, solver, steps: list[int], grid: str | None) -> torch.Tensor:
    """Every time of the study's grids, for the nodes of its Brownian motion."""
    return torch.unique(torch.cat([make_grid(process.schedule, N, grid or solver.default_grid) for N in steps]))


def _centre(process: PMMProcess, solver, steps: list[int], n: int, seed: int, grid: str | None, dtype: torch.dtype,
            block: int) -> torch.Tensor:
    """``c`` of the variance functional ``(mu - c)^2``: the mean of the first block's terminal states at the
    finest step count, the same for every chunk size and world size."""
    rows = min(n, block)
    noise = common_noise(process, solver, rows, seed, dtype, times=_study_times(process, solver, steps, grid))
    return sample(process, solver, steps=steps[-1], n=rows, seed=seed, grid=grid, dtype=dtype,
                  **noise).mu.reshape(rows, -1).double().mean(0)


def _difference_names(steps: list[int], strong: bool) -> tuple[str, ...]:
    names = [f"{name} {N}-{M}" for N, M in zip(steps, steps[1:]) for name in FUNCTIONALS]
    return tuple(names + ([f"L1 {N}-{M}" for N, M in zip(steps, steps[1:])] if strong else []))


def _coupled_differences(process: PMMProcess, solver, steps: list[int], seed: int, grid: str | None,
                         dtype: torch.dtype, centre: torch.Tensor, strong: bool):
    """``simulate(start, stop)`` of ``streaming.block_statistics``: per sample, the differences
    ``f(Y_N) - f(Y_M)`` of successive step counts ``N, M`` of the functionals, then (``strong``) the
    pathwise ``mean_d |Y_N - Y_M|``, from runs sharing ``common_noise``."""
    times = _study_times(process, solver, steps, grid)

    def simulate(start: int, stop: int) -> tuple[torch.Tensor, None]:
        rows = stop - start
        noise = common_noise(process, solver, rows, seed, dtype, first_sample=start, times=times)
        runs = [sample(process, solver, steps=N, n=rows, seed=seed, grid=grid, dtype=dtype, first_sample=start,
                       **noise).mu.reshape(rows, -1).double() for N in steps]
        values = [_per_sample(mu, centre) for mu in runs]
        columns = [values[i] - values[i + 1] for i in range(len(steps) - 1)]
        if strong:
            columns += [(runs[i] - runs[i + 1]).abs().mean(1, keepdim=True) for i in range(len(steps) - 1)]
        return torch.cat(columns, 1), None

    return simulate


def _law_functionals(values: np.ndarray, law: np.ndarray) -> np.ndarray:
    """``FUNCTIONALS`` of a law with pmf ``law`` on the points ``values``."""
    mean = (values * law).sum()
    return np.array([mean, ((values - mean) ** 2 * law).sum(), (np.cos(values) * law).sum()])


def exact_weak_orders(process: PMMProcess, solver: str, steps: list[int], exact_law: np.ndarray,
                      progress=None) -> dict[str, OrderFit]:
    """Weak orders from exact laws: errors of ``FUNCTIONALS`` of ``mu_T`` under the scheme's law of
    ``N_T`` (``count_laws.scheme_count_law``) against ``exact_law``, the pmf of ``N_T`` under the
    target on ``{0, .., len(exact_law) - 1}``; one-dimensional Gamma-Poisson processes only."""
    steps = study_steps(steps, minimum=2)
    support = len(exact_law)
    A_T = float(process.schedule.A(torch.tensor(1.0, dtype=torch.float64)))
    family = process.family.cast(torch.zeros((), dtype=torch.float64))
    values = family.posterior_mean(torch.arange(support, dtype=torch.float64), A_T).reshape(-1).numpy()
    exact = _law_functionals(values, exact_law)
    errors = []
    for N in steps:
        errors.append(_law_functionals(values, scheme_count_law(process, solver, N, support)) - exact)
        if progress is not None:
            progress.update(1)
    errors = np.array(errors)
    return {name: fit_order(steps, errors[:, j].tolist(), [0.0] * len(steps), functional=name)
            for j, name in enumerate(FUNCTIONALS)}


def _fits(statistics: StreamingStatistics, steps: list[int], min_z: float,
          functionals: tuple[str, ...]) -> dict[str, OrderFit]:
    """Order fits of the refinement differences' means and standard errors, per functional."""
    means, stderrs = statistics.means, statistics.stderrs
    pairs = [f"{N}-{M}" for N, M in zip(steps, steps[1:])]
    return {name: fit_order(steps[:-1], [means[f"{name} {p}"] for p in pairs],
                            [stderrs[f"{name} {p}"] for p in pairs], min_z, name) for name in functionals}


def _antithetic_applies(process: PMMProcess, solver) -> bool:
    """Whether ``solver`` takes its noise from ``bm`` on its grid's steps alone, as the antithetic paths
    give it: a Brownian solver with a strong order (not a flow from a random start), but not torchsde's,
    whose methods read the path elsewhere (Levy areas)."""
    return isinstance(process, NormalNormalSDE) and solver.strong_order is not None and not isinstance(
        solver, TorchsdeSolver)


def _antithetic_differences(process: NormalNormalSDE, solver, steps: list[int], seed: int, grid: str | None,
                            dtype: torch.dtype, centre: torch.Tensor):
    """``simulate(start, stop)`` of ``streaming.block_statistics``: per sample and difference, the
    functionals' ``f(Y_N) - (f(Y_2N^+) + f(Y_2N^-)) / 2``."""
    solver = get_grid_solver(solver, process)
    if not _antithetic_applies(process, solver):
        raise ValueError(f"the antithetic coupling needs a Brownian solver that reads bm on its grid's steps only "
                         f"(a one-step Brownian solver or sde_3m); {solver.name!r} on {type(process).__name__} is not")
    if any(fine != 2 * coarse for coarse, fine in zip(steps, steps[1:])):
        raise ValueError(f"the antithetic coupling needs step counts that double, got {steps}")
    if 2 * steps[-1] > 1 << ANTITHETIC_COUNTER_BITS:
        raise ValueError(f"steps: the antithetic coupling takes at most {1 << (ANTITHETIC_COUNTER_BITS - 1)} "
                         f"steps (each difference owns 2^{ANTITHETIC_COUNTER_BITS} counters), got {steps[-1]}")
    d = _coordinates(process)
    fine_grids = [make_grid(process.schedule, 2 * N, grid or solver.default_grid) for N in steps[:-1]]

    def simulate(start: int, stop: int) -> tuple[torch.Tensor, None]:
        rows, columns = stop - start, []
        for i, (N, fine_times) in enumerate(zip(steps, fine_grids)):
            coupling = AntitheticRefinement(fine_times, (rows, d), seed, counter_base=i << ANTITHETIC_COUNTER_BITS,
                                            first_sample=start)
            coarse, plus, minus = (_per_sample(sample(process, solver, steps=steps_, n=rows, seed=seed, grid=grid,
                                                      dtype=dtype, bm=coupling.path(sign), first_sample=start)
                                              .mu.reshape(rows, -1).double(), centre)
                                   for steps_, sign in ((N, None), (2 * N, 1), (2 * N, -1)))
            columns.append(coarse - 0.5 * (plus + minus))
        return torch.cat(columns, 1), None

    return simulate


def refinement_statistics(process: PMMProcess, solver, steps: list[int], n: int, seed: int = 0,
                          grid: str | None = None, dtype: torch.dtype = torch.float64, coupling: str = "common",
                          strong: bool = False, block: int = DEFAULT_BLOCK, chunk: int | None = None,
                          world: distributed.World | None = None, progress: bool = False) -> StreamingStatistics:
    """Streaming statistics (``streaming.block_statistics``) of the per-sample refinement differences of
    ``solver`` at the step counts ``steps``: ``"<functional> N-M"`` for each functional and pair of
    successive counts, and with ``strong`` ``"L1 N-M"``. ``coupling``: ``"common"`` (``common_noise``)
    or ``"antithetic"``. The variance functional's centre is ``_centre`` (first block, finest run).
    Memory is one chunk of each step count's run; the figures do not depend on ``chunk`` or on the
    number of ranks of ``world`` (default ``distributed.current()``) that share the blocks."""
    if coupling not in ("common", "antithetic"):
        raise ValueError(f"coupling must be 'common' or 'antithetic', got {coupling!r}")
    if coupling == "antithetic" and strong:
        raise ValueError("strong errors are measured on the common coupling's runs, not the antithetic one")
    solver = get_grid_solver(solver, process)
    check_blocks(n, block, chunk, None)
    centre = _centre(process, solver, steps, n, seed, grid, dtype, block)
    simulate = (_antithetic_differences(process, solver, steps, seed, grid, dtype, centre) if coupling == "antithetic"
                else _coupled_differences(process, solver, steps, seed, grid, dtype, centre, strong))
    names = _difference_names(steps, strong)
    return block_statistics(names, simulate, n, block=block, chunk=chunk, world=world, progress=progress,
                            desc=solver.name)


def weak_orders(process: PMMProcess, solver, steps: list[int], n: int, seed: int = 0, grid: str | None = None,
                dtype: torch.dtype = torch.float64, min_z: float = 5.0, progress: bool = False,
                coupling: str = "common", block: int = DEFAULT_BLOCK, chunk: int | None = None,
                world: distributed.World | None = None) -> dict[str, OrderFit]:
    """Measured weak order of ``solver`` on ``process`` for each functional in ``FUNCTIONALS``.

    ``steps`` should refine (doubling step counts refine the named grids). ``coupling``:
    ``"common"`` (one shared noise for all runs, ``common_noise``) or ``"antithetic"`` (per
    difference a coarse and two antithetic fine runs; module docstring). The differences are
    streamed (``refinement_statistics``: ``block``, ``chunk``, ``world``); ``progress``: a tqdm bar
    over the blocks. ``steps``: at least three, increasing (``study_steps``); ``n``: at least 2
    (``study_samples``).
    """
    steps, n, seed = study_steps(steps), study_samples(n), _validation.seed(seed)
    statistics = refinement_statistics(process, solver, steps, n, seed, grid, dtype, coupling, block=block,
                                       chunk=chunk, world=world, progress=progress)
    return _fits(statistics, steps, min_z, FUNCTIONALS)


def strong_order(process: PMMProcess, solver, steps: list[int], n: int, seed: int = 0, grid: str | None = None,
                 dtype: torch.dtype = torch.float64, min_z: float = 5.0, progress: bool = False,
                 block: int = DEFAULT_BLOCK, chunk: int | None = None,
                 world: distributed.World | None = None) -> OrderFit:
    """Measured strong (L1) order of ``solver``: the slope of ``E|Y_{N_i} - Y_{N_{i+1}}|`` against ``N_i``.

    Needs noise coupled across step counts (``common_noise``), so only solvers with a declared
    strong order qualify. Streamed as ``weak_orders``.
    """
    steps, n, seed = study_steps(steps), study_samples(n), _validation.seed(seed)
    _require_strong_order(get_grid_solver(solver, process))
    statistics = refinement_statistics(process, solver, steps, n, seed, grid, dtype, strong=True, block=block,
                                       chunk=chunk, world=world, progress=progress)
    return _fits(statistics, steps, min_z, ("L1",))["L1"]


def _require_strong_order(solver) -> None:
    if solver.strong_order is None:
        raise ValueError(f"solver {solver.name!r} declares no strong order (its paths are not coupled "
                         f"across step counts)")


@dataclass
class ConvergenceStudy:
    """Weak-order (and optionally strong-order) fits of several solvers on one process: a table,
    JSON, CSV and a figure."""

    process: str
    declared: dict[str, float]
    fits: dict[str, dict[str, OrderFit]] = field(default_factory=dict)
    declared_strong: dict[str, float] = field(default_factory=dict)
    strong: dict[str, OrderFit] = field(default_factory=dict)
    weak_methods: dict[str, str] = field(default_factory=dict)

    def measured(self, solver: str) -> float:
        """The median of the functionals' fitted slopes (NaN when none could be fitted)."""
        slopes = [f.slope for f in self.fits[solver].values() if not np.isnan(f.slope)]
        return float(np.median(slopes)) if slopes else float("nan")

    def table(self) -> dict[str, dict]:
        """``{solver: {"weak_order", "declared_weak_order", "functionals": {name: fit fields}}}``, plus
        ``"strong_order"``, ``"declared_strong_order"`` and ``"strong"`` where strong orders were measured."""
        table = {solver: {"weak_order": self.measured(solver), "declared_weak_order": self.declared[solver],
                          "weak_method": self.weak_methods.get(solver, REFINEMENT),
                          "functionals": {name: vars(fit) for name, fit in fits.items()}}
                 for solver, fits in self.fits.items()}
        for solver, fit in self.strong.items():
            table[solver].update(strong_order=fit.slope, declared_strong_order=self.declared_strong[solver],
                                 strong=vars(fit))
        return table

    def to_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"process": self.process, "solvers": self.table()}, indent=2))

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["solver", "functional", "declared", "slope", "stderr"])
        for solver, fits in self.fits.items():
            for name, fit in fits.items():
                writer.writerow([solver, name, self.declared[solver], fit.slope, fit.stderr])
        for solver, fit in self.strong.items():
            writer.writerow([solver, "strong L1", self.declared_strong[solver], fit.slope, fit.stderr])
        return out.getvalue()

    def plot(self, path: str | Path | None = None):
        """The figure behind the fits, log-log against the step count N: one panel per functional
        (and one of the pathwise L1 differences when strong orders were measured), each solver's
        points with their standard errors (open markers: left out of the fit), its measured order
        in the legend and a dotted reference slope ``N^-p`` at its declared order ``p``.

        Writes a PNG to ``path`` when given; returns the ``matplotlib.figure.Figure`` (built without
        pyplot, so the caller's matplotlib backend is left alone)."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        panels = [(name, {solver: (fits[name], self.declared[solver], self.weak_methods.get(solver, REFINEMENT))
                          for solver, fits in self.fits.items()}) for name in FUNCTIONALS]
        if self.strong:
            panels.append(("L1", {solver: (fit, self.declared_strong[solver], "strong")
                                  for solver, fit in self.strong.items()}))
        fig = Figure(figsize=(4.8 * len(panels), 4.4), layout="constrained")
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (name, curves) in zip(axes, panels):
            handles = []
            for k, (solver, (fit, declared, method)) in enumerate(curves.items()):
                handles += _plot_fit(ax, fit, declared, f"C{k}", f"{solver} ({_METHOD_TAGS.get(method, method)})")
            title, unit = _PANEL_LABELS[name]
            methods = {method for _, _, method in curves.values()}
            error = ("$|E f(Y_N) - E^* f|$" if methods == {EXACT_LAW} else "$|E f(Y_N) - E f(Y_{N'})|$"
                     if EXACT_LAW not in methods else "$|E f(Y_N) - E f(Y_{N'})|$ or $|E f(Y_N) - E^* f|$")
            ax.set(xscale="log", yscale="log", title=title, xlabel="steps N  (NFE = N x evaluations per step)",
                   ylabel=("$E|Y_N - Y_{N'}|$" if name == "L1" else error) + f"  [{unit}]")
            ax.set_xticks(sorted({N for fit, _, _ in curves.values() for N in fit.steps}))
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="major", lw=0.3)
            ax.legend(handles=handles, fontsize=7)
        notes = sorted({f"{_METHOD_TAGS.get(m, m)}: {m}" for m in self.weak_methods.values()})
        fig.suptitle("\n".join([self.process, *notes, "N' = the next step count; open markers: within the noise "
                                                       "(min_z standard errors, 5 by default), left out of the fit"]), fontsize=8)
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


#: Short legend tags of the weak-error methods (the figure's title spells them out).
_METHOD_TAGS = {EXACT_LAW: "exact law", REFINEMENT: "refinement, MC", QUADRATURE: "refinement, quadrature",
                ANTITHETIC: "refinement, antithetic MC", "strong": "pathwise"}
#: Panel title and the unit of its error, per functional f of the terminal state (x: the data).
_PANEL_LABELS = {
    "mean": ("weak error of $E f(\\mu_1)$, $f(\\mu) = \\mu$", "units of x"),
    "variance": ("weak error of $E f(\\mu_1)$, $f(\\mu) = (\\mu - c)^2$, c: the mean", "units of $x^2$"),
    "cos": ("weak error of $E f(\\mu_1)$, $f(\\mu) = \\cos \\mu$", "dimensionless"),
    "L1": ("strong error: pathwise L1, per coordinate", "units of x"),
}


def _plot_fit(ax, fit: OrderFit, declared: float, color: str, label: str) -> list:
    """One solver's points ``fit.differences`` against ``fit.steps`` with standard-error bars
    (filled: used in the fit; open: left out), and the reference slope ``N^-declared`` through the
    first point used; returns the two legend handles."""
    steps, values = np.asarray(fit.steps, dtype=float), np.asarray(fit.differences, dtype=float)
    used = np.asarray(fit.used, dtype=bool)
    errors = np.asarray(fit.standard_errors, dtype=float)
    measured = "no fit" if np.isnan(fit.slope) else f"measured order {fit.slope:.2f}"
    points = ax.errorbar(steps, values, yerr=errors if errors.any() else None, color=color, lw=1, capsize=2,
                         label=f"{label}: {measured}")
    ax.plot(steps[used], values[used], "o", color=color)
    ax.plot(steps[~used], values[~used], "o", mfc="none", color=color)
    anchor = int(np.argmax(used)) if used.any() else 0
    (reference,) = ax.plot(steps, values[anchor] * (steps[anchor] / steps) ** declared, ":", color=color, lw=1,
                           label=f"reference slope $N^{{-{declared:g}}}$ (declared order)")
    return [points, reference]


def convergence_study(process: PMMProcess, solvers: list[str], steps: list[int], n: int, seed: int = 0,
                      progress: bool = False, name: str | None = None, strong: bool = False,
                      min_z: float = 5.0, exact_law: np.ndarray | None = None,
                      quadrature: bool = False, coupling: str = "common", block: int = DEFAULT_BLOCK,
                      chunk: int | None = None, world: distributed.World | None = None) -> ConvergenceStudy:
    """Weak orders of each solver on ``process`` (see ``weak_orders``) and, with ``strong``, strong
    orders from the same coupled runs (see ``strong_order``), with a progress bar. With
    ``exact_law`` (the target's pmf of ``N_T``, one-dimensional Gamma-Poisson) the weak orders are
    exact (``exact_weak_orders``); with ``quadrature`` (one-dimensional Normal-Normal) the
    ``markov`` solvers' expectations are computed by quadrature
    (``pmm_sde.convergence.quadrature``). Monte Carlo runs are made for the other solvers and for
    the strong orders, streamed over blocks of ``block`` global sample indices in chunks of
    ``chunk`` and shared by the ranks of ``world`` (``refinement_statistics``): the figures are the
    same, to the last bit, for any chunk size and number of ranks. With ``coupling="antithetic"``
    the weak differences of the one-step Brownian solvers driven by a Brownian motion use the
    antithetic coupling (``weak_orders``), the others the common one (``weak_methods`` records
    which). ``steps``: at least three (two with ``exact_law``), increasing; ``n``: at least 2."""
    steps = study_steps(steps, minimum=2 if exact_law is not None else 3)
    n, seed = study_samples(n), _validation.seed(seed)
    names = [] if isinstance(solvers, (str, bytes)) or not hasattr(solvers, "__iter__") else list(solvers)
    if not names:
        raise ValueError(f"solvers must be a non-empty list of solver names or Solver objects, got {solvers!r}")
    resolved = [get_grid_solver(s, process) for s in names]
    if strong:
        for solver in resolved:
            _require_strong_order(solver)
    study = ConvergenceStudy(name or repr(process), {s.name: s.weak_order for s in resolved},
                             declared_strong={s.name: s.strong_order for s in resolved} if strong else {})
    if coupling not in ("common", "antithetic"):
        raise ValueError(f"coupling must be 'common' or 'antithetic', got {coupling!r}")
    world = distributed.current() if world is None else world
    streaming = {"block": block, "chunk": chunk, "world": world, "progress": progress and world.is_main}
    for solver in resolved:
        antithetic = coupling == "antithetic" and _antithetic_applies(process, solver)
        study.weak_methods[solver.name] = (EXACT_LAW if exact_law is not None
                                           else QUADRATURE if quadrature and (solver.markov or solver.random_start_only)
                                           else ANTITHETIC if antithetic else REFINEMENT)
    for solver in resolved:
        method = study.weak_methods[solver.name]
        statistics = (refinement_statistics(process, solver, steps, n, seed, strong=strong, **streaming)
                      if method == REFINEMENT or strong else None)
        if method == EXACT_LAW:
            study.fits[solver.name] = exact_weak_orders(process, solver.name, steps, exact_law)
        elif method == QUADRATURE:
            study.fits[solver.name] = quadrature_weak_orders(process, solver, steps)
        elif method == ANTITHETIC:
            study.fits[solver.name] = weak_orders(process, solver, steps, n, seed, min_z=min_z, coupling="antithetic",
                                                  **streaming)
        else:
            study.fits[solver.name] = _fits(statistics, steps, min_z, FUNCTIONALS)
        if strong:
            study.strong[solver.name] = _fits(statistics, steps, min_z, ("L1",))["L1"]
    return study
