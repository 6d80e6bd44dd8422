"""Per-step noise for the driver: counter-based streams, or a user's torchsde Brownian motion.

Step ``k`` owns counters ``k * COUNTERS_PER_STEP + slot``; element ``i * numel + j`` belongs to
sample ``i``, so every draw depends only on ``(seed, sample index, step, slot)``, never on the batch
size. Normal and Poisson draws run as Triton kernels on CUDA tensors (``pmm_sde.kernels``, the
same numbers as the torch path). With ``poisson_paths`` (a ``PoissonPaths``) Poisson counts are increments of unit-rate
Poisson processes at the run's internal times instead, so runs at different step counts share
their jumps. With ``bm`` (e.g. ``torchsde.BrownianInterval``) the Brownian increment of slot 0 is
``bm(t0, t1)``, so one path can drive several grids and torchsde itself.
"""

from __future__ import annotations

import torch

from .. import _validation
from . import draws, reference
from .reference import COUNTERS_PER_STEP


class Noise:
    """Noise source of one run: ``seed`` (an int in ``[0, 2^64)``), the state's shape, dtype and device."""

    def __init__(self, seed: int, shape: torch.Size, dtype: torch.dtype, device, bm=None, poisson_paths=None):
        self.seed = _validation.seed(seed)
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = device
        self.bm = bm
        self._index = reference.element_index(self.shape, device)
        self._cursor = None if poisson_paths is None else poisson_paths.cursor(self.shape, device)

    @property
    def counter_based(self) -> bool:
        """Whether every draw is from the counter-based streams (no ``bm``, no ``poisson_paths``), so a
        fused kernel can draw step ``k``'s noise itself from ``(seed, counter(k, slot))``."""
        return self.bm is None and self._cursor is None

    def counter(self, k: int, slot: int = 0) -> int:
        """The stream counter of draw slot ``slot`` of step ``k``: ``k * COUNTERS_PER_STEP + slot``."""
        if not 0 <= slot < COUNTERS_PER_STEP:
            raise ValueError(f"slot must be in [0, {COUNTERS_PER_STEP}), got {slot}")
        return k * COUNTERS_PER_STEP + slot

    def normal(self, k: int, slot: int = 0, interval=None) -> torch.Tensor:
        """Standard normals of step k. Slot 0 with a ``bm`` is ``bm(t0, t1) / sqrt(h)``."""
        if self.bm is not None and slot == 0:
            if interval is None:
                raise ValueError("interval is required to read the Brownian motion bm")
            dW = self.bm(interval.t0.item(), interval.t1.item())
            return (dW / torch.sqrt(interval.h)).reshape(self.shape).to(self.dtype)
        return draws.normal(self.shape, self.seed, self.counter(k, slot), dtype=self.dtype, device=self.device)

    @property
    def index(self) -> torch.Tensor:
        """The flat element index of each entry of the state (int64, the state's shape)."""
        return self._index

    def uniform(self, k: int, slot: int = 0, attempt: int = 0, index: torch.Tensor | None = None) -> torch.Tensor:
        """U(0, 1) draws of step k; ``attempt`` indexes successive draws of a rejection loop. With
        ``index`` (element indices, entries of ``self.index``) only those elements' draws, shaped like it."""
        index = self._index if index is None else index
        return reference.uniform(tuple(index.shape), self.seed, self.counter(k, slot), dtype=self.dtype,
                              device=self.device, index=index, attempt=attempt)

    def poisson(self, k: int, rate: torch.Tensor, slot: int = 0) -> torch.Tensor:
        """Poisson(rate) counts of step k (NaN where the rate is invalid; the caller checks rates).

        With ``poisson_paths`` the counts are the next increments ``Y(L + rate) - Y(L)`` of the
        paths, whatever ``k`` and ``slot``: successive calls consume successive internal time.
        """
        if self._cursor is not None:
            return self._cursor.increment(rate)
        return draws.poisson(rate, self.seed, self.counter(k, slot), validate=False)
