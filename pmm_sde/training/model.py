"""``TrainedModel``: a family, a schedule and a learned predictor (EMA weights), ready to sample."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from .. import _validation, networks
from ..driver import sample
from ..families import ConjugateFamily, NormalNormal
from ..processes import GammaPoissonCoxSDE, NormalNormalSDE, PMMProcess
from ..result import SampleResult
from ..schedules import Schedule
from .bound import Bound, variational_bound
from .checkpoint import load_checkpoint
from .config import TrainConfig, build_family, build_schedule

#: The solver a run folder and ``pmm-sde sample`` use when none is named, per process.
DEFAULT_SOLVERS = {NormalNormalSDE: "pmm_chain", GammaPoissonCoxSDE: "tau_leap"}


@dataclass
class TrainedModel:
    """A trained PMM model. ``network`` holds the EMA weights, in eval mode, without gradients.

    ``shape`` is one data point's shape and ``kind`` the data's kind ("real", "counts", "tokens").
    """

    family: ConjugateFamily
    schedule: Schedule
    network: torch.nn.Module
    config: TrainConfig
    shape: tuple[int, ...]
    kind: str
    losses: list[float] = field(default_factory=list)

    def __post_init__(self):
        self.network.eval().requires_grad_(False)

    @property
    def device(self) -> torch.device:
        """Where the network's weights live."""
        return next(self.network.parameters()).device

    def process(self) -> PMMProcess:
        """The continuous-time process: NormalNormalSDE, or GammaPoissonCoxSDE for counts and tokens."""
        cls = NormalNormalSDE if isinstance(self.family, NormalNormal) else GammaPoissonCoxSDE
        return cls(self.family, self.schedule, self.network, shape=self.shape)

    @property
    def default_solver(self) -> str:
        """The solver used when none is named: ``DEFAULT_SOLVERS`` for the model's process."""
        return DEFAULT_SOLVERS[type(self.process())]

    def sample(self, solver: str | None = None, steps: int = 100, n: int = 1000, seed: int = 0,
               **options) -> SampleResult:
        """``pmm.sample(self.process(), solver, steps, n, shape=self.shape, seed=seed, ...)`` on the
        model's device; ``solver`` None is ``default_solver``."""
        solver = self.default_solver if solver is None else solver
        with torch.no_grad():
            return sample(self.process(), solver=solver, steps=steps, n=n, shape=self.shape, seed=seed,
                          device=self.device, **options)

    def decode(self, result: SampleResult) -> torch.Tensor:
        """Data points from terminal states: ``mu`` for real data; for counts the integer
        ``round(N_1 / A_1)`` (the count whose Poisson(A_1 k) likelihood of the terminal count
        ``N_1 = b_1 mu - a_0`` is highest, to rounding); for tokens the class of largest ``mu``."""
        if self.kind == "tokens":
            return result.mu.argmax(-1)
        if self.kind == "counts":
            A1 = result.A.to(result.mu.dtype)
            return torch.round(self.family.cast(result.mu).statistic(result.mu, A1) / A1).clamp_min(0)
        return result.mu

    def bound(self, x: torch.Tensor, time_points: int = 16, seed: int = 0) -> Bound:
        """The variational bound on data points ``x`` as the family sees them (``bound.variational_bound``)."""
        generator = torch.Generator(self.device).manual_seed(seed)
        return variational_bound(self.family, self.schedule, self.network, x.to(self.device),
                                 time_points=time_points, time_sampler=self.config.time_sampler,
                                 generator=generator)


def model_from_checkpoint(payload: dict, device: torch.device | str | None = None) -> TrainedModel:
    """The TrainedModel (EMA weights) held by a loaded checkpoint payload."""
    try:
        config = TrainConfig.from_dict(payload["config"])
        network = networks.build(payload["config"]["network"])
        network.load_state_dict(payload["ema"])
    except (KeyError, TypeError, RuntimeError) as error:
        raise ValueError(f"checkpoint does not match this version of pmm_sde ({str(error).splitlines()[0][:120]})") \
            from None
    device = _validation.device(device) if device is not None else config.torch_device()
    return TrainedModel(build_family(config.family), build_schedule(config.schedule), network.to(device), config,
                        tuple(payload["shape"]), payload["kind"], payload["losses"].tolist())


def load_model(path: str | os.PathLike, device: torch.device | str | None = None) -> TrainedModel:
    """Load a checkpoint written by ``train`` as a TrainedModel (EMA weights)."""
    return model_from_checkpoint(load_checkpoint(path), device)
