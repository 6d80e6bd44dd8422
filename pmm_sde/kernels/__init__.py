"""Fused GPU kernels (Triton) for the package's samplers, with the pure-torch path as reference.

Triton is optional: without it every function here runs on the torch backend.
"""

from .backend import BACKENDS, resolve_backend, triton_available
from .draws import normal, poisson

__all__ = ["BACKENDS", "normal", "poisson", "resolve_backend", "triton_available"]
