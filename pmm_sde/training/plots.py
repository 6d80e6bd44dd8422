"""Run-folder figures (matplotlib ``Figure`` objects, no pyplot, so the backend is left alone):
the loss curve, and samples next to data."""

from __future__ import annotations

import os
from typing import Sequence

import torch

from ..data import Dataset, image_grid
from ..data.files import GRID_GAP_COLOUR

#: Token classes are labelled by their characters on the axis up to this many classes.
LABELLED_CLASSES = 40


def plot_loss(path: str | os.PathLike, losses: Sequence[float]) -> None:
    """Training loss per step (faint) and its running mean over ~2% of the run (solid)."""
    from matplotlib.figure import Figure

    values = torch.as_tensor(list(losses), dtype=torch.float64)
    window = max(1, len(values) // 50)
    smooth = torch.nn.functional.avg_pool1d(values[None, None], window, stride=1)[0, 0] if len(values) else values
    fig = Figure(figsize=(5, 3.4))
    ax = fig.subplots()
    ax.plot(values.numpy(), lw=0.5, alpha=0.35, color="C0", label="per step")
    ax.plot(torch.arange(len(smooth)).numpy() + window - 1, smooth.numpy(), lw=1.5, color="C0",
            label=f"running mean over {window} steps")
    if len(values) and bool((values > 0).all()):
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("PMM objective per coordinate")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def _character(c: str) -> str:
    return {" ": "␣", "\n": "⏎", "\t": "⇥"}.get(c, c)


def plot_samples(path: str | os.PathLike, panels: dict[str, torch.Tensor], dataset: Dataset) -> None:
    """One panel per entry (the data first, by convention), points in the data's own units: scatter
    plots of 2-D points, image grids, class frequencies of tokens, else histograms of the values."""
    import matplotlib
    from matplotlib.figure import Figure

    first = next(iter(panels.values())).detach().cpu()
    low, high = float(first.min()), float(first.max())
    scatter = dataset.kind != "tokens" and first.dim() == 2 and first.shape[1] == 2
    fig = Figure(figsize=(3.2 * len(panels), 3.4))
    axes = fig.subplots(1, len(panels), squeeze=False, sharex=dataset.form != "images", sharey=scatter)
    for ax, (title, points) in zip(axes[0], panels.items()):
        points = points.detach().cpu()
        if dataset.kind == "tokens":
            freq = torch.bincount(points.reshape(-1), minlength=dataset.num_classes or 0).double()
            ax.bar(torch.arange(len(freq)).numpy(), (freq / freq.sum()).numpy())
            if dataset.vocabulary is not None and len(dataset.vocabulary) <= LABELLED_CLASSES:
                ax.set_xticks(range(len(dataset.vocabulary)), [_character(c) for c in dataset.vocabulary], fontsize=6)
            ax.set_xlabel("character" if dataset.vocabulary is not None else "token class")
            ax.set_ylabel("frequency")
        elif scatter:
            ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=2, alpha=0.5)
            ax.set_aspect("equal")
            ax.set_xlabel("x[0]")
            ax.set_ylabel("x[1]")
        elif dataset.form == "images" and points.dim() in (3, 4):
            gray = matplotlib.colormaps["gray"].with_extremes(bad=tuple(c / 255 for c in GRID_GAP_COLOUR))
            image = ax.imshow(image_grid(points[:16]).numpy(), cmap=gray, vmin=low, vmax=high)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02,
                         label="count" if dataset.kind == "counts" else "value")
        else:
            ax.hist(points.reshape(-1).double().numpy(), bins=50, density=True)
            ax.set_xlabel("count" if dataset.kind == "counts" else "value (every coordinate)")
            ax.set_ylabel("density")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
