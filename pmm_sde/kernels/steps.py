"""Fused single steps of the jump and diffusion simulators, and a whole-trajectory Gamma-oracle kernel.

Each function has a torch reference (``backend="torch"``), written with the arithmetic of the
package's family, process or solver, and a Triton path (``"triton"``; ``"auto"`` picks it for
CUDA tensors when triton imports) that reads ``mu`` and ``xhat`` once, draws the step's noise
in-kernel from the same counter-based stream, and writes ``mu'`` once.

Scalars (``A0``, ``A1``, ``h``, prior parameters) are Python floats or 0-dim tensors; they are
cast to the state's dtype first, and the per-call coefficients (``b0 + A0``, ``sqrt(dA)``, ...)
are computed by torch in that dtype for both paths. ``mu`` and ``xhat`` are float32 or float64
tensors of the same shape; draws use the flat (row-major) element index of ``mu``, as
``pmm_sde.run_chain`` and the solvers' ``Noise`` do.

Agreement of the backends:

* ``tau_leap_step`` and ``gamma_oracle_tau_leap``: bitwise (float32 and float64). The counts are
  integers decided by float64 comparisons (see :mod:`pmm_sde.kernels.triton_random`), and the
  update is IEEE ``*``, ``+``, ``/`` in the same order.
* ``pmm_chain_step`` and ``euler_maruyama_step``: the update is bitwise for a given ``z``; ``z``
  itself is the Box-Muller normal of :mod:`pmm_sde.random`, whose float64 ``log``/``cos``/``sin``
  may differ in the last bit between math libraries, so float32 ``z`` agrees to 1 ulp (almost
  always exactly) and float64 ``z`` to a few ulp. The step then agrees to within the same
  number of ulp of its ``sqrt(dA) z`` term (on CUDA both sides use libdevice).
"""

from __future__ import annotations

import torch

from .. import random
from ..chain import COUNTERS_PER_STEP
from .backend import resolve_backend

Scalar = float | torch.Tensor
_FLOAT_DTYPES = (torch.float32, torch.float64)


def _check_state(mu: torch.Tensor, xhat: torch.Tensor) -> None:
    """``mu`` and ``xhat``: float32/float64 tensors of one shape, dtype and device."""
    if not (torch.is_tensor(mu) and torch.is_tensor(xhat)):
        raise ValueError("mu and xhat must be tensors")
    if mu.dtype not in _FLOAT_DTYPES:
        raise ValueError(f"mu must be a float32 or float64 tensor, got {mu.dtype}")
    if (xhat.shape, xhat.dtype, xhat.device) != (mu.shape, mu.dtype, mu.device):
        raise ValueError(f"xhat must match mu in shape, dtype and device: mu {tuple(mu.shape)} {mu.dtype} "
                         f"{mu.device}, xhat {tuple(xhat.shape)} {xhat.dtype} {xhat.device}")


def _scalars(reference: torch.Tensor, *values: Scalar) -> list[torch.Tensor]:
    """``values`` as 0-dim tensors with the dtype and device of ``reference``."""
    out = [torch.as_tensor(v, dtype=reference.dtype, device=reference.device) for v in values]
    for v in out:
        if v.dim() != 0:
            raise ValueError(f"scalar arguments must be floats or 0-dim tensors, got shape {tuple(v.shape)}")
    return out


def tau_leap_step(mu: torch.Tensor, xhat: torch.Tensor, A0: Scalar, A1: Scalar, prior_rate: Scalar, seed: int,
                  counter: int, backend: str = "auto") -> torch.Tensor:
    """Gamma-Poisson tau-leap (PMM chain) step over ``[A0, A1]`` with the prediction ``xhat`` frozen:

        mu' = ((b0 + A0) mu + N) / (b0 + A1),   N ~ Poisson((A1 - A0) xhat)  (stream ``(seed, counter)``),

    ``b0`` = ``prior_rate``. This is ``GammaPoisson.absorb`` of ``GammaPoisson.evidence`` (the
    prior concentration does not enter: ``mu`` carries it). A negative or non-finite rate
    ``(A1 - A0) xhat`` gives NaN at its position. Bitwise equal across backends.
    """
    _check_state(mu, xhat)
    b0, A0, A1 = _scalars(mu, prior_rate, A0, A1)
    lam0, lam1, dA = b0 + A0, b0 + A1, A1 - A0
    if resolve_backend(backend, mu.device) == "triton":
        from . import triton_steps
        return triton_steps.tau_leap_step(mu, xhat, torch.stack([lam0, lam1, dA]), seed, counter).reshape(mu.shape)
    return (lam0 * mu + random.poisson(dA * xhat, seed, counter, validate=False)) / lam1


def pmm_chain_step(mu: torch.Tensor, xhat: torch.Tensor, A0: Scalar, A1: Scalar, precision: Scalar, seed: int,
                   counter: int, backend: str = "auto") -> torch.Tensor:
    """Normal-Normal PMM-chain step (``NormalNormalSDE.frozen_step``) over ``[A0, A1]``, ``A1 >= A0``:

        mu' = ((l0 + A0) mu + ((A1 - A0) xhat + sqrt(A1 - A0) z)) / (l0 + A1),   z ~ N(0, 1),

    ``l0`` = ``precision``, ``z = pmm_sde.random.normal(mu.shape, seed, counter)``. Backends agree
    bitwise for equal ``z`` (see the module docstring for ``z``).
    """
    _check_state(mu, xhat)
    l0, A0, A1 = _scalars(mu, precision, A0, A1)
    lam0, lam1, dA = l0 + A0, l0 + A1, A1 - A0
    sqrt_dA = torch.sqrt(dA)
    if resolve_backend(backend, mu.device) == "triton":
        from . import triton_steps
        coef = torch.stack([lam0, lam1, dA, sqrt_dA])
        return triton_steps.pmm_chain_step(mu, xhat, coef, seed, counter).reshape(mu.shape)
    z = random.normal(tuple(mu.shape), seed, counter, dtype=mu.dtype, device=mu.device)
    return (lam0 * mu + (dA * xhat + sqrt_dA * z)) / lam1


def euler_maruyama_step(mu: torch.Tensor, xhat: torch.Tensor, h: Scalar, alpha0: Scalar, lambda0: Scalar,
                        seed: int, counter: int, backend: str = "auto") -> torch.Tensor:
    """Euler-Maruyama step of the Normal-Normal SDE (``solvers.EulerMaruyama``), ``alpha0 h >= 0``:

        mu' = mu + (alpha0 / lambda0) (xhat - mu) h + (sqrt(alpha0 h) / lambda0) z,   z ~ N(0, 1),

    ``z = pmm_sde.random.normal(mu.shape, seed, counter)``. Backends agree bitwise for equal ``z``.
    """
    _check_state(mu, xhat)
    h, alpha0, lambda0 = _scalars(mu, h, alpha0, lambda0)
    drift, diffusion = alpha0 / lambda0, torch.sqrt(alpha0 * h) / lambda0
    if resolve_backend(backend, mu.device) == "triton":
        from . import triton_steps
        coef = torch.stack([drift, h, diffusion])
        return triton_steps.euler_maruyama_step(mu, xhat, coef, seed, counter).reshape(mu.shape)
    z = random.normal(tuple(mu.shape), seed, counter, dtype=mu.dtype, device=mu.device)
    return mu + drift * (xhat - mu) * h + diffusion * z


def gamma_oracle_tau_leap(n: int, A_grid: torch.Tensor, a0: Scalar, b0: Scalar, a_star: Scalar, b_star: Scalar,
                          seed: int, backend: str = "auto", dtype: torch.dtype = torch.float64,
                          device: torch.device | str | None = None) -> torch.Tensor:
    """Terminal ``mu`` of ``n`` independent Gamma-Poisson tau-leap chains driven by the Gamma oracle.

    Prior ``Gamma(a0, b0)``, target ``Gamma(a*, b*)``, cumulative information ``A_grid = (A_0, ..,
    A_K)`` (1-D, non-decreasing, cast to ``dtype``). From ``mu = a0 / b0``, step ``k = 0..K-1``
    (counter ``k * COUNTERS_PER_STEP``, as ``pmm_sde.run_chain``) is

        N = (b0 + A_k) mu - a0,   xhat = (a* + N) / (b* + A_k),   mu <- tau_leap_step(mu, xhat, A_k, A_{k+1}).

    The Triton kernel keeps ``mu`` in registers for all K steps and writes it once; the torch
    reference loops over ``tau_leap_step``. Returns a tensor of shape ``(n,)``, bitwise equal
    across backends. The count is ``N_T = (b0 + A_K) mu - a0``.
    """
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    device = torch.empty(0).device if device is None else torch.device(device)
    grid = torch.as_tensor(A_grid).to(dtype=dtype, device=device)
    if grid.dim() != 1 or grid.numel() < 2:
        raise ValueError(f"A_grid must be 1-D with at least two points, got shape {tuple(grid.shape)}")
    if not bool((grid[1:] >= grid[:-1]).all() & (grid[0] >= 0)):
        raise ValueError("A_grid must be non-decreasing and >= 0")
    reference = grid[:0]
    a0, b0, a_star, b_star = _scalars(reference, a0, b0, a_star, b_star)
    prior_mean = a0 / b0
    if resolve_backend(backend, device) == "triton":
        from . import triton_steps
        coef = torch.stack([a0, b0, a_star, b_star, prior_mean])
        return triton_steps.gamma_oracle_tau_leap(n, grid.contiguous(), coef, seed)
    mu = prior_mean.expand(n).clone()
    for k in range(grid.numel() - 1):
        xhat = (a_star + ((b0 + grid[k]) * mu - a0)) / (b_star + grid[k])
        mu = tau_leap_step(mu, xhat, grid[k], grid[k + 1], b0, seed, k * COUNTERS_PER_STEP, backend="torch")
    return mu
