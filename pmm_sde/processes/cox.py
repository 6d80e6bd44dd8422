"""The Gamma-Poisson PMM SDE driven by a Cox process (pmm-notes 2.2), and its multivariate form.

With ``b(t) = b0 + A(t)`` and a counting process ``N`` of intensity ``alpha(t) xhat(mu_{t-}, A(t))``:

    mu_t = (a0 + N_t) / b(t),    d mu = -(alpha / b) mu_{t-} dt + (1 / b) dN_t.

Between jumps ``mu b`` is constant (the deterministic flow); each jump raises mu by ``1 / b(t)``;
the compensator of N is ``int alpha xhat ds``. Frozen over a step, N gains Poisson(dA xhat): the PMM
update (tau-leaping).

Dirichlet-Categorical is the same machinery with one counting process per class and the
information measured in events: per position the classes jump at rates ``alpha(t) xhat_k``, whose
sum is ``alpha(t)`` since xhat is on the simplex, and ``mu = (beta0 + C) / (s0 + |C|)``.
"""

from __future__ import annotations

import math

import torch

from ..families import DirichletCategorical, GammaPoisson
from .base import PMMProcess


class GammaPoissonCoxSDE(PMMProcess):
    """Cox-process-driven SDE of Gamma-Poisson PMM (and of Dirichlet-Categorical PMM)."""

    family_types = (GammaPoisson, DirichletCategorical)

    @property
    def counts_information(self) -> bool:
        """True when the predictor's information is the event count (Dirichlet-Categorical)."""
        return self.family.has_class_axis

    @property
    def channels(self) -> int:
        """Counting processes per unit (a coordinate, or a position with its K classes)."""
        return math.prod(self.family.state_shape(()))

    def intensity_bound(self, xhat_max: float | None = None) -> float | None:
        """A bound on a unit's total intensity per unit of exposure: 1 for Dirichlet-Categorical (xhat
        is on the simplex), else ``xhat_max`` or the predictor's attribute ``xhat_max`` (None: unknown)."""
        if self.counts_information:
            return 1.0
        return xhat_max if xhat_max is not None else getattr(self.predictor, "xhat_max", None)

    def leap(self, noise, k: int, slot: int, mu: torch.Tensor, A: torch.Tensor, xhat: torch.Tensor,
             exposure: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu', A')`` after the counts ``c ~ Poisson(exposure xhat)`` of slot ``slot`` of step ``k``:
        the PMM update with the intensity frozen (``family.leap``)."""
        return self.family.leap(noise, k, slot, mu, A, xhat, exposure)

    def absorb_counts(self, mu: torch.Tensor, A: torch.Tensor, counts: torch.Tensor, exposure
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu', A')`` after ``counts`` observed over ``exposure`` (Gamma-Poisson: mu flows to
        ``A + exposure``; Dirichlet-Categorical: the events are the information)."""
        return self.family.update(mu, A, counts, exposure)

    def intensity(self, t, mu: torch.Tensor, A: torch.Tensor | None = None) -> torch.Tensor:
        """Jump intensity ``alpha(t) xhat(mu, A)`` of each counting process."""
        t = torch.as_tensor(t, dtype=mu.dtype, device=mu.device)
        A = self.schedule.A(t) if A is None else A
        return self.schedule.rate(t) * self.predictor(mu, A)

    def jump_size(self, t, A: torch.Tensor | None = None) -> torch.Tensor:
        """``1 / b(t)``: the rise of mu at one event (Gamma-Poisson)."""
        A = self.schedule.A(t) if A is None else A
        return 1.0 / self.family.strength(A)

    def flow(self, mu: torch.Tensor, A0, A1) -> torch.Tensor:
        """Deterministic flow between jumps: ``mu(A1) = mu(A0) b(A0) / b(A1)`` (Gamma-Poisson)."""
        return mu * self.family.strength(A0) / self.family.strength(A1)

    def compensator_increment(self, mu: torch.Tensor, t0, t1, A: torch.Tensor | None = None) -> torch.Tensor:
        """``(A(t1) - A(t0)) xhat``: the compensator's increment with xhat frozen at ``t0``."""
        t0 = torch.as_tensor(t0, dtype=mu.dtype, device=mu.device)
        A0 = self.schedule.A(t0) if A is None else A
        return (self.schedule.A(torch.as_tensor(t1, dtype=mu.dtype, device=mu.device)) - self.schedule.A(t0)) \
            * self.predictor(mu, A0)
