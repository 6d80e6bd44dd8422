"""The demo job: train a small predictor on the 2-D Gaussian mixture, sample it with two solvers,
and report sample quality against held-out data.

A residual MLP (``networks.MLP``) learns ``E*[x | mu, A]`` for the 8-Gaussian ring under the
Normal-Normal family with the ``likelihood`` weighting (``training.objectives``); the EMA weights
are then sampled by each solver in ``DEMO_RUNS``. Quality is the energy distance between ``n``
samples and ``n`` held-out points, next to the floor: the energy distance between two held-out
halves of the same size ``n``. Each run is repeated with the target's exact predictor (same
solver, steps and seed): the floor and the oracle's distance show the metric's own noise at this
``n``. A measure of the model's error free of that noise is ``path_kl_to_exact_bits_per_dim``,
the KL between the path laws of the exact process and the learned one
(``training.bound.path_kl_to_reference``), per coordinate.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from . import data
from .driver import sample
from .processes import NormalNormalSDE
from ._validation import positive_int
from .metrics import energy_distance
from .training import TrainConfig, path_kl_to_reference, train
from .training.plots import plot_samples

#: (solver, steps) pairs sampled after training.
DEMO_RUNS = (("ode_2m", 20), ("pmm_chain", 100))
DEMO_TRAIN_STEPS = 3000


def demo_config(train_steps: int = DEMO_TRAIN_STEPS, seed: int = 0, heldout_size: int = 5000) -> TrainConfig:
    """The demo's training run: the 8-Gaussian ring, a small MLP, the likelihood weighting, on the CPU."""
    return TrainConfig(data="gaussian_mixture", data_options={"heldout_size": heldout_size},
                       schedule={"name": "exponential", "total": 1e4},
                       network={"name": "mlp", "hidden": 64, "depth": 2}, steps=train_steps, batch_size=2048,
                       lr=3e-3, ema_decay=0.995, weighting="likelihood", time_sampler="information", seed=seed,
                       sample_points=0, device="cpu")


def run_demo(out: Path, n: int = 2000, train_steps: int = DEMO_TRAIN_STEPS, runs=DEMO_RUNS, seed: int = 0,
             progress: bool = True) -> dict:
    """Train, sample with each ``(solver, steps)`` in ``runs``, and write into ``out``:
    ``checkpoint.pt``, ``metrics.json``, ``loss.png`` and ``samples.png`` (held-out data next to
    each run's samples). Returns the metrics; the top-level ``energy_distance`` is the best run's.

    Runs on one CPU thread: the tensors are small, so more threads gain little, and on a shared
    machine they can slow the run several-fold (measured: 425 s instead of 48 s of training with
    two threads on two busy cores)."""
    n = positive_int(n, "n")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train_sample_and_report(Path(out), n, train_steps, runs, seed, progress)
    finally:
        torch.set_num_threads(threads)


def _train_sample_and_report(out: Path, n: int, train_steps: int, runs, seed: int, progress: bool) -> dict:
    config = demo_config(train_steps, seed, heldout_size=max(5000, 2 * n))
    model = train(config, out_dir=out, progress=progress)
    training = json.loads((out / "metrics.json").read_text())
    dataset = data.load(config.data, **config.data_options)
    heldout = dataset.heldout
    exact = dataset.target.predictor(model.family)
    path_kl = path_kl_to_reference(model.family, model.schedule, model.network, exact, heldout[:n],
                                   generator=torch.Generator().manual_seed(seed))
    metrics = {"data": config.data, "n": n, "heldout_energy_distance": energy_distance(heldout[:n], heldout[n:2 * n]),
               "path_kl_to_exact_bits_per_dim": float(path_kl.mean()) / (math.prod(model.shape) * math.log(2)),
               "train": {key: training[key] for key in ("steps", "seconds", "final_loss", "heldout_bound")},
               "runs": []}
    panels = {"held-out data": heldout[:n]}
    for solver, steps in runs:
        began = time.perf_counter()
        result = model.sample(solver, steps, n, seed=seed)
        seconds = time.perf_counter() - began
        samples = model.decode(result).cpu()
        panels[f"{solver}, {steps} steps"] = samples
        oracle_samples = sample(NormalNormalSDE(model.family, model.schedule, exact, shape=model.shape), solver, steps,
                                n, seed=seed).mu
        metrics["runs"].append({"solver": solver, "steps": steps, "nfe": result.nfe, "seconds": seconds,
                                "energy_distance": energy_distance(samples, heldout[:n]),
                                "oracle_energy_distance": energy_distance(oracle_samples, heldout[:n])})
    best = min(metrics["runs"], key=lambda run: run["energy_distance"])
    metrics["energy_distance"] = best["energy_distance"]
    metrics["best_run"] = {"solver": best["solver"], "steps": best["steps"]}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_samples(out / "samples.png", panels, dataset)
    return metrics
