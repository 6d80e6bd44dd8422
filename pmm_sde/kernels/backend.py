"""Choice between the torch reference path and the Triton kernels of a sampler."""

from __future__ import annotations

import functools

import torch

BACKENDS = ("auto", "torch", "triton")


@functools.cache
def triton_available() -> bool:
    """Whether the optional ``triton`` package imports."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_backend(backend: str, device: torch.device | str) -> str:
    """The backend that runs a draw on ``device``: ``"torch"`` or ``"triton"``.

    ``"auto"`` is Triton for CUDA devices when triton imports, else torch. An explicit
    ``"triton"`` on a CPU device needs ``TRITON_INTERPRET=1`` (Triton's interpreter).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "triton" if torch.device(device).type == "cuda" and triton_available() else "torch"
    if backend == "triton" and not triton_available():
        raise RuntimeError("backend='triton' needs the triton package, which does not import here")
    return backend
