"""Samples to disk in ``.npy`` shards and a JSON manifest, written by one process or the ranks of a
``torchrun`` job, and read back as the tensor of one run.

The global sample indices ``0 .. n - 1`` are cut into chunks at the multiples of ``chunk``: chunk
``c`` holds the samples ``c * chunk .. min((c + 1) * chunk, n) - 1`` and is one call
``sample(..., n=count, first_sample=c * chunk)``, whose draws depend only on ``(seed, global sample
index)``. The chunks do not depend on the number of processes, so each is the same call, of the same
shape, in a world of one process or of ``K``: even a network whose matmul results depend on the batch
shape gives bitwise the same samples. The ranks take contiguous ranges of chunks
(``distributed.block_range``) and write each chunk as one shard, ``samples-<c>.npy`` (``numpy.save``);
after a gather, rank 0 writes ``manifest.json`` (``FORMAT``, ``VERSION``)::

    {"format": "pmm_sde.samples", "version": 1, "n": 3000, "shape": [2], "dtype": "float32",
     "seed": 0, "solver": "pmm_chain", "steps": 100, "chunk": 1000,
     "shards": [{"file": "samples-000000.npy", "first": 0, "count": 1000, "nfe": 100}, ...],
     "producer": {"package": "pmm_sde", "version": "0.1.0", "call": "pmm_sde.sample_to_files", ...}}

An adaptive solver's manifest has ``"steps": null`` and its ``"rtol"`` and ``"atol"``, and each shard's
entry the ``"accepted"`` and ``"rejected"`` steps and predictor ``"evaluations"`` of its samples, summed,
and their most (``"accepted_max"``, ``"rejected_max"``, ``"evaluations_max"``).
Concatenated in manifest order, the shards are the samples ``0 .. n - 1``; numpy alone reads them
(``docs/howto/scale.md``). ``load_samples`` checks the manifest against the files.
"""

from __future__ import annotations

import json
import math
import os
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from . import _validation, distributed
from .driver import sample, stepping_controller
from .processes import PMMProcess
from .result import SampleResult
from .solvers import get_solver

#: The manifest's name in the output folder.
MANIFEST = "manifest.json"
#: The manifest's ``format`` and ``version``: what a reader checks before it trusts the fields.
FORMAT, VERSION = "pmm_sde.samples", 1
#: Samples per chunk (one ``sample()`` call, one shard) unless given.
DEFAULT_CHUNK = 10_000


def _package_version() -> str | None:
    try:
        return metadata.version("pmm_sde")
    except metadata.PackageNotFoundError:
        return None


def shard_name(index: int) -> str:
    """The file of chunk ``index``: ``samples-<index, six digits at least>.npy``."""
    return f"samples-{index:06d}.npy"


def _save_atomically(path: Path, array: np.ndarray) -> None:
    """``numpy.save`` to a temporary name, then a rename: a shard is whole or absent."""
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    os.replace(partial, path)


def _as_array(values: torch.Tensor | np.ndarray, count: int) -> np.ndarray:
    array = values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)
    if array.ndim < 1 or array.shape[0] != count or array.dtype == object:
        raise ValueError(f"transform must return an array or tensor of {count} samples (one row per sample), got "
                         f"{type(values).__name__} of shape {array.shape} and dtype {array.dtype}")
    return array


def rank_device(device: torch.device | str | None, world: distributed.World) -> torch.device | str | None:
    """The device a rank runs on: ``device`` when given; else, in a world of several ranks, the
    rank's own (``world.device``: ``cuda:LOCAL_RANK`` under nccl, the CPU under gloo); else None,
    the run's default."""
    return device if device is not None or world.size == 1 else world.device


def _write_chunks(process: PMMProcess, options: dict, out: Path, n: int, chunk: int,
                  transform: Callable[[SampleResult], Any], progress: bool, world: distributed.World) -> list[dict]:
    """Simulate and write the shards of this rank's chunks; their manifest entries (with each
    array's layout), in order. Rank 0 first removes a manifest left by an earlier run."""
    out.mkdir(parents=True, exist_ok=True)
    if world.is_main:
        (out / MANIFEST).unlink(missing_ok=True)
    entries = []
    chunks = distributed.block_range(math.ceil(n / chunk), world)
    for index in tqdm(chunks, desc="shards", unit="chunk", disable=not (progress and world.is_main)):
        first = index * chunk
        count = min(chunk, n - first)
        with torch.no_grad():
            result = sample(process, n=count, first_sample=first, **options)
        array = _as_array(transform(result), count)
        _save_atomically(out / shard_name(index), array)
        entry = {"file": shard_name(index), "first": first, "count": count, "nfe": result.nfe}
        if result.accepted is not None:  # an adaptive solver: its steps, summed and at most, over the chunk
            for name, counts in (("accepted", result.accepted), ("rejected", result.rejected),
                                 ("evaluations", result.evaluations)):
                entry.update({name: int(counts.sum()), f"{name}_max": int(counts.max())})
        entries.append(entry | {"layout": (tuple(array.shape[1:]), array.dtype.name)})
    return entries


def sample_to_files(process: PMMProcess, solver, steps: int | None, n: int, out: str | os.PathLike, *, shape=None,
                    seed: int = 0, chunk: int = DEFAULT_CHUNK, grid=None, dtype: torch.dtype | None = None,
                    device: torch.device | str | None = None, backend: str = "auto", progress: bool = False,
                    transform: Callable[[SampleResult], torch.Tensor | np.ndarray] | None = None,
                    producer: dict | None = None, rtol: float | None = None, atol: float | None = None) -> dict:
    """Simulate the samples ``0 .. n - 1`` of ``pmm.sample(process, solver, steps, n, ...)`` in chunks
    of ``chunk`` global indices, one ``.npy`` shard per chunk in the folder ``out``, and write
    ``manifest.json`` there (the module's docstring gives the format). Returns the manifest.

    Under ``torchrun`` (or in an initialised process group) the ranks take contiguous ranges of
    chunks; the shards, hence ``load_samples(out)``, are bitwise those of one process, since every
    chunk is the same ``sample()`` call whatever the number of ranks. Every rank returns the manifest
    once all have written their shards; a rank that fails makes every rank raise (``DistributedError``
    on the others), and a rank that does not arrive within ``PMM_SDE_TIMEOUT`` seconds too.

    ``transform``: what a shard holds, from each chunk's ``SampleResult`` (default: ``result.mu``),
    an array or tensor with one row per sample, of one shape and dtype in every chunk. ``producer``:
    JSON-able fields added to the manifest's ``producer`` (for example the checkpoint sampled).
    ``device``: the run's device (default: ``sample()``'s, or ``cuda:LOCAL_RANK`` for a ``torchrun``
    job on CUDA). ``progress``: a tqdm bar over rank 0's chunks. The other keywords are ``sample()``'s;
    a ``bm`` or ``poisson_paths`` sized for one run cannot be split, so they are not taken. An adaptive
    solver takes ``steps=None`` and the tolerances ``rtol`` and ``atol``, which the manifest records
    (the controller's defaults where None), and each shard's entry its samples' ``accepted`` and
    ``rejected`` steps, summed and at most (``accepted_max``, ``rejected_max``).
    """
    if not isinstance(process, PMMProcess):
        raise ValueError(f"process must be a PMMProcess, got {type(process).__name__}")
    n = _validation.positive_int(n, "n")
    chunk = _validation.positive_int(chunk, "chunk")
    seed = _validation.seed(seed)
    device = _validation.device(device)
    resolved = get_solver(solver, process)
    controller = stepping_controller(resolved, steps=steps, grid=grid, rtol=rtol, atol=atol)
    if producer is not None and not isinstance(producer, dict):
        raise ValueError(f"producer must be a dict of JSON-able fields, got {type(producer).__name__}")
    out = Path(out)
    transform = (lambda result: result.mu) if transform is None else transform
    with distributed.session(device) as world:
        options = dict(solver=solver, steps=steps, shape=shape, seed=seed, grid=grid, dtype=dtype, backend=backend,
                       device=rank_device(device, world), rtol=rtol, atol=atol)
        gathered = distributed.gather_work(
            lambda: _write_chunks(process, options, out, n, chunk, transform, progress, world), world)
        entries = [entry for entries in gathered for entry in entries]
        layouts = {entry.pop("layout") for entry in entries}
        if len(layouts) != 1:
            raise ValueError(f"transform returned samples of different shapes or dtypes in different chunks: "
                             f"{sorted(layouts)}")
        [(sample_shape, dtype_name)] = layouts
        manifest = {"format": FORMAT, "version": VERSION, "n": n, "shape": list(sample_shape), "dtype": dtype_name,
                    "seed": seed, "solver": resolved.name, "steps": steps, "chunk": chunk, "shards": entries,
                    "producer": {"package": "pmm_sde", "version": _package_version(),
                                 "call": "pmm_sde.sample_to_files", "process": type(process).__name__,
                                 **(producer or {})}}
        if controller is not None:
            manifest.update(rtol=controller.rtol, atol=controller.atol)
        if world.is_main:
            partial = out / f".{MANIFEST}.partial"
            partial.write_text(json.dumps(manifest, indent=1))
            os.replace(partial, out / MANIFEST)
    return manifest


def read_manifest(folder: str | os.PathLike) -> dict:
    """The manifest of a folder written by ``sample_to_files``, checked: format, version, and shards
    that tile ``0 .. n - 1`` in order (``ValueError`` naming what is wrong)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ValueError(f"{folder}: no {MANIFEST} (not a folder of samples, or its run did not finish)")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not JSON ({error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: not a manifest of format {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise ValueError(f"{path}: manifest version {manifest.get('version')!r}; this reader knows version {VERSION}")
    try:
        n, shards = int(manifest["n"]), manifest["shards"]
        np.dtype(manifest["dtype"]), tuple(manifest["shape"])
        spans = [(shard["file"], int(shard["first"]), int(shard["count"])) for shard in shards]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: a field is missing or malformed ({type(error).__name__}: {error})") from None
    expected = 0
    for file, first, count in spans:
        if first != expected or count < 1:
            raise ValueError(f"{path}: shard {file} holds samples {first} .. {first + count - 1}, expected the next "
                             f"from {expected}")
        expected += count
    if expected != n:
        raise ValueError(f"{path}: the shards hold {expected} samples, the manifest says n = {n}")
    return manifest


def iter_shards(folder: str | os.PathLike, n: int | None = None) -> Iterator[np.ndarray]:
    """The shards of ``folder`` as numpy arrays, in sample order, each checked against the manifest
    (present, readable, ``count`` rows of the manifest's shape and dtype); only the first ``n``
    samples when given (the shards that hold them, the last one cut)."""
    return _checked_shards(Path(folder), read_manifest(folder), n)


def _checked_shards(folder: Path, manifest: dict, n: int | None) -> Iterator[np.ndarray]:
    limit = manifest["n"] if n is None else min(_validation.positive_int(n, "n", minimum=0), manifest["n"])
    dtype, shape = np.dtype(manifest["dtype"]), tuple(manifest["shape"])
    for shard in manifest["shards"]:
        if shard["first"] >= limit:
            return
        path = folder / shard["file"]
        if not path.is_file():
            raise ValueError(f"{path}: shard missing (listed in {folder / MANIFEST})")
        try:
            array = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, OSError) as error:
            raise ValueError(f"{path}: not a readable .npy shard ({error})") from None
        if array.shape != (shard["count"], *shape) or array.dtype != dtype:
            raise ValueError(f"{path}: holds {array.dtype} of shape {array.shape}, the manifest says {dtype} of shape "
                             f"{(shard['count'], *shape)}")
        yield array[: limit - shard["first"]]


def load_samples(folder: str | os.PathLike, n: int | None = None) -> torch.Tensor:
    """The samples of a folder written by ``sample_to_files`` (or ``pmm-sde sample``), in global
    index order, as one tensor: bitwise the tensor of a single-process run, whatever the number of
    processes that wrote them. ``n``: only the first ``n`` samples. A missing or malformed manifest
    or shard raises ``ValueError``."""
    manifest = read_manifest(folder)
    empty = np.empty((0, *manifest["shape"]), dtype=manifest["dtype"])
    return torch.from_numpy(np.concatenate([empty, *_checked_shards(Path(folder), manifest, n)]))
