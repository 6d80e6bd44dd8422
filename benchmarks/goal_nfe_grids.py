"""Fewest NFE of the probability-flow solvers on optimised step grids against named grids.

The goal problems and the criterion of ``benchmarks/goal_nfe.py`` (|relative variance error| < 1%
and |mean error| < 0.01 at three successive step counts, 200,000 Monte Carlo samples against the
exact terminal moments). For each step count the grid is optimised first
(``pmm_sde.convergence.optimise_grid``) by a proxy that uses no Monte Carlo samples at all
(default ``moments``: quadrature against the same solver's ``--reference-steps``-step run, so it
never sees the exact moments either), and the grid is then measured by the benchmark's Monte Carlo
(seed ``--seed``): the proxy chooses, the independent measurement reports. Each row of a scan keeps
the proxy at the optimised grid and at ``log1p_sqrt`` beside the measured errors (the sampled
proxies, ``pathwise`` and ``sample_moments``, draw their starts with seed ``--seed + 1``, so they
share no sample with the measurement), and the grid's
exact errors against the closed-form moments (``exact_var_rel_error``, ``exact_mean_error``: by
quadrature, without Monte Carlo), which the optimiser never saw. ``--add-exact FILE`` adds those
to the optimised rows of an existing report.

    python -m benchmarks.goal_nfe_grids --out goal_nfe_grids.json [--n 200000] [--seed 0]
        [--solvers ode_3m ode_2m] [--problems ...] [--grids log1p_sqrt log1p log edm]
        [--degree 3] [--max-evaluations 60] [--max-steps 30] [--quick]
    python -m benchmarks.goal_nfe_grids --add-exact goal_nfe_grids.json
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from pmm_sde.convergence import PROXIES, optimise_grid, scheme_expectations

from benchmarks.goal_nfe import PEER_NFE, STEPS, fewest_nfe, goal_problem, targets
from benchmarks.report import write_report

SOLVERS = ["ode_3m", "ode_2m"]
NAMED_GRIDS = ["log1p_sqrt", "log1p", "log", "edm"]


class TunedGrids:
    """``steps -> times`` of the optimised grid, each optimised once and kept with its proxy."""

    def __init__(self, process, solver: str, proxy: str, reference_steps: int, degree: int, max_evaluations: int,
                 seed: int):
        self.options = dict(proxy=proxy, reference_steps=reference_steps, degree=degree,
                            max_evaluations=max_evaluations, seed=seed)
        self.process, self.solver, self.found = process, solver, {}

    def __call__(self, steps: int):
        if steps not in self.found:
            began = time.perf_counter()
            self.found[steps] = optimise_grid(self.process, self.solver, steps, **self.options)
            self.found[steps].settings["seconds"] = time.perf_counter() - began
        return self.found[steps].times


def add_exact_errors(report: dict) -> dict:
    """Add to each optimised row of ``report`` its grid's exact errors against the closed-form
    terminal moments, by quadrature (``scheme_expectations``)."""
    for name, problem in report["problems"].items():
        process, (mean, var), _ = goal_problem(name)
        for solver, runs in problem["solvers"].items():
            for row in runs.get("optimised", {}).get("scan", []):
                first, second = scheme_expectations(process, solver, row["steps"], [lambda x: x, lambda x: x ** 2],
                                                    torch.tensor(row["times"], dtype=torch.float64))
                row.update(exact_var_rel_error=(second - first ** 2) / var - 1, exact_mean_error=first - mean)
    return report


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--problems", nargs="+", choices=list(targets()), default=list(targets()))
    parser.add_argument("--solvers", nargs="+", choices=SOLVERS, default=SOLVERS)
    parser.add_argument("--grids", nargs="*", default=NAMED_GRIDS, help="named grids to compare")
    parser.add_argument("--proxy", default="moments", choices=list(PROXIES))
    parser.add_argument("--reference-steps", type=int, default=200)
    parser.add_argument("--degree", type=int, default=3)
    parser.add_argument("--max-evaluations", type=int, default=60)
    parser.add_argument("--max-steps", type=int, default=30, help="the largest step count scanned")
    parser.add_argument("--quick", action="store_true", help="2,000 samples, 4 and 8 steps (a smoke test)")
    parser.add_argument("--add-exact", default=None, help="add the exact errors to this report's optimised rows")
    args = parser.parse_args(argv)
    if args.add_exact is not None:
        return write_report(add_exact_errors(json.loads(Path(args.add_exact).read_text())), args.add_exact)
    n, steps_scan = (2000, [4, 8]) if args.quick else (args.n, [s for s in STEPS if s <= args.max_steps])
    report = {"n": n, "seed": args.seed, "var_rel_standard_error": math.sqrt(2 / n),
              "tolerances": {"var_rel": 0.01, "mean": 0.01}, "streak": 3, "max_steps": steps_scan[-1],
              "optimiser": {"proxy": args.proxy, "reference_steps": args.reference_steps, "degree": args.degree,
                            "max_evaluations": args.max_evaluations, "proxy_seed": args.seed + 1},
              "peer_nfe": PEER_NFE, "problems": {}, "table": {}}
    for name in args.problems:
        process, moments, description = goal_problem(name)
        problem = report["problems"].setdefault(name, {"description": description, "exact_mean": moments[0],
                                                       "exact_var": moments[1], "solvers": {}})
        for solver in args.solvers:
            runs = {}
            tuned = TunedGrids(process, solver, args.proxy, args.reference_steps, args.degree, args.max_evaluations,
                               seed=args.seed + 1)
            for grid in ["optimised", *args.grids]:
                result = fewest_nfe(process, moments, solver, n, 0.01, 0.01, args.seed, steps_scan=steps_scan,
                                    grid=tuned if grid == "optimised" else grid)
                if grid == "optimised":
                    for row in result["scan"]:
                        found = tuned.found[row["steps"]]
                        row.update(proxy=found.proxy, start_proxy=found.start_proxy, theta=found.theta,
                                   optimise_seconds=found.settings["seconds"], times=found.times.tolist())
                runs[grid] = result
                stable = result["stable"]
                report["table"].setdefault(solver, {}).setdefault(name, {})[grid] = stable and stable["nfe"]
                measured = (f"NFE {stable['nfe']} (var {stable['var_rel_error']:+.4f}, mean "
                            f"{stable['mean_error']:+.4f})" if stable else f"not reached within {steps_scan[-1]}")
                print(f"{name:>12} {solver:>7} {grid:>10}: {measured}", flush=True)
                problem["solvers"][solver] = runs
                write_report(report, args.out)
    return write_report(add_exact_errors(report), args.out)


if __name__ == "__main__":
    main()
