"""pmm_sde: Posterior Mean Matching generative models and their continuous-time processes."""

from . import grids, metrics, random, schedules, solvers, targets
from . import data, networks
from . import training
from .brownian import CounterBrownian
from .chain import run_chain, run_exact_chain
from .driver import sample
from .poisson_paths import PoissonPaths
from .processes import GammaPoissonCoxSDE, NormalNormalSDE
from .families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal
from .result import SampleResult

__version__ = "0.1.0"

__all__ = [
    "NormalNormal", "GammaPoisson", "DirichletCategorical", "ConjugateFamily",
    "schedules", "grids", "targets", "random", "metrics",
    "run_chain", "run_exact_chain", "SampleResult", "sample", "solvers",
    "NormalNormalSDE", "GammaPoissonCoxSDE", "PoissonPaths", "training", "CounterBrownian",
]
