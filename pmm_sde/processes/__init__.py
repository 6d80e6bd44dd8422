"""Continuous-time PMM processes: coefficients only, no step rules."""

from .base import PMMProcess
from .cox import GammaPoissonCoxSDE
from .normal_sde import NormalNormalSDE

__all__ = ["PMMProcess", "NormalNormalSDE", "GammaPoissonCoxSDE"]
