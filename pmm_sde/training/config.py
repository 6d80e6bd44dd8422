"""``TrainConfig`` and the JSON-able specs of families and schedules it holds.

A family spec is ``{"name": "normal", "mean": m, "precision": l}``, ``{"name": "gamma",
"concentration": a, "rate": b}`` or ``{"name": "dirichlet", "num_classes": K, "concentration": c}``
(numbers or nested lists); a schedule spec is ``{"name": "exponential" | "linear", "total": T}`` or
``{"name": "power", "total": T, "power": p}``. Specs round-trip through JSON and checkpoints.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import torch

from .._validation import device, positive_int
from ..families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal
from ..schedules import Exponential, Linear, Power, Schedule
from .objectives import WEIGHTINGS
from .times import TIME_SAMPLERS

FAMILIES = {"normal": NormalNormal, "gamma": GammaPoisson, "dirichlet": DirichletCategorical}
SCHEDULES = {"exponential": Exponential, "linear": Linear, "power": Power}


def _real(value: Any, name: str) -> float:
    """``value`` as a finite float; a bool, a string or None is refused naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def _build(spec: Any, name: str, registry: dict):
    """``registry[spec["name"]](**other keys of spec)``, with errors naming ``name``."""
    if not isinstance(spec, dict) or spec.get("name") not in registry:
        raise ValueError(f"{name} must be a dict with 'name' in {sorted(registry)}, got {spec!r}")
    try:
        return registry[spec["name"]](**{k: v for k, v in spec.items() if k != "name"})
    except TypeError as error:
        raise ValueError(f"{name} spec {spec!r}: {error}") from None


def build_family(spec: dict) -> ConjugateFamily:
    """The family described by ``spec`` (see the module)."""
    return _build(spec, "family", FAMILIES)


def family_spec(family: ConjugateFamily) -> dict:
    """The JSON-able spec of ``family`` (inverse of ``build_family``)."""
    name = next((key for key, cls in FAMILIES.items() if type(family) is cls), None)
    if name is None:
        raise ValueError(f"family must be one of {[c.__name__ for c in FAMILIES.values()]}, "
                         f"got {type(family).__name__}")
    spec: dict[str, Any] = {"name": name}
    if isinstance(family, DirichletCategorical):
        spec["num_classes"] = family.num_classes
    for key, value in family._parameters().items():
        spec[key] = value.tolist()
    return spec


def build_schedule(spec: dict) -> Schedule:
    """The schedule described by ``spec`` (see the module)."""
    return _build(spec, "schedule", SCHEDULES)


@dataclass
class TrainConfig:
    """Everything that defines a training run; JSON-able (``to_dict`` / ``from_dict``).

    ``family``: a family spec, or None for the data set's suggested family (``trainer.resolve_family``).
    ``network``: a network config for ``pmm_sde.networks.build`` (name and options), or None for
    the data's default (``trainer.default_network``); the data's shape, the family's head and the
    preconditioning are filled in by the trainer. ``data_options``: keywords of ``pmm.data.load``
    (its ``seed`` included, so the data split does not follow the training ``seed``). ``device``:
    None for CUDA when present, else the CPU.
    ``lr_decay``: "cosine" (to 0 at the last step) or "constant". ``bound_points``: held-out points
    for the variational bound reported in the run folder; ``sample_points``: samples drawn for its
    ``samples.png`` and sample quality (0 for none), by ``sample_solver`` (None: the process's
    default, ``model.DEFAULT_SOLVERS``) in ``sample_steps`` steps. ``data``: a built-in data set's
    name or the path of the user's data (``pmm.data.load``).
    """

    data: str = "gaussian_mixture"
    data_options: dict = field(default_factory=dict)
    family: dict | None = None
    schedule: dict = field(default_factory=lambda: {"name": "exponential", "total": 1e4})
    network: dict | None = None
    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    lr_decay: str = "cosine"
    weight_decay: float = 0.0
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    seed: int = 0
    device: str | None = None
    weighting: str = "likelihood"
    time_sampler: str = "information"
    checkpoint_every: int = 0
    bound_points: int = 1000
    sample_points: int = 1000
    sample_solver: str | None = None
    sample_steps: int = 100

    def validate(self) -> "TrainConfig":
        """Check every field; raise ValueError naming the field and its constraint."""
        if not isinstance(self.data, str) or not self.data:
            raise ValueError(f"data must be a data set name or a path, got {self.data!r}")
        positive_int(self.steps, "steps")
        positive_int(self.batch_size, "batch_size")
        positive_int(self.sample_steps, "sample_steps")
        if self.sample_solver is not None and not isinstance(self.sample_solver, str):
            raise ValueError(f"sample_solver must be a solver name or None, got {self.sample_solver!r}")
        for name in ("lr", "grad_clip"):
            if not _real(getattr(self, name), name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not _real(self.weight_decay, "weight_decay") >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if not 0 <= _real(self.ema_decay, "ema_decay") < 1:
            raise ValueError(f"ema_decay must lie in [0, 1), got {self.ema_decay!r}")
        for name in ("seed", "checkpoint_every", "bound_points", "sample_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if self.lr_decay not in ("cosine", "constant"):
            raise ValueError(f"lr_decay must be 'cosine' or 'constant', got {self.lr_decay!r}")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, got {self.weighting!r}")
        if self.time_sampler not in TIME_SAMPLERS:
            raise ValueError(f"time_sampler must be one of {TIME_SAMPLERS}, got {self.time_sampler!r}")
        if self.network is not None and (not isinstance(self.network, dict) or "name" not in self.network):
            raise ValueError(f"network must be a dict with a 'name', got {self.network!r}")
        if not isinstance(self.data_options, dict):
            raise ValueError(f"data_options must be a dict, got {self.data_options!r}")
        if self.family is not None and (not isinstance(self.family, dict) or self.family.get("name") not in FAMILIES):
            raise ValueError(f"family must be None or a dict with 'name' in {sorted(FAMILIES)}, got {self.family!r}")
        build_schedule(self.schedule)
        self.torch_device()
        return self

    def torch_device(self) -> torch.device:
        """The device to train on."""
        if self.device is None:
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return device(self.device)

    def to_dict(self) -> dict:
        """The config as JSON-able primitives."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        """Inverse of ``to_dict``; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"config has unknown fields {unknown}")
        return cls(**values)
