"""scikit-learn's 8x8 handwritten digits (1797 images, pixel counts 0..16), for the Gamma-Poisson family.

Suggested family: ``GammaPoisson(concentration=1.0, rate=0.2)``, an exponential prior with mean
5 and standard deviation 5 per pixel, close to the data's pooled pixel mean (4.9) and standard
deviation (6.0), and weak (prior strength ``b0 = 0.2`` exposure units), so a little exposure
outweighs it.
"""

from __future__ import annotations

import torch

from .._validation import positive_int
from ..families import GammaPoisson
from .dataset import STRUCTURE_STREAM, Dataset, seeded_generator, validate_seed

DIGITS_PRIOR_CONCENTRATION, DIGITS_PRIOR_RATE = 1.0, 0.2
DIGITS_MAX_COUNT = 16


def digit_images() -> torch.Tensor:
    """All 1797 images as float32 ``(1797, 8, 8)`` integer counts in 0..16 (needs scikit-learn)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("the digits dataset needs scikit-learn: pip install -e '.[digits]' in a checkout of "
                          "pmm_sde, or pip install 'pmm_sde[digits]'") from error
    return torch.as_tensor(load_digits().images, dtype=torch.float32)


def load_digits(seed: int = 0, train_size: int = 1500) -> Dataset:
    """The digits, split by a permutation drawn from ``seed``: ``train_size`` train, the rest held out."""
    seed = validate_seed(seed)
    images = digit_images()
    train_size = positive_int(train_size, "train_size")
    if train_size >= images.shape[0]:
        raise ValueError(f"train_size must be < {images.shape[0]} (the number of images), got {train_size}")
    order = torch.randperm(images.shape[0], generator=seeded_generator(seed, STRUCTURE_STREAM))
    return Dataset(name="digits", kind="counts", shape=(8, 8), form="images",
                   train=images[order[:train_size]], heldout=images[order[train_size:]],
                   make_family=lambda: GammaPoisson(DIGITS_PRIOR_CONCENTRATION, DIGITS_PRIOR_RATE),
                   description="scikit-learn 8x8 digits, pixel counts 0..16")
