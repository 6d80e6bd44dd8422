"""Poisson and normal draws of the :mod:`pmm_sde.streams.reference` streams on a chosen backend.

``backend="torch"`` runs the pure-torch reference (:mod:`pmm_sde.streams.reference`), ``"native"`` the
compiled CPU draws of :mod:`pmm_sde.streams.native`, ``"triton"`` the Triton kernels of
:mod:`pmm_sde.streams.triton_draws` (``resolve_backend``; how they agree: ``docs/kernels.md``).
"""

from __future__ import annotations

import torch

from . import reference
from .._validation import nonnegative, positive_int
from . import native
from .backend import resolve_backend

_FLOAT_DTYPES = (torch.float32, torch.float64)


def poisson(rate: torch.Tensor, seed: int, counter: int = 0, backend: str = "auto",
            validate: bool = True, offset: int = 0) -> torch.Tensor:
    """Poisson(rate) counts: ``pmm_sde.reference.poisson(rate, seed, counter, offset=offset)`` on
    ``backend``: entry ``e`` of the flattened ``rate`` draws at element index ``offset + e``.

    ``rate`` is a float32 or float64 tensor with finite entries >= 0; the counts have its dtype
    and shape, equal on every backend.
    With ``validate=False`` an invalid rate gives NaN at its position instead of raising, with no
    host synchronisation (as ``reference.poisson(validate=False)``).
    """
    if not torch.is_tensor(rate) or rate.dtype not in _FLOAT_DTYPES:
        got = rate.dtype if torch.is_tensor(rate) else type(rate).__name__
        raise ValueError(f"rate must be a float32 or float64 tensor, got {got}")
    chosen = resolve_backend(backend, rate.device)
    offset = positive_int(offset, "offset", minimum=0)
    if validate:
        nonnegative(rate, "rate")
    if chosen == "triton":
        from . import triton_draws
        if validate:
            return triton_draws.poisson(rate, seed, counter, offset)
        valid = torch.isfinite(rate) & (rate >= 0)
        counts = triton_draws.poisson(torch.where(valid, rate, torch.zeros_like(rate)), seed, counter, offset)
        return torch.where(valid, counts, torch.full_like(counts, float("nan")))
    if chosen == "native":
        return native.poisson(rate, seed, counter, offset)
    return reference.poisson(rate, seed, counter, validate=False, offset=offset)


def normal(shape: tuple[int, ...], seed: int, counter: int = 0, dtype: torch.dtype = torch.float32,
           device: torch.device | str | None = None, backend: str = "auto", offset: int = 0) -> torch.Tensor:
    """Standard normal draws: ``pmm_sde.reference.normal(shape, seed, counter, dtype=dtype, offset=offset)``
    on ``backend``: the normals of elements ``offset .. offset + numel - 1``.

    ``dtype`` is float32 or float64; the backends agree but for the last bits of the math
    libraries' ``log``, ``cos`` and ``sin`` (``docs/kernels.md``).
    """
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.empty(0).device if device is None else torch.device(device)
    chosen = resolve_backend(backend, device)
    offset = positive_int(offset, "offset", minimum=0)
    if chosen == "triton":
        from . import triton_draws
        return triton_draws.normal(tuple(shape), seed, counter, dtype, device, offset)
    if chosen == "native":
        return native.normal(tuple(shape), seed, counter, dtype, offset)
    return reference.normal(tuple(shape), seed, counter, dtype=dtype, device=device, offset=offset)
