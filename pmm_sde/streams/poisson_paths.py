"""Unit-rate Poisson paths: the common jump noise that couples Cox solvers across step sizes.

Random time change (Kurtz; Anderson, Ganguly & Kurtz 2011): a counting process with intensity
``lambda(s)`` is ``N(A) = Y(int_0^A lambda(s) ds)`` with ``Y`` a unit-rate Poisson process. A
tau-leaping stage that draws ``c ~ Poisson(lambda h)`` may take instead ``c = Y(L + lambda h) - Y(L)``,
``L`` the internal time the element has consumed so far: the law of every run is unchanged,
and runs at different step counts read the same ``Y``, so their paths stay close and the strong
error ``E|mu_T^h - mu_T^{h/2}|`` and refinement differences of weak errors can be measured.

``Y`` of element ``e`` has event times ``T_j = E_0 + ... + E_j`` with exponential gaps
``E_j = -log U_j``, ``U_j`` from word ``j mod 4`` of the Philox block ``(e, j div 4, STREAM)``
keyed by the seed: a pure function of ``(seed, e, j)``, so every run sums the same gaps in the
same order. A cursor walks ``Y`` forward, one event per round for the elements with an event
due, so a run costs ``O(N_T + steps)`` rounds, ``N_T`` the largest count of an element: meant for
convergence studies and exact references, not for production sampling.
"""

from __future__ import annotations

import math

import torch

from .. import _validation
from . import reference

#: ``c3`` word of the Philox blocks of the gaps, apart from the attempt numbers of other draws.
STREAM = 0x50504E54


class PoissonPaths:
    """One unit-rate Poisson process per state element, keyed by ``seed``; pass it to
    ``pmm.sample(..., poisson_paths=PoissonPaths(seed))`` for every run that should share it."""

    def __init__(self, seed: int = 0):
        self.seed = _validation.seed(seed)

    def cursor(self, shape: tuple[int, ...], device: torch.device | str | None = None,
               offset: int = 0) -> "PoissonCursor":
        """A fresh walk along the paths of a state of ``shape`` whose first entry is element ``offset``,
        at internal time 0."""
        return PoissonCursor(self.seed, shape, device, offset)

    def __repr__(self) -> str:
        return f"PoissonPaths(seed={self.seed})"


class PoissonCursor:
    """Position of one run on its paths: internal time ``L``, next event index ``j`` and time ``T_j``
    of every element (held flat); entry ``e`` of the state is element ``offset + e``."""

    def __init__(self, seed: int, shape: tuple[int, ...], device, offset: int = 0):
        self.seed = seed
        self.shape = tuple(shape)
        index = reference.element_index((math.prod(self.shape),), device, offset)
        self._lo, self._hi = index & 0xFFFFFFFF, index >> 32
        self.internal_time = torch.zeros(index.shape, dtype=torch.float64, device=device)
        self._next = torch.zeros_like(index)
        self._next_time = self._gap(self._next, self._lo, self._hi)

    def _gap(self, j: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """``E_j = -log U_j`` of the elements whose index words are ``lo``, ``hi``."""
        words = torch.stack(reference.philox4x32(self.seed, lo, hi, j >> 2, STREAM), -1)
        word = words.gather(-1, (j & 3).unsqueeze(-1)).squeeze(-1)
        return -torch.log(reference.to_unit_interval(word, torch.float64))

    def increment(self, rate: torch.Tensor) -> torch.Tensor:
        """Counts ``Y(L + rate) - Y(L)`` (each Poisson(rate)), advancing ``L`` by ``rate``.

        ``rate`` has the state's shape; entries that are negative or not finite give NaN counts
        (the caller's prediction checks report them), as ``reference.poisson(validate=False)`` does.
        Each round visits only the elements with an event due.
        """
        rate64 = rate.to(torch.float64).reshape(-1)
        valid = torch.isfinite(rate64) & (rate64 >= 0)
        self.internal_time = self.internal_time + torch.where(valid, rate64, torch.zeros_like(rate64))
        counts = torch.zeros_like(rate64)
        due = torch.nonzero(self._next_time <= self.internal_time).squeeze(1)
        while due.numel():
            counts[due] += 1
            self._next[due] += 1
            self._next_time[due] += self._gap(self._next[due], self._lo[due], self._hi[due])
            due = due[self._next_time[due] <= self.internal_time[due]]
        counts = torch.where(valid, counts, torch.full_like(counts, float("nan")))
        return counts.reshape(self.shape).to(rate.dtype)
