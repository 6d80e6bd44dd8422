"""Embedding of the information ``A`` in the posterior (conditioning on A, not on time t).

With ``s = log(1 + A)`` (0 at the prior, about 9.2 at ``A = 10^4``), the features are

    phi(s) = [sin(w_1 s), .., sin(w_h s), cos(w_1 s), .., cos(w_h s)],   h = dim / 2,

with frequencies ``w_k`` spaced geometrically from ``MIN_FREQUENCY`` to ``MAX_FREQUENCY``
(the slowest is monotone over the range of s, the fastest resolves steps of about 0.1 in s),
followed by ``Linear(dim, dim) -> SiLU -> Linear(dim, dim)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import positive_int

MIN_FREQUENCY, MAX_FREQUENCY = 0.1, 30.0


def embedding_dim(value: int, name: str = "dim") -> int:
    """An even integer >= 2 (sin and cos features come in pairs)."""
    value = positive_int(value, name)
    if value % 2:
        raise ValueError(f"{name} must be even, got {value}")
    return value


class InformationEmbedding(nn.Module):
    """``A`` of any shape ``(...)`` -> features ``(..., dim)`` (see the module docstring)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = embedding_dim(dim)
        frequencies = torch.exp(torch.linspace(math.log(MIN_FREQUENCY), math.log(MAX_FREQUENCY), self.dim // 2))
        self.register_buffer("frequencies", frequencies, persistent=False)
        self.mlp = nn.Sequential(nn.Linear(self.dim, self.dim), nn.SiLU(), nn.Linear(self.dim, self.dim))

    def forward(self, A: torch.Tensor) -> torch.Tensor:
        s = torch.log1p(A.to(self.frequencies.dtype).clamp_min(0.0)).unsqueeze(-1)
        angles = s * self.frequencies
        return self.mlp(torch.cat([torch.sin(angles), torch.cos(angles)], -1))
