"""A per-sample dyadic Brownian tree: the increments of ``B(c(r))`` over dyadic intervals of
``r in [0, 1]``, queried at a different node by each sample, from counter-based streams.

``B`` is a standard Brownian motion (one per element of the state) run on a clock ``c``, an
increasing map of the positions ``p = 0 .. 2^L`` (``r = p / 2^L``, ``L = levels``) with ``c(0) = 0``:
the adaptive SDE solver's clock is the information ``A = (1 + A(1))^r - 1``. Node
``(l, j)`` (``id = 2^l + j``, ``0 <= j < 2^l``) covers positions ``[j 2^(L-l), (j+1) 2^(L-l)]`` and
holds ``W = B(c(u)) - B(c(s))``. The root draws ``W = sqrt(c(2^L)) z`` with counter 0; node ``id``
splits at its midpoint ``m`` into the exact bridge law given ``W`` (``a = c(m) - c(s)``,
``b = c(u) - c(m)``):

    W_left = (a / (a + b)) W + sqrt(a b / (a + b)) X,   W_right = W - W_left,

``X`` the normal of counter ``id``. An element's normals are drawn at its global element index
(``reference.normal`` with one counter per element), so a sample's increments depend on
``(seed, its global index, node)`` alone: not on the batch, the order of the queries, or which nodes
other samples ask for. Every node is exact jointly with every other (a Brownian motion on the dyadic
points), and a node's increment is its children's sum, so a solver that rejects a step and retries
with half of it sees the same path (Gaines and Lyons, SIAM J. Appl. Math. 57, 1997).

Each sample keeps the nodes of its last query's root-to-node path (one per level); a query
computes only the nodes off that path, so a walk through adjacent dyadic intervals draws O(1) new
normals per step. Values are float64.
"""

from __future__ import annotations

from typing import Callable

import torch

from . import reference

#: Deepest level: node ids stay below 2^31, so every counter fits in 32 bits.
MAX_LEVEL = 30


class DyadicBrownianTree:
    """Increments of ``B(clock(p))`` over dyadic intervals of the positions ``p = 0 .. 2^levels``
    (module docstring) for the elements ``index`` (global element indices, ``(n, *shape)``, int64;
    row ``i`` is sample ``i``), drawn with ``seed``. ``clock``: int64 positions to float64 values,
    increasing, 0 at 0. ``levels``: at most ``MAX_LEVEL``."""

    def __init__(self, seed: int, index: torch.Tensor, clock: Callable[[torch.Tensor], torch.Tensor],
                 levels: int = MAX_LEVEL):
        if not 1 <= levels <= MAX_LEVEL:
            raise ValueError(f"levels must be in [1, {MAX_LEVEL}], got {levels!r}")
        self.seed, self.index, self.clock, self.levels = seed, index, clock, levels
        ends = torch.tensor([0, 1 << levels], dtype=torch.int64, device=index.device)
        span = clock(ends)
        root = torch.sqrt(span[1] - span[0]) * reference.normal(tuple(index.shape), seed, 0, dtype=torch.float64,
                                                                  index=index)
        # the cached path of each sample, one node per level (rows): ids (0: none yet) and increments
        self._ids = torch.ones((1, index.shape[0]), dtype=torch.int64, device=index.device)
        self._W = root.unsqueeze(0)

    def node_ends(self, level: torch.Tensor, node: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The positions ``(s, u)`` of the ends of nodes ``(level, node)`` (int64 tensors)."""
        width = torch.bitwise_left_shift(torch.ones_like(level), self.levels - level)
        return node * width, (node + 1) * width

    def increment(self, level: torch.Tensor, node: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
        """``B(clock(u)) - B(clock(s))`` over node ``(level[i], node[i])`` for each sample ``i`` where
        ``active[i]`` (0 elsewhere), shaped like ``index``; ``level``, ``node``, ``active`` are ``(n,)``."""
        out = torch.zeros(self.index.shape, dtype=torch.float64, device=self.index.device)
        if not bool(active.any()):
            return out
        target = torch.bitwise_left_shift(torch.ones_like(level), level) + node
        deepest = int(level[active].max())
        if deepest > self.levels:
            raise ValueError(f"level must be at most the tree's levels = {self.levels}, got {deepest}")
        if len(self._ids) <= deepest:
            grow = deepest + 1 - len(self._ids)
            self._ids = torch.cat([self._ids, self._ids.new_zeros((grow, *self._ids.shape[1:]))])
            self._W = torch.cat([self._W, self._W.new_zeros((grow, *self._W.shape[1:]))])
        k = torch.arange(deepest + 1, device=level.device).unsqueeze(1)
        ancestor = torch.bitwise_right_shift(target, (level - k).clamp(min=0))  # (deepest + 1, n)
        off_path = (k <= level) & active & (self._ids[:deepest + 1] != ancestor)
        pairs = off_path.nonzero()  # (level, sample) pairs, by level: each parent comes before its children
        if len(pairs):
            self._split(pairs[:, 0], pairs[:, 1], ancestor[pairs[:, 0], pairs[:, 1]])
        rows = torch.arange(len(level), device=level.device)
        out = self._W[level.clamp(max=deepest), rows]
        return torch.where(active.reshape((-1,) + (1,) * (out.dim() - 1)), out, torch.zeros_like(out))

    def _split(self, k: torch.Tensor, rows: torch.Tensor, child: torch.Tensor) -> None:
        """Put node ``child[i]`` (level ``k[i] >= 1``) on the cached path of sample ``rows[i]``, from its
        parent there (module docstring), the pairs sorted by level. The normals and clock values of all
        of them are computed at once, the bridges level by level."""
        one = torch.ones_like(k)
        width = torch.bitwise_left_shift(one, self.levels - k)  # the child's length in positions
        s = torch.bitwise_right_shift(child - torch.bitwise_left_shift(one, k), 1) * (2 * width)  # the parent's start
        c_s, c_m, c_u = self.clock(s), self.clock(s + width), self.clock(s + 2 * width)
        a, b = c_m - c_s, c_u - c_m
        index = self.index[rows]
        column = (-1,) + (1,) * (index.dim() - 1)
        parent = torch.bitwise_right_shift(child, 1)
        X = reference.normal(tuple(index.shape), self.seed, parent.reshape(column).expand_as(index),
                             dtype=torch.float64, index=index)
        weight, scale, odd = (a / (a + b)).reshape(column), torch.sqrt(a * b / (a + b)).reshape(column), child & 1
        levels, counts = torch.unique_consecutive(k, return_counts=True)
        first = 0
        for level, count in zip(levels.tolist(), counts.tolist()):
            part, r = slice(first, first + count), rows[first:first + count]
            first += count
            W = self._W[level - 1, r]
            left = weight[part] * W + scale[part] * X[part]
            self._W[level, r] = torch.where(odd[part].bool().reshape(column), W - left, left)
            self._ids[level, r] = child[part]
