"""Per-step noise of one run: counter-based streams on the run's backend, Poisson paths, or a
user's Brownian motion.

Step ``k`` owns counters ``k * COUNTERS_PER_STEP + slot``; element ``i * numel + j`` belongs to
sample ``i`` (its global index: a run that starts at sample ``first`` has ``offset = first * numel``,
and its entry ``(i, j)`` is element ``offset + i * numel + j``), so every draw depends only on
``(seed, global sample index, step, slot)``, never on the batch size or on how the samples are split
into runs. With ``poisson_paths`` Poisson counts are increments of unit-rate Poisson processes at the
run's internal times, so runs at different step counts share their jumps. With ``bm`` the normals
of slot 0 are ``bm(t_k, t_{k+1}) / sqrt(t_{k+1} - t_k)`` on the grid ``times``.
"""

from __future__ import annotations

import torch

from .. import _validation
from . import draws, reference
from .backend import resolve_backend
from .reference import COUNTERS_PER_STEP


class Noise:
    """Noise source of one run: ``seed`` (an int in ``[0, 2^64)``), the state's shape, dtype and
    device, and the ``backend`` of its draws and of the fused steps, resolved once here
    (``"auto"``: Triton on CUDA, compiled C on the CPU, where available; ``resolve_backend``).
    ``offset``: the element index of the state's first entry (the run's first global sample times
    the entries per sample)."""

    def __init__(self, seed: int, shape: torch.Size, dtype: torch.dtype, device, backend: str = "auto",
                 times: torch.Tensor | None = None, bm=None, poisson_paths=None, offset: int = 0):
        self.seed = _validation.seed(seed)
        self.shape = tuple(shape)
        self.dtype = dtype
        self.device = device
        self.backend = resolve_backend(backend, torch.empty(0, device=device).device)
        if bm is not None and times is None:
            raise ValueError("a Brownian motion bm is read on the grid: pass times")
        self.times = None if times is None else times.to(dtype).unbind()
        self.bm = bm
        self.offset = _validation.positive_int(offset, "offset", minimum=0)
        self._index = reference.element_index(self.shape, device, self.offset)
        self._cursor = None if poisson_paths is None else poisson_paths.cursor(self.shape, device, self.offset)

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

    def normal(self, k: int, slot: int = 0) -> torch.Tensor:
        """Standard normals of step ``k``; slot 0 with a ``bm`` is ``bm(t_k, t_{k+1}) / sqrt(h)``."""
        if self.bm is not None and slot == 0:
            t0, t1 = self.times[k], self.times[k + 1]
            dW = self.bm(t0.item(), t1.item())
            return (dW / torch.sqrt(t1 - t0)).reshape(self.shape).to(self.dtype)
        return draws.normal(self.shape, self.seed, self.counter(k, slot), dtype=self.dtype, device=self.device,
                            backend=self.backend, offset=self.offset)

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

    def gamma(self, k: int, concentration: torch.Tensor, slot: int = 0) -> torch.Tensor:
        """Gamma(concentration, 1) draws of step k, shaped like the state (Marsaglia-Tsang on the
        counter-based streams, ``reference.gamma``; a concentration of 0 gives 0)."""
        return reference.gamma(concentration, self.seed, self.counter(k, slot), index=self._index)

    def poisson(self, k: int, rate: torch.Tensor, slot: int = 0) -> torch.Tensor:
        """Poisson(rate) counts of step k (NaN where the rate is invalid; the caller checks rates).

        With ``poisson_paths`` the counts are the next increments ``Y(L + rate) - Y(L)`` of the
        paths, whatever ``k`` and ``slot``: successive calls consume successive internal time.
        """
        if self._cursor is not None:
            return self._cursor.increment(rate)
        return draws.poisson(rate, self.seed, self.counter(k, slot), backend=self.backend, validate=False,
                             offset=self.offset)
