"""Counter-based training draws: row ``i`` of step ``k``'s global batch depends on ``(seed, k, i)`` only.

Step ``k`` owns the stream counters ``k * COUNTERS_PER_STEP + slot`` of :mod:`pmm_sde.streams.reference`,
one slot per draw: ``POINTS`` (which training point row ``i`` takes, and its training time) and
``STATE`` (the noise of its posterior state). Row ``i`` of the global batch of ``b`` rows reads
elements ``2 i`` (its point) and ``2 i + 1`` (its time) of the ``POINTS`` stream and elements
``i d .. (i + 1) d - 1`` of the ``STATE`` stream (``d`` entries per data point), so a process that
holds rows ``[first, last)`` draws exactly the numbers that one process drawing all ``b`` rows gives
those rows. Under ``torchrun`` rank ``r``
of ``K`` holds rows ``[r b / K, (r + 1) b / K)`` (``batch_rows``), and the global batch, hence the
trajectory of the loss and the weights, does not depend on ``K`` (``docs/howto/scale.md``).

The draws run on the streams' fast backends (compiled C on the CPU, Triton on CUDA): a uniform is
``u = Phi(z)`` of a standard normal ``z`` of the stream (``Phi`` the normal CDF, so ``u ~ U(0, 1)``),
the training point of a row is ``floor(n u)`` among ``n`` (with replacement), its time
``TimeSampler.from_uniform(u)``, and its posterior state the family's evidence of information ``A(t)``
(``family.evidence``: ``S = A x + sqrt(A) z`` for NormalNormal, ``S ~ Poisson(A x)`` otherwise,
the closed-form law of the statistic given x, pmm-notes 1.4). The streams are keyed by
``seed ^ TRAINING_KEY``, so training draws and the sampling noise of the same seed are independent.
"""

from __future__ import annotations

import torch

from .. import _validation
from ..chain import Predictor
from ..distributed import World
from ..families import ConjugateFamily
from ..schedules import Schedule
from ..streams import COUNTERS_PER_STEP, MAX_STEPS, draws
from .objectives import data_dims, state_loss
from .times import TimeSampler

#: Mixed into the seed: the training streams' key is ``seed ^ TRAINING_KEY`` (the bytes of "PMMtrain").
TRAINING_KEY = int.from_bytes(b"PMMtrain", "big")
#: Draw slots of a step: the training points and times, the posterior states' noise.
POINTS, STATE = 0, 1


def batch_rows(batch_size: int, world: World) -> range:
    """The rows ``[r b / K, (r + 1) b / K)`` of the global batch of ``b = batch_size`` rows that rank ``r``
    of ``K = world.size`` holds; every rank holds ``b / K`` rows, so ``b`` must be divisible by ``K``."""
    batch_size = _validation.positive_int(batch_size, "batch_size")
    if batch_size % world.size:
        raise ValueError(f"batch_size must be divisible by the world size: batch_size {batch_size} does not split "
                         f"into {world.size} equal shares, one per rank (use a multiple of {world.size})")
    share = batch_size // world.size
    return range(world.rank * share, (world.rank + 1) * share)


class BatchDraws:
    """The draws of rows ``rows`` (a range of global batch rows) of every step, keyed by ``seed``."""

    def __init__(self, seed: int, rows: range):
        self.key = _validation.seed(seed) ^ TRAINING_KEY
        self.rows = rows

    @staticmethod
    def counter(step: int, slot: int) -> int:
        """The stream counter of draw ``slot`` of step ``step``: ``step * COUNTERS_PER_STEP + slot``."""
        if not 0 <= step < MAX_STEPS:
            raise ValueError(f"step must be in [0, {MAX_STEPS}), got {step}")
        return step * COUNTERS_PER_STEP + slot

    def points(self, step: int, n: int, sampler: TimeSampler, device: torch.device | str
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Each row's training point, drawn uniformly among ``n`` with replacement (int64), its time
        and the time's inverse density ``1 / r(t)`` (float64): ``floor(n u_0)`` and
        ``sampler.from_uniform(u_1)`` for the uniforms ``u = Phi(z)`` of elements ``2 i`` and ``2 i + 1``
        of stream ``POINTS``, one call for both."""
        z = draws.normal((len(self.rows), 2), self.key, self.counter(step, POINTS), dtype=torch.float64,
                         device=device, offset=2 * self.rows.start)
        u = torch.special.ndtr(z)
        index = (u[:, 0] * n).long().clamp_(max=n - 1)
        return index, *sampler.from_uniform(u[:, 1])

    def state(self, step: int, family: ConjugateFamily, schedule: Schedule, x: torch.Tensor,
              t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior state ``(mu, A_info)`` of each row given its data ``x`` at its time ``t``."""
        A = schedule.A(t).reshape(-1, *([1] * (x.dim() - 1)))
        offset = self.rows.start * x[0].numel()
        S, _ = family.evidence(x, A, self.key, self.counter(step, STATE), offset)
        return family.state_from_statistic(S, A)


def step_loss(family: ConjugateFamily, schedule: Schedule, predictor: Predictor, x: torch.Tensor, t: torch.Tensor,
              inverse_density: torch.Tensor, batch: BatchDraws, step: int, weighting: str) -> torch.Tensor:
    """The PMM objective (``objectives.pmm_loss``) on this process's rows ``x`` of step ``step`` at
    their times ``t`` (``BatchDraws.points``): ``mean_i w(t_i) D(x_i, xhat_i) / d`` with the states of
    ``batch``. Averaged over ranks of equal shares it is the global batch's mean, and so is the
    average of its gradients."""
    family = family.cast(x)
    t, inverse_density = t.to(x.dtype), inverse_density.to(x.dtype)
    state = batch.state(step, family, schedule, x, t)
    return state_loss(family, schedule, predictor, x, t, inverse_density, state, weighting).mean() / data_dims(family, x)
