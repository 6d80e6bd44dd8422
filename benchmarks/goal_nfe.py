"""Fewest predictor evaluations (NFE) per solver to reach a weak-error tolerance.

The Normal-Normal goal problems of the few-step solver issue (19): prior N(0, 1),
``Exponential(total=1e4)``, each solver on its default grid, three targets:

- ``gaussian``: N(1.5, 0.5^2);
- ``mixture``: 0.3 N(-1, 0.3^2) + 0.7 N(1.5, 0.5^2);
- ``point_masses``: 0.25 at -0.5, 0.75 at 1.

For step counts in increasing order (a coarse scan, then a scan with every count up to 30 from
just after the last coarse count before the first three successive counts within tolerance), the
first whose terminal law has ``|Var(mu_T) / Var* - 1| < 1%`` and ``|E mu_T - E*| < 0.01`` (with
``n`` samples; the Monte Carlo standard error of the variance ratio is ``sqrt(2 / n)``) is
reported, and the first from which
three successive step counts stay within tolerance. Adaptive solvers (``ode_3m_adaptive``,
``pmm_2_adaptive``) run a ladder of tolerances ``rtol = atol`` instead (``LADDERS``); their figure is the NFE of the loosest
tolerance from which every tighter one of the ladder is within tolerance (``nfe``: evaluations of
the batch, the most any sample needed; ``evaluations_table``: the mean evaluations per sample at
that tolerance, the predictor's work per sample since a round evaluates only the samples not yet
done; the mean accepted and rejected steps per sample are kept too). The exact moments are closed forms for every
target: ``mu_T = (l0 m0 + A x + B_A) / (l0 + A)`` with ``B_A ~ N(0, A)`` independent of ``x``, so

    E* = (l0 m0 + A E x) / lambda,   Var* = gamma^2 Var x + A / lambda^2,   lambda = l0 + A, gamma = A / lambda,

at ``A = A(1) = total``, from the data's mean and variance (a mixture's by the law of total variance).

    python -m benchmarks.goal_nfe --out goal_nfe.json [--n 200000] [--seed 0] [--max-steps 800]
        [--problems gaussian mixture point_masses] [--solvers ...] [--merge] [--quick]

``--merge`` keeps the other solvers' results of an existing ``--out`` file and replaces those of
the solvers run.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch

import pmm_sde as pmm

from benchmarks.report import write_report

SOLVERS = ["euler_maruyama", "pmm_chain", "heun", "pmm_2", "ode_euler", "ode_heun", "ode_2m", "ode_3m", "sde_3m"]
ADAPTIVE_SOLVERS = ["ode_3m_adaptive", "pmm_2_adaptive"]
#: The tolerances ``rtol = atol`` of the adaptive solvers' ladder, loosest first.
RTOLS = [3e-2, 1e-2, 3e-3, 1e-3, 3e-4]
#: Shorter ladders: ``pmm_2_adaptive`` controls a pathwise error of order 1 and needs about 2500 NFE at 3e-4.
LADDERS = {"pmm_2_adaptive": RTOLS[:4]}
STEPS = [3, 4, 6, 8, 10, 12, 15, 17, 19, 22, 25, 30, 35, 40, 50, 60, 70, 80, 100, 120, 150, 200, 250, 300, 400,
         500, 600, 800]
QUICK_STEPS = [4, 8, 16]
#: The refined scan takes every step count up to this one, then the counts of the coarse scan.
FINE_UP_TO = 30
TOTAL = 1e4
#: Fewest NFE of the best of k-diffusion's samplers with the same exact denoiser (issue 19's table).
PEER_NFE = {"gaussian": 19, "mixture": 12, "point_masses": 10}


def targets() -> dict[str, tuple[pmm.targets.Target, str]]:
    """The goal problems' targets (one-dimensional data) and their descriptions."""
    return {
        "gaussian": (pmm.targets.Gaussian(torch.tensor([1.5]), 0.5), "N(1.5, 0.5^2)"),
        "mixture": (pmm.targets.GaussianMixture([0.3, 0.7], torch.tensor([[-1.0], [1.5]]),
                                                torch.tensor([[0.3], [0.5]])),
                    "0.3 N(-1, 0.3^2) + 0.7 N(1.5, 0.5^2)"),
        "point_masses": (pmm.targets.PointMasses([0.25, 0.75], torch.tensor([[-0.5], [1.0]])),
                         "0.25 at -0.5, 0.75 at 1"),
    }


def data_moments(target: pmm.targets.Target) -> tuple[float, float]:
    """``(E x, Var x)`` of a one-dimensional Gaussian, Gaussian-mixture or point-mass target."""
    if isinstance(target, pmm.targets.Gaussian):
        return float(target.mean), float(target.std) ** 2
    weights = target.weights.double()
    means = (target.means if isinstance(target, pmm.targets.GaussianMixture) else target.values).double().reshape(-1)
    variances = target.stds.double().reshape(-1) ** 2 if isinstance(target, pmm.targets.GaussianMixture) else 0.0
    mean = float((weights * means).sum())
    return mean, float((weights * (variances + means ** 2)).sum()) - mean ** 2


def terminal_moments(family: pmm.NormalNormal, total: float, data_mean: float, data_var: float) -> tuple[float, float]:
    """The exact ``(E mu_T, Var mu_T)`` after information ``total`` (module docstring)."""
    lam = float(family.precision) + total
    gamma = total / lam
    return (float(family.prior_statistic) + total * data_mean) / lam, gamma ** 2 * data_var + total / lam ** 2


def goal_problem(name: str = "gaussian") -> tuple[pmm.NormalNormalSDE, tuple[float, float], str]:
    """A goal problem's process, the exact ``(E mu_T, Var mu_T)``, and its description."""
    target, description = targets()[name]
    family = pmm.NormalNormal(0.0, 1.0)
    process = pmm.NormalNormalSDE(family, pmm.schedules.Exponential(TOTAL), target.predictor(family), shape=(1,))
    moments = terminal_moments(family, TOTAL, *data_moments(target))
    return process, moments, f"prior N(0,1), target {description}, Exponential({TOTAL:g})"


def fewest_nfe(process, moments: tuple[float, float], solver, n: int, var_tol: float, mean_tol: float,
               seed: int, streak: int = 3, steps_scan: list[int] = STEPS, grid=None) -> dict:
    """Scan ``steps_scan`` against the exact terminal ``moments = (E mu_T, Var mu_T)``, then again from
    the count after the last one before the first ``streak`` of counts within tolerance, with every
    count up to ``FINE_UP_TO`` added. ``stable``: the first step count from which ``streak`` successive counts (of that
    fine scan) are within tolerance (an error that changes sign can pass once by chance);
    ``first``: the smallest step count run within tolerance. ``solver``: a name or a ``Solver``
    object; ``grid``: its default when None, a grid name, or a function of the step count returning a
    tensor of times (an optimised grid: ``benchmarks/goal_nfe_grids.py``)."""
    mean, var = moments
    rows: dict[int, dict] = {}

    def within(steps: int) -> bool:
        if steps not in rows:
            try:
                res = pmm.sample(process, solver, steps=steps, n=n, seed=seed, dtype=torch.float64,
                                 grid=grid(steps) if callable(grid) else grid)
            except ValueError as error:  # e.g. Euler-Maruyama's stability bound on coarse grids
                rows[steps] = {"steps": steps, "error": str(error), "within": False}
                return False
            row = {"steps": steps, "nfe": res.nfe, "var_rel_error": float(res.mu.var()) / var - 1,
                   "mean_error": float(res.mu.mean()) - mean}
            row["within"] = abs(row["var_rel_error"]) < var_tol and abs(row["mean_error"]) < mean_tol
            rows[steps] = row
        return rows[steps]["within"]

    def streak_start(counts) -> int | None:
        run = []
        for steps in counts:
            run = run + [steps] if within(steps) else []
            if len(run) == streak:
                return run[0]
        return None

    coarse = streak_start(steps_scan)
    stable = None
    if coarse is not None:
        earlier = [steps for steps in steps_scan if steps < coarse]
        start = earlier[-1] + 1 if earlier else steps_scan[0]
        fine = sorted({*range(start, FINE_UP_TO + 1), *(steps for steps in steps_scan if steps >= start)})
        stable = streak_start(fine)
    scan = [rows[steps] for steps in sorted(rows)]
    first = next((row for row in scan if row["within"]), None)
    return {"first": first, "stable": None if stable is None else rows[stable], "scan": scan}


def tolerance_ladder(process, moments: tuple[float, float], solver: str, n: int, var_tol: float, mean_tol: float,
                     seed: int, rtols: list[float] = RTOLS) -> dict:
    """An adaptive solver at each ``rtol = atol`` of ``rtols`` (loosest first) against the exact
    ``moments``. ``stable``: the loosest rung from which every tighter one is within tolerance."""
    mean, var = moments
    scan = []
    for rtol in rtols:
        res = pmm.sample(process, solver, n=n, seed=seed, dtype=torch.float64, rtol=rtol, atol=rtol)
        row = {"rtol": rtol, "atol": rtol, "nfe": res.nfe, "evaluations_mean": float(res.evaluations.double().mean()),
               "accepted_mean": float(res.accepted.double().mean()),
               "accepted_max": int(res.accepted.max()), "rejected_mean": float(res.rejected.double().mean()),
               "var_rel_error": float(res.mu.var()) / var - 1, "mean_error": float(res.mu.mean()) - mean}
        row["within"] = abs(row["var_rel_error"]) < var_tol and abs(row["mean_error"]) < mean_tol
        scan.append(row)
    stable = None
    for row in reversed(scan):
        if not row["within"]:
            break
        stable = row
    return {"first": next((row for row in scan if row["within"]), None), "stable": stable, "scan": scan}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    parser.add_argument("--max-steps", type=int, default=STEPS[-1], help="the largest step count scanned")
    parser.add_argument("--problems", nargs="+", choices=list(targets()), default=list(targets()))
    parser.add_argument("--solvers", nargs="+", choices=SOLVERS + ADAPTIVE_SOLVERS, default=SOLVERS + ADAPTIVE_SOLVERS)
    parser.add_argument("--merge", action="store_true", help="keep the other solvers' results of the --out file")
    parser.add_argument("--quick", action="store_true", help="2,000 samples and 4, 8, 16 steps (a smoke test)")
    args = parser.parse_args(argv)
    n, steps_scan = (2000, QUICK_STEPS) if args.quick else (args.n, [s for s in STEPS if s <= args.max_steps])
    report = {"n": n, "var_rel_standard_error": math.sqrt(2 / n), "tolerances": {"var_rel": 0.01, "mean": 0.01},
              "streak": 3, "max_steps": steps_scan[-1], "rtols": RTOLS, "peer_nfe": PEER_NFE, "problems": {},
              "table": {}}
    if args.merge and args.out is not None and Path(args.out).exists():
        report = json.loads(Path(args.out).read_text()) | {"rtols": RTOLS}
        report.setdefault("merged_runs", []).append(f"python -m benchmarks.goal_nfe {' '.join(argv or sys.argv[1:])}")
    for solver in args.solvers:
        report["table"][solver] = {}
    for name in args.problems:
        process, moments, description = goal_problem(name)
        problem = report["problems"].setdefault(name, {"solvers": {}})
        problem.update({"description": description, "exact_mean": moments[0], "exact_var": moments[1]})
        for solver in args.solvers:
            if solver in ADAPTIVE_SOLVERS:
                result = tolerance_ladder(process, moments, solver, n, 0.01, 0.01, args.seed,
                                          rtols=RTOLS[1:4:2] if args.quick else LADDERS.get(solver, RTOLS))
            else:
                result = fewest_nfe(process, moments, solver, n, 0.01, 0.01, args.seed, steps_scan=steps_scan)
            problem["solvers"][solver] = result
            stable, first = result["stable"], result["first"]
            report["table"][solver][name] = None if stable is None else stable["nfe"]
            if solver in ADAPTIVE_SOLVERS:
                report.setdefault("evaluations_table", {}).setdefault(solver, {})[name] = (
                    None if stable is None else stable["evaluations_mean"])
            if stable is None:
                limit = "at the tightest rtol" if solver in ADAPTIVE_SOLVERS else f"within {steps_scan[-1]} steps"
                print(f"{name:>12} {solver:>15}: not reached {limit}", flush=True)
            elif solver in ADAPTIVE_SOLVERS:
                print(f"{name:>12} {solver:>15}: NFE {stable['nfe']}, {stable['evaluations_mean']:.1f} a sample "
                      f"(rtol = atol = {stable['rtol']:g}, "
                      f"{stable['accepted_mean']:.1f} accepted and {stable['rejected_mean']:.1f} rejected steps per "
                      f"sample, var {stable['var_rel_error']:+.4f}, mean {stable['mean_error']:+.4f})", flush=True)
            else:
                print(f"{name:>12} {solver:>15}: NFE {stable['nfe']} (steps {stable['steps']}, var "
                      f"{stable['var_rel_error']:+.4f}, mean {stable['mean_error']:+.4f}); first within tolerance "
                      f"at NFE {first['nfe']}", flush=True)
            write_report(report, args.out)  # after each solver, so that a long run can be read as it goes
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
