"""The Normal-Normal PMM SDE (pmm-notes 2.1) and its probability-flow ODE.

With ``lambda(t) = l0 + A(t)`` and ``alpha = A'(t)``:

    d mu = (alpha / lambda) (xhat(mu, A) - mu) dt + (sqrt(alpha) / lambda) dW.

In the statistic ``S = lambda mu - l0 m0`` the SDE reads ``dS = alpha xhat dt + sqrt(alpha) dW``:
a drift ``xhat`` and unit additive noise in the time ``A``. With xhat frozen over a step the
exact solution is the PMM update ``S' = S + dA xhat + sqrt(dA) z``.

Probability flow (same marginals, no noise), from the score ``(c + gamma xhat - mu) lambda^2 / A``
of the marginal of mu (``gamma = A / lambda``, ``c = l0 m0 / lambda``):

    d mu / dt = (alpha / lambda) (xhat - mu) - (alpha / (2 A)) (c + gamma xhat - mu).
"""

from __future__ import annotations

import math

import torch

from ..families import NormalNormal
from .base import PMMProcess


class NormalNormalSDE(PMMProcess):
    """``d mu = (alpha/lambda)(xhat - mu) dt + (sqrt(alpha)/lambda) dW``; a torchsde SDE on flat states."""

    noise_type = "diagonal"
    sde_type = "ito"
    family_types = (NormalNormal,)

    # ----------------------------------------------------------------- coefficients
    def coefficients(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(A(t), alpha(t), lambda(t))``."""
        A = self.schedule.A(t)
        return A, self.schedule.rate(t), self.family.strength(A)

    def drift(self, t, mu: torch.Tensor, predictor=None) -> torch.Tensor:
        """``(alpha / lambda) (xhat(mu, A) - mu)``, ``xhat`` from ``predictor`` (default: the process's)."""
        A, alpha, lam = self.coefficients(self._time(t, mu))
        return (alpha / lam) * ((self.predictor if predictor is None else predictor)(mu, A) - mu)

    def diffusion(self, t, mu: torch.Tensor) -> torch.Tensor:
        """``sqrt(alpha) / lambda`` (the same for every coordinate), broadcast to mu's shape."""
        _, alpha, lam = self.coefficients(self._time(t, mu))
        return (torch.sqrt(alpha) / lam).expand_as(mu)

    def probability_flow(self, t, mu: torch.Tensor) -> torch.Tensor:
        """Drift of the probability-flow ODE (undefined at A = 0, where the law of mu is a point)."""
        A, alpha, lam = self.coefficients(self._time(t, mu))
        xhat = self.predictor(mu, A)
        return (alpha / lam) * (xhat - mu) - (alpha / (2 * A)) * (self.family.prior_statistic / lam
                                                                   + (A / lam) * xhat - mu)

    def advance_statistic(self, mu: torch.Tensor, A0, A1, increment: torch.Tensor) -> torch.Tensor:
        """mu at ``A1`` after ``S' = S + increment``: ``(lambda(A0) mu + increment) / lambda(A1)``."""
        return (self.family.strength(A0) * mu + increment) / self.family.strength(A1)

    def frozen_step(self, mu: torch.Tensor, A0, A1, xhat: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Exact transition over ``[A0, A1]`` with ``xhat`` frozen: ``S' = S + dA xhat + sqrt(dA) z``."""
        dA = A1 - A0
        return self.advance_statistic(mu, A0, A1, dA * xhat + torch.sqrt(dA) * z)

    # ----------------------------------------------------------------- torchsde interface
    def f(self, t, y: torch.Tensor, predictor=None) -> torch.Tensor:
        """torchsde drift on flattened states ``(n, d)``, ``d`` the entries of one state; ``xhat`` from
        ``predictor`` (default: the process's)."""
        return self.drift(t, self._unflatten(y), predictor).reshape(y.shape)

    def g(self, t, y: torch.Tensor) -> torch.Tensor:
        """torchsde diagonal diffusion on flattened states ``(n, d)``."""
        self._check_width(y)
        return self.diffusion(t, y)

    def _check_width(self, y: torch.Tensor) -> None:
        """Raise unless ``y`` is ``(n, d)`` with ``d`` the number of entries of one state."""
        width = math.prod(self.family.state_shape(self.shape))
        if y.dim() != 2 or y.shape[1] != width:
            got = f"width {y.shape[1]}" if y.dim() == 2 else f"shape {tuple(y.shape)}"
            raise ValueError(f"y must be flattened states of shape (n, {width}) for this process (shape={self.shape}), "
                             f"got {got}; pass shape= to the process so that one state has y's width "
                             f"(shape=(d,) for d-dimensional points)")

    def _unflatten(self, y: torch.Tensor) -> torch.Tensor:
        self._check_width(y)
        return y.reshape(self.state_shape(y.shape[0]))

    @staticmethod
    def _time(t, mu: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(t, dtype=mu.dtype, device=mu.device)
