"""Output heads: map a network's raw output ``F`` into the set where the family's predictions live.

Each head also has ``inverse(x)``, the pre-activation of a prediction ``x`` (clamped into the
head's range), used by preconditioners that add the raw output to a baseline prediction in
pre-activation space: ``xhat = head(inverse(baseline) + F)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .._validation import positive

#: Predictions are clamped this far inside a head's range before ``inverse``.
INVERSE_MARGIN = 1e-6


class RealHead(nn.Module):
    """``xhat = F`` (Normal-Normal)."""

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return x


class PositiveHead(nn.Module):
    """``xhat = softplus(F) = log(1 + e^F)`` (Gamma-Poisson); ``inverse(x) = x + log(1 - e^-x)``."""

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return F.softplus(raw)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp_min(INVERSE_MARGIN)
        return x + torch.log(-torch.expm1(-x))


class BoundedPositiveHead(nn.Module):
    """``xhat = x_max sigmoid(F)`` in ``(0, x_max)`` (Gamma-Poisson with bounded data; exact thinning)."""

    def __init__(self, x_max: float):
        super().__init__()
        self.x_max = float(positive(x_max, "x_max"))
        if not math.isfinite(self.x_max):
            raise ValueError(f"x_max must be finite, got {x_max!r}")

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return self.x_max * torch.sigmoid(raw)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logit((x / self.x_max).clamp(INVERSE_MARGIN, 1.0 - INVERSE_MARGIN))

    def extra_repr(self) -> str:
        return f"x_max={self.x_max:g}"


class SimplexHead(nn.Module):
    """``xhat = softmax(F)`` on the last (class) axis (Dirichlet-Categorical); ``inverse(x) = log x``."""

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.softmax(raw, dim=-1)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x.clamp_min(INVERSE_MARGIN))


HEADS = {"real": RealHead, "positive": PositiveHead, "bounded": BoundedPositiveHead, "simplex": SimplexHead}


def make_head(name: str, x_max: float | None = None) -> nn.Module:
    """The head called ``name`` (one of ``HEADS``); ``x_max`` is required by, and only by, "bounded"."""
    if name not in HEADS:
        raise ValueError(f"head must be one of {list(HEADS)}, got {name!r}")
    if name == "bounded":
        if x_max is None:
            raise ValueError("x_max must be given for head='bounded'")
        return BoundedPositiveHead(x_max)
    if x_max is not None:
        raise ValueError(f"x_max is only used by head='bounded', got x_max={x_max!r} with head={name!r}")
    return HEADS[name]()
