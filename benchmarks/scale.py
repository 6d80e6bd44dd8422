"""Peak tensor memory of streaming statistics against the number of samples, at a fixed chunk.

``pmm_sde.convergence.streaming_statistics`` on a Gamma-Poisson Cox process (prior Gamma(1.5, 0.5),
Gamma(2, 1) target, ``Exponential(20)``, one entry per sample, ``tau_leap_2``, 8 steps, float64),
blocks of 4096 global indices and chunks of 65536 samples, for each ``n``: the peak bytes of the
tensors the call allocates (``benchmarks.tensor_memory.peak_bytes``), its wall time, and, for the
smaller ``n``, the peak of one ``sample()`` call holding all ``n`` samples, for comparison. The
streaming peak should stay flat in ``n``; one call's grows linearly.

    python -m benchmarks.scale --out benchmarks/results/scale_cpu.json [--n 100000 1000000 10000000]
"""

from __future__ import annotations

import argparse
import time

import torch

import pmm_sde as pmm
from pmm_sde.convergence import streaming_statistics

from benchmarks.report import write_report
from benchmarks.tensor_memory import peak_bytes

BLOCK = 4096
CHUNK = 16 * BLOCK
STEPS = 8
SOLVER = "tau_leap_2"


def problem() -> pmm.GammaPoissonCoxSDE:
    family = pmm.GammaPoisson(1.5, 0.5)
    predictor = pmm.targets.Gamma(2.0, 1.0).predictor(family)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(20.0), predictor, shape=(1,))


def measure(n: int, seed: int, one_call_max: int) -> dict:
    """Peak bytes and seconds of the streaming statistics of ``n`` samples (and of one ``sample()`` call
    when ``n <= one_call_max``)."""
    process = problem()
    run = dict(steps=STEPS, n=n, seed=seed, dtype=torch.float64)
    stats = {}

    def streamed():
        stats["result"] = streaming_statistics(process, SOLVER, block=BLOCK, chunk=CHUNK, histogram_bins=200, **run)

    start = time.perf_counter()
    peak, method = peak_bytes(streamed, torch.device("cpu"))
    record = {"n": n, "peak_bytes_streaming": peak, "seconds_streaming": time.perf_counter() - start, "method": method,
              "mean_x": stats["result"].means["x"], "stderr_x": stats["result"].stderrs["x"]}
    if n <= one_call_max:
        record["peak_bytes_one_call"] = peak_bytes(lambda: pmm.sample(process, SOLVER, **run), torch.device("cpu"))[0]
    return record


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--one-call-max", type=int, default=1_000_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    report = {"problem": f"Gamma-Poisson Cox, Gamma(2, 1) target, Exponential(20), {SOLVER}, {STEPS} steps, float64",
              "block": BLOCK, "chunk": CHUNK, "torch_threads": torch.get_num_threads(), "runs": []}
    for n in args.n:
        record = measure(n, args.seed, args.one_call_max)
        report["runs"].append(record)
        one = record.get("peak_bytes_one_call")
        print(f"n = {n:>9}: streaming peak {record['peak_bytes_streaming'] / 2**20:7.2f} MiB in "
              f"{record['seconds_streaming']:7.1f} s" + ("" if one is None else f"; one call {one / 2**20:8.2f} MiB"),
              flush=True)
    peaks = [r["peak_bytes_streaming"] for r in report["runs"]]
    report["streaming_peak_max_over_min"] = max(peaks) / min(peaks)
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
