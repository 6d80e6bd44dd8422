"""Samples to disk in ``.npy`` shards with a JSON manifest (``pmm.sample_to_files``,
``pmm.load_samples``, ``pmm-sde sample``): the loader returns bitwise the tensor of one in-memory run,
for any chunk size and, under ``torchrun`` (2 gloo ranks), for any number of ranks; numpy alone reads
the shards; the loader checks the manifest against the files; a rank that fails ends every rank with
an error, never a hang (subprocesses with a timeout, ``PMM_SDE_TIMEOUT`` small)."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import pmm_sde as pmm
from pmm_sde import distributed, shards
from pmm_sde.cli import main

ROOT = Path(__file__).resolve().parents[1]
#: Seconds a rank waits for the others at a collective (PMM_SDE_TIMEOUT).
RANK_TIMEOUT = 60
#: Seconds a torchrun job may take before the test fails (a hang fails it).
JOB_TIMEOUT = 300


def normal_process():
    family = pmm.NormalNormal(0.0, 1.0)
    return pmm.NormalNormalSDE(family, pmm.schedules.Exponential(20.0),
                               pmm.targets.Gaussian(0.5, 1.3).predictor(family), shape=(3,))


def gamma_process():
    family = pmm.GammaPoisson(1.5, 0.5)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(20.0),
                                  pmm.targets.Gamma(2.0, 1.0).predictor(family), shape=(2,))


def torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --standalone --nproc_per_node=2 ARGS`` on this checkout."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    env = {**os.environ, "PYTHONPATH": path, distributed.TIMEOUT_VARIABLE: str(RANK_TIMEOUT)}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=JOB_TIMEOUT)


@pytest.mark.parametrize("make_process, solver", [(normal_process, "pmm_chain"), (gamma_process, "tau_leap")])
def test_shards_of_any_chunk_size_load_as_the_in_memory_run(tmp_path, make_process, solver):
    process = make_process()
    whole = pmm.sample(process, solver, steps=6, n=20, seed=4).mu
    for chunk in (1, 7, 20, 64):
        manifest = pmm.sample_to_files(process, solver, 6, 20, tmp_path / str(chunk), seed=4, chunk=chunk)
        assert torch.equal(pmm.load_samples(tmp_path / str(chunk)), whole)
        assert [(s["first"], s["count"]) for s in manifest["shards"]] == [
            (first, min(chunk, 20 - first)) for first in range(0, 20, chunk)]
        assert all(s["nfe"] == 6 for s in manifest["shards"])
    assert torch.equal(pmm.load_samples(tmp_path / "7", n=9), whole[:9])
    assert pmm.load_samples(tmp_path / "7", n=0).shape == (0, *whole.shape[1:])


def test_the_manifest_describes_the_shards_and_numpy_alone_reads_them(tmp_path):
    process = gamma_process()
    manifest = pmm.sample_to_files(process, "tau_leap", 5, 10, tmp_path, seed=2, chunk=4,
                                   transform=lambda result: result.mu.to(torch.float64),
                                   producer={"note": "test"})
    on_disk = json.loads((tmp_path / shards.MANIFEST).read_text())
    assert on_disk == manifest
    assert {key: on_disk[key] for key in ("format", "version", "n", "shape", "dtype", "seed", "solver", "steps",
                                          "chunk")} == {
        "format": "pmm_sde.samples", "version": 1, "n": 10, "shape": [2], "dtype": "float64", "seed": 2,
        "solver": "tau_leap", "steps": 5, "chunk": 4}
    assert [s["file"] for s in on_disk["shards"]] == ["samples-000000.npy", "samples-000001.npy", "samples-000002.npy"]
    assert on_disk["producer"]["note"] == "test" and on_disk["producer"]["process"] == "GammaPoissonCoxSDE"
    by_numpy = np.concatenate([np.load(tmp_path / s["file"]) for s in on_disk["shards"]])
    expected = pmm.sample(process, "tau_leap", steps=5, n=10, seed=2).mu.to(torch.float64)
    assert by_numpy.dtype == np.float64 and np.array_equal(by_numpy, expected.numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == [shards.MANIFEST, *(s["file"] for s in on_disk["shards"])]


def _edit_manifest(folder: Path, edit) -> None:
    manifest = json.loads((folder / shards.MANIFEST).read_text())
    edit(manifest)
    (folder / shards.MANIFEST).write_text(json.dumps(manifest))


def test_the_loader_checks_the_manifest_against_the_files(tmp_path):
    written = tmp_path / "written"
    pmm.sample_to_files(normal_process(), "pmm_chain", 4, 10, written, chunk=4)

    def broken(name: str, damage) -> Path:
        folder = tmp_path / name
        shutil.copytree(written, folder)
        damage(folder)
        return folder

    missing = broken("missing", lambda f: (f / "samples-000001.npy").unlink())
    with pytest.raises(ValueError, match="samples-000001.npy: shard missing"):
        pmm.load_samples(missing)
    assert pmm.load_samples(missing, n=4).shape == (4, 3)  # the first shard alone holds them
    truncated = broken("truncated", lambda f: (f / "samples-000002.npy").write_bytes(
        (written / "samples-000002.npy").read_bytes()[:-5]))
    with pytest.raises(ValueError, match="samples-000002.npy: not a readable .npy shard"):
        pmm.load_samples(truncated)
    recounted = broken("recounted", lambda f: _edit_manifest(f, lambda m: m["shards"][2].update(count=3)))
    with pytest.raises(ValueError, match="the shards hold 11 samples, the manifest says n = 10"):
        pmm.load_samples(recounted)
    grown = broken("grown", lambda f: _edit_manifest(f, lambda m: (m["shards"][2].update(count=3), m.update(n=11))))
    with pytest.raises(ValueError, match=r"samples-000002.npy: holds float32 of shape \(2, 3\), the manifest says "
                                         r"float32 of shape \(3, 3\)"):
        pmm.load_samples(grown)
    gap = broken("gap", lambda f: _edit_manifest(f, lambda m: m["shards"].pop(1)))
    with pytest.raises(ValueError, match="shard samples-000002.npy holds samples 8 .. 9, expected the next from 4"):
        pmm.load_samples(gap)
    newer = broken("newer", lambda f: _edit_manifest(f, lambda m: m.update(version=2)))
    with pytest.raises(ValueError, match="manifest version 2; this reader knows version 1"):
        pmm.load_samples(newer)
    with pytest.raises(ValueError, match="no manifest.json"):
        pmm.load_samples(tmp_path)


def test_bad_arguments_and_transforms_are_value_errors(tmp_path):
    process = normal_process()
    with pytest.raises(ValueError, match="chunk must be"):
        pmm.sample_to_files(process, "pmm_chain", 4, 10, tmp_path, chunk=0)
    with pytest.raises(ValueError, match="n must be"):
        pmm.sample_to_files(process, "pmm_chain", 4, 0, tmp_path)
    with pytest.raises(ValueError, match="rk45"):
        pmm.sample_to_files(process, "rk45", 4, 10, tmp_path)
    with pytest.raises(ValueError, match="transform must return an array or tensor of 4 samples"):
        pmm.sample_to_files(process, "pmm_chain", 4, 10, tmp_path, chunk=4, transform=lambda result: result.mu[:1])
    with pytest.raises(ValueError, match="different shapes or dtypes in different chunks"):
        pmm.sample_to_files(process, "pmm_chain", 4, 10, tmp_path, chunk=4,
                            transform=lambda result: result.mu[:, :len(result.mu) % 3 + 1])
    assert not (tmp_path / shards.MANIFEST).exists()


def test_torchrun_sample_writes_the_samples_of_one_process(tmp_path):
    """``torchrun --nproc_per_node=2 -m pmm_sde sample`` and ``pmm-sde sample`` in one process, on a
    trained network: the loader gives bitwise equal tensors (chunks of 1000: every chunk is the same
    network call whatever the number of ranks), and so does numpy on the shards in manifest order."""
    run = tmp_path / "run"
    assert main(["train", "--data", "two_moons", "--steps", "5", "--batch-size", "16", "--sample-n", "0",
                 "--bound-points", "0", "--out", str(run)]) == 0
    args = ["sample", "--checkpoint", str(run / "checkpoint.pt"), "--n", "3000", "--chunk", "1000", "--steps", "4"]
    job = torchrun("-m", "--", "pmm_sde", *args, "--out", "two", cwd=tmp_path)
    assert job.returncode == 0, job.stderr[-3000:]
    assert job.stdout.count("3000 samples by pmm_chain in 4 steps") == 1 and "2 processes" in job.stdout
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    one, two = pmm.load_samples(tmp_path / "one"), pmm.load_samples(tmp_path / "two")
    assert one.shape == (3000, 2) and one.dtype == torch.float32 and torch.equal(one, two)
    manifest = json.loads((tmp_path / "two" / shards.MANIFEST).read_text())
    assert manifest == json.loads((tmp_path / "one" / shards.MANIFEST).read_text())
    assert [(s["first"], s["count"]) for s in manifest["shards"]] == [(0, 1000), (1000, 1000), (2000, 1000)]
    by_numpy = np.concatenate([np.load(tmp_path / "two" / s["file"]) for s in manifest["shards"]])
    assert np.array_equal(by_numpy, one.numpy())
    metrics = {name: json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("one", "two")}
    assert metrics["two"]["processes"] == 2 and metrics["one"]["processes"] == 1
    # The same points; the distance's reductions run on 1 thread a rank (torchrun's OMP_NUM_THREADS) or on 2.
    assert metrics["two"]["energy_distance"] == pytest.approx(metrics["one"]["energy_distance"], rel=1e-12)
    assert (tmp_path / "two" / "samples.png").stat().st_size > 1000


FAILING_RANK = """
    import os, sys, time
    from pathlib import Path
    import pmm_sde as pmm
    from pmm_sde import distributed
    sys.path.insert(0, {tests!r})
    from test_shards import normal_process

    out = Path(sys.argv[1]) if os.environ["RANK"] == "0" else Path(sys.argv[2])
    try:
        pmm.sample_to_files(normal_process(), "pmm_chain", 4, 40, out, chunk=10)
    except distributed.DistributedError as error:
        print(f"rank 0 stopped: {{error}}", file=sys.stderr)
        sys.exit(3)
    except FileExistsError:
        time.sleep(5)  # rank 0 reports first; the agent then ends this rank
        raise
"""


def test_a_rank_that_fails_ends_every_rank_with_an_error(tmp_path):
    """Rank 1 cannot write (its output folder is a file): rank 0 learns it at the gather and stops
    with an error naming rank 1 instead of waiting; the job exits nonzero long before the timeout."""
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(FAILING_RANK.format(tests=str(ROOT / "tests"))))
    (tmp_path / "a_file").write_text("not a folder")
    job = torchrun(str(script), str(tmp_path / "out"), str(tmp_path / "a_file"), cwd=tmp_path)
    assert job.returncode != 0
    assert "rank 0 stopped: rank 0: rank 1 of 2 failed: FileExistsError" in job.stderr, job.stderr[-3000:]
    assert not (tmp_path / "out" / shards.MANIFEST).exists()


def test_gather_work_in_a_world_of_one_raises_the_work_error():
    world = distributed.World()
    assert distributed.gather_work(lambda: 5, world) == [5]
    with pytest.raises(KeyError, match="boom"):
        distributed.gather_work(lambda: {}["boom"], world)
