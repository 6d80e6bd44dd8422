"""Ranks of a ``torchrun`` job: rendezvous with a timeout, a split of blocks, gathers in rank order.

Under ``torchrun`` (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT`` in the
environment) ``session`` joins the process group by ``env://`` rendezvous: gloo on the CPU, nccl on
CUDA (one process per GPU, ``LOCAL_RANK`` its device). Outside ``torchrun`` it is a world of one
process and every collective is the identity. Every collective, the rendezvous included, ends with
``DistributedError`` after ``timeout`` seconds (``PMM_SDE_TIMEOUT`` in the environment, else
``DEFAULT_TIMEOUT``) instead of waiting for a rank that failed; under ``torchrun`` a rank that exits
with an error makes the agent stop the others at once.

Work is split in contiguous ranges of blocks of global indices (``block_range``) and the ranks'
results are gathered in rank order, which is block order: combined left to right, they are the
result of one process (``docs/howto/scale.md``).
"""

from __future__ import annotations

import contextlib
import datetime
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist

#: Seconds a rendezvous or a collective waits for the other ranks before it fails.
DEFAULT_TIMEOUT = 600.0
#: The environment variable that overrides ``DEFAULT_TIMEOUT`` (seconds).
TIMEOUT_VARIABLE = "PMM_SDE_TIMEOUT"


class DistributedError(RuntimeError):
    """A rendezvous that did not form or a collective that failed or timed out."""


@dataclass(frozen=True)
class World:
    """This process's ``rank`` among ``size`` processes, and its ``device``."""

    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the rank that writes shared outputs."""
        return self.rank == 0


def timeout_seconds() -> float:
    """``PMM_SDE_TIMEOUT`` (seconds > 0) if set, else ``DEFAULT_TIMEOUT``."""
    text = os.environ.get(TIMEOUT_VARIABLE)
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{TIMEOUT_VARIABLE} must be a number of seconds > 0, got {text!r}")
    return value


def _launched_size() -> int:
    text = os.environ.get("WORLD_SIZE", "1")
    try:
        size = int(text)
    except ValueError:
        size = 0
    if size < 1:
        raise ValueError(f"WORLD_SIZE must be an integer >= 1 (set by torchrun), got {text!r}")
    return size


def current(device: torch.device | str | None = None) -> World:
    """The world of this process: the initialised default process group's rank and size, else one process."""
    device = torch.device("cpu") if device is None else torch.device(device)
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), device)
    return World(0, 1, device)


@contextlib.contextmanager
def session(device: torch.device | str | None = None, timeout: float | None = None) -> Iterator[World]:
    """The job's world for the ``with`` block: joins the process group when launched by ``torchrun``
    with ``WORLD_SIZE > 1`` and leaves it at the end (an existing process group is used as it is).

    ``device``: ``"cpu"`` (gloo) or ``"cuda"`` (nccl; each rank takes ``cuda:LOCAL_RANK``); default:
    cuda when present. ``timeout``: seconds (default ``timeout_seconds()``).
    """
    if dist.is_available() and dist.is_initialized():
        yield current(device)
        return
    size = _launched_size()
    if device is None:
        device = "cuda" if torch.cuda.is_available() and size > 1 else "cpu"
    device = torch.device(device)
    if size == 1:
        yield World(0, 1, device)
        return
    if not dist.is_available():
        raise DistributedError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    seconds = timeout_seconds() if timeout is None else float(timeout)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", init_method="env://",
                                timeout=datetime.timedelta(seconds=seconds))
    except (RuntimeError, ValueError) as error:
        raise DistributedError(f"the rendezvous of {size} ranks at {os.environ.get('MASTER_ADDR')}:"
                               f"{os.environ.get('MASTER_PORT')} did not form within {seconds:g} s: {error}") from error
    try:
        yield current(device)
    finally:
        dist.destroy_process_group()


def block_range(blocks: int, world: World) -> range:
    """Rank ``r``'s contiguous share of ``blocks`` blocks: ``[r B // K, (r + 1) B // K)``, in rank order."""
    return range(world.rank * blocks // world.size, (world.rank + 1) * blocks // world.size)


def gather(value: Any, world: World) -> list[Any]:
    """Every rank's ``value`` (picklable), in rank order, on every rank; ``[value]`` in a world of one."""
    if world.size == 1:
        return [value]
    values: list[Any] = [None] * world.size
    try:
        dist.all_gather_object(values, value)
    except (RuntimeError, ValueError) as error:
        raise DistributedError(f"rank {world.rank}: gathering results from {world.size} ranks failed (a rank "
                               f"failed, or one did not reach the gather within the timeout): {error}") from error
    return values


def barrier(world: World) -> None:
    """Wait until every rank reaches this point (within the timeout)."""
    if world.size > 1:
        gather(None, world)


@dataclass(frozen=True)
class _Failure:
    rank: int
    message: str


def gather_work(work: Callable[[], Any], world: World) -> list[Any]:
    """Run ``work()`` on this rank and ``gather`` every rank's result, in rank order, on every rank.

    If ``work`` raised on some rank, every rank raises once all have arrived, instead of waiting for
    the failed rank until the timeout: that rank its own exception, the others ``DistributedError``
    naming the lowest failed rank and its error.
    """
    try:
        outcome, error = work(), None
    except Exception as caught:
        outcome, error = _Failure(world.rank, f"{type(caught).__name__}: {caught}"), caught
    results = gather(outcome, world)
    if error is not None:
        raise error
    failures = [result for result in results if isinstance(result, _Failure)]
    if failures:
        raise DistributedError(f"rank {world.rank}: rank {failures[0].rank} of {world.size} failed: "
                               f"{failures[0].message}")
    return results


def average(value: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of ``value`` over the ranks (an all-reduce of a copy; every rank gets the same
    tensor); ``value`` itself in a world of one."""
    if world.size == 1:
        return value
    total = value.detach().clone()
    try:
        dist.all_reduce(total)
    except (RuntimeError, ValueError) as error:
        raise DistributedError(f"rank {world.rank}: averaging over {world.size} ranks failed (a rank failed, "
                               f"or one did not reach the all-reduce within the timeout): {error}") from error
    return total / world.size
