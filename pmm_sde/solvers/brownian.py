"""Solvers of the Normal-Normal SDE ``d mu = (alpha/lambda)(xhat - mu) dt + (sqrt(alpha)/lambda) dW``.

Notation per step: ``h = t1 - t0``, ``dA = A1 - A0``, ``lambda_i = l0 + A_i``, ``z`` standard normal
(``dW = sqrt(h) z``), ``S = lambda mu - l0 m0`` the statistic, in which the SDE is
``dS = xhat dA + dB_A`` (unit additive noise in the time A).
"""

from __future__ import annotations

from abc import abstractmethod

import torch

from .. import kernels
from ..processes import NormalNormalSDE
from .base import Evaluator, Interval, Solver, State, register


def _check_rate(grid, points: slice, name: str, where: str) -> None:
    """Raise unless the rate ``alpha(t)`` is finite on ``grid.rate[points]``."""
    if not bool(torch.isfinite(grid.rate[points]).all()):
        raise ValueError(f"{name} needs a finite rate alpha(t) at {where}")


@register
class EulerMaruyama(Solver):
    """``mu' = mu + (alpha0/lambda0)(xhat0 - mu) h + (sqrt(alpha0 h)/lambda0) z``.

    Weak order 1; strong order 1 (additive noise). Unstable when ``alpha h / lambda > 2`` on a step:
    ``init`` raises a ValueError there unless ``check_stability=False``.
    """

    name = "euler_maruyama"
    process_type = NormalNormalSDE
    weak_order = 1.0
    strong_order = 1.0

    def __init__(self, check_stability: bool = True):
        if not isinstance(check_stability, bool):
            raise ValueError(f"check_stability must be True or False, got {check_stability!r}")
        self.check_stability = check_stability

    def init(self, process, grid, noise):
        _check_rate(grid, slice(None, -1), self.name, "every grid point but the last")
        if not self.check_stability:
            return None
        lam = process.strength(torch.zeros((), dtype=torch.float64)).min() + grid.A[:-1]  # the smallest prior
        ratio = grid.rate[:-1] * (grid.times[1:] - grid.times[:-1]) / lam
        worst = int(torch.argmax(ratio))
        if float(ratio[worst]) > 2.0:
            raise ValueError(
                f"euler_maruyama is unstable on this grid: alpha h / lambda = {float(ratio[worst]):.3g} > 2 "
                f"at step {worst}; use more steps, another grid, or the unconditionally stable pmm_chain "
                f"(EulerMaruyama(check_stability=False) runs anyway)")
        return None

    def step(self, process, predict, state, interval, noise):
        lam0 = process.strength(interval.A0)
        xhat = predict(state.mu, interval.A0)
        mu = kernels.euler_maruyama(noise, interval.index, 0, state.mu, xhat, interval.rate0 / lam0, interval.h,
                                    torch.sqrt(interval.rate0 * interval.h) / lam0)
        return State(mu, interval.A1)


@register
class PMMChain(Solver):
    """The exact step with xhat frozen at the left end, which is the discrete PMM update:
    ``S' = S + dA xhat0 + sqrt(dA) z``. Unconditionally stable, exact for a constant predictor.
    Weak order 1, strong order 1."""

    name = "pmm_chain"
    process_type = NormalNormalSDE
    weak_order = 1.0
    strong_order = 1.0

    def step(self, process, predict, state, interval, noise):
        xhat = predict(state.mu, interval.A0)
        return State(process.frozen_step(noise, interval.index, 0, state.mu, xhat, interval.A0, interval.A1),
                     interval.A1)


@register
class StochasticHeun(Solver):
    """Stochastic Heun on the SDE in mu and t, with ``f = (alpha/lambda)(xhat - mu)``, ``g = sqrt(alpha)/lambda``:

        mu~ = mu + f(t0, mu) h + g0 dW,   mu' = mu + (f(t0, mu) + f(t1, mu~)) h / 2 + (g0 + g1) dW / 2.

    Weak order 2, strong order 1 for additive noise (Kloeden-Platen 15.1); 2 NFE per step.
    """

    name = "heun"
    process_type = NormalNormalSDE
    weak_order = 2.0
    strong_order = 1.0

    def init(self, process, grid, noise):
        _check_rate(grid, slice(None), self.name, "every grid point")

    def step(self, process, predict, state, interval, noise):
        dW = torch.sqrt(interval.h) * noise.normal(interval.index)
        g0, g1 = process.diffusion_at(interval.A0, interval.rate0), process.diffusion_at(interval.A1, interval.rate1)
        f0 = process.drift_at(state.mu, predict(state.mu, interval.A0), interval.A0, interval.rate0)
        guess = state.mu + f0 * interval.h + g0 * dW
        f1 = process.drift_at(guess, predict(guess, interval.A1), interval.A1, interval.rate1)
        return State(state.mu + 0.5 * (f0 + f1) * interval.h + 0.5 * (g0 + g1) * dW, interval.A1)


@register
class PMM2(Solver):
    """Second-order PMM step: the statistic's SDE ``dS = xhat dA + dB_A`` integrated exactly but for
    ``int xhat dA``, taken by the trapezoidal rule at the PMM-chain prediction:

        S~ = S + dA xhat(mu, A0) + sqrt(dA) z,   S' = S + dA (xhat(mu, A0) + xhat(mu~, A1)) / 2 + sqrt(dA) z.

    Weak order 2 (Kloeden-Platen 15.1 in the time A), strong order 1; 2 NFE per step.
    """

    name = "pmm_2"
    process_type = NormalNormalSDE
    weak_order = 2.0
    strong_order = 1.0

    def step(self, process, predict, state, interval, noise):
        return State(self.advance(process, predict, state, interval, noise)[0], interval.A1)

    def advance(self, process: NormalNormalSDE, predict: Evaluator, state: State, interval: Interval,
                noise) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu', xhat(mu, A0))``: the step's end state and its first prediction."""
        A0, A1, dA = interval.A0, interval.A1, interval.dA
        dB = torch.sqrt(dA) * noise.normal(interval.index)
        xhat0 = predict(state.mu, A0)
        xhat1 = predict(self.chain_guess(process, state.mu, xhat0, A0, A1, dA, dB), A1)
        return self.trapezoid(process, state.mu, xhat0, xhat1, A0, A1, dA, dB), xhat0

    @staticmethod
    def chain_guess(process: NormalNormalSDE, mu: torch.Tensor, xhat0: torch.Tensor, A0: torch.Tensor,
                    A1: torch.Tensor, dA: torch.Tensor, dB: torch.Tensor) -> torch.Tensor:
        """``mu~`` of ``S~ = S + dA xhat0 + dB`` (the ``pmm_chain`` step) from ``mu`` at ``A0`` to ``A1``,
        ``dB`` the Brownian increment ``B_A1 - B_A0``."""
        return process.advance_statistic(mu, A0, A1, dA * xhat0 + dB)

    @staticmethod
    def trapezoid(process: NormalNormalSDE, mu: torch.Tensor, xhat0: torch.Tensor, xhat1: torch.Tensor,
                  A0: torch.Tensor, A1: torch.Tensor, dA: torch.Tensor, dB: torch.Tensor) -> torch.Tensor:
        """``mu'`` of ``S' = S + dA (xhat0 + xhat1) / 2 + dB``, ``xhat1`` the prediction at ``chain_guess``."""
        return process.advance_statistic(mu, A0, A1, 0.5 * dA * (xhat0 + xhat1) + dB)


class _ProbabilityFlow(Solver):
    """The probability-flow ODE in ``y = S / sqrt(A)`` and ``u = sqrt(A)``, where it reads

        dy / du = xhat(mu, A);

    an interval from A = 0, where the law of mu is a point mass, is taken by the stochastic
    solver ``start``. Derivation: ``docs/solvers.md``.
    """

    process_type = NormalNormalSDE
    default_grid = "log1p_sqrt"
    random_start_only = True
    start: Solver

    def step(self, process, predict, state, interval, noise):
        if interval.index == 0 and bool(interval.A0 == 0):
            return self.start_step(process, predict, state, interval, noise)
        u0, u1 = torch.sqrt(interval.A0), torch.sqrt(interval.A1)
        y1, carry = self.flow_step(process, predict, state, interval, process.flow_coordinate(state.mu, interval.A0),
                                   u1 - u0)
        return State(process.from_flow_coordinate(y1, interval.A1), interval.A1, carry)

    def start_step(self, process: NormalNormalSDE, predict: Evaluator, state: State, interval: Interval,
                   noise) -> State:
        """The first, stochastic step from A = 0: the ``start`` solver's."""
        return self.start.step(process, predict, state, interval, noise)

    @abstractmethod
    def flow_step(self, process: NormalNormalSDE, predict: Evaluator, state: State, interval: Interval,
                  y0: torch.Tensor, du: torch.Tensor) -> tuple[torch.Tensor, object]:
        """``(y at u1, the carry)`` from ``y0`` at ``u0``."""


@register
class ODEEuler(_ProbabilityFlow):
    """Euler's method on ``dy/du = xhat``: ``y' = y + du xhat(mu, A0)`` (DDIM), after a first
    ``pmm_chain`` step from A = 0. Weak order 1."""

    name = "ode_euler"
    weak_order = 1.0
    start = PMMChain()

    def flow_step(self, process, predict, state, interval, y0, du):
        return y0 + du * predict(state.mu, interval.A0), None


@register
class ODEHeun(_ProbabilityFlow):
    """Heun's method on ``dy/du = xhat``: ``y~ = y + du xhat0``, ``y' = y + du (xhat0 + xhat(y~)) / 2``,
    after a first ``pmm_2`` step from A = 0. Weak order 2."""

    name = "ode_heun"
    weak_order = 2.0
    start = PMM2()

    def flow_step(self, process, predict, state, interval, y0, du):
        xhat0 = predict(state.mu, interval.A0)
        guess = process.from_flow_coordinate(y0 + du * xhat0, interval.A1)
        return y0 + 0.5 * du * (xhat0 + predict(guess, interval.A1)), None


@register
class ODE2M(_ProbabilityFlow):
    """Two-step Adams method on ``dy/du = xhat`` with xhat extrapolated linearly in ``rho = log(1 + u)``
    (DPM-Solver++(2M) in PMM coordinates):

        y' = y + du [(1 + 1/(2r)) xhat_k - xhat_{k-1} / (2r)],   r = (rho_k - rho_{k-1}) / (rho_{k+1} - rho_k),

    one NFE per step; the first flow step is Euler's, after a first ``pmm_2`` step from A = 0. The
    carry is ``(xhat_k, rho_k)``. Weak order 2 on its default grid ``log1p_sqrt`` (uniform in ``rho``);
    why ``rho``: ``docs/solvers.md``.
    """

    name = "ode_2m"
    weak_order = 2.0
    markov = False
    start = PMM2()

    def flow_step(self, process, predict, state, interval, y0, du):
        xhat = predict(state.mu, interval.A0)
        rho = torch.log1p(torch.sqrt(interval.A0))
        if state.carry is None:
            slope_term = 0.0
        else:
            previous_xhat, previous_rho = state.carry
            r = (rho - previous_rho) / (torch.log1p(torch.sqrt(interval.A1)) - rho)
            slope_term = (xhat - previous_xhat) / (2 * r)
        return y0 + du * (xhat + slope_term), (xhat, rho)


@register
class ODE3M(_ProbabilityFlow):
    """Three-step exponential Adams method on ``dy/du = xhat``: xhat interpolated by the quadratic in
    ``rho = log(1 + u)`` through the last three predictions, integrated exactly in ``u``
    (DPM-Solver++(3M) with eta = 0, Lu et al. 2022, in PMM coordinates):

        y' = y + du [xhat_k + c1 D1 + c2 D2],   h = rho_{k+1} - rho_k,
        c1 = h / (1 - e^-h) - 1,   c2 = (e^h (h^2 - 2h + 2) - 2) / (e^h - 1),

    ``D1``, ``D2`` the interpolant's Taylor coefficients at ``rho_k`` (from divided differences of
    the carried ``(xhat, rho)`` pairs). One NFE per step. The first step from A = 0 is ``pmm_2``
    (Heun's method on the flow from ``y = z`` at ``u = 0``), whose prediction at ``u = 0`` starts the
    history, so the second step is two-step and the rest three-step. Weak order 3 on its default
    grid ``log1p_sqrt`` (uniform in ``rho``). Derivation: ``docs/solvers.md``.
    """

    name = "ode_3m"
    weak_order = 3.0
    markov = False
    start = PMM2()

    def start_step(self, process, predict, state, interval, noise):
        mu, xhat0 = self.start.advance(process, predict, state, interval, noise)
        return State(mu, interval.A1, ((xhat0, _rho(interval.A0)),))

    def flow_step(self, process, predict, state, interval, y0, du):
        xhat = predict(state.mu, interval.A0)
        rho = _rho(interval.A0)
        history = state.carry or ()
        return y0 + du * exponential_adams(xhat, rho, _rho(interval.A1) - rho, history), (*history[-1:], (xhat, rho))


@register
class SDE3M(Solver):
    """Stochastic three-step exponential Adams method on the statistic's SDE ``dS = xhat dA + dB_A``:
    ``int xhat dA`` with xhat interpolated by the quadratic in ``rho = log(1 + sqrt(A))`` through the
    last three predictions, integrated exactly in ``A``, and the Brownian increment exact:

        S' = S + dA [xhat_k + c1 D1 + c2 D2] + sqrt(dA) z,   c_j = int_0^h s^j dA(s) / dA,   s = rho - rho_k,

    ``D1``, ``D2`` as in ``ode_3m`` (DPM-Solver++(3M) SDE with eta = 1, k-diffusion's
    ``sample_dpmpp_3m_sde``, in PMM coordinates). One NFE per step; the first step (no history) is
    ``pmm_chain``'s, the second is two-step, the rest three-step; exact for a constant predictor.
    Weak order 2, not 3: along the SDE's paths xhat is a martingale, whose variation within a step no
    combination of past predictions reproduces; strong order 1. Default grid ``log1p_sqrt``.
    Derivation and measurements: ``docs/solvers.md``.
    """

    name = "sde_3m"
    process_type = NormalNormalSDE
    weak_order = 2.0
    strong_order = 1.0
    markov = False
    default_grid = "log1p_sqrt"

    def step(self, process, predict, state, interval, noise):
        xhat = predict(state.mu, interval.A0)
        rho = _rho(interval.A0)
        history = state.carry or ()
        mean = adams_mean(xhat, rho, *_statistic_moments(rho, _rho(interval.A1) - rho), history) if history else xhat
        mu = process.frozen_step(noise, interval.index, 0, state.mu, mean, interval.A0, interval.A1)
        return State(mu, interval.A1, (*history[-1:], (xhat, rho)))


def exponential_adams(xhat: torch.Tensor, rho: torch.Tensor, h: torch.Tensor,
                      history: tuple[tuple[torch.Tensor, torch.Tensor], ...]) -> torch.Tensor:
    """``xhat_k + c1 D1 + c2 D2``: the mean of xhat over ``[u_k, u_{k+1}]`` (so that ``y' = y + du``
    times it) for xhat interpolated in ``rho`` through ``(xhat, rho)`` and the ``history`` of up to
    two earlier ``(xhat, rho)`` pairs, oldest first: constant (no history), linear (one) or quadratic
    (two), with ``h = rho_{k+1} - rho_k``, ``c1 = h / (1 - e^-h) - 1`` and ``c2 = (e^h (h^2 - 2h + 2) - 2)
    / (e^h - 1)`` (``ode_3m``; docs/solvers.md). ``rho``, ``h`` and the history's ``rho`` are float64,
    0-dim or one per sample; the weights are cast to xhat's dtype."""
    c1 = h / -torch.expm1(-h) - 1
    c2 = (torch.exp(h) * (h * h - 2 * h + 2) - 2) / torch.expm1(h)
    return adams_mean(xhat, rho, c1, c2, history)


def adams_mean(xhat: torch.Tensor, rho: torch.Tensor, c1: torch.Tensor, c2: torch.Tensor,
               history: tuple[tuple[torch.Tensor, torch.Tensor], ...]) -> torch.Tensor:
    """``xhat_k + c1 D1 + c2 D2``: the mean over a step of the polynomial in ``rho`` through ``(xhat, rho)``
    and the ``history`` of up to two earlier ``(xhat, rho)`` pairs, oldest first (``P(rho_k + s) =
    xhat_k + D1 s + D2 s^2``, ``D1``, ``D2`` from Newton's divided differences), where ``c1`` and ``c2``
    are the first two moments of ``s = rho - rho_k`` under the step's weight (``du`` for ``ode_3m``,
    ``dA`` for ``sde_3m``); with fewer pairs, the constant or the line. float64 weights, cast to xhat's
    dtype."""
    increment = xhat  # xhat_k + c1 D1 + c2 D2 as a combination of the predictions (docs/solvers.md)
    if history:
        previous_xhat, previous_rho = history[-1]
        gap, curve = rho - previous_rho, 0.0
        if len(history) == 2:
            oldest_xhat, oldest_rho = history[0]
            older_gap = previous_rho - oldest_rho
            curve = (c1 * gap + c2) / (gap + older_gap)
            increment = increment + (curve / older_gap).to(xhat.dtype) * (oldest_xhat - previous_xhat)
        increment = increment + ((c1 + curve) / gap).to(xhat.dtype) * (xhat - previous_xhat)
    return increment


def _rho(A: torch.Tensor) -> torch.Tensor:
    """``rho = log(1 + sqrt(A))`` in float64, so that ``ode_3m``'s coefficients keep their accuracy
    (``c2`` cancels to ``eps / h`` absolute) whatever the run's dtype."""
    return torch.log1p(torch.sqrt(A.double()))


def _statistic_moments(rho: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(c1, c2)``: the first two moments of ``s = rho - rho_k`` over ``[0, h]`` under the weight
    ``dA / ds = 2 e^rho (e^rho - 1)``, proportional to ``a e^{2s} - e^s`` with ``a = e^{rho_k}``
    (``sde_3m``), from the closed forms of ``int_0^h s^j e^{cs} ds``; float64."""
    a = torch.exp(rho)
    weights = [a * twice - once for twice, once in zip(_exponential_moments(2.0, h), _exponential_moments(1.0, h))]
    return weights[1] / weights[0], weights[2] / weights[0]


def _exponential_moments(c: float, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``int_0^h s^j e^{cs} ds`` for ``j = 0, 1, 2``, by parts: ``I_j = (h^j e^{ch} - j I_{j-1}) / c``."""
    grown = torch.exp(c * h)
    zeroth = torch.expm1(c * h) / c
    first = (h * grown - zeroth) / c
    return zeroth, first, (h * h * grown - 2 * first) / c
