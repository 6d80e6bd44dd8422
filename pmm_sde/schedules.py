"""Information schedules: cumulative information ``A(t)`` on ``t`` in [0, 1], ``A(0) = 0``, increasing.

Every schedule gives ``A(t)``, its rate ``alpha(t) = A'(t)`` and its inverse ``t(A)``. Only ``A``
enters the laws of the posterior state, so a schedule is a time change: a predictor conditioned
on A (not on t) can be used under any schedule.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch

from ._validation import as_float_tensor, increasing, positive_float

Time = float | torch.Tensor


def _tensor(t: Time) -> torch.Tensor:
    """Tensors keep their floating dtype; Python numbers and integer tensors become float64."""
    t = torch.as_tensor(t, dtype=None if torch.is_tensor(t) else torch.float64)
    return t if t.is_floating_point() else t.to(torch.float64)


class Schedule(ABC):
    """Cumulative information ``A(t)``; subclasses implement ``A``, ``rate`` and ``inverse``."""

    total: float

    @abstractmethod
    def A(self, t: Time) -> torch.Tensor:
        """Cumulative information at time t."""

    @abstractmethod
    def rate(self, t: Time) -> torch.Tensor:
        """``alpha(t) = dA/dt``."""

    @abstractmethod
    def inverse(self, A: Time) -> torch.Tensor:
        """The time t at which ``A(t) = A``."""


class Linear(Schedule):
    """``A(t) = total t``."""

    def __init__(self, total: float):
        self.total = positive_float(total, "total")

    def A(self, t):
        return self.total * _tensor(t)

    def rate(self, t):
        return torch.full_like(_tensor(t), self.total)

    def inverse(self, A):
        return _tensor(A) / self.total

    def __repr__(self):
        return f"Linear(total={self.total:g})"


class Power(Schedule):
    """``A(t) = total t^power``."""

    def __init__(self, total: float, power: float):
        self.total = positive_float(total, "total")
        self.power = positive_float(power, "power")

    def A(self, t):
        return self.total * _tensor(t) ** self.power

    def rate(self, t):
        t = _tensor(t)
        return self.total * self.power * t ** (self.power - 1.0)

    def inverse(self, A):
        return (_tensor(A) / self.total) ** (1.0 / self.power)

    def __repr__(self):
        return f"Power(total={self.total:g}, power={self.power:g})"


class Exponential(Schedule):
    """``A(t) = (1 + total)^t - 1``: ``log(1 + A)`` is linear in t (BFN's schedule with sigma_1^-2 = 1 + total)."""

    def __init__(self, total: float):
        self.total = positive_float(total, "total")
        self._log_growth = math.log1p(self.total)

    def A(self, t):
        return torch.expm1(self._log_growth * _tensor(t))

    def rate(self, t):
        return self._log_growth * torch.exp(self._log_growth * _tensor(t))

    def inverse(self, A):
        return torch.log1p(_tensor(A)) / self._log_growth

    def __repr__(self):
        return f"Exponential(total={self.total:g})"


class Interpolated(Schedule):
    """Piecewise-linear ``A(t)`` through given points ``(times, values)``.

    ``times`` must start at 0 and end at 1, ``values`` must start at 0; both strictly increasing.
    """

    def __init__(self, times, values):
        self.times = increasing(as_float_tensor(times, "times", torch.float64), "times")
        self.values = increasing(as_float_tensor(values, "values", torch.float64), "values")
        if self.times.shape != self.values.shape:
            raise ValueError("times and values must have the same length")
        if float(self.times[0]) != 0.0 or float(self.times[-1]) != 1.0:
            raise ValueError("times must start at 0 and end at 1")
        if float(self.values[0]) != 0.0:
            raise ValueError("values must start at 0 (A(0) = 0)")
        self.total = float(self.values[-1])
        self._slopes = (self.values[1:] - self.values[:-1]) / (self.times[1:] - self.times[:-1])

    def _piece(self, knots: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(torch.searchsorted(knots, x.contiguous(), right=True) - 1, 0, len(knots) - 2)

    def A(self, t):
        t = _tensor(t)
        knots = self.times.to(t)
        i = self._piece(knots, t)
        return self.values.to(t)[i] + self._slopes.to(t)[i] * (t - knots[i])

    def rate(self, t):
        t = _tensor(t)
        return self._slopes.to(t)[self._piece(self.times.to(t), t)]

    def inverse(self, A):
        A = _tensor(A)
        values = self.values.to(A)
        i = self._piece(values, A)
        return self.times.to(A)[i] + (A - values[i]) / self._slopes.to(A)[i]

    def __repr__(self):
        return f"Interpolated({len(self.times)} points, total={self.total:g})"
