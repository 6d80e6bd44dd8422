"""Gaussian and diagonal Gaussian-mixture targets, with Normal-Normal oracles.

With ``S = sum alpha y ~ N(A x, A)`` given x and a component ``N(m, s^2)``:
``x | S, component ~ N((m + s^2 S) / (1 + A s^2), s^2 / (1 + A s^2))`` and, up to terms common
to all components, ``log p(S | component) = -1/2 sum_d ([A m^2 - 2 S m - S^2 s^2] / (1 + A s^2)
+ log(1 + A s^2))``: finite at A = 0 and for s = 0 (point masses).
"""

from __future__ import annotations

import torch

from ..streams import reference as random
from .._validation import (common_shape, positive_int, real_nonnegative, real_positive, real_probability_vectors,
                           real_tensor)
from ..families import NormalNormal
from .base import Target, mixture_mean, sum_event


def component_posterior_mean(mean: torch.Tensor, var: torch.Tensor, S: torch.Tensor, A: torch.Tensor
                             ) -> torch.Tensor:
    """``E[x | S] = (m + s^2 S) / (1 + A s^2)`` for ``x ~ N(m, s^2)``, ``S | x ~ N(A x, A)``."""
    return (mean + var * S) / (1.0 + A * var)


def component_log_evidence(mean: torch.Tensor, var: torch.Tensor, S: torch.Tensor, A: torch.Tensor
                           ) -> torch.Tensor:
    """``log p(S | component)`` up to terms common to all components, summed over the event axes."""
    scaled = 1.0 + A * var
    return -0.5 * sum_event((A * mean ** 2 - 2.0 * S * mean - S ** 2 * var) / scaled + torch.log(scaled))


def _mixture_rule_at_one_information(weights: torch.Tensor, mean: torch.Tensor, var: torch.Tensor,
                                     S: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """``gaussian_mixture_rule`` for one 0-dim ``A`` shared by the batch, as matrix products.

    With ``c_k = 1 + A s_k^2`` (per coordinate), ``u_k = m_k / c_k`` and ``v_k = s_k^2 / c_k`` the
    component posterior mean is ``u_k + v_k S`` and the log evidence is
    ``-1/2 sum_d (A m_k^2 / c_k + log c_k) + S . u_k + 1/2 S^2 . v_k``, so the oracle is
    ``r @ u + S (r @ v)`` with ``r = softmax(log w + log evidence)``.
    """
    K = mean.shape[0]
    scaled = 1.0 + A * var.reshape(K, -1)
    u, v = mean.reshape(K, -1) / scaled, var.reshape(K, -1) / scaled
    offset = -0.5 * (A * mean.reshape(K, -1) ** 2 / scaled + torch.log(scaled)).sum(1)
    flat = S.reshape(S.shape[0], -1)
    r = torch.softmax(torch.log(weights) + offset + flat @ u.T + 0.5 * (flat * flat) @ v.T, dim=1)
    return (r @ u + flat * (r @ v)).reshape(S.shape)


def gaussian_mixture_rule(family, params, S, A):
    """Normal-Normal oracle of a diagonal Gaussian mixture (components on axis 1).

    An ``A`` expanded from one value (all strides 0: the oracle's broadcast of a step's scalar
    ``A``) takes the matrix-product form of ``_mixture_rule_at_one_information``.
    """
    mean, var = params["means"], params["variances"]
    if A.dim() and not any(A.stride()):
        return _mixture_rule_at_one_information(params["weights"], mean, var, S, A[(0,) * A.dim()])
    S, A = S.unsqueeze(1), A.unsqueeze(1)
    log_w = torch.log(params["weights"]) + component_log_evidence(mean, var, S, A)
    return mixture_mean(log_w, component_posterior_mean(mean, var, S, A))


class Gaussian(Target):
    """``x ~ N(mean, std^2)`` independently per coordinate."""

    state_shaped_parameters = ("mean", "variance")

    def __init__(self, mean: float | torch.Tensor = 0.0, std: float | torch.Tensor = 1.0):
        """``mean`` and ``std > 0``: finite real tensors that broadcast to the data shape."""
        self.mean = real_tensor(mean, "mean")
        self.std = real_positive(std, "std").to(self.mean.dtype)
        self.shape = common_shape(mean=self.mean, std=self.std)

    def sample(self, n, generator=None):
        n = positive_int(n, "n")
        z = torch.randn((n, *self.shape), generator=generator, dtype=self.mean.dtype)
        return self.mean + self.std * z

    def _oracle_parameters(self):
        return {"mean": self.mean, "variance": self.std ** 2}

    def _rules(self):
        return {NormalNormal: lambda family, p, S, A: component_posterior_mean(p["mean"], p["variance"], S, A)}

    def marginal(self, family: NormalNormal, A: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact law of mu after information A: ``N(c + gamma m, gamma^2 s^2 + A / lambda^2)`` (mean, var).

        ``lambda = l0 + A``, ``gamma = A / lambda``, ``c = l0 m0 / lambda`` (pmm-notes fact 8).
        """
        A = torch.as_tensor(A, dtype=torch.float64)
        lam = family.precision.double() + A
        gamma = A / lam
        mean = family.prior_statistic.double() / lam + gamma * self.mean.double()
        var = gamma ** 2 * self.std.double() ** 2 + A / lam ** 2
        return mean, var

    def exact_observation(self, family: NormalNormal, mu: torch.Tensor, A: torch.Tensor,
                          alpha: torch.Tensor | float, seed: int, counter: int) -> torch.Tensor:
        """Draw from the target's predictive ``y | state ~ N(E*[x|S], 1/alpha + s^2 / (1 + A s^2))``."""
        var = (self.std ** 2).to(mu)
        mean = self.mean.to(mu)
        S = family.statistic(mu, A)
        z = random.normal(tuple(mu.shape), seed, counter, dtype=mu.dtype, device=mu.device)
        return component_posterior_mean(mean, var, S, A) + z * torch.sqrt(1.0 / alpha + var / (1.0 + A * var))


class GaussianMixture(Target):
    """Mixture ``sum_k w_k N(means_k, diag(stds_k^2))``; ``means`` and ``stds`` have shape ``(K, *shape)``."""

    joint_components = True

    def __init__(self, weights, means, stds):
        """``weights``: a probability vector of length K; ``means`` and ``stds >= 0``: finite, broadcasting
        to ``(K, *shape)``."""
        self.weights = real_probability_vectors(weights, "weights")
        if self.weights.dim() != 1:
            raise ValueError(f"weights must be 1-D (one weight per component), got shape {tuple(self.weights.shape)}")
        K = self.weights.shape[0]
        means = real_tensor(means, "means")
        stds = real_nonnegative(stds, "stds").to(means.dtype)
        common_shape(means=means, stds=stds)
        means, stds = torch.broadcast_tensors(means, stds)
        if means.dim() == 0 or means.shape[0] != K:
            raise ValueError(f"means and stds must have a leading axis of size K={K} (the length of weights), "
                             f"got shape {tuple(means.shape)}")
        self.means, self.stds = means, stds
        self.weights = self.weights.to(means.dtype)
        self.shape = means.shape[1:]

    def sample(self, n, generator=None):
        n = positive_int(n, "n")
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn((n, *self.shape), generator=generator, dtype=self.means.dtype)
        return self.means[k] + self.stds[k] * z

    def _oracle_parameters(self):
        return {"weights": self.weights, "means": self.means, "variances": self.stds ** 2}

    def _rules(self):
        return {NormalNormal: gaussian_mixture_rule}
