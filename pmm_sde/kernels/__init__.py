"""Fused GPU kernels (Triton) for the package's samplers, with the pure-torch path as reference,
and compiled CPU draws of the counter-based streams.

Triton is optional: without it every function here runs on the torch backend. On CPU tensors the
normal and Poisson draws run as compiled C (:mod:`pmm_sde.streams.native`, built on first use)
when a C compiler works, else on the torch path; both give the same numbers.
"""

from ..streams import (BACKENDS, check_backend, native_available, native_unavailable_reason, normal, poisson,
                       resolve_backend, triton_available)
from .steps import (categorical_tau_leap_step, euler_maruyama_step, fused_backend, gamma_mixture_oracle_tau_leap,
                    gamma_oracle_tau_leap, gamma_oracle_tau_leap_events, gaussian_oracle_pmm_chain, pmm_chain_step,
                    point_masses_oracle_tau_leap, tau_leap_step)

__all__ = ["BACKENDS", "categorical_tau_leap_step", "check_backend", "euler_maruyama_step", "fused_backend",
           "gamma_mixture_oracle_tau_leap", "gamma_oracle_tau_leap", "gamma_oracle_tau_leap_events",
           "gaussian_oracle_pmm_chain", "native_available", "native_unavailable_reason", "normal", "pmm_chain_step",
           "point_masses_oracle_tau_leap", "poisson", "resolve_backend", "tau_leap_step", "triton_available"]
