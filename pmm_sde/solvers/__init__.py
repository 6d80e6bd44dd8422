"""Solver catalogue: ``available(process)`` lists the names ``sample()`` accepts for a process."""

from __future__ import annotations

from ..processes import NormalNormalSDE, PMMProcess
from .adaptive import AdaptiveSolver, ODE3MAdaptive, PMM2Adaptive
from .base import REGISTRY, BaseSolver, Evaluator, Grid, Interval, Solver, State, register
from .brownian import ODE2M, ODE3M, EulerMaruyama, ODEEuler, ODEHeun, PMM2, PMMChain, SDE3M, StochasticHeun
from .cox import DirichletLeap, TauLeap, TauLeap2, Thinning
from .torchsde_adapter import METHODS as TORCHSDE_METHODS
from .torchsde_adapter import TorchsdeSolver


def available(process: PMMProcess) -> list[str]:
    """Names of the solvers valid for ``process``."""
    names = [name for name, cls in REGISTRY.items() if cls.applies_to(process)]
    if isinstance(process, NormalNormalSDE):
        names += [f"torchsde:{m}" for m in TORCHSDE_METHODS]
    return names


def get_solver(solver: str | BaseSolver, process: PMMProcess) -> BaseSolver:
    """A solver object from a name or an object, checked against the process."""
    if isinstance(solver, str):
        if solver.startswith("torchsde:"):
            solver = TorchsdeSolver(solver.split(":", 1)[1])
        elif solver in REGISTRY:
            solver = REGISTRY[solver]()
        else:
            raise ValueError(f"solver {solver!r} is unknown; available for this process: {available(process)}")
    if not isinstance(solver, BaseSolver):
        raise ValueError(f"solver must be a name, a Solver or an AdaptiveSolver, got {type(solver).__name__}")
    if not solver.applies_to(process):
        reason = f" ({solver.restriction})" if solver.restriction else ""
        raise ValueError(f"solver {solver.name!r} does not apply to {type(process).__name__}{reason}; "
                         f"available: {available(process)}")
    return solver


def get_grid_solver(solver: str | BaseSolver, process: PMMProcess) -> Solver:
    """``get_solver`` for tools that run a solver at given step counts (convergence studies,
    quadrature, training's samples): an adaptive solver is refused with a ValueError."""
    resolved = get_solver(solver, process)
    if not isinstance(resolved, Solver):
        raise ValueError(f"solver {resolved.name!r} chooses each sample's steps itself (an adaptive solver: run it "
                         f"with pmm.sample(process, {resolved.name!r}, rtol=..., atol=...)); this tool runs solvers "
                         f"at given step counts: choose a fixed-grid solver from {available(process)}")
    return resolved


__all__ = ["BaseSolver", "Solver", "AdaptiveSolver", "State", "Grid", "Interval", "Evaluator", "REGISTRY", "register",
           "available", "get_solver", "get_grid_solver", "EulerMaruyama", "PMMChain", "StochasticHeun", "PMM2",
           "ODEEuler", "ODEHeun", "ODE2M", "ODE3M", "ODE3MAdaptive", "PMM2Adaptive", "SDE3M", "TorchsdeSolver",
           "TauLeap", "TauLeap2", "DirichletLeap", "Thinning"]
