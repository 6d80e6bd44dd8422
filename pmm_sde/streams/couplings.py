"""Antithetic Brownian coupling of a grid and its halving refinement (Giles and Szpruch, 2014).

Coarse grid ``T_0 < .. < T_N``, fine grid ``t_0 < .. < t_2N`` with ``t_2k = T_k``. On coarse step
``k`` (length ``H = h_1 + h_2``, fine halves ``h_1``, ``h_2``) the Brownian path is built from two
independent standard normals ``z_k``, ``zeta_k``:

    coarse:  W(T_k+1) - W(T_k) = sqrt(H) z_k,
    fine:    W(t_2k+1) - W(t_2k) = (h_1 / H) sqrt(H) z_k + s b_k,
             W(t_2k+2) - W(t_2k+1) = (h_2 / H) sqrt(H) z_k - s b_k,    b_k = sqrt(h_1 h_2 / H) zeta_k,

with ``b_k`` the Brownian bridge's value at ``t_2k+1`` and ``s = +1`` or ``-1``. Both fine paths are
Brownian paths and both sum to the coarse increment. The estimator of a refinement difference

    D = E f(Y_N) - E f(Y_2N) ~ mean[ f(Y_N) - (f(Y_2N^+) + f(Y_2N^-)) / 2 ]

cancels the part of the pathwise difference that is odd in the bridge values (for a strong-order-1
scheme with additive noise the whole O(h) leading term), so its variance falls like ``N^-3``
rather than ``N^-2``: a weak order 2 becomes measurable at step counts where the plain coupling's
differences sink into their Monte Carlo error.

``z_k`` and ``zeta_k`` are counter-based streams (``pmm_sde.reference.normal``, counters ``base + 2k``
and ``base + 2k + 1``), so a sample's path depends only on the seed and its global index
(``first_sample`` is the global index of row 0).
"""

from __future__ import annotations

import math

import torch

from .. import _validation
from . import reference

#: Relative tolerance for matching a requested time to a grid time.
TIME_TOLERANCE = 1e-9


class AntitheticRefinement:
    """The coarse path and the two antithetic fine paths on ``fine_times`` (``2N + 1`` times).

    ``path(sign)`` returns a Brownian motion for ``sample(..., bm=)``: ``sign=None`` the coarse
    path (steps ``T_k -> T_k+1``), ``sign=+1`` or ``-1`` a fine path (steps ``t_j -> t_j+1``).
    Increments have shape ``shape`` (as torchsde's ``size``) and dtype ``dtype``. Coarse step ``k``
    uses the counters ``counter_base + 2k`` and ``counter_base + 2k + 1``, which must stay below 2^32.
    """

    def __init__(self, fine_times: torch.Tensor, shape: tuple[int, ...], seed: int, counter_base: int = 0,
                 dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
                 first_sample: int = 0):
        times = _validation.as_float_tensor(fine_times, "fine_times", torch.float64).cpu()
        if times.dim() != 1 or times.numel() < 3 or (times.numel() - 1) % 2:
            raise ValueError(f"fine_times must be 1-D with 2N + 1 >= 3 times, got shape {tuple(times.shape)}")
        if not bool((times[1:] > times[:-1]).all()):
            raise ValueError("fine_times must be strictly increasing")
        self.times = times
        self.seed = _validation.seed(seed)
        self.shape = _validation.shape(shape)
        last = reference.COUNTER_RANGE - (times.numel() - 1)
        if isinstance(counter_base, bool) or not isinstance(counter_base, int) or not 0 <= counter_base <= last:
            raise ValueError(f"counter_base must be an integer in [0, {last}] (the counters of the "
                             f"{(times.numel() - 1) // 2} coarse steps are 32-bit words), got {counter_base!r}")
        self.counter_base = counter_base
        self.dtype, self.device = dtype, device
        self.first_sample = _validation.positive_int(first_sample, "first_sample", minimum=0)
        self._offset = self.first_sample * math.prod(self.shape[1:])
        self._cached: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def _index(self, t: float) -> int:
        j = int(torch.argmin((self.times - t).abs()))
        if abs(float(self.times[j]) - t) > TIME_TOLERANCE * max(1.0, abs(t)):
            raise ValueError(f"time {t!r} is not a point of the coupling's fine grid")
        return j

    def _normals(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z_k, zeta_k)`` of coarse step ``k`` (the last step's pair is kept)."""
        if self._cached is None or self._cached[0] != k:
            counter = self.counter_base + 2 * k
            z, zeta = (reference.normal(self.shape, self.seed, counter + j, dtype=torch.float64, device=self.device,
                                        offset=self._offset) for j in (0, 1))
            self._cached = (k, z, zeta)
        return self._cached[1], self._cached[2]

    def increment(self, t0: float, t1: float, sign: int | None) -> torch.Tensor:
        """``W(t1) - W(t0)`` of the coarse path (``sign=None``) or of a fine path (``sign=+-1``)."""
        j0, j1 = self._index(t0), self._index(t1)
        k = j0 // 2
        z, zeta = self._normals(k)
        T0, Tm, T1 = (float(self.times[2 * k + i]) for i in range(3))
        H, h1, h2 = T1 - T0, Tm - T0, T1 - Tm
        if sign is None:
            if j0 % 2 or j1 != j0 + 2:
                raise ValueError(f"the coarse path steps from T_k to T_k+1; got fine indices {j0} -> {j1}")
            dW = H ** 0.5 * z
        else:
            if j1 != j0 + 1:
                raise ValueError(f"a fine path steps from t_j to t_j+1; got fine indices {j0} -> {j1}")
            bridge = sign * (h1 * h2 / H) ** 0.5 * zeta
            dW = (h1 / H ** 0.5) * z + bridge if j0 % 2 == 0 else (h2 / H ** 0.5) * z - bridge
        return dW.to(self.dtype)

    def path(self, sign: int | None) -> "AntitheticPath":
        """The chosen path as a Brownian motion ``bm(t0, t1)``."""
        if sign not in (None, 1, -1):
            raise ValueError(f"sign must be None (coarse), +1 or -1, got {sign!r}")
        return AntitheticPath(self, sign)


class AntitheticPath:
    """One path of an ``AntitheticRefinement``: ``bm(t0, t1)`` is its increment; rows are the global
    samples ``first_sample ..``."""

    def __init__(self, coupling: AntitheticRefinement, sign: int | None):
        self.coupling, self.sign = coupling, sign
        self.first_sample = coupling.first_sample

    def __call__(self, t0, t1) -> torch.Tensor:
        return self.coupling.increment(float(t0), float(t1), self.sign)
