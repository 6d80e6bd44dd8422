"""Fused GPU kernels (Triton) for the package's samplers, with the pure-torch path as reference.

Triton is optional: without it every function here runs on the torch backend.
"""

from .backend import BACKENDS, resolve_backend, triton_available
from .draws import normal, poisson
from .steps import euler_maruyama_step, gamma_oracle_tau_leap, pmm_chain_step, tau_leap_step

__all__ = ["BACKENDS", "euler_maruyama_step", "gamma_oracle_tau_leap", "normal", "pmm_chain_step", "poisson",
           "resolve_backend", "tau_leap_step", "triton_available"]
