"""Expectations of a Brownian solver's terminal state without Monte Carlo noise, for one-dimensional
Normal-Normal processes.

A one-step solver advances the state by a map ``mu' = F_k(mu, z)`` of the state and one standard
normal ``z`` per step (its noise slot 0). The expectation of ``f(Y_N)`` for its terminal state
``Y_N`` solves the backward recursion (Kolmogorov's, for the chain)

    u_N = f,    u_k(mu) = E u_{k+1}(F_k(mu, z)) ~ sum_j w_j u_{k+1}(F_k(mu, z_j)),

with Gauss-Hermite nodes ``z_j`` and weights ``w_j`` (probabilists'), and ``u_{k+1}`` a cubic
spline on a grid of states that covers the law at ``t_{k+1}`` (its range is read off a pilot
Monte Carlo run, widened on both sides; beyond the grid ``u`` is held constant). The state at
``t_0 = 0`` is the prior mean, so ``E f(Y_N) = u_0(mu_0)``. The solver's own step rule computes
``F_k`` on the whole (grid point, node) batch, so any solver with ``markov = True`` qualifies.

A probability-flow solver (``random_start_only``: its one random number is the normal ``z`` of
its first, stochastic step from ``A = 0``, then the flow ``Phi`` is deterministic, multistep or
not) needs no recursion: ``E f(Y_N) = int f(Phi(z)) phi(z) dz``, by composite Gauss-Legendre on
``[-Z_MAX, Z_MAX]`` (``phi`` beyond it holds ``2e-19`` of the mass), the flow run once per node.
torchsde's solvers draw their own noise and do not qualify.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from .._validation import positive_int
from ..driver import prepare_run, sample
from ..processes import NormalNormalSDE
from ..solvers import get_grid_solver
from ..solvers.base import Evaluator, State
from .orders import FUNCTIONALS, OrderFit, fit_order, study_steps

#: Pilot samples whose range sets each time's grid.
PILOT_SAMPLES = 4000
#: Half-width of the normal's range integrated for flows, and the Gauss-Legendre panels and order.
Z_MAX = 9.0
FLOW_PANELS = 4000
FLOW_ORDER = 8


class _NodeNoise:
    """Noise whose slot-0 normals are the quadrature nodes of each grid point's block of rows."""

    #: The nodes are not the counter-based streams, so no solver may draw its noise in a fused kernel.
    counter_based = False

    def __init__(self, z: torch.Tensor):
        self.z = z
        self.shape = tuple(z.shape)

    def normal(self, k: int, slot: int = 0) -> torch.Tensor:
        if slot != 0:
            raise ValueError("quadrature expectations need a solver with one normal (slot 0) per step")
        return self.z


class _StartNodes:
    """A Brownian path for ``sample(bm=...)`` whose every increment is ``sqrt(h) z`` with the node
    values ``z``; a flow reads it on its first step only."""

    def __init__(self, z: torch.Tensor):
        self.z = z

    def __call__(self, t0: float, t1: float) -> torch.Tensor:
        return self.z * (t1 - t0) ** 0.5


def _flow_expectations(process: NormalNormalSDE, solver, steps: int, functions, grid: str | None) -> np.ndarray:
    """``E f(Y_N) = int f(Phi(z)) phi(z) dz`` for a flow from a random start (module docstring)."""
    x, w = np.polynomial.legendre.leggauss(FLOW_ORDER)
    edges = np.linspace(-Z_MAX, Z_MAX, FLOW_PANELS + 1)
    centre, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * (edges[1:] - edges[:-1])
    z = (centre[:, None] + half[:, None] * x).ravel()
    weights = (half[:, None] * w).ravel() * np.exp(-0.5 * z ** 2) / np.sqrt(2 * np.pi)
    path = _StartNodes(torch.as_tensor(z, dtype=torch.float64).reshape(-1, 1))
    mu = sample(process, solver, steps=steps, n=z.size, grid=grid, bm=path, dtype=torch.float64).mu
    values = mu.reshape(-1).numpy()
    return np.array([(weights * f(values)).sum() for f in functions])


def _spline(points: np.ndarray, values: np.ndarray):
    """``u`` on ``points`` as a cubic spline, held constant beyond them; ``values`` is ``(G, m)``."""
    spline = CubicSpline(points, values, axis=0)
    return lambda x: spline(np.clip(x, points[0], points[-1]))


def scheme_expectations(process: NormalNormalSDE, solver, steps: int, functions, grid: str | None = None,
                        grid_points: int = 1200, nodes: int = 40, seed: int = 0) -> np.ndarray:
    """``E f(Y_N)`` for each ``f`` in ``functions`` (callables on float64 arrays of states) under
    ``solver`` with ``steps`` steps, by the backward recursion of the module docstring (or the
    integral over the start's normal, for flows)."""
    if not isinstance(process, NormalNormalSDE) or process.shape not in ((), (1,)):
        raise ValueError("process must be a one-dimensional NormalNormalSDE")
    functions = [] if not hasattr(functions, "__iter__") else list(functions)
    if not functions or not all(callable(f) for f in functions):
        raise ValueError("functions must be a non-empty list of callables on float64 arrays")
    grid_points = positive_int(grid_points, "grid_points")
    if grid_points < 2:
        raise ValueError(f"grid_points must be an integer >= 2 (a spline needs two points), got {grid_points}")
    nodes = positive_int(nodes, "nodes")
    solver = get_grid_solver(solver, process)
    if solver.random_start_only:
        return _flow_expectations(process, solver, steps, functions, grid)
    if not solver.markov:
        raise ValueError(f"solver {solver.name!r} is not a one-step map of the state and its slot-0 normals "
                         f"(multistep, or its own noise), so quadrature does not apply")
    pilot = sample(process, solver, steps=steps, n=PILOT_SAMPLES, seed=seed, grid=grid, save_at="grid",
                   dtype=torch.float64)
    process, run_grid = prepare_run(process, process.shape, pilot.times, torch.float64, torch.device("cpu"))
    paths = pilot.trajectory.reshape(len(pilot.times), -1).numpy()
    z, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    state_shape = (grid_points * nodes, *process.shape)
    predict = Evaluator(process, torch.Size(state_shape), "cpu", torch.float64)
    noise = _NodeNoise(torch.as_tensor(np.tile(z, grid_points), dtype=torch.float64).reshape(state_shape))
    carry = solver.init(process, run_grid, noise)
    intervals = run_grid.intervals(torch.float64, "cpu")
    u = lambda x: np.stack([f(x) for f in functions], -1)  # noqa: E731 - u_N = f
    for k in range(len(intervals) - 1, -1, -1):
        low, high = paths[k].min(), paths[k].max()
        width = max(high - low, 1e-12)
        points = np.linspace(low - 0.5 * width, high + 0.5 * width, grid_points) if k else np.full(grid_points, low)
        mu = torch.as_tensor(np.repeat(points, nodes), dtype=torch.float64).reshape(state_shape)
        moved = solver.step(process, predict, State(mu, intervals[k].A0, carry), intervals[k], noise)
        values = u(moved.mu.reshape(-1).numpy()).reshape(grid_points, nodes, -1)
        u_k = np.einsum("gjm,j->gm", values, w)
        u = _spline(points, u_k) if k else None
    predict.raise_if_bad()
    return u_k[0]


def quadrature_weak_orders(process: NormalNormalSDE, solver, steps: list[int], grid: str | None = None,
                           grid_points: int = 1200, nodes: int = 40) -> dict[str, OrderFit]:
    """Weak orders from refinement differences ``E f(Y_{N_i}) - E f(Y_{N_{i+1}})`` of the
    ``convergence.FUNCTIONALS`` (mean, variance, E cos), each expectation by quadrature, so the
    differences carry no Monte Carlo error (their standard errors are 0). ``steps``: at least three,
    increasing (``convergence.study_steps``)."""
    steps = study_steps(steps)
    moments = np.array([scheme_expectations(process, solver, N, [lambda x: x, lambda x: x ** 2, np.cos], grid,
                                            grid_points, nodes) for N in steps])
    values = np.stack([moments[:, 0], moments[:, 1] - moments[:, 0] ** 2, moments[:, 2]], -1)
    differences = values[:-1] - values[1:]
    return {name: fit_order(steps[:-1], differences[:, j].tolist(), [0.0] * (len(steps) - 1), functional=name)
            for j, name in enumerate(FUNCTIONALS)}
