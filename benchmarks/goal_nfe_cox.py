"""Fewest predictor evaluations (NFE) per Cox solver to reach a weak-error tolerance, by exact laws.

The Cox goal problems of the few-step solver issue (19): prior Gamma(1, 1), ``Exponential(4)``
(counts ``N_T`` of about 8), two one-dimensional targets:

- ``gamma``: Gamma(4, 2), whose oracle ``(4 + N) / (2 + A)`` is affine in the count;
- ``mixture``: 0.5 Gamma(1, 2) + 0.5 Gamma(8, 2), the target of ``pmm-sde converge --process cox``.

For each solver and grid the scheme's exact law of ``N_T`` (``convergence.count_laws``: the pmf
pushed through each step's transition matrix, so there is no Monte Carlo noise) is compared with
the target's negative-binomial (mixture) law: the relative variance error ``|Var(N_T) / Var* - 1|``
(equal to that of ``mu_T = (a0 + N_T) / (b0 + A_T)``) and the total variation ``TV = 1/2 sum |p - p*|``.
Reported: the fewest NFE from which three successive step counts keep both below 1% (``var_tol``)
and 0.01 (``tv_tol``). Step counts: every count up to ``FINE_UP_TO``, then ``COARSE``; a streak that
starts in the coarse part is refined by scanning every count from the coarse count before it.

    python -m benchmarks.goal_nfe_cox --out benchmarks/results/goal_nfe_cox_cpu.json
        [--solvers tau_leap tau_leap_2 nb_leap] [--grids default log1p log1p_sqrt log] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import pmm_sde as pmm
from pmm_sde.convergence.count_laws import scheme_count_law, target_count_law

from benchmarks.report import write_report

SOLVERS = ["tau_leap", "tau_leap_2", "nb_leap"]
GRIDS = ["default", "log1p", "log1p_sqrt", "log"]
FINE_UP_TO = 30
COARSE = [35, 40, 50, 60, 70, 80, 100, 120, 150, 200, 250, 300]
TOTAL = 4.0
#: Support of the laws: all but 1e-9 of every scheme's law of N_T from 1 step on (nb_leap at 1 step
#: has the heaviest tail: the prior's Gamma fit).
SUPPORT = 260
#: The issue's goal for the Cox process: at most this many NFE on the Gamma mixture.
GOAL_NFE = 15


def targets() -> dict[str, tuple[pmm.targets.Target, str]]:
    """The Cox goal problems' targets and their descriptions."""
    return {
        "gamma": (pmm.targets.Gamma(4.0, 2.0), "Gamma(4, 2)"),
        "mixture": (pmm.targets.GammaMixture([0.5, 0.5], [1.0, 8.0], [2.0, 2.0]), "0.5 Gamma(1, 2) + 0.5 Gamma(8, 2)"),
    }


def goal_problem(name: str) -> tuple[pmm.GammaPoissonCoxSDE, np.ndarray, str]:
    """A goal problem's process, the target's exact pmf of ``N_T`` on ``SUPPORT`` counts, its description."""
    target, description = targets()[name]
    family = pmm.GammaPoisson(1.0, 1.0)
    process = pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(TOTAL), target.predictor(family))
    return process, target_count_law(target, TOTAL, SUPPORT), f"prior Gamma(1,1), target {description}, " \
                                                             f"Exponential({TOTAL:g})"


def law_errors(law: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """``(Var(law) / Var(exact) - 1, TV(law, exact))`` for pmfs on the same counts."""
    k = np.arange(len(exact))

    def variance(p: np.ndarray) -> float:
        return float(((k - (k * p).sum()) ** 2 * p).sum())

    return variance(law) / variance(exact) - 1, 0.5 * float(np.abs(law - exact).sum())


def fewest_nfe(process: pmm.GammaPoissonCoxSDE, exact: np.ndarray, solver: str, grid: str | None,
               var_tol: float = 0.01, tv_tol: float = 0.01, streak: int = 3, max_steps: int = COARSE[-1]) -> dict:
    """The first step count from which ``streak`` successive scanned counts are within tolerance
    (``stable``, with its NFE and errors), the first count within tolerance (``first``) and every
    scanned count's errors (``scan``). ``grid``: a grid name, or None for the solver's default."""
    nfe_per_step = pmm.sample(process, solver, steps=1, n=1, grid=grid).nfe
    rows: dict[int, dict] = {}

    def within(steps: int) -> bool:
        if steps not in rows:
            row = {"steps": steps, "nfe": steps * nfe_per_step}
            try:
                row["var_rel_error"], row["tv"] = law_errors(
                    scheme_count_law(process, solver, steps, SUPPORT, grid=grid), exact)
                row["within"] = abs(row["var_rel_error"]) < var_tol and row["tv"] < tv_tol
            except ValueError as error:  # a law with more than 1e-9 of its mass beyond SUPPORT
                row.update(error=str(error), within=False)
            rows[steps] = row
        return rows[steps]["within"]

    def streak_start(counts: list[int]) -> int | None:
        run: list[int] = []
        for steps in counts:
            run = run + [steps] if within(steps) else []
            if len(run) == streak:
                return run[0]
        return None

    counts = [s for s in [*range(1, FINE_UP_TO + 1), *COARSE] if s <= max_steps]
    stable = streak_start(counts)
    if stable is not None and stable > FINE_UP_TO:
        before = max(s for s in counts if s < stable)
        stable = streak_start(list(range(before + 1, max_steps + 1)))
    scan = [rows[s] for s in sorted(rows)]
    return {"nfe_per_step": nfe_per_step, "stable": None if stable is None else rows[stable],
            "first": next((row for row in scan if row["within"]), None), "scan": scan}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None)
    parser.add_argument("--problems", nargs="+", choices=list(targets()), default=list(targets()))
    parser.add_argument("--solvers", nargs="+", choices=SOLVERS, default=SOLVERS)
    parser.add_argument("--grids", nargs="+", choices=GRIDS, default=GRIDS,
                        help="'default': each solver's own default grid")
    parser.add_argument("--quick", action="store_true", help="scan up to 12 steps (a smoke test)")
    args = parser.parse_args(argv)
    max_steps = 12 if args.quick else COARSE[-1]
    report = {"tolerances": {"var_rel": 0.01, "tv": 0.01}, "streak": 3, "support": SUPPORT, "max_steps": max_steps,
              "method": "exact laws of N_T (convergence.count_laws)", "goal_nfe_mixture": GOAL_NFE,
              "default_grids": {s: pmm.solvers.REGISTRY[s].default_grid for s in args.solvers},
              "problems": {}, "table": {solver: {} for solver in args.solvers}}
    for name in args.problems:
        process, exact, description = goal_problem(name)
        problem = {"description": description, "solvers": {}}
        report["problems"][name] = problem
        for solver in args.solvers:
            problem["solvers"][solver] = {}
            for grid in args.grids:
                result = fewest_nfe(process, exact, solver, None if grid == "default" else grid, max_steps=max_steps)
                problem["solvers"][solver][grid] = result
                stable = result["stable"]
                nfe = None if stable is None else stable["nfe"]
                report["table"][solver].setdefault(name, {})[grid] = nfe
                print(f"{name:>8} {solver:>10} {grid:>10}: " + (
                    f"not reached within {max_steps} steps" if stable is None else
                    f"NFE {nfe} (steps {stable['steps']}, var {stable['var_rel_error']:+.4f}, TV {stable['tv']:.4f})"),
                    flush=True)
                write_report(report, args.out)
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
