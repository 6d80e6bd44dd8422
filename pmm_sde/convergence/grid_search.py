"""Optimised step grids: for a process, a fixed-grid solver and a step budget, the grid that
minimises a measured error proxy (in the spirit of Align Your Steps, Sabour et al. 2024).

The grid is parameterised by a few numbers ``theta`` (``degree`` of them) as a warp of the
``log1p_sqrt`` grid: in the coordinate ``s = log(1 + sqrt A) / log(1 + sqrt A(1))`` in ``[0, 1]``
the ``N`` increments are

    ds_k = softmax_k( sum_j theta_j P_j(c_k) ),    c_k = (2 k + 1) / N - 1,   k = 0 .. N - 1,

with ``P_j`` the Legendre polynomials of degree ``j = 1 .. degree`` (``degree <= N - 1``). Every
``theta`` gives a valid grid (``0 = t_0 < ... < t_N = 1``, ``t = A^-1(A(s))``), ``theta = 0`` gives
``log1p_sqrt`` (the probability-flow solvers' default), and ``degree = N - 1`` reaches every grid.
``theta`` minimises the proxy by Nelder-Mead (``scipy.optimize.minimize``) from ``theta = 0``.

Proxies (``PROXIES``):

- ``"moments"`` (one-dimensional Normal-Normal oracle problems): the root mean square of the
  terminal errors ``E mu - E_ref mu``, ``Var mu / Var_ref mu - 1`` and ``E cos mu - E_ref cos mu``
  (``convergence.FUNCTIONALS``), every expectation computed by quadrature
  (``convergence.scheme_expectations``: no Monte Carlo noise), the reference by the same solver
  with ``reference_steps`` steps on its default grid. Solvers: ``markov`` or
  ``random_start_only``.
- ``"pathwise"`` (any process, for example a trained network): the root mean square of
  ``mu_T - mu_T^ref`` over ``n`` samples, divided by the reference's standard deviation (pooled over
  coordinates), where both runs share the seed. A probability-flow solver (``random_start_only``)
  draws its only random numbers in its first step, keyed by (seed, sample index, step 0) whatever
  the grid, so both runs are the same deterministic map of the same start: the proxy has no Monte
  Carlo noise in the difference, only the choice of ``n`` starting points. Solvers:
  ``random_start_only``.
- ``"sample_moments"`` (any process, probability-flow solvers): the ``moments`` proxy's three
  errors per coordinate, from the same two runs as ``pathwise`` (sample moments of ``mu_T`` and of
  the reference ``mu_T^ref`` over the same starts, so that most of their Monte Carlo error
  cancels in the difference), root mean square over errors and coordinates.

The proxy is what is optimised, not what is reported: measure the result independently (for
example ``benchmarks/goal_nfe_grids.py``: 200,000 Monte Carlo samples with another seed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import minimize

from .. import _validation
from ..driver import sample
from ..grids import validate_times
from ..processes import PMMProcess
from ..solvers import get_grid_solver
from ..streams import MAX_STEPS
from .quadrature import scheme_expectations

PROXIES = ("moments", "pathwise", "sample_moments")
#: The initial simplex's side in ``theta``.
SIMPLEX_STEP = 0.5


@dataclass
class OptimisedGrid:
    """An optimised grid: ``times`` (float64, ``0 = t_0 < ... < t_N = 1``), the warp ``theta``, the
    proxy's value there and at ``theta = 0`` (``start_proxy``: the ``log1p_sqrt`` grid), and how it
    was found."""

    times: torch.Tensor
    theta: list[float]
    proxy: float
    start_proxy: float
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able fields (``times`` as a list of floats)."""
        return {"times": self.times.tolist(), "theta": self.theta, "proxy": self.proxy,
                "start_proxy": self.start_proxy, **self.settings}


def warped_grid(schedule, steps: int, theta) -> torch.Tensor:
    """The times of the warp ``theta`` of the ``log1p_sqrt`` grid with ``steps`` steps (module
    docstring); ``len(theta) <= steps - 1``."""
    steps = _validation.positive_int(steps, "steps", maximum=MAX_STEPS)
    theta = torch.as_tensor(np.asarray(theta, dtype=np.float64)).reshape(-1)
    if len(theta) > steps - 1:
        raise ValueError(f"theta must have at most steps - 1 = {steps - 1} entries, got {len(theta)}")
    if not bool(torch.isfinite(theta).all()):
        raise ValueError("theta must be finite")
    centres = (2 * torch.arange(steps, dtype=torch.float64) + 1) / steps - 1
    basis = np.polynomial.legendre.legvander(centres.numpy(), len(theta))[:, 1:]
    ds = torch.softmax(torch.as_tensor(basis) @ theta, 0)
    s = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(ds, 0)])
    A = torch.expm1(s * np.log1p(np.sqrt(schedule.total))) ** 2
    times = schedule.inverse(A).to(torch.float64)
    times[0], times[-1] = 0.0, 1.0
    return validate_times(times, "grid")


def _moments(process, solver, steps, grid) -> np.ndarray:
    """``(E mu, Var mu, E cos mu)`` of the terminal state by quadrature."""
    mean, second, cos = scheme_expectations(process, solver, steps, [lambda x: x, lambda x: x ** 2, np.cos], grid)
    return np.array([mean, second - mean ** 2, cos])


def grid_proxy(process: PMMProcess, solver, steps: int, *, proxy: str = "pathwise", reference_steps: int = 200,
               n: int = 2000, seed: int = 0, dtype: torch.dtype | None = torch.float64,
               device=None) -> Callable[[torch.Tensor], float]:
    """The error proxy of the module docstring as a function of a grid (a tensor of times), for
    ``solver`` on ``process``; the reference run is made once, here. ``dtype``, ``device``: the
    pathwise proxy's runs (None: ``sample()``'s defaults, for example a network's float32)."""
    if proxy not in PROXIES:
        raise ValueError(f"proxy must be one of {PROXIES}, got {proxy!r}")
    solver = get_grid_solver(solver, process)
    steps = _validation.positive_int(steps, "steps", maximum=MAX_STEPS)
    reference_steps = _validation.positive_int(reference_steps, "reference_steps", maximum=MAX_STEPS)
    n = _validation.positive_int(n, "n")
    seed = _validation.seed(seed)
    if proxy == "moments":
        reference = _moments(process, solver, reference_steps, None)

        def moments_error(times: torch.Tensor) -> float:
            mean, var, cos = _moments(process, solver, steps, times)
            errors = [mean - reference[0], var / reference[1] - 1, cos - reference[2]]
            return float(np.sqrt(np.mean(np.square(errors))))
        return moments_error
    if not solver.random_start_only:
        raise ValueError(f"proxy {proxy!r} needs a probability-flow solver (random_start_only), whose runs on two "
                         f"grids share their start; {solver.name!r} draws noise on every step: use proxy='moments'")
    run = dict(n=n, seed=seed, dtype=dtype, device=device)
    reference = sample(process, solver, steps=reference_steps, **run).mu.double().reshape(n, -1)
    scale = float(reference.std()) or 1.0

    def sample_moments(mu: torch.Tensor) -> torch.Tensor:
        return torch.stack([mu.mean(0), mu.var(0), mu.cos().mean(0)])

    reference_moments = sample_moments(reference)

    def pathwise_error(times: torch.Tensor) -> float:
        mu = sample(process, solver, grid=times, **run).mu.double().reshape(n, -1)
        if proxy == "pathwise":
            return float((mu - reference).square().mean().sqrt()) / scale
        errors = sample_moments(mu) - reference_moments
        errors[1] = errors[1] / reference_moments[1].clamp_min(torch.finfo(torch.float64).tiny)
        return float(errors.square().mean().sqrt())
    return pathwise_error


def optimise_grid(process: PMMProcess, solver, steps: int, *, proxy: str = "pathwise", reference_steps: int = 200,
                  n: int = 2000, seed: int = 0, degree: int = 3, max_evaluations: int = 150,
                  dtype: torch.dtype | None = torch.float64, device=None) -> OptimisedGrid:
    """The warp of the ``log1p_sqrt`` grid with ``steps`` steps and ``min(degree, steps - 1)``
    parameters that minimises ``proxy`` (``PROXIES``; module docstring) for the fixed-grid
    ``solver`` on ``process``, by Nelder-Mead from ``log1p_sqrt`` with at most ``max_evaluations``
    proxy evaluations. ``n``, ``seed``, ``dtype``, ``device``: the sampled proxies' runs. The result is never worse
    than ``log1p_sqrt`` by the proxy."""
    steps = _validation.positive_int(steps, "steps", maximum=MAX_STEPS)
    degree = _validation.positive_int(degree, "degree")
    max_evaluations = _validation.positive_int(max_evaluations, "max_evaluations")
    if not isinstance(process, PMMProcess):
        raise ValueError(f"process must be a PMMProcess, got {type(process).__name__}")
    measure = grid_proxy(process, solver, steps, proxy=proxy, reference_steps=reference_steps, n=n, seed=seed,
                         dtype=dtype, device=device)
    schedule = process.schedule
    objective = lambda theta: measure(warped_grid(schedule, steps, theta))  # noqa: E731
    dimension = min(degree, steps - 1)
    start = np.zeros(dimension)
    start_proxy = objective(start)
    theta, best = start, start_proxy
    if dimension:
        simplex = np.vstack([start, SIMPLEX_STEP * np.eye(dimension)])
        found = minimize(objective, start, method="Nelder-Mead",
                         options={"initial_simplex": simplex, "maxfev": max_evaluations, "xatol": 1e-3,
                                  "fatol": 1e-3 * start_proxy})
        if found.fun < best:
            theta, best = found.x, float(found.fun)
    settings = {"solver": get_grid_solver(solver, process).name, "steps": steps, "proxy_kind": proxy,
                "reference_steps": reference_steps, "degree": dimension,
                **({"n": n, "seed": seed} if proxy != "moments" else {})}
    return OptimisedGrid(warped_grid(schedule, steps, theta), [float(v) for v in theta], best, start_proxy, settings)
