"""``MLP``: a residual multilayer perceptron for vector data (any ``shape``, flattened).

    h_0 = W_in r + W_e e,     e = InformationEmbedding(log(1 + A)),
    h_{k+1} = h_k + W_k2 SiLU(W_k1 SiLU(LayerNorm(h_k)) + V_k e),    k = 0 .. depth - 1,
    F = W_out SiLU(LayerNorm(h_depth)),
reshaped to ``shape``. Per-sample operations only, so a sample's output ignores the rest of the batch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._validation import positive_int
from ..families import ConjugateFamily
from .base import PredictorNetwork
from .embedding import InformationEmbedding, embedding_dim


class ResidualBlock(nn.Module):
    """``h + W2 SiLU(W1 SiLU(LayerNorm(h)) + V e)``."""

    def __init__(self, hidden: int, embed_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.inner = nn.Linear(hidden, hidden)
        self.condition = nn.Linear(embed_dim, hidden)
        self.outer = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        act = nn.functional.silu
        return h + self.outer(act(self.inner(act(self.norm(h))) + self.condition(e)))


class MLP(PredictorNetwork):
    """Residual MLP predictor for points of shape ``shape`` (the state's shape, class axis included).

    ``head``: "real", "positive", "bounded" (needs ``x_max``), "simplex"; ``family`` (or an explicit
    ``preconditioning`` dict) selects the preconditioning, with data statistics ``data_mean``,
    ``data_std`` (see ``networks.preconditioning``).
    """

    def __init__(self, shape, head: str = "real", hidden: int = 128, depth: int = 3, embed_dim: int = 32,
                 x_max: float | None = None, family: ConjugateFamily | None = None, data_mean: float = 0.0,
                 data_std: float = 1.0, preconditioning: dict | None = None):
        super().__init__(head, x_max, family, data_mean, data_std, preconditioning)
        self.shape = tuple(positive_int(size, "shape") for size in (shape if isinstance(shape, (tuple, list))
                                                                    else (shape,)))
        hidden, depth = positive_int(hidden, "hidden"), positive_int(depth, "depth")
        features = math.prod(self.shape)
        embed_dim = embedding_dim(embed_dim, "embed_dim")
        self.embedding = InformationEmbedding(embed_dim)
        self.input = nn.Linear(features, hidden)
        self.input_condition = nn.Linear(embed_dim, hidden)
        self.blocks = nn.ModuleList(ResidualBlock(hidden, embed_dim) for _ in range(depth))
        self.output_norm = nn.LayerNorm(hidden)
        self.output = nn.Linear(hidden, features)
        self.config = {"name": "mlp", "shape": list(self.shape), "hidden": hidden, "depth": depth,
                       "embed_dim": embed_dim, **self.head_config()}

    def state_shapes(self):
        return [self.shape]

    def body(self, r, A_units):
        e = self.embedding(A_units)
        h = self.input(r.flatten(1)) + self.input_condition(e)
        for block in self.blocks:
            h = block(h, e)
        return self.output(nn.functional.silu(self.output_norm(h))).reshape(r.shape)
