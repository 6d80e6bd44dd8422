"""The variational bound (negative ELBO) of a PMM model, in bits per dimension (or per token).

The model generates the evidence path (the observation process on ``t`` in [0, 1]) with its plug-in
dynamics ``Q`` (evidence drawn given ``xhat(mu_t, A_t)``), then decodes x from the terminal state
with ``p(x | state_1)``. Under the data, the path given x has law ``P(. | x)``. Jensen's inequality
on ``log p(x) = log E_Q[p(x | state_1)]`` with the proposal ``P(. | x)`` gives, for every x,

    -log p(x) <= KL(P(. | x) || Q) + E_{P(. | x)}[-log p(x | state_1)].

Path KL (the time integral of the KL rate between the two evidence processes; ``objectives``):

- NormalNormal: ``dY = alpha x dt + sqrt(alpha) dB`` under P and ``alpha xhat dt + sqrt(alpha) dB``
  under Q; by Girsanov ``KL = E int_0^1 alpha(t)/2 |x - xhat(mu_t, A_t)|^2 dt``.
- GammaPoisson: counting processes of intensities ``alpha x`` and ``alpha xhat``;
  ``KL = E int_0^1 alpha(t) sum_i [x_i log(x_i / xhat_i) - x_i + xhat_i] dt``.
- DirichletCategorical (Poisson clock): per position, class k jumps at rate ``alpha x_k`` under P
  and ``alpha xhat_k`` under Q; the rates both sum to alpha, so ``KL = E int_0^1 alpha(t) KL(x || xhat) dt``.

Under ``P(. | x)`` the state at time t has the closed-form law ``family.sample_state(x, A(t))``, so
the path KL is ``int_0^1 E[c alpha(t) D] dt``, estimated per point with ``time_points`` stratified
times from a ``TimeSampler`` and weights ``1 / r(t)``: the ``likelihood``-weighted objective.

Terminal decoders, at ``A1 = A(1)``:

- NormalNormal: the conjugate posterior ``N(x; mu_1, 1 / lambda_1)`` per coordinate, a density, so
  the bound is on the differential entropy (it may be negative). With ``S_1 ~ N(A1 x, A1)`` its
  expectation is closed form: ``1/2 log(2 pi / lambda_1) + (l0^2 (x - m0)^2 + A1) / (2 lambda_1)``.
- GammaPoisson (integer counts): ``p(x = k | N_1) = Poisson(N_1; A1 k) / sum_j Poisson(N_1; A1 j)``
  over integers ``k, j >= 0``, one draw ``N_1 ~ Poisson(A1 x)`` per point (the sum is taken over a
  window of 10 standard deviations around ``N_1 / A1``).
- DirichletCategorical (one-hot tokens): ``Cat(x; xhat(state_1))``, one draw of the state at ``A1``.

With the exact oracle ``E*[x | state]`` the path KL is the mutual information between x and the
path, and the bound exceeds the entropy of the data only by the decoder's expected KL from the true
posterior ``p*(x | state_1)``, which vanishes as ``A1`` grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import positive_int
from ..chain import Predictor
from ..families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal
from ..schedules import Schedule
from .objectives import data_dims, divergence, pointwise_loss, posterior_state, time_weight
from .times import TimeSampler


@dataclass(frozen=True)
class Bound:
    """Per-point terms of the bound (nats) and their summaries in bits per ``unit``."""

    path_kl: torch.Tensor
    reconstruction: torch.Tensor
    dims: int
    unit: str

    @property
    def nats(self) -> torch.Tensor:
        """The bound on ``-log p(x)`` per data point, in nats."""
        return self.path_kl + self.reconstruction

    def _bits(self, nats: torch.Tensor) -> float:
        return float(nats.mean()) / (self.dims * math.log(2))

    @property
    def bits_per_dim(self) -> float:
        """Mean bound in bits per data coordinate (per token for DirichletCategorical)."""
        return self._bits(self.nats)

    @property
    def stderr(self) -> float:
        """Standard error of ``bits_per_dim`` over the data points."""
        n = self.nats.numel()
        return float(self.nats.std()) / math.sqrt(n) / (self.dims * math.log(2)) if n > 1 else float("nan")

    def to_dict(self) -> dict:
        """JSON-able summary."""
        return {"bits_per_dim": self.bits_per_dim, "stderr": self.stderr, "unit": self.unit,
                "path_kl_bits_per_dim": self._bits(self.path_kl),
                "reconstruction_bits_per_dim": self._bits(self.reconstruction), "n": int(self.nats.numel())}


def _time_average(integrand, x: torch.Tensor, time_points: int, sampler: TimeSampler,
                  generator: torch.Generator | None, batch_size: int) -> torch.Tensor:
    """``int_0^1 f(x, t) dt`` per point by ``time_points`` stratified times, in chunks of points;
    ``integrand(x, t, inverse_density)`` returns ``f(x, t) / r(t)`` per row."""
    values = []
    for chunk in x.split(max(1, batch_size // time_points)):
        n = chunk.shape[0]
        t, inverse_density = sampler.stratified(n, time_points, generator, x.dtype, x.device)
        values.append(integrand(chunk.repeat_interleave(time_points, 0), t, inverse_density)
                      .reshape(n, time_points).mean(1))
    return torch.cat(values)


def _check_points(x: torch.Tensor, time_points: int, batch_size: int) -> tuple[int, int]:
    if not torch.is_tensor(x) or not x.is_floating_point() or x.dim() < 2:
        raise ValueError("x must be a floating tensor of shape (n, *shape) (one-hot (n, *shape, K) for tokens)")
    return positive_int(time_points, "time_points"), positive_int(batch_size, "batch_size")


def variational_bound(family: ConjugateFamily, schedule: Schedule, predictor: Predictor, x: torch.Tensor,
                      time_points: int = 16, time_sampler: str = "information",
                      generator: torch.Generator | None = None, batch_size: int = 8192) -> Bound:
    """The bound on ``-log p(x)`` for each row of ``x`` (one-hot rows for DirichletCategorical)."""
    time_points, batch_size = _check_points(x, time_points, batch_size)
    family = family.cast(x)
    sampler = TimeSampler(schedule, time_sampler)

    def integrand(points, t, inverse_density):
        return pointwise_loss(family, schedule, predictor, points, t, inverse_density, "likelihood", generator)

    with torch.no_grad():
        path_kl = _time_average(integrand, x, time_points, sampler, generator, batch_size)
        reconstruction = torch.cat([_reconstruction(family, schedule, predictor, chunk, generator)
                                    for chunk in x.split(batch_size)])
    unit = "bits/token" if family.has_class_axis else "bits/dim"
    return Bound(path_kl, reconstruction, data_dims(family, x), unit)


def path_kl_to_reference(family: ConjugateFamily, schedule: Schedule, predictor: Predictor, reference: Predictor,
                         x: torch.Tensor, time_points: int = 16, time_sampler: str = "information",
                         generator: torch.Generator | None = None, batch_size: int = 8192) -> torch.Tensor:
    """``int_0^1 c alpha(t) E[D(reference(state), predictor(state))] dt`` per row of ``x`` (nats), states
    drawn given x as in training.

    With the exact oracle ``reference = E*[x | state]`` and x from the data, its mean is the KL
    between the path laws of the exact process and of the one driven by ``predictor`` (each D is a
    Bregman divergence, so ``E[D(x, xhat)] - E[D(x, x*)] = E[D(x*, xhat)]``): the bound's excess over
    the exact model, and, by data processing, a bound on ``KL(data || model)`` of exact simulation.
    """
    time_points, batch_size = _check_points(x, time_points, batch_size)
    family = family.cast(x)

    def integrand(points, t, inverse_density):
        mu, A = posterior_state(family, schedule, points, t, generator)
        weight = time_weight(family, schedule, t, inverse_density, "likelihood")
        return weight * divergence(family, reference(mu, A), predictor(mu, A))

    with torch.no_grad():
        return _time_average(integrand, x, time_points, TimeSampler(schedule, time_sampler), generator, batch_size)


def _reconstruction(family: ConjugateFamily, schedule: Schedule, predictor: Predictor, x: torch.Tensor,
                    generator: torch.Generator | None) -> torch.Tensor:
    """``E[-log p(x | state_1)]`` per point (an exact expectation for NormalNormal, one draw otherwise)."""
    A1 = schedule.A(torch.ones((), dtype=x.dtype, device=x.device))
    if isinstance(family, NormalNormal):
        strength = family.strength(A1)
        nll = 0.5 * torch.log(2 * math.pi / strength) \
            + ((family.prior_strength * (x - family.prior_mean)) ** 2 + A1) / (2 * strength)
    elif isinstance(family, GammaPoisson):
        nll = _count_decoder_nll(x, A1, generator)
    elif isinstance(family, DirichletCategorical):
        if not bool(((x == 0) | (x == 1)).all() & (x.sum(-1) == 1).all()):
            raise ValueError("x must be one-hot on its last axis for the DirichletCategorical bound")
        mu, events = family.sample_state(x, A1, generator)
        nll = -torch.xlogy(x, predictor(mu, events))
    else:
        raise ValueError(f"family must be NormalNormal, GammaPoisson or DirichletCategorical, "
                         f"got {type(family).__name__}")
    return nll.flatten(1).sum(1)


def _count_decoder_nll(x: torch.Tensor, A1: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """``-log p(x | N_1)`` with ``p(k | N) propto Poisson(N; A1 k)`` over integers k, ``N_1 ~ Poisson(A1 x)``."""
    if not bool(((x >= 0) & (x == torch.round(x))).all()):
        raise ValueError("x must hold integer counts >= 0 for the GammaPoisson bound (its decoder is discrete)")
    N = torch.poisson(A1 * x, generator=generator)
    half = int(torch.ceil(10 * torch.sqrt(N.max() + 1) / A1)) + 2
    k = torch.floor(N / A1).unsqueeze(-1) + torch.arange(-half, half + 1, dtype=x.dtype, device=x.device)
    log_p = torch.where(k >= 0, torch.xlogy(N.unsqueeze(-1), A1 * k.clamp_min(0)) - A1 * k, -torch.inf)
    return torch.logsumexp(log_p, -1) - (torch.xlogy(N, A1 * x) - A1 * x)
