"""Hand-written torch loops and torchsde calls that ``benchmarks.run`` sets against ``pmm.sample``.

Each loop simulates the same process on the same grid with the same predictor as the package's
solver, written the way a user would write it without the package: coefficients precomputed as
Python floats, one predictor call and one draw per step. The noise is either torch's global
generator (``torch.randn``, ``torch.poisson``) or the package's counter-based stream drawn as
``pmm.sample`` draws it (``pmm_sde.kernels.normal`` / ``.poisson`` on the device's backend: the
compiled draws on a CPU with a C compiler, Triton on CUDA; counter ``k * COUNTERS_PER_STEP`` at
step ``k``), so that the cost of the solver's machinery and the cost of its noise can be told
apart.
"""

from __future__ import annotations

import torch
import torchsde

from pmm_sde import kernels
from pmm_sde.chain import COUNTERS_PER_STEP
from pmm_sde.processes import GammaPoissonCoxSDE, NormalNormalSDE
from pmm_sde.streams import Noise

NORMAL_NOISE = ("randn", "philox")
POISSON_NOISE = ("torch.poisson", "philox", "triton")


def _initial_mu(process, n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    mu, _ = process.family.cast(torch.empty((), dtype=dtype)).initial_state(n, process.shape)
    return mu.to(device)


def _grid_values(process, times: torch.Tensor, dtype: torch.dtype, device: torch.device):
    """``A(t_k)`` as 0-dim tensors of ``dtype``, and ``(A, alpha, n0 + A)`` in float64."""
    A64 = process.schedule.A(times.to(torch.float64))
    strength = process.family.prior_strength.to(torch.float64) + A64
    A = [a.to(dtype=dtype, device=device) for a in A64]
    return A, A64, process.schedule.rate(times.to(torch.float64)).to(torch.float64), strength


def euler_maruyama_loop(process: NormalNormalSDE, times: torch.Tensor, n: int, noise: str, seed: int = 0,
                        dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Euler-Maruyama, ``mu += (alpha_k / lambda_k)(xhat - mu) h_k + sqrt(alpha_k h_k) / lambda_k z``,
    on the grid ``times``; ``noise``: ``"randn"`` or ``"philox"``. Returns the terminal ``mu``."""
    if noise not in NORMAL_NOISE:
        raise ValueError(f"noise must be one of {NORMAL_NOISE}, got {noise!r}")
    device = torch.device(device)
    A, _, rate, lam = _grid_values(process, times, dtype, device)
    h = (times[1:] - times[:-1]).to(torch.float64)
    drift = (rate[:-1] / lam[:-1] * h).tolist()
    diffusion = (torch.sqrt(rate[:-1] * h) / lam[:-1]).tolist()
    mu = _initial_mu(process, n, dtype, device)
    for k in range(len(h)):
        xhat = process.predictor(mu, A[k])
        if noise == "randn":
            z = torch.randn(mu.shape, dtype=dtype, device=device)
        else:
            z = kernels.normal(tuple(mu.shape), seed, k * COUNTERS_PER_STEP, dtype=dtype, device=device)
        mu = mu + drift[k] * (xhat - mu) + diffusion[k] * z
    return mu


def tau_leap_loop(process: GammaPoissonCoxSDE, times: torch.Tensor, n: int, noise: str, seed: int = 0,
                  dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Gamma-Poisson tau-leaping, ``mu = ((b0 + A_k) mu + Poisson(dA_k xhat)) / (b0 + A_{k+1})``, on
    ``times``; ``noise``: ``"torch.poisson"``, ``"philox"`` or ``"triton"`` (the fused op
    ``pmm_sde.kernels.tau_leap`` on a Triton-backed ``Noise``, CUDA). Returns the terminal ``mu``."""
    if noise not in POISSON_NOISE:
        raise ValueError(f"noise must be one of {POISSON_NOISE}, got {noise!r}")
    device = torch.device(device)
    A, A64, _, strength = _grid_values(process, times, dtype, device)
    dA = (A64[1:] - A64[:-1]).tolist()
    b = strength.tolist()
    mu = _initial_mu(process, n, dtype, device)
    if noise == "triton":
        fused_noise = Noise(seed, mu.shape, dtype, device, backend="triton")
        b0 = torch.tensor(float(process.family.prior_strength), dtype=dtype, device=device)
    for k in range(len(dA)):
        xhat = process.predictor(mu, A[k])
        if noise == "triton":
            mu = kernels.tau_leap(fused_noise, k, 0, mu, xhat, b0 + A[k], b0 + A[k + 1], A[k + 1] - A[k])
            continue
        rate = dA[k] * xhat
        counts = torch.poisson(rate) if noise == "torch.poisson" else kernels.poisson(rate, seed, k * COUNTERS_PER_STEP,
                                                                                     validate=False)
        mu = (b[k] * mu + counts) / b[k + 1]
    return mu


class CountingPredictor:
    """A predictor that counts its calls (the NFE of a torchsde run)."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.calls = 0

    def __call__(self, mu: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.predictor(mu, A)


def torchsde_terminal(process: NormalNormalSDE, steps: int, n: int, method: str,
                      dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """``torchsde.sdeint(process, ...)`` from 0 to 1 with ``dt = 1 / steps`` (the uniform grid) and
    a ``BrownianInterval`` as sdeint would make it (space-time Levy area for ``srk``)."""
    device = torch.device(device)
    y0 = _initial_mu(process, n, dtype, device).reshape(n, -1)
    ts = torch.tensor([0.0, 1.0], dtype=dtype, device=device)
    levy = "space-time" if method == "srk" else "none"
    bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=y0.shape, dtype=dtype, device=device,
                                   levy_area_approximation=levy)
    return torchsde.sdeint(process, y0, ts, method=method, dt=1.0 / steps, bm=bm)[-1]
