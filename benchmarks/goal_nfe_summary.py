"""The few-step goals of issue 19 in one place: ``goal_nfe_cpu.json``'s ``goals`` section.

Reads the figures the goal benchmarks wrote into ``--results`` and writes, into ``--out``
(``goal_nfe_cpu.json``, the table of ``benchmarks.goal_nfe``), one entry per goal with the measured
figure, the threshold, whether it is met and the file it comes from:

- ``fixed_grid``: the fewest NFE of a fixed-step probability-flow solver on each Normal-Normal problem,
  over the default grids (``goal_nfe``) and the optimised ones (``goal_nfe_grids*``); goal at most 10;
- ``adaptive``: each adaptive solver's NFE against 1.5x the best fixed-step solver of its kind on its
  default grid (probability flow for ``ode_*``, the SDE for the others) and the peer's adaptive 39:
  ``met`` by the batch's NFE (its slowest sample's evaluations), ``met_per_sample`` by the mean
  evaluations per sample (the predictor's work: finished samples are not evaluated);
- ``cox``: the fewest NFE of a Cox step solver on each problem (``goal_nfe_cox*``); goal at most 15 on
  the mixture oracles (``COX_GOAL_PROBLEMS``), the others reported;
- ``demo``: the demo's learned model at 10 NFE against the held-out floor's expectation
  (``goal_nfe_demo``); goal at most 1.2x.

``--add FILE ...`` first merges other ``goal_nfe`` runs (their solvers' rows replace those of ``--out``);
every run is seeded on its own, so the merge equals one run.

    python -m benchmarks.goal_nfe_summary [--results benchmarks/results] [--add FILE ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.report import write_report

FIXED_GOAL, COX_GOAL, DEMO_GOAL, ADAPTIVE_FACTOR = 10, 15, 1.2, 1.5
#: Fewest NFE of k-diffusion's adaptive DPM solver on the three problems (issue 19: 39-57).
PEER_ADAPTIVE_NFE = 39
#: The Cox goal's mixture oracles: two Gamma components, two atoms on the simplex.
COX_GOAL_PROBLEMS = ("gamma_poisson: mixture", "dirichlet: point_masses")
#: Fixed-step solvers of the probability flow; the other fixed-step Normal-Normal solvers simulate the SDE.
FLOW_PREFIX = "ode_"


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def merge_runs(report: dict, other: dict, source: str) -> None:
    """Put ``other``'s solver rows (per problem and in the table) into ``report``."""
    for solver, row in other["table"].items():
        report["table"][solver] = row
        if solver in other.get("evaluations_table", {}):
            report.setdefault("evaluations_table", {})[solver] = other["evaluations_table"][solver]
        for name, problem in other["problems"].items():
            if solver in problem["solvers"]:
                report["problems"].setdefault(name, {"solvers": {}})["solvers"][solver] = problem["solvers"][solver]
    entry, runs = f"{source}: {', '.join(other['table'])}", report.setdefault("merged_runs", [])
    if entry not in runs:  # merging a file again replaces its rows; it is listed once
        runs.append(entry)


def _smallest(candidates: dict[str, int | None]) -> tuple[str | None, int | None]:
    found = {key: value for key, value in candidates.items() if value is not None}
    if not found:
        return None, None
    best = min(found, key=found.get)
    return best, found[best]


def nested_tables(results: Path, prefix: str, unnamed: str) -> tuple[list[str], list[tuple]]:
    """``(files read, rows)``: a row ``(suffix, solver, problem, grid, nfe)`` per entry of the ``table``
    (solver, problem, grid) of each ``<prefix>*_cpu.json`` in ``results``; ``suffix`` is the file
    name's part after ``prefix`` (``unnamed`` where there is none)."""
    sources, rows = [], []
    for path in sorted(results.glob(f"{prefix}*_cpu.json")):
        table = json.loads(path.read_text())["table"]
        suffix = path.stem.removeprefix(prefix).removesuffix("_cpu").strip("_") or unnamed
        sources.append(path.name)
        rows += [(suffix, solver, name, grid, nfe) for solver, per_problem in table.items()
                 for name, per_grid in per_problem.items() for grid, nfe in per_grid.items()]
    return sources, rows


def fixed_grid_goal(report: dict, results: Path) -> dict:
    """Per problem, the fewest NFE of a fixed-step flow solver on any grid measured."""
    problems = list(report["problems"])
    candidates = {name: {f"{solver}, default grid": row.get(name) for solver, row in report["table"].items()
                         if solver.startswith(FLOW_PREFIX) and not solver.endswith("_adaptive")} for name in problems}
    sources, rows = nested_tables(results, "goal_nfe_grids", "moments")
    for proxy, solver, name, grid, nfe in rows:
        label = f"{solver}, {grid}" + (f" ({proxy} proxy)" if grid == "optimised" else "")
        candidates[name].setdefault(label, nfe)
    rows = {}
    for name in problems:
        how, nfe = _smallest(candidates[name])
        rows[name] = {"nfe": nfe, "solver_and_grid": how, "peer_nfe": report.get("peer_nfe", {}).get(name),
                      "met": nfe is not None and nfe <= FIXED_GOAL}
    return {"goal": f"at most {FIXED_GOAL} NFE", "sources": ["goal_nfe_cpu.json", *sources], "problems": rows,
            "met": all(row["met"] for row in rows.values())}


def adaptive_goal(report: dict) -> dict:
    """Each adaptive solver's NFE against 1.5x the best fixed-step solver of its kind, default grids."""
    solvers = {}
    for solver, row in report["table"].items():
        if not solver.endswith("_adaptive"):
            continue
        flow = solver.startswith(FLOW_PREFIX)
        kind = [name for name in report["table"] if not name.endswith("_adaptive")
                and name.startswith(FLOW_PREFIX) == flow]
        per_problem = {}
        for name, nfe in row.items():
            best_solver, best = _smallest({fixed: report["table"][fixed].get(name) for fixed in kind})
            bound = None if best is None else ADAPTIVE_FACTOR * best
            work = report.get("evaluations_table", {}).get(solver, {}).get(name)
            per_problem[name] = {"nfe": nfe, "evaluations_per_sample": work, "best_fixed": best_solver,
                                 "best_fixed_nfe": best, "bound": bound,
                                 "below_peer_adaptive": nfe is not None and nfe < PEER_ADAPTIVE_NFE,
                                 "met": nfe is not None and bound is not None and nfe <= bound,
                                 "met_per_sample": work is not None and bound is not None and work <= bound}
        solvers[solver] = {"kind": "probability flow" if flow else "SDE", "problems": per_problem,
                           "met": all(entry["met"] for entry in per_problem.values()),
                           "met_per_sample": all(entry["met_per_sample"] for entry in per_problem.values())}
    return {"goal": f"the tolerance met with NFE at most {ADAPTIVE_FACTOR}x the best fixed-step solver of the same "
                    f"kind on its default grid, and below the peer's adaptive {PEER_ADAPTIVE_NFE}",
            "source": "goal_nfe_cpu.json", "solvers": solvers,
            "met": bool(solvers) and all(entry["met"] for entry in solvers.values())}


def cox_goal(results: Path) -> dict:
    """Per Cox problem (``gamma_poisson: ...`` from ``goal_nfe_cox_cpu.json``, ``dirichlet: ...`` from
    ``goal_nfe_cox_dirichlet_cpu.json``), the fewest NFE over the step solvers and grids. Thinning is
    left out: exact, its NFE are its batch's rounds, which grow with the batch and the exposure."""
    sources, rows = nested_tables(results, "goal_nfe_cox", "gamma_poisson")
    candidates_of: dict[str, dict[str, int | None]] = {}
    for family, solver, name, grid, nfe in rows:
        if solver != "thinning":
            candidates_of.setdefault(f"{family}: {name}", {})[f"{solver}, {grid}"] = nfe
    problems = {}
    for name, candidates in candidates_of.items():
        how, nfe = _smallest(candidates)
        problems[name] = {"nfe": nfe, "solver_and_grid": how, "met": nfe is not None and nfe <= COX_GOAL}
    judged = [problems[name]["met"] for name in COX_GOAL_PROBLEMS if name in problems]
    return {"goal": f"at most {COX_GOAL} NFE (1% count variance, TV < 0.01) on the mixture oracles "
                    f"{', '.join(COX_GOAL_PROBLEMS)}", "sources": sources, "problems": problems,
            "met": len(judged) == len(COX_GOAL_PROBLEMS) and all(judged)}


def demo_goal(results: Path) -> dict | None:
    demo = _read(results / "goal_nfe_demo_cpu.json")
    if demo is None:
        return None
    return {"goal": f"at most {DEMO_GOAL}x the held-out floor's expectation at 10 NFE", "source": "goal_nfe_demo_cpu.json",
            "nfe": demo["nfe"], "ratio": demo["ratio_to_floor_expectation"],
            "ratio_to_converged": demo["ratio_to_converged"], "met": demo["ratio_to_floor_expectation"] <= DEMO_GOAL}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="benchmarks/results")
    parser.add_argument("--out", default=None, help="default: goal_nfe_cpu.json in --results")
    parser.add_argument("--add", nargs="*", default=[], help="goal_nfe runs to merge first")
    args = parser.parse_args(argv)
    results = Path(args.results)
    out = Path(args.out) if args.out else results / "goal_nfe_cpu.json"
    report = json.loads(out.read_text())
    for path in args.add:
        merge_runs(report, json.loads(Path(path).read_text()), Path(path).name)
    goals = {"fixed_grid": fixed_grid_goal(report, results), "adaptive": adaptive_goal(report),
             "cox": cox_goal(results), "demo": demo_goal(results)}
    report["goals"] = {key: value for key, value in goals.items() if value is not None}
    report["goals_met"] = {key: value["met"] for key, value in report["goals"].items()}
    print(json.dumps(report["goals_met"]))
    return write_report(report, out)


if __name__ == "__main__":
    main()
