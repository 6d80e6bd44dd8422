"""The result of a chain or of ``sample()``."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SampleResult:
    """Terminal state and bookkeeping of a PMM run.

    ``mu``: terminal posterior mean, ``(n, *shape)`` (``(n, *shape, K)`` for Dirichlet-Categorical).
    ``A``: terminal information (0-dim, or events per position ``(n, *shape, 1)``).
    ``nfe``: predictor evaluations. ``times``: the grid (None for a chain given by alphas).
    ``trajectory``: saved states ``(n_saved, *mu.shape)`` when requested, at ``trajectory_times``
    (grid times, or step indices for a chain). ``accepted``, ``rejected``: the steps each sample
    accepted and rejected ``(n,)`` (adaptive solvers; None for a fixed grid, where every sample
    takes the grid's steps); ``nfe`` counts evaluations of the batch, each sample at its own point,
    so it is the most evaluations any sample needed, and ``evaluations`` ``(n,)`` those of each
    sample (a batch's evaluation takes only the samples not yet done).
    """

    mu: torch.Tensor
    A: torch.Tensor
    nfe: int
    times: torch.Tensor | None = None
    trajectory: torch.Tensor | None = None
    trajectory_times: torch.Tensor | None = None
    accepted: torch.Tensor | None = None
    rejected: torch.Tensor | None = None
    evaluations: torch.Tensor | None = None
