"""Convergence studies streamed over blocks and shared by torchrun ranks (``pmm_sde.distributed``,
``convergence.refinement_statistics``): the figures do not depend on the chunk size or on the
number of ranks, to the last bit; a rendezvous that cannot form ends with an error within the
timeout."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pmm_sde as pmm
from pmm_sde import distributed
from pmm_sde.cli import main
from pmm_sde.convergence import convergence_problem, convergence_study, refinement_statistics

ROOT = Path(__file__).resolve().parent.parent
#: A subprocess that takes longer than this has hung: the test fails instead of waiting.
SUBPROCESS_TIMEOUT = 300


def run_env(**extra: str) -> dict:
    launched = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    env = {key: value for key, value in os.environ.items() if key not in launched}
    return {**env, "PYTHONPATH": str(ROOT), "PMM_SDE_TIMEOUT": "60", **extra}


def torchrun(*args: str, cwd: Path, ranks: int = 2) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={ranks}", "-m", "--", "pmm_sde", *args], cwd=cwd, env=run_env(),
                          capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)


def study_json(process_name: str, solvers: list[str], path: Path, **options) -> str:
    process, name = convergence_problem(process_name)
    study = convergence_study(process, solvers, [4, 8, 16], n=700, seed=5, name=name, **options)
    study.to_json(path)
    return path.read_text()


@pytest.mark.parametrize("process_name, solvers, options", [
    ("cox", ["tau_leap", "tau_leap_2"], {}),
    ("normal", ["euler_maruyama", "ode_2m"], {"strong": False}),
    ("normal", ["euler_maruyama"], {"strong": True}),
    ("normal", ["pmm_chain"], {"coupling": "antithetic"}),
])
def test_study_figures_do_not_depend_on_the_chunk_size(tmp_path, process_name, solvers, options):
    one = study_json(process_name, solvers, tmp_path / "a.json", block=100, chunk=100, **options)
    other = study_json(process_name, solvers, tmp_path / "b.json", block=100, chunk=300, **options)
    assert one == other
    assert json.loads(one)["solvers"][solvers[0]]["functionals"]["mean"]["differences"]


def test_block_ranges_of_the_refinement_statistics_merge_into_the_whole():
    process, _ = convergence_problem("cox")
    run = dict(steps=[4, 8, 16], n=500, seed=2, block=64)
    whole = refinement_statistics(process, "tau_leap", **run)
    head = refinement_statistics(process, "tau_leap", **run, world=distributed.World())
    assert whole.blocks == 8 and whole.n == 500
    assert torch.equal(whole.sums, head.sums)
    names = whole.functionals
    assert names[:3] == ("mean 4-8", "variance 4-8", "cos 4-8") and len(names) == 6


@pytest.mark.parametrize("options, message", [({"block": 0}, "block must be"),
                                              ({"block": 64, "chunk": 100}, "chunk must be a multiple of block")])
def test_bad_blocks_and_chunks_are_named_before_any_run(options, message):
    process, _ = convergence_problem("cox")
    with pytest.raises(ValueError, match=message):
        refinement_statistics(process, "tau_leap", [4, 8, 16], 100, **options)


def test_the_strong_differences_need_the_common_coupling():
    process, _ = convergence_problem("normal")
    with pytest.raises(ValueError, match="antithetic"):
        refinement_statistics(process, "pmm_chain", [4, 8, 16], 100, coupling="antithetic", strong=True)


def test_a_counter_brownian_keyed_by_global_indices_drives_a_run_from_any_first_sample():
    process, _ = convergence_problem("normal")
    times = pmm.grids.make_grid(process.schedule, 6, "log1p")
    whole = pmm.sample(process, "euler_maruyama", steps=6, n=9, seed=4,
                       bm=pmm.streams.CounterBrownian(0.0, 1.0, (9, 1), 4, times=times, dtype=torch.float64),
                       dtype=torch.float64)
    tail = pmm.sample(process, "euler_maruyama", steps=6, n=5, seed=4, first_sample=4,
                      bm=pmm.streams.CounterBrownian(0.0, 1.0, (5, 1), 4, times=times, dtype=torch.float64,
                                                     first_sample=4), dtype=torch.float64)
    assert torch.equal(whole.mu[4:], tail.mu)
    with pytest.raises(ValueError, match="bm starts at global sample 4, but the run's first_sample = 0"):
        pmm.sample(process, "euler_maruyama", steps=6, n=5, seed=4,
                   bm=pmm.streams.CounterBrownian(0.0, 1.0, (5, 1), 4, first_sample=4))


@pytest.mark.parametrize("ranks", [2, 4])
def test_torchrun_converge_writes_the_figures_of_one_process(tmp_path, ranks):
    """The issue's acceptance, smaller: gloo ranks and one process write the same JSON bytes."""
    args = ["converge", "--process", "cox", "--solvers", "tau_leap,tau_leap_2", "--monte-carlo", "--n", "3000",
            "--steps", "4,8,16", "--block", "256", "--seed", "5"]
    done = torchrun(*args, "--json", "two.json", cwd=tmp_path, ranks=ranks)
    assert done.returncode == 0, done.stderr[-3000:]
    assert main(args + ["--chunk", "768", "--json", str(tmp_path / "one.json")]) == 0
    assert (tmp_path / "two.json").read_bytes() == (tmp_path / "one.json").read_bytes()
    assert done.stdout.count("measured weak order") == 2, done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_rendezvous_that_cannot_form_ends_with_an_error_within_the_timeout(tmp_path):
    env = run_env(WORLD_SIZE="2", RANK="0", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                  PMM_SDE_TIMEOUT="3")
    done = subprocess.run([sys.executable, "-m", "pmm_sde", "converge", "--process", "cox", "--solvers", "tau_leap",
                           "--monte-carlo", "--n", "100"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=SUBPROCESS_TIMEOUT)
    assert done.returncode == 2
    assert "the rendezvous of 2 ranks" in done.stderr and "did not form within 3 s" in done.stderr, done.stderr


@pytest.mark.parametrize("value", ["0", "-1", "abc", "inf"])
def test_a_bad_timeout_is_refused(monkeypatch, value):
    monkeypatch.setenv(distributed.TIMEOUT_VARIABLE, value)
    with pytest.raises(ValueError, match="PMM_SDE_TIMEOUT must be a number of seconds > 0"):
        distributed.timeout_seconds()


def test_blocks_are_split_in_contiguous_ranges_in_rank_order():
    ranges = [distributed.block_range(49, distributed.World(rank, 4)) for rank in range(4)]
    assert ranges == [range(0, 12), range(12, 24), range(24, 36), range(36, 49)]
    assert [distributed.block_range(1, distributed.World(rank, 2)) for rank in range(2)] == [range(0, 0), range(0, 1)]
    assert distributed.gather("x", distributed.World()) == ["x"]
