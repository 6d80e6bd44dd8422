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

from .. import kernels
from ..families import NormalNormal
from .base import PMMProcess


class NormalNormalSDE(PMMProcess):
    """``d mu = (alpha/lambda)(xhat - mu) dt + (sqrt(alpha)/lambda) dW``; a torchsde SDE on flat states."""

    noise_type = "diagonal"
    sde_type = "ito"
    family_types = (NormalNormal,)

    # ----------------------------------------------------------------- coefficients
    def strength(self, A) -> torch.Tensor:
        """``lambda = l0 + A``: the posterior precision."""
        return self.family.strength(A)

    def coefficients(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(A(t), alpha(t), lambda(t))``."""
        A = self.schedule.A(t)
        return A, self.schedule.rate(t), self.strength(A)

    def drift_at(self, mu: torch.Tensor, xhat: torch.Tensor, A, alpha) -> torch.Tensor:
        """``(alpha / lambda(A)) (xhat - mu)``: the drift at information ``A`` and rate ``alpha``."""
        return (alpha / self.strength(A)) * (xhat - mu)

    def diffusion_at(self, A, alpha) -> torch.Tensor:
        """``sqrt(alpha) / lambda(A)``: the diffusion coefficient, the same for every coordinate."""
        return torch.sqrt(alpha) / self.strength(A)

    def drift(self, t, mu: torch.Tensor, predictor=None) -> torch.Tensor:
        """``(alpha / lambda) (xhat(mu, A) - mu)`` at time ``t``, ``xhat`` from ``predictor`` (default:
        the process's)."""
        A, alpha, _ = self.coefficients(self._time(t, mu))
        return self.drift_at(mu, (self.predictor if predictor is None else predictor)(mu, A), A, alpha)

    def diffusion(self, t, mu: torch.Tensor) -> torch.Tensor:
        """``sqrt(alpha) / lambda`` at time ``t``, broadcast to mu's shape."""
        A, alpha, _ = self.coefficients(self._time(t, mu))
        return self.diffusion_at(A, alpha).expand_as(mu)

    def probability_flow(self, t, mu: torch.Tensor) -> torch.Tensor:
        """Drift of the probability-flow ODE (undefined at A = 0, where the law of mu is a point)."""
        A, alpha, lam = self.coefficients(self._time(t, mu))
        xhat = self.predictor(mu, A)
        return self.drift_at(mu, xhat, A, alpha) - (alpha / (2 * A)) * (self.family.prior_statistic / lam
                                                                         + (A / lam) * xhat - mu)

    def advance_statistic(self, mu: torch.Tensor, A0, A1, increment: torch.Tensor) -> torch.Tensor:
        """mu at ``A1`` after ``S' = S + increment``: ``(lambda(A0) mu + increment) / lambda(A1)``."""
        return (self.strength(A0) * mu + increment) / self.strength(A1)

    def frozen_step(self, noise, k: int, slot: int, mu: torch.Tensor, xhat: torch.Tensor, A0, A1) -> torch.Tensor:
        """Exact transition over ``[A0, A1]`` with ``xhat`` frozen, the PMM update:
        ``S' = S + dA xhat + sqrt(dA) z``, ``z`` from slot ``slot`` of step ``k`` of ``noise``
        (``kernels.pmm_chain``)."""
        dA = A1 - A0
        return kernels.pmm_chain(noise, k, slot, mu, xhat, self.strength(A0), self.strength(A1), dA, torch.sqrt(dA))

    def flow_coordinate(self, mu: torch.Tensor, A) -> torch.Tensor:
        """``y = S / sqrt(A)``: the coordinate in which the probability flow reads ``dy / d sqrt(A) = xhat``."""
        return self.family.statistic(mu, A) / torch.sqrt(A)

    def from_flow_coordinate(self, y: torch.Tensor, A) -> torch.Tensor:
        """mu at information ``A`` from ``y = S / sqrt(A)``."""
        return self.family.posterior_mean(y * torch.sqrt(A), A)

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
