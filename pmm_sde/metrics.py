"""Sample-quality metrics against held-out data."""

from __future__ import annotations

import math

import torch

from ._validation import positive_int, real_tensor


def _point_pair(x, y) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` and ``y`` as float64 matrices of flattened points, ``(n, d)`` and ``(m, d)``.

    Each must be a finite, non-empty real tensor (or array) with its points on the first axis, and
    their points of one size ``d``.
    """
    pair = []
    for name, value in (("x", x), ("y", y)):
        points = real_tensor(value, name)
        if points.dim() == 0:
            raise ValueError(f"{name} must hold points on its first axis, got a 0-dim tensor")
        pair.append(points.reshape(points.shape[0], -1).double())
    x, y = pair
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must hold points of the same size, got {x.shape[1]} and {y.shape[1]}")
    return x, y


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic) between two samples.

    ``x`` and ``y`` have shapes ``(n, ...)`` and ``(m, ...)``, finite and non-empty; points are
    flattened. Zero iff the laws agree (Szekely and Rizzo); its square root is a metric on laws.
    """
    x, y = _point_pair(x, y)
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())


def _quantiles(sorted_values: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Empirical quantile function of each row of ``sorted_values`` ``(p, n)`` at ``levels`` in (0, 1).

    The ``i``-th order statistic sits at level ``(i + 1/2) / n``; in between, linear interpolation;
    outside ``[1/(2n), 1 - 1/(2n)]``, the extreme order statistics.
    """
    n = sorted_values.shape[1]
    position = (levels * n - 0.5).clamp(0.0, n - 1.0)
    low = position.floor().long()
    high = (low + 1).clamp_max(n - 1)
    weight = position - low
    return torch.lerp(sorted_values[:, low], sorted_values[:, high], weight)


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, projections: int = 256, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance ``SW2 = (mean_k W2^2(theta_k . X, theta_k . Y))^(1/2)``.

    Points are flattened to ``d`` dimensions; ``theta_1 .. theta_P`` are uniform on the unit sphere
    (normalised Gaussians from a generator seeded with ``seed``); the 1-D distance is
    ``W2^2 = int_0^1 (F^-1(q) - G^-1(q))^2 dq``, evaluated on the ``m = max(n_x, n_y)`` levels
    ``q_j = (j + 1/2) / m`` with linearly interpolated empirical quantiles (exact when the sizes
    are equal). For ``Y = X + c``, ``SW2^2`` averages ``(theta . c)^2``, whose expectation is ``|c|^2 / d``.
    ``x`` and ``y`` are finite and non-empty; ``seed`` an integer >= 0.
    """
    x, y = _point_pair(x, y)
    projections = positive_int(projections, "projections")
    generator = torch.Generator().manual_seed(positive_int(seed, "seed", minimum=0))
    theta = torch.randn(x.shape[1], projections, generator=generator, dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    x_proj = torch.sort((x @ theta).T, dim=1).values
    y_proj = torch.sort((y @ theta).T, dim=1).values
    m = max(x.shape[0], y.shape[0])
    levels = (torch.arange(m, dtype=torch.float64) + 0.5) / m
    gaps = _quantiles(x_proj, levels) - _quantiles(y_proj, levels)
    return float(torch.sqrt((gaps ** 2).mean()))


def ngram_total_variation(x: torch.Tensor, y: torch.Tensor, num_classes: int, order: int = 1) -> float:
    """Total variation ``(1/2) sum_g |p_x(g) - p_y(g)|`` between the empirical laws of the
    ``order``-grams (runs of ``order`` consecutive tokens within a sequence) of token sequences
    ``x`` ``(n, L)`` and ``y`` ``(m, L')`` with classes ``0..num_classes-1``."""
    num_classes, order = positive_int(num_classes, "num_classes"), positive_int(order, "order")

    def law(tokens: torch.Tensor, name: str) -> torch.Tensor:
        if tokens.dim() != 2 or tokens.shape[0] < 1 or tokens.shape[1] < order or tokens.is_floating_point():
            raise ValueError(f"{name} must hold integer sequences (n >= 1, L >= order = {order}), "
                             f"got {tokens.dtype} of shape {tuple(tokens.shape)}")
        grams = sum(tokens[:, j:tokens.shape[1] - order + 1 + j].long() * num_classes ** j for j in range(order))
        counts = torch.bincount(grams.reshape(-1), minlength=num_classes ** order).double()
        return counts / counts.sum()

    return float(0.5 * (law(x, "x") - law(y, "y")).abs().sum())


def poisson_baseline(train: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` draws of the independent-coordinate Poisson model fitted to ``train``: ``x_j ~ Poisson(mean_j)``.

    ``mean_j`` is coordinate j's mean over the training points (the maximum-likelihood fit); the
    samples have ``train``'s floating dtype and shape ``(n, *train.shape[1:])``.
    """
    train = torch.as_tensor(train)
    if not train.is_floating_point():
        train = train.to(torch.get_default_dtype())
    if train.dim() < 1 or train.shape[0] < 1:
        raise ValueError(f"train must hold at least one point, got shape {tuple(train.shape)}")
    if not bool((train >= 0).all()) or not bool(torch.isfinite(train).all()):
        raise ValueError("train must hold finite counts >= 0")
    n = positive_int(n, "n")
    rate = train.mean(0)
    return torch.poisson(rate.expand(n, *rate.shape).contiguous(), generator=generator)


def bits_per_token(nats_per_sequence: torch.Tensor | float, length: int) -> float:
    """``mean(nats per sequence) / (length ln 2)``: a negative log-likelihood in bits per token
    (``nats_per_sequence`` finite and non-empty)."""
    length = positive_int(length, "length")
    nats = real_tensor(nats_per_sequence, "nats_per_sequence", torch.float64)
    return float(nats.mean()) / (length * math.log(2.0))
