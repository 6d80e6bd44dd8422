"""Gamma-Poisson: prior ``x ~ Gamma(concentration, rate)`` per coordinate, ``y | x ~ Poisson(alpha x)``."""

from __future__ import annotations

import torch
from torch.distributions import Distribution, Poisson

from .. import kernels
from .._validation import common_shape, real_positive
from .base import ConjugateFamily, nonfinite, stream_poisson


class GammaPoisson(ConjugateFamily):
    """Gamma-Poisson conjugate pair (shape ``a0`` = concentration, rate ``b0``; torch's names).

    Update: ``b' = b + alpha``, ``mu' = (b mu + y) / b'``; the count ``N = b mu - a0``.
    Given x after exposure A: ``N ~ Poisson(A x)``, ``mu = (a0 + N) / (b0 + A)``.
    """

    prediction_constraint = "finite and >= 0"
    entrywise_prediction_check = "finite and >= 0"

    positive_parameters = ("concentration", "rate")
    strength_label = "rate"
    statistic_label = "concentration"

    def __init__(self, concentration: float | torch.Tensor = 1.0, rate: float | torch.Tensor = 1.0):
        """``concentration > 0`` and ``rate > 0``: finite real tensors that broadcast to one shape."""
        self.concentration = real_positive(concentration, "concentration")
        self.rate = real_positive(rate, "rate").to(self.concentration.dtype)
        common_shape(concentration=self.concentration, rate=self.rate)

    def _parameters(self) -> dict[str, torch.Tensor]:
        return {"concentration": self.concentration, "rate": self.rate}

    @property
    def prior_strength(self) -> torch.Tensor:
        return self.rate

    @property
    def prior_statistic(self) -> torch.Tensor:
        return self.concentration

    def observe(self, x, alpha, seed, counter, offset=0):
        """``y ~ Poisson(alpha x)``."""
        return stream_poisson(alpha * x, seed, counter, offset)

    def increments(self, y, alpha):
        return y, torch.as_tensor(alpha, dtype=y.dtype, device=y.device)

    def leap(self, noise, k: int, slot: int, mu: torch.Tensor, A: torch.Tensor, xhat: torch.Tensor,
             exposure: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Absorb ``N ~ Poisson(exposure xhat)`` (``kernels.tau_leap``, slot ``slot`` of step ``k``):
        ``A' = A + exposure``, ``mu' = ((b0 + A) mu + N) / (b0 + A')``."""
        A_next = A + exposure
        return kernels.tau_leap(noise, k, slot, mu, xhat, self.strength(A), self.strength(A_next), exposure), A_next

    def statistic_law(self, x, A) -> Distribution:
        """``N ~ Poisson(A x)``."""
        return Poisson(torch.as_tensor(A, dtype=x.dtype, device=x.device) * x, validate_args=False)

    def _sample_statistic(self, x, A, generator):
        return torch.poisson(torch.as_tensor(A, dtype=x.dtype, device=x.device) * x, generator=generator)

    def log_likelihood(self, y, x, alpha):
        rate = alpha * x
        return torch.xlogy(y, rate) - rate - torch.lgamma(y + 1.0)

    def invalid_prediction(self, xhat):
        lo, hi = torch.aminmax(xhat)  # NaN propagates: valid iff 0 <= lo and hi < inf
        return ~(lo >= 0) | nonfinite(hi)
