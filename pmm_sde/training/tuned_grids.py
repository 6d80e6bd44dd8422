"""Optimised step grids of a trained model, kept beside its checkpoint.

``pmm-sde tune-grid`` optimises the grid of a solver and step count for a checkpoint's EMA model
(``convergence.optimise_grid`` with a sampled proxy, by default ``sample_moments``: the errors of
the terminal moments against a ``reference_steps``-step run from the same starts, drawn with seed 1
by default, apart from ``pmm-sde sample``'s default seed 0) and stores it in ``<stem>.grids.json``
beside ``<stem>.pt``, so that the checkpoint itself is unchanged (and still loads with
``weights_only=True``). The file maps ``"<solver>/<steps>"`` to ``OptimisedGrid.to_dict()``:
``times``, ``theta``, ``proxy``, ``start_proxy`` and the settings. ``pmm-sde sample`` (and
``sample_checkpoint``) uses a stored grid when one matches the solver and step count;
``stored_grid`` gives it to ``pmm.sample(..., grid=...)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .. import _validation
from ..convergence import optimise_grid
from ..grids import validate_times
from ..solvers import REGISTRY, AdaptiveSolver
from .checkpoint import load_checkpoint
from .model import model_from_checkpoint

#: The proxies that apply to a trained model (the ``moments`` proxy needs an oracle's quadrature).
SAMPLED_PROXIES = ("pathwise", "sample_moments")


def grids_path(checkpoint: str | os.PathLike) -> Path:
    """``<stem>.grids.json`` beside the checkpoint ``<stem>.pt``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".grids.json")


def _key(solver: str, steps: int) -> str:
    return f"{solver}/{steps}"


def _read(checkpoint: str | os.PathLike) -> dict:
    path = grids_path(checkpoint)
    if not path.is_file():
        return {}
    try:
        stored = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"{str(path)!r} is not a JSON file of tuned grids") from None
    if not isinstance(stored, dict):
        raise ValueError(f"{str(path)!r} is not a JSON object of tuned grids")
    return stored


def stored_grid(checkpoint: str | os.PathLike, solver: str, steps: int) -> torch.Tensor | None:
    """The tuned grid of ``solver`` with ``steps`` steps stored beside ``checkpoint``, or None."""
    entry = _read(checkpoint).get(_key(solver, steps))
    if entry is None:
        return None
    times = validate_times(entry.get("times") if isinstance(entry, dict) else None, "stored grid")
    if len(times) != steps + 1 or float(times[0]) != 0.0 or float(times[-1]) != 1.0:
        raise ValueError(f"the stored grid {_key(solver, steps)!r} in {str(grids_path(checkpoint))!r} is not a grid "
                         f"of {steps} steps from 0 to 1")
    return times


def tune_checkpoint_grid(checkpoint: str | os.PathLike, solver: str, steps: int, *, proxy: str = "sample_moments",
                         n: int = 2000, seed: int = 1, reference_steps: int = 200, degree: int = 3,
                         max_evaluations: int = 150, device: str | None = None) -> dict:
    """Optimise the grid of ``solver`` with ``steps`` steps for the checkpoint's EMA model by a
    sampled proxy (``"pathwise"`` or ``"sample_moments"``: ``convergence.optimise_grid``) and store it
    in ``grids_path(checkpoint)`` (other entries kept); returns the stored entry."""
    if proxy not in SAMPLED_PROXIES:
        raise ValueError(f"proxy must be one of {SAMPLED_PROXIES} for a trained model, got {proxy!r}")
    if issubclass(REGISTRY.get(solver, type(solver)), AdaptiveSolver):  # a name or a solver object
        name = getattr(solver, "name", solver)
        raise ValueError(f"solver {name!r} chooses each sample's steps to a tolerance: it has no grid to tune "
                         f"(sample it with pmm-sde sample --solver {name} --rtol ... --atol ...); tune a fixed-grid "
                         f"solver such as 'ode_3m'")
    payload = load_checkpoint(checkpoint)
    model = model_from_checkpoint(payload, None if device is None else _validation.device(device))
    with torch.no_grad():
        found = optimise_grid(model.process(), solver, steps, proxy=proxy, reference_steps=reference_steps,
                              n=n, seed=seed, degree=degree, max_evaluations=max_evaluations, dtype=None,
                              device=model.device)
    stored = _read(checkpoint)
    entry = found.to_dict()
    stored[_key(entry["solver"], entry["steps"])] = entry
    path = grids_path(checkpoint)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(stored, indent=2))
    partial.replace(path)
    return entry
