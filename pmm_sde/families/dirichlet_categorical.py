"""Dirichlet-Categorical with Poisson-clock evidence (pmm-notes 2.3).

Project choice. Categorical observations of a one-hot x carry no randomness (every draw equals x),
so the posterior mean given x would be deterministic and a factorised sampler would commit every
position at its first step. Here the *number* of evidence events is random instead: at each
position, events arrive at rate alpha independently of x, and each event's class is drawn from x.
By Poisson splitting the class counts are independent, ``c_k ~ Poisson(alpha x_k)``, so this family
is the multivariate Gamma-Poisson family normalised to the simplex. A position with no event yet
stays at the prior (it is "masked"), with probability ``exp(-A)``, and the sampler behaves like an
absorbing discrete diffusion driven by a Poisson clock. The posterior is ``Dir(beta0 + C)`` and the
information handed to predictors is the random number of events ``|C|`` per position.
"""

from __future__ import annotations

import torch
from torch.distributions import Distribution, Independent, Poisson

from .. import kernels
from .._validation import positive_int, real_positive
from .base import ConjugateFamily, nonfinite, stream_poisson


class DirichletCategorical(ConjugateFamily):
    """Dirichlet prior ``Dir(beta0)`` on class probabilities, Poisson-clock categorical evidence.

    Update: ``beta' = beta + c``, ``s' = s + |c|``, ``mu' = beta' / s'`` (always on the simplex).
    Given x (a probability vector or one-hot) after clock exposure A: ``c_k ~ Poisson(A x_k)``.
    """

    has_class_axis = True
    prediction_constraint = "a probability vector on the last axis (entries >= 0, sum 1)"

    positive_parameters = ("concentration",)
    strength_label = "concentration.sum(-1) (the prior's total concentration)"
    statistic_label = "concentration"

    def __init__(self, num_classes: int, concentration: float | torch.Tensor = 1.0):
        """``num_classes``: an integer >= 2; ``concentration > 0``: finite, its last axis of size 1 or K."""
        self.num_classes = positive_int(num_classes, "num_classes", minimum=2)
        concentration = real_positive(concentration, "concentration")
        if concentration.dim() > 0 and concentration.shape[-1] not in (1, self.num_classes):
            raise ValueError(f"concentration's last axis must have size 1 or num_classes="
                             f"{self.num_classes}, got shape {tuple(concentration.shape)}")
        shape = (*concentration.shape[:-1], self.num_classes) if concentration.dim() else (self.num_classes,)
        self.concentration = concentration.expand(shape).clone()
        self.check_prior()

    def _parameters(self) -> dict[str, torch.Tensor]:
        return {"concentration": self.concentration}

    @property
    def prior_strength(self) -> torch.Tensor:
        return self.concentration.sum(-1, keepdim=True)

    @property
    def prior_statistic(self) -> torch.Tensor:
        return self.concentration

    def observe(self, x, alpha, seed, counter, offset=0):
        """Class counts ``c_k ~ Poisson(alpha x_k)`` (event count ~ Poisson(alpha), classes ~ x)."""
        return stream_poisson(alpha * x, seed, counter, offset)

    def increments(self, y, alpha):
        return y, y.sum(-1, keepdim=True)

    def leap(self, noise, k: int, slot: int, mu: torch.Tensor, A: torch.Tensor, xhat: torch.Tensor,
             exposure: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Absorb class counts ``c ~ Poisson(exposure xhat)`` per position (``kernels.categorical_tau_leap``,
        slot ``slot`` of step ``k``): ``A' = A + |c|``, ``mu' = ((s0 + A) mu + c) / (s0 + A')``."""
        return kernels.categorical_tau_leap(noise, k, slot, mu, xhat, A, self.prior_strength, exposure)

    def statistic_law(self, x, A) -> Distribution:
        """Independent ``c_k ~ Poisson(A x_k)`` over the class axis."""
        A = torch.as_tensor(A, dtype=x.dtype, device=x.device)
        return Independent(Poisson(A * x, validate_args=False), 1)

    def _sample_statistic(self, x, A, generator):
        return torch.poisson(torch.as_tensor(A, dtype=x.dtype, device=x.device) * x, generator=generator)

    def state_from_statistic(self, S, A):
        """Predictors are given the number of events ``|c|``, not the clock exposure ``A``."""
        events = S.sum(-1, keepdim=True)
        return self.posterior_mean(S, events), events

    def log_likelihood(self, y, x, alpha):
        rate = alpha * x
        return (torch.xlogy(y, rate) - rate - torch.lgamma(y + 1.0)).sum(-1)

    def invalid_prediction(self, xhat):
        tol = 1e-4 if xhat.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-8
        lo, hi = torch.aminmax(xhat)  # NaN propagates: in range iff 0 <= lo and hi < inf
        return ~((lo >= 0) & ((xhat.sum(-1) - 1).abs() <= tol).all()) | nonfinite(hi)
