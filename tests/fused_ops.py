"""Calls of the fused ops (``pmm_sde.kernels.ops``) at an explicit stream counter, with the
coefficients the solvers compute from grid values, for the tests of the compiled backends."""

import torch

from pmm_sde.streams import COUNTERS_PER_STEP, Noise


def at_counter(op, backend: str, seed: int, counter: int, mu: torch.Tensor, *args: torch.Tensor):
    """``op(noise, k, slot, mu, *args)`` with ``k, slot = divmod(counter, COUNTERS_PER_STEP)`` and the
    noise of ``seed`` on ``backend``, shaped like ``mu``: the draws of stream ``(seed, counter)``."""
    k, slot = divmod(counter, COUNTERS_PER_STEP)
    return op(Noise(seed, mu.shape, mu.dtype, mu.device, backend=backend), k, slot, mu, *args)


def scalars(mu: torch.Tensor, *values) -> list[torch.Tensor]:
    """``values`` (floats or 0-dim tensors) as 0-dim tensors of mu's dtype and device."""
    return [torch.as_tensor(v, dtype=mu.dtype, device=mu.device) for v in values]


def tau_leap_coefficients(mu: torch.Tensor, A0, A1, b0) -> list[torch.Tensor]:
    """``(b0 + A0, b0 + A1, A1 - A0)`` of ``kernels.tau_leap`` over ``[A0, A1]``, prior rate ``b0``."""
    b0, A0, A1 = scalars(mu, b0, A0, A1)
    return [b0 + A0, b0 + A1, A1 - A0]


def pmm_chain_coefficients(mu: torch.Tensor, A0, A1, l0) -> list[torch.Tensor]:
    """``(l0 + A0, l0 + A1, dA, sqrt(dA))`` of ``kernels.pmm_chain`` over ``[A0, A1]``, prior precision ``l0``."""
    l0, A0, A1 = scalars(mu, l0, A0, A1)
    dA = A1 - A0
    return [l0 + A0, l0 + A1, dA, torch.sqrt(dA)]


def euler_maruyama_coefficients(mu: torch.Tensor, h, alpha0, lambda0) -> list[torch.Tensor]:
    """``(alpha0 / lambda0, h, sqrt(alpha0 h) / lambda0)`` of ``kernels.euler_maruyama``: a step ``h`` of
    the Normal-Normal SDE at rate ``alpha0`` and precision ``lambda0``."""
    h, alpha0, lambda0 = scalars(mu, h, alpha0, lambda0)
    return [alpha0 / lambda0, h, torch.sqrt(alpha0 * h) / lambda0]
