"""Solver objects: a step rule plus declared orders, and the registry of names.

A solver is immutable: ``init`` checks a run's grid and returns the solver's per-run state (the
``carry`` of the first ``State``), ``step`` maps a state over one grid interval to the next, as
diffrax's ``init`` / ``step``. A step sees the process (its coefficients), a predictor evaluator
that counts NFE, the interval (schedule values precomputed by the driver) and the run's noise; it
never knows which family the process serves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from ..chain import PredictionMonitor
from ..grids import DEFAULT_GRID, information_steps
from ..processes import PMMProcess
from ..schedules import Schedule
from ..streams import Noise


@dataclass(frozen=True)
class Grid:
    """A run's grid in float64: times ``t_k``, information ``A(t_k)`` and rate ``alpha(t_k)``."""

    times: torch.Tensor
    A: torch.Tensor
    rate: torch.Tensor

    @classmethod
    def evaluate(cls, schedule: Schedule, times: torch.Tensor) -> "Grid":
        """The schedule on ``times``, once per run."""
        A, _ = information_steps(schedule, times)
        return cls(times, A, schedule.rate(times).to(torch.float64))

    def intervals(self, dtype: torch.dtype, device) -> list["Interval"]:
        """The steps, with their values in the run's ``dtype`` on ``device``."""
        t, A, rate = (x.to(dtype=dtype, device=device).unbind() for x in (self.times, self.A, self.rate))
        return [Interval(k, t[k], t[k + 1], A[k], A[k + 1], rate[k], rate[k + 1]) for k in range(len(t) - 1)]


@dataclass(frozen=True)
class Interval:
    """Step ``index`` from ``t0`` to ``t1``, with ``A`` and ``alpha = A'`` at both ends (0-dim tensors)."""

    index: int
    t0: torch.Tensor
    t1: torch.Tensor
    A0: torch.Tensor
    A1: torch.Tensor
    rate0: torch.Tensor
    rate1: torch.Tensor

    @property
    def h(self) -> torch.Tensor:
        return self.t1 - self.t0

    @property
    def dA(self) -> torch.Tensor:
        return self.A1 - self.A0


@dataclass(frozen=True)
class State:
    """Posterior mean ``mu`` and information ``A`` (per position for Dirichlet-Categorical), and the
    solver's ``carry``: what a multistep solver takes from one step to the next (from ``init``)."""

    mu: torch.Tensor
    A: torch.Tensor
    carry: Any = None


class Evaluator:
    """Calls the predictor, counts evaluations, and checks predictions without a host sync
    (``chain.PredictionMonitor``: shaped like the state, of its ``dtype`` and ``device``, valid)."""

    def __init__(self, process: PMMProcess, state_shape: torch.Size, device, dtype: torch.dtype):
        self.process = process
        self.nfe = 0
        self._monitor = PredictionMonitor(process.family, state_shape, device, dtype)

    def __call__(self, mu: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        xhat = self._monitor.check(self.process.predictor(mu, A))
        self.nfe += 1
        return xhat

    def rows(self, mu: torch.Tensor, A: torch.Tensor, active: torch.Tensor, fill: torch.Tensor) -> torch.Tensor:
        """The prediction at the samples where the bool ``(n,)`` tensor ``active`` holds, ``fill``'s rows
        elsewhere: one evaluation of those samples only (``A`` 0-dim or with one row per sample)."""
        if bool(active.all()):
            return self(mu, A)
        index = active.nonzero().squeeze(1)
        part = self.process.predictor(mu.index_select(0, index), A.index_select(0, index) if A.dim() else A)
        self.nfe += 1
        return fill.index_copy(0, index, self._monitor.check(part, rows=index.numel()))

    def raise_if_bad(self, *final: torch.Tensor) -> None:
        """Raise on an invalid prediction, or on a final state ``final`` (``mu``, ``A``) that holds
        NaN or inf (an overflow); one read of the device's flags."""
        self._monitor.raise_if_bad(*final)


class BaseSolver(ABC):
    """What every registered solver declares: its name, the process type it serves and its orders.

    ``weak_order``: the rate at which errors of expectations of smooth functions of the terminal
    state fall with the step size; ``strong_order``: pathwise, with coupled noise (None where not
    meaningful, as for jump solvers exact in law or for ODE flows from a random start).
    """

    name: ClassVar[str]
    process_type: ClassVar[type]
    weak_order: ClassVar[float]
    strong_order: ClassVar[float | None] = None
    #: Whether the only randomness is the first step's slot-0 normals (a flow from a random start).
    random_start_only: ClassVar[bool] = False
    #: Why the solver refuses some processes of its ``process_type`` (empty: it takes them all).
    restriction: ClassVar[str] = ""

    @classmethod
    def applies_to(cls, process: PMMProcess) -> bool:
        """Whether the solver can run ``process``; ``available`` and ``get_solver`` ask this."""
        return isinstance(process, cls.process_type)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, weak_order={self.weak_order}, strong_order={self.strong_order})"


class Solver(BaseSolver):
    """A step rule over the intervals of a grid (``init`` / ``step``), with declared orders."""

    #: The grid ``sample()`` uses when none is given.
    default_grid: ClassVar[str] = DEFAULT_GRID
    #: Whether the counts come from ``noise.poisson``, so ``sample(poisson_paths=...)`` couples runs.
    poisson_counts: ClassVar[bool] = False
    #: Whether a step is a map of the current state and the step's slot-0 normals alone (no carry
    #: between steps, no noise of its own), so ``convergence.quadrature`` can integrate it exactly.
    markov: ClassVar[bool] = True

    def init(self, process: PMMProcess, grid: Grid, noise: Noise) -> Any:
        """Check the run (e.g. a stability bound on the grid) and return the first state's carry;
        default: nothing to check, no carry."""
        return None

    @abstractmethod
    def step(self, process: PMMProcess, predict: "Evaluator", state: State, interval: Interval, noise: Noise
             ) -> State:
        """``state`` advanced over ``interval``."""


REGISTRY: dict[str, type[BaseSolver]] = {}


def register(cls: type[BaseSolver]) -> type[BaseSolver]:
    """Class decorator: make ``cls`` available by its ``name``."""
    REGISTRY[cls.name] = cls
    return cls
