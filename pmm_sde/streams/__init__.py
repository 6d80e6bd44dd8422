"""Counter-based random streams: the torch reference, its compiled (C, Triton) backends, and the
per-run noise sources built on them (counter streams, Poisson paths, Brownian bridges, couplings).

Every draw is a pure function of ``(seed, counter, element index)``; see :mod:`.reference`.
"""

from . import reference
from .backend import BACKENDS, check_backend, resolve_backend, triton_available
from .brownian import CounterBrownian, check_brownian_motion
from .couplings import AntitheticRefinement
from .draws import normal, poisson
from .native import native_available, native_unavailable_reason
from .noise import Noise
from .poisson_paths import PoissonPaths
from .reference import COUNTERS_PER_STEP, MAX_STEPS

__all__ = ["AntitheticRefinement", "BACKENDS", "COUNTERS_PER_STEP", "CounterBrownian", "MAX_STEPS", "Noise",
           "PoissonPaths", "check_backend", "check_brownian_motion", "native_available", "native_unavailable_reason",
           "normal", "poisson", "reference", "resolve_backend", "triton_available"]
