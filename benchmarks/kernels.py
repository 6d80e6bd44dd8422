"""Throughput of Poisson draws: the package's samplers against eager ``torch.poisson``.

On CPU: the compiled draws (``pmm_sde.kernels.poisson(backend="native")``, where a C compiler
works) and the torch reference path (``pmm_sde.streams.reference.poisson``, which
``pmm_sde.kernels.poisson(backend="torch")`` runs) against ``torch.poisson``. On CUDA: the
Triton kernel (and, up to ``TORCH_PATH_MAX_CUDA`` elements, the torch path) against
``torch.poisson``, with each method's fraction of the memory-bandwidth roofline:
``bytes_per_element * n / time`` (one rate read, one count written) over the bandwidth of a
device-to-device copy measured in the same run.

The methods of one configuration are timed in interleaved repeats (method A, B, C, A, B, C, ..),
so that drift in clocks or load hits them alike; times are medians over repeats and each ratio is
the median of the per-repeat ratios. Run from the repository root:

    python -m benchmarks.kernels --quick --out kernels.json

Fused simulator steps (``--suite steps``: the ops of :mod:`pmm_sde.kernels.ops` and the oracle
trajectories of :mod:`pmm_sde.convergence.oracle_trajectories`), float32 states:

* ``tau_leap_step`` (``kernels.tau_leap``, Gamma-Poisson, ``mu' = ((b0 + A0) mu + Poisson(dA xhat)) /
  (b0 + A1)``, rates around 3): the Triton kernel (on CPU the compiled step) against eager torch
  (``torch.poisson`` and three elementwise ops) and the torch reference path, each op called with a
  noise built once, as in a run. A step moves 12 bytes per element (read mu and xhat, write mu').
* ``categorical_tau_leap_step`` (``kernels.categorical_tau_leap``, Dirichlet-Categorical,
  ``CATEGORICAL_CLASSES`` classes per position: counts, their sum per position and the update in one
  pass) against eager torch and the torch reference path.
* ``gamma_oracle_tau_leap`` (``TRAJECTORY_STEPS`` steps of the Gamma oracle, all in registers)
  against an eager torch loop (oracle, ``torch.poisson``, update per step) and the torch reference
  path. Rates are in element-steps per second; ``vs_step_roofline`` is the element-step rate over
  that of a per-step kernel running at the copy bandwidth (12 bytes per element-step), i.e. how far
  the fused trajectory goes beyond what any one-kernel-per-step simulator could reach.
* ``gamma_oracle_tau_leap_events`` (``"events"`` in the report): the same Gamma-oracle chain from
  event step to event step, on ``EVENT_STEPS`` equal steps of A over [0, ``EVENT_A_TOTAL``] at
  ``EVENT_N`` elements, against the eager loop on the same grid (and on CUDA the per-step Triton
  trajectory; on CPU the compiled and the torch path): its cost follows the counts
  (``mean_count_per_element``), the loop's the steps.
* ``--sweep`` (CUDA): the kernels with Poisson draws at each launch shape of ``SWEEP_LAUNCHES``
  (elements and warps per program), against eager torch, to choose ``POISSON_LAUNCH``; and the
  event-to-event kernel at each of ``SWEEP_EVENTS_PER_LANE``, to choose ``EVENTS_PER_LANE``.
* ``gamma_mixture_oracle_tau_leap``, ``point_masses_oracle_tau_leap`` and
  ``gaussian_oracle_pmm_chain`` (``TRAJECTORY_STEPS`` steps of the two-component Gamma-mixture and
  point-mass oracles, and of the Gaussian oracle's Normal-Normal PMM chain), each against an eager
  torch loop (the target's oracle, ``torch.poisson`` or ``torch.randn``, the update) and the torch
  reference path, timed through the public functions (their host-side checks included).

On CUDA each record also says whether the Triton step equals the torch reference
(``agreement``: bitwise for tau-leaping, fraction of bitwise-equal entries for the normal steps
and the oracle trajectories).
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

from pmm_sde import kernels  # noqa: E402
from pmm_sde.convergence import oracle_trajectories  # noqa: E402
from pmm_sde.streams import Noise  # noqa: E402
from pmm_sde.streams import reference as random  # noqa: E402
from pmm_sde.families import GammaPoisson, NormalNormal  # noqa: E402
from pmm_sde.targets import GammaMixture, Gaussian, PointMasses  # noqa: E402

#: The torch path holds about 20 int64/float64 temporaries per element; skip it above this on CUDA.
TORCH_PATH_MAX_CUDA = 10**7
RATE_DTYPE = torch.float32
COPY_BYTES = 2**30
#: Steps of the whole-trajectory benchmark; the torch reference trajectory runs up to these sizes.
TRAJECTORY_STEPS = 32
TRAJECTORY_TORCH_PATH_MAX = {"cpu": 10**4, "cuda": 10**6}
#: Gamma-Poisson step constants: prior Gamma(a0, b0), target Gamma(a*, b*), information grid 0, 1, .., K.
A0_PRIOR, B0_PRIOR, A_STAR, B_STAR = 2.0, 1.5, 3.0, 0.5
#: The other oracle trajectories: ``oracle_trajectories.<name>(n, A_grid, *arguments, seed)``, with the prior
#: Gamma(a0, b0) or Normal(0, 1) and the target whose oracle the eager loop calls.
ORACLE_TRAJECTORIES = {
    "gamma_mixture_oracle_tau_leap": ((A0_PRIOR, B0_PRIOR, [0.5, 0.5], [1.0, 8.0], [2.0, 2.0]),
                                      GammaPoisson(A0_PRIOR, B0_PRIOR),
                                      GammaMixture([0.5, 0.5], [1.0, 8.0], [2.0, 2.0])),
    "point_masses_oracle_tau_leap": ((A0_PRIOR, B0_PRIOR, [0.4, 0.6], [0.5, 3.0]), GammaPoisson(A0_PRIOR, B0_PRIOR),
                                     PointMasses([0.4, 0.6], [0.5, 3.0])),
    "gaussian_oracle_pmm_chain": ((0.0, 1.0, 1.5, 0.5), NormalNormal(0.0, 1.0), Gaussian(1.5, 0.5)),
}


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
        from pmm_sde.streams import triton_draws as triton_random
        methods["triton"] = lambda: triton_random.poisson(rate, seed=1, counter=0)
    if device.type == "cpu" and kernels.native_available():
        methods["native"] = lambda: kernels.poisson(rate, seed=1, counter=0, backend="native", validate=False)
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


def summarize(times: dict[str, list[float]], baseline: str, work: int, bandwidth: float | None,
              bytes_per_unit: dict[str, float], trajectory: bool = False) -> dict[str, dict]:
    """Per-method median time, ``work / time`` and median speed-up over ``baseline``; with
    ``bandwidth``, the fraction of it that ``bytes_per_unit[method] * work / time`` reaches (and,
    for a ``trajectory``, ``vs_step_roofline``)."""
    out = {}
    for name, seconds in times.items():
        median = statistics.median(seconds)
        entry = {"median_s": median, "per_s": work / median,
                 f"speedup_vs_{baseline}": statistics.median(b / s for b, s in zip(times[baseline], seconds))}
        if bandwidth is not None:
            entry["roofline_fraction"] = bytes_per_unit[name] * work / median / bandwidth
            if trajectory:
                entry["vs_step_roofline"] = 3 * RATE_DTYPE.itemsize * work / median / bandwidth
        out[name] = entry
    return out


def step_noises(mu: torch.Tensor) -> dict[str, Noise]:
    """The noise of seed 1 shaped like ``mu``, built once as in a run, on the torch backend and on the
    compiled one of mu's device (Triton on CUDA, native on the CPU where it builds): the fused ops
    draw step 1, slot 0 of it (counter 8)."""
    compiled = "triton" if mu.device.type == "cuda" else "native" if kernels.native_available() else None
    return {backend: Noise(1, mu.shape, mu.dtype, mu.device, backend=backend)
            for backend in ("torch", compiled) if backend is not None}


def step_agreement(mu: torch.Tensor, xhat: torch.Tensor) -> dict[str, float | bool]:
    """Triton against the torch reference on CUDA: bitwise for tau-leaping, else the equal fraction.
    The steps: tau-leaping over [0, 1] (prior rate b0), the PMM chain over [0.5, 1.5] (prior precision
    1) and an Euler-Maruyama step h = 0.1 at rate 2 and precision 1.5."""
    noises = step_noises(mu)

    def coefficients(*values: float) -> list[torch.Tensor]:
        return [torch.tensor(v, dtype=mu.dtype, device=mu.device) for v in values]

    tau = [kernels.tau_leap(noises[backend], 1, 0, mu, xhat, *coefficients(B0_PRIOR, B0_PRIOR + 1.0, 1.0))
           for backend in ("triton", "torch")]
    agreement: dict[str, float | bool] = {"tau_leap_bitwise": bool(torch.equal(*tau))}
    for name, op, values in (("pmm_chain", kernels.pmm_chain, (1.5, 2.5, 1.0, 1.0)),
                             ("euler_maruyama", kernels.euler_maruyama, (2.0 / 1.5, 0.1, 0.2 ** 0.5 / 1.5))):
        got, want = (op(noises[backend], 1, 0, mu, xhat, *coefficients(*values)) for backend in ("triton", "torch"))
        agreement[f"{name}_equal_fraction"] = float((got == want).double().mean())
        agreement[f"{name}_max_rel_diff"] = float(((got - want).abs() / want.abs().clamp(min=1e-30)).max())
    return agreement


def gamma_oracle_eager(mu0: torch.Tensor, grid: list[float]) -> torch.Tensor:
    """The Gamma-oracle tau-leap trajectory as an eager torch loop with ``torch.poisson`` (no streams)."""
    mu = mu0
    for A0, A1 in zip(grid[:-1], grid[1:]):
        xhat = (A_STAR + ((B0_PRIOR + A0) * mu - A0_PRIOR)) / (B_STAR + A0)
        mu = ((B0_PRIOR + A0) * mu + torch.poisson((A1 - A0) * xhat)) / (B0_PRIOR + A1)
    return mu


def oracle_eager(family, predictor, mu0: torch.Tensor, grid: list[float]) -> torch.Tensor:
    """An oracle trajectory as an eager torch loop (no streams): ``torch.poisson`` tau-leaping for
    Gamma-Poisson, the frozen Normal-Normal step with ``torch.randn`` otherwise."""
    mu, prior = mu0, float(family.prior_strength)
    for A0, A1 in zip(grid[:-1], grid[1:]):
        xhat = predictor(mu, A0)
        if isinstance(family, GammaPoisson):
            increment = torch.poisson((A1 - A0) * xhat)
        else:
            increment = (A1 - A0) * xhat + (A1 - A0) ** 0.5 * torch.randn_like(mu)
        mu = ((prior + A0) * mu + increment) / (prior + A1)
    return mu


def benchmark_oracle_trajectories(device: torch.device, n: int, repeats: int, bandwidth: float | None
                                  ) -> list[dict]:
    """One record per kernel of ``ORACLE_TRAJECTORIES`` at ``n`` elements, as the Gamma oracle's."""
    cuda = device.type == "cuda"
    records = []
    grid = [float(k) for k in range(TRAJECTORY_STEPS + 1)]
    grid_tensor = torch.tensor(grid, dtype=torch.float64)
    step_bytes = 3 * RATE_DTYPE.itemsize
    for name, (arguments, family, target) in ORACLE_TRAJECTORIES.items():
        trajectory = getattr(oracle_trajectories, name)
        predictor = target.predictor(family)
        mu0 = torch.full((n,), float(family.prior_mean), dtype=RATE_DTYPE, device=device)

        def run(backend: str, trajectory=trajectory, arguments=arguments):
            return trajectory(n, grid_tensor, *arguments, 1, backend=backend, dtype=RATE_DTYPE, device=device)

        methods: dict[str, Callable[[], object]] = {
            "eager_loop": lambda family=family, predictor=predictor, mu0=mu0: oracle_eager(family, predictor, mu0,
                                                                                           grid)}
        if cuda:
            methods["triton"] = lambda run=run: run("triton")
        if n <= TRAJECTORY_TORCH_PATH_MAX[device.type]:
            methods["torch_path"] = lambda run=run: run("torch")
        times = interleaved_times(methods, repeats, device)
        bytes_per_unit = {method: step_bytes for method in times} | {"triton": RATE_DTYPE.itemsize / TRAJECTORY_STEPS}
        record = {"device": device.type, "kernel": name, "n": n, "steps": TRAJECTORY_STEPS, "dtype": str(RATE_DTYPE),
                  "repeats": repeats,
                  "methods": summarize(times, "eager_loop", n * TRAJECTORY_STEPS, bandwidth, bytes_per_unit,
                                       trajectory=True)}
        if cuda and n <= TRAJECTORY_TORCH_PATH_MAX["cuda"]:
            record["agreement"] = {"equal_fraction": float((run("triton") == run("torch")).double().mean())}
        records.append(record)
        print(json.dumps(record), flush=True)
    return records


#: Classes per position of the categorical tau-leap benchmark; Dirichlet total concentration s0.
CATEGORICAL_CLASSES, CATEGORICAL_S0 = 32, 16.0


def benchmark_categorical_step(device: torch.device, n: int, repeats: int, bandwidth: float | None) -> dict:
    """``categorical_tau_leap_step`` on ``n`` elements (``n // CATEGORICAL_CLASSES`` positions, uniform
    ``xhat``, ``dA = 2``: about two events per position) against eager torch (``torch.poisson``, the
    class sum, the update) and the torch reference path; 12 bytes per element moved."""
    cuda = device.type == "cuda"
    shape = (n // CATEGORICAL_CLASSES, CATEGORICAL_CLASSES)
    mu = torch.full(shape, 1.0 / CATEGORICAL_CLASSES, dtype=RATE_DTYPE, device=device)
    xhat = mu.clone()
    A = torch.zeros(shape[0], 1, dtype=RATE_DTYPE, device=device)
    s0, dA = (torch.tensor(v, dtype=RATE_DTYPE, device=device) for v in (CATEGORICAL_S0, 2.0))

    def eager() -> tuple[torch.Tensor, torch.Tensor]:
        counts = torch.poisson(dA * xhat)
        A_next = A + counts.sum(-1, keepdim=True)
        return ((s0 + A) * mu + counts) / (s0 + A_next), A_next

    noises = step_noises(mu)

    def step(backend: str) -> tuple[torch.Tensor, torch.Tensor]:
        return kernels.categorical_tau_leap(noises[backend], 1, 0, mu, xhat, A, s0, dA)

    methods: dict[str, Callable[[], object]] = {"eager": eager}
    if cuda:
        methods["triton"] = lambda: step("triton")
    elif kernels.native_available():
        methods["native"] = lambda: step("native")
    if not cuda or n <= TORCH_PATH_MAX_CUDA:
        methods["torch_path"] = lambda: step("torch")
    times = interleaved_times(methods, repeats, device)
    work = shape[0] * shape[1]
    record = {"device": device.type, "kernel": "categorical_tau_leap_step", "n": work, "classes": CATEGORICAL_CLASSES,
              "dtype": str(RATE_DTYPE), "repeats": repeats, "bytes_per_element_step": 3 * RATE_DTYPE.itemsize,
              "methods": summarize(times, "eager", work, bandwidth, {name: 3 * RATE_DTYPE.itemsize for name in times})}
    if cuda and n <= TORCH_PATH_MAX_CUDA:
        record["agreement"] = {"bitwise": all(torch.equal(a, b) for a, b in zip(step("triton"), step("torch")))}
    print(json.dumps(record), flush=True)
    return record


def benchmark_steps(device: torch.device, sizes: list[int], repeats: int, bandwidth: float | None) -> list[dict]:
    """Records of the fused tau-leap step and the whole oracle trajectories, one per size and kernel."""
    cuda = device.type == "cuda"
    if cuda:
        from pmm_sde.kernels import triton_steps
    records = []
    grid = [float(k) for k in range(TRAJECTORY_STEPS + 1)]
    grid_tensor = torch.tensor(grid, dtype=torch.float64)
    step_bytes = 3 * RATE_DTYPE.itemsize
    for n in sizes:
        mu = torch.full((n,), A0_PRIOR / B0_PRIOR, dtype=RATE_DTYPE, device=device)
        xhat = torch.full((n,), 3.0, dtype=RATE_DTYPE, device=device)
        coefficients = [torch.tensor(v, dtype=RATE_DTYPE, device=device) for v in (B0_PRIOR, B0_PRIOR + 1.0, 1.0)]
        lam0, lam1, dA = coefficients
        noises = step_noises(mu)
        step_methods: dict[str, Callable[[], object]] = {
            "eager": lambda: (lam0 * mu + torch.poisson(dA * xhat)) / lam1}
        if cuda:
            step_methods["triton"] = lambda: triton_steps.tau_leap(mu, xhat, coefficients, 1, 8)
        if "native" in noises:
            step_methods["native"] = lambda: kernels.tau_leap(noises["native"], 1, 0, mu, xhat, *coefficients)
        if not cuda or n <= TORCH_PATH_MAX_CUDA:
            step_methods["torch_path"] = lambda: kernels.tau_leap(noises["torch"], 1, 0, mu, xhat, *coefficients)
        times = interleaved_times(step_methods, repeats, device)
        record = {"device": device.type, "kernel": "tau_leap_step", "n": n, "dtype": str(RATE_DTYPE),
                  "repeats": repeats, "bytes_per_element_step": step_bytes,
                  "methods": summarize(times, "eager", n, bandwidth, {name: step_bytes for name in times})}
        if cuda and n <= TORCH_PATH_MAX_CUDA:
            record["agreement"] = step_agreement(mu, xhat * torch.linspace(0.0, 20.0, n, device=device))
        records.append(record)
        print(json.dumps(record), flush=True)

        records.append(benchmark_categorical_step(device, n, repeats, bandwidth))

        trajectory_methods: dict[str, Callable[[], object]] = {"eager_loop": lambda: gamma_oracle_eager(mu, grid)}
        if cuda:
            coef5 = torch.tensor([A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, A0_PRIOR / B0_PRIOR], dtype=RATE_DTYPE,
                                 device=device)
            grid_device = grid_tensor.to(dtype=RATE_DTYPE, device=device)
            trajectory_methods["triton"] = lambda: triton_steps.gamma_oracle_tau_leap(n, grid_device, coef5, 1)
        if n <= TRAJECTORY_TORCH_PATH_MAX[device.type]:
            trajectory_methods["torch_path"] = lambda: oracle_trajectories.gamma_oracle_tau_leap(
                n, grid_tensor, A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, 1, backend="torch", dtype=RATE_DTYPE,
                device=device)
        times = interleaved_times(trajectory_methods, repeats, device)
        # One write per element for the fused kernel; a per-step loop moves at least 12 bytes a step.
        bytes_per_unit = {name: step_bytes for name in times} | {"triton": RATE_DTYPE.itemsize / TRAJECTORY_STEPS}
        record = {"device": device.type, "kernel": "gamma_oracle_tau_leap", "n": n, "steps": TRAJECTORY_STEPS,
                  "dtype": str(RATE_DTYPE), "repeats": repeats,
                  "methods": summarize(times, "eager_loop", n * TRAJECTORY_STEPS, bandwidth, bytes_per_unit,
                                       trajectory=True)}
        if cuda and n <= TRAJECTORY_TORCH_PATH_MAX["cuda"]:
            record["agreement"] = {"bitwise": bool(torch.equal(
                oracle_trajectories.gamma_oracle_tau_leap(n, grid_tensor, A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, 1,
                                                          backend="triton", dtype=RATE_DTYPE, device=device),
                oracle_trajectories.gamma_oracle_tau_leap(n, grid_tensor, A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, 1,
                                                          backend="torch", dtype=RATE_DTYPE, device=device)))}
        records.append(record)
        print(json.dumps(record), flush=True)
        records += benchmark_oracle_trajectories(device, n, repeats, bandwidth)
    return records


#: Grids of the event-to-event benchmark: ``steps`` equal steps of A over [0, ``EVENT_A_TOTAL``], at
#: ``EVENT_N`` elements (the eager loop's cost grows with the steps, the events kernel's with N_T).
EVENT_STEPS = (32, 1024, 4096)
EVENT_A_TOTAL = 32.0
EVENT_N = {"cpu": 10**4, "cuda": 10**6}


def benchmark_events(device: torch.device, n: int, repeats: int, bandwidth: float | None) -> list[dict]:
    """``gamma_oracle_tau_leap_events`` against the eager loop (and, on CUDA, the per-step Triton
    trajectory) on each grid of ``EVENT_STEPS``, ``n`` elements: element-steps per second of the same
    chain; the record also gives the mean count ``N_T`` per element, which sets the events kernel's cost."""
    cuda = device.type == "cuda"
    records = []
    for steps in EVENT_STEPS:
        grid = torch.linspace(0.0, EVENT_A_TOTAL, steps + 1, dtype=torch.float64)
        grid_list = grid.tolist()
        mu0 = torch.full((n,), A0_PRIOR / B0_PRIOR, dtype=RATE_DTYPE, device=device)

        def events(backend: str, grid=grid) -> torch.Tensor:
            return oracle_trajectories.gamma_oracle_tau_leap_events(n, grid, A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, 1,
                                                                    backend=backend, dtype=RATE_DTYPE, device=device)

        methods: dict[str, Callable[[], object]] = {"eager_loop": lambda grid_list=grid_list: gamma_oracle_eager(
            mu0, grid_list)}
        if cuda:
            methods["triton_steps"] = lambda grid=grid: oracle_trajectories.gamma_oracle_tau_leap(
                n, grid, A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, 1, backend="triton", dtype=RATE_DTYPE, device=device)
            methods["triton_events"] = lambda events=events: events("triton")
        if not cuda and kernels.native_available():
            methods["native_events"] = lambda events=events: events("native")
        if not cuda or n <= TRAJECTORY_TORCH_PATH_MAX["cuda"]:
            methods["torch_path_events"] = lambda events=events: events("torch")
        times = interleaved_times(methods, repeats, device)
        mu = events("triton" if cuda else "torch")
        record = {"device": device.type, "kernel": "gamma_oracle_tau_leap_events", "n": n, "steps": steps,
                  "A_total": EVENT_A_TOTAL, "dtype": str(RATE_DTYPE), "repeats": repeats,
                  "mean_count_per_element": float(((B0_PRIOR + EVENT_A_TOTAL) * mu.double() - A0_PRIOR).mean()),
                  "methods": summarize(times, "eager_loop", n * steps, bandwidth,
                                       {name: (RATE_DTYPE.itemsize / steps if name.startswith("triton")
                                               else 3 * RATE_DTYPE.itemsize) for name in times},
                                       trajectory=True)}
        if cuda:
            record["agreement"] = {"bitwise": bool(torch.equal(mu, events("torch")))}
        records.append(record)
        print(json.dumps(record), flush=True)
    return records


#: Launch shapes (elements per program, warps per program) that ``--sweep`` times for the kernels with
#: Poisson draws, at ``SWEEP_SIZE`` elements.
SWEEP_LAUNCHES = ((32, 1), (64, 1), (128, 1), (128, 2), (256, 4))
SWEEP_SIZE = 10**7


def launch_sweep(device: torch.device, repeats: int, n: int = SWEEP_SIZE) -> list[dict]:
    """Each of ``SWEEP_LAUNCHES`` as ``triton_random.POISSON_LAUNCH``, timed on ``n`` Poisson draws
    (mixed rates), the tau-leap step (rate 3) and the Gamma-oracle trajectory, against eager torch.
    Run on CUDA (on the CPU with ``TRITON_INTERPRET=1`` only as a test)."""
    from pmm_sde.kernels import triton_steps
    from pmm_sde.streams import triton_draws as triton_random
    rate = rate_tensor("mixed", n, device)
    mu = torch.full((n,), A0_PRIOR / B0_PRIOR, dtype=RATE_DTYPE, device=device)
    xhat = torch.full((n,), 3.0, dtype=RATE_DTYPE, device=device)
    coef = torch.tensor([B0_PRIOR, B0_PRIOR + 1.0, 1.0], dtype=RATE_DTYPE, device=device)
    coefficients = list(coef.unbind())
    grid = [float(k) for k in range(TRAJECTORY_STEPS + 1)]
    grid_device = torch.tensor(grid, dtype=RATE_DTYPE, device=device)
    coef5 = torch.tensor([A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, A0_PRIOR / B0_PRIOR], dtype=RATE_DTYPE, device=device)
    default = triton_random.POISSON_LAUNCH
    records = []
    try:
        for block, num_warps in SWEEP_LAUNCHES:
            triton_random.POISSON_LAUNCH = triton_random.Launch(block, num_warps)
            times = interleaved_times({
                "torch.poisson": lambda: torch.poisson(rate),
                "poisson": lambda: triton_random.poisson(rate, seed=1, counter=0),
                "eager_step": lambda: (coef[0] * mu + torch.poisson(coef[2] * xhat)) / coef[1],
                "tau_leap_step": lambda: triton_steps.tau_leap(mu, xhat, coefficients, 1, 8),
                "eager_loop": lambda: gamma_oracle_eager(mu, grid),
                "gamma_oracle_tau_leap": lambda: triton_steps.gamma_oracle_tau_leap(n, grid_device, coef5, 1),
            }, repeats, device)
            median = {name: statistics.median(seconds) for name, seconds in times.items()}
            record = {"block": block, "num_warps": num_warps, "n": n, "median_s": median,
                      "poisson_vs_torch.poisson": median["torch.poisson"] / median["poisson"],
                      "tau_leap_step_vs_eager": median["eager_step"] / median["tau_leap_step"],
                      "gamma_oracle_tau_leap_vs_eager_loop": median["eager_loop"] / median["gamma_oracle_tau_leap"]}
            records.append(record)
            print(json.dumps(record), flush=True)
    finally:
        triton_random.POISSON_LAUNCH = default
    return records


#: Elements per lane that ``--sweep`` times for the event-to-event kernel (``EVENT_STEPS[-1]`` steps).
SWEEP_EVENTS_PER_LANE = (1, 4, 8, 16)


def events_sweep(device: torch.device, repeats: int, n: int = EVENT_N["cuda"]) -> list[dict]:
    """The event-to-event Gamma kernel at each of ``SWEEP_EVENTS_PER_LANE`` as
    ``triton_steps.EVENTS_PER_LANE``, on the finest grid of ``EVENT_STEPS``, against the eager loop
    (timed once, in the same run): the choice between the warp's wait for its slowest lane and the
    number of programs. Run on CUDA (on the CPU with ``TRITON_INTERPRET=1`` only as a test)."""
    from pmm_sde.kernels import triton_steps
    steps = EVENT_STEPS[-1]
    grid = torch.linspace(0.0, EVENT_A_TOTAL, steps + 1, dtype=torch.float64)
    mu0 = torch.full((n,), A0_PRIOR / B0_PRIOR, dtype=RATE_DTYPE, device=device)
    grid_list = grid.tolist()
    eager = statistics.median(interleaved_times({"eager_loop": lambda: gamma_oracle_eager(mu0, grid_list)}, repeats,
                                                device)["eager_loop"])
    default = triton_steps.EVENTS_PER_LANE
    records = []
    try:
        for per_lane in SWEEP_EVENTS_PER_LANE:
            triton_steps.EVENTS_PER_LANE = per_lane
            events = statistics.median(interleaved_times({
                "triton_events": lambda: oracle_trajectories.gamma_oracle_tau_leap_events(
                    n, grid, A0_PRIOR, B0_PRIOR, A_STAR, B_STAR, 1, backend="triton", dtype=RATE_DTYPE, device=device)},
                repeats, device)["triton_events"])
            record = {"events_per_lane": per_lane, "n": n, "steps": steps,
                      "median_s": {"eager_loop": eager, "triton_events": events},
                      "triton_events_vs_eager_loop": eager / events}
            records.append(record)
            print(json.dumps(record), flush=True)
    finally:
        triton_steps.EVENTS_PER_LANE = default
    return records


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and few repeats (CPU: under a minute)")
    parser.add_argument("--out", type=Path, help="write the results to this JSON file")
    parser.add_argument("--sizes", type=lambda text: [int(float(s)) for s in text.split(",")],
                        help="comma-separated element counts, e.g. 1e6,1e7 (default depends on device)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--suite", choices=["draws", "steps", "all"], default="all",
                        help="Poisson draws, fused simulator steps, or both (default)")
    parser.add_argument("--sweep", action="store_true",
                        help="CUDA: also time the Poisson kernels at each of SWEEP_LAUNCHES")
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
    }
    steps = args.suite in ("steps", "all")
    sections = {
        "results": lambda: (benchmark(device, sizes, ["inversion", "ptrs", "mixed"], repeats, bandwidth)
                            if args.suite in ("draws", "all") else []),
        "steps": lambda: benchmark_steps(device, sizes, repeats, bandwidth) if steps else [],
        "events": lambda: (benchmark_events(device, min([EVENT_N[device.type]] + (sizes if args.quick else [])),
                                            min(repeats, 5), bandwidth) if steps else []),
        "launch_sweep": lambda: launch_sweep(device, min(repeats, 5)) if args.sweep and cuda else [],
        "events_sweep": lambda: events_sweep(device, min(repeats, 3)) if args.sweep and cuda else [],
    }
    for name, run in sections.items():
        report[name] = run()
        if args.out is not None:  # after each section: a run stopped by a time limit keeps what it measured
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
