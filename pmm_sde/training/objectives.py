"""The simulation-free PMM objective (pmm-notes 1.4): draw x, draw t, draw the posterior state.

For a data point x, a time ``t ~ r(t)`` (``times.TimeSampler``), the information ``A = A(t)`` and
a posterior state ``(mu, A_info) ~ family.sample_state(x, A)`` (its closed-form law given x), the
predictor's error is a divergence ``D(x, xhat)``, ``xhat = predictor(mu, A_info)``, summed over the
data coordinates:

- NormalNormal, squared error:                 ``D = sum_i (x_i - xhat_i)^2``;
- GammaPoisson, Poisson KL (half the deviance): ``D = sum_i x_i log(x_i / xhat_i) - x_i + xhat_i``;
- DirichletCategorical, categorical KL:        ``D = sum_positions sum_k x_k log(x_k / xhat_k)``
  (the cross-entropy ``-sum_k x_k log xhat_k`` for one-hot x).

Each is a Bregman divergence in xhat, so every weighting is minimised by ``xhat = E*[x | state]``.
The objective is ``E_x E_{t ~ r} E_state [w(t) D] / d`` (d data coordinates, or positions), with

- ``uniform``:    ``w = 1``;
- ``likelihood``: ``w = c alpha(t) / r(t)``, ``c = 1/2`` (NormalNormal) or ``1``: an unbiased
  estimate of the path KL ``int_0^1 c alpha(t) D dt`` between the observation process given x and
  the model's (``bound.py``), so this objective is the variational bound up to its terminal term.
  Its rate is the KL rate of the evidence: ``alpha/2 (x - xhat)^2`` for ``dY = alpha x dt +
  sqrt(alpha) dB`` (Girsanov); ``alpha (x log(x/xhat) - x + xhat)`` for counts of intensity
  ``alpha x`` against ``alpha xhat``; ``alpha KL(x || xhat)`` for the Poisson clock with classes
  ``~ x`` against ``~ xhat`` (the class intensities ``alpha x_k`` and ``alpha xhat_k`` both sum to alpha).
- ``next_mean`` (NormalNormal with a scalar prior precision): ``w = (alpha(t) / lambda(t))^2 / r(t)``:
  the error of the posterior mean's drift, ``E[d mu | mu, x] - E_theta[d mu | mu] = (alpha / lambda)
  (x - xhat) dt``, the continuous-time form of matching the next posterior mean (pmm-notes 1.4).
"""

from __future__ import annotations

import torch

from ..chain import Predictor
from ..families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal
from ..schedules import Schedule
from .times import TimeSampler

WEIGHTINGS = ("uniform", "likelihood", "next_mean")


def divergence(family: ConjugateFamily, x: torch.Tensor, xhat: torch.Tensor) -> torch.Tensor:
    """``D(x, xhat)`` per data point (shape ``(n,)``), summed over its coordinates; see the module."""
    if isinstance(family, NormalNormal):
        terms = (x - xhat) ** 2
    elif isinstance(family, (GammaPoisson, DirichletCategorical)):
        terms = torch.xlogy(x, x) - torch.xlogy(x, xhat)
        if isinstance(family, GammaPoisson):
            terms = terms - x + xhat
    else:
        raise ValueError(f"family must be NormalNormal, GammaPoisson or DirichletCategorical, "
                         f"got {type(family).__name__}")
    return terms.flatten(1).sum(1)


def kl_rate_scale(family: ConjugateFamily) -> float:
    """``c`` in the path-KL rate ``c alpha(t) D``: 1/2 for Brownian evidence, 1 for Poisson evidence."""
    return 0.5 if isinstance(family, NormalNormal) else 1.0


def data_dims(family: ConjugateFamily, x: torch.Tensor) -> int:
    """Coordinates per data point (positions for DirichletCategorical: the class axis is excluded)."""
    shape = x.shape[1:-1] if family.has_class_axis else x.shape[1:]
    return int(torch.Size(shape).numel())


def time_weight(family: ConjugateFamily, schedule: Schedule, t: torch.Tensor, inverse_density: torch.Tensor,
                weighting: str) -> torch.Tensor:
    """``w(t)`` of ``weighting`` (see the module), importance-corrected by ``1 / r(t)`` where stated."""
    if weighting == "uniform":
        return torch.ones_like(t)
    if weighting == "likelihood":
        return kl_rate_scale(family) * schedule.rate(t) * inverse_density
    if weighting == "next_mean":
        if not isinstance(family, NormalNormal) or family.prior_strength.numel() != 1:
            raise ValueError(f"weighting 'next_mean' is for NormalNormal with one prior precision, got {family!r}")
        strength = family.strength(schedule.A(t)).reshape(-1)
        return (schedule.rate(t) / strength) ** 2 * inverse_density
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {weighting!r}")


def posterior_state(family: ConjugateFamily, schedule: Schedule, x: torch.Tensor, t: torch.Tensor,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One draw of ``(mu, A_info)`` given x at times ``t`` (one per point): the training distribution."""
    A = schedule.A(t).reshape(-1, *([1] * (x.dim() - 1)))
    return family.sample_state(x, A, generator)


def state_loss(family: ConjugateFamily, schedule: Schedule, predictor: Predictor, x: torch.Tensor,
               t: torch.Tensor, inverse_density: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor],
               weighting: str = "uniform") -> torch.Tensor:
    """``w(t) D(x, xhat(mu, A_info))`` per data point, shape ``(n,)``, for drawn ``state = (mu, A_info)``."""
    mu, A_info = state
    return time_weight(family, schedule, t, inverse_density, weighting) * divergence(family, x, predictor(mu, A_info))


def pointwise_loss(family: ConjugateFamily, schedule: Schedule, predictor: Predictor, x: torch.Tensor,
                   t: torch.Tensor, inverse_density: torch.Tensor, weighting: str = "uniform",
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``w(t) D(x, xhat(state))`` per data point at the given times, shape ``(n,)``."""
    if t.shape != (x.shape[0],) or inverse_density.shape != t.shape:
        raise ValueError(f"t and inverse_density must have shape ({x.shape[0]},), got "
                         f"{tuple(t.shape)} and {tuple(inverse_density.shape)}")
    family = family.cast(x)
    state = posterior_state(family, schedule, x, t, generator)
    return state_loss(family, schedule, predictor, x, t, inverse_density, state, weighting)


def pmm_loss(family: ConjugateFamily, schedule: Schedule, predictor: Predictor, x: torch.Tensor,
             generator: torch.Generator | None = None, weighting: str = "uniform",
             time_sampler: str = "information") -> torch.Tensor:
    """The PMM objective on a batch ``x``: ``mean_i w(t_i) D(x_i, xhat_i) / d``, with ``t_i ~ r``."""
    t, inverse_density = TimeSampler(schedule, time_sampler).sample(x.shape[0], generator, x.dtype, x.device)
    loss = pointwise_loss(family, schedule, predictor, x, t, inverse_density, weighting, generator)
    return loss.mean() / data_dims(family, x)
