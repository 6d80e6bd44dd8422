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
