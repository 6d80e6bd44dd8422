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

from .._validation import real_number
from ..processes import GammaPoissonCoxSDE, PMMProcess
from .base import Solver, State, register

#: A prediction may exceed ``xhat_max`` by this many units of roundoff (``eps`` of its dtype).
BOUND_ROUNDOFF = 16


@register
class TauLeap(Solver):
    """Tau-leaping: the intensity frozen at the left end, which is the discrete PMM update,

        c ~ Poisson(dA xhat(mu, A)),   (mu', A') = absorb(mu, A, c, a),

    with ``a = dA`` (Gamma-Poisson) or ``a = |c|`` (Dirichlet-Categorical); the counts of slot 0 of
    step k, as ``run_chain``. Exact for a constant predictor; weak order 1; 1 NFE per step.
    """

    name = "tau_leap"
    process_type = GammaPoissonCoxSDE
    weak_order = 1.0
    strong_order = 1.0
    poisson_counts = True

    def step(self, process, predict, state, interval, noise):
        xhat = predict(state.mu, state.A)
        return State(*process.leap(noise, interval.index, 0, state.mu, state.A, xhat, interval.dA))


@register
class TauLeap2(Solver):
    """Trapezoidal tau-leaping (Anderson & Mattingly 2011; theta = 1/2 of Hu, Li & Min): a half step
    of tau_leap, then a half step whose intensity extrapolates the two predictions to the step's end,

        c1 ~ Poisson(dA/2 xhat0),                        xhat0 = xhat(mu, A),
        (mu*, A*) = absorb(mu, A, c1, dA/2),              xhat* = xhat(mu*, A*),
        c2 ~ Poisson(dA/2 max(2 xhat* - xhat0, 0)),      (mu', A') = absorb(mu*, A*, c2, dA/2),

    from slots 0 and 1 of step k. Weak order 2 as ``dA -> 0`` while the clipping at 0 is inactive
    (why, and when it is: ``docs/solvers.md``); 2 NFE per step. Gamma-Poisson only.
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

    def step(self, process, predict, state, interval, noise):
        k, half = interval.index, 0.5 * interval.dA
        xhat0 = predict(state.mu, state.A)
        mu, A = process.leap(noise, k, 0, state.mu, state.A, xhat0, half)
        extrapolated = torch.clamp(2.0 * predict(mu, A) - xhat0, min=0.0)
        return State(*process.leap(noise, k, 1, mu, A, extrapolated, half))


@register
class NegativeBinomialLeap(Solver):
    """Negative-binomial leaping: the step's counts from a Gamma fitted to the posterior of x,

        xhat0 = xhat(mu, A),   xhat1 = xhat(absorb(mu, A, 1, 0), A),   d = max(xhat1 - xhat0, 0),
        x~ ~ Gamma(xhat0 / d, rate 1 / d),   c ~ Poisson(dA x~),   (mu', A') = absorb(mu, A, c, dA),

    so ``c ~ NegativeBinomial(xhat0 / d, 1 / (1 + dA d))`` (``x~ = xhat0``, tau-leaping, where
    ``d = 0``). Given the state at ``A`` the exact count over ``[A, A + dA]`` is ``Poisson(dA x)``
    with x from the oracle's posterior, and an oracle's ``xhat0`` and ``xhat0 xhat1`` are that
    posterior's first two moments; the Gamma matches them (``docs/solvers.md``). Exact in law on
    any grid for a Gamma target; weak order 2 otherwise; 2 NFE per step, the Gamma from slot 0 and
    the counts from slot 1 of step k. Gamma-Poisson only.
    """

    name = "nb_leap"
    process_type = GammaPoissonCoxSDE
    weak_order = 2.0
    poisson_counts = True
    restriction = "Gamma-Poisson only: its Gamma fit is of a scalar intensity; use dirichlet_leap"

    @classmethod
    def applies_to(cls, process: PMMProcess) -> bool:
        return super().applies_to(process) and not process.counts_information

    def step(self, process, predict, state, interval, noise):
        k = interval.index
        xhat0 = predict(state.mu, state.A)
        one_more = process.absorb_counts(state.mu, state.A, torch.ones_like(state.mu), torch.zeros_like(interval.dA))
        slope = torch.clamp(predict(*one_more) - xhat0, min=0.0)
        spread = slope > 0
        shape = torch.where(spread, xhat0 / torch.where(spread, slope, torch.ones_like(slope)), torch.zeros_like(slope))
        intensity = torch.where(spread, noise.gamma(k, shape, slot=0) * slope, xhat0)
        return State(*process.leap(noise, k, 1, state.mu, state.A, intensity, interval.dA))


@register
class DirichletLeap(Solver):
    """Dirichlet leaping (Dirichlet-Categorical): a position's first event of the step exactly, the
    rest from a Dirichlet fitted to the posterior after it. Per position, with ``u``, ``v`` uniforms:

        xhat0 = xhat(mu, A),   T = -log u,   an event where T < dA, of class J = F^-1(v; xhat0),
        (mu*, A*) = absorb(mu, A, e_J, 0) (positions with an event),   xhat1 = xhat(mu*, A*),
        s = max((1 - xhat0_J) / (xhat1_J - xhat0_J), 1),
        x~ ~ Dirichlet(s xhat1)   (x~ = xhat1 where xhat1_J <= xhat0_J: no spread),
        c ~ Poisson((dA - T) x~),   (mu', A') = absorb(mu*, A*, c)   (c = 0 where T >= dA).

    Given the state, a position's events over the step are exactly ``Poisson(dA)`` in number, the
    first of class ``J ~ xhat0``, the next ones of classes drawn from x at the posterior after
    ``J``, whose mean is ``xhat1`` and whose concentration ``s`` the identity
    ``E[x_J | +e_J] = E[x_J^2] / E[x_J]`` gives for a Dirichlet posterior (``docs/solvers.md``).
    Exact in law on any grid for one position (or independent positions) whose posterior is a
    Dirichlet, a one-hot Categorical oracle included; weak order 2 per position otherwise (only a
    third event in one step is off); weak order 1 where positions are coupled through the
    predictor (two positions' events in one step are drawn independently). 2 NFE per step;
    ``u``, ``v`` from ``noise.uniform(k, 0, attempt=0 / 1)`` at each position's first element,
    the Dirichlet from ``noise.gamma`` slot 1, the counts from slot 2. Dirichlet-Categorical only.
    References: the first event as Gillespie's direct method (1977); the classes as a Polya-urn
    sequence of predictive laws (Blackwell and MacQueen 1973).
    """

    name = "dirichlet_leap"
    process_type = GammaPoissonCoxSDE
    weak_order = 2.0
    restriction = "Dirichlet-Categorical only: it draws each position's first event and a Dirichlet; use nb_leap"

    @classmethod
    def applies_to(cls, process: PMMProcess) -> bool:
        return super().applies_to(process) and process.counts_information

    def step(self, process, predict, state, interval, noise):
        k, dA, mu = interval.index, interval.dA, state.mu
        n, classes = mu.shape[0], process.channels
        xhat0 = predict(mu, state.A)
        first_element = noise.index.reshape(n, -1, classes)[..., 0]
        position_shape = state.A.shape
        wait = -torch.log(noise.uniform(k, 0, attempt=0, index=first_element)).reshape(position_shape)
        pick = noise.uniform(k, 0, attempt=1, index=first_element).reshape(position_shape)
        cdf = xhat0.cumsum(-1)
        J = torch.clamp((cdf <= pick * cdf[..., -1:]).sum(-1, keepdim=True), max=classes - 1)
        event = wait < dA
        first = torch.nn.functional.one_hot(J.squeeze(-1), classes).to(mu.dtype) * event
        mu1, A1 = process.absorb_counts(mu, state.A, first, torch.zeros_like(dA))
        xhat1 = predict(mu1, A1)
        x0, x1 = xhat0.gather(-1, J).double(), xhat1.gather(-1, J).double()
        spread = x1 > x0
        strength = torch.clamp((1.0 - x0) / torch.where(spread, x1 - x0, torch.ones_like(x1)), min=1.0)
        draws = noise.gamma(k, torch.where(spread, strength, torch.zeros_like(strength)) * xhat1.double(), slot=1)
        total = draws.sum(-1, keepdim=True)
        drawn = spread & (total > 0)
        x = torch.where(drawn, draws / torch.where(drawn, total, torch.ones_like(total)), xhat1.double())
        remaining = torch.where(event, (dA - wait) / dA, torch.zeros_like(wait))
        return State(*process.leap(noise, k, 2, mu1, A1, (x * remaining).to(mu.dtype), dA))


@register
class Thinning(Solver):
    """Exact simulation by thinning (Lewis-Shedler) on each grid window, in the exposure A.

    A unit (a coordinate, or a position with its K classes as channels) has total intensity at
    most ``R`` (``process.intensity_bound``: ``xhat_max``, or 1 on the simplex). On ``[A0, A1]``,
    with ``c`` the window's counts so far and ``update(c, e) = absorb_counts(mu, A, c, e)``:

        each unit has a Poisson clock of rate R (gaps -log(U) / R); each sample takes its
        proposals in time order, and at its next one, at A_p, by unit i:
            xhat = xhat(update(c, A_p - A0)),   u ~ U(0, 1),
            an event on channel j (c_ij += 1) where sum_{l<j} xhat_il <= u R < sum_{l<=j} xhat_il,
            none where u R >= sum_l xhat_il;
        at A1:  (mu', A') = update(c, dA).

    Exact in law on any grid; a round is one NFE for the batch. A prediction above the bound
    (beyond ``BOUND_ROUNDOFF`` eps) raises a ValueError. Draws: the gap after a sample's r-th
    proposal from ``noise.uniform(k, 0, attempt=r + 1)`` (the first: attempt 0), its r-th mark from
    ``noise.uniform(k, 1, attempt=r)``, at the proposing unit's first element. ``init`` refuses a run
    expecting more than ``max_rounds`` rounds per sample or ``max_proposals`` proposals in all.
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

    def proposal_rate(self, process: GammaPoissonCoxSDE) -> float:
        """``R``: the bound on a unit's total intensity per unit of exposure."""
        bound = process.intensity_bound(self.xhat_max)
        if bound is None:
            raise ValueError("thinning needs a bound xhat_max on the predictions: pass Thinning(xhat_max=...) "
                             "or use a predictor with an attribute xhat_max (oracles of bounded targets)")
        bound = real_number(bound, "thinning: the predictor's xhat_max")
        if bound <= 0:
            raise ValueError(f"thinning: the predictor's xhat_max must be finite and > 0, got {bound}")
        return bound

    def init(self, process, grid, noise):
        """Check the expected rounds ``units R (A(t_N) - A(t_0))`` per sample against ``max_rounds``,
        and ``n`` times that against ``max_proposals``."""
        bound = self.proposal_rate(process)
        units, exposure = math.prod(process.shape), float(grid.A[-1] - grid.A[0])
        per_sample = units * bound * exposure
        if per_sample > self.max_rounds:
            raise ValueError(f"thinning would take about {per_sample:.3g} proposal rounds (predictor evaluations) "
                             f"per sample: {units} units x proposal rate R = {bound:g} x exposure {exposure:g}, above "
                             f"max_rounds = {self.max_rounds:g}; R is xhat_max (a loose bound costs in proportion). "
                             f"Use tau_leap, a tighter xhat_max, or Thinning(max_rounds=...) to run anyway")
        n = noise.shape[0]
        if n * per_sample > self.max_proposals:
            raise ValueError(f"thinning would take about {n * per_sample:.3g} proposals: {n} samples "
                             f"x {per_sample:.3g} per sample (units x proposal rate R x exposure), "
                             f"above max_proposals = {self.max_proposals:g}; use fewer samples, tau_leap, a tighter "
                             f"xhat_max, or Thinning(max_proposals=...) to run anyway")
        return None

    def step(self, process, predict, state, interval, noise):
        k, rate, channels = interval.index, self.proposal_rate(process), process.channels
        n = state.mu.shape[0]
        rows = torch.arange(n, device=state.mu.device)
        exposure_shape = (n,) + (1,) * (state.mu.dim() - 1)
        units = noise.index.reshape(n, -1, channels)[..., 0]
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
            xhat = predict(*process.absorb_counts(state.mu, state.A, counts, exposure))
            self._check_bound(xhat, rate)
            cdf = xhat.reshape(n, -1, channels)[rows, unit].cumsum(-1)
            u = noise.uniform(k, 1, attempt=r, index=proposer)
            channel = (cdf <= (u * rate).unsqueeze(-1)).sum(-1)
            event = torch.nn.functional.one_hot(channel, channels + 1)[:, :channels].to(counts.dtype)
            unit_counts[rows, unit] += event * active.unsqueeze(-1)
            gap = -torch.log(noise.uniform(k, 0, attempt=r + 1, index=proposer)) / rate
            clocks[rows, unit] += torch.where(active, gap, torch.zeros_like(gap))
            r += 1
        return State(*process.absorb_counts(state.mu, state.A, counts, interval.dA))

    @staticmethod
    def _check_bound(xhat: torch.Tensor, bound: float) -> None:
        largest = float(xhat.max())
        if largest > bound * (1 + BOUND_ROUNDOFF * torch.finfo(xhat.dtype).eps):
            raise ValueError(f"thinning: the predictor returned {largest:.6g} > xhat_max = {bound:g}, the bound "
                             f"of the proposal rate, so the thinned law would be biased; give a valid bound")
