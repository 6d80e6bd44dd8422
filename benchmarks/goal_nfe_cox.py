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

With ``--dirichlet`` the Dirichlet-Categorical problems instead (prior Dir(1), ``Exponential``
schedules; ``convergence.count_laws.CategoricalCountLaws``, exact laws of the class counts):

- ``categorical``: one position, Categorical(0.2, 0.3, 0.5) (one-hot data), ``A(1) = 4``;
- ``point_masses``: one position, 0.5 delta(0.7, 0.2, 0.1) + 0.5 delta(0.1, 0.3, 0.6), ``A(1) = 4``:
  the mixture oracle of the goal;
- ``two_positions``: two positions of 2 classes, 0.5 delta((0.8, 0.2), (0.8, 0.2)) +
  0.5 delta((0.2, 0.8), (0.2, 0.8)) (positions correlated through the predictor), ``A(1) = 1``.

The variance error is the largest over positions and classes of ``|Var(C_ik) / Var* - 1|``, the
total variation that of the joint law of the counts. ``thinning`` is exact in law; its NFE is its
number of proposal rounds, one per event of the batch's busiest sample per window (reported: the
expected events per sample, ``positions A(1)``, and a measured batch of ``THINNING_BATCH``).

    python -m benchmarks.goal_nfe_cox --dirichlet --out benchmarks/results/goal_nfe_cox_dirichlet_cpu.json
"""

from __future__ import annotations

import argparse
from typing import Callable

import numpy as np
import torch

import pmm_sde as pmm
from pmm_sde.convergence.count_laws import (CategoricalCountLaws, scheme_count_law, simplex_target_count_law,
                                            target_count_law)

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
DIRICHLET_SOLVERS = ["tau_leap", "dirichlet_leap"]
DIRICHLET_GRIDS = ["default", "log1p_sqrt", "log", "uniform_A"]
#: Samples of the measured thinning run (its NFE is that of the batch's busiest sample).
THINNING_BATCH = 1000


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


def dirichlet_problems() -> dict[str, tuple[pmm.targets.Target, int, float, int, str]]:
    """The Dirichlet goal problems: target, classes, ``A(1)``, the most events per position of the
    laws' support (all but 1e-9 of the mass), description."""
    f64 = torch.float64
    return {
        "categorical": (pmm.targets.Categorical(torch.tensor([0.2, 0.3, 0.5], dtype=f64)), 3, 4.0, 22,
                        "one position, Categorical(0.2, 0.3, 0.5)"),
        "point_masses": (pmm.targets.PointMasses([0.5, 0.5], torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype=f64)),
                         3, 4.0, 22, "one position, 0.5 delta(0.7, 0.2, 0.1) + 0.5 delta(0.1, 0.3, 0.6)"),
        "two_positions": (pmm.targets.PointMasses([0.5, 0.5], torch.tensor([[[0.8, 0.2], [0.8, 0.2]],
                                                                           [[0.2, 0.8], [0.2, 0.8]]], dtype=f64)),
                          2, 1.0, 12, "two positions, 0.5 delta((0.8, 0.2), (0.8, 0.2)) + 0.5 delta((0.2, 0.8), (0.2, 0.8))"),
    }


def dirichlet_goal_problem(name: str) -> tuple[pmm.GammaPoissonCoxSDE, np.ndarray, int, str]:
    """A Dirichlet problem's process, the target's exact joint law of the class counts, the support's
    most events per position, its description."""
    target, classes, total, max_events, description = dirichlet_problems()[name]
    family = pmm.DirichletCategorical(classes)
    process = pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(total), target.predictor(family),
                                     shape=tuple(target.data_shape(family)))
    return (process, simplex_target_count_law(target, total, max_events), max_events,
            f"prior Dir(1), target {description}, Exponential({total:g})")


def class_count_errors(law: np.ndarray, exact: np.ndarray, states: np.ndarray) -> tuple[float, float]:
    """``(the largest |Var(C_ik) / Var*(C_ik) - 1| over positions i and classes k, TV(law, exact))`` for
    joint pmfs of shape ``(S,) * positions`` on the count vectors ``states`` (``(S, K)``)."""
    worst = 0.0
    for i in range(law.ndim):
        others = tuple(a for a in range(law.ndim) if a != i)
        p, q = law.sum(axis=others), exact.sum(axis=others)
        for c in states.T:
            ratio = float(((c - (c * p).sum()) ** 2 * p).sum() / ((c - (c * q).sum()) ** 2 * q).sum()) - 1
            worst = ratio if abs(ratio) > abs(worst) else worst
    return worst, 0.5 * float(np.abs(law - exact).sum())


def fewest_nfe(process: pmm.GammaPoissonCoxSDE, exact: np.ndarray, solver: str, grid: str | None,
               var_tol: float = 0.01, tv_tol: float = 0.01, streak: int = 3, max_steps: int = COARSE[-1],
               errors: Callable[[int], tuple[float, float]] | None = None) -> dict:
    """The first step count from which ``streak`` successive scanned counts are within tolerance
    (``stable``, with its NFE and errors), the first count within tolerance (``first``) and every
    scanned count's errors (``scan``). ``grid``: a grid name, or None for the solver's default.
    ``errors``: the (variance, TV) errors at a step count (default: ``law_errors`` of the law of N_T
    against ``exact``)."""
    if errors is None:
        def errors(steps: int) -> tuple[float, float]:
            return law_errors(scheme_count_law(process, solver, steps, SUPPORT, grid=grid), exact)
    nfe_per_step = pmm.sample(process, solver, steps=1, n=1, grid=grid).nfe
    rows: dict[int, dict] = {}

    def within(steps: int) -> bool:
        if steps not in rows:
            row = {"steps": steps, "nfe": steps * nfe_per_step}
            try:
                row["var_rel_error"], row["tv"] = errors(steps)
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


def dirichlet_report(problems: list[str], solvers: list[str], grids: list[str], max_steps: int, out: str | None
                     ) -> dict:
    """The Dirichlet problems' fewest NFE per solver and grid, and thinning's NFE (exact in law)."""
    report = {"tolerances": {"var_rel": 0.01, "tv": 0.01}, "streak": 3, "max_steps": max_steps,
              "method": "exact laws of the class counts (convergence.count_laws.CategoricalCountLaws); var_rel: "
                        "the largest over positions and classes, tv: of the joint law",
              "goal_nfe_mixture": GOAL_NFE, "default_grids": {s: pmm.solvers.REGISTRY[s].default_grid for s in solvers},
              "problems": {}, "table": {solver: {} for solver in [*solvers, "thinning"]}}
    for name in problems:
        process, exact, max_events, description = dirichlet_goal_problem(name)
        total = round(float(process.schedule.A(torch.tensor(1.0, dtype=torch.float64))), 9)
        problem = {"description": description, "max_events": max_events, "solvers": {}}
        report["problems"][name] = problem
        for solver in solvers:
            laws = CategoricalCountLaws(process, solver, max_events)
            problem["solvers"][solver] = {}
            for grid in grids:
                named = None if grid == "default" else grid

                def errors(steps: int) -> tuple[float, float]:
                    return class_count_errors(laws.law(steps, named), exact, laws.states)

                result = fewest_nfe(process, exact, solver, named, max_steps=max_steps, errors=errors)
                problem["solvers"][solver][grid] = result
                stable = result["stable"]
                report["table"][solver].setdefault(name, {})[grid] = None if stable is None else stable["nfe"]
                print(f"{name:>13} {solver:>14} {grid:>10}: " + (
                    f"not reached within {max_steps} steps" if stable is None else
                    f"NFE {stable['nfe']} (steps {stable['steps']}, var {stable['var_rel_error']:+.4f}, "
                    f"TV {stable['tv']:.4f})"), flush=True)
                write_report(report, out)
        positions = int(np.prod(process.shape, dtype=np.int64))
        batch = pmm.sample(process, "thinning", steps=1, n=THINNING_BATCH, seed=0, dtype=torch.float64).nfe
        problem["solvers"]["thinning"] = {"exact": True, "expected_nfe_per_sample": positions * total,
                                          f"nfe_batch_{THINNING_BATCH}": batch}
        report["table"]["thinning"][name] = {"per_sample": positions * total, f"batch_{THINNING_BATCH}": batch}
        print(f"{name:>13} {'thinning':>14}: exact, NFE {positions * total:g} per sample, {batch} for a batch of "
              f"{THINNING_BATCH}", flush=True)
        write_report(report, out)
    return write_report(report, out)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None)
    parser.add_argument("--problems", nargs="+", choices=list(targets()), default=list(targets()))
    parser.add_argument("--solvers", nargs="+", choices=SOLVERS, default=SOLVERS)
    parser.add_argument("--grids", nargs="+", choices=GRIDS, default=GRIDS,
                        help="'default': each solver's own default grid")
    parser.add_argument("--quick", action="store_true", help="scan up to 12 steps (a smoke test)")
    parser.add_argument("--dirichlet", action="store_true",
                        help=f"the Dirichlet-Categorical problems {list(dirichlet_problems())} with the solvers "
                             f"{DIRICHLET_SOLVERS} and thinning, on the grids {DIRICHLET_GRIDS}")
    args = parser.parse_args(argv)
    max_steps = 12 if args.quick else COARSE[-1]
    if args.dirichlet:
        return dirichlet_report(list(dirichlet_problems()), DIRICHLET_SOLVERS, DIRICHLET_GRIDS, max_steps, args.out)
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
