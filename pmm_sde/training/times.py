"""Time samplers ``t ~ r(t)`` for the simulation-free objective and the variational bound.

An integral over time is estimated by importance sampling, ``int_0^1 f(t) dt = E_r[f(t) / r(t)]``,
so a sampler returns the times and their inverse densities ``1 / r(t)``.

- ``uniform``: ``t ~ U(0, 1)``, ``r(t) = 1``.
- ``information``: uniform in ``log(1 + A)``: ``u ~ U(0, 1)``, ``A = expm1(u log(1 + A(1)))``,
  ``t = schedule.inverse(A)``, so ``r(t) = alpha(t) / ((1 + A(t)) log(1 + A(1)))``. Each decade of
  information gets the same share of samples (under ``schedules.Exponential`` this is uniform in t).

Times are computed in float64 from uniforms ``u`` and returned in ``dtype``; ``stratified`` draws
one ``u`` in each of ``m`` equal strata per point, which lowers the variance of the bound.
"""

from __future__ import annotations

import math

import torch

from .._validation import positive_int
from ..schedules import Schedule

TIME_SAMPLERS = ("uniform", "information")


class TimeSampler:
    """Draws ``(t, 1 / r(t))`` for ``kind`` in ``TIME_SAMPLERS`` under ``schedule``."""

    def __init__(self, schedule: Schedule, kind: str = "information"):
        if kind not in TIME_SAMPLERS:
            raise ValueError(f"time_sampler must be one of {TIME_SAMPLERS}, got {kind!r}")
        self.schedule = schedule
        self.kind = kind
        self._log_growth = math.log1p(schedule.total)

    def from_uniform(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Times and inverse densities (float64) from uniforms ``u`` in [0, 1)."""
        u = u.to(torch.float64)
        if self.kind == "uniform":
            return u, torch.ones_like(u)
        A = torch.expm1(u.clamp_min(1e-12) * self._log_growth)  # A > 0 keeps alpha(t) > 0
        t = self.schedule.inverse(A).clamp(0.0, 1.0)
        return t, (1.0 + A) * self._log_growth / self.schedule.rate(t)

    def sample(self, n: int, generator: torch.Generator | None = None, dtype: torch.dtype | None = None,
               device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` independent times, shape ``(n,)``."""
        u = torch.rand(positive_int(n, "n"), generator=generator, dtype=torch.float64, device=_draw_device(generator))
        return self._cast(*self.from_uniform(u), dtype, device)

    def stratified(self, n: int, m: int, generator: torch.Generator | None = None,
                   dtype: torch.dtype | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``m`` times per point for ``n`` points, one in each stratum ``[j/m, (j+1)/m)``; shape ``(n * m,)``,
        point-major (the ``m`` times of point i are consecutive)."""
        n, m = positive_int(n, "n"), positive_int(m, "time_points")
        draws = torch.rand(n, m, generator=generator, dtype=torch.float64, device=_draw_device(generator))
        u = (torch.arange(m, dtype=torch.float64, device=draws.device) + draws) / m
        return self._cast(*self.from_uniform(u.reshape(-1)), dtype, device)

    @staticmethod
    def _cast(t, inverse_density, dtype, device):
        dtype = dtype or torch.get_default_dtype()
        return t.to(dtype=dtype, device=device), inverse_density.to(dtype=dtype, device=device)


def _draw_device(generator: torch.Generator | None) -> torch.device:
    """Uniforms are drawn on the generator's device (a CUDA generator draws on the GPU)."""
    return generator.device if generator is not None else torch.device("cpu")
