"""``torchsde:<method>``: torchsde's Ito solvers on a Normal-Normal SDE, through the driver.

Each grid interval is one call of ``torchsde.sdeint`` with ``dt`` equal to the interval, so
torchsde steps exactly on the driver's grid; the Brownian motion is the user's ``bm`` or a
``torchsde.BrownianInterval`` made from the seed (torchsde's noise depends on the batch size).
``sdeint`` evaluates the drift once per call to check shapes; that evaluation does not enter the
solution and is not counted as an NFE.
"""

from __future__ import annotations

import torch

from ..processes import NormalNormalSDE
from .base import Solver, State

#: Declared (weak, strong) orders of torchsde's Ito methods for additive noise.
METHODS = {"euler": (1.0, 1.0), "milstein": (1.0, 1.0), "srk": (2.0, 1.5)}


class _Flat(torch.nn.Module):
    """The process on flattened states, calling the predictor through the run's evaluator."""

    noise_type = "diagonal"
    sde_type = "ito"

    def __init__(self, process: NormalNormalSDE, predict):
        super().__init__()
        self.process, self.predict = process, predict
        self.shape_check_pending = True

    def f(self, t, y):
        A, alpha, lam = self.process.coefficients(torch.as_tensor(t, dtype=y.dtype, device=y.device))
        mu = self.process._unflatten(y)
        predictor = self.process.predictor if self.shape_check_pending else self.predict
        self.shape_check_pending = False
        return ((alpha / lam) * (predictor(mu, A) - mu)).reshape(y.shape)

    def g(self, t, y):
        return self.process.g(t, y)


class TorchsdeSolver(Solver):
    """torchsde's ``method`` (euler, milstein, srk) stepping on the driver's grid."""

    process_type = NormalNormalSDE
    markov = False

    def __init__(self, method: str):
        if method not in METHODS:
            raise ValueError(f"torchsde method must be one of {sorted(METHODS)}, got {method!r}")
        self.method = method
        self.name = f"torchsde:{method}"
        self.weak_order, self.strong_order = METHODS[method]

    def prepare(self, process, times, A, rate):
        self._bm = None
        self._times = times

    def step(self, predict, state, interval, noise):
        import torchsde

        mu = state.mu
        y = mu.reshape(mu.shape[0], -1)
        bm = noise.bm
        if bm is None:
            if self._bm is None:
                self._bm = torchsde.BrownianInterval(
                    t0=float(self._times[0]), t1=float(self._times[-1]), size=y.shape, dtype=y.dtype,
                    device=y.device, entropy=noise.seed, levy_area_approximation="space-time")
            bm = self._bm
        ts = torch.stack([interval.t0, interval.t1]).to(y.dtype)
        out = torchsde.sdeint(_Flat(predict.process, predict), y, ts, method=self.method,
                              dt=float(interval.h), bm=bm)[-1]
        return State(out.reshape(mu.shape), interval.A1)
