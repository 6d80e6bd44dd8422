"""The pmm-sde command line."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from pmm_sde import load_samples
from pmm_sde.cli import build_parser, main
from pmm_sde.demo import DEMO_RUNS


def test_help_runs():
    out = subprocess.run([sys.executable, "-m", "pmm_sde.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout


def test_the_package_runs_as_a_module():
    """``python -m pmm_sde`` is the command line (what ``torchrun -m pmm_sde`` starts)."""
    out = subprocess.run([sys.executable, "-m", "pmm_sde", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "converge" in out.stdout and out.stdout.startswith("usage: pmm-sde")


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
    assert load_samples(out).shape == (50, 2) and metrics["shards"] == 1 and metrics["processes"] == 1
    assert "wrote 1 shard (samples-*.npy), manifest.json, samples.png, metrics.json" in capsys.readouterr().out
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


def test_converge_writes_into_a_folder_given_for_json_and_plot(tmp_path, capsys):
    """A folder for --json / --plot gets convergence.json / convergence.png inside it, and the CLI
    says what it wrote."""
    code = main(["converge", "--process", "cox", "--solvers", "tau_leap", "--steps", "8,16,32", "--json", str(tmp_path),
                 "--plot", str(tmp_path)])
    assert code == 0
    assert json.loads((tmp_path / "convergence.json").read_text())["solvers"]["tau_leap"]["declared_weak_order"] == 1
    assert (tmp_path / "convergence.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert f"wrote {tmp_path / 'convergence.json'}" in printed and f"wrote {tmp_path / 'convergence.png'}" in printed


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


TINY_TRAINING = ["--steps", "3", "--batch-size", "8", "--sample-n", "20", "--sample-steps", "4", "--bound-points", "10"]


@pytest.mark.parametrize("data, extra, solver, distances", [
    ("two_moons", [], "pmm_chain", ["energy_distance", "sliced_wasserstein"]),
    ("digits", [], "tau_leap", ["energy_distance", "sliced_wasserstein"]),
    ("markov", ["--length", "8"], "tau_leap", ["unigram_total_variation", "bigram_total_variation"]),
])
def test_every_family_trains_and_samples_through_the_cli(tmp_path, capsys, data, extra, solver, distances):
    """train --out writes metrics with the family's default solver; sample reads the checkpoint back."""
    run, out = tmp_path / "run", tmp_path / "samples"
    assert main(["train", "--data", data, *extra, *TINY_TRAINING, "--out", str(run)]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["samples"]["solver"] == solver and metrics["samples"]["n"] == 20
    for name in distances:
        assert metrics["samples"][name] > 0 and metrics["samples"][f"heldout_{name}"] > 0
    for name in ("checkpoint.pt", "loss.png", "samples.png", "samples.npy"):
        assert (run / name).stat().st_size > 100
    assert "held-out floor" in capsys.readouterr().out
    assert main(["sample", "--checkpoint", str(run / "checkpoint.pt"), "--steps", "3", "--n", "12",
                 "--out", str(out)]) == 0
    sampled = json.loads((out / "metrics.json").read_text())
    assert sampled["solver"] == solver and sampled["nfe"] >= 3 and set(distances) <= set(sampled)
    assert load_samples(out).shape[0] == 12 and (out / "samples.png").stat().st_size > 1000
    if data == "markov":
        assert sampled["true_law_bits_per_token"] > sampled["entropy_bits_per_token"] > 0


def _user_files(folder):
    from PIL import Image

    rng = np.random.default_rng(0)
    angles = rng.uniform(0, 2 * np.pi, 300)
    np.save(folder / "ring.npy", np.stack([100 + 3 * np.cos(angles), -5 + 3 * np.sin(angles)], 1))
    (folder / "images").mkdir()
    for i in range(40):
        image = np.zeros((6, 6), dtype=np.uint8)
        image[rng.integers(0, 6), :] = 200
        Image.fromarray(image).save(folder / "images" / f"{i:02d}.png")
    (folder / "story.txt").write_text("the quick brown fox jumps over the lazy dog. " * 30, encoding="utf-8")
    return {"ring.npy": ("real", []), "images": ("counts", ["samples_grid.png"]),
            "story.txt": ("tokens", ["samples.txt"])}


def test_own_data_trains_and_samples_without_the_original_file(tmp_path, capsys):
    """A .npy of points, a folder of PNG counts and a text file: train, remove the data, sample."""
    source = tmp_path / "data"
    source.mkdir()
    runs = _user_files(source)
    for name in runs:
        args = ["--length", "9"] if name.endswith(".txt") else []
        assert main(["train", "--data", str(source / name), *args, *TINY_TRAINING, "--out", str(tmp_path / name)]) == 0
    shutil.rmtree(source)
    for name, (kind, files) in runs.items():
        out = tmp_path / f"sampled_{name}"
        assert main(["sample", "--checkpoint", str(tmp_path / name / "checkpoint.pt"), "--steps", "3", "--n", "10",
                     "--out", str(out)]) == 0, capsys.readouterr().err
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["data"]["kind"] == kind and metrics["data"]["source"] == str(source / name)
        assert set(["manifest.json"] + files + ["samples.png"]) == set(metrics["files"])
        assert all((out / file).stat().st_size > 0 for file in metrics["files"])
    points = load_samples(tmp_path / "sampled_ring.npy").numpy()
    assert points.shape == (10, 2) and 50 < np.median(points[:, 0]) < 150  # the data's own units (x near 100)
    text = (tmp_path / "sampled_story.txt" / "samples.txt").read_text(encoding="utf-8")
    assert text.count("--- sample ") == 10 and set(text) <= set("the quick brown fox jumps over the lazy dog.-0123456789\n")
    images = load_samples(tmp_path / "sampled_images")
    assert images.shape == (10, 6, 6) and images.dtype == torch.int64


def test_the_family_option_sets_how_a_file_is_read(tmp_path):
    np.save(tmp_path / "counts.npy", np.random.default_rng(0).poisson(3.0, size=(60, 2)))
    assert main(["train", "--data", str(tmp_path / "counts.npy"), "--family", "normal", *TINY_TRAINING,
                 "--out", str(tmp_path / "run")]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["kind"] == "real" and metrics["samples"]["solver"] == "pmm_chain"


def test_user_errors_are_one_line_and_leave_no_output_folder(tmp_path, capsys):
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "latin.txt").write_bytes("caf\xe9 ".encode("latin-1") * 40)
    cases = [
        (["train", "--data", str(tmp_path / "empty.csv")], "empty.csv: holds no rows"),
        (["train", "--data", str(tmp_path / "latin.txt")], "latin.txt: is not UTF-8"),
        (["train", "--data", "digits", "--solver", "ode_2m"], "solver 'ode_2m' does not apply"),
        (["train", "--data", "two_moons", "--device", "cuda:7"], "device='cuda:7'"),
        (["train", "--data", "two_moons", "--sample-steps", "0"], "sample_steps must be"),
        (["sample", "--checkpoint", str(tmp_path / "latin.txt")], "latin.txt"),
    ]
    for args, message in cases:
        out = tmp_path / "out" / "nested"
        assert main([*args, "--out", str(out)]) == 2
        assert message in _one_line_error(capsys, args[0])
        assert not (tmp_path / "out").exists()
    usage = subprocess.run([sys.executable, "-m", "pmm_sde.cli", "train", "--steps", "x", "--data", "digits",
                            "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1 and "--steps" in usage.stderr


def test_help_lists_data_sets_solvers_and_defaults():
    text = build_parser()._subparsers._group_actions[0].choices["train"].format_help()
    for name in ("gaussian_mixture", "markov", "tau_leap_2", "ode_2m", "thinning", "(default: 2000)", ".npy", "PNG"):
        assert name in " ".join(text.split()), name


def test_converge_refuses_what_cannot_give_an_order_before_working(tmp_path, capsys):
    for args, message in [(["--n", "1"], "n must be an integer >= 2"),
                          (["--json", str(tmp_path / "missing" / "x.json")], "--json: the folder"),
                          (["--plot", str(tmp_path / "missing" / "x.png")], "--plot: the folder"),
                          (["--plot", str(tmp_path / "figure")], "--plot writes a .png file"),
                          (["--json", str(tmp_path / "table.txt")], "--json writes a .json file")]:
        assert main(["converge", "--solvers", "pmm_chain", *args]) == 2
        assert message in _one_line_error(capsys, "converge")
    with pytest.raises(SystemExit) as exit_status:
        main(["converge", "--solvers", "pmm_chain", "--steps", "8,8,16"])
    assert exit_status.value.code == 2 and "increasing" in capsys.readouterr().err


def test_sample_runs_an_adaptive_solver_to_tolerances(tmp_path, capsys):
    """pmm-sde sample --rtol/--atol runs ode_3m_adaptive: steps per sample in metrics.json and the
    manifest, the same samples in chunks of 8 as in one chunk (to the network's rounding); --steps and --grid are refused with
    it, --rtol with a fixed-grid solver, and tune-grid refuses it."""
    run = tmp_path / "run"
    assert main(["train", "--data", "two_moons", *TINY_TRAINING, "--out", str(run)]) == 0
    checkpoint = str(run / "checkpoint.pt")
    adaptive = ["sample", "--checkpoint", checkpoint, "--solver", "ode_3m_adaptive", "--rtol", "1e-2", "--atol",
                "2e-2", "--n", "20"]
    capsys.readouterr()
    assert main([*adaptive, "--chunk", "8", "--out", str(tmp_path / "a")]) == 0
    assert "rejected steps and" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["steps"] is None and metrics["grid"] is None and metrics["shards"] == 3
    assert (metrics["rtol"], metrics["atol"]) == (1e-2, 2e-2)
    assert 1 <= metrics["accepted_mean"] <= metrics["accepted_max"] < metrics["nfe"] and metrics["rejected_mean"] >= 0
    assert metrics["accepted_mean"] < metrics["evaluations_mean"] <= metrics["evaluations_max"] == metrics["nfe"]
    assert metrics["energy_distance"] > 0
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert (manifest["steps"], manifest["rtol"]) == (None, 1e-2)
    assert sum(shard["accepted"] for shard in manifest["shards"]) == round(20 * metrics["accepted_mean"])
    assert main([*adaptive, "--chunk", "20", "--out", str(tmp_path / "b")]) == 0
    # the same steps; the network's last bits depend on how many samples a round evaluates
    assert np.allclose(load_samples(tmp_path / "a").numpy(), load_samples(tmp_path / "b").numpy(), rtol=1e-5, atol=1e-6)
    capsys.readouterr()
    refused = [([*adaptive, "--steps", "5"], "sample", "steps: the adaptive solver 'ode_3m_adaptive'"),
               ([*adaptive, "--grid", "edm"], "sample", "grid: the adaptive solver"),
               (["sample", "--checkpoint", checkpoint, "--solver", "ode_3m", "--rtol", "1e-3"], "sample",
                "rtol and atol are tolerances of adaptive solvers"),
               ([*adaptive[:-2], "--n", "5", "--atol", "-1"], "sample", "atol must be >= 0"),
               (["tune-grid", "--checkpoint", checkpoint, "--solver", "ode_3m_adaptive", "--steps", "4"], "tune-grid",
                "has no grid to tune")]
    for args, command, message in refused:
        out = [] if command == "tune-grid" else ["--out", str(tmp_path / "refused")]
        assert main([*args, *out]) == 2
        assert message in _one_line_error(capsys, command)
        assert not (tmp_path / "refused").exists()
