"""A discrete law on given points: ``x = values_m`` with probability ``weights_m``.

Its oracle is closed-form for every family and bounded by ``max(values)``:
Normal-Normal ``log r_m = log w_m - 1/2 sum (A v^2 - 2 S v)``; Gamma-Poisson
``log r_m = log w_m + sum (N log v - A v)``; Dirichlet-Categorical
``log r_m = log w_m + sum c log v``; and ``E*[x | state] = sum_m r_m v_m``.
"""

from __future__ import annotations

import torch

from .._validation import positive_int, probability_vectors, real_probability_vectors, real_tensor
from ..families import DirichletCategorical, GammaPoisson, NormalNormal
from .base import Target, counts, mixture_mean, sum_event
from .gaussian import gaussian_mixture_rule


def _weighted_values(params, log_evidence):
    values = params["values"]
    return mixture_mean(torch.log(params["weights"]) + log_evidence, values.expand(log_evidence.shape[0], *values.shape))


def normal_rule(family, params, S, A):
    """The Gaussian-mixture oracle with zero variances (point masses are its ``s = 0`` limit)."""
    values = params["values"]
    return gaussian_mixture_rule(family, {"weights": params["weights"], "means": values,
                                          "variances": torch.zeros_like(values)}, S, A)


def poisson_rule(family, params, S, A):
    N, A = counts(S).unsqueeze(1), A.unsqueeze(1)
    values = params["values"]
    return _weighted_values(params, sum_event(torch.xlogy(N, values) - A * values))


def categorical_rule(family, params, S, events):
    return _weighted_values(params, sum_event(torch.xlogy(counts(S).unsqueeze(1), params["values"])))


class PointMasses(Target):
    """``P(x = values[m]) = weights[m]``; ``values`` has shape ``(M, *shape)`` (``(M, *shape, K)``
    of probability vectors for Dirichlet-Categorical, values >= 0 for Gamma-Poisson)."""

    joint_components = True

    def __init__(self, weights, values):
        """``weights``: a probability vector of length M; ``values``: finite, of shape ``(M, *shape)``."""
        self.weights = real_probability_vectors(weights, "weights")
        if self.weights.dim() != 1:
            raise ValueError(f"weights must be 1-D (one weight per point), got shape {tuple(self.weights.shape)}")
        self.values = real_tensor(values, "values")
        if self.values.dim() == 0 or self.values.shape[0] != self.weights.shape[0]:
            raise ValueError(f"values must have a leading axis of size M={self.weights.shape[0]}, "
                             f"got shape {tuple(self.values.shape)}")
        self.weights = self.weights.to(self.values.dtype)
        self.shape = self.values.shape[1:]
        self.xhat_max = float(self.values.max())

    def sample(self, n, generator=None):
        n = positive_int(n, "n")
        return self.values[torch.multinomial(self.weights, n, replacement=True, generator=generator)]

    def _oracle_parameters(self):
        return {"weights": self.weights, "values": self.values}

    def _rules(self):
        return {NormalNormal: normal_rule, GammaPoisson: poisson_rule, DirichletCategorical: categorical_rule}

    def data_shape(self, family):
        return self.shape[:-1] if family.has_class_axis else self.shape

    def _check_family(self, family):
        if isinstance(family, GammaPoisson) and float(self.values.min()) < 0:
            raise ValueError("values must be >= 0 for a GammaPoisson oracle")
        if isinstance(family, DirichletCategorical):
            probability_vectors(self.values, "values")
            if self.values.shape[-1] != family.num_classes:
                raise ValueError(f"family: num_classes={family.num_classes}, but the PointMasses values have "
                                 f"{self.values.shape[-1]} classes on their last axis (shape "
                                 f"{tuple(self.values.shape)})")
        super()._check_family(family)
