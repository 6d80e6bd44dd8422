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


def _statistic_step(predict: Evaluator, state: State, interval: Interval, increment: torch.Tensor) -> State:
    """``S' = S + increment``, returned as the state at ``A1``."""
    return State(predict.process.advance_statistic(state.mu, interval.A0, interval.A1, increment), interval.A1)


@register
class EulerMaruyama(Solver):
    """``mu' = mu + (alpha0/lambda0)(xhat0 - mu) h + (sqrt(alpha0)/lambda0) dW``.

    Weak order 1; strong order 1 (the noise is additive: its coefficient depends on t only).
    Unstable when ``alpha h / lambda > 2`` on a step (the linear part's amplification factor
    ``1 - alpha h / lambda`` leaves the unit disc): ``prepare`` raises a ValueError there unless
    ``check_stability=False``.

    ``backend`` (``"auto"``, ``"torch"``, ``"native"``, ``"triton"``; ``"auto"`` is Triton for CUDA
    tensors when triton imports, the compiled CPU steps for CPU tensors when a C compiler works): on
    Triton or native a step with a scalar prior precision and the counter-based noise (no ``bm``)
    runs as one fused kernel, ``kernels.euler_maruyama_step(mu, xhat, h, alpha0, lambda0, seed,
    counter(k, 0))``, the same equation with ``z`` drawn in-kernel (equal to the torch path's to 1
    ulp of float32, almost always exactly); other runs take the torch path.
    """

    name = "euler_maruyama"
    process_type = NormalNormalSDE
    weak_order = 1.0
    strong_order = 1.0

    def __init__(self, check_stability: bool = True, backend: str = "auto"):
        if not isinstance(check_stability, bool):
            raise ValueError(f"check_stability must be True or False, got {check_stability!r}")
        kernels.check_backend(backend)
        self.check_stability = check_stability
        self.backend = backend

    def prepare(self, process, times, A, rate):
        if not bool(torch.isfinite(rate[:-1]).all()):
            raise ValueError("euler_maruyama needs a finite rate alpha(t) at every grid point but the last")
        if not self.check_stability:
            return
        lam = float(process.family.prior_strength.min()) + A[:-1]
        ratio = rate[:-1] * (times[1:] - times[:-1]) / lam
        worst = int(torch.argmax(ratio))
        if float(ratio[worst]) > 2.0:
            raise ValueError(
                f"euler_maruyama is unstable on this grid: alpha h / lambda = {float(ratio[worst]):.3g} > 2 "
                f"at step {worst}; use more steps, another grid, or the unconditionally stable pmm_chain "
                f"(EulerMaruyama(check_stability=False) runs anyway)")

    def step(self, predict, state, interval, noise):
        lam0 = predict.family.strength(interval.A0)
        xhat = predict(state.mu, interval.A0)
        fused = kernels.fused_backend(self.backend, state.mu, xhat, lam0) if noise.counter_based else "torch"
        if fused != "torch":
            mu = kernels.euler_maruyama_step(state.mu, xhat, interval.h, interval.rate0, lam0.reshape(()), noise.seed,
                                             noise.counter(interval.index, 0), backend=fused)
            return State(mu, interval.A1)
        z = noise.normal(interval.index, interval=interval)
        mu = (state.mu + (interval.rate0 / lam0) * (xhat - state.mu) * interval.h
              + (torch.sqrt(interval.rate0 * interval.h) / lam0) * z)
        return State(mu, interval.A1)


@register
class PMMChain(Solver):
    """The exact step with xhat frozen at the left end, which is the discrete PMM update:
    ``S' = S + dA xhat0 + sqrt(dA) z``. Unconditionally stable, exact for a constant predictor.

    Weak order 1, strong order 1 (with ``bm``, ``sqrt(dA) z`` is ``sqrt(dA / h) dW``, exact in law
    and within O(h^1.5) of ``int sqrt(alpha) dW`` pathwise).

    ``backend`` (``"auto"``, ``"torch"``, ``"native"``, ``"triton"``; ``"auto"`` is Triton for CUDA
    tensors when triton imports, the compiled CPU steps for CPU tensors when a C compiler works): on
    Triton or native a step with a scalar prior precision ``l0`` and the counter-based noise (no
    ``bm``) runs as one fused kernel, ``kernels.pmm_chain_step(mu, xhat, A0, A1, l0, seed,
    counter(k, 0))``, the same equation with ``z`` drawn in-kernel (equal to the torch path's to 1
    ulp of float32, almost always exactly); other runs take the torch path.
    """

    name = "pmm_chain"
    process_type = NormalNormalSDE
    weak_order = 1.0
    strong_order = 1.0

    def __init__(self, backend: str = "auto"):
        kernels.check_backend(backend)
        self.backend = backend

    def step(self, predict, state, interval, noise):
        xhat = predict(state.mu, interval.A0)
        precision = predict.family.prior_strength
        fused = kernels.fused_backend(self.backend, state.mu, xhat, precision) if noise.counter_based else "torch"
        if fused != "torch":
            mu = kernels.pmm_chain_step(state.mu, xhat, interval.A0, interval.A1, precision.reshape(()), noise.seed,
                                        noise.counter(interval.index, 0), backend=fused)
            return State(mu, interval.A1)
        z = noise.normal(interval.index, interval=interval)
        return State(predict.process.frozen_step(state.mu, interval.A0, interval.A1, xhat, z), interval.A1)


@register
class StochasticHeun(Solver):
    """Stochastic Heun (predictor-corrector) on the SDE in mu and t, exact in form for additive noise:

        mu~ = mu + f(t0, mu) h + g0 dW,   mu' = mu + (f(t0, mu) + f(t1, mu~)) h / 2 + (g0 + g1) dW / 2,

    with ``f = (alpha/lambda)(xhat - mu)``, ``g = sqrt(alpha)/lambda``. Weak order 2 and strong
    order 1 for additive noise (Kloeden-Platen 15.1); 2 NFE per step.
    """

    name = "heun"
    process_type = NormalNormalSDE
    weak_order = 2.0
    strong_order = 1.0

    def prepare(self, process, times, A, rate):
        if not bool(torch.isfinite(rate).all()):
            raise ValueError("heun needs a finite rate alpha(t) at every grid point")

    def step(self, predict, state, interval, noise):
        family = predict.family
        lam0, lam1 = family.strength(interval.A0), family.strength(interval.A1)
        dW = torch.sqrt(interval.h) * noise.normal(interval.index, interval=interval)
        g0, g1 = torch.sqrt(interval.rate0) / lam0, torch.sqrt(interval.rate1) / lam1
        f0 = (interval.rate0 / lam0) * (predict(state.mu, interval.A0) - state.mu)
        guess = state.mu + f0 * interval.h + g0 * dW
        f1 = (interval.rate1 / lam1) * (predict(guess, interval.A1) - guess)
        return State(state.mu + 0.5 * (f0 + f1) * interval.h + 0.5 * (g0 + g1) * dW, interval.A1)


@register
class PMM2(Solver):
    """Second-order PMM step: the statistic's SDE ``dS = xhat dA + dB_A`` has no linear part, so
    it is integrated exactly but for ``int xhat dA``, taken by the trapezoidal rule at the PMM-chain
    prediction:

        S~ = S + dA xhat(mu, A0) + sqrt(dA) z,   S' = S + dA (xhat(mu, A0) + xhat(mu~, A1)) / 2 + sqrt(dA) z.

    Weak order 2 (the explicit order-2.0 weak scheme for additive noise, Kloeden-Platen 15.1, in
    the time A), strong order 1; 2 NFE per step. Exact for a predictor affine in A along the step.
    """

    name = "pmm_2"
    process_type = NormalNormalSDE
    weak_order = 2.0
    strong_order = 1.0

    def step(self, predict, state, interval, noise):
        dA = interval.dA
        noise_term = torch.sqrt(dA) * noise.normal(interval.index, interval=interval)
        xhat0 = predict(state.mu, interval.A0)
        guess = _statistic_step(predict, state, interval, dA * xhat0 + noise_term).mu
        xhat1 = predict(guess, interval.A1)
        return _statistic_step(predict, state, interval, 0.5 * dA * (xhat0 + xhat1) + noise_term)


def _flow_state(predict: Evaluator, interval: Interval, y: torch.Tensor) -> State:
    """The state at ``A1`` from ``y = S / sqrt(A1)``."""
    return State(predict.family.posterior_mean(y * torch.sqrt(interval.A1), interval.A1), interval.A1)


class _ProbabilityFlow(Solver):
    """The probability-flow ODE written in ``y = S / sqrt(A)`` and ``u = sqrt(A)``, where it reads

        dy / du = xhat(mu, A)

    (the variables in which DDIM and DPM-Solver are exact for a constant denoiser: no linear part,
    no stiffness near A = 0). At A = 0 the law of mu is a point mass, which a flow cannot spread,
    so an interval starting at A = 0 is taken by a stochastic step (``start``).
    """

    process_type = NormalNormalSDE
    default_grid = "log1p_sqrt"
    random_start_only = True
    start: type[Solver]

    def prepare(self, process, times, A, rate):
        self._stochastic_first_step = float(A[0]) == 0.0
        self._start = self.start()

    def step(self, predict, state, interval, noise):
        if interval.index == 0 and self._stochastic_first_step:
            return self._start.step(predict, state, interval, noise)
        u0, u1 = torch.sqrt(interval.A0), torch.sqrt(interval.A1)
        y0 = predict.family.statistic(state.mu, interval.A0) / u0
        y1 = self.flow_step(predict, state, interval, y0, u1 - u0)
        result = _flow_state(predict, interval, y1)
        result.memory = state.memory
        return result

    @abstractmethod
    def flow_step(self, predict: Evaluator, state: State, interval: Interval, y0: torch.Tensor,
                  du: torch.Tensor) -> torch.Tensor:
        """``y`` at ``u1`` from ``y0`` at ``u0``."""


@register
class ODEEuler(_ProbabilityFlow):
    """Euler's method on ``dy/du = xhat``: ``y' = y + du xhat(mu, A0)`` (DDIM), after a first
    ``pmm_chain`` step from A = 0. Weak order 1."""

    name = "ode_euler"
    weak_order = 1.0
    start = PMMChain

    def flow_step(self, predict, state, interval, y0, du):
        return y0 + du * predict(state.mu, interval.A0)


@register
class ODEHeun(_ProbabilityFlow):
    """Heun's method on ``dy/du = xhat``: ``y~ = y + du xhat0``, ``y' = y + du (xhat0 + xhat(y~)) / 2``,
    after a first ``pmm_2`` step from A = 0 (whose law is right to second order). Weak order 2."""

    name = "ode_heun"
    weak_order = 2.0
    start = PMM2

    def flow_step(self, predict, state, interval, y0, du):
        xhat0 = predict(state.mu, interval.A0)
        guess = _flow_state(predict, interval, y0 + du * xhat0)
        return y0 + 0.5 * du * (xhat0 + predict(guess.mu, interval.A1))


@register
class ODE2M(_ProbabilityFlow):
    """Two-step Adams method on ``dy/du = xhat`` with xhat extrapolated linearly in
    ``rho = log(1 + u)`` (DPM-Solver++(2M) in PMM coordinates, with ``log(1 + u)`` for the log-SNR
    ``log u``; ``u = sqrt(A)``):

        y' = y + du [(1 + 1/(2r)) xhat_k - xhat_{k-1} / (2r)],   r = (rho_k - rho_{k-1}) / (rho_{k+1} - rho_k),

    one NFE per step; the first flow step is Euler's. The first interval from A = 0 is a
    ``pmm_2`` step. Weak order 2 on its default grid ``log1p_sqrt`` (uniform in ``rho``).

    Why ``rho``: near A = 0 the prediction is affine in ``u`` (``xhat = E x + u y Var x + O(u^2)``),
    so extrapolating it in ``log u`` on any grid reaching down to ``A -> 0`` costs a factor
    ``log N`` (measured ``N^-1.7``); for large ``u`` ``rho`` is ``log u`` again, the variable in
    which the prediction of a data-like target settles smoothly.
    """

    name = "ode_2m"
    weak_order = 2.0
    markov = False
    start = PMM2

    def flow_step(self, predict, state, interval, y0, du):
        xhat = predict(state.mu, interval.A0)
        rho = torch.log1p(torch.sqrt(interval.A0))
        previous = state.memory.get("previous")
        if previous is None:
            slope_term = 0.0
        else:
            prev_xhat, prev_rho = previous
            r = (rho - prev_rho) / (torch.log1p(torch.sqrt(interval.A1)) - rho)
            slope_term = (xhat - prev_xhat) / (2 * r)
        state.memory["previous"] = (xhat, rho)
        return y0 + du * (xhat + slope_term)
