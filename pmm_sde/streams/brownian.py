"""Counter-based Brownian motion: a Brownian bridge tree drawn from the package's Philox streams.

``CounterBrownian`` is a torchsde ``BaseBrownian`` on ``[t0, t1]`` whose values are pure functions of
``(seed, element index, tree node)``: entry ``j`` of sample ``i`` (element ``(first_sample + i) * d + j``,
``first_sample`` the global index of the batch's first sample) sees the same path whatever the batch
size, the split of the samples into batches, the order of the queries, or the device (to the last
bits of float64, ``docs/kernels.md``).

Tree. Node ``id`` (root 1, children ``2 id`` and ``2 id + 1``, level ``floor(log2 id)``) covers
``[s, u]`` (length ``h``) and holds the increment ``W = W(u) - W(s)`` and the space-time Levy area
``H = (1/h) int_s^u (W(r) - W(s)) dr - W/2``, independent with ``W ~ N(0, h)``, ``H ~ N(0, h/12)``.
The root draws ``(sqrt(T) z_0, sqrt(T/12) z_1)`` from counters 0 and 1. A node splits at ``m``
(``a = m - s``, ``b = u - m``, ``D = h^2 - 3ab > 0``) into its children's pairs, drawn from their
exact law given the parent's with the normals ``X1, X2`` of counters ``2 id``, ``2 id + 1``:

    W1 = (a/h) W + (6ab/h^2) H + L11 X1,        H1 = (a/h)^2 H + L21 X1 + L22 X2,
    W2 = (b/h) W - (6ab/h^2) H - L11 X1,        H2 = (b/h)^2 H - (a b^3 / (2 h^3 L11)) X1 - sqrt(a^3 b / (12 h D)) X2,

    L11 = sqrt(ab D / h^3),   L21 = -a^3 b / (2 h^3 L11),   L22 = sqrt(a b^3 / (12 h D)),

so that ``W1 + W2 = W`` and ``h H = a H1 + b H2 + (b/2) W1 - (a/2) W2``. The split points are the
``times`` given (each node spanning several of them splits at the middle one), then midpoints.

Points. A time ``v`` is read as ``(W(v) - W(t0), K(v))`` with ``K(v) = int_{t0}^v (W(r) - W(t0)) dr``,
by descending to the node that has ``v`` as an end; then ``W(ta, tb) = W(tb) - W(ta)`` and torchsde's
``U = int_ta^tb (W(r) - W(ta)) dr = K(tb) - K(ta) - (tb - ta) (W(ta) - W(t0))``. A node between two
consecutive ``times`` is a leaf once ``h <= tol`` (or at level ``MAX_LEVEL``); a time strictly inside
a leaf is reached by one last split of the leaf at that time, from the leaf's own ``X1, X2``.

Exactness: at the ``times``, the ends of ``[t0, t1]`` and the midpoints above the leaves, the values
are exactly those of a Brownian path and its integral, jointly; a time inside a leaf has the exact
law on its own, but two times inside one leaf (closer than ``tol``) are not jointly exact. The same
time always gives the same value. The tree is computed in float64 and cast to ``dtype``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchsde

from .._validation import positive_int
from . import draws

#: Deepest level of the tree: node ids stay below 2^31, so counters ``2 id + 1`` fit in 32 bits.
MAX_LEVEL = 30
#: Deepest level the ``times`` may need (2^24 intervals), leaving at least 6 levels of midpoints.
MAX_TIMES_LEVEL = 24
#: Relative slack of the span: a time within ``SPAN_SLACK * max(1, |t|)`` outside ``[t0, t1]`` (float32
#: rounding of a grid) is read as the nearer end.
SPAN_SLACK = 1e-6
#: How many recently queried points are kept (a torchsde step queries its two ends).
POINT_CACHE = 4


@dataclass(frozen=True, eq=False)
class _Node:
    """Node ``id`` over ``[s, u]``, between ``times[first]`` and ``times[last]``; ``W``, ``H`` its
    increment and space-time Levy area, ``w = W(s) - W(t0)``, ``k = K(s)`` (float64 tensors)."""

    id: int
    s: float
    u: float
    first: int
    last: int
    W: torch.Tensor
    H: torch.Tensor
    w: torch.Tensor
    k: torch.Tensor

    def end(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W(u) - W(t0), K(u))``."""
        h = self.u - self.s
        return self.w + self.W, torch.add(self.k, self.w, alpha=h).add_(torch.add(self.H, self.W, alpha=0.5), alpha=h)


def _time(value, name: str) -> float:
    try:
        t = float(value)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(t):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return t


class CounterBrownian(torchsde.BaseBrownian):
    """Brownian motion on ``[t0, t1]`` of size ``size`` (torchsde's ``(batch, channels)``), with
    space-time Levy area, from counter-based streams keyed by ``seed`` (see the module docstring).

    ``times``: points of ``[t0, t1]`` placed as nodes of the tree, where the path is exact and cheap
    to read (a solver's grid); ``tol``: the length below which a node between two of them is a leaf.
    ``first_sample``: the global index of row 0 (rows ``i`` are samples ``first_sample + i``).
    ``bm(ta, tb)`` is ``W(tb) - W(ta)``, ``bm(ta)`` is ``W(ta) - W(t0)``; ``return_U=True`` adds
    ``U = int_ta^tb (W(r) - W(ta)) dr`` (torchsde's convention, ``U = h (W/2 + H)``).
    """

    def __init__(self, t0: float, t1: float, size: int | tuple[int, ...], seed: int = 0, *,
                 times: torch.Tensor | list[float] | None = None, tol: float = 1e-6,
                 dtype: torch.dtype | None = None, device: torch.device | str | None = None,
                 first_sample: int = 0):
        self.t0, self.t1 = _time(t0, "t0"), _time(t1, "t1")
        if not self.t0 < self.t1:
            raise ValueError(f"t0 must be < t1, got t0={t0!r}, t1={t1!r}")
        size = (size,) if isinstance(size, int) else size
        if (not isinstance(size, (tuple, list, torch.Size)) or len(size) == 0
                or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in size)):
            raise ValueError(f"size must be a tuple of integers >= 1 (torchsde's (batch, channels)), got {size!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
            raise ValueError(f"seed must be an integer in [0, 2^64), got {seed!r}")
        tol = _time(tol, "tol")
        if tol <= 0:
            raise ValueError(f"tol must be > 0, got {tol!r}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self._shape = torch.Size(size)
        self._dtype = dtype
        self._device = torch.empty(0, device=device).device
        self.seed, self.tol = seed, tol
        self.first_sample = positive_int(first_sample, "first_sample", minimum=0)
        self._offset = self.first_sample * math.prod(size[1:])
        self.times = self._knots(times)
        T = self.t1 - self.t0
        z0, z1 = (self._normal(counter) for counter in (0, 1))
        zero = torch.zeros_like(z0)
        self._root = _Node(1, self.t0, self.t1, 0, len(self.times) - 1, math.sqrt(T) * z0,
                           math.sqrt(T / 12.0) * z1, zero, zero)
        self._splits: dict[int, tuple[_Node, _Node]] = {}
        self._points: dict[float, tuple[torch.Tensor, torch.Tensor]] = {}

    def _knots(self, times) -> list[float]:
        """``[t0, *times, t1]`` as floats, sorted and without repeats."""
        if times is None:
            return [self.t0, self.t1]
        values = torch.as_tensor(times, dtype=torch.float64).flatten().cpu()
        if not bool(torch.isfinite(values).all()):
            raise ValueError("times must be finite")
        if values.numel() and (float(values.min()) < self.t0 or float(values.max()) > self.t1):
            raise ValueError(f"times must lie in [t0, t1] = [{self.t0}, {self.t1}], got "
                             f"[{float(values.min())}, {float(values.max())}]")
        knots = torch.unique(torch.cat([values, torch.tensor([self.t0, self.t1], dtype=torch.float64)]))
        if knots.numel() - 1 > 2**MAX_TIMES_LEVEL:
            raise ValueError(f"times may split [t0, t1] into at most 2^{MAX_TIMES_LEVEL} intervals, "
                             f"got {knots.numel() - 1}")
        return knots.tolist()

    # ----------------------------------------------------------------- torchsde interface
    @property
    def shape(self) -> torch.Size:
        return self._shape

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def levy_area_approximation(self) -> str:
        return "space-time"

    def __repr__(self) -> str:
        return (f"CounterBrownian(t0={self.t0}, t1={self.t1}, size={tuple(self._shape)}, seed={self.seed}, "
                f"times={len(self.times) - 2} inner, tol={self.tol}, dtype={self._dtype}, device={self._device})")

    def __call__(self, ta: float, tb: float | None = None, return_U: bool = False,
                 return_A: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``W(tb) - W(ta)`` (``W(ta) - W(t0)`` without ``tb``), with ``U`` if ``return_U``."""
        if return_A:
            raise ValueError("return_A needs levy_area_approximation 'davie' or 'foster'; "
                             "CounterBrownian gives the space-time Levy area (return_U)")
        if tb is None:
            ta, tb = self.t0, self._clamp(_time(ta, "ta"), "ta")
        else:
            ta, tb = self._clamp(_time(ta, "ta"), "ta"), self._clamp(_time(tb, "tb"), "tb")
        if ta > tb:
            raise ValueError(f"ta must be <= tb, got ta={ta}, tb={tb}")
        wa, ka = self._point(ta)
        wb, kb = self._point(tb)
        W = (wb - wa).to(self._dtype)
        if not return_U:
            return W
        return W, (kb - ka - (tb - ta) * wa).to(self._dtype)

    # ----------------------------------------------------------------- the tree
    def _clamp(self, t: float, name: str) -> float:
        """``t``, or the nearer end of ``[t0, t1]`` when within ``SPAN_SLACK`` outside it."""
        slack = SPAN_SLACK * max(1.0, abs(t))
        if self.t0 - slack <= t < self.t0:
            return self.t0
        if self.t1 < t <= self.t1 + slack:
            return self.t1
        if not self.t0 <= t <= self.t1:
            raise ValueError(f"{name} must lie in the Brownian motion's span [t0, t1] = [{self.t0}, {self.t1}], "
                             f"got {t}")
        return t

    def _normal(self, counter: int) -> torch.Tensor:
        return draws.normal(tuple(self._shape), self.seed, counter, dtype=torch.float64, device=self._device,
                            offset=self._offset)

    def _is_leaf(self, node: _Node) -> bool:
        if node.last - node.first > 1:
            return False
        mid = 0.5 * (node.s + node.u)
        return (node.u - node.s <= self.tol or node.id.bit_length() - 1 >= MAX_LEVEL
                or not node.s < mid < node.u)

    def _split(self, node: _Node, m: float, first_mid: int, last_mid: int) -> tuple[_Node, _Node]:
        """The children of ``node`` split at ``m`` (module docstring); knot range ``[first, first_mid]``
        on the left, ``[last_mid, last]`` on the right."""
        s, u = node.s, node.u
        h, a, b = u - s, m - s, u - m
        D = h * h - 3.0 * a * b
        l11 = math.sqrt(a * b * D / h**3)
        x1, x2 = self._normal(2 * node.id), self._normal(2 * node.id + 1)
        W1 = torch.add((a / h) * node.W, node.H, alpha=6.0 * a * b / h**2).add_(x1, alpha=l11)
        H1 = (torch.add((a / h) ** 2 * node.H, x1, alpha=-a**3 * b / (2.0 * h**3 * l11))
              .add_(x2, alpha=math.sqrt(a * b**3 / (12.0 * h * D))))
        W2 = node.W - W1
        H2 = (torch.add((b / h) ** 2 * node.H, x1, alpha=-a * b**3 / (2.0 * h**3 * l11))
              .add_(x2, alpha=-math.sqrt(a**3 * b / (12.0 * h * D))))
        left = _Node(2 * node.id, s, m, node.first, first_mid, W1, H1, node.w, node.k)
        right = _Node(2 * node.id + 1, m, u, last_mid, node.last, W2, H2, node.w + W1,
                      torch.add(node.k, node.w, alpha=a).add_(torch.add(H1, W1, alpha=0.5), alpha=a))
        return left, right

    def _children(self, node: _Node) -> tuple[_Node, _Node]:
        """``node``'s children at its split point (a middle ``times`` point, else the midpoint), cached."""
        if node.id not in self._splits:
            if node.last - node.first > 1:
                mid = (node.first + node.last) // 2
                self._splits[node.id] = self._split(node, self.times[mid], mid, mid)
            else:
                self._splits[node.id] = self._split(node, 0.5 * (node.s + node.u), node.first, node.last)
        return self._splits[node.id]

    def _point(self, v: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W(v) - W(t0), K(v))``: descend from the root; keep the splits along the path."""
        if v in self._points:
            return self._points[v]
        node, path = self._root, {1}
        while True:
            if v == node.s:
                value = node.w, node.k
                break
            if v == node.u:
                value = node.end()
                break
            if self._is_leaf(node):
                right = self._split(node, v, node.first, node.last)[1]
                value = right.w, right.k
                break
            left, right = self._children(node)
            node = left if v < right.s else right
            path.add(node.id)
        self._splits = {i: pair for i, pair in self._splits.items() if i in path}
        if len(self._points) >= POINT_CACHE:
            del self._points[next(iter(self._points))]
        self._points[v] = value
        return value


def _span(bm) -> tuple[float, float] | None:
    """The time span of a Brownian motion where it can be read: ``t0``, ``t1`` attributes, or a
    torchsde ``BrownianInterval`` or ``BrownianTree``; ``None`` otherwise."""
    if hasattr(bm, "t0") and hasattr(bm, "t1"):
        return float(bm.t0), float(bm.t1)
    interval = bm._interval if isinstance(bm, torchsde.BrownianTree) else bm
    if isinstance(interval, torchsde.BrownianInterval):
        return float(interval._start), float(interval._end)
    return None


def check_brownian_motion(bm, size: tuple[int, ...], t0: float, t1: float) -> None:
    """Raise a ``ValueError`` naming ``bm`` unless it is callable, its ``shape`` (where it has one) is
    ``size`` and its span (where it can be read, see ``_span``) covers ``[t0, t1]``."""
    if not callable(bm):
        raise ValueError(f"bm must be a Brownian motion callable as bm(ta, tb), got {type(bm).__name__}")
    shape = getattr(bm, "shape", None)
    if shape is not None and tuple(shape) != tuple(size):
        raise ValueError(f"bm must have size (n, d) = {tuple(size)} (n samples, d entries per sample), "
                         f"got {tuple(shape)}")
    span = _span(bm)
    if span is not None:
        slack = SPAN_SLACK * max(1.0, abs(t0), abs(t1))
        if span[0] > t0 + slack or span[1] < t1 - slack:
            raise ValueError(f"bm must span the grid's times [{t0}, {t1}], got a Brownian motion over "
                             f"[{span[0]}, {span[1]}]")
