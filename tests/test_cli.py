"""The pmm-sde command line."""

import json
import subprocess
import sys

import numpy as np
import torch

from pmm_sde.cli import main
from pmm_sde.demo import DEMO_RUNS


def test_help_runs():
    out = subprocess.run([sys.executable, "-m", "pmm_sde.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout


def test_demo_trains_samples_and_writes_metrics(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--n", "300", "--train-steps", "150"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    floor = metrics["heldout_energy_distance"]
    assert floor > 0 and metrics["n"] == 300 and metrics["train"]["steps"] == 150
    assert [(r["solver"], r["steps"]) for r in metrics["runs"]] == list(DEMO_RUNS)
    assert metrics["energy_distance"] == min(r["energy_distance"] for r in metrics["runs"])
    assert all(r["nfe"] >= r["steps"] and r["seconds"] > 0 and r["oracle_energy_distance"] > 0 for r in metrics["runs"])
    # the Gaussian of the data's mean and variance scores about 0.1 (10x the floor) at this n
    assert metrics["energy_distance"] < 3 * floor
    assert 0 < metrics["path_kl_to_exact_bits_per_dim"] < 1
    for name in ("samples.png", "loss.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "checkpoint.pt").is_file()


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"pmm-sde {command}: error:"), err
    return err[0]


def test_bad_arguments_give_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["demo", "--out", str(blocker / "sub"), "--n", "10"]) == 2
    _one_line_error(capsys, "demo")
    assert main(["demo", "--out", str(tmp_path / "d"), "--n", "0"]) == 2
    assert "n must be" in _one_line_error(capsys, "demo")
    assert main(["train", "--data", "no_such_data", "--out", str(tmp_path / "t")]) == 2
    assert "no_such_data" in _one_line_error(capsys, "train")
    assert main(["train", "--data", "two_moons", "--family", "dirichlet", "--out", str(tmp_path / "t")]) == 2
    assert "dirichlet" in _one_line_error(capsys, "train")


def test_train_then_sample_a_checkpoint(tmp_path, capsys):
    run, out = tmp_path / "run", tmp_path / "samples"
    assert main(["train", "--data", "two_moons", "--steps", "20", "--batch-size", "32", "--out", str(run)]) == 0
    for name in ("checkpoint.pt", "metrics.json", "loss.png", "samples.png"):
        assert (run / name).is_file()
    assert main(["sample", "--checkpoint", str(run / "checkpoint.pt"), "--solver", "ode_2m", "--steps", "5",
                 "--n", "50", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["nfe"] == 6 and metrics["energy_distance"] > 0 and metrics["sliced_wasserstein"] > 0
    assert np.load(out / "samples.npy").shape == (50, 2)
    assert (out / "samples.png").stat().st_size > 1000
    capsys.readouterr()
    assert main(["sample", "--checkpoint", str(run / "checkpoint.pt"), "--solver", "rk45", "--out", str(out)]) == 2
    assert "rk45" in _one_line_error(capsys, "sample")


def test_missing_corrupt_and_foreign_checkpoints_give_one_line_errors(tmp_path, capsys):
    corrupt, foreign = tmp_path / "corrupt.pt", tmp_path / "foreign.pt"
    corrupt.write_bytes(b"\x00garbage")
    torch.save({"state_dict": {}}, foreign)
    for path in (tmp_path / "missing.pt", corrupt, foreign):
        assert main(["sample", "--checkpoint", str(path), "--out", str(tmp_path / "o")]) == 2
        assert str(path) in _one_line_error(capsys, "sample")
    out = subprocess.run([sys.executable, "-m", "pmm_sde.cli", "sample", "--checkpoint", str(corrupt), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_converge_writes_orders_and_plot(tmp_path):
    out, png = tmp_path / "orders.json", tmp_path / "orders.png"
    code = main(["converge", "--process", "normal", "--solvers", "pmm_chain,ode_heun", "--steps", "8,16,32,64",
                 "--n", "4000", "--json", str(out), "--plot", str(png)])
    assert code == 0
    table = json.loads(out.read_text())["solvers"]
    assert table["pmm_chain"]["declared_weak_order"] == 1.0 and table["ode_heun"]["declared_weak_order"] == 2.0
    assert abs(table["pmm_chain"]["weak_order"] - 1.0) < 0.3 and abs(table["ode_heun"]["weak_order"] - 2.0) < 0.3
    assert png.stat().st_size > 1000


def test_converge_unknown_solver_is_a_one_line_error(capsys):
    assert main(["converge", "--process", "normal", "--solvers", "rk45", "--n", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rk45" in err[0]


def test_converge_on_the_2d_problem_with_the_antithetic_coupling(tmp_path):
    """``--process normal_2d --coupling antithetic``: pmm_2 takes the antithetic coupling, the flow the
    common one, and the JSON records which."""
    out = tmp_path / "orders.json"
    assert main(["converge", "--process", "normal_2d", "--solvers", "pmm_2,ode_euler", "--steps", "4,8,16",
                 "--n", "200", "--coupling", "antithetic", "--json", str(out)]) == 0
    solvers = json.loads(out.read_text())["solvers"]
    assert "antithetic" in solvers["pmm_2"]["weak_method"] and "common noise" in solvers["ode_euler"]["weak_method"]
