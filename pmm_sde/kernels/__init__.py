"""Fused steps of the samplers: one entry per update (:mod:`.ops`), run on the backend of the run's
noise (compiled C on the CPU, Triton on CUDA) or by its torch reference; and, re-exported from
:mod:`pmm_sde.streams`, the draws of the counter-based streams on a chosen backend. How the backend
is chosen and how far the backends agree: ``docs/kernels.md``; adding an op:
``docs/howto/add-a-fused-op.md``.
"""

from ..streams import (BACKENDS, check_backend, native_available, native_unavailable_reason, normal, poisson,
                       resolve_backend, triton_available)
from .ops import FusedOp, categorical_tau_leap, euler_maruyama, fused_op, pmm_chain, tau_leap

__all__ = ["BACKENDS", "FusedOp", "categorical_tau_leap", "check_backend", "euler_maruyama", "fused_op",
           "native_available", "native_unavailable_reason", "normal", "pmm_chain", "poisson", "resolve_backend",
           "tau_leap", "triton_available"]
