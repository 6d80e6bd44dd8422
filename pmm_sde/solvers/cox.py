"""Solvers of the Cox-process SDE of Gamma-Poisson PMM (and of Dirichlet-Categorical PMM).

Time is measured in the exposure ``A``: there each coordinate's counting process has intensity
``xhat(mu, A)``, the rate ``alpha(t)`` drops out, and a step reads only the grid's ``A0``, ``A1``
and ``dA = A1 - A0``. Notation: ``(mu, A)`` the state, ``N`` its counts (``family.statistic``) and
``absorb(mu, A, c, a)`` the conjugate update by counts ``c`` carrying information ``a``:

    Gamma-Poisson:          a = exposure,  N' = N + c,  A' = A + a,    mu' = (a0 + N') / (b0 + A');
    Dirichlet-Categorical:  a = |c|,       C' = C + c,  A' = A + |c|,  mu' = (beta0 + C') / (s0 + A').

Gamma-Poisson: between events N is constant, so is ``mu (b0 + A) = a0 + N`` (the flow), and an
event raises mu by ``1 / (b0 + A)``. Dirichlet-Categorical: the state's A counts the events of a
position (not the grid's exposure); they arrive at unit rate in the exposure whatever the state
(xhat is on the simplex), each with its class drawn from xhat.
"""

from __future__ import annotations

import math

import torch

from .. import kernels
from .._validation import real_number
from ..processes import GammaPoissonCoxSDE, PMMProcess
from .base import Solver, State, register

#: A prediction may exceed ``xhat_max`` by this many units of roundoff (``eps`` of its dtype).
BOUND_ROUNDOFF = 16


def leap(backend: str, family, noise, state: State, xhat: torch.Tensor, dA: torch.Tensor, k: int, slot: int
         ) -> State:
    """One leap with the intensity ``xhat`` frozen over the exposure ``dA``:

        c ~ Poisson(dA xhat),   (mu', A') = absorb(mu, A, *family.increments(c, dA)),

    the counts from slot ``slot`` of step ``k``'s noise (or the next increments of its Poisson paths).

    On the Triton or native ``backend`` (``kernels.fused_backend``), with counter-based noise and a
    prior of one total strength (``b0``, or the Dirichlet's ``s0``), the leap is one fused kernel
    with the arithmetic of the torch path, so both give the same numbers:
    ``kernels.tau_leap_step(mu, xhat, A, A + dA, b0, seed, counter(k, slot), dA=dA)`` (Gamma-Poisson:
    ``A' = A + dA``, ``mu' = ((b0 + A) mu + c) / (b0 + A')``) or
    ``kernels.categorical_tau_leap_step(mu, xhat, A, dA, s0, seed, counter(k, slot))``
    (Dirichlet-Categorical: ``A' = A + |c|`` per position, ``mu' = ((s0 + A) mu + c) / (s0 + A')``).
    Otherwise the torch path.
    """
    per_position = family.has_class_axis
    scalars = (family.prior_strength, dA) if per_position else (family.prior_strength, dA, state.A)
    fused = kernels.fused_backend(backend, state.mu, xhat, *scalars) if noise.counter_based else "torch"
    if fused != "torch" and per_position:
        return State(*kernels.categorical_tau_leap_step(state.mu, xhat, state.A, dA, family.prior_strength.reshape(()),
                                                        noise.seed, noise.counter(k, slot), backend=fused))
    if fused != "torch":
        A1 = state.A + dA
        mu = kernels.tau_leap_step(state.mu, xhat, state.A, A1, family.prior_strength.reshape(()), noise.seed,
                                   noise.counter(k, slot), backend=fused, dA=dA)
        return State(mu, A1)
    return State(*family.absorb(state.mu, state.A, *family.increments(noise.poisson(k, dA * xhat, slot), dA)))


@register
class TauLeap(Solver):
    """Tau-leaping: the intensity frozen at the left end, which is the discrete PMM update,

        c ~ Poisson(dA xhat(mu, A)),   (mu', A') = absorb(mu, A, c, a),

    with ``a = dA`` (Gamma-Poisson) or ``a = |c|`` (Dirichlet-Categorical). The counts come from
    stream ``(seed, counter(k, 0))`` as in ``run_chain``, so ``sample(process, "tau_leap", grid=g)``
    equals ``run_chain(family, diff(A(g)), predictor)`` with the same seed. Exact for a constant
    predictor; weak order 1; 1 NFE per step.

    ``backend`` (``"auto"``, ``"torch"``, ``"native"``, ``"triton"``; ``"auto"`` is Triton for CUDA
    tensors when triton imports, the compiled CPU steps for CPU tensors when a C compiler works): on
    Triton or native a step with one prior strength (Gamma-Poisson's ``b0``, the Dirichlet's total
    concentration) and the counter-based noise (no ``poisson_paths``) runs as one fused kernel (see
    ``leap``), with the same numbers as the torch path; other runs take the torch path.
    """

    name = "tau_leap"
    process_type = GammaPoissonCoxSDE
    weak_order = 1.0
    strong_order = 1.0
    poisson_counts = True

    def __init__(self, backend: str = "auto"):
        kernels.check_backend(backend)
        self.backend = backend

    def step(self, predict, state, interval, noise):
        return leap(self.backend, predict.family, noise, state, predict(state.mu, state.A), interval.dA,
                    interval.index, 0)


@register
class TauLeap2(Solver):
    """Trapezoidal tau-leaping (the weak trapezoidal method of Anderson & Mattingly 2011, the
    theta = 1/2 member of Hu, Li & Min's theta-trapezoidal tau-leaping): a half step of tau_leap,
    then a half step whose intensity extrapolates the two predictions to the end of the step,

        c1 ~ Poisson(dA/2 xhat0),                        xhat0 = xhat(mu, A),
        (mu*, A*) = absorb(mu, A, c1, dA/2),              xhat* = xhat(mu*, A*),
        c2 ~ Poisson(dA/2 max(2 xhat* - xhat0, 0)),      (mu', A') = absorb(mu*, A*, c2, dA/2).

    Weak order 2 for a fixed process as ``dA -> 0``, not only in the large-count limit. With
    ``h = dA``, ``lambda(N, A) = xhat`` along the flow, and no clipping, the one-step law matches the
    exact one to O(h^3): ``P(no event) = exp(-h lambda(N, A + h/2))`` (the midpoint rule for
    ``exp(-int lambda dA)``); ``E[c1 + c2] = h E[lambda(N + c1, A + h/2)]`` (the midpoint rule for
    the compensator); and two events, on channel i then on channel j, have probability
    ``h^2/2 lambda_i(N) lambda_j(N + e_i)``, because the second stage's rate sees the first
    stage's jumps. Midpoint tau-leaping, with a deterministic midpoint state, gets
    ``h^2/2 lambda_i lambda_j(N)`` there, so it is weak order 1 unless counts are large.
    The clipping at 0 is inactive for small steps if no event more than halves an intensity:
    ``2 xhat_j(N + e_i) >= xhat_j(N)``. That holds for a one-dimensional oracle (its posterior mean
    grows with the count), but not always for coordinates coupled through the predictor; where it
    fails, the clipping acts with probability O(dA) and the scheme is first order. 2 NFE per step.

    Gamma-Poisson only: after one event a sharp Dirichlet-Categorical predictor (a categorical
    oracle) is one-hot, so ``2 xhat* - xhat0`` has negative class rates and the clipped scheme is
    first order there; use tau_leap or thinning.

    ``backend`` as for ``tau_leap``: each half step is one fused kernel where ``leap`` allows it
    (slots 0 and 1 of the step's noise), with the same numbers as the torch path.
    """

    name = "tau_leap_2"
    process_type = GammaPoissonCoxSDE
    weak_order = 2.0
    strong_order = 1.0
    poisson_counts = True
    restriction = ("second order for Gamma-Poisson only: for Dirichlet-Categorical its extrapolated class rates "
                   "2 xhat* - xhat0 turn negative; use tau_leap or thinning")

    @classmethod
    def applies_to(cls, process: PMMProcess) -> bool:
        return super().applies_to(process) and not process.counts_information

    def __init__(self, backend: str = "auto"):
        kernels.check_backend(backend)
        self.backend = backend

    def step(self, predict, state, interval, noise):
        family, k = predict.family, interval.index
        half = 0.5 * interval.dA
        xhat0 = predict(state.mu, state.A)
        mid = leap(self.backend, family, noise, state, xhat0, half, k, 0)
        extrapolated = torch.clamp(2.0 * predict(mid.mu, mid.A) - xhat0, min=0.0)
        return leap(self.backend, family, noise, mid, extrapolated, half, k, 1)


@register
class Thinning(Solver):
    """Exact simulation by thinning (Lewis-Shedler) on each grid window, in the exposure A.

    A unit is a coordinate (Gamma-Poisson, one channel) or a position (Dirichlet-Categorical, whose
    K classes are its channels); ``R`` bounds a unit's total intensity: ``R = xhat_max``
    (Gamma-Poisson: ``Thinning(xhat_max=...)``, else the predictor's ``xhat_max``) or ``R = 1``
    (Dirichlet-Categorical: the class intensities sum to 1). On ``[A0, A1]``, with ``c`` the
    window's counts so far (0 at A0) and ``update(c, e) = absorb(mu, A, *increments(c, e))`` the
    state after the counts ``c`` and the exposure ``e`` since A0:

        each unit has a Poisson clock of rate R (gaps -log(U) / R); each sample takes its
        proposals in time order, and at its next one, at A_p, by unit i:
            xhat = xhat(update(c, A_p - A0)),   u ~ U(0, 1),   T = R (Gamma-Poisson) or sum_l xhat_il,
            an event on channel j (c_ij += 1) where sum_{l<j} xhat_il <= u T < sum_{l<=j} xhat_il,
            no event where u T >= sum_l xhat_il (a rejection: Gamma-Poisson only);
        at A1:  (mu', A') = update(c, dA).

    For Gamma-Poisson ``update`` flows mu to the exposure ``A + e`` and adds the counts; for
    Dirichlet-Categorical it adds the counts alone (the predictor sees events, not the clock).
    Exact in law on any grid: the grid only cuts the run into windows. Units coupled through the
    predictor are exact too, since each sample's proposals are taken one per round in time order.
    A round is one NFE for the batch; a window takes about ``R dA`` times the units per sample
    rounds, more for the batch's slowest sample: an exact reference for small problems, not a
    sampler for images. A prediction above ``xhat_max`` (beyond ``BOUND_ROUNDOFF`` eps of
    roundoff) raises a ValueError instead of biasing the law.

    Draws: the gap after a sample's r-th proposal from ``noise.uniform(k, 0, attempt=r + 1)`` (the
    first gap: attempt 0), its r-th mark ``u`` from ``noise.uniform(k, 1, attempt=r)``, both at the
    proposing unit's element (class 0 of a position), drawn at that element alone: a sample's draws
    depend on its index only.

    Cost caps, checked before the run: a sample expects ``units R (A(t_N) - A(t_0))`` proposals,
    about as many rounds (NFE); a run of ``n`` samples expects ``n`` times that. Above
    ``max_rounds`` (default 1e5) or ``max_proposals`` (default 1e8) the run is refused with the
    figures (a loose ``xhat_max`` inflates R); raise the caps to run anyway.
    """

    name = "thinning"
    process_type = GammaPoissonCoxSDE
    weak_order = math.inf

    def __init__(self, xhat_max: float | None = None, max_proposals: float = 1e8, max_rounds: float = 1e5):
        if xhat_max is not None:
            xhat_max = real_number(xhat_max, "xhat_max")
            if xhat_max <= 0:
                raise ValueError(f"xhat_max must be finite and > 0, got {xhat_max}")
        self.xhat_max = xhat_max
        self.max_proposals = real_number(max_proposals, "max_proposals")
        self.max_rounds = real_number(max_rounds, "max_rounds")
        for name, cap in (("max_proposals", self.max_proposals), ("max_rounds", self.max_rounds)):
            if cap < 1:
                raise ValueError(f"{name} must be >= 1, got {cap}")
        #: Expected proposals of one sample over the run being prepared (set by ``prepare``).
        self._proposals_per_sample: float | None = None

    def proposal_rate(self, process: PMMProcess) -> float:
        """``R``: the bound on a unit's total intensity per unit of exposure."""
        if process.counts_information:
            return 1.0
        bound = self.xhat_max if self.xhat_max is not None else getattr(process.predictor, "xhat_max", None)
        if bound is None:
            raise ValueError("thinning needs a bound xhat_max on the predictions: pass Thinning(xhat_max=...) "
                             "or use a predictor with an attribute xhat_max (oracles of bounded targets)")
        bound = real_number(bound, "thinning: the predictor's xhat_max")
        if bound <= 0:
            raise ValueError(f"thinning: the predictor's xhat_max must be finite and > 0, got {bound}")
        return bound

    def prepare(self, process, times, A, rate):
        """Check the bound and the expected rounds ``units R (A(t_N) - A(t_0))`` against ``max_rounds``."""
        bound = self.proposal_rate(process)
        units, exposure = math.prod(process.shape), float(A[-1] - A[0])
        per_sample = units * bound * exposure
        if per_sample > self.max_rounds:
            raise ValueError(f"thinning would take about {per_sample:.3g} proposal rounds (predictor evaluations) "
                             f"per sample: {units} units x proposal rate R = {bound:g} x exposure {exposure:g}, above "
                             f"max_rounds = {self.max_rounds:g}; R is xhat_max (a loose bound costs in proportion). "
                             f"Use tau_leap, a tighter xhat_max, or Thinning(max_rounds=...) to run anyway")
        self._proposals_per_sample = per_sample

    def _check_proposals(self, n: int) -> None:
        """Refuse a run of ``n`` samples expecting more than ``max_proposals`` proposals in all."""
        if self._proposals_per_sample is not None and n * self._proposals_per_sample > self.max_proposals:
            raise ValueError(f"thinning would take about {n * self._proposals_per_sample:.3g} proposals: {n} samples "
                             f"x {self._proposals_per_sample:.3g} per sample (units x proposal rate R x exposure), "
                             f"above max_proposals = {self.max_proposals:g}; use fewer samples, tau_leap, a tighter "
                             f"xhat_max, or Thinning(max_proposals=...) to run anyway")

    def step(self, predict, state, interval, noise):
        family, k = predict.family, interval.index
        if k == 0:
            self._check_proposals(state.mu.shape[0])
        rate = self.proposal_rate(predict.process)
        classes = family.has_class_axis
        n = state.mu.shape[0]
        rows = torch.arange(n, device=state.mu.device)
        channels = state.mu.shape[-1] if classes else 1
        exposure_shape = (n,) + (1,) * (state.mu.dim() - 1)

        units = (noise.index[..., 0] if classes else noise.index).reshape(n, -1)
        counts = torch.zeros(state.mu.shape, dtype=state.mu.dtype, device=state.mu.device)
        unit_counts = counts.view(n, -1, channels)
        clocks = interval.A0 - torch.log(noise.uniform(k, 0, attempt=0, index=units)) / rate
        r = 0
        while True:
            proposal, unit = clocks.min(1)
            proposer = units[rows, unit]
            active = proposal < interval.A1
            if not bool(active.any()):
                break
            exposure = (torch.minimum(proposal, interval.A1) - interval.A0).reshape(exposure_shape)
            xhat = predict(*family.update(state.mu, state.A, counts, exposure))
            if not classes:
                self._check_bound(xhat, rate)
            cdf = xhat.reshape(n, -1, channels)[rows, unit].cumsum(-1)
            total = cdf[:, -1] if classes else torch.full_like(proposal, rate)
            u = noise.uniform(k, 1, attempt=r, index=proposer)
            channel = (cdf <= (u * total).unsqueeze(-1)).sum(-1)
            event = torch.nn.functional.one_hot(channel, channels + 1)[:, :channels].to(counts.dtype)
            unit_counts[rows, unit] += event * active.unsqueeze(-1)
            gap = -torch.log(noise.uniform(k, 0, attempt=r + 1, index=proposer)) / rate
            clocks[rows, unit] += torch.where(active, gap, torch.zeros_like(gap))
            r += 1
        return State(*family.update(state.mu, state.A, counts, interval.dA))

    @staticmethod
    def _check_bound(xhat: torch.Tensor, bound: float) -> None:
        largest = float(xhat.max())
        if largest > bound * (1 + BOUND_ROUNDOFF * torch.finfo(xhat.dtype).eps):
            raise ValueError(f"thinning: the predictor returned {largest:.6g} > xhat_max = {bound:g}, the bound "
                             f"of the proposal rate, so the thinned law would be biased; give a valid bound")
