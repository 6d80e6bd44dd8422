"""``torchsde:<method>``: torchsde's Ito solvers on a Normal-Normal SDE, through the driver.

Each grid interval is one call of ``torchsde.sdeint`` with ``dt`` equal to the interval, so
torchsde steps exactly on the driver's grid. The Brownian motion is the user's ``bm`` or, by
default, a ``CounterBrownian`` keyed by the seed with the grid's times (in the run's dtype) as its
nodes: sample ``i``'s path depends on the seed, its index and the grid only, never on the batch size.
The drift and diffusion are the process's own torchsde ``f`` and ``g``, ``xhat`` from the run's
evaluator. ``sdeint`` evaluates the drift once per call to check its shape; that evaluation returns
the state itself (only its shape is read) and calls no predictor.
"""

from __future__ import annotations

import math

import torch
import torchsde

from ..streams import CounterBrownian
from ..processes import NormalNormalSDE
from .base import Solver, State

#: Declared (weak, strong) orders of torchsde's Ito methods for additive noise.
METHODS = {"euler": (1.0, 1.0), "milstein": (1.0, 1.0), "srk": (2.0, 1.5)}


class _Flat(torch.nn.Module):
    """The process's torchsde interface with ``xhat`` from the run's evaluator (counting NFE)."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, process: NormalNormalSDE, predict):
        super().__init__()
        self.process, self.predict = process, predict
        self.shape_check_pending = True

    def f(self, t, y):
        if self.shape_check_pending:
            self.shape_check_pending = False
            return y
        return self.process.f(t, y, self.predict)

    def g(self, t, y):
        return self.process.g(t, y)


class TorchsdeSolver(Solver):
    """torchsde's ``method`` (euler, milstein, srk) stepping on the driver's grid; the carry is the
    run's Brownian motion."""

    process_type = NormalNormalSDE
    markov = False

    def __init__(self, method: str):
        if method not in METHODS:
            raise ValueError(f"solver 'torchsde:{method}': the torchsde method must be one of {sorted(METHODS)}")
        self.method = method
        self.name = f"torchsde:{method}"
        self.weak_order, self.strong_order = METHODS[method]

    def init(self, process, grid, noise):
        """The user's ``bm``, else a ``CounterBrownian`` keyed by the seed with the grid's times (in the
        run's dtype) as its nodes."""
        if noise.bm is not None:
            return noise.bm
        times = grid.times.to(noise.dtype).to(torch.float64)
        size = (noise.shape[0], math.prod(noise.shape[1:]))
        return CounterBrownian(float(times[0]), float(times[-1]), size, noise.seed, times=times, dtype=noise.dtype,
                               device=noise.device, first_sample=noise.offset // size[1])

    def step(self, process, predict, state, interval, noise):
        mu = state.mu
        y = mu.reshape(mu.shape[0], -1)
        ts = torch.stack([interval.t0, interval.t1]).to(y.dtype)
        out = torchsde.sdeint(_Flat(process, predict), y, ts, method=self.method, dt=float(interval.h),
                              bm=state.carry)[-1]
        return State(out.reshape(mu.shape), interval.A1, state.carry)
