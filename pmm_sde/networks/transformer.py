"""``Transformer``: a bidirectional transformer encoder over token positions (Dirichlet-Categorical).

Input: ``mu`` ``(n, L, K)`` posterior means on the simplex and ``A`` ``(n, L, 1)``, the number of
evidence events per position. Each position's token is

    h_i = W_in r_i + p_i + W_e e_i,    e_i = InformationEmbedding(log(1 + A_i)),

with learned positional embeddings ``p_i``, followed by ``depth`` pre-norm encoder layers (no
causal mask, no dropout) and ``F_i = W_out LayerNorm(h_i)`` (K logits). Attention mixes
positions within a sample only.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import positive_int
from ..families import ConjugateFamily
from .base import PredictorNetwork
from .embedding import InformationEmbedding, embedding_dim


class Transformer(PredictorNetwork):
    """Transformer predictor for ``length`` positions over ``num_classes`` classes (default head "simplex").

    ``head``, ``x_max``, ``family``, ``data_mean``, ``data_std``, ``preconditioning``: as for ``MLP``.
    """

    def __init__(self, num_classes: int, length: int, dim: int = 64, depth: int = 2, heads: int = 4,
                 head: str = "simplex", embed_dim: int = 32, x_max: float | None = None,
                 family: ConjugateFamily | None = None, data_mean: float = 0.0, data_std: float = 1.0,
                 preconditioning: dict | None = None):
        super().__init__(head, x_max, family, data_mean, data_std, preconditioning)
        self.num_classes, self.length = positive_int(num_classes, "num_classes"), positive_int(length, "length")
        dim, depth, heads = positive_int(dim, "dim"), positive_int(depth, "depth"), positive_int(heads, "heads")
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        if family is not None and getattr(family, "num_classes", num_classes) != num_classes:
            raise ValueError(f"num_classes={num_classes} differs from the family's {family.num_classes}")
        embed_dim = embedding_dim(embed_dim, "embed_dim")
        self.embedding = InformationEmbedding(embed_dim)
        self.input = nn.Linear(self.num_classes, dim)
        self.positions = nn.Parameter(0.02 * torch.randn(self.length, dim))
        self.input_condition = nn.Linear(embed_dim, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.output_norm = nn.LayerNorm(dim)
        self.output = nn.Linear(dim, self.num_classes)
        self.config = {"name": "transformer", "num_classes": self.num_classes, "length": self.length, "dim": dim,
                       "depth": depth, "heads": heads, "embed_dim": embed_dim, **self.head_config()}

    def state_shapes(self):
        return [(self.length, self.num_classes)]

    def units_information(self, mu, A):
        """One A per position, ``(n, L)``: the mean of A (shaped by ``information``) over the class axis."""
        return torch.broadcast_to(A.mean(-1), mu.shape[:-1])

    def body(self, r, A_units):
        h = self.input(r) + self.positions + self.input_condition(self.embedding(A_units))
        return self.output(self.output_norm(self.encoder(h)))
