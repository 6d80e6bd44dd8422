"""The training loop: AdamW, EMA weights, gradient-norm clipping, counter-based draws, data-parallel ranks.

Per step k (of ``steps``): a global batch of ``batch_size`` points ``x`` drawn with replacement
from the training set, the PMM objective (``objectives.pmm_loss``), ``lr_k = lr`` or
``lr (1 + cos(pi k / steps)) / 2`` (``lr_decay="cosine"``), gradients clipped to norm ``grad_clip``,
an AdamW step, then the EMA ``theta_ema <- d_k theta_ema + (1 - d_k) theta`` with
``d_k = min(ema_decay, (1 + k) / (10 + k))``.

The network's initial weights come from ``seed``; every later draw (batch rows, times, posterior
states) is counter-based, a function of ``(seed, k, global batch row)`` (``batches.py``), not the
state of a generator. So two runs with one config give identical weights on the CPU, a run resumed
from a checkpoint equals the uninterrupted run (the checkpoint needs no generator state), and the
global batch does not depend on the number of processes.

Under ``torchrun`` (``pmm_sde.distributed.session``; gloo on the CPU, nccl on CUDA) rank ``r`` of
``K`` draws rows ``[r b / K, (r + 1) b / K)`` of each global batch and the network is wrapped in
``DistributedDataParallel``: the mean of the ranks' gradients of their batch means is the gradient of
the global batch mean, and the logged loss is the all-reduced global mean, so clipping, AdamW and
the EMA are the same on every rank and follow one process with the whole batch to float rounding.
Rank 0 alone writes the run folder; the others wait for it at a barrier.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .. import data, distributed, networks
from ..families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal
from ..solvers import get_grid_solver
from .batches import BatchDraws, batch_rows, step_loss
from .checkpoint import RESUMABLE_VERSION, load_checkpoint, save_checkpoint
from .config import FAMILIES, TrainConfig, build_family, build_schedule, family_spec
from .model import TrainedModel
from .report import write_run_folder
from .times import TimeSampler

#: Fields that may differ between a checkpoint's config and the config that resumes it.
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "bound_points", "sample_points", "sample_solver", "sample_steps",
                     "device")
#: torch >= 2.4 has a fused AdamW on the CPU too (one kernel for all parameters).
FUSED_ADAMW = torch.torch_version.TorchVersion(torch.__version__) >= "2.4"
#: Output head of the network for each family.
HEADS = {NormalNormal: "real", GammaPoisson: "positive", DirichletCategorical: "simplex"}


def resolve_family(spec: dict | None, dataset: data.Dataset) -> ConjugateFamily:
    """The family of a run: the data set's suggestion when ``spec`` is None or names the suggested
    family without parameters; else ``build_family(spec)`` (``num_classes`` defaults to the data's).
    Tokens need DirichletCategorical, and DirichletCategorical needs tokens."""
    suggested = dataset.family()
    if spec is None or (set(spec) == {"name"} and FAMILIES.get(spec["name"]) is type(suggested)):
        family = suggested
    else:
        spec = dict(spec)
        if spec.get("name") == "dirichlet" and dataset.num_classes is not None:
            spec.setdefault("num_classes", dataset.num_classes)
        family = build_family(spec)
    if (dataset.kind == "tokens") != isinstance(family, DirichletCategorical):
        raise ValueError(f"family: dataset {dataset.name!r} holds {dataset.kind}, which "
                         f"{'needs' if dataset.kind == 'tokens' else 'does not suit'} the 'dirichlet' family")
    if isinstance(family, GammaPoisson) and float(dataset.train.min()) < 0:
        raise ValueError(f"family: 'gamma' models data >= 0, but dataset {dataset.name!r} has negative values")
    return family


def default_network(dataset: data.Dataset) -> dict:
    """The network for a data set when the config names none: a transformer for tokens; for counts
    an MLP with a bounded head at the largest training count (the configuration measured on
    digits by ``benchmarks/training_acceptance.py``, 20x faster per step on a CPU than the U-Net,
    and its ``xhat_max`` lets ``thinning`` run); a U-Net for real images (two or three axes);
    else an MLP."""
    if dataset.kind == "tokens":
        return {"name": "transformer"}
    if dataset.kind == "counts":
        return {"name": "mlp", "hidden": 256, "depth": 3, "head": "bounded", "x_max": float(dataset.train.max())}
    return {"name": "unet"} if len(dataset.shape) in (2, 3) else {"name": "mlp"}


def network_config(spec: dict, dataset: data.Dataset, family: ConjugateFamily) -> dict:
    """``spec`` completed with what the data and the family fix: shapes, the output head and the
    input preconditioning (from the family's prior and the training data's mean and std)."""
    config = dict(spec)
    name = config["name"]
    if name == "transformer":
        if dataset.kind != "tokens":
            raise ValueError(f"network 'transformer' models tokens; dataset {dataset.name!r} holds {dataset.kind}")
        config.setdefault("num_classes", dataset.num_classes)
        config.setdefault("length", dataset.shape[0])
    elif name == "unet":
        if len(dataset.shape) not in (2, 3) or dataset.shape[-1] != dataset.shape[-2]:
            raise ValueError(f"network 'unet' needs square images; dataset {dataset.name!r} has shape {dataset.shape}")
        config.setdefault("size", dataset.shape[-1])
        config.setdefault("channels", dataset.shape[0] if len(dataset.shape) == 3 else 1)
    else:
        config.setdefault("shape", list(family.state_shape(dataset.shape)))
    config.setdefault("head", HEADS[type(family)])
    config.setdefault("preconditioning", networks.preconditioning_for(family, dataset.data_mean, dataset.data_std,
                                                                      one_hot=dataset.kind == "tokens"))
    return config


def _lr_at(config: TrainConfig, step: int) -> float:
    if config.lr_decay == "cosine":
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * step / config.steps))
    return config.lr


def _update_ema(ema: torch.nn.Module, network: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for target, source in zip(ema.parameters(), network.parameters()):
            target.lerp_(source, 1.0 - decay)
        for target, source in zip(ema.buffers(), network.buffers()):
            target.copy_(source)


def _check_resumable(saved: dict, current: dict) -> None:
    changed = sorted(k for k in current if k not in RESUMABLE_CHANGES and saved.get(k) != current[k])
    if changed:
        raise ValueError(f"resume: the checkpoint was trained with different {changed}; only "
                         f"{list(RESUMABLE_CHANGES)} may change")


def _resume_payload(path: str | os.PathLike, config: TrainConfig) -> dict:
    """The checkpoint to resume from: its config must equal ``config`` except for ``RESUMABLE_CHANGES``,
    and its draws must be counter-based (version ``RESUMABLE_VERSION``)."""
    payload = load_checkpoint(path)
    if payload["version"] < RESUMABLE_VERSION:
        raise ValueError(f"resume: checkpoint {str(path)!r} (version {payload['version']}) was trained with draws "
                         f"from a torch.Generator, which this version replaced by counter-based draws; it still "
                         f"samples (pmm-sde sample), but training cannot continue it: train again")
    _check_resumable(payload["config"], config.to_dict())
    if payload["step"] > config.steps:
        raise ValueError(f"steps must be >= the checkpoint's {payload['step']} steps, got {config.steps}")
    return payload


def train(config: TrainConfig, out_dir: str | os.PathLike | None = None, progress: bool = True,
          resume: str | os.PathLike | None = None) -> TrainedModel:
    """Train a predictor with ``config``; with ``out_dir``, write ``checkpoint.pt``, ``metrics.json``,
    ``loss.png`` and ``samples.png`` there (``report.write_run_folder``). ``resume``: a checkpoint
    to continue from (its config must equal ``config`` except for ``RESUMABLE_CHANGES``). The
    sampling solver is checked against the model's process before training starts.

    Under ``torchrun`` every rank calls ``train`` (it joins the process group unless one exists);
    ``batch_size`` must be divisible by the number of ranks. Every rank returns the same model;
    rank 0 writes ``out_dir``, and ``train`` returns on every rank once it is written."""
    if not isinstance(config, TrainConfig):
        raise ValueError(f"config must be a TrainConfig, got {type(config).__name__}")
    config.validate()
    with distributed.session(config.torch_device()) as world:
        return _train(config, world, out_dir, progress, resume)


def _train(config: TrainConfig, world: distributed.World, out_dir: str | os.PathLike | None, progress: bool,
           resume: str | os.PathLike | None) -> TrainedModel:
    device = world.device
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    batch = BatchDraws(config.seed, batch_rows(config.batch_size, world))
    dataset = data.load(config.data, **config.data_options)
    family = resolve_family(config.family, dataset)
    schedule = build_schedule(config.schedule)
    spec = config.network if config.network is not None else default_network(dataset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = networks.build(network_config(spec, dataset, family)).to(device)
    config = replace(config, family=family_spec(family), network=network.config)
    family = family.cast(torch.empty((), device=device))
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  fused=device.type == "cuda" or (device.type == "cpu" and FUSED_ADAMW))
    ema = copy.deepcopy(network).requires_grad_(False)
    losses: list[float] = []
    model = TrainedModel(family, schedule, ema, config, tuple(dataset.shape), dataset.kind, losses)
    get_grid_solver(model.default_solver if config.sample_solver is None else config.sample_solver, model.process())
    start = 0
    if resume is not None:
        payload = _resume_payload(resume, config)
        network.load_state_dict(payload["network"])
        ema.load_state_dict(payload["ema"])
        optimizer.load_state_dict(payload["optimizer"])
        start = payload["step"]
        losses.extend(payload["losses"].tolist())
    out = Path(out_dir) if out_dir is not None and world.is_main else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    predictor = network if world.size == 1 else DistributedDataParallel(
        network, device_ids=[device.index] if device.type == "cuda" else None)

    def checkpoint(step: int) -> None:
        save_checkpoint(out / "checkpoint.pt", config=config.to_dict(), network=network.state_dict(),
                        ema=ema.state_dict(), optimizer=optimizer.state_dict(), step=step,
                        losses=torch.tensor(losses), shape=dataset.shape,
                        kind=dataset.kind, data={"record": dataset.record(), "heldout": dataset.heldout})

    train_set = dataset.train.to(device)
    sampler = TimeSampler(schedule, config.time_sampler)
    began = time.perf_counter()
    network.train()
    bar = tqdm(range(start, config.steps), initial=start, total=config.steps, disable=not (progress and world.is_main),
               desc="train")
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(config, step)
        index, t, inverse_density = batch.points(step, len(train_set), sampler, device)
        x = dataset.as_family_data(train_set[index])
        loss = step_loss(family, schedule, predictor, x, t, inverse_density, batch, step, config.weighting)
        value = distributed.average(loss.detach(), world).item()
        if not math.isfinite(value):
            raise ValueError(f"training diverged: the loss is {value} at step {step} "
                             f"(lower lr or grad_clip, or change the weighting)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
        optimizer.step()
        _update_ema(ema, network, min(config.ema_decay, (1 + step) / (10 + step)))
        losses.append(value)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{value:.4g}")
        if out is not None and config.checkpoint_every and (step + 1) % config.checkpoint_every == 0:
            checkpoint(step + 1)
    seconds = time.perf_counter() - began
    if out is not None:
        checkpoint(config.steps)
        write_run_folder(model, dataset, out, seconds, steps_run=config.steps - start)
    distributed.barrier(world)
    return model
