"""The ``Dataset`` record returned by ``pmm.data.load`` and the seeded streams that fill it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from ..families import ConjugateFamily

KINDS = ("real", "counts", "tokens")
#: How a data set's points look to its user: 2-D or vector points, images, token sequences, text.
FORMS = ("points", "images", "tokens", "text")

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
    """A data set: training and held-out points, their shape as the family sees it, and how they
    map back to the user's own form.

    ``train`` and ``heldout`` are float32 ``(n, *shape)`` for ``kind`` "real" and "counts", int64
    class indices ``(n, L)`` for "tokens" (``shape == (L,)``, ``num_classes == K``). Real data may
    be standardised: the user's value is ``x * scale + offset`` (``decode``). ``form`` says how a
    point is shown and written ("points", "images", "tokens", "text"); ``vocabulary`` holds the
    characters of a text corpus (class k is ``vocabulary[k]``); ``source`` the file it came from.
    ``target`` is the exact law (a ``pmm.targets`` object with oracles) when there is one;
    ``corpus`` is the exact generating model of a synthetic token corpus (``MarkovCorpus``).
    ``make_family`` gives the suggested family; a data set rebuilt from a checkpoint has none
    (the checkpoint holds its family).
    """

    name: str
    kind: str
    train: torch.Tensor
    heldout: torch.Tensor
    shape: tuple[int, ...]
    make_family: Callable[[], ConjugateFamily] | None = field(default=None, repr=False)
    num_classes: int | None = None
    target: Any = None
    corpus: Any = None
    description: str = ""
    form: str = "points"
    offset: torch.Tensor | None = None
    scale: torch.Tensor | None = None
    vocabulary: str | None = None
    source: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {self.form!r}")

    def family(self) -> ConjugateFamily:
        """A fresh instance of the suggested conjugate family for this data."""
        if self.make_family is None:
            raise ValueError(f"dataset {self.name!r} was rebuilt from a checkpoint; its family is the checkpoint's")
        return self.make_family()

    def one_hot(self, tokens: torch.Tensor) -> torch.Tensor:
        """Float32 one-hot encoding ``(n, L, K)`` of token indices ``(n, L)`` (tokens only)."""
        if self.kind != "tokens":
            raise ValueError(f"one_hot: dataset {self.name!r} holds {self.kind}, not tokens")
        return torch.nn.functional.one_hot(tokens, self.num_classes).to(torch.float32)

    def as_family_data(self, points: torch.Tensor) -> torch.Tensor:
        """``points`` as the family sees them: one-hot float for tokens, unchanged otherwise."""
        return self.one_hot(points) if self.kind == "tokens" else points

    def decode(self, points: torch.Tensor) -> torch.Tensor:
        """Points in the user's own units: ``x * scale + offset`` for standardised real data, else ``points``."""
        if self.scale is None:
            return points
        return points * self.scale.to(points) + self.offset.to(points)

    def text(self, tokens: torch.Tensor) -> list[str]:
        """Token sequences ``(n, L)`` as strings of the vocabulary's characters (text data only)."""
        if self.vocabulary is None:
            raise ValueError(f"text: dataset {self.name!r} has no vocabulary")
        return ["".join(self.vocabulary[k] for k in row) for row in tokens.tolist()]

    def record(self) -> dict:
        """What sampling needs without the original data, as JSON-able values (``from_record``)."""
        return {"name": self.name, "kind": self.kind, "shape": list(self.shape), "num_classes": self.num_classes,
                "form": self.form, "description": self.description, "source": self.source,
                "vocabulary": self.vocabulary,
                "offset": None if self.offset is None else self.offset.tolist(),
                "scale": None if self.scale is None else self.scale.tolist()}

    @classmethod
    def from_record(cls, record: dict, heldout: torch.Tensor) -> "Dataset":
        """The data set described by ``record`` (``Dataset.record()``), with ``heldout`` points and no training set."""
        offset, scale = (None if record[key] is None else torch.tensor(record[key], dtype=torch.float32)
                         for key in ("offset", "scale"))
        return cls(name=record["name"], kind=record["kind"], train=heldout[:0], heldout=heldout,
                   shape=tuple(record["shape"]), num_classes=record["num_classes"], form=record["form"],
                   description=record["description"], source=record["source"], vocabulary=record["vocabulary"],
                   offset=offset, scale=scale)

    @property
    def data_mean(self) -> float:
        """Mean of the training data as the family sees it (over every point and coordinate)."""
        return float(self.as_family_data(self.train).double().mean())

    @property
    def data_std(self) -> float:
        """Standard deviation of the training data as the family sees it (all coordinates pooled)."""
        return float(self.as_family_data(self.train).double().std())
