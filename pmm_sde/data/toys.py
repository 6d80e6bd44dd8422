"""Two-dimensional toy data: the 8-Gaussian ring, two moons, a checkerboard.

Two moons and the checkerboard are standardised exactly (zero mean, unit variance per
coordinate, constants derived below). The ring keeps the demo's definition (radius 2, std 0.25:
per-coordinate variance ``r^2 / 2 + s^2 = 2.0625``) so that its exact oracle is the demo's.
"""

from __future__ import annotations

import math

import torch

from .. import targets
from .._validation import positive, positive_int
from ..families import NormalNormal
from .dataset import HELDOUT_STREAM, TRAIN_STREAM, Dataset, seeded_generator, validate_seed

RING_COMPONENTS, RING_RADIUS, RING_STD = 8, 2.0, 0.25


def gaussian_ring() -> targets.GaussianMixture:
    """Eight equally weighted Gaussians (std 0.25) centred on a circle of radius 2."""
    angles = torch.arange(RING_COMPONENTS) * (2 * torch.pi / RING_COMPONENTS)
    means = RING_RADIUS * torch.stack([torch.cos(angles), torch.sin(angles)], 1)
    return targets.GaussianMixture(torch.full((RING_COMPONENTS,), 1 / RING_COMPONENTS), means,
                                   torch.full((RING_COMPONENTS, 2), RING_STD))


def sample_two_moons(n: int, generator: torch.Generator, noise: float = 0.1) -> torch.Tensor:
    """Two interleaved half circles plus ``N(0, noise^2)`` noise, standardised per coordinate.

    Outer moon ``(cos t, sin t)``, inner moon ``(1 - cos t, 1/2 - sin t)``, ``t ~ U(0, pi)``, each
    with probability 1/2. Exact moments: mean ``(1/2, 1/4)``; variance ``3/4 + noise^2`` (x) and
    ``1/2 - 4/pi^2 + (4/pi - 1/2)^2 / 4 + noise^2`` (y: within-moon plus between-moon variance).
    """
    t = torch.rand(n, generator=generator) * math.pi
    inner = torch.rand(n, generator=generator) < 0.5
    x = torch.where(inner, 1.0 - torch.cos(t), torch.cos(t))
    y = torch.where(inner, 0.5 - torch.sin(t), torch.sin(t))
    points = torch.stack([x, y], 1) + noise * torch.randn(n, 2, generator=generator)
    mean = torch.tensor([0.5, 0.25])
    var = torch.tensor([0.75, 0.5 - 4 / math.pi ** 2 + (4 / math.pi - 0.5) ** 2 / 4]) + noise ** 2
    return (points - mean) / torch.sqrt(var)


def sample_checkerboard(n: int, generator: torch.Generator, cells: int = 4) -> torch.Tensor:
    """Uniform on the "black" squares ``(i + j)`` even of a ``cells x cells`` board on ``[-sqrt 3, sqrt 3]^2``.

    Every row and column holds ``cells / 2`` black squares, so each coordinate is marginally
    uniform on ``[-sqrt 3, sqrt 3]``: mean 0, variance 1.
    """
    column = torch.randint(cells, (n,), generator=generator)
    row = 2 * torch.randint(cells // 2, (n,), generator=generator) + column % 2
    cell = torch.stack([column, row], 1).to(torch.float32)
    unit = (cell + torch.rand(n, 2, generator=generator)) / cells
    return math.sqrt(3.0) * (2.0 * unit - 1.0)


def _toy(name: str, sampler, seed: int, train_size: int, heldout_size: int, target=None,
         description: str = "") -> Dataset:
    seed = validate_seed(seed)
    train_size, heldout_size = positive_int(train_size, "train_size"), positive_int(heldout_size, "heldout_size")
    return Dataset(name=name, kind="real", shape=(2,), target=target, description=description,
                   train=sampler(train_size, seeded_generator(seed, TRAIN_STREAM)).to(torch.float32),
                   heldout=sampler(heldout_size, seeded_generator(seed, HELDOUT_STREAM)).to(torch.float32),
                   make_family=lambda: NormalNormal(0.0, 1.0))


def load_gaussian_mixture(seed: int = 0, train_size: int = 20_000, heldout_size: int = 5_000) -> Dataset:
    """The 8-Gaussian ring (``gaussian_ring()``, also ``ds.target``, with exact oracles)."""
    ring = gaussian_ring()
    return _toy("gaussian_mixture", ring.sample, seed, train_size, heldout_size, target=ring,
                description="8 Gaussians (std 0.25) on a circle of radius 2")


def load_two_moons(seed: int = 0, train_size: int = 20_000, heldout_size: int = 5_000,
                   noise: float = 0.1) -> Dataset:
    """Two moons, standardised (``sample_two_moons``)."""
    noise = float(positive(noise, "noise"))
    return _toy("two_moons", lambda n, g: sample_two_moons(n, g, noise), seed, train_size, heldout_size,
                description=f"two moons, noise {noise:g}, standardised")


def load_checkerboard(seed: int = 0, train_size: int = 20_000, heldout_size: int = 5_000,
                      cells: int = 4) -> Dataset:
    """A ``cells x cells`` checkerboard, standardised (``sample_checkerboard``); ``cells`` even."""
    cells = positive_int(cells, "cells")
    if cells % 2:
        raise ValueError(f"cells must be even, got {cells}")
    return _toy("checkerboard", lambda n, g: sample_checkerboard(n, g, cells), seed, train_size, heldout_size,
                description=f"{cells}x{cells} checkerboard, standardised")
