"""Checkpoints: one ``torch.save`` file of tensors and JSON-able primitives, read with ``weights_only=True``.

Contents: ``format`` (``FORMAT``), ``version``, ``config`` (``TrainConfig.to_dict()`` with the
family spec and network config resolved), ``network`` and ``ema`` (state dicts), ``optimizer``
(state dict), ``step`` (steps done), ``losses`` (float64, one per step), which with the config is
everything a run needs to resume exactly (every training draw is keyed by the seed and the step:
``batches.py``), the data's ``shape`` (list) and ``kind``, and ``data``: ``{"record":
Dataset.record(), "heldout": tensor}``, what sampling needs without the original data (its form,
normalisation, vocabulary, and up to ``HELDOUT_KEPT`` held-out points to measure samples against).
Versions 1 (no ``data``) and 2 (training draws from a ``torch.Generator``, whose state they hold)
load for sampling; only version 3 resumes (``RESUMABLE_VERSION``).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import torch

FORMAT = "pmm_sde.checkpoint"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
#: The first version whose training draws are counter-based, so that training can resume from it.
RESUMABLE_VERSION = 3
KEYS = ("config", "network", "ema", "optimizer", "step", "losses", "shape", "kind")
HELDOUT_KEPT = 10_000


def save_checkpoint(path: str | os.PathLike, *, config: dict, network: dict, ema: dict, optimizer: dict,
                    step: int, losses: torch.Tensor, shape: tuple[int, ...],
                    kind: str, data: dict) -> Path:
    """Write a checkpoint atomically (to a temporary file, then renamed) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "version": VERSION, "config": config, "network": network, "ema": ema,
               "optimizer": optimizer, "step": int(step), "losses": losses.to(torch.float64).cpu(),
               "shape": list(shape), "kind": kind,
               "data": {"record": data["record"], "heldout": data["heldout"][:HELDOUT_KEPT].cpu()}}
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint onto the CPU; a missing, corrupt or foreign file raises ValueError (one line)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist or is not a file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(f"checkpoint {str(path)!r} is not a readable torch file ({type(error).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r} is not a pmm_sde checkpoint")
    if payload.get("version") not in READABLE_VERSIONS or any(key not in payload for key in KEYS):
        raise ValueError(f"checkpoint {str(path)!r} has an unsupported layout (version {payload.get('version')!r})")
    return payload
