"""Run outputs: the run folder after training, and a sampling job from a checkpoint.

Sample quality is measured in the data's own units against held-out data, each distance next
to its floor: the same distance between two disjoint halves of the held-out set, at the same
number of points ``n = min(samples, held-out / 2)``. A model whose samples follow the data's law
scores about the floor; the floor is not zero because ``n`` points are a noisy picture of a law.
Real data and counts: the energy distance and the sliced 2-Wasserstein distance. Tokens: the
total variation between the unigram and the bigram frequencies, and for a corpus with a known
law (the Markov corpus) the samples' negative log-likelihood under the true law in bits per
token, ``-E_model log2 p*(x) / L``, next to the corpus's entropy ``-E_p* log2 p*(x) / L``; their
difference is ``KL(model || p*) / L`` plus the samples' Monte Carlo error.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from .. import _validation, data, distributed
from .._validation import positive_int
from ..grids import GRIDS
from ..metrics import bits_per_token, energy_distance, ngram_total_variation, sliced_wasserstein
from ..shards import DEFAULT_CHUNK, MANIFEST, iter_shards, load_samples, rank_device, sample_to_files
from ..driver import DEFAULT_STEPS, stepping_controller
from ..solvers import get_solver
from .checkpoint import load_checkpoint
from .model import TrainedModel, model_from_checkpoint
from .plots import plot_loss, plot_samples
from .tuned_grids import stored_grid


def _distances(samples: torch.Tensor, reference: torch.Tensor, dataset: data.Dataset) -> dict:
    if dataset.kind == "tokens":
        return {f"{name}_total_variation": ngram_total_variation(samples, reference, dataset.num_classes, order)
                for order, name in ((1, "unigram"), (2, "bigram"))}
    return {"energy_distance": energy_distance(samples, reference),
            "sliced_wasserstein": sliced_wasserstein(samples, reference)}


def sample_quality(samples: torch.Tensor, dataset: data.Dataset) -> dict:
    """Distances from ``samples`` (as the family sees data) to the held-out data, each with its
    held-out floor (``heldout_<name>``), at ``quality_points`` points; see the module."""
    return points_quality(dataset.decode(samples.cpu()), dataset)


def points_quality(points: torch.Tensor, dataset: data.Dataset) -> dict:
    """``sample_quality`` of samples already in the data's own form (``data.sample_array``: points
    in the user's units, counts, token indices), such as the shards of ``pmm-sde sample``."""
    samples, heldout = points.cpu(), dataset.decode(dataset.heldout.cpu())
    if dataset.kind != "tokens":
        samples, heldout = samples.to(torch.float64), heldout.to(torch.float64)
    n = min(len(samples), len(heldout) // 2)
    quality: dict = {}
    if n >= 1:
        quality["quality_points"] = n
        quality.update(_distances(samples[:n], heldout[:n], dataset))
        floor = _distances(heldout[:n], heldout[n:2 * n], dataset)
        quality.update({f"heldout_{name}": value for name, value in floor.items()})
    if dataset.corpus is not None:
        corpus = dataset.corpus
        quality["true_law_bits_per_token"] = bits_per_token(-corpus.log_prob(samples), corpus.length)
        quality["entropy_bits_per_token"] = corpus.entropy_bits_per_token()
    return quality


def _write_samples(out: Path, model: TrainedModel, dataset: data.Dataset, solver: str, steps: int, n: int,
                   seed: int) -> dict:
    """Sample, write the samples in the data's own form and ``samples.png``; return the sampling metrics."""
    began = time.perf_counter()
    result = model.sample(solver, steps, n, seed=seed)
    seconds = time.perf_counter() - began
    samples = model.decode(result).cpu()
    files = data.write_samples(out, samples, dataset)
    plot_samples(out / "samples.png", {"held-out data": dataset.decode(dataset.heldout[:n]),
                                       f"{solver}, {steps} steps": dataset.decode(samples)}, dataset)
    return {"solver": solver, "steps": steps, "nfe": result.nfe, "n": n, "seed": seed, "seconds": seconds,
            "files": files + ["samples.png"], **sample_quality(samples, dataset)}


def write_run_folder(model: TrainedModel, dataset: data.Dataset, out: Path, seconds: float, steps_run: int) -> dict:
    """``metrics.json`` (config, data, loss, timing, held-out bound, sample quality), ``loss.png``,
    and ``config.sample_points`` samples by ``config.sample_solver`` (default: the model's) in the
    data's own form with ``samples.png`` (none when ``sample_points`` is 0)."""
    config = model.config
    metrics = {"config": config.to_dict(), "data": dataset.record(), "steps": len(model.losses), "seconds": seconds,
               "steps_per_second": steps_run / seconds if seconds > 0 else None,
               "final_loss": sum(model.losses[-100:]) / len(model.losses[-100:])}
    if config.bound_points:
        points = dataset.as_family_data(dataset.heldout[: config.bound_points])
        metrics["heldout_bound"] = model.bound(points, seed=config.seed).to_dict()
    if config.sample_points:
        solver = config.sample_solver or model.default_solver
        metrics["samples"] = _write_samples(out, model, dataset, solver, config.sample_steps, config.sample_points,
                                            config.seed)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    plot_loss(out / "loss.png", model.losses)
    return metrics


def checkpoint_dataset(payload: dict) -> data.Dataset:
    """The data a checkpoint was trained on, as far as sampling needs it: a built-in data set is
    loaded again (with its exact law); a user's data set is rebuilt from the checkpoint's record
    and held-out points, without the original file."""
    config = payload["config"]
    if "data" not in payload or config["data"] in data.available():
        return data.load(config["data"], **config["data_options"])
    return data.Dataset.from_record(payload["data"]["record"], payload["data"]["heldout"])


def sample_checkpoint(checkpoint: str | os.PathLike, out: Path, solver: str | None = None,
                      steps: int | None = None, n: int = 1000, seed: int = 0, device: str | None = None,
                      chunk: int = DEFAULT_CHUNK, progress: bool = False, grid: str | None = None,
                      rtol: float | None = None, atol: float | None = None) -> dict:
    """Sample a checkpoint's EMA model with ``solver`` (None: the model's default) into ``out``: the
    samples in the data's own form (``data.sample_array``) as ``.npy`` shards of ``chunk`` samples
    with ``manifest.json`` (``pmm_sde.shards.sample_to_files``: split over the ranks of a
    ``torchrun`` job, bitwise the same samples for any number of ranks); then, on rank 0, the views
    of the data's form (``data.write_sample_views``: ``samples.txt`` for text, ``samples_grid.png``
    for images), ``samples.png`` and ``metrics.json`` (checkpoint, solver, steps, NFE of a chunk,
    seconds, files, sample quality) from the first ``min(n, held-out points)`` samples read back
    from the shards. Every rank returns rank 0's metrics once it has written them. ``device``:
    default the checkpoint's (one process) or the rank's (``torchrun``). ``steps``: a fixed-grid
    solver's (None: ``DEFAULT_STEPS``). ``grid``: a grid name, or None: the grid tuned for this
    solver and step count stored beside the checkpoint (``tuned_grids``: ``pmm-sde tune-grid``) when
    there is one, else the solver's default; ``metrics.json`` names it (``"tuned"``). An adaptive
    solver (``ode_3m_adaptive``) takes the tolerances ``rtol`` and ``atol`` instead of ``steps`` and
    ``grid`` (``driver.stepping_controller``); ``metrics.json`` then holds them, ``"steps": null``,
    and the mean and most ``accepted`` and ``rejected`` steps and predictor ``evaluations`` per sample."""
    n = positive_int(n, "n")
    chunk = positive_int(chunk, "chunk")
    device = _validation.device(device)
    if grid is not None and grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS} or None (a tuned grid if stored, else the solver's default), "
                         f"got {grid!r}")
    payload = load_checkpoint(checkpoint)
    dataset = checkpoint_dataset(payload)
    out = Path(out)
    with distributed.session(device) as world:
        model = model_from_checkpoint(payload, rank_device(device, world))
        process = model.process()
        resolved = get_solver(model.default_solver if solver is None else solver, process)
        solver = resolved.name
        controller = stepping_controller(resolved, steps=steps, grid=grid, rtol=rtol, atol=atol)
        if controller is None:
            steps = positive_int(DEFAULT_STEPS if steps is None else steps, "steps")
        tuned = stored_grid(checkpoint, solver, steps) if grid is None and controller is None else None
        grid_name = None if controller is not None else "tuned" if tuned is not None else (
            resolved.default_grid if grid is None else grid)
        began = time.perf_counter()
        manifest = sample_to_files(process, solver, steps, n, out, shape=model.shape, seed=seed, chunk=chunk,
                                   grid=grid if tuned is None else tuned, device=model.device, progress=progress,
                                   transform=lambda result: data.sample_array(model.decode(result), dataset),
                                   producer={"command": "pmm-sde sample", "checkpoint": str(checkpoint)},
                                   rtol=rtol, atol=atol)
        seconds = time.perf_counter() - began
        run = {"checkpoint": str(checkpoint), "data": dataset.record(), "solver": solver, "steps": steps,
               "grid": grid_name,
               "nfe": max(shard["nfe"] for shard in manifest["shards"]), "n": n, "seed": seed, "chunk": chunk,
               "shards": len(manifest["shards"]), "processes": world.size, "seconds": seconds}
        if controller is not None:
            run |= {"rtol": controller.rtol, "atol": controller.atol}
            for name in ("accepted", "rejected", "evaluations"):
                run[f"{name}_mean"] = sum(shard[name] for shard in manifest["shards"]) / n
                run[f"{name}_max"] = max(shard[f"{name}_max"] for shard in manifest["shards"])
        return distributed.gather_work(lambda: _report_samples(out, run, dataset) if world.is_main else None,
                                       world)[0]


def _report_samples(out: Path, run: dict, dataset: data.Dataset) -> dict:
    """From the shards in ``out``: the views of the data's form, ``samples.png`` and ``metrics.json``
    (``run``, the files written and the quality of the first samples); returns the metrics."""
    preview = load_samples(out, n=min(run["n"], len(dataset.heldout)))
    stepping = f"{run['steps']} steps" if run["steps"] is not None else f"rtol {run['rtol']:g}, atol {run['atol']:g}"
    files = [MANIFEST] + data.write_sample_views(out, iter_shards(out), dataset)
    plot_samples(out / "samples.png", {"held-out data": dataset.decode(dataset.heldout[:len(preview)]),
                                       f"{run['solver']}, {stepping}": preview}, dataset)
    metrics = {**run, "files": files + ["samples.png"], **points_quality(preview, dataset)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
