"""Throughput of Poisson draws: the package's samplers against eager ``torch.poisson``.

On CPU: the torch reference path (``pmm_sde.random.poisson``, which
``pmm_sde.kernels.poisson(backend="torch")`` runs) against ``torch.poisson``. On CUDA: the
Triton kernel (and, up to ``TORCH_PATH_MAX_CUDA`` elements, the torch path) against
``torch.poisson``, with each method's fraction of the memory-bandwidth roofline:
``bytes_per_element * n / time`` (one rate read, one count written) over the bandwidth of a
device-to-device copy measured in the same run.

The methods of one configuration are timed in interleaved repeats (method A, B, C, A, B, C, ..),
so that drift in clocks or load hits them alike; times are medians over repeats and each ratio is
the median of the per-repeat ratios. Run from the repository root:

    python -m benchmarks.kernels --quick --out kernels.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pmm_sde import kernels, random  # noqa: E402

#: The torch path holds about 20 int64/float64 temporaries per element; skip it above this on CUDA.
TORCH_PATH_MAX_CUDA = 10**7
RATE_DTYPE = torch.float32
COPY_BYTES = 2**30


def rate_tensor(regime: str, n: int, device: torch.device) -> torch.Tensor:
    """Rates of one regime: constant 3 (inversion), constant 300 (PTRS), or log-uniform on [1e-2, 1e6]."""
    if regime == "inversion":
        return torch.full((n,), 3.0, dtype=RATE_DTYPE, device=device)
    if regime == "ptrs":
        return torch.full((n,), 300.0, dtype=RATE_DTYPE, device=device)
    generator = torch.Generator().manual_seed(0)
    exponent = torch.rand(n, generator=generator, dtype=torch.float64) * 8.0 - 2.0
    return (10.0 ** exponent).to(device=device, dtype=RATE_DTYPE)


def time_once(fn: Callable[[], object], device: torch.device) -> float:
    """Wall-clock seconds of one call of ``fn``, synchronising CUDA before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def interleaved_times(methods: dict[str, Callable[[], object]], repeats: int,
                      device: torch.device) -> dict[str, list[float]]:
    """Per-method lists of ``repeats`` times, the methods called in turn within each repeat."""
    for fn in methods.values():  # warm-up: Triton compilation, allocator, caches
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    for _ in range(repeats):
        for name, fn in methods.items():
            times[name].append(time_once(fn, device))
    return times


def copy_bandwidth(device: torch.device, repeats: int) -> float:
    """Bytes per second of ``dst.copy_(src)`` on ``device`` (read + write), median over repeats."""
    src = torch.empty(COPY_BYTES, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    seconds = interleaved_times({"copy": lambda: dst.copy_(src)}, repeats, device)["copy"]
    return 2 * COPY_BYTES / statistics.median(seconds)


def methods_for(rate: torch.Tensor, device: torch.device) -> dict[str, Callable[[], object]]:
    """The timed callables for ``rate``, the baseline ``torch.poisson`` first.

    The package's samplers are timed without the rate check of ``pmm_sde.kernels.poisson`` (two
    reductions and a host sync), as ``torch.poisson`` does no separate check either.
    """
    methods: dict[str, Callable[[], object]] = {"torch.poisson": lambda: torch.poisson(rate)}
    if device.type == "cuda":
        from pmm_sde.kernels import triton_random
        methods["triton"] = lambda: triton_random.poisson(rate, seed=1, counter=0)
    if device.type == "cpu" or rate.numel() <= TORCH_PATH_MAX_CUDA:
        methods["torch_path"] = lambda: random.poisson(rate, seed=1, counter=0, validate=False)
    return methods


def benchmark(device: torch.device, sizes: list[int], regimes: list[str], repeats: int,
              bandwidth: float | None) -> list[dict]:
    """One record per (regime, size): median times, elements/s, speed-ups and roofline fractions."""
    records = []
    bytes_per_element = 2 * torch.finfo(RATE_DTYPE).bits // 8
    for regime in regimes:
        for n in sizes:
            rate = rate_tensor(regime, n, device)
            times = interleaved_times(methods_for(rate, device), repeats, device)
            baseline = times["torch.poisson"]
            record = {"device": device.type, "regime": regime, "n": n, "rate_dtype": str(RATE_DTYPE),
                      "repeats": repeats, "methods": {}}
            for name, seconds in times.items():
                median = statistics.median(seconds)
                ratios = [b / s for b, s in zip(baseline, seconds)]
                entry = {"median_s": median, "elements_per_s": n / median,
                         "speedup_vs_torch.poisson": statistics.median(ratios)}
                if bandwidth is not None:
                    entry["roofline_fraction"] = bytes_per_element * n / median / bandwidth
                record["methods"][name] = entry
            records.append(record)
            print(json.dumps(record), flush=True)
    return records


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repeats (CPU: under a minute)")
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    parser.add_argument("--sizes", type=lambda text: [int(float(s)) for s in text.split(",")],
                        help="comma-separated element counts, e.g. 1e6,1e7 (default depends on device)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int,
                        help="torch CPU threads (default: torch's; 1 with --quick, robust on busy machines)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark on one device; print one JSON line per record and return the report."""
    args = parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if args.sizes is not None:
        sizes = args.sizes
    elif cuda:
        sizes = [10**6, 10**7] if args.quick else [10**6, 10**7, 10**8]
    else:
        sizes = [10**5] if args.quick else [10**5, 10**6]
    repeats = 3 if args.quick else 11
    threads = args.threads if args.threads is not None else (1 if args.quick else None)
    if threads is not None:
        torch.set_num_threads(threads)
    bandwidth = copy_bandwidth(device, repeats) if cuda else None
    report = {
        "device": torch.cuda.get_device_name(device) if cuda else "cpu",
        "torch": torch.__version__,
        "triton": _triton_version(),
        "torch_threads": torch.get_num_threads(),
        "quick": args.quick,
        "copy_bandwidth_bytes_per_s": bandwidth,
        "results": benchmark(device, sizes, ["inversion", "ptrs", "mixed"], repeats, bandwidth),
    }
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2))
    return report


def _triton_version() -> str | None:
    """The installed triton's version, or None without triton."""
    if not kernels.triton_available():
        return None
    import triton
    return triton.__version__


if __name__ == "__main__":
    main()
