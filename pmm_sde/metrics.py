"""Sample-quality metrics against held-out data."""

from __future__ import annotations

import torch


def energy_distance(x: torch.Tensor, y: torch.Tensor) -> float:
    """Energy distance ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic) between two samples.

    ``x`` and ``y`` have shapes ``(n, ...)`` and ``(m, ...)``; points are flattened. Zero iff the
    laws agree (Szekely and Rizzo); its square root is a metric on laws.
    """
    x = x.reshape(x.shape[0], -1).double()
    y = y.reshape(y.shape[0], -1).double()
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must hold points of the same size, got {x.shape[1]} and {y.shape[1]}")
    return float(2 * torch.cdist(x, y).mean() - torch.cdist(x, x).mean() - torch.cdist(y, y).mean())
