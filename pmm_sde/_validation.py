"""Argument checks that raise ``ValueError`` naming the argument and the constraint it breaks."""

from __future__ import annotations

import math
import numbers

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


def _kind_error(value, name: str) -> str | None:
    """Why ``value`` is not a real number or array of them (None when it may be one)."""
    if value is None or isinstance(value, (str, bytes)):
        return f"{name} must be a real number or a tensor of them, got {value!r}"
    if torch.is_tensor(value):
        dtype = value.dtype
    elif hasattr(value, "__array__") and hasattr(value, "dtype"):
        kind = getattr(value.dtype, "kind", "f")
        return (f"{name} must hold real numbers, got an array of dtype {value.dtype}"
                if kind not in "iuf" else None)
    else:
        try:
            dtype = torch.as_tensor(value).dtype
        except (TypeError, ValueError, RuntimeError):
            return f"{name} must be a real number or a tensor of them, got {value!r}"
    if dtype == torch.bool or dtype.is_complex:
        given = f"a {dtype} tensor of shape {tuple(value.shape)}" if torch.is_tensor(value) else repr(value)
        return f"{name} must hold real numbers, not {'bool' if dtype == torch.bool else 'complex'} values, got {given}"
    return None


def real_tensor(value, name: str, dtype: torch.dtype | None = None, positive: bool = False) -> torch.Tensor:
    """``as_float_tensor`` for a model parameter: a non-empty, finite tensor of real numbers.

    Refuses None, strings, bool and complex values (a bool is not a real parameter here, and a
    complex one would lose its imaginary part in the cast) and empty tensors, naming ``name``.
    Python numbers are read in float64 and cast to the default dtype by ``cast_parameter``
    (``positive``: a value > 0 must stay > 0).
    """
    problem = _kind_error(value, name)
    if problem is not None:
        raise ValueError(problem)
    if dtype is None and not (torch.is_tensor(value) or hasattr(value, "__array__")):
        # Python numbers: read in float64, then cast, so that 1e39 is said to overflow float32
        tensor = cast_parameter(as_float_tensor(value, name, torch.float64), name, torch.get_default_dtype(), positive)
    else:
        tensor = as_float_tensor(value, name, dtype)
    if tensor.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(tensor.shape)}")
    return tensor


def real_positive(value, name: str) -> torch.Tensor:
    """``real_tensor`` with every entry > 0."""
    return positive(real_tensor(value, name, positive=True), name)


def real_nonnegative(value, name: str) -> torch.Tensor:
    """``real_tensor`` with every entry >= 0."""
    return nonnegative(real_tensor(value, name), name)


def real_probability_vectors(value, name: str) -> torch.Tensor:
    """``real_tensor`` holding probability vectors on its last axis."""
    return probability_vectors(real_tensor(value, name), name)


def common_shape(**tensors: torch.Tensor) -> torch.Size:
    """The broadcast shape of the named tensors, or a ValueError naming each with its shape."""
    try:
        return torch.broadcast_shapes(*(t.shape for t in tensors.values()))
    except RuntimeError:
        shapes = ", ".join(f"{name} of shape {tuple(t.shape)}" for name, t in tensors.items())
        raise ValueError(f"{' and '.join(tensors)} must broadcast to one shape, got {shapes}") from None


def int_at_least(value, name: str, minimum: int) -> int:
    """A Python int >= ``minimum`` from an integral real number (not a bool, None, a string or NaN)."""
    ok = (isinstance(value, numbers.Real) and not isinstance(value, bool)
          and math.isfinite(value) and int(value) == value and int(value) >= minimum)
    if not ok:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def real_number(value, name: str) -> float:
    """A finite Python float from a real number, or a one-element real tensor or array (not a
    bool, None, a string or a complex)."""
    if (torch.is_tensor(value) or hasattr(value, "__array__")) and _kind_error(value, name) is None \
            and math.prod(getattr(value, "shape", ())) == 1:
        value = value.item()
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def cast_parameter(value: torch.Tensor, name: str, dtype: torch.dtype, positive: bool = False) -> torch.Tensor:
    """``value`` cast to ``dtype``, refused when the cast overflows to inf (or, for a
    ``positive`` parameter, underflows from > 0 to 0): the error names ``name`` and the dtype."""
    cast = value.to(dtype)
    if cast.is_floating_point() and not bool(torch.isfinite(cast).all()):
        largest = float(value.abs().max())
        raise ValueError(f"{name} (largest magnitude {largest:.3g}) overflows {str(dtype).replace('torch.', '')}; "
                         f"use dtype=torch.float64 or smaller values")
    if positive and bool(((value > 0) & (cast <= 0)).any()):
        smallest = float(value[value > 0].min())
        raise ValueError(f"{name} (smallest {smallest:.3g}) underflows to 0 in {str(dtype).replace('torch.', '')}; "
                         f"use dtype=torch.float64 or larger values")
    return cast
