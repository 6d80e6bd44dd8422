"""The loop of ``sample()`` for ``pmm_2_adaptive``: per-sample dyadic steps in ``v = log(1 + A)`` on
per-sample Brownian paths.

Each sample sits at a position ``p`` of the dyadic lattice ``v = (p / 2^L) v_end``
(``v_end = log(1 + A(1))``, ``L = brownian_tree.MAX_LEVEL``) and keeps a step size ``h`` in
``v`` from the PI controller. A step is a node of the Brownian tree: the coarsest level ``l``
with ``v_end 2^-l <= h`` at which ``p`` is a node's left end. Its increment ``dB = B(A1) - B(A0)``
comes from the sample's ``DyadicBrownianTree`` path, so a rejection, which retries a smaller
node from the same ``p``, sees the same path. A round evaluates the predictor once (one NFE of the
batch) at the samples not yet done, each at its own point and ``A`` (``(n, 1, ..., 1)``):

- a sample that has just accepted a step, at its new state (``xhat0``);
- a sample with a step proposed, at the ``pmm_chain`` guess ``mu~`` (``xhat1``); the pair then accepts
  the step (the sample needs a new ``xhat0``) or rejects it (it proposes a smaller node at once).

So a sample's accepted step costs two rounds and a rejected one a round. Every operation on the
per-sample tensors is elementwise or within a sample, so a sample's result depends only on
``(seed, its global index)``. Derivation: ``docs/solvers.md``, "Adaptive SDE stepping".
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from tqdm.auto import tqdm

from .processes import NormalNormalSDE
from .solvers.adaptive import PMM2Adaptive
from .solvers.base import Evaluator
from .stepsize import PIController
from .streams import Noise
from .streams.brownian_tree import MAX_LEVEL, DyadicBrownianTree


def ceil_log2(x: torch.Tensor) -> torch.Tensor:
    """``ceil(log2 x)`` for float64 ``x > 0``, exactly (from the binary exponent), int64."""
    mantissa, exponent = torch.frexp(x)  # x = mantissa 2^exponent, mantissa in [1/2, 1)
    return (exponent - (mantissa == 0.5).to(exponent.dtype)).to(torch.int64)


def dyadic_level(position: torch.Tensor, h: torch.Tensor, v_end: float) -> torch.Tensor:
    """The step's level per sample: the coarsest ``l >= 0`` with ``v_end 2^-l <= h`` at which
    ``position`` is a multiple of ``2^(MAX_LEVEL - l)`` (int64 ``(n,)``; above ``MAX_LEVEL`` where
    ``h`` is below the finest node)."""
    wanted = ceil_log2(v_end / h).clamp(min=0)
    lowest_bit = (position & -position).to(torch.float64)
    aligned = torch.where(position == 0, 0, MAX_LEVEL + 1 - torch.frexp(lowest_bit)[1].to(torch.int64))
    return torch.maximum(wanted, aligned)


def information_clock(total: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """The map from lattice positions ``p`` (int64) to ``A = exp(v) - 1`` at
    ``v = (p / 2^MAX_LEVEL) log(1 + total)`` (float64), ``total`` exactly at the end."""
    end = 1 << MAX_LEVEL
    scale = math.log1p(total) / end

    def clock(position: torch.Tensor) -> torch.Tensor:
        A = torch.expm1(position.to(torch.float64) * scale)
        return torch.where(position == end, total, A)

    return clock


def sde_adaptive(process: NormalNormalSDE, solver: PMM2Adaptive, controller: PIController, mu: torch.Tensor,
                 total: float, noise: Noise, predict: Evaluator, progress: bool = False
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mu at A = total, accepted steps, rejected steps, predictor evaluations)``, the counts per
    sample ``(n,)``, from the prior state ``mu`` (module docstring); the Brownian paths are keyed by
    ``noise.seed`` and ``noise.index``. ``progress``: a tqdm bar of the samples that reached
    ``A = total``, updated once a round."""
    dtype, n, device = mu.dtype, mu.shape[0], mu.device
    column = (n,) + (1,) * (mu.dim() - 1)
    end = 1 << MAX_LEVEL
    v_end = math.log1p(total)
    clock = information_clock(total)
    tree = DyadicBrownianTree(noise.seed, noise.index, clock)
    position = torch.zeros(n, dtype=torch.int64, device=device)
    A0 = torch.zeros(column, dtype=torch.float64, device=device)
    xhat0 = predict(mu, A0.to(dtype))  # E x, the same for every sample: at A = 0, mu is the prior mean
    data_mean = xhat0  # rtol is relative to mu - E x, so translating the data and the prior changes no step
    h = torch.full((n,), solver.first_step, dtype=torch.float64, device=device)
    memory = torch.ones(column, dtype=torch.float64, device=device)
    done = torch.zeros(n, dtype=torch.bool, device=device)
    accepted = torch.zeros(n, dtype=torch.int64, device=device)
    rejected = torch.zeros_like(accepted)
    evaluations = torch.ones_like(accepted)  # xhat0
    A1, dB, guess, step_end, step_h = A0, torch.zeros_like(mu), mu, position, h

    def propose(which, A1, dB, guess, step_end, step_h):
        """A step of size at most ``h`` from each sample ``which`` (its node, increment, guess)."""
        level = dyadic_level(position, h, v_end)
        if bool((level[which] > MAX_LEVEL).any()):
            raise ValueError(f"{solver.name}: a sample's step fell below the Brownian tree's finest node "
                             f"(v_end 2^-{MAX_LEVEL}): its error estimate is not finite, or rtol / atol are "
                             f"below what the dtype resolves")
        level = torch.where(which, level, 0)
        node = torch.bitwise_right_shift(position, MAX_LEVEL - level)
        _, new_end = tree.node_ends(level, node)
        new_A1 = clock(new_end).reshape(column)
        new_dB = tree.increment(level, node, which).to(dtype)
        dA = (new_A1 - A0).to(dtype)
        new_guess = solver.chain_guess(process, mu, xhat0, A0.to(dtype), new_A1.to(dtype), dA, new_dB)
        pick = which.reshape(column)
        return (torch.where(pick, new_A1, A1), torch.where(pick, new_dB, dB), torch.where(pick, new_guess, guess),
                torch.where(which, new_end, step_end), torch.where(which, (new_end - position) * (v_end / end),
                                                                   step_h))

    A1, dB, guess, step_end, step_h = propose(~done, A1, dB, guess, step_end, step_h)
    trying = ~done
    bar = tqdm(total=n, desc=solver.name, unit="sample", disable=not progress, leave=False)
    while not bool(done.all()):
        pick = trying.reshape(column)
        A_eval = torch.where(pick, A1, A0).to(dtype)
        xhat = predict.rows(torch.where(pick, guess, mu), A_eval, ~done, xhat0)
        evaluations = evaluations + ~done
        dA = (A1 - A0).to(dtype)
        mu1, error = solver.pair(process, mu, xhat0, xhat, A0.to(dtype), A1.to(dtype), dA, dB)
        ratio = controller.error_ratio(error, mu - data_mean, mu1 - data_mean)
        ok, factor, remembered = controller.adapt(ratio, memory, solver.error_order)
        ok = ok.reshape(n)
        take, retry = trying & ok, trying & ~ok
        fresh = ~trying & ~done  # evaluated at its state: xhat0 of its next step
        mu = torch.where(take.reshape(column), mu1, mu)
        A0 = torch.where(take.reshape(column), A1, A0)
        position = torch.where(take, step_end, position)
        xhat0 = torch.where(fresh.reshape(column), xhat, xhat0)
        h = torch.where(trying, step_h * factor.reshape(n), h)
        memory = torch.where(pick, remembered, memory)
        accepted, rejected = accepted + take, rejected + retry
        finished = take & (position == end)
        if progress:
            bar.update(int(finished.sum()))
        done = done | finished
        if bool((accepted + rejected > solver.max_steps).any()):
            raise ValueError(f"{solver.name}: a sample took more than max_steps = {solver.max_steps} steps; raise "
                             f"max_steps ({type(solver).__name__}(max_steps=...)) or loosen rtol / atol")
        proposing = fresh | retry
        A1, dB, guess, step_end, step_h = propose(proposing, A1, dB, guess, step_end, step_h)
        trying = proposing
    bar.close()
    return mu, accepted, rejected, evaluations
