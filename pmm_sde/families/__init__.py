"""Conjugate families: the algebra of PMM, with no notion of time."""

from .base import ConjugateFamily
from .dirichlet_categorical import DirichletCategorical
from .gamma_poisson import GammaPoisson
from .normal_normal import NormalNormal

__all__ = ["ConjugateFamily", "NormalNormal", "GammaPoisson", "DirichletCategorical"]
