"""``UNet``: a small convolutional U-Net for square images (8x8 digits, 28x28 MNIST-like).

Three resolutions ``H, H/2, H/4`` with ``base, 2 base, 2 base`` channels; each level has a
residual block conditioned on the information embedding e (added after the first convolution):

    ResBlock(h, e) = skip(h) + Conv(SiLU(GN(Conv(SiLU(GN(h))) + V e)))

downsampling by stride-2 convolutions, upsampling by nearest-neighbour x2 and a convolution,
skip connections by concatenation. GroupNorm acts per sample, so a sample's output ignores the
rest of the batch. Input ``(n, H, W)`` (one channel) or ``(n, C, H, W)``.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import positive_int
from ..families import ConjugateFamily
from .base import PredictorNetwork
from .embedding import InformationEmbedding, embedding_dim

#: Most groups a GroupNorm uses (fewer when the channel count is not divisible).
MAX_GROUPS = 8


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count <= ``MAX_GROUPS`` that divides ``channels``."""
    groups = max(g for g in range(1, MAX_GROUPS + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels)


class ConvResBlock(nn.Module):
    """``skip(h) + Conv(SiLU(GN(Conv(SiLU(GN(h))) + V e)))``."""

    def __init__(self, cin: int, cout: int, embed_dim: int):
        super().__init__()
        self.norm1, self.conv1 = group_norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.condition = nn.Linear(embed_dim, cout)
        self.norm2, self.conv2 = group_norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        act = nn.functional.silu
        z = self.conv1(act(self.norm1(h))) + self.condition(e)[:, :, None, None]
        return self.skip(h) + self.conv2(act(self.norm2(z)))


class UNet(PredictorNetwork):
    """U-Net predictor for ``channels`` x ``size`` x ``size`` images (``size`` a multiple of 4).

    ``head``, ``x_max``, ``family``, ``data_mean``, ``data_std``, ``preconditioning``: as for ``MLP``.
    """

    def __init__(self, size: int = 8, channels: int = 1, base: int = 32, head: str = "real", embed_dim: int = 32,
                 x_max: float | None = None, family: ConjugateFamily | None = None, data_mean: float = 0.0,
                 data_std: float = 1.0, preconditioning: dict | None = None):
        super().__init__(head, x_max, family, data_mean, data_std, preconditioning)
        self.size, self.channels = positive_int(size, "size"), positive_int(channels, "channels")
        base = positive_int(base, "base")
        if self.size % 4:
            raise ValueError(f"size must be a multiple of 4 (two halvings), got {size}")
        embed_dim = embedding_dim(embed_dim, "embed_dim")
        self.embedding = InformationEmbedding(embed_dim)
        self.input = nn.Conv2d(self.channels, base, 3, padding=1)
        self.level1 = ConvResBlock(base, base, embed_dim)
        self.down1 = nn.Conv2d(base, base, 3, stride=2, padding=1)
        self.level2 = ConvResBlock(base, 2 * base, embed_dim)
        self.down2 = nn.Conv2d(2 * base, 2 * base, 3, stride=2, padding=1)
        self.middle = ConvResBlock(2 * base, 2 * base, embed_dim)
        self.up2 = nn.Conv2d(2 * base, 2 * base, 3, padding=1)
        self.level2_up = ConvResBlock(4 * base, 2 * base, embed_dim)
        self.up1 = nn.Conv2d(2 * base, 2 * base, 3, padding=1)
        self.level1_up = ConvResBlock(3 * base, base, embed_dim)
        self.output_norm = group_norm(base)
        self.output = nn.Conv2d(base, self.channels, 3, padding=1)
        self.config = {"name": "unet", "size": self.size, "channels": self.channels, "base": base,
                       "embed_dim": embed_dim, **self.head_config()}

    def state_shapes(self):
        image = (self.size, self.size)
        return [image, (1, *image)] if self.channels == 1 else [(self.channels, *image)]

    def body(self, r, A_units):
        e = self.embedding(A_units)
        up = nn.functional.interpolate
        h1 = self.level1(self.input(r.reshape(r.shape[0], self.channels, self.size, self.size)), e)
        h2 = self.level2(self.down1(h1), e)
        h3 = self.middle(self.down2(h2), e)
        u2 = self.level2_up(torch.cat([self.up2(up(h3, scale_factor=2.0, mode="nearest")), h2], 1), e)
        u1 = self.level1_up(torch.cat([self.up1(up(u2, scale_factor=2.0, mode="nearest")), h1], 1), e)
        return self.output(nn.functional.silu(self.output_norm(u1))).reshape(r.shape)
