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
from .brownian import exponential_adams


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
      through the last three predictions (two on the second step), and the embedded one through
      one fewer; error ``du (M3(h) - M2(h))`` (``du (M2 - xhat_k)`` on the second step).

    The multistep estimate needs no new prediction, so a rejected step there costs no NFE; a
    rejected first step costs one. Orders 3 (taken) and 2 (embedded; local error order 3, 2 on the
    first two steps). A step is at most twice the last (``max_step_ratio``), as in variable-step
    Adams codes (Shampine and Gordon 1975): the estimate extrapolates the history, and beyond that
    ratio it underestimated the error fourfold (``docs/solvers.md``). Reference: DPM-Solver++(3M)
    (Lu et al. 2022) and the embedded DPM-Solver-12/23 pairs of DPM-Solver's adaptive sampler (Lu et
    al. 2022, section 3.3).
    """

    name = "ode_3m_adaptive"
    process_type = NormalNormalSDE
    weak_order = 3.0
    embedded_order = 2.0
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
