"""Fewest predictor evaluations (NFE) per solver to reach a weak-error tolerance.

The Normal-Normal goal problem of the solver issue: prior N(0, 1), Gaussian target N(1.5, 0.5^2),
``Exponential(total=1e4)``, each solver on its default grid. For step counts in increasing order,
the first whose terminal law has ``|Var(mu_T) / Var* - 1| < 1%`` and ``|E mu_T - E*| < 0.01`` (with
``n`` samples; the Monte Carlo standard error of the variance ratio is ``sqrt(2 / n)``) is reported,
and the first from which three successive step counts stay within tolerance.

    python -m benchmarks.goal_nfe --out goal_nfe.json [--n 200000]
"""

from __future__ import annotations

import argparse
import math

import torch

import pmm_sde as pmm

from benchmarks.report import write_report

SOLVERS = ["euler_maruyama", "pmm_chain", "heun", "pmm_2", "ode_euler", "ode_heun", "ode_2m"]
STEPS = [4, 6, 8, 10, 12, 15, 17, 19, 22, 25, 30, 35, 40, 50, 60, 70, 80, 100, 120, 150, 200, 250, 300,
         400, 500, 600, 800]


def goal_problem() -> tuple[pmm.NormalNormalSDE, tuple[float, float], str]:
    """The goal problem's process, the exact ``(E mu_T, Var mu_T)``, and its description."""
    family, target = pmm.NormalNormal(0.0, 1.0), pmm.targets.Gaussian(1.5, 0.5)
    process = pmm.NormalNormalSDE(family, pmm.schedules.Exponential(1e4), target.predictor(family))
    moments = tuple(float(v) for v in target.marginal(family, process.schedule.total))
    return process, moments, "prior N(0,1), target N(1.5, 0.5^2), Exponential(1e4)"


def fewest_nfe(process, moments: tuple[float, float], solver, n: int, var_tol: float, mean_tol: float,
               seed: int, streak: int = 3, steps_scan: list[int] = STEPS) -> dict:
    """Scan ``steps_scan`` against the exact terminal ``moments = (E mu_T, Var mu_T)``; ``first``:
    the first step count within tolerance; ``stable``: the first one from which ``streak``
    consecutive step counts are within tolerance (an error that changes sign can pass once by
    chance at a coarse grid). ``solver``: a name or a ``Solver`` object."""
    mean, var = moments
    rows, first, run = [], None, []
    for steps in steps_scan:
        try:
            res = pmm.sample(process, solver, steps=steps, n=n, seed=seed, dtype=torch.float64)
        except ValueError as error:  # e.g. Euler-Maruyama's stability bound on coarse grids
            rows.append({"steps": steps, "error": str(error)})
            run = []
            continue
        row = {"steps": steps, "nfe": res.nfe, "var_rel_error": float(res.mu.var()) / var - 1,
               "mean_error": float(res.mu.mean()) - mean}
        row["within"] = abs(row["var_rel_error"]) < var_tol and abs(row["mean_error"]) < mean_tol
        rows.append(row)
        run = run + [row] if row["within"] else []
        first = first or (row if row["within"] else None)
        if len(run) == streak:
            return {"first": first, "stable": run[0], "scan": rows}
    return {"first": first, "stable": None, "scan": rows}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    process, moments, problem = goal_problem()
    report = {"problem": problem, "n": args.n, "var_rel_standard_error": math.sqrt(2 / args.n), "solvers": {}}
    for solver in SOLVERS:
        report["solvers"][solver] = fewest_nfe(process, moments, solver, args.n, 0.01, 0.01, args.seed)
        result = report["solvers"][solver]
        stable, first = result["stable"], result["first"]
        if stable is None:
            print(f"{solver:>15}: not reached within {STEPS[-1]} steps", flush=True)
        else:
            print(f"{solver:>15}: NFE {stable['nfe']} (steps {stable['steps']}, var {stable['var_rel_error']:+.4f}, "
                  f"mean {stable['mean_error']:+.4f}); first within tolerance at NFE {first['nfe']}", flush=True)
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
