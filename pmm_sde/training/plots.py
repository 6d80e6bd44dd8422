"""Run-folder figures (matplotlib, Agg): the loss curve, and samples next to data."""

from __future__ import annotations

import os
from typing import Sequence

import torch


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loss(path: str | os.PathLike, losses: Sequence[float]) -> None:
    """Training loss per step (faint) and its running mean over ~2% of the run (solid)."""
    plt = _pyplot()
    values = torch.as_tensor(list(losses), dtype=torch.float64)
    window = max(1, len(values) // 50)
    smooth = torch.nn.functional.avg_pool1d(values[None, None], window, stride=1)[0, 0] if len(values) else values
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(values.numpy(), lw=0.5, alpha=0.35, color="C0")
    ax.plot(torch.arange(len(smooth)).numpy() + window - 1, smooth.numpy(), lw=1.5, color="C0")
    if len(values) and bool((values > 0).all()):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_samples(path: str | os.PathLike, panels: dict[str, torch.Tensor], kind: str,
                 num_classes: int | None = None) -> None:
    """One panel per entry (the data first, by convention): scatter plots of 2-D points, mosaics of
    images (``(n, H, W)`` or ``(n, C, H, W)``), class frequencies of tokens, else value histograms."""
    plt = _pyplot()
    first = next(iter(panels.values()))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False,
                             sharex=True, sharey=kind != "tokens" and first.dim() == 2)
    for ax, (title, points) in zip(axes[0], panels.items()):
        points = points.detach().cpu()
        if kind == "tokens":
            freq = torch.bincount(points.reshape(-1), minlength=num_classes or 0).double()
            ax.bar(torch.arange(len(freq)).numpy(), (freq / freq.sum()).numpy())
            ax.set_xlabel("class")
        elif points.dim() == 2 and points.shape[1] == 2:
            ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=2, alpha=0.5)
            ax.set_aspect("equal")
        elif points.dim() in (3, 4):
            ax.imshow(_mosaic(points).numpy(), cmap="gray")
            ax.axis("off")
        else:
            ax.hist(points.reshape(-1).double().numpy(), bins=50)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _mosaic(images: torch.Tensor, side: int = 4) -> torch.Tensor:
    """The first ``side^2`` images (first channel) tiled in a square."""
    images = images[: side * side]
    images = images[:, 0] if images.dim() == 4 else images
    count, height, width = images.shape
    tiles = torch.zeros(side * side, height, width, dtype=torch.float64)
    tiles[:count] = images.double()
    return tiles.reshape(side, side, height, width).permute(0, 2, 1, 3).reshape(side * height, side * width)
