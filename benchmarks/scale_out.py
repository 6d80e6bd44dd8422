"""Convergence studies on several processes: weak-scaling throughput, and tau_leap_2's weak order by
Monte Carlo at 1e7 samples per step count.

Each measurement runs ``pmm-sde converge`` as a user does, under ``torchrun --standalone
--nproc_per_node=K`` (gloo; one torch thread per rank, torchrun's default):

- ``throughput``: the ``cox`` problem, ``tau_leap``, steps 8-64, Monte Carlo, ``base_n * K`` samples
  on ``K`` ranks for each ``K`` in ``--ranks``: samples per second and the weak-scaling efficiency
  ``t_1 / t_K`` (1 when ``K`` ranks do ``K`` times the work in the same time). The JSON figures
  of ``K`` ranks are also checked, byte for byte, against a rerun's on one rank with the same ``n``
  for the largest ``K``.
- ``order``: the ``cox`` problem (Gamma(1, 1) prior, 0.5 Gamma(1, 2) + 0.5 Gamma(8, 2) target,
  Exponential(4)), ``tau_leap_2`` at 8, 16, 32, 64 steps, ``--order-n`` samples per step count,
  refinement differences with common Poisson paths; reported next to the exact-law orders of the
  same problem (``convergence.exact_weak_orders``), which carry no Monte Carlo error.

    python -m benchmarks.scale_out --out benchmarks/results/scale_out_cpu.json [--ranks 1 2]
        [--base-n 65536] [--order-n 10000000] [--skip-order] [--skip-throughput]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pmm_sde.convergence import convergence_problem, exact_count_law, exact_weak_orders

from benchmarks.report import write_report

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_STEPS = "8,16,32,64"
ORDER_STEPS = [8, 16, 32, 64]


def converge(ranks: int, n: int, solvers: str, steps: str, json_file: Path, seed: int = 5) -> float:
    """Seconds of one ``pmm-sde converge --monte-carlo`` run on ``ranks`` ranks, writing ``json_file``."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ranks}", "-m",
               "--", "pmm_sde", "converge", "--process", "cox", "--solvers", solvers, "--monte-carlo", "--n", str(n),
               "--steps", steps, "--seed", str(seed), "--json", str(json_file)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    return time.perf_counter() - start


def throughput(ranks: list[int], base_n: int, folder: Path) -> dict:
    runs = []
    for K in ranks:
        seconds = converge(K, base_n * K, "tau_leap", THROUGHPUT_STEPS, folder / f"k{K}.json")
        runs.append({"ranks": K, "n": base_n * K, "seconds": seconds, "samples_per_second": base_n * K / seconds})
        print(f"{K} rank(s): {base_n * K} samples in {seconds:.1f} s ({base_n * K / seconds:.0f} per second)",
              flush=True)
    for run in runs:
        run["weak_scaling_efficiency"] = runs[0]["seconds"] / run["seconds"]
    K = ranks[-1]
    converge(1, base_n * K, "tau_leap", THROUGHPUT_STEPS, folder / "check.json")
    same = (folder / "check.json").read_bytes() == (folder / f"k{K}.json").read_bytes()
    return {"solver": "tau_leap", "steps": THROUGHPUT_STEPS, "base_n": base_n, "runs": runs,
            f"json_of_{K}_ranks_equals_one_rank": same}


def order(n: int, ranks: int, folder: Path) -> dict:
    seconds = converge(ranks, n, "tau_leap_2", ",".join(map(str, ORDER_STEPS)), folder / "order.json")
    table = json.loads((folder / "order.json").read_text())["solvers"]["tau_leap_2"]
    process, _ = convergence_problem("cox")
    exact = exact_weak_orders(process, "tau_leap_2", ORDER_STEPS, exact_count_law("cox"))
    record = {"solver": "tau_leap_2", "steps": ORDER_STEPS, "n": n, "ranks": ranks, "seconds": seconds,
              "measured_weak_order": table["weak_order"], "declared_weak_order": table["declared_weak_order"],
              "functionals": {name: {"slope": fit["slope"], "stderr": fit["stderr"], "differences": fit["differences"],
                                     "standard_errors": fit["standard_errors"], "used": fit["used"]}
                              for name, fit in table["functionals"].items()},
              "exact_law_slopes": {name: fit.slope for name, fit in exact.items()},
              "exact_law_differences": {name: list(-np.diff(fit.differences)) for name, fit in exact.items()}}
    record["within_0.25_of_2"] = abs(record["measured_weak_order"] - 2) <= 0.25
    print(f"tau_leap_2 by Monte Carlo, {n} samples per step count on {ranks} ranks in {seconds:.0f} s: weak order "
          f"{record['measured_weak_order']:.3f}; exact-law slopes {record['exact_law_slopes']}", flush=True)
    return record


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--base-n", type=int, default=65_536)
    parser.add_argument("--order-n", type=int, default=10_000_000)
    parser.add_argument("--skip-order", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    report = {"problem": "cox: Gamma(1, 1) prior, 0.5 Gamma(1, 2) + 0.5 Gamma(8, 2) target, Exponential(4)",
              "cpu_count": os.cpu_count(), "torch_threads_per_rank": 1}
    with tempfile.TemporaryDirectory() as folder:
        if not args.skip_throughput:
            report["throughput"] = throughput(args.ranks, args.base_n, Path(folder))
        if not args.skip_order:
            report["order"] = order(args.order_n, max(args.ranks), Path(folder))
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
