"""Argument checks that raise ``ValueError`` naming the argument and the constraint it breaks."""

from __future__ import annotations

import math
import numbers
import operator

import torch

#: Seeds key Philox with 64 bits: a seed is an int in ``[0, SEED_RANGE)``.
SEED_RANGE = 2**64
#: State dtypes of a run (the random streams and fused kernels have float32 and float64 forms).
RUN_DTYPES = (torch.float32, torch.float64)


def as_float_tensor(value, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``value`` as a finite floating tensor: ``dtype`` if given, else its own floating dtype, else the
    default dtype. Python numbers are read as float64 first, so a float64 ``dtype`` keeps them exact;
    integer tensors convert exactly where the target dtype holds their values. Bool, complex and
    non-numeric values are refused, and so is a finite value that overflows ``dtype`` (say 1e300 cast
    to float32)."""
    if isinstance(value, (bool, complex, str, bytes)) or value is None:
        raise ValueError(f"{name} must be a real number or a tensor of real numbers, got {value!r}")
    own = torch.is_tensor(value) or hasattr(value, "__array__")
    try:
        tensor = torch.as_tensor(value) if own else torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ValueError(f"{name} must be a real number or a tensor of real numbers, got {value!r}") from error
    if tensor.dtype == torch.bool or tensor.is_complex() or (not own and _holds_bool(value)):
        raise ValueError(f"{name} must hold real numbers (not bools or complex numbers), got {value!r}")
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite, got {value!r}")
    target = dtype or (tensor.dtype if own and tensor.is_floating_point() else torch.get_default_dtype())
    cast = tensor.to(target)
    if not bool(torch.isfinite(cast).all()):
        raise ValueError(f"{name} = {value!r} overflows {target} (largest finite value "
                         f"{torch.finfo(target).max:.3g}); pass float64 values or a smaller {name}")
    return cast


def _holds_bool(value) -> bool:
    """Whether a (nested) list or tuple holds a bool."""
    return isinstance(value, (list, tuple)) and any(isinstance(v, bool) or _holds_bool(v) for v in value)


def positive_float(value, name: str) -> float:
    """A real number > 0 (a Python number or a one-element tensor), read in float64."""
    tensor = as_float_tensor(value, name, torch.float64)
    if tensor.numel() != 1:
        raise ValueError(f"{name} must be a single number, got shape {tuple(tensor.shape)}")
    if not float(tensor) > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(tensor)


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


def _as_int(value, name: str, what: str) -> int:
    """``value`` as a Python int: ints, numpy and 0-dim integer torch values, and integral floats
    (2.0); ``what`` describes the constraint in the error."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        pass
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    raise ValueError(f"{name} must be {what}, got {value!r}")


def positive_int(value, name: str, maximum: int | None = None, minimum: int = 1) -> int:
    """A Python int >= ``minimum`` (1 unless given) and <= ``maximum`` if given; integral floats such
    as 2.0 are accepted."""
    what = f"an integer >= {minimum}" if maximum is None else f"an integer in [{minimum}, {maximum}]"
    value = _as_int(value, name, what)
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def seed(value, name: str = "seed") -> int:
    """A seed: an int (not a bool or float) in ``[0, 2^64)``, the 64-bit Philox key."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r}") from None
    if not 0 <= value < SEED_RANGE:
        raise ValueError(f"{name} must be an integer in [0, 2**64), got {value!r} (larger or negative "
                         f"seeds would alias others)")
    return value


def shape(value, name: str = "shape") -> tuple[int, ...]:
    """A data shape: an int or a sequence of ints, each >= 1."""
    if isinstance(value, (str, bytes)) or (torch.is_tensor(value) and value.is_floating_point()):
        raise ValueError(f"{name} must be an int or a tuple of ints >= 1, got {value!r}")
    try:
        entries = [value] if not hasattr(value, "__iter__") or (torch.is_tensor(value) and value.dim() == 0) \
            else list(value)
    except TypeError:
        raise ValueError(f"{name} must be an int or a tuple of ints >= 1, got {value!r}") from None
    return tuple(positive_int(entry, f"each entry of {name}") for entry in entries)


def run_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """The state dtype of a run: ``torch.float32`` or ``torch.float64`` (or their names, "float32",
    "torch.float64", "double"); ``None`` is the default dtype."""
    resolved = torch.get_default_dtype() if dtype is None else dtype
    if isinstance(resolved, str):
        resolved = getattr(torch, resolved.removeprefix("torch."), None)
    if resolved not in RUN_DTYPES:
        choices = " or ".join(str(d) for d in RUN_DTYPES)
        default = " (the default dtype)" if dtype is None else ""
        raise ValueError(f"{name} must be {choices}, got {dtype if dtype is not None else resolved!r}{default}")
    return resolved


def device(value, name: str = "device") -> torch.device | None:
    """A device a run can use: ``None`` (the family's, the CPU), ``"cpu"``, or a CUDA device that
    exists (``"cuda"``, ``"cuda:1"``, an index as torch reads it, or a ``torch.device``)."""
    if value is None:
        return None
    if not isinstance(value, (str, torch.device, int)) or isinstance(value, bool):
        raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:<index>' or a torch.device, got {value!r}")
    try:
        resolved = torch.device("cuda", value) if isinstance(value, int) else torch.device(value)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"{name} must be 'cpu', 'cuda', 'cuda:<index>' or a torch.device, got {value!r}") from None
    if resolved.type == "cpu":
        return resolved
    if resolved.type != "cuda":
        raise ValueError(f"{name} must be a CPU or CUDA device, got {value!r}")
    if not torch.cuda.is_available():
        raise ValueError(f"{name}={value!r}: CUDA is not available on this machine; use device='cpu'")
    if resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={value!r}: there are {torch.cuda.device_count()} CUDA devices")
    return resolved


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
