"""The loop of ``sample()`` for an adaptive probability-flow solver: per-sample steps in ``rho``.

Every sample starts at ``A = 0`` (``rho = 0``) from the flow's exact initial law ``y = z`` and keeps
its own step size, step variable, history and controller memory, as tensors with one entry per
sample (``(n, 1, ..., 1)``); every operation on them is elementwise or reduces within a sample, so
a sample's steps and result depend on its own draws only, not on the batch. A round evaluates the
predictor once (one NFE of the batch) at the samples not yet done, each at its own point, so a
sample costs the predictor only its own evaluations:

- a sample still on its first step, at the Euler guess of its proposed step; the Heun / Euler pair
  then accepts or rejects it (a rejection costs that sample a round);
- a sample past it, at its current point; it then tries its proposed step, and smaller ones until
  the controller accepts one, with no further prediction (the multistep estimate reuses the history).

A sample that reached ``A(1)`` is left as it is. Derivation: ``docs/solvers.md``, "Adaptive stepping".
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from .processes import NormalNormalSDE
from .solvers.adaptive import ODE3MAdaptive
from .solvers.base import Evaluator
from .stepsize import PIController
from .streams import Noise

#: The most step sizes tried in a row by one sample in one round before the run is refused.
MAX_TRIES = 100


def flow_adaptive(process: NormalNormalSDE, solver: ODE3MAdaptive, controller: PIController, mu: torch.Tensor,
                  total: float, noise: Noise, predict: Evaluator, progress: bool = False
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mu at A = total, accepted steps, rejected steps, predictor evaluations)``, the counts per
    sample ``(n,)``, from the prior state ``mu`` (module docstring). ``progress``: a tqdm bar of the samples that reached
    ``A = total``, updated once a round (it reads only the flags the loop computes anyway)."""
    dtype, n = mu.dtype, mu.shape[0]
    f64 = dict(dtype=torch.float64, device=mu.device)
    column = (n,) + (1,) * (mu.dim() - 1)
    u_end = torch.sqrt(torch.tensor(total, **f64))
    rho_end = torch.log1p(u_end)
    zero = torch.zeros(column, **f64)
    xhat0 = predict(mu, zero.to(dtype))  # E x, the same for every sample: at A = 0, mu is the prior mean
    y, rho, u = noise.normal(0), zero, zero
    h = torch.full(column, solver.first_step, **f64)
    memory = torch.ones(column, **f64)
    started = torch.zeros(column, dtype=torch.bool, device=mu.device)
    done = started
    level = torch.zeros(column, dtype=torch.int64, device=mu.device)  # known history pairs, at most 3
    # placeholders at distinct rho until a sample has them
    previous, oldest, ancient = (xhat0, zero - 1.0), (xhat0, zero - 2.0), (xhat0, zero - 3.0)
    accepted = torch.zeros(column, dtype=torch.int64, device=mu.device)
    rejected = torch.zeros_like(accepted)
    evaluations = torch.ones_like(accepted)  # xhat0

    def deviation(y, u):
        """``y - u E x``: y's offset from the flow line of the data mean, what ``rtol`` is relative to,
        so that the steps do not change when the data and the prior are translated."""
        return y - u.to(dtype) * xhat0

    def proposal(rho, h, done):
        """The step clipped at the end: ``(h, u at its end, whether it ends at A = total)``; 1 for a
        sample that is done (its values are not used; a zero step would divide 0 by 0)."""
        h = torch.where(done, torch.ones_like(h), torch.minimum(h, rho_end - rho))
        at_end = rho + h >= rho_end
        return h, torch.where(at_end, u_end, torch.expm1(rho + h)), at_end

    bar = tqdm(total=n, desc=solver.name, unit="sample", disable=not progress, leave=False)
    for _ in range(solver.max_steps):
        if bool(done.all()):
            break
        first = ~started & ~done
        later = started & ~done
        h, u1, at_end = proposal(rho, h, done)
        du = (u1 - u).to(dtype)
        guess = y + du * xhat0
        u_eval = torch.where(first, u1, u)
        A_eval = (u_eval * u_eval).to(dtype)
        xhat = predict.rows(process.from_flow_coordinate(torch.where(first, guess, y), A_eval), A_eval,
                            ~done.reshape(n), xhat0)
        evaluations = evaluations + ~done

        # first steps: Heun with Euler embedded, one prediction per try
        y1, error = solver.start_pair(y, xhat0, xhat, du)
        ratio = controller.error_ratio(error, deviation(y, u), deviation(y1, u1), (1 + u1).to(dtype))
        ok, factor, remembered = controller.adapt(ratio, memory, 2.0)
        began = first & ok
        new_y, new_u = torch.where(began, y1, y), torch.where(began, u1, u)
        new_rho = torch.where(began, torch.where(at_end, rho_end, rho + h), rho)
        new_done = done | (began & at_end)
        new_h = torch.where(first, h * factor, h)
        new_memory = torch.where(first, remembered, memory)
        accepted, rejected = accepted + began, rejected + (first & ~ok)

        # later steps: exponential Adams, smaller tries at no prediction until one is accepted
        pending = later
        for _ in range(MAX_TRIES):
            if not bool(pending.any()):
                break
            h, u1, at_end = proposal(rho, h, done)
            du = (u1 - u).to(dtype)
            y1, error = solver.multistep_pair(y, xhat, rho, h, du, previous, oldest, ancient, level)
            ratio = controller.error_ratio(error, deviation(y, u), deviation(y1, u1), (1 + u1).to(dtype))
            ok, factor, remembered = controller.adapt(ratio, memory, solver.error_order(level))
            take = pending & ok
            new_y = torch.where(take, y1, new_y)
            new_rho = torch.where(take, torch.where(at_end, rho_end, rho + h), new_rho)
            new_u = torch.where(take, u1, new_u)
            new_done = new_done | (take & at_end)
            new_memory = torch.where(take, remembered, new_memory)
            new_h = torch.where(pending, h * factor, new_h)
            h = torch.where(pending, h * factor, h)
            accepted, rejected = accepted + take, rejected + (pending & ~ok)
            pending = pending & ~ok
        if bool(pending.any()):
            raise ValueError(f"{solver.name}: a sample's step was rejected {MAX_TRIES} times in a row (its error "
                             f"estimate is not finite, or rtol / atol are below what the dtype resolves)")
        ancient = tuple(torch.where(later, new, old) for new, old in zip(oldest, ancient))
        oldest = tuple(torch.where(later, new, old) for new, old in zip(previous, oldest))
        previous = tuple(torch.where(later, new, torch.where(began, first_point, old))
                         for new, first_point, old in zip((xhat, rho), (xhat0, zero), previous))
        level = torch.where(later | began, (level + 1).clamp(max=3), level)
        started = started | began
        if progress:
            bar.update(int((new_done & ~done).sum()))
        y, rho, u, h, memory, done = new_y, new_rho, new_u, new_h, new_memory, new_done
    bar.close()
    if not bool(done.all()):
        raise ValueError(f"{solver.name}: {int((~done).sum())} samples did not reach A(1) within max_steps = "
                         f"{solver.max_steps} steps; raise max_steps ({type(solver).__name__}(max_steps=...)) "
                         f"or loosen rtol / atol")
    total_A = torch.tensor(total, dtype=dtype, device=mu.device)
    return (process.from_flow_coordinate(y, total_A), accepted.reshape(n), rejected.reshape(n),
            evaluations.reshape(n))
