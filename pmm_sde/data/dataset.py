"""The ``Dataset`` record returned by ``pmm.data.load`` and the seeded streams that fill it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..families import ConjugateFamily

KINDS = ("real", "counts", "tokens")

#: Stream indices: every dataset draws its training set, held-out set and any random structure
#: (a split, a transition matrix) from distinct streams of the same seed.
TRAIN_STREAM, HELDOUT_STREAM, STRUCTURE_STREAM = 0, 1, 2


def stream_seed(seed: int, stream: int) -> int:
    """The first 64-bit word of ``numpy.random.SeedSequence(seed, spawn_key=(stream,))``.

    Streams of one seed, and equal streams of different seeds, are statistically independent.
    """
    return int(np.random.SeedSequence(seed, spawn_key=(stream,)).generate_state(1, dtype=np.uint64)[0])


def seeded_generator(seed: int, stream: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``stream_seed(seed, stream)``."""
    return torch.Generator().manual_seed(stream_seed(seed, stream))


def validate_seed(seed: int) -> int:
    """A Python int >= 0."""
    if isinstance(seed, bool) or int(seed) != seed or int(seed) < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


@dataclass
class Dataset:
    """A built-in data set: training and held-out points, their shape as the family sees it.

    ``train`` and ``heldout`` are float32 ``(n, *shape)`` for ``kind`` "real" and "counts", int64
    class indices ``(n, L)`` for "tokens" (``shape == (L,)``, ``num_classes == K``). ``target`` is
    the exact law (a ``pmm.targets`` object with oracles) when there is one; ``corpus`` is the
    exact generating model of a synthetic token corpus (``MarkovCorpus``).
    """

    name: str
    kind: str
    train: torch.Tensor
    heldout: torch.Tensor
    shape: tuple[int, ...]
    make_family: Callable[[], ConjugateFamily] = field(repr=False)
    num_classes: int | None = None
    target: Any = None
    corpus: Any = None
    description: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def family(self) -> ConjugateFamily:
        """A fresh instance of the suggested conjugate family for this data."""
        return self.make_family()

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """Float32 one-hot encoding ``(n, L, K)`` of token indices ``(n, L)`` (tokens only)."""
        if self.kind != "tokens":
            raise ValueError(f"one_hot: dataset {self.name!r} holds {self.kind}, not tokens")
        return torch.nn.functional.one_hot(tokens, self.num_classes).to(torch.float32)

    def as_family_data(self, points: torch.Tensor) -> torch.Tensor:
        """``points`` as the family sees them: one-hot float for tokens, unchanged otherwise."""
        return self.one_hot(points) if self.kind == "tokens" else points

    @property
    def data_mean(self) -> float:
        """Mean of the training data as the family sees it (over every point and coordinate)."""
        return float(self.as_family_data(self.train).double().mean())

    @property
    def data_std(self) -> float:
        """Standard deviation of the training data as the family sees it (all coordinates pooled)."""
        return float(self.as_family_data(self.train).double().std())
