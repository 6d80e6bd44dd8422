"""``available()`` and ``load(name, seed, **options)``: the built-in datasets by name."""

from __future__ import annotations

import inspect

from .dataset import Dataset
from .digits import load_digits
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
    """The dataset ``name``, drawn (or split) from ``seed``; ``options`` are its loader's keywords."""
    if name not in LOADERS:
        raise ValueError(f"name must be one of {available()}, got {name!r}")
    loader = LOADERS[name]
    accepted = [p for p in inspect.signature(loader).parameters if p != "seed"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"options: {unknown} not accepted by dataset {name!r}; its options are {accepted}")
    return loader(seed=seed, **options)
