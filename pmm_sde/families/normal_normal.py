"""Normal-Normal: prior ``x ~ N(mean, 1/precision)`` per coordinate, ``y | x ~ N(x, 1/alpha)``."""

from __future__ import annotations

import math

import torch
from torch.distributions import Distribution, Normal

from .._validation import common_shape, real_positive, real_tensor
from .base import ConjugateFamily, nonfinite, stream_normal


class NormalNormal(ConjugateFamily):
    """Normal-Normal conjugate pair.

    Update: ``lambda' = lambda + alpha``, ``mu' = (lambda mu + alpha y) / lambda'``.
    Given x after information A: ``mu ~ N((l0 m0 + A x) / (l0 + A), A / (l0 + A)^2)``.
    """

    prediction_constraint = "finite"
    entrywise_prediction_check = "finite"

    positive_parameters = ("precision",)
    strength_label = "precision"
    statistic_label = "precision * mean"

    def __init__(self, mean: float | torch.Tensor = 0.0, precision: float | torch.Tensor = 1.0):
        """``mean`` and ``precision > 0``: finite real tensors that broadcast to one shape."""
        self.mean = real_tensor(mean, "mean")
        self.precision = real_positive(precision, "precision").to(self.mean.dtype)
        common_shape(mean=self.mean, precision=self.precision)
        self.check_prior()

    def _parameters(self) -> dict[str, torch.Tensor]:
        return {"mean": self.mean, "precision": self.precision}

    @property
    def prior_strength(self) -> torch.Tensor:
        return self.precision

    @property
    def prior_statistic(self) -> torch.Tensor:
        return self.precision * self.mean

    def observe(self, x, alpha, seed, counter, offset=0):
        """``y = x + alpha^(-1/2) z``, ``z`` standard normal."""
        z = stream_normal(x.shape, seed, counter, x, offset)
        return x + z * torch.rsqrt(torch.as_tensor(alpha, dtype=x.dtype, device=x.device))

    def evidence(self, x, alpha, seed, counter, offset=0):
        """``s = alpha y = alpha x + sqrt(alpha) z`` (finite also for a zero-information step)."""
        alpha = torch.as_tensor(alpha, dtype=x.dtype, device=x.device)
        z = stream_normal(x.shape, seed, counter, x, offset)
        return alpha * x + torch.sqrt(alpha) * z, alpha

    def increments(self, y, alpha):
        """``s = alpha y``; an observation with ``alpha = 0`` (infinite noise) adds nothing."""
        alpha = torch.as_tensor(alpha, dtype=y.dtype, device=y.device)
        return torch.where(alpha > 0, alpha * y, torch.zeros_like(y)), alpha

    def statistic_law(self, x, A) -> Distribution:
        """``S = sum alpha y ~ N(A x, A)``."""
        A = torch.as_tensor(A, dtype=x.dtype, device=x.device)
        return Normal(A * x, torch.sqrt(A).expand_as(x), validate_args=False)

    def _sample_statistic(self, x, A, generator):
        A = torch.as_tensor(A, dtype=x.dtype, device=x.device)
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return A * x + torch.sqrt(A) * noise

    def log_likelihood(self, y, x, alpha):
        alpha = torch.as_tensor(alpha, dtype=y.dtype, device=y.device)
        return 0.5 * (torch.log(alpha) - math.log(2 * math.pi)) - 0.5 * alpha * (y - x) ** 2

    def invalid_prediction(self, xhat):
        lo, hi = torch.aminmax(xhat)  # NaN propagates: both finite iff every entry is
        return nonfinite(lo + hi * 0.0)  # lo + 0 hi is finite iff lo and hi are
