"""``build(config)``: rebuild a network from its ``config`` (a JSON-serialisable dict with ``"name"``)."""

from __future__ import annotations

from torch import nn

from .mlp import MLP
from .transformer import Transformer
from .unet import UNet

NETWORKS = {"mlp": MLP, "unet": UNet, "transformer": Transformer}


def available() -> list[str]:
    """Network names accepted in ``config["name"]``."""
    return list(NETWORKS)


def build(config: dict) -> nn.Module:
    """A fresh (untrained) network with the architecture ``config`` describes (``net.config``)."""
    if not isinstance(config, dict) or config.get("name") not in NETWORKS:
        raise ValueError(f"config must be a dict with 'name' in {available()}, got {config!r}")
    options = {k: v for k, v in config.items() if k != "name"}
    try:
        return NETWORKS[config["name"]](**options)
    except TypeError as error:
        raise ValueError(f"config: bad keys for network {config['name']!r}: {sorted(options)} ({error})") from None
