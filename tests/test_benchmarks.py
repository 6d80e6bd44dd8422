"""The benchmark script's functions at tiny sizes, so that it cannot rot (no timing assertions)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks import kernels as kernels_benchmark
from benchmarks import run
from benchmarks.reference_loops import euler_maruyama_loop, tau_leap_loop
from benchmarks.tensor_memory import peak_bytes
from pmm_sde import kernels as pmm_kernels
from pmm_sde.grids import make_grid

CPU = torch.device("cpu")
TINY = run.Config(n=32, d=2, steps=[8], predictors=["gaussian"], torchsde_steps={"euler": [8], "srk": [8]},
                  cox_steps=[4], repeats=1, accuracy_n=400, var_tol=1.0, mean_tol=1.0, memory_steps=8)


def test_throughput_sections_report_every_method_and_ratio():
    brownian = run.brownian_throughput(TINY, CPU)
    cox = run.cox_throughput(TINY, CPU)
    assert {"pmm.sample:euler_maruyama", "torchsde.sdeint:srk", "hand_loop:philox"} <= set(brownian[0]["methods"])
    assert brownian[0]["nfe"]["torchsde.sdeint:euler"] >= 8
    assert all(v > 0 for v in brownian[0]["throughput_ratios"].values())
    assert cox[0]["throughput_ratios"]["tau_leap_vs_torch_loop_torch.poisson"] > 0
    report = {"throughput": brownian, "cox": cox}
    assert set(run.goals(report)) == {"euler_maruyama_vs_torchsde_euler", "euler_maruyama_vs_hand_loop_randn",
                                      "euler_maruyama_vs_hand_loop_philox"}
    assert "euler_maruyama" in run.summary_table(report)


def test_the_torchsde_goal_is_judged_on_the_cheap_oracle_and_the_loop_goals_everywhere():
    def record(predictor, em_torchsde, em_randn):
        ratios = {"euler_maruyama_vs_torchsde_euler": em_torchsde, "euler_maruyama_vs_hand_loop_randn": em_randn,
                  "euler_maruyama_vs_hand_loop_philox": 1.0, "hand_loop_randn_vs_torchsde_euler": 6.0}
        return {"predictor": predictor, "steps": 200, "throughput_ratios": ratios}

    goals = run.goals({"throughput": [record("gaussian", 5.2, 0.9), record("gaussian_mixture", 1.9, 0.95)]})
    torchsde = goals["euler_maruyama_vs_torchsde_euler"]
    assert torchsde["met"] and not torchsde["met_in_every_configuration"] and torchsde["judged_on"] == ["gaussian"]
    assert torchsde["hand_loop_randn_vs_torchsde_euler"] == {"gaussian/200": 6.0, "gaussian_mixture/200": 6.0}
    assert not run.goals({"throughput": [record("gaussian", 4.9, 0.9)]})["euler_maruyama_vs_torchsde_euler"]["met"]
    missed = run.goals({"throughput": [record("gaussian", 5.2, 0.9), record("gaussian_mixture", 1.9, 0.8)]})
    assert not missed["euler_maruyama_vs_hand_loop_randn"]["met"]


def test_accuracy_section_finds_nfe_for_both_processes():
    result = run.accuracy_vs_cost(TINY, brownian_solvers=["euler_maruyama", "ode_2m"])
    for part, baseline in (("brownian", "euler_maruyama"), ("cox", "tau_leap")):
        summary = result[part]["summary"]
        assert baseline in summary["nfe"] and summary["best"] is not None
    assert set(result["cox"]["solvers"]) == set(run.COX_SOLVERS)
    json.dumps(result)


def test_cox_accuracy_moments_match_the_exact_chain_law():
    process, (mean, var), _ = run.cox_accuracy_problem()
    thinned = run.pmm.sample(process, "thinning", steps=2, n=20_000, seed=1, dtype=torch.float64)
    se = (var / 20_000) ** 0.5
    assert abs(float(thinned.mu.mean()) - mean) < 5 * se
    assert abs(float(thinned.mu.var()) / var - 1) < 5 * (2 / 20_000) ** 0.5 * 1.5


def test_memory_section_sees_the_trajectory():
    memory = run.peak_memory(TINY, CPU)
    for record in memory["records"]:
        assert record["peak_bytes_trajectory"] - record["peak_bytes_no_trajectory"] >= memory["trajectory_bytes"] * 0.9


def test_peak_bytes_counts_live_storages_and_views_once():
    def allocate():
        a = torch.ones(1000)
        view = a[3:]
        del a
        return view * 2

    peak, method = peak_bytes(allocate, CPU)
    assert peak == 4000 + 3988 and "TorchDispatchMode" in method


@pytest.mark.parametrize("noise", ["randn", "philox"])
def test_hand_loop_matches_pmm_sample_in_law(noise):
    process = run.brownian_processes(1)["gaussian"]
    times = make_grid(process.schedule, 50, "uniform")
    mu = euler_maruyama_loop(process, times, 4000, noise, dtype=torch.float64)
    sampled = run.pmm.sample(process, "euler_maruyama", steps=50, n=4000, grid="uniform", dtype=torch.float64).mu
    assert abs(float(mu.mean() - sampled.mean())) < 0.1 and abs(float(mu.var() / sampled.var()) - 1) < 0.15


def test_philox_tau_leap_loop_equals_pmm_sample():
    process = run.cox_throughput_process(2)
    times = make_grid(process.schedule, 6, "uniform")
    loop = tau_leap_loop(process, times, 50, "philox", seed=3, dtype=torch.float64)
    sampled = run.pmm.sample(process, "tau_leap", steps=6, n=50, seed=3, grid="uniform", dtype=torch.float64).mu
    assert torch.allclose(loop, sampled, rtol=1e-12)


def test_main_writes_a_report(tmp_path, monkeypatch):
    monkeypatch.setattr(run.Config, "make", classmethod(lambda cls, quick: TINY))
    report = run.main(["--quick", "--out", str(tmp_path), "--sections", "cox,memory"])
    (path,) = tmp_path.glob("run_cpu*_quick.json")
    written = json.loads(path.read_text())
    assert written["environment"]["torch"] == torch.__version__ and "memory" in report


def test_quick_run_says_it_differs_from_the_full_run_and_writes_outside_the_source_tree(tmp_path, monkeypatch,
                                                                                      capsys):
    notice = run.quick_notice()
    assert {"repeats", "accuracy_n", "var_tol", "mean_tol"} <= set(notice["differs_from_full"])
    assert notice["differs_from_full"]["var_tol"] == {"quick": 0.05, "full": 0.01}
    assert "not the recorded ones" in notice["note"]
    recorded = sorted(run.RECORD_DIR.iterdir())
    stamps = [p.stat().st_mtime_ns for p in recorded]
    monkeypatch.setattr(run, "DEFAULT_OUT", tmp_path / "default")
    monkeypatch.setattr(run.Config, "make", classmethod(lambda cls, quick: TINY))
    report = run.main(["--quick", "--sections", "memory"])
    assert sorted(run.RECORD_DIR.iterdir()) == recorded and [p.stat().st_mtime_ns for p in recorded] == stamps
    (path,) = (tmp_path / "default").glob("run_cpu*_quick.json")
    assert json.loads(path.read_text())["quick_run"] == report["quick_run"]
    out = capsys.readouterr().out
    assert out.startswith("quick run: sizes, repeats and accuracy tolerances differ")
    assert out.rstrip().endswith("(quick run: sizes and tolerances differ from the full run; see quick_run)")


def test_record_writes_into_the_results_folder_and_refuses_quick_runs(monkeypatch, tmp_path):
    assert run.RECORD_DIR.parent.parent not in run.DEFAULT_OUT.resolve().parents  # outside the checkout
    assert run.parse_args(["--record"]).record and run.parse_args([]).out is None
    with pytest.raises(SystemExit, match="--record writes the recorded figures"):
        run.main(["--quick", "--record"])
    monkeypatch.setattr(run, "RECORD_DIR", tmp_path)
    monkeypatch.setattr(run.Config, "make", classmethod(lambda cls, quick: TINY))
    report = run.main(["--record", "--sections", "memory"])
    (path,) = tmp_path.glob("run_cpu*.json")
    assert "quick_run" not in report and "_quick" not in path.name


def test_orders_2d_reports_every_solver_and_functional(tmp_path):
    from benchmarks import orders_2d

    out = tmp_path / "orders.json"
    report = orders_2d.main(["--solvers", "pmm_2", "--n", "64", "--out", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
    assert report["coupling"] == "antithetic" and set(report["solvers"]["pmm_2"]["fits"]) == {"mean", "variance", "cos"}


def test_kernels_benchmark_times_the_compiled_cpu_draws_beside_the_torch_path(tmp_path):
    out = tmp_path / "kernels.json"
    threads = torch.get_num_threads()
    try:
        report = kernels_benchmark.main(["--quick", "--sizes", "2000", "--out", str(out)])
    finally:
        torch.set_num_threads(threads)  # --quick runs on one thread
    assert json.loads(out.read_text())["results"] == report["results"]
    expected = {"torch.poisson", "torch_path"} | ({"native"} if pmm_kernels.native_available() else set())
    for record in report["results"]:
        assert set(record["methods"]) == expected
        assert all(m["elements_per_s"] > 0 for m in record["methods"].values())
    tau_leap = [r for r in report["steps"] if r["kernel"] == "tau_leap_step"]
    assert tau_leap and set(tau_leap[0]["methods"]) == {"eager", "torch_path"} | (expected & {"native"})
    (categorical,) = [r for r in report["steps"] if r["kernel"] == "categorical_tau_leap_step"]
    assert set(categorical["methods"]) == {"eager", "torch_path"} | (expected & {"native"})
    assert [r["steps"] for r in report["events"]] == list(kernels_benchmark.EVENT_STEPS)
    for record in report["events"]:
        assert record["n"] == 2000
        assert set(record["methods"]) == {"eager_loop", "torch_path_events"} | (
            {"native_events"} if pmm_kernels.native_available() else set())
        # About a* A_T / b* = 192 counts per element on [0, 32] (the target's mean 6 times 32).
        assert 150 < record["mean_count_per_element"] < 235


def test_kernel_sass_counts_the_poisson_search_loop_without_division_or_barrier(tmp_path):
    """The static sm_90 count (no GPU): the inversion search's loop body, repeated per step for every
    lane of a program, is a few float64 multiplies and adds and one warp vote. The earlier search
    (``p_k = p_{k-1} rate / k`` over 4-warp programs) cost 152 issue slots per pass with 2 barriers."""
    pytest.importorskip("triton")
    out = tmp_path / "sass.json"
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # compile, do not interpret
    result = subprocess.run([sys.executable, "-m", "benchmarks.kernel_sass", "--kernels", "tau_leap_step",
                             "--out", str(out)], cwd=Path(__file__).resolve().parents[1], env=env,
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "ptxas" in result.stderr:
        pytest.skip("triton's ptxas does not run here")
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = json.loads(out.read_text())
    search = record["loops"][0]
    assert record["barriers"] == 0 and record["local_memory_ops"] == 0
    assert search["issue_slots"] <= 40 and search["fp64"] <= 6 * record["elements_per_thread"]


def test_the_scale_benchmark_reports_the_streaming_peak(tmp_path):
    from benchmarks import scale

    report = scale.main(["--n", "300", "500", "--one-call-max", "300", "--out", str(tmp_path / "scale.json")])
    assert [r["n"] for r in report["runs"]] == [300, 500]
    assert report["runs"][0]["peak_bytes_streaming"] > 0 and "peak_bytes_one_call" not in report["runs"][1]
    assert json.loads((tmp_path / "scale.json").read_text())["chunk"] == scale.CHUNK


def test_goal_nfe_exact_moments_and_scan():
    """The goal problems' exact terminal moments: the Gaussian's equal its marginal; the mixture's and
    the point masses' match mu_T = (A x + B_A) / (1 + A) drawn from the data (5 standard errors);
    the scan refines below the first coarse streak and reports the first of three successive counts."""
    from benchmarks import goal_nfe

    generator = torch.Generator().manual_seed(0)
    for name, (target, _) in goal_nfe.targets().items():
        process, (mean, var), _ = goal_nfe.goal_problem(name)
        if name == "gaussian":
            exact = target.marginal(process.family, goal_nfe.TOTAL)
            assert abs(float(exact[0]) - mean) < 1e-12 and abs(float(exact[1]) - var) < 1e-12
        n, A = 400_000, goal_nfe.TOTAL
        x = target.sample(n, generator).double().reshape(-1)
        mu = (A * x + A ** 0.5 * torch.randn(n, generator=generator, dtype=torch.float64)) / (1 + A)
        assert abs(float(mu.mean()) - mean) < 5 * (var / n) ** 0.5
        assert abs(float(mu.var()) / var - 1) < 5 * (2 / n) ** 0.5 * 1.5
    process, moments, _ = goal_nfe.goal_problem("gaussian")
    result = goal_nfe.fewest_nfe(process, moments, "ode_3m", 2000, 0.1, 0.1, seed=0, steps_scan=[4, 8, 16])
    assert result["stable"]["steps"] == 4 and [row["steps"] for row in result["scan"]] == [4, 5, 6, 8, 16]


def test_goal_nfe_cox_scans_exact_laws():
    """The Cox goal problems' laws are the targets' (mean A_T E x); nb_leap is exact for the Gamma
    target from one step (2 NFE), and the scan reports the first of three successive counts."""
    from benchmarks import goal_nfe_cox

    process, exact, _ = goal_nfe_cox.goal_problem("gamma")
    k = np.arange(len(exact))
    assert abs((k * exact).sum() - goal_nfe_cox.TOTAL * 2.0) < 1e-9 and goal_nfe_cox.law_errors(exact, exact) == (0, 0)
    result = goal_nfe_cox.fewest_nfe(process, exact, "nb_leap", None, max_steps=3)
    assert result["stable"]["nfe"] == 2 and [row["steps"] for row in result["scan"]] == [1, 2, 3]
    result = goal_nfe_cox.fewest_nfe(process, exact, "tau_leap", None, max_steps=3)
    assert result["stable"] is None and result["scan"][0]["tv"] > 0.1


def test_goal_nfe_cox_dirichlet_problems(tmp_path):
    """The Dirichlet problems' laws are the targets' (each class count of mean A(1) E x); on the
    correlated two-position problem tau_leap is off at 3 steps and thinning reports its NFE."""
    from benchmarks import goal_nfe_cox
    from pmm_sde.convergence.count_laws import count_states

    _, exact, max_events, _ = goal_nfe_cox.dirichlet_goal_problem("two_positions")
    states = count_states(2, max_events)
    assert abs((states[:, 0] * exact.sum(1)).sum() - 0.5) < 1e-9
    assert goal_nfe_cox.class_count_errors(exact, exact, states) == (0, 0)
    report = goal_nfe_cox.dirichlet_report(["two_positions"], ["tau_leap"], ["default"], 3, str(tmp_path / "d.json"))
    assert report["table"]["tau_leap"]["two_positions"]["default"] is None
    assert report["table"]["thinning"]["two_positions"]["per_sample"] == 2.0
    assert json.loads((tmp_path / "d.json").read_text())["problems"]["two_positions"]["solvers"]["tau_leap"]


def test_goal_nfe_grids_optimises_each_step_count_and_adds_exact_errors(tmp_path):
    """The optimised grid of each scanned step count is measured by Monte Carlo beside its proxy and
    its exact (quadrature) errors; the named grids are scanned by the same criterion."""
    from benchmarks import goal_nfe_grids

    report = goal_nfe_grids.main(["--quick", "--problems", "gaussian", "--solvers", "ode_3m", "--grids", "log1p_sqrt",
                                  "--max-evaluations", "8", "--reference-steps", "50", "--out",
                                  str(tmp_path / "grids.json")])
    runs = report["problems"]["gaussian"]["solvers"]["ode_3m"]
    assert set(runs) == {"optimised", "log1p_sqrt"} and set(report["table"]["ode_3m"]["gaussian"]) == set(runs)
    for row in runs["optimised"]["scan"]:
        assert row["proxy"] <= row["start_proxy"] and len(row["times"]) == row["steps"] + 1
        assert abs(row["exact_var_rel_error"]) < 1 and abs(row["exact_mean_error"]) < 1
    assert json.loads((tmp_path / "grids.json").read_text())["optimiser"]["max_evaluations"] == 8


def test_goal_summary_judges_each_goal_from_the_result_files(tmp_path):
    from benchmarks import goal_nfe_summary

    problems = ("gaussian", "mixture", "point_masses")
    table = {"ode_3m": dict(zip(problems, (10, 23, 10))), "heun": dict(zip(problems, (80, 100, 26))),
             "ode_3m_adaptive": dict(zip(problems, (19, 23, 13)))}
    main = {"problems": {name: {"solvers": {}} for name in problems}, "table": table, "peer_nfe": {}}
    (tmp_path / "goal_nfe_cpu.json").write_text(json.dumps(main))
    extra = {"problems": {name: {"solvers": {"pmm_2_adaptive": {}}} for name in problems},
             "table": {"pmm_2_adaptive": dict(zip(problems, (100, 140, 40)))},
             "evaluations_table": {"pmm_2_adaptive": dict(zip(problems, (60.0, 70.0, 30.0)))}}
    (tmp_path / "extra.json").write_text(json.dumps(extra))
    grids = {"table": {"ode_3m": {name: {"optimised": nfe} for name, nfe in zip(problems, (4, 11, 5))}}}
    (tmp_path / "goal_nfe_grids_cpu.json").write_text(json.dumps(grids))
    cox = {"table": {"tau_leap_2": {"mixture": {"log1p": 18, "log": 14}}, "thinning": {"mixture": {"batch_1000": 3}}}}
    (tmp_path / "goal_nfe_cox_cpu.json").write_text(json.dumps(cox))
    dirichlet = {"table": {"dirichlet_leap": {"point_masses": {"log1p": 16}}}}
    (tmp_path / "goal_nfe_cox_dirichlet_cpu.json").write_text(json.dumps(dirichlet))
    report = goal_nfe_summary.main(["--results", str(tmp_path), "--add", str(tmp_path / "extra.json")])
    goals = report["goals"]
    assert goals["fixed_grid"]["problems"]["mixture"] == {"nfe": 11, "solver_and_grid": "ode_3m, optimised (moments "
                                                          "proxy)", "peer_nfe": None, "met": False}
    assert goals["fixed_grid"]["problems"]["gaussian"]["met"] and not goals["fixed_grid"]["met"]
    flow, sde = goals["adaptive"]["solvers"]["ode_3m_adaptive"], goals["adaptive"]["solvers"]["pmm_2_adaptive"]
    assert flow["problems"]["mixture"]["bound"] == 34.5 and not flow["met"]  # 19 > 1.5 x 10 on the Gaussian
    assert sde["problems"]["gaussian"]["best_fixed"] == "heun" and sde["problems"]["point_masses"]["bound"] == 39
    assert not sde["met"] and sde["met_per_sample"]  # point masses: 40 rounds > 1.5 x 26, 30 evaluations a sample
    cox_goal = goals["cox"]
    assert cox_goal["problems"]["gamma_poisson: mixture"]["nfe"] == 14  # thinning's batch rounds are left out
    assert not cox_goal["problems"]["dirichlet: point_masses"]["met"] and not cox_goal["met"]
    assert "demo" not in goals and json.loads((tmp_path / "goal_nfe_cpu.json").read_text())["goals_met"] == {
        "fixed_grid": False, "adaptive": False, "cox": False}
    again = goal_nfe_summary.main(["--results", str(tmp_path), "--add", str(tmp_path / "extra.json")])
    assert again["merged_runs"] == ["extra.json: pmm_2_adaptive"]  # merged twice, listed once


def test_goal_demo_ratio_of_means_and_its_standard_error():
    from benchmarks.goal_nfe_demo import ratio_of_means

    ratio, error = ratio_of_means([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    assert ratio == 2.0 and error == 0.0  # exactly proportional pairs: no spread about the ratio
    ratio, error = ratio_of_means([1.0, 3.0], [1.0, 1.0])
    assert ratio == 2.0 and error == pytest.approx(2 ** 0.5 / 2 ** 0.5)  # sd(-1, 1) / (sqrt(2) * 1)
