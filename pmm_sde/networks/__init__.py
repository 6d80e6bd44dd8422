"""Learned predictors: networks ``net(mu, A) -> xhat`` conditioned on the information A.

    net = pmm.networks.MLP((2,), family=pmm.NormalNormal(0.0, 1.0))
    xhat = net(mu, A)
    same = pmm.networks.build(net.config)          # same architecture; then load_state_dict
"""

from .base import PredictorNetwork, information
from .embedding import InformationEmbedding
from .heads import HEADS, BoundedPositiveHead, PositiveHead, RealHead, SimplexHead, make_head
from .mlp import MLP
from .preconditioning import preconditioning_for
from .registry import available, build
from .transformer import Transformer
from .unet import UNet

__all__ = ["PredictorNetwork", "information", "InformationEmbedding", "HEADS", "RealHead", "PositiveHead",
           "BoundedPositiveHead", "SimplexHead", "make_head", "MLP", "UNet", "Transformer", "build", "available",
           "preconditioning_for"]
