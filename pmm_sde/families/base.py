"""The conjugate algebra shared by every family: a posterior mean that is linear in the evidence.

With prior strength ``n0`` and prior mean ``mu0`` (pseudo-statistic ``n0 mu0``), an observation
``y`` carrying information ``alpha`` adds ``s(y, alpha)`` to the statistic and ``a(y, alpha)`` to
the information, and the posterior mean is (Diaconis-Ylvisaker, pmm-notes 1.3)

    n(A) = n0 + A,    mu = (n0 mu0 + S) / n(A),    S = sum of s(y, alpha),  A = sum of a(y, alpha).

Normal-Normal: s = alpha y, a = alpha.  Gamma-Poisson: s = y, a = alpha.
Dirichlet-Categorical: s = c (class counts), a = |c| (the number of evidence events).
Updates are therefore order invariant, and ``(mu, A)`` determines the posterior exactly.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import torch
from torch.distributions import Distribution

from .._validation import cast_parameter
from ..streams import draws


def stream_normal(shape: tuple[int, ...], seed: int, counter: int, like: torch.Tensor, offset: int = 0) -> torch.Tensor:
    """Standard normals of the stream ``(seed, counter)`` at element indices ``offset ..`` with
    ``like``'s dtype and device, drawn as the samplers draw them (``pmm_sde.kernels.normal``:
    compiled on the CPU, Triton on CUDA; the same numbers as ``pmm_sde.streams.reference.normal``)."""
    return draws.normal(tuple(shape), seed, counter, dtype=like.dtype, device=like.device, offset=offset)


def stream_poisson(rate: torch.Tensor, seed: int, counter: int, offset: int = 0) -> torch.Tensor:
    """Poisson(rate) counts of the stream ``(seed, counter)`` at element indices ``offset ..``, NaN
    at an invalid rate, drawn as the samplers draw them (``pmm_sde.kernels.poisson(validate=False)``;
    the same counts as ``pmm_sde.streams.reference.poisson``)."""
    return draws.poisson(rate, seed, counter, validate=False, offset=offset)


def nonfinite(x: torch.Tensor) -> torch.Tensor:
    """Where ``x`` is infinite or NaN: ``x * 0 != 0`` (``inf * 0`` and NaN are NaN). One multiply
    and one compare, where ``torch.isfinite`` runs several kernels on the CPU."""
    return x * 0.0 != 0


class ConjugateFamily(ABC):
    """A conjugate prior on x with observations ``y ~ pi_alpha(y | x)``; see the module docstring."""

    #: True when the state carries a trailing class axis (Dirichlet-Categorical).
    has_class_axis: bool = False
    #: Constraint on predictions, used in error messages.
    prediction_constraint: str = "finite"
    #: The constraint entry by entry, for checks that scan the prediction once (the compiled CPU
    #: check of ``PredictionMonitor``): "finite" or "finite and >= 0"; None (the default, and the
    #: simplex of Dirichlet-Categorical) leaves the check to ``invalid_prediction``, the reference.
    entrywise_prediction_check: str | None = None
    #: Parameters that must stay > 0 in every dtype the family is cast to.
    positive_parameters: tuple[str, ...] = ()
    #: How ``n0`` and ``n0 mu0`` are written in the family's parameters (for error messages).
    strength_label: str = "prior_strength"
    statistic_label: str = "prior_statistic"

    @property
    @abstractmethod
    def prior_strength(self) -> torch.Tensor:
        """``n0``: prior precision, rate or total concentration (broadcastable against the state)."""

    @property
    @abstractmethod
    def prior_statistic(self) -> torch.Tensor:
        """``n0 mu0``: the prior's pseudo-statistic."""

    @abstractmethod
    def _parameters(self) -> dict[str, torch.Tensor]:
        """The tensors that define the family, by attribute name (for casting)."""

    @abstractmethod
    def observe(self, x: torch.Tensor, alpha: torch.Tensor | float, seed: int, counter: int, offset: int = 0
                ) -> torch.Tensor:
        """Draw ``y ~ pi_alpha(y | x)`` from the counter-based stream ``(seed, counter)``; entry ``e`` of
        the flattened ``x`` draws at element index ``offset + e``."""

    @abstractmethod
    def increments(self, y: torch.Tensor, alpha: torch.Tensor | float
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s(y, alpha), a(y, alpha))``: what one observation adds to the statistic and to A."""

    @abstractmethod
    def statistic_law(self, x: torch.Tensor, A: torch.Tensor | float) -> Distribution:
        """Closed-form law of the statistic ``S`` given x after cumulative information ``A``."""

    @abstractmethod
    def log_likelihood(self, y: torch.Tensor, x: torch.Tensor, alpha: torch.Tensor | float
                       ) -> torch.Tensor:
        """``log pi_alpha(y | x)`` per data coordinate (per position for Dirichlet-Categorical)."""

    @abstractmethod
    def invalid_prediction(self, xhat: torch.Tensor) -> torch.Tensor:
        """Boolean tensor (0-dim): does ``xhat`` break ``prediction_constraint`` anywhere?"""

    # ------------------------------------------------------------------ shared algebra
    @property
    def prior_mean(self) -> torch.Tensor:
        """``mu0 = n0 mu0 / n0``."""
        return self.prior_statistic / self.prior_strength

    def param_shape(self) -> torch.Size:
        """Broadcast shape of one data point implied by the parameters (class axis excluded)."""
        shape = torch.broadcast_shapes(self.prior_statistic.shape, self.prior_strength.shape)
        return shape[:-1] if self.has_class_axis else shape

    def state_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the state ``mu`` of one data point of shape ``shape``."""
        return (*shape, self.num_classes) if self.has_class_axis else tuple(shape)

    def initial_state(self, n: int, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """The prior state ``(mu0, A = 0)`` for ``n`` data points of shape ``shape``."""
        mu = self.prior_mean.expand(n, *self.state_shape(shape)).clone()
        return mu, self.zero_information(mu)

    def zero_information(self, mu: torch.Tensor) -> torch.Tensor:
        """``A = 0`` shaped for ``mu``: a 0-dim tensor, or one value per position with a class axis."""
        if self.has_class_axis:
            return torch.zeros((*mu.shape[:-1], 1), dtype=mu.dtype, device=mu.device)
        return torch.zeros((), dtype=mu.dtype, device=mu.device)

    def strength(self, A: torch.Tensor | float) -> torch.Tensor:
        """``n(A) = n0 + A``."""
        return self.prior_strength + A

    def posterior_mean(self, S: torch.Tensor, A: torch.Tensor | float) -> torch.Tensor:
        """``mu = (n0 mu0 + S) / (n0 + A)``."""
        return (self.prior_statistic + S) / self.strength(A)

    def statistic(self, mu: torch.Tensor, A: torch.Tensor | float) -> torch.Tensor:
        """Invert the posterior mean: ``S = n(A) mu - n0 mu0``."""
        return self.strength(A) * mu - self.prior_statistic

    def evidence(self, x: torch.Tensor, alpha: torch.Tensor | float, seed: int, counter: int, offset: int = 0
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(s, a)`` of one observation ``y ~ pi_alpha(. | x)`` drawn from stream ``(seed, counter)``
        (entry ``e`` of ``x`` at element index ``offset + e``). With ``alpha = A`` the statistic ``s``
        is a draw of ``statistic_law(x, A)``: one observation carrying ``A`` is sufficient."""
        return self.increments(self.observe(x, alpha, seed, counter, offset), alpha)

    def absorb(self, mu: torch.Tensor, A: torch.Tensor, s: torch.Tensor, a: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Add evidence ``(s, a)``: ``mu' = (n(A) mu + s) / n(A + a)``, ``A' = A + a``."""
        A_next = A + a
        return (self.strength(A) * mu + s) / self.strength(A_next), A_next

    def update(self, mu: torch.Tensor, A: torch.Tensor, y: torch.Tensor,
               alpha: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """Online update by one observation ``y`` carrying information ``alpha``."""
        return self.absorb(mu, A, *self.increments(y, alpha))

    def batch_update(self, ys: list[torch.Tensor] | tuple[torch.Tensor, ...],
                     alphas: list[float] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior state after all observations at once: ``((n0 mu0 + sum s) / n(sum a), sum a)``."""
        if len(ys) != len(alphas):
            raise ValueError(f"ys and alphas must have the same length, got {len(ys)} and {len(alphas)}")
        S, A = 0.0, 0.0
        for y, alpha in zip(ys, alphas):
            s, a = self.increments(y, alpha)
            S, A = S + s, A + a
        S = torch.as_tensor(S)
        A = torch.as_tensor(A, dtype=S.dtype)
        return self.posterior_mean(S, A), A

    def state_from_statistic(self, S: torch.Tensor, A: torch.Tensor | float
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, A_info)`` from the statistic; ``A_info`` is what a predictor is given."""
        A = torch.as_tensor(A, dtype=S.dtype, device=S.device)
        return self.posterior_mean(S, A), A

    def sample_state(self, x: torch.Tensor, A: torch.Tensor | float,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw the posterior state given x and cumulative information A >= 0 (training distribution)."""
        A_values = torch.as_tensor(A)
        if A_values.is_complex() or not bool(((A_values >= 0) & torch.isfinite(A_values)).all()):
            raise ValueError(f"A must be finite and >= 0 (cumulative information), got {A!r}")
        return self.state_from_statistic(self._sample_statistic(x, A, generator), A)

    @abstractmethod
    def _sample_statistic(self, x: torch.Tensor, A: torch.Tensor | float,
                          generator: torch.Generator | None) -> torch.Tensor:
        """One draw from ``statistic_law(x, A)`` using ``generator``."""

    def same_as(self, other: "ConjugateFamily") -> bool:
        """Whether ``other`` is a family of the same class with equal parameters, up to a float32
        rounding (``rtol = 1e-6``), on any device."""
        if type(other) is not type(self) or getattr(other, "num_classes", None) != getattr(self, "num_classes", None):
            return False
        mine, theirs = self._parameters(), other._parameters()
        return all(mine[name].shape == theirs[name].shape
                   and torch.allclose(mine[name].detach().cpu().double(), theirs[name].detach().cpu().double(),
                                      rtol=1e-6, atol=0.0)
                   for name in mine)

    def check_prior(self) -> None:
        """Raise a ValueError unless ``n0`` and ``n0 mu0`` are finite in the parameters' dtype
        (``precision * mean``, say, can overflow where both factors are finite)."""
        for value, label in ((self.prior_strength, self.strength_label),
                             (self.prior_statistic, self.statistic_label)):
            if not bool(torch.isfinite(value).all()):
                dtype = str(value.dtype).replace("torch.", "")
                raise ValueError(f"{label} overflows {dtype}; use dtype=torch.float64 or smaller parameters")

    def cast(self, reference: torch.Tensor) -> "ConjugateFamily":
        """A copy whose parameters have the dtype and device of ``reference``.

        A change of dtype is checked where the parameters live, before they move: a parameter that
        overflows to inf, or a positive one that underflows to 0, raises a ValueError naming it.
        """
        family = copy.copy(self)
        parameters = self._parameters()
        if any(value.dtype != reference.dtype for value in parameters.values()):
            for name, value in parameters.items():
                setattr(family, name, cast_parameter(value, name, reference.dtype, name in self.positive_parameters))
            family.check_prior()
        for name, value in family._parameters().items():
            setattr(family, name, value.to(device=reference.device))
        return family

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v.tolist() if v.numel() <= 4 else tuple(v.shape)}"
                         for k, v in self._parameters().items())
        return f"{type(self).__name__}({args})"
