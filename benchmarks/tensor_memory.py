"""Peak bytes of the tensors a call allocates: CUDA allocator statistics, or on the CPU a count of
the storages created by the call's ATen operations.

On CUDA, ``torch.cuda.max_memory_allocated`` (reset before the call) less the bytes allocated
before it. On the CPU, torch's allocator keeps no statistics (and ``tracemalloc`` does not see
it), so a ``TorchDispatchMode`` records every storage that an operation returns and that none of
its inputs holds, adds its size to a running total and subtracts it when the storage is freed
(a ``weakref.finalize`` on the storage, whose Python object torch preserves for the storage's
life). Scratch buffers inside a single kernel are not seen; every tensor the call creates is.
"""

from __future__ import annotations

import weakref
from typing import Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves


class LiveTensorBytes(TorchDispatchMode):
    """Within the mode, ``current`` and ``peak`` bytes of the storages created inside it."""

    def __init__(self):
        super().__init__()
        self.current = 0
        self.peak = 0
        self._tracked: weakref.WeakSet = weakref.WeakSet()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = {id(t.untyped_storage()) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                storage = t.untyped_storage()
                if id(storage) not in inputs and storage not in self._tracked:
                    self._track(storage)
        return out

    def _track(self, storage: torch.UntypedStorage) -> None:
        nbytes = storage.nbytes()
        self._tracked.add(storage)
        self.current += nbytes
        self.peak = max(self.peak, self.current)
        weakref.finalize(storage, self._release, nbytes)

    def _release(self, nbytes: int) -> None:
        self.current -= nbytes


def peak_bytes(fn: Callable[[], object], device: torch.device) -> tuple[int, str]:
    """Peak bytes of the tensors allocated while ``fn()`` runs (its result dropped), and the method."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before, "torch.cuda.max_memory_allocated"
    with LiveTensorBytes() as mode:
        fn()
    return mode.peak, "storages created by ATen ops (TorchDispatchMode), freed by weakref.finalize"
