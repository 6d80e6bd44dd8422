"""Streaming Monte Carlo statistics over fixed blocks of global sample indices.

The samples ``0 .. n - 1`` are cut into blocks of ``block`` consecutive global indices (the last
may be short). Each block's samples are simulated by ``sample(..., first_sample=...)``, so they do
not depend on which run holds them; per block, in float64, the sufficient statistics of each
functional ``f`` of the terminal state are one torch reduction of the block's own values:

    count_b,   S_b = sum_{i in b} f(mu_i),   Q_b = sum_{i in b} f(mu_i)^2,

and, for a Gamma-Poisson Cox process, the integer histogram of ``N = b(A_T) mu - a0`` at one entry.
The totals are folded in block order, ``S = (..((S_0 + S_1) + S_2) ..) + S_{B-1}``, so they are
bitwise the same whatever the chunk size (chunks are the runs held in memory, whole numbers of
blocks), and results over consecutive block ranges merge into exactly the single-run result: what
the ranks of a distributed run will do. Memory: one chunk of samples, plus ``3 F + 1`` numbers per
block (``F`` functionals); independent of ``n`` for a fixed chunk up to those per-block numbers.

Moments: ``mean = S / n``, ``variance = (Q - S^2 / n) / (n - 1)`` (unbiased), ``stderr = sqrt(variance / n)``.
Why chunking cannot change the figures: ``docs/howto/scale.md``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable, Mapping

import torch
from tqdm.auto import tqdm

from .. import _validation, distributed
from ..chain import resolve_shape
from ..driver import sample
from ..processes import GammaPoissonCoxSDE, PMMProcess


def _first_entry(mu: torch.Tensor) -> torch.Tensor:
    return mu.reshape(mu.shape[0], -1)[:, 0]


#: Default functionals: ``x``, ``x^2`` and ``cos x`` of the first entry ``x`` of each sample's state.
FIRST_ENTRY_FUNCTIONALS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "x": _first_entry,
    "x^2": lambda mu: _first_entry(mu) ** 2,
    "cos x": lambda mu: torch.cos(_first_entry(mu)),
}
#: Default block size: at most 32768 values, so a block's reduction runs in one thread (ATen's grain
#: size) and its sum does not depend on the number of threads.
DEFAULT_BLOCK = 4096


@dataclass(frozen=True, eq=False)
class StreamingStatistics:
    """Per-block statistics of ``functionals`` over the blocks ``first_block ..`` of size ``block``.

    ``counts`` (blocks,) int64 samples per block; ``sums`` and ``sums_of_squares`` (blocks, F)
    float64, ``S_b`` and ``Q_b`` of each functional; ``histogram`` (bins + 1,) int64 counts of
    ``N = 0 .. bins - 1`` and, last, of ``N >= bins`` (``None`` without a histogram).
    """

    functionals: tuple[str, ...]
    block: int
    first_block: int
    counts: torch.Tensor
    sums: torch.Tensor
    sums_of_squares: torch.Tensor
    histogram: torch.Tensor | None = None

    @property
    def blocks(self) -> int:
        """How many blocks the statistics hold."""
        return self.counts.numel()

    @functools.cached_property
    def n(self) -> int:
        """Samples over all blocks."""
        return int(self.counts.sum())

    @functools.cached_property
    def totals(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """``(S, Q)`` per functional, folded over the blocks in order."""
        return _fold(self.sums), _fold(self.sums_of_squares)

    @property
    def means(self) -> dict[str, float]:
        """``S / n`` per functional."""
        return {name: s / self.n for name, s in zip(self.functionals, self.totals[0])}

    @property
    def variances(self) -> dict[str, float]:
        """``(Q - S^2 / n) / (n - 1)`` per functional (NaN for one sample)."""
        n = self.n
        return {name: (q - s * s / n) / (n - 1) if n > 1 else math.nan
                for name, s, q in zip(self.functionals, *self.totals)}

    @property
    def stderrs(self) -> dict[str, float]:
        """``sqrt(variance / n)`` per functional: the standard error of each mean."""
        return {name: math.sqrt(max(v, 0.0) / self.n) for name, v in self.variances.items()}

    def merge(self, other: "StreamingStatistics") -> "StreamingStatistics":
        """The statistics over this result's blocks followed by ``other``'s, which must start at the block
        after this result's last, with the same functionals, block size and histogram bins: bitwise the
        statistics of one run over both ranges."""
        if not isinstance(other, StreamingStatistics):
            raise ValueError(f"other must be a StreamingStatistics, got {type(other).__name__}")
        if (other.functionals, other.block) != (self.functionals, self.block):
            raise ValueError(f"other must have the same functionals and block: {self.functionals}, block {self.block}"
                             f" against {other.functionals}, block {other.block}")
        if other.first_block != self.first_block + self.blocks:
            raise ValueError(f"other must start at block {self.first_block + self.blocks}, the block after this "
                             f"result's last; got first_block {other.first_block}")
        if (self.histogram is None) != (other.histogram is None) or (
                self.histogram is not None and self.histogram.shape != other.histogram.shape):
            raise ValueError("other must hold a histogram with the same bins as this result's, or neither holds one")
        histogram = None if self.histogram is None else self.histogram + other.histogram
        return StreamingStatistics(self.functionals, self.block, self.first_block,
                                   torch.cat([self.counts, other.counts]), torch.cat([self.sums, other.sums]),
                                   torch.cat([self.sums_of_squares, other.sums_of_squares]), histogram)

    def to_dict(self) -> dict:
        """The combined figures as plain numbers (for JSON)."""
        return {"n": self.n, "block": self.block, "first_block": self.first_block, "blocks": self.blocks,
                "sums": dict(zip(self.functionals, self.totals[0])),
                "sums_of_squares": dict(zip(self.functionals, self.totals[1])),
                "means": self.means, "variances": self.variances, "stderrs": self.stderrs,
                "histogram": None if self.histogram is None else self.histogram.tolist()}


def _fold(per_block: torch.Tensor) -> tuple[float, ...]:
    """Column sums of ``per_block`` (blocks, F), added in block order in float64."""
    totals = [0.0] * per_block.shape[1]
    for row in per_block.tolist():
        totals = [t + v for t, v in zip(totals, row)]
    return tuple(totals)


def _block_statistics(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S_b, Q_b)`` of one block's values (rows, F): per functional, one float64 reduction of a
    contiguous column of ``rows`` values (one thread when ``rows`` is below ATen's grain size)."""
    columns = values.to(torch.float64).t().contiguous()
    return (torch.stack([column.sum() for column in columns]),
            torch.stack([(column * column).sum() for column in columns]))


def _functional_values(functionals: Mapping[str, Callable], mu: torch.Tensor) -> torch.Tensor:
    """``(rows, F)``: each functional of the block's terminal states, one value per sample."""
    columns = []
    for name, f in functionals.items():
        value = f(mu)
        if not torch.is_tensor(value) or tuple(value.shape) != (mu.shape[0],):
            got = tuple(value.shape) if torch.is_tensor(value) else type(value).__name__
            raise ValueError(f"functional {name!r} must return one value per sample, shape ({mu.shape[0]},); "
                             f"got {got}")
        columns.append(value.to(torch.float64))
    return torch.stack(columns, dim=1)


def _count_bins(process: PMMProcess, mu: torch.Tensor, A: torch.Tensor, entry: int, bins: int) -> torch.Tensor:
    """Histogram indices of ``N = b(A_T) mu - a0`` at flat entry ``entry`` of each sample: ``N`` for
    ``N = 0 .. bins - 1``, ``bins`` for ``N >= bins`` (int64, one per sample)."""
    N = process.family.statistic(mu, A).reshape(mu.shape[0], -1)[:, entry]
    return torch.round(N.to(torch.float64)).clamp(0, bins).to(torch.int64)


def check_blocks(n, block, chunk, blocks) -> tuple[int, int, int, range | None]:
    """``n``, ``block`` and ``chunk`` (default ``16 * block``, a multiple of ``block``) as ints >= 1, and
    ``blocks`` (None, or a non-empty step-1 range of the ``ceil(n / block)`` blocks), checked."""
    n = _validation.positive_int(n, "n")
    block = _validation.positive_int(block, "block")
    chunk = 16 * block if chunk is None else _validation.positive_int(chunk, "chunk")
    if chunk % block:
        raise ValueError(f"chunk must be a multiple of block = {block} (chunks hold whole blocks), got {chunk}")
    total_blocks = -(-n // block)
    if blocks is not None and (not isinstance(blocks, range) or blocks.step != 1 or len(blocks) == 0
                               or blocks.start < 0 or blocks.stop > total_blocks):
        raise ValueError(f"blocks must be a non-empty range with step 1 within range({total_blocks}) (n = {n} "
                         f"samples in blocks of {block}), got {blocks!r}")
    return n, block, chunk, blocks


def block_statistics(names: tuple[str, ...], simulate: Callable[[int, int], tuple[torch.Tensor, torch.Tensor | None]],
                     n: int, *, block: int = DEFAULT_BLOCK, chunk: int | None = None, blocks: range | None = None,
                     histogram_bins: int | None = None, world: distributed.World | None = None,
                     progress: bool = False, desc: str = "blocks") -> StreamingStatistics:
    """Per-block statistics of the per-sample values that ``simulate(start, stop)`` returns for the global
    samples ``start .. stop - 1``: ``(values (rows, F) float64, bins)``, ``F = len(names)``, with ``bins``
    (rows,) int64 histogram indices in ``0 .. histogram_bins`` or None.

    ``chunk`` (a multiple of ``block``, default ``16 * block``) is the most samples one call simulates.
    ``blocks``: the global blocks to simulate (default: all, split over the ranks of ``world``, default
    ``distributed.current()``, and gathered in block order on every rank).
    """
    n, block, chunk, blocks = check_blocks(n, block, chunk, blocks)
    world = distributed.current() if world is None else world
    if blocks is None:
        share = distributed.block_range(-(-n // block), world)
        parts = distributed.gather_work(lambda: None if len(share) == 0 else block_statistics(
            names, simulate, n, block=block, chunk=chunk, blocks=share, histogram_bins=histogram_bins,
            world=world, progress=progress and world.is_main, desc=desc), world)
        return functools.reduce(StreamingStatistics.merge, [part for part in parts if part is not None])
    counts, sums, squares = [], [], []
    histogram = None if histogram_bins is None else torch.zeros(histogram_bins + 1, dtype=torch.int64)
    per_chunk = chunk // block
    with tqdm(total=len(blocks), desc=desc, disable=not progress, leave=False) as bar:
        for first in range(blocks.start, blocks.stop, per_chunk):
            last = min(first + per_chunk, blocks.stop)
            start, stop = first * block, min(last * block, n)
            values, bins = simulate(start, stop)
            for b in range(first, last):
                rows = slice(b * block - start, min((b + 1) * block, n) - start)
                s, q = _block_statistics(values[rows])
                counts.append(rows.stop - rows.start)
                sums.append(s)
                squares.append(q)
            if histogram is not None:
                histogram += torch.bincount(bins.cpu(), minlength=histogram_bins + 1)
            bar.update(last - first)
    return StreamingStatistics(tuple(names), block, blocks.start, torch.tensor(counts, dtype=torch.int64),
                               torch.stack(sums).cpu(), torch.stack(squares).cpu(), histogram)


def streaming_statistics(process: PMMProcess, solver="pmm_chain", steps: int = 100, n: int = 10_000, *,
                         seed: int = 0, functionals: Mapping[str, Callable] | None = None,
                         block: int = DEFAULT_BLOCK, chunk: int | None = None, blocks: range | None = None,
                         histogram_bins: int | None = None, histogram_entry: int = 0, progress: bool = False,
                         world: distributed.World | None = None, **run) -> StreamingStatistics:
    """Per-block statistics of ``functionals`` of the terminal state of ``n`` samples of ``process``.

    ``solver``, ``steps``, ``seed`` and ``run`` (``grid``, ``poisson_paths``, ``dtype``, ``device``,
    ``backend``) are those of ``sample()``. ``functionals``: names and functions of a run's terminal
    ``mu`` ``(rows, *state)``, each returning one value per sample (default ``FIRST_ENTRY_FUNCTIONALS``).
    ``block``: global indices per block (an int >= 1). ``chunk``: samples per run held in memory, a
    multiple of ``block`` (default ``16 * block``); it never changes the figures. ``blocks``: the
    global blocks to simulate, a ``range`` with step 1 within ``range(ceil(n / block))`` (default all,
    split over the ranks of ``world``, default ``distributed.current()``; consecutive ranges merge
    with ``StreamingStatistics.merge``). ``histogram_bins``: for a Gamma-Poisson Cox process, the
    histogram of the counts ``N`` at flat entry ``histogram_entry`` of each sample's state.
    ``progress``: a tqdm bar over the blocks.
    """
    if not isinstance(process, PMMProcess):
        raise ValueError(f"process must be a PMMProcess, got {type(process).__name__}")
    check_blocks(n, block, chunk, blocks)
    functionals = dict(FIRST_ENTRY_FUNCTIONALS if functionals is None else functionals)
    if not functionals or not all(isinstance(k, str) and callable(f) for k, f in functionals.items()):
        raise ValueError("functionals must be a non-empty mapping of names to callables")
    if histogram_bins is not None:
        if not isinstance(process, GammaPoissonCoxSDE) or process.family.has_class_axis:
            raise ValueError("histogram_bins needs a Gamma-Poisson Cox process, whose counts N = b(A_T) mu - a0 "
                             "are integers")
        histogram_bins = _validation.positive_int(histogram_bins, "histogram_bins")
        shape = process.shape if run.get("shape") is None else resolve_shape(process.family, run["shape"])
        entries = math.prod(process.family.state_shape(shape))
        histogram_entry = _validation.positive_int(histogram_entry, "histogram_entry", maximum=entries - 1,
                                                   minimum=0)

    def simulate(start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        result = sample(process, solver, steps=steps, n=stop - start, seed=seed, first_sample=start, **run)
        bins = None if histogram_bins is None else _count_bins(process, result.mu, result.A, histogram_entry,
                                                               histogram_bins)
        return _functional_values(functionals, result.mu), bins

    return block_statistics(tuple(functionals), simulate, n, block=block, chunk=chunk, blocks=blocks,
                            histogram_bins=histogram_bins, world=world, progress=progress)
