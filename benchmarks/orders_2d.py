"""Weak orders of the stochastic second-order solvers on the 2-D three-component Gaussian mixture.

The oracle problem ``pmm_sde.convergence.convergence_problem("normal_2d")`` (prior N(0, I),
``Exponential(20)``; ``ORDER_CASES["mixture_2d"]`` of the solver tests), refinement differences of ``E mu_T``, ``Var mu_T`` and
``E cos(mu_T)`` (averaged over the two coordinates) with the antithetic Brownian-bridge coupling
(``pmm_sde.convergence.weak_orders(..., coupling="antithetic")``), 32-256 steps. ``heun``'s
differences are 5-30 times smaller than ``pmm_2``'s, so it needs about a million samples (about
13 minutes on one CPU core); the unit test runs ``pmm_2`` at 100,000.

    OMP_NUM_THREADS=1 python -m benchmarks.orders_2d --out benchmarks/results/orders_2d_cpu.json
"""

from __future__ import annotations

import argparse
import time

import pmm_sde as pmm
from pmm_sde.convergence import convergence_problem, weak_orders

from benchmarks.report import write_report

STEPS = [32, 64, 128, 256]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--solvers", default="pmm_2,heun")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    process, problem = convergence_problem("normal_2d")
    report = {"problem": problem,
              "coupling": "antithetic", "steps": STEPS, "n": args.n, "seed": args.seed, "solvers": {}}
    for solver in args.solvers.split(","):
        start = time.perf_counter()
        fits = weak_orders(process, solver, STEPS, n=args.n, seed=args.seed, coupling="antithetic")
        report["solvers"][solver] = {
            "declared": pmm.solvers.get_solver(solver, process).weak_order, "seconds": time.perf_counter() - start,
            "fits": {name: {"slope": fit.slope, "interval": list(fit.interval), "differences": fit.differences,
                            "standard_errors": fit.standard_errors} for name, fit in fits.items()}}
        slopes = ", ".join(f"{name} {fit.slope:.3f}" for name, fit in fits.items())
        print(f"{solver}: {slopes}", flush=True)
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
