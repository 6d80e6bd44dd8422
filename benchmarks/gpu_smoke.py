"""GPU check of the sampling stack: every solver and chain on CUDA, against the same run on the CPU.

Counter-based streams make a CUDA run reproduce the CPU run up to the last bits of transcendental
functions, so terminal states must agree closely; prints per-step times (CUDA-synchronised).

    python -m benchmarks.gpu_smoke --out results.json
"""

from __future__ import annotations

import argparse
import time

import torch

import pmm_sde as pmm

from benchmarks.report import write_report


def timed(fn):
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    report = {"device": torch.cuda.get_device_name(0), "n": args.n, "solvers": {}, "chains": {}}
    family = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.GaussianMixture([0.3, 0.7], torch.tensor([[-1.0, 1.0], [1.5, -0.5]]),
                                         torch.tensor([[0.3, 0.6], [0.5, 0.4]]))
    process = pmm.NormalNormalSDE(family, pmm.schedules.Exponential(1e3), target.predictor(family), shape=(2,))
    for solver in [s for s in pmm.solvers.available(process) if not s.startswith("torchsde")] + ["torchsde:euler"]:
        steps = 50
        cpu = pmm.sample(process, solver, steps=steps, n=2000, seed=3, dtype=torch.float64).mu
        gpu_small = pmm.sample(process, solver, steps=steps, n=2000, seed=3, dtype=torch.float64, device="cuda").mu
        pmm.sample(process, solver, steps=steps, n=args.n, seed=3, device="cuda")  # warm-up
        res, seconds = timed(lambda: pmm.sample(process, solver, steps=steps, n=args.n, seed=3, device="cuda"))
        report["solvers"][solver] = {
            "max_abs_diff_cpu_vs_cuda_float64": float((cpu - gpu_small.cpu()).abs().max()),
            "finite": bool(torch.isfinite(res.mu).all()), "nfe": res.nfe,
            "ms_per_step_float32": 1e3 * seconds / steps}
        print(solver, report["solvers"][solver], flush=True)
    for name, fam, tgt, shape in [
        ("normal", pmm.NormalNormal(), pmm.targets.Gaussian(torch.ones(3), 0.5), (3,)),
        ("gamma_poisson", pmm.GammaPoisson(1.0, 1.0), pmm.targets.Gamma(torch.full((3,), 2.0), 1.5), (3,)),
        ("dirichlet", pmm.DirichletCategorical(4), pmm.targets.Categorical(torch.full((3, 4), 0.25)), (3,)),
    ]:
        alphas = torch.full((40,), 0.5)
        cpu = pmm.run_chain(fam, alphas, tgt.predictor(fam), n=1000, shape=shape, seed=5, dtype=torch.float64).mu
        gpu = pmm.run_chain(fam, alphas, tgt.predictor(fam), n=1000, shape=shape, seed=5, dtype=torch.float64,
                            device="cuda").mu
        report["chains"][name] = {"max_abs_diff_cpu_vs_cuda_float64": float((cpu - gpu.cpu()).abs().max()),
                                  "device": str(gpu.device)}
        print(name, report["chains"][name], flush=True)
    write_report(report, args.out)


if __name__ == "__main__":
    main()
