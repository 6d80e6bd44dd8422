"""Oracle problems with known answers, shared by the CLI, benchmarks and notebooks."""

from __future__ import annotations

import torch

from . import schedules, targets
from .families import GammaPoisson, NormalNormal
from .processes import GammaPoissonCoxSDE, NormalNormalSDE, PMMProcess


def convergence_problem(kind: str) -> tuple[PMMProcess, str]:
    """The process of ``pmm-sde converge``: a 1-D two-component oracle target with A(1) = 20.

    normal: prior N(0, 1), target 0.3 N(-1, 0.3^2) + 0.7 N(1.5, 0.5^2), Exponential(20);
    cox: prior Gamma(1, 1), target 0.4 Gamma(2, 3) + 0.6 Gamma(9, 1.5), Exponential(20).
    """
    schedule = schedules.Exponential(20.0)
    if kind == "normal":
        family = NormalNormal(0.0, 1.0)
        target = targets.GaussianMixture([0.3, 0.7], torch.tensor([[-1.0], [1.5]]), torch.tensor([[0.3], [0.5]]))
        return NormalNormalSDE(family, schedule, target.predictor(family), shape=(1,)), \
            "NormalNormal N(0,1), 2-component Gaussian mixture oracle, Exponential(20)"
    if kind == "cox":
        family = GammaPoisson(1.0, 1.0)
        target = targets.GammaMixture([0.4, 0.6], torch.tensor([2.0, 9.0]), torch.tensor([3.0, 1.5]))
        return GammaPoissonCoxSDE(family, schedule, target.predictor(family)), \
            "GammaPoisson Gamma(1,1), 2-component Gamma mixture oracle, Exponential(20)"
    raise ValueError(f"process must be 'normal' or 'cox', got {kind!r}")
