"""``available()`` and ``load(name, seed, **options)``: the built-in datasets by name, or a user's file."""

from __future__ import annotations

import inspect
from pathlib import Path

from .dataset import Dataset
from .digits import load_digits
from .files import ARRAY_SUFFIXES, from_file
from .markov import load_markov
from .toys import load_checkerboard, load_gaussian_mixture, load_two_moons

LOADERS = {
    "gaussian_mixture": load_gaussian_mixture,
    "two_moons": load_two_moons,
    "checkerboard": load_checkerboard,
    "digits": load_digits,
    "markov": load_markov,
}


def available() -> list[str]:
    """Names accepted by ``load``."""
    return list(LOADERS)


def load(name: str, seed: int = 0, **options) -> Dataset:
    """The dataset ``name``, drawn (or split) from ``seed``; ``options`` are its loader's keywords.
    A ``name`` that is not built in is read as a path by ``files.from_file``."""
    if not isinstance(name, (str, Path)):
        raise ValueError(f"name must be a data set name or a path, got {type(name).__name__}")
    if name in LOADERS:
        loader = LOADERS[name]
    elif Path(name).exists():
        loader = from_file
        options = {"path": name, **options}
    else:
        raise ValueError(f"data name {str(name)!r} is neither a built-in data set {available()} nor an existing file "
                         f"({', '.join(ARRAY_SUFFIXES)}, text) or folder of PNG images")
    accepted = [p for p in inspect.signature(loader).parameters if p not in ("seed", "path")]
    unknown = sorted(set(options) - set(accepted) - {"path"})
    if unknown:
        raise ValueError(f"options: {unknown} not accepted by data {str(name)!r}; its options are {accepted}")
    return loader(seed=seed, **options)
