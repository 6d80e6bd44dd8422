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
      through the last three predictions (two on the second step), and the embedded one through
      one fewer; error ``du (M3(h) - M2(h))`` (``du (M2 - xhat_k)`` on the second step).

    The multistep estimate needs no new prediction, so a rejected step there costs no NFE; a
    rejected first step costs one. Orders 3 (taken) and 2 (embedded; local error order 3, 2 on the
    first two steps). Reference: DPM-Solver++(3M) (Lu et al. 2022) and the embedded DPM-Solver-12/23
    pairs of DPM-Solver's adaptive sampler (Lu et al. 2022, section 3.3).
    """

    name = "ode_3m_adaptive"
    process_type = NormalNormalSDE
    weak_order = 3.0
    embedded_order = 2.0
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
                       two_back: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y', error)`` per sample: through ``previous`` and ``oldest`` where ``two_back`` (a
        per-sample bool), else through ``previous`` alone (``oldest`` then unused)."""
        linear = exponential_adams(xhat, rho, h, (previous,))
        quadratic = exponential_adams(xhat, rho, h, (oldest, previous))
        taken = torch.where(two_back, quadratic, linear)
        embedded = torch.where(two_back, linear, xhat)
        return y + du * taken, du * (taken - embedded)

    @staticmethod
    def error_order(two_back: torch.Tensor) -> torch.Tensor:
        """The order of the local error estimated on a multistep step: 3, or 2 on the second step."""
        return torch.where(two_back, 3.0, 2.0).to(torch.float64)


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

    chain_guess = staticmethod(PMM2.chain_guess)

    @staticmethod
    def pair(process: NormalNormalSDE, mu: torch.Tensor, xhat0: torch.Tensor, xhat1: torch.Tensor, A0: torch.Tensor,
             A1: torch.Tensor, dA: torch.Tensor, dB: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu', mu' - mu~)``: the ``pmm_2`` step (``PMM2.trapezoid``) and its difference from the
        ``pmm_chain`` one, ``dA (xhat1 - xhat0) / (2 lambda1)``, ``xhat1`` the prediction at ``mu~``."""
        return (PMM2.trapezoid(process, mu, xhat0, xhat1, A0, A1, dA, dB),
                0.5 * dA * (xhat1 - xhat0) / process.strength(A1))
