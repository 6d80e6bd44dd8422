"""Data laws with exact oracle predictors ``E*[x | posterior state]``."""

from .base import Oracle, Target
from .categorical import Categorical
from .gamma import Gamma, GammaMixture
from .gaussian import Gaussian, GaussianMixture
from .point_masses import PointMasses

__all__ = ["Target", "Oracle", "Gaussian", "GaussianMixture", "Gamma", "GammaMixture", "Categorical",
           "PointMasses"]
