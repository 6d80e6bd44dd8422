"""The discrete PMM chain: simulated observations from a predictor, refined by conjugate updates.

    for k = 1..N:  xhat = predictor(mu, A);  y ~ pi_{alpha_k}(. | xhat);  (mu, A) <- update(mu, A, y)

Random numbers come from the counter-based stream of ``pmm_sde.random``: step k uses counters
``k * COUNTERS_PER_STEP + j``, and element ``i * numel + j`` of the state belongs to sample i,
so a sample's draws depend only on ``(seed, i)``, not on the batch size.
"""

from __future__ import annotations

from typing import Callable

import torch
from tqdm.auto import tqdm

from ._validation import as_float_tensor, positive_int
from .families import ConjugateFamily
from .result import SampleResult

#: Counters reserved for the draws of one step (shared with the solvers' driver).
COUNTERS_PER_STEP = 8
#: Prediction dtypes the compiled CPU check reads, and its constraints (``nonnegative`` flag).
_NATIVE_DTYPES = (torch.float32, torch.float64)
_ENTRYWISE_NONNEGATIVE = {None: None, "finite": False, "finite and >= 0": True}

Predictor = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Evidence = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


def validate_alphas(alphas, dtype: torch.dtype, device) -> torch.Tensor:
    """Per-step information: a 1-D tensor of finite values >= 0."""
    alphas = as_float_tensor(alphas, "alphas", torch.float64)
    if alphas.dim() != 1 or alphas.numel() == 0:
        raise ValueError(f"alphas must be a non-empty 1-D sequence, got shape {tuple(alphas.shape)}")
    if not bool((alphas >= 0).all()):
        raise ValueError("alphas must be >= 0 (information is never removed)")
    return alphas.to(dtype=dtype, device=device)


def resolve_shape(family: ConjugateFamily, shape) -> tuple[int, ...]:
    """The data shape: ``shape`` if given (the family's parameters must broadcast to it)."""
    param_shape = tuple(family.param_shape())
    if shape is None:
        return param_shape
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    try:
        ok = torch.broadcast_shapes(param_shape, shape) == torch.Size(shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(f"shape {shape} does not match the family's parameter shape {param_shape}")
    return shape


class PredictionMonitor:
    """Checks predictions without a host sync: keeps each evaluation's invalid flag and reports the
    first invalid one at the end.

    On a CPU tensor whose family's constraint is entrywise (``entrywise_prediction_check``) the
    flag comes from the compiled check (``pmm_sde.kernels.native.count_invalid``, one pass, a
    Python bool; the CPU has no sync to avoid), else from ``family.invalid_prediction`` (a 0-dim
    tensor).
    """

    def __init__(self, family: ConjugateFamily, state_shape: torch.Size, device):
        from .kernels import native  # here, not at the top: pmm_sde.kernels imports this module

        self.family = family
        self.state_shape = state_shape
        self._invalid: list[torch.Tensor | bool] = []
        entrywise = family.entrywise_prediction_check
        if entrywise not in _ENTRYWISE_NONNEGATIVE:
            raise ValueError(f"entrywise_prediction_check must be one of {list(_ENTRYWISE_NONNEGATIVE)}, "
                             f"got {entrywise!r}")
        self._count_invalid = None
        if entrywise is not None and torch.device(device).type == "cpu" and native.native_available():
            nonnegative = _ENTRYWISE_NONNEGATIVE[entrywise]
            self._count_invalid = lambda x: native.count_invalid(x, nonnegative)

    def check(self, xhat: torch.Tensor) -> torch.Tensor:
        """Record whether ``xhat``, the next evaluation (steps count from 0), is invalid."""
        if xhat.shape != self.state_shape:
            raise ValueError(f"predictor must return a tensor shaped like mu {tuple(self.state_shape)}, "
                             f"got {tuple(xhat.shape)}")
        if self._count_invalid is not None and xhat.device.type == "cpu" and xhat.dtype in _NATIVE_DTYPES:
            self._invalid.append(self._count_invalid(xhat) > 0)
        else:
            self._invalid.append(self.family.invalid_prediction(xhat))
        return xhat

    def raise_if_bad(self) -> None:
        if not self._invalid:
            return
        if all(torch.is_tensor(flag) for flag in self._invalid):
            flags = torch.stack(self._invalid).tolist()
        else:
            flags = [bool(flag) for flag in self._invalid]
        if any(flags):
            raise ValueError(f"predictor returned a value that is not {self.family.prediction_constraint} "
                             f"(first at step {flags.index(True)})")


def _simulate(family: ConjugateFamily, alphas, draw: Evidence, n: int, shape, save_trajectory: bool,
              dtype, device, nfe_per_step: int, progress: bool = False) -> SampleResult:
    n = positive_int(n, "n")
    shape = resolve_shape(family, shape)
    dtype = dtype or torch.get_default_dtype()
    alphas = validate_alphas(alphas, dtype, device)
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
    prediction of the wrong shape, or one outside the family's range (NaN/inf; negative for
    Gamma-Poisson; off the simplex for Dirichlet-Categorical) raises ``ValueError``.
    """
    monitor: list[PredictionMonitor] = []

    def draw(fam, mu, A, alpha, k):
        if not monitor:
            monitor.append(PredictionMonitor(fam, mu.shape, mu.device))
        xhat = monitor[0].check(predictor(mu, A))
        return fam.evidence(xhat, alpha, seed, k * COUNTERS_PER_STEP)

    result = _simulate(family, alphas, draw, n, shape, save_trajectory, dtype, device, nfe_per_step=1,
                       progress=progress)
    monitor[0].raise_if_bad()
    return result


def run_exact_chain(family: ConjugateFamily, alphas, target, n: int, shape=None, seed: int = 0,
                    save_trajectory: bool = False, dtype: torch.dtype | None = None,
                    device: torch.device | str | None = None) -> SampleResult:
    """Run the exact-target chain: observations from the target's own predictive law.

    Available where that law is closed-form (``Gaussian`` for Normal-Normal, ``Gamma`` for
    Gamma-Poisson); the law of ``mu`` after any number of steps equals the target's marginal.
    """
    if not hasattr(target, "exact_observation"):
        raise ValueError(f"target: {type(target).__name__} has no closed-form predictive transition")
    target.predictor(family)  # raises unless the target has a closed form for this family

    def draw(fam, mu, A, alpha, k):
        return fam.increments(target.exact_observation(fam, mu, A, alpha, seed, k * COUNTERS_PER_STEP), alpha)

    return _simulate(family, alphas, draw, n, shape, save_trajectory, dtype, device, nfe_per_step=0)
