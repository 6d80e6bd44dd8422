"""The pmm-sde command line."""

import json
import subprocess
import sys

from pmm_sde.cli import main


def test_help_runs():
    out = subprocess.run([sys.executable, "-m", "pmm_sde.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "demo" in out.stdout


def test_demo_writes_metrics_and_plot(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--n", "400"]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["heldout_energy_distance"] > 0
    assert [r["steps"] for r in metrics["runs"]] == [25, 100, 400]
    assert all(r["energy_distance"] < 5 * metrics["heldout_energy_distance"] for r in metrics["runs"][1:])
    assert (tmp_path / "samples.png").stat().st_size > 1000


def test_bad_arguments_give_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["demo", "--out", str(blocker / "sub"), "--n", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pmm-sde demo: error:")
    assert main(["demo", "--out", str(tmp_path / "d"), "--n", "0"]) == 2
