"""The discrete PMM chain: simulated observations from a predictor, refined by conjugate updates.

    for k = 1..N:  xhat = predictor(mu, A);  y ~ pi_{alpha_k}(. | xhat);  (mu, A) <- update(mu, A, y)

Random numbers come from the counter-based stream of ``pmm_sde.streams.reference``: step k uses counters
``k * COUNTERS_PER_STEP + j``, and element ``i * numel + j`` of the state belongs to sample i,
so a sample's draws depend only on ``(seed, i)``, not on the batch size. Counter words are 32 bits
and element indices 63, so a run takes at most ``MAX_STEPS`` steps and ``MAX_ELEMENTS`` elements.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from tqdm.auto import tqdm

from . import _validation
from ._validation import as_float_tensor, positive_int
from .families import ConjugateFamily
from .streams import COUNTERS_PER_STEP, MAX_STEPS, native
from .result import SampleResult

#: The most state elements of a run: element indices of the random streams are int64.
MAX_ELEMENTS = 2**63 - 1
#: Prediction dtypes the compiled CPU check reads, and its constraints (``nonnegative`` flag).
_NATIVE_DTYPES = (torch.float32, torch.float64)
_ENTRYWISE_NONNEGATIVE = {None: None, "finite": False, "finite and >= 0": True}

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Evidence = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


def validate_alphas(alphas, dtype: torch.dtype, device) -> torch.Tensor:
    """Per-step information: a 1-D tensor of at most ``MAX_STEPS`` finite values >= 0, read in
    float64 (integers exactly) and then cast to ``dtype``."""
    alphas = as_float_tensor(alphas, "alphas", torch.float64)
    if alphas.dim() != 1 or alphas.numel() == 0:
        raise ValueError(f"alphas must be a non-empty 1-D sequence, got shape {tuple(alphas.shape)}")
    if alphas.numel() > MAX_STEPS:
        raise ValueError(f"alphas holds {alphas.numel()} steps; a run takes at most {MAX_STEPS} (its 32-bit "
                         f"counter words would wrap around)")
    if not bool((alphas >= 0).all()):
        raise ValueError("alphas must be >= 0 (information is never removed)")
    return alphas.to(dtype=dtype, device=device)


def sample_count(n, state_shape: tuple[int, ...], first_sample: int = 0) -> int:
    """``n`` samples of state shape ``state_shape`` (one sample): an int >= 1 such that the
    ``(first_sample + n) * numel`` elements of the global samples ``0 .. first_sample + n - 1`` are
    numbered by the random streams' int64 element indices."""
    n = positive_int(n, "n")
    per_sample = math.prod(state_shape)
    if (first_sample + n) * per_sample > MAX_ELEMENTS:
        raise ValueError(f"first_sample + n = {first_sample} + {n} samples of {per_sample} elements exceed the "
                         f"{MAX_ELEMENTS} element indices of the random streams")
    return n


def resolve_shape(family: ConjugateFamily, shape) -> tuple[int, ...]:
    """The data shape: ``shape`` if given (an int or a tuple of ints >= 1; the family's parameters
    must broadcast to it)."""
    param_shape = tuple(family.param_shape())
    if shape is None:
        return param_shape
    shape = _validation.shape(shape)
    try:
        ok = torch.broadcast_shapes(param_shape, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"shape {shape} does not match the family's parameter shape {param_shape}")
    return shape


class PredictionMonitor:
    """Checks predictions without a host sync: keeps each evaluation's invalid flag and reports the
    first invalid one at the end, together with the final state's finiteness (one host read).

    The first evaluation must return a tensor of the state's dtype and device (a float64 prediction
    would silently promote a float32 run); every evaluation, one shaped like the state. On a CPU
    tensor whose family's constraint is entrywise (``entrywise_prediction_check``) the flag comes
    from the compiled check (``pmm_sde.streams.native.count_invalid``, one pass, a Python bool; the
    CPU has no sync to avoid), else from ``family.invalid_prediction`` (a 0-dim tensor).
    """

    def __init__(self, family: ConjugateFamily, state_shape: torch.Size, device, dtype: torch.dtype):
        self.family = family
        self.state_shape = state_shape
        self.device = torch.device(device)
        self.dtype = dtype
        self._invalid: list[torch.Tensor | bool] = []
        entrywise = family.entrywise_prediction_check
        if entrywise not in _ENTRYWISE_NONNEGATIVE:
            raise ValueError(f"entrywise_prediction_check must be one of {list(_ENTRYWISE_NONNEGATIVE)}, "
                             f"got {entrywise!r}")
        self._count_invalid = None
        if entrywise is not None and self.device.type == "cpu" and native.native_available():
            nonnegative = _ENTRYWISE_NONNEGATIVE[entrywise]
            self._count_invalid = lambda x: native.count_invalid(x, nonnegative)

    def _check_kind(self, xhat) -> None:
        """The first prediction is a tensor of the state's dtype and device."""
        expected = f"a {self.dtype} tensor on {self.device} shaped like mu {tuple(self.state_shape)}"
        if not torch.is_tensor(xhat):
            raise ValueError(f"predictor must return {expected}, got {type(xhat).__name__}")
        same_device = xhat.device.type == self.device.type and (self.device.index is None
                                                                or xhat.device.index == self.device.index)
        if xhat.dtype != self.dtype or not same_device:
            raise ValueError(f"predictor must return {expected}, got a {xhat.dtype} tensor on {xhat.device} "
                             f"(cast its output, e.g. .to(mu))")

    def check(self, xhat: torch.Tensor, rows: int | None = None) -> torch.Tensor:
        """Record whether ``xhat``, the next evaluation (steps count from 0), is invalid; ``rows``:
        the number of the state's samples it was asked for (all of them when None)."""
        if not self._invalid:
            self._check_kind(xhat)
        shape = self.state_shape if rows is None else torch.Size((rows, *self.state_shape[1:]))
        if xhat.shape != shape:
            raise ValueError(f"predictor must return a tensor shaped like mu {tuple(shape)}, "
                             f"got {tuple(xhat.shape)}")
        if self._count_invalid is not None and xhat.device.type == "cpu" and xhat.dtype in _NATIVE_DTYPES:
            self._invalid.append(self._count_invalid(xhat) > 0)
        else:
            self._invalid.append(self.family.invalid_prediction(xhat))
        return xhat

    def raise_if_bad(self, *final: torch.Tensor) -> None:
        """Raise on the first invalid prediction, else when a tensor of the final state ``final``
        (``mu``, ``A``) holds NaN or inf (an overflow, ``raise_if_overflowed``); the flags are read
        from the device once."""
        final_flags = [~torch.isfinite(x).all() for x in final]
        if all(torch.is_tensor(flag) for flag in self._invalid):
            flags = [*self._invalid, *final_flags]
            values = torch.stack(flags).tolist() if flags else []
        else:
            values = [bool(flag) for flag in self._invalid] + [bool(flag) for flag in final_flags]
        predictions, overflowed = values[:len(self._invalid)], any(values[len(self._invalid):])
        if any(predictions):
            first = predictions.index(True)
            hint = (f"; the state is not finite either: if it overflowed {self.dtype} before step {first}, "
                    f"the predictor only passed that on (try dtype=torch.float64)" if overflowed and first else "")
            raise ValueError(f"predictor returned a value that is not {self.family.prediction_constraint} "
                             f"(first at step {first}){hint}")
        raise_if_overflowed(overflowed, self.dtype)


def raise_if_overflowed(nonfinite: bool, dtype: torch.dtype) -> None:
    """Raise when the final state of a run with valid predictions holds NaN or inf: a value
    overflowed ``dtype`` (large parameters, schedule totals or counts)."""
    if nonfinite:
        raise ValueError(f"the run overflowed: the final state holds NaN or inf although every prediction was "
                         f"valid; {dtype} holds values up to {torch.finfo(dtype).max:.3g}, so use "
                         f"dtype=torch.float64 or smaller parameters (schedule total, prior, target scale)")


def _simulate(family: ConjugateFamily, alphas, draw: Evidence, n: int, shape, save_trajectory: bool,
              dtype, device, nfe_per_step: int, progress: bool = False) -> SampleResult:
    if not isinstance(family, ConjugateFamily):
        raise ValueError(f"family must be a ConjugateFamily, got {type(family).__name__}")
    shape = resolve_shape(family, shape)
    n = sample_count(n, family.state_shape(shape))
    dtype = _validation.run_dtype(dtype)
    alphas = validate_alphas(alphas, dtype, _validation.device(device))
    family = family.cast(alphas)
    mu, A = family.initial_state(n, shape)
    saved = [mu.clone()] if save_trajectory else None
    for k in tqdm(range(alphas.shape[0]), desc="PMM chain", disable=not progress, leave=False):
        s, a = draw(family, mu, A, alphas[k], k)
        mu, A = family.absorb(mu, A, s, a)
        if saved is not None:
            saved.append(mu.clone())
    trajectory = torch.stack(saved) if saved is not None else None
    steps = torch.arange(alphas.shape[0] + 1) if saved is not None else None
    return SampleResult(mu=mu, A=A, nfe=nfe_per_step * alphas.shape[0], trajectory=trajectory,
                        trajectory_times=steps)


def run_chain(family: ConjugateFamily, alphas, predictor: Predictor, n: int, shape=None, seed: int = 0,
              save_trajectory: bool = False, dtype: torch.dtype | None = None,
              device: torch.device | str | None = None, progress: bool = False) -> SampleResult:
    """Run the plug-in PMM chain with per-step information ``alphas`` from the prior.

    Each step draws ``y ~ pi_{alpha_k}(. | predictor(mu, A))`` and applies the conjugate update.
    Returns a ``SampleResult`` with ``nfe = len(alphas)``; ``progress`` shows a tqdm bar. A
    prediction of the wrong shape, dtype or device, or one outside the family's range (NaN/inf;
    negative for Gamma-Poisson; off the simplex for Dirichlet-Categorical) raises ``ValueError``,
    and so does a final state that overflowed to NaN or inf. ``dtype``: float32 or float64 (default:
    the default dtype); integer ``alphas`` are read exactly.
    """
    seed = _validation.seed(seed)
    if not callable(predictor):
        raise ValueError(f"predictor must be callable as predictor(mu, A), got {type(predictor).__name__}")
    monitor: list[PredictionMonitor] = []

    def draw(fam, mu, A, alpha, k):
        if not monitor:
            monitor.append(PredictionMonitor(fam, mu.shape, mu.device, mu.dtype))
        xhat = monitor[0].check(predictor(mu, A))
        return fam.evidence(xhat, alpha, seed, k * COUNTERS_PER_STEP)

    result = _simulate(family, alphas, draw, n, shape, save_trajectory, dtype, device, nfe_per_step=1,
                       progress=progress)
    monitor[0].raise_if_bad(result.mu, result.A)
    return result


def run_exact_chain(family: ConjugateFamily, alphas, target, n: int, shape=None, seed: int = 0,
                    save_trajectory: bool = False, dtype: torch.dtype | None = None,
                    device: torch.device | str | None = None) -> SampleResult:
    """Run the exact-target chain: observations from the target's own predictive law.

    Available where that law is closed-form (``Gaussian`` for Normal-Normal, ``Gamma`` for
    Gamma-Poisson); the law of ``mu`` after any number of steps equals the target's marginal.
    A final state that overflowed to NaN or inf raises ``ValueError``.
    """
    seed = _validation.seed(seed)
    if not hasattr(target, "exact_observation"):
        raise ValueError(f"target: {type(target).__name__} has no closed-form predictive transition")
    if not isinstance(family, ConjugateFamily):
        raise ValueError(f"family must be a ConjugateFamily, got {type(family).__name__}")
    target.predictor(family)  # raises unless the target has a closed form for this family

    def draw(fam, mu, A, alpha, k):
        return fam.increments(target.exact_observation(fam, mu, A, alpha, seed, k * COUNTERS_PER_STEP), alpha)

    result = _simulate(family, alphas, draw, n, shape, save_trajectory, dtype, device, nfe_per_step=0)
    raise_if_overflowed(not bool(torch.isfinite(result.mu).all() & torch.isfinite(result.A).all()),
                        result.mu.dtype)
    return result
