"""pmm_sde: Posterior Mean Matching generative models and their continuous-time processes."""

from . import grids, metrics, schedules, solvers, streams, targets
from . import data, networks
from . import training
from .chain import run_chain, run_exact_chain
from .driver import sample
from . import shards
from .shards import load_samples, sample_to_files
from .streams import CounterBrownian, PoissonPaths
from .streams import reference as random
from .processes import GammaPoissonCoxSDE, NormalNormalSDE
from .families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal
from .result import SampleResult

__version__ = "0.1.0"

__all__ = [
    "NormalNormal", "GammaPoisson", "DirichletCategorical", "ConjugateFamily",
    "schedules", "grids", "targets", "streams", "random", "metrics",
    "run_chain", "run_exact_chain", "SampleResult", "sample", "solvers",
    "NormalNormalSDE", "GammaPoissonCoxSDE", "PoissonPaths", "training", "CounterBrownian",
    "shards", "sample_to_files", "load_samples",
]
