"""Adaptive solvers: a step rule with an embedded error estimate, stepped per sample by ``sample()``
under a ``PIController`` (``pmm.sample(process, name, rtol=..., atol=...)``).

Each sample takes its own steps in the solver's natural variable; the driver evaluates the
predictor once per round for the whole batch (each sample at its own information ``A``), and a
sample whose step is rejected retries with a smaller one. Derivations: ``docs/solvers.md``,
"Adaptive stepping".
"""

from __future__ import annotations

from typing import ClassVar

import torch

from .._validation import positive_float, positive_int
from ..processes import NormalNormalSDE
from .base import BaseSolver, register
from .brownian import PMM2, exponential_adams


class AdaptiveSolver(BaseSolver):
    """An embedded pair: the step of order ``weak_order`` is taken, and its difference from the
    embedded one of order ``embedded_order`` is the error estimate. ``first_step``: the first step
    size tried, in the solver's step variable; ``max_steps``: the most accepted and rejected steps
    of one sample that cost a predictor evaluation (a ValueError beyond)."""

    embedded_order: ClassVar[float]
    #: The largest ratio of a step size to the last one (the controller's ``factormax``).
    max_step_ratio: ClassVar[float]

    def __init__(self, first_step: float = 0.5, max_steps: int = 1000):
        self.first_step = positive_float(first_step, "first_step")
        self.max_steps = positive_int(max_steps, "max_steps")


@register
class ODE3MAdaptive(AdaptiveSolver):
    """``ode_3m`` with adaptive steps in ``rho = log(1 + u)``, ``u = sqrt(A)``, on the probability
    flow ``dy/du = xhat``, from its exact start ``y = z`` at ``u = 0``:

    - first step: Heun's (``ode_3m``'s ``pmm_2`` start) with Euler's embedded,
      ``y' = y + du (xhat0 + xhat(y + du xhat0)) / 2``, error ``du (xhat(y + du xhat0) - xhat0) / 2``;
    - then ``y' = y + du M(h)``, ``M`` the exponential Adams mean of xhat (``exponential_adams``)
      through the last three predictions (two on the second step); the error is ``du`` times the
      difference from the interpolant through one prediction fewer on the second and third steps
      (``M2 - xhat_k``, ``M3 - M2``: the embedded step's error, local orders 2 and 3), and from the
      fourth on, through one more (``cubic_term``, ``M4 - M3``: the error of the step taken itself,
      local order 4).

    The multistep estimate needs no new prediction, so a rejected step there costs no NFE; a
    rejected first step costs one. Orders 3 (taken) and 4 (the cubic step of the estimate, from the
    fourth step on). The linear-to-quadratic difference alone vanishes where xhat'' changes sign
    (along every flow line of a Gaussian target) and then underestimated the error up to 36-fold; a
    step is at most twice the last (``max_step_ratio``), as in variable-step Adams codes (Shampine
    and Gordon 1975), since the estimate extrapolates the history (``docs/solvers.md``). Reference:
    DPM-Solver++(3M) (Lu et al. 2022), the embedded DPM-Solver-12/23 pairs of DPM-Solver's adaptive
    sampler (Lu et al. 2022, section 3.3), and the error estimates of variable-step Adams codes by
    the next divided difference (Shampine and Gordon, Computer Solution of Ordinary Differential
    Equations, 1975; Hairer, Norsett and Wanner, Solving ODEs I, chapter III).
    """

    name = "ode_3m_adaptive"
    process_type = NormalNormalSDE
    weak_order = 3.0
    embedded_order = 4.0
    max_step_ratio = 2.0  # the multistep estimate extrapolates the history: docs/solvers.md, "Adaptive stepping"
    random_start_only = True

    @staticmethod
    def start_pair(y0: torch.Tensor, xhat0: torch.Tensor, xhat_guess: torch.Tensor, du: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(Heun's y', Heun - Euler)`` from ``y0`` at ``u = 0``, with ``xhat_guess`` the prediction
        at Euler's ``y0 + du xhat0``."""
        half_difference = 0.5 * du * (xhat_guess - xhat0)
        return y0 + du * xhat0 + half_difference, half_difference

    @staticmethod
    def multistep_pair(y: torch.Tensor, xhat: torch.Tensor, rho: torch.Tensor, h: torch.Tensor, du: torch.Tensor,
                       previous: tuple[torch.Tensor, torch.Tensor], oldest: tuple[torch.Tensor, torch.Tensor],
                       ancient: tuple[torch.Tensor, torch.Tensor], level: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y', error)`` per sample from the ``(xhat, rho)`` history, latest first: ``previous``,
        ``oldest``, ``ancient``, of which ``level`` (1, 2 or 3, per sample) are known (the others are
        placeholders at distinct ``rho``). The step taken is linear (level 1) or quadratic; the error
        is ``du`` times the difference of the mean from the next higher interpolant: constant to
        linear (level 1), linear to quadratic (2), quadratic to cubic (3: ``cubic_term``, the
        estimate of the quadratic step's own error)."""
        linear = exponential_adams(xhat, rho, h, (previous,))
        quadratic = exponential_adams(xhat, rho, h, (oldest, previous))
        cubic = ODE3MAdaptive.cubic_term(xhat, rho, h, previous, oldest, ancient)
        taken = torch.where(level == 1, linear, quadratic)
        error = torch.where(level == 1, linear - xhat, torch.where(level == 2, quadratic - linear, cubic))
        return y + du * taken, du * error

    @staticmethod
    def cubic_term(xhat: torch.Tensor, rho: torch.Tensor, h: torch.Tensor, previous: tuple[torch.Tensor, torch.Tensor],
                   oldest: tuple[torch.Tensor, torch.Tensor], ancient: tuple[torch.Tensor, torch.Tensor]
                   ) -> torch.Tensor:
        """The mean over the step (in u) of the cubic through the four predictions minus that of the
        quadratic through the last three: ``D3 (c3 + (2 g1 + g2) c2 + g1 (g1 + g2) c1)``, ``D3`` their
        third divided difference in rho, ``g1, g2`` the last two gaps, ``c_j`` the means of
        ``(rho - rho_k)^j`` over the step, ``c3 = (e^h (h^3 - 3h^2 + 6h - 6) + 6) / (e^h - 1)``
        (``docs/solvers.md``)."""
        (x1, r1), (x2, r2), (x3, r3) = previous, oldest, ancient
        g1, g2, g3 = rho - r1, r1 - r2, r2 - r3
        first = ((xhat - x1) / g1.to(xhat.dtype), (x1 - x2) / g2.to(xhat.dtype), (x2 - x3) / g3.to(xhat.dtype))
        second = ((first[0] - first[1]) / (g1 + g2).to(xhat.dtype), (first[1] - first[2]) / (g2 + g3).to(xhat.dtype))
        third = (second[0] - second[1]) / (g1 + g2 + g3).to(xhat.dtype)
        c1 = h / -torch.expm1(-h) - 1
        c2 = (torch.exp(h) * (h * h - 2 * h + 2) - 2) / torch.expm1(h)
        c3 = (torch.exp(h) * (h * (h * h - 3 * h + 6) - 6) + 6) / torch.expm1(h)
        return third * (c3 + (2 * g1 + g2) * c2 + g1 * (g1 + g2) * c1).to(xhat.dtype)

    @staticmethod
    def error_order(level: torch.Tensor) -> torch.Tensor:
        """The order of the local error estimated on a multistep step: 2, 3 and 4 at ``level`` 1, 2
        and 3."""
        return (level + 1).to(torch.float64)


@register
class PMM2Adaptive(AdaptiveSolver):
    """``pmm_2`` with adaptive steps on the dyadic intervals of ``v = log(1 + A)`` in
    ``[0, log(1 + A(1))]`` (the variable of the SDE solvers' default grid ``log1p``), each sample on
    its own Brownian path ``B_A`` drawn from a
    ``streams.DyadicBrownianTree``, with ``pmm_chain`` (the exponential Euler step, same increment
    ``dB``, the same first prediction) embedded. In the statistic ``S = lambda mu - l0 m0``:

        S~ = S + dA xhat(mu, A0) + dB,   S' = S + dA (xhat(mu, A0) + xhat(mu~, A1)) / 2 + dB,

    error estimate ``mu' - mu~ = dA (xhat(mu~, A1) - xhat(mu, A0)) / (2 lambda1)``, pathwise
    ``O(h^1.5)`` (``error_order``; ``xhat`` moves by ``O(sqrt(dA))`` over a step). A rejected step
    is retried on a dyadic sub-interval, whose increment comes from the same tree, so the path, and
    the strong solution approximated, do not depend on the rejections (Gaines and Lyons 1997;
    Rackauckas and Nie 2017, "Adaptive methods for stochastic differential equations via natural
    embeddings and rejection sampling with memory"). Orders of the step taken: weak 2, strong 1
    (``pmm_2``); embedded: strong 1. 2 NFE per accepted step, 1 per rejected one. ``first_step`` is
    in ``v``. Derivation: ``docs/solvers.md``, "Adaptive SDE stepping".
    """

    name = "pmm_2_adaptive"
    process_type = NormalNormalSDE
    weak_order = 2.0
    strong_order = 1.0
    embedded_order = 1.0
    #: The order in the step size of the local error estimate, the controller's ``k``.
    error_order = 1.5
    #: The controller's default: a one-step pair's estimate extrapolates no history.
    max_step_ratio = 10.0

    chain_guess = staticmethod(PMM2.chain_guess)

    @staticmethod
    def pair(process: NormalNormalSDE, mu: torch.Tensor, xhat0: torch.Tensor, xhat1: torch.Tensor, A0: torch.Tensor,
             A1: torch.Tensor, dA: torch.Tensor, dB: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu', mu' - mu~)``: the ``pmm_2`` step (``PMM2.trapezoid``) and its difference from the
        ``pmm_chain`` one, ``dA (xhat1 - xhat0) / (2 lambda1)``, ``xhat1`` the prediction at ``mu~``."""
        return (PMM2.trapezoid(process, mu, xhat0, xhat1, A0, A1, dA, dB),
                0.5 * dA * (xhat1 - xhat0) / process.strength(A1))
