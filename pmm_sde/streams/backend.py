"""Choice between the torch reference path, the compiled CPU draws and the Triton kernels."""

from __future__ import annotations

import functools

import torch

from . import native

BACKENDS = ("auto", "torch", "native", "triton")


@functools.cache
def triton_available() -> bool:
    """Whether the optional ``triton`` package imports."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def check_backend(backend: str) -> str:
    """``backend`` if it is a known name that can run here, whatever the device: ``"triton"`` needs
    the triton package, ``"native"`` the compiled CPU draws (a working C compiler)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "triton" and not triton_available():
        raise RuntimeError("backend='triton' needs the triton package, which does not import here")
    if backend == "native" and not native.native_available():
        raise RuntimeError(f"backend='native' is unavailable: {native.native_unavailable_reason()}")
    return backend


def resolve_backend(backend: str, device: torch.device | str) -> str:
    """The backend that runs a draw on ``device``: ``"torch"``, ``"native"`` or ``"triton"``.

    ``"auto"`` is Triton for CUDA devices when triton imports, the compiled CPU draws
    (:mod:`pmm_sde.streams.native`) for CPU devices when they build, else torch. An explicit
    ``"triton"`` on a CPU device needs ``TRITON_INTERPRET=1`` (Triton's interpreter); an explicit
    ``"native"`` needs a CPU device and a working C compiler.
    """
    check_backend(backend)
    device_type = torch.device(device).type
    if backend == "auto":
        if device_type == "cuda":
            return "triton" if triton_available() else "torch"
        return "native" if device_type == "cpu" and native.native_available() else "torch"
    if backend == "native" and device_type != "cpu":
        raise ValueError(f"backend='native' runs on CPU tensors, got device {device_type!r}")
    return backend
