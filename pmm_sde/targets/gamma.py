"""Gamma and Gamma-mixture targets, with Gamma-Poisson oracles.

With ``N | x ~ Poisson(A x)`` and a component ``Gamma(a, b)``: ``x | N ~ Gamma(a + N, b + A)``
(posterior mean ``(a + N) / (b + A)``), and ``N`` is Negative Binomial; up to terms common to all
components ``log p(N | component) = lgamma(a + N) - lgamma(a) + a log b - (a + N) log(b + A)``.
"""

from __future__ import annotations

import torch

from ..streams import reference as random
from .._validation import common_shape, positive_int, real_positive, real_probability_vectors
from ..families import GammaPoisson
from .base import Target, mixture_mean, sum_event


def gamma_mixture_rule(family, params, N, A):
    """Gamma-Poisson oracle of a Gamma mixture (components on axis 1)."""
    N, A = N.unsqueeze(1), A.unsqueeze(1)
    a, b = params["concentrations"], params["rates"]
    log_evidence = sum_event(torch.lgamma(a + N) - torch.lgamma(a) + a * torch.log(b) - (a + N) * torch.log(b + A))
    return mixture_mean(torch.log(params["weights"]) + log_evidence, (a + N) / (b + A))


class Gamma(Target):
    """``x ~ Gamma(concentration, rate)`` independently per coordinate."""

    state_shaped_parameters = ("concentration", "rate")
    positive_parameters = ("concentration", "rate")

    def __init__(self, concentration: float | torch.Tensor = 1.0, rate: float | torch.Tensor = 1.0):
        """``concentration > 0`` and ``rate > 0``: finite real tensors that broadcast to the data shape."""
        self.concentration = real_positive(concentration, "concentration")
        self.rate = real_positive(rate, "rate").to(self.concentration.dtype)
        self.shape = common_shape(concentration=self.concentration, rate=self.rate)

    def sample(self, n, generator=None):
        n = positive_int(n, "n")
        a = self.concentration.expand(n, *self.shape)
        return torch._standard_gamma(a.contiguous(), generator=generator) / self.rate

    def _oracle_parameters(self):
        return {"concentration": self.concentration, "rate": self.rate}

    def _rules(self):
        return {GammaPoisson: lambda family, p, N, A: (p["concentration"] + N) / (p["rate"] + A)}

    def count_law(self, A: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``N(A)`` is Negative Binomial: returns ``(r, p)`` with ``r = a*``, success probability
        ``p = A / (b* + A)`` in scipy's convention ``nbinom(r, 1 - p)`` (pmm-notes fact 12)."""
        a, b = self.concentration.double(), self.rate.double()
        return a, A / (b + A)

    def exact_observation(self, family: GammaPoisson, mu: torch.Tensor, A: torch.Tensor,
                          alpha: torch.Tensor | float, seed: int, counter: int) -> torch.Tensor:
        """Draw from the target's predictive: ``x ~ Gamma(a* + N, b* + A)``, ``y ~ Poisson(alpha x)``."""
        N = family.statistic(mu, A)
        shape = (self.concentration.to(mu) + N).expand_as(mu).contiguous()
        x = random.gamma(shape, seed, counter) / (self.rate.to(mu) + A)
        return random.poisson(alpha * x, seed, counter + 1, validate=False)


class GammaMixture(Target):
    """Mixture ``sum_k w_k Gamma(concentrations_k, rates_k)``, parameters of shape ``(K, *shape)``."""

    joint_components = True
    positive_parameters = ("concentrations", "rates")

    def __init__(self, weights, concentrations, rates):
        """``weights``: a probability vector of length K; ``concentrations > 0`` and ``rates > 0``:
        finite, broadcasting to ``(K, *shape)``."""
        self.weights = real_probability_vectors(weights, "weights")
        if self.weights.dim() != 1:
            raise ValueError(f"weights must be 1-D (one weight per component), got shape {tuple(self.weights.shape)}")
        K = self.weights.shape[0]
        a = real_positive(concentrations, "concentrations")
        b = real_positive(rates, "rates").to(a.dtype)
        common_shape(concentrations=a, rates=b)
        a, b = torch.broadcast_tensors(a, b)
        if a.dim() == 0 or a.shape[0] != K:
            raise ValueError(f"concentrations and rates must have a leading axis of size K={K} (the length of "
                             f"weights), got shape {tuple(a.shape)}")
        self.concentrations, self.rates = a, b
        self.weights = self.weights.to(a.dtype)
        self.shape = a.shape[1:]

    def sample(self, n, generator=None):
        n = positive_int(n, "n")
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        return torch._standard_gamma(self.concentrations[k].contiguous(), generator=generator) / self.rates[k]

    def _oracle_parameters(self):
        return {"weights": self.weights, "concentrations": self.concentrations, "rates": self.rates}

    def _rules(self):
        return {GammaPoisson: gamma_mixture_rule}
