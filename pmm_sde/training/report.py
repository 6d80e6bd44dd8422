"""Run outputs: the run folder after training, and a sampling job from a checkpoint.

Sample quality against held-out data (real data and counts): the energy distance and the sliced
2-Wasserstein distance between ``n`` samples and ``n`` held-out points, and, when the held-out set
holds ``2 n`` points, the same distances between its two halves (the floor a perfect model would
reach at this ``n``). Tokens from a corpus with a known law (the Markov corpus): the samples'
negative log-likelihood under the true law in bits per token, ``-E_model log2 p*(x) / L``, next to
the corpus's entropy ``-E_p* log2 p*(x) / L``; their difference is ``KL(model || p*) / L`` plus the
samples' Monte Carlo error.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from .. import data
from .._validation import positive_int
from ..metrics import bits_per_token, energy_distance, sliced_wasserstein
from .model import TrainedModel, load_model
from .plots import plot_loss, plot_samples


def sample_quality(samples: torch.Tensor, dataset: data.Dataset) -> dict:
    """Distances from ``samples`` to held-out data, with their held-out floors where available."""
    if dataset.kind == "tokens":
        corpus = dataset.corpus
        if corpus is None:
            return {}
        return {"true_law_bits_per_token": bits_per_token(-corpus.log_prob(samples), corpus.length),
                "entropy_bits_per_token": corpus.entropy_bits_per_token()}
    heldout = dataset.heldout.to(torch.float64)
    n = min(len(samples), len(heldout))
    samples = samples[:n].to(torch.float64)
    quality = {"energy_distance": energy_distance(samples, heldout[:n]),
               "sliced_wasserstein": sliced_wasserstein(samples, heldout[:n])}
    if len(heldout) >= 2 * n:
        quality["heldout_energy_distance"] = energy_distance(heldout[:n], heldout[n:2 * n])
        quality["heldout_sliced_wasserstein"] = sliced_wasserstein(heldout[:n], heldout[n:2 * n])
    return quality


def write_run_folder(model: TrainedModel, dataset: data.Dataset, out: Path, seconds: float, steps_run: int,
                     solver: str = "pmm_chain", sample_steps: int = 100) -> dict:
    """``metrics.json`` (config, loss, timing, held-out bound, sample quality), ``loss.png`` and
    ``samples.png`` (``n = config.sample_points`` samples by ``solver`` next to as many held-out
    points; neither the figure nor the quality when n is 0)."""
    metrics = {"config": model.config.to_dict(), "steps": len(model.losses), "seconds": seconds,
               "steps_per_second": steps_run / seconds if seconds > 0 else None,
               "final_loss": sum(model.losses[-100:]) / len(model.losses[-100:])}
    if model.config.bound_points:
        points = dataset.as_family_data(dataset.heldout[: model.config.bound_points])
        metrics["heldout_bound"] = model.bound(points, seed=model.config.seed).to_dict()
    n = min(model.config.sample_points, len(dataset.heldout))
    if n:
        samples = model.decode(model.sample(solver, sample_steps, n, seed=model.config.seed)).cpu()
        metrics["samples"] = {"solver": solver, "steps": sample_steps, "n": n, **sample_quality(samples, dataset)}
        plot_samples(out / "samples.png", {"held-out data": dataset.heldout[:n],
                                           f"{solver}, {sample_steps} steps": samples},
                     dataset.kind, dataset.num_classes)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_loss(out / "loss.png", model.losses)
    return metrics


def sample_checkpoint(checkpoint: str | os.PathLike, out: Path, solver: str = "pmm_chain", steps: int = 100,
                      n: int = 1000, seed: int = 0, device: str | None = None) -> dict:
    """Sample a checkpoint's EMA model; write ``samples.pt`` (decoded samples), ``samples.png`` and
    ``metrics.json`` (solver, steps, NFE, seconds, sample quality) into ``out``."""
    n = positive_int(n, "n")
    model = load_model(checkpoint, device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    result = model.sample(solver, steps, n, seed=seed)
    seconds = time.perf_counter() - began
    samples = model.decode(result).cpu()
    dataset = data.load(model.config.data, **model.config.data_options)
    metrics = {"checkpoint": str(checkpoint), "solver": solver, "steps": steps, "nfe": result.nfe, "n": n,
               "seed": seed, "seconds": seconds, **sample_quality(samples, dataset)}
    torch.save(samples, out / "samples.pt")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_samples(out / "samples.png", {"held-out data": dataset.heldout[:n], f"{solver}, {steps} steps": samples},
                 dataset.kind, dataset.num_classes)
    return metrics
