"""Deterministic statistical checks: does a sample follow a law?

Each check rejects at significance ``level`` (default 1e-6, about 5 standard errors of a normal
statistic), so with fixed seeds a correct implementation passes reproducibly and the chance that
a given seed fails a correct implementation is at most ``level`` per check.

- continuous samples against a scipy.stats law: Kolmogorov-Smirnov;
- integer samples against a scipy.stats discrete law: chi-square, bins pooled so every expected
  count is at least 5 (tails merged);
- samples against samples: two-sample KS (continuous) or chi-square homogeneity (integers);
- ``assert_moments``: z-tests of the mean and of the variance (variance standard error from the
  sample fourth central moment).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from .._validation import real_number, real_tensor

DEFAULT_LEVEL = 1e-6


def _as_numpy(samples, name: str = "samples", minimum: int = 1) -> np.ndarray:
    """``samples`` flattened to float64: finite real values, at least ``minimum`` of them."""
    if torch.is_tensor(samples):
        samples = samples.detach().cpu()
    values = real_tensor(samples, name, torch.float64).reshape(-1).numpy()
    if values.size < minimum:
        raise ValueError(f"{name} must hold at least {minimum} values, got {values.size}")
    return values


def _check_level(level) -> float:
    """A significance level in (0, 1)."""
    level = real_number(level, "level")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return level


def _is_integer_valued(x: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(x)) and np.all(x == np.round(x)))


def _pooled_bins(expected: np.ndarray, min_expected: float = 5.0) -> list[tuple[int, int]]:
    """Consecutive index ranges whose expected counts are each >= min_expected."""
    bins, start, acc = [], 0, 0.0
    for i, e in enumerate(expected):
        acc += e
        if acc >= min_expected:
            bins.append((start, i + 1))
            start, acc = i + 1, 0.0
    if start < len(expected):
        if bins:
            bins[-1] = (bins[-1][0], len(expected))
        else:
            bins.append((0, len(expected)))
    return bins


def chi_square_pvalue(samples, law) -> float:
    """Chi-square goodness of fit of integer samples to a scipy.stats discrete law (pooled tails)."""
    x = _as_numpy(samples)
    if not _is_integer_valued(x):
        raise ValueError("samples must be integer-valued for a chi-square test against a discrete law")
    n = x.size
    lo = int(min(x.min(), law.ppf(1e-12)))
    hi = int(max(x.max(), law.ppf(1 - 1e-12)))
    support = np.arange(lo, hi + 1)
    probs = law.pmf(support)
    probs[0] += law.cdf(lo - 1)
    probs[-1] += law.sf(hi)
    observed = np.bincount((x - lo).astype(np.int64), minlength=support.size).astype(np.float64)
    bins = _pooled_bins(probs * n)
    obs = np.array([observed[a:b].sum() for a, b in bins])
    exp = np.array([probs[a:b].sum() * n for a, b in bins])
    if len(bins) < 2:
        return 1.0
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


def two_sample_pvalue(samples, reference) -> float:
    """Two-sample test: chi-square homogeneity for integers, Kolmogorov-Smirnov otherwise."""
    x, y = _as_numpy(samples), _as_numpy(reference, "reference")
    if _is_integer_valued(x) and _is_integer_valued(y):
        lo = int(min(x.min(), y.min()))
        cx = np.bincount((x - lo).astype(np.int64))
        cy = np.bincount((y - lo).astype(np.int64))
        size = max(cx.size, cy.size)
        cx, cy = np.pad(cx, (0, size - cx.size)), np.pad(cy, (0, size - cy.size))
        pooled = (cx + cy) * x.size / (x.size + y.size)
        bins = _pooled_bins(np.minimum(pooled, (cx + cy) - pooled))
        table = np.array([[cx[a:b].sum() for a, b in bins], [cy[a:b].sum() for a, b in bins]])
        if table.shape[1] < 2:
            return 1.0
        return float(stats.chi2_contingency(table, correction=False).pvalue)
    return float(stats.ks_2samp(x, y).pvalue)


def same_law_pvalue(samples, reference) -> float:
    """p-value of the test ``assert_same_law`` runs (see the module docstring).

    ``reference``: a scipy.stats law (frozen, or a distribution object such as
    ``stats.rv_discrete(values=...)``, which is frozen here) or other samples. Samples must be
    finite real values, at least one.
    """
    if isinstance(reference, (stats.rv_continuous, stats.rv_discrete)):
        reference = reference.freeze()
    if hasattr(reference, "dist") and hasattr(reference, "cdf"):
        if hasattr(reference, "pmf"):
            return chi_square_pvalue(samples, reference)
        return float(stats.kstest(_as_numpy(samples), reference.cdf).pvalue)
    if isinstance(reference, (str, bytes)) or reference is None:
        raise ValueError(f"reference must be a scipy.stats law or samples, got {reference!r}")
    return two_sample_pvalue(samples, reference)


def assert_same_law(samples, reference, level: float = DEFAULT_LEVEL) -> float:
    """Assert ``samples`` follow ``reference`` (a scipy.stats law, or other samples).

    Raises ``AssertionError`` when the test's p-value is below ``level``; returns the p-value.
    False-positive rate: a correct sampler fails with probability at most ``level`` (default
    1e-6) over the choice of seed, so with a fixed seed the check is deterministic and fails a
    correct implementation for at most one seed in a million. ``level`` is in (0, 1).
    """
    level = _check_level(level)
    p = same_law_pvalue(samples, reference)
    if not p >= level:
        raise AssertionError(f"samples do not follow the reference law: p = {p:.3g} < {level:g}")
    return p


def assert_moments(samples, mean: float | None = None, variance: float | None = None,
                   z: float = 5.0) -> None:
    """z-tests of the sample mean and variance against exact values, ``z`` standard errors wide.

    ``samples``: at least 2 finite real values; ``mean`` finite, ``variance >= 0`` finite, ``z > 0``.
    """
    x = _as_numpy(samples, minimum=2)
    z = real_number(z, "z")
    if z <= 0:
        raise ValueError(f"z must be > 0, got {z}")
    mean = None if mean is None else real_number(mean, "mean")
    variance = None if variance is None else real_number(variance, "variance")
    if variance is not None and variance < 0:
        raise ValueError(f"variance must be >= 0, got {variance}")
    n = x.size
    centred = x - x.mean()
    m2 = np.mean(centred ** 2)
    if mean is not None:
        se = np.sqrt(m2 / n)
        if not abs(x.mean() - mean) <= z * se + 1e-12:
            raise AssertionError(f"mean {x.mean():.6g} differs from {mean:.6g} by more than {z} SE ({se:.3g})")
    if variance is not None:
        m4 = np.mean(centred ** 4)
        se = np.sqrt(max(m4 - m2 ** 2, 0.0) / n)
        var = x.var(ddof=1)
        if not abs(var - variance) <= z * se + 1e-12:
            raise AssertionError(f"variance {var:.6g} differs from {variance:.6g} by more than {z} SE ({se:.3g})")
