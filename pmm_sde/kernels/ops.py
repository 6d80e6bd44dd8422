"""Fused steps: one entry per update, dispatched by a table of compiled implementations.

An op is called as ``op(noise, k, slot, *tensors, *coefficients)``: ``noise`` is the run's
:class:`pmm_sde.streams.Noise`, whose ``backend`` was chosen once for the run; ``(k, slot)`` names
the draw (counter ``k * COUNTERS_PER_STEP + slot``); ``tensors`` are the state (``mu``, ``xhat``,
and ``A`` for the categorical step); ``coefficients`` are tensors computed by the caller in the
state's dtype. The op runs its compiled implementation for ``noise.backend`` when there is one, the
draws are the counter-based streams (no ``bm``, no ``poisson_paths``) and every coefficient is one
value; otherwise its torch reference, the function under the decorator, which is the update's only
Python source. Both give the same numbers (``docs/kernels.md``).
"""

from __future__ import annotations

import functools
from typing import Callable

import torch

from ..streams import native

_FLOAT_DTYPES = (torch.float32, torch.float64)


@functools.cache
def _triton_steps():
    from . import triton_steps  # only where triton imports: the backend "triton" was resolved

    return triton_steps


class FusedOp:
    """An update with its torch ``reference`` and its compiled implementations: ``native``
    (default: the C function ``pmm_<name>_step`` of ``streams/csrc``, elementwise in ``mu`` and
    ``xhat``) and Triton's ``kernels.triton_steps.<name>``; each takes ``(*tensors, coefficients,
    seed, counter, offset)``, ``offset`` the element index of the state's first entry."""

    def __init__(self, reference: Callable, tensors: int, native_step: Callable | None):
        functools.update_wrapper(self, reference)
        self.name = reference.__name__
        self.reference = reference
        self.tensors = tensors
        self.implementations = {"native": native_step or functools.partial(native.fused_step, self.name),
                                "triton": lambda *args: getattr(_triton_steps(), self.name)(*args)}

    def __call__(self, noise, k: int, slot: int, *args: torch.Tensor):
        tensors, coefficients = args[:self.tensors], args[self.tensors:]
        _check_state(tensors)
        compiled = self.implementations.get(noise.backend) if noise.counter_based else None
        if compiled is None or any(c.numel() != 1 for c in coefficients):
            return self.reference(noise, k, slot, *args)
        return compiled(*tensors, [c.reshape(()) for c in coefficients], noise.seed, noise.counter(k, slot),
                        noise.offset)


def fused_op(tensors: int = 2, native_step: Callable | None = None) -> Callable[[Callable], FusedOp]:
    """Decorator: the torch reference of a fused op, which leads with ``tensors`` state tensors."""
    return lambda reference: FusedOp(reference, tensors, native_step)


def _check_state(tensors: tuple[torch.Tensor, ...]) -> None:
    """``mu``, ``xhat`` (and ``A``): float32 or float64 tensors of one dtype and device; ``xhat``
    shaped like ``mu``, ``A`` like ``mu.shape[:-1] + (1,)``."""
    if not all(torch.is_tensor(t) for t in tensors):
        raise ValueError("mu and xhat must be tensors")
    mu, xhat = tensors[0], tensors[1]
    if mu.dtype not in _FLOAT_DTYPES:
        raise ValueError(f"mu must be a float32 or float64 tensor, got {mu.dtype}")
    if any((t.dtype, t.device) != (mu.dtype, mu.device) for t in tensors) or xhat.shape != mu.shape:
        raise ValueError(f"xhat must match mu in shape, dtype and device: mu {tuple(mu.shape)} {mu.dtype} "
                         f"{mu.device}, xhat {tuple(xhat.shape)} {xhat.dtype} {xhat.device}")
    if len(tensors) == 3 and (tensors[2].shape != mu.shape[:-1] + (1,)):
        raise ValueError(f"A must be a tensor of shape mu.shape[:-1] + (1,) = {tuple(mu.shape[:-1]) + (1,)} in mu's "
                         f"dtype and device, got {tuple(tensors[2].shape)}")


@fused_op()
def tau_leap(noise, k: int, slot: int, mu: torch.Tensor, xhat: torch.Tensor, lam0: torch.Tensor,
             lam1: torch.Tensor, dA: torch.Tensor) -> torch.Tensor:
    """Gamma-Poisson leap over the exposure ``dA`` with ``xhat`` frozen:
    ``mu' = (lam0 mu + N) / lam1``, ``N ~ Poisson(dA xhat)`` (NaN where the rate is invalid)."""
    return (lam0 * mu + noise.poisson(k, dA * xhat, slot)) / lam1


@fused_op(tensors=3, native_step=native.categorical_tau_leap_step)
def categorical_tau_leap(noise, k: int, slot: int, mu: torch.Tensor, xhat: torch.Tensor, A: torch.Tensor,
                         s0: torch.Tensor, dA: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Dirichlet-Categorical leap, per position (classes on the last axis, ``A`` its events):
    ``c ~ Poisson(dA xhat)``, ``A' = A + sum_k c_k``, ``mu' = ((s0 + A) mu + c) / (s0 + A')``."""
    counts = noise.poisson(k, dA * xhat, slot)
    A_next = A + counts.sum(-1, keepdim=True)
    return ((s0 + A) * mu + counts) / (s0 + A_next), A_next


@fused_op()
def pmm_chain(noise, k: int, slot: int, mu: torch.Tensor, xhat: torch.Tensor, lam0: torch.Tensor,
              lam1: torch.Tensor, dA: torch.Tensor, sqrt_dA: torch.Tensor) -> torch.Tensor:
    """Normal-Normal PMM step with ``xhat`` frozen: ``mu' = (lam0 mu + (dA xhat + sqrt_dA z)) / lam1``,
    ``z ~ N(0, 1)``."""
    return (lam0 * mu + (dA * xhat + sqrt_dA * noise.normal(k, slot))) / lam1


@fused_op()
def euler_maruyama(noise, k: int, slot: int, mu: torch.Tensor, xhat: torch.Tensor, reversion: torch.Tensor,
                   h: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Euler-Maruyama step of a mean-reverting SDE: ``mu' = mu + reversion (xhat - mu) h + scale z``,
    ``z ~ N(0, 1)``."""
    return mu + reversion * (xhat - mu) * h + scale * noise.normal(k, slot)
