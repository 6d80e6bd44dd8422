"""Argument checks that raise ``ValueError`` naming the argument and the constraint it breaks."""

from __future__ import annotations

import torch


def as_float_tensor(value, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``value`` as a floating tensor: ``dtype`` if given, else its own floating dtype, else the
    default dtype. Python numbers are read as float64 first, so a float64 ``dtype`` keeps them exact."""
    if torch.is_tensor(value) or hasattr(value, "__array__"):
        tensor = torch.as_tensor(value)
    else:
        tensor = torch.as_tensor(value, dtype=torch.float64).to(dtype or torch.get_default_dtype())
    if not tensor.is_floating_point():
        tensor = tensor.to(dtype or torch.get_default_dtype())
    elif dtype is not None:
        tensor = tensor.to(dtype)
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return tensor


def positive(value, name: str) -> torch.Tensor:
    """A finite tensor with every entry > 0."""
    tensor = as_float_tensor(value, name)
    if not bool((tensor > 0).all()):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return tensor


def nonnegative(value, name: str) -> torch.Tensor:
    """A finite tensor with every entry >= 0."""
    tensor = as_float_tensor(value, name)
    if not bool((tensor >= 0).all()):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return tensor


def increasing(values: torch.Tensor, name: str, strict: bool = True) -> torch.Tensor:
    """A finite 1-D tensor that is (strictly) increasing."""
    values = as_float_tensor(values, name)
    if values.dim() != 1 or values.numel() < 2:
        raise ValueError(f"{name} must be a 1-D sequence of at least 2 values, got shape {tuple(values.shape)}")
    steps = values[1:] - values[:-1]
    ok = (steps > 0).all() if strict else (steps >= 0).all()
    if not bool(ok):
        kind = "strictly increasing" if strict else "non-decreasing"
        raise ValueError(f"{name} must be {kind}")
    return values


def probability_vectors(probs, name: str, atol: float = 1e-6) -> torch.Tensor:
    """A tensor whose last axis holds probability vectors (entries >= 0, summing to 1)."""
    probs = nonnegative(probs, name)
    if probs.dim() == 0 or not bool(torch.allclose(probs.sum(-1), torch.ones((), dtype=probs.dtype),
                                                  atol=atol, rtol=0.0)):
        raise ValueError(f"{name} must hold probability vectors on its last axis (entries >= 0, sum 1)")
    return probs


def positive_int(value, name: str) -> int:
    """A Python int >= 1."""
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)
