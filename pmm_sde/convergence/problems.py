"""Oracle problems with known answers, shared by the CLI, benchmarks and notebooks."""

from __future__ import annotations

import torch

import numpy as np

from .. import schedules, targets
from ..families import GammaPoisson, NormalNormal
from ..processes import GammaPoissonCoxSDE, NormalNormalSDE, PMMProcess
from .count_laws import target_count_law


#: The Gamma-mixture target of the Cox problem; ``N_T`` is a mixture of negative binomials exactly.
COX_MIXTURE = targets.GammaMixture([0.5, 0.5], [1.0, 8.0], [2.0, 2.0])
#: The 2-D Gaussian mixture of the ``normal_2d`` problem (components with unequal, diagonal spreads).
MIXTURE_2D = targets.GaussianMixture([0.2, 0.3, 0.5], torch.tensor([[-1.0, 0.5], [1.5, 1.0], [0.5, -1.0]]),
                                     torch.tensor([[0.3, 0.5], [0.5, 0.3], [0.4, 0.4]]))
#: The problems of ``convergence_problem``.
PROBLEMS = ("normal", "normal_2d", "cox")


def convergence_problem(kind: str) -> tuple[PMMProcess, str]:
    """The process of ``pmm-sde converge``: an oracle target with two or three components.

    normal: prior N(0, 1), target 0.3 N(-1, 0.3^2) + 0.7 N(1.5, 0.5^2), Exponential(20);
    normal_2d: prior N(0, I), a 2-D three-component Gaussian mixture (``MIXTURE_2D``), Exponential(20);
    cox: prior Gamma(1, 1), target 0.5 Gamma(1, 2) + 0.5 Gamma(8, 2), Exponential(4) (counts
    N_T of about 8: tau-leaping is in its asymptotic range from 8 steps on).
    """
    if kind == "normal":
        family = NormalNormal(0.0, 1.0)
        target = targets.GaussianMixture([0.3, 0.7], torch.tensor([[-1.0], [1.5]]), torch.tensor([[0.3], [0.5]]))
        return NormalNormalSDE(family, schedules.Exponential(20.0), target.predictor(family), shape=(1,)), \
            "NormalNormal N(0,1), 2-component Gaussian mixture oracle, Exponential(20)"
    if kind == "normal_2d":
        family = NormalNormal(0.0, 1.0)
        return NormalNormalSDE(family, schedules.Exponential(20.0), MIXTURE_2D.predictor(family), shape=(2,)), \
            "NormalNormal N(0,I), 2-D 3-component Gaussian mixture oracle, Exponential(20)"
    if kind == "cox":
        family = GammaPoisson(1.0, 1.0)
        return GammaPoissonCoxSDE(family, schedules.Exponential(4.0), COX_MIXTURE.predictor(family)), \
            "GammaPoisson Gamma(1,1), 2-component Gamma mixture oracle, Exponential(4)"
    raise ValueError(f"process must be one of {PROBLEMS}, got {kind!r}")


#: Support of the Cox problem's exact count laws: all but ~1e-13 of every law of N_T there.
COX_SUPPORT = 120


def exact_count_law(kind: str) -> np.ndarray | None:
    """The target's exact pmf of ``N_T`` for the ``cox`` problem (on ``COX_SUPPORT`` counts); None
    for ``normal`` and ``normal_2d``, whose weak errors are measured by Monte Carlo refinement."""
    if kind not in PROBLEMS:
        raise ValueError(f"process must be one of {PROBLEMS}, got {kind!r}")
    if kind == "cox":
        process, _ = convergence_problem(kind)
        return target_count_law(COX_MIXTURE, float(process.schedule.A(1.0)), COX_SUPPORT)
    return None
