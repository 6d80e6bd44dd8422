"""Exact laws of the count ``N_T`` of a one-dimensional Gamma-Poisson process, for weak errors
without Monte Carlo noise.

The state of a one-dimensional Gamma-Poisson process at a grid time is its count ``N`` (``mu =
(a0 + N) / (b0 + A)``), so the law of ``N_T`` under a tau-leaping scheme is a pmf propagated
through each step's transition matrix on a truncated support ``{0, .., S - 1}``:

    tau_leap:    K[n, m] = Poisson(m - n; dA xhat(n, A0)),
    tau_leap_2:  K[n, m] = sum_j Poisson(j - n; dA/2 xhat(n, A0))
                                 Poisson(m - j; dA/2 max(2 xhat(j, A0 + dA/2) - xhat(n, A0), 0)),

    nb_leap:     K[n, m] = NegativeBinomial(m - n; xhat(n, A0) / d_n, 1 / (1 + dA d_n)),
                 d_n = max(xhat(n + 1, A0) - xhat(n, A0), 0)   (Poisson(m - n; dA xhat(n, A0)) where d_n = 0),

the step equations of ``TauLeap``, ``TauLeap2`` and ``NegativeBinomialLeap``, with ``xhat(n, A)`` the
predictor at the state of count ``n`` (evaluated on ``{0, .., S}``). The target's own law: for a Gamma mixture ``sum_m w_m Gamma(a_m, b_m)``,
``N_T ~ sum_m w_m NegativeBinomial(a_m, b_m / (b_m + A_T))`` (pmm-notes fact 12 per component);
for point masses ``sum_m w_m delta(v_m)``, ``N_T ~ sum_m w_m Poisson(A_T v_m)``.
A law that leaves more than ``TAIL_TOLERANCE`` of its mass beyond the support raises.

Dirichlet-Categorical (``CategoricalCountLaws``, ``simplex_target_count_law``): the joint law of the
class counts of one or two positions, under ``tau_leap`` and ``dirichlet_leap`` (the kernel: the
comment before ``count_states``), and for Categorical and point-mass targets, on every count
vector of at most ``max_events`` events per position.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from scipy import sparse, special, stats

from .._validation import as_float_tensor, positive_int
from ..grids import make_grid, validate_times
from ..processes import GammaPoissonCoxSDE
from ..solvers import REGISTRY
from ..targets import Categorical, Gamma, GammaMixture, PointMasses

#: The most probability mass a truncated law may lose beyond its support.
TAIL_TOLERANCE = 1e-9


def poisson_kernel(rates: np.ndarray, support: int) -> np.ndarray:
    """``K[..., n, m] = Poisson(m - n; rates[..., n])`` for ``n, m < support``."""
    jumps = np.arange(1, support)
    pmf = np.exp(-rates)[..., None] * np.concatenate(
        [np.ones(rates.shape + (1,)), np.cumprod(rates[..., None] / jumps, axis=-1)], axis=-1)
    offset = np.arange(support)[None, :] - np.arange(support)[:, None]
    kernel = np.take_along_axis(pmf, np.broadcast_to(np.maximum(offset, 0), pmf.shape), axis=-1)
    return np.where(offset >= 0, kernel, 0.0)


def _exposure(A) -> float:
    """``A`` checked: a finite number >= 0."""
    information = as_float_tensor(A, "A", torch.float64)
    if information.numel() != 1 or not float(information) >= 0:
        raise ValueError(f"A must be a finite number >= 0, got {A!r}")
    return float(information)


def _checked(law: np.ndarray, what: str) -> np.ndarray:
    lost = 1.0 - law.sum()
    if lost > TAIL_TOLERANCE:
        raise ValueError(f"{what} loses {lost:.2e} of its mass beyond the support of {law.size} counts; "
                         f"raise support")
    return law


def target_count_law(target: Gamma | GammaMixture | PointMasses, A: float, support: int) -> np.ndarray:
    """pmf of ``N(A)`` on ``{0, .., support - 1}`` for a scalar Gamma, Gamma-mixture or point-mass target;
    ``A`` a finite number >= 0, ``support`` an int >= 1."""
    A = _exposure(A)
    k = np.arange(positive_int(support, "support"))
    if isinstance(target, (Gamma, GammaMixture)):
        mixture = isinstance(target, GammaMixture)
        weights = target.weights.tolist() if mixture else [1.0]
        a = (target.concentrations if mixture else target.concentration).reshape(-1).tolist()
        b = (target.rates if mixture else target.rate).reshape(-1).tolist()
        components = [stats.nbinom(ai, bi / (bi + A)) for ai, bi in zip(a, b)]
    elif isinstance(target, PointMasses):
        weights, components = target.weights.tolist(), [stats.poisson(A * v) for v in target.values.reshape(-1).tolist()]
    else:
        raise ValueError(f"target must be a scalar Gamma, GammaMixture or PointMasses, got {type(target).__name__}")
    if len(components) != len(weights):
        raise ValueError("target must be one-dimensional (scalar components)")
    return _checked(sum(w * c.pmf(k) for w, c in zip(weights, components)), "the target's count law")


def _tau_leap(xhat, A0: float, A1: float, support: int) -> np.ndarray:
    return poisson_kernel((A1 - A0) * xhat(A0)[:support], support)


def _tau_leap_2(xhat, A0: float, A1: float, support: int) -> np.ndarray:
    half = 0.5 * (A1 - A0)
    x0 = xhat(A0)[:support]
    second = half * np.maximum(2.0 * xhat(A0 + half)[None, :support] - x0[:, None], 0.0)
    return np.einsum("nj,njm->nm", poisson_kernel(half * x0, support), poisson_kernel(second, support))


def _nb_leap(xhat, A0: float, A1: float, support: int) -> np.ndarray:
    x = xhat(A0)
    x0, slope = x[:support], np.maximum(np.diff(x), 0.0)
    spread = slope > 0
    safe = np.where(spread, slope, 1.0)
    offset = np.arange(support)[None, :] - np.arange(support)[:, None]
    negative_binomial = stats.nbinom.pmf(np.maximum(offset, 0), (x0 / safe)[:, None], (1.0 / (1.0 + (A1 - A0) * safe))[:, None])
    return np.where(spread[:, None], np.where(offset >= 0, negative_binomial, 0.0), poisson_kernel((A1 - A0) * x0, support))


SCHEME_KERNELS = {"tau_leap": _tau_leap, "tau_leap_2": _tau_leap_2, "nb_leap": _nb_leap}


def scheme_count_law(process: GammaPoissonCoxSDE, solver: str, steps: int, support: int,
                     grid: str | torch.Tensor | None = None) -> np.ndarray:
    """pmf of ``N_T`` under ``solver`` (``"tau_leap"``, ``"tau_leap_2"`` or ``"nb_leap"``) with ``steps``
    steps on ``grid`` (default: the solver's default grid; or a tensor of times), for a one-dimensional
    Gamma-Poisson ``process``."""
    if not isinstance(solver, str) or solver not in SCHEME_KERNELS:
        raise ValueError(f"solver must be one of {sorted(SCHEME_KERNELS)}, got {solver!r}")
    support = positive_int(support, "support")
    if not isinstance(process, GammaPoissonCoxSDE) or process.counts_information:
        raise ValueError("process must be a Gamma-Poisson process")
    if process.shape not in ((), (1,)):
        raise ValueError(f"process must be one-dimensional, got shape {process.shape}")
    N = torch.arange(support + 1, dtype=torch.float64)
    family = process.family.cast(N)

    def xhat(A: float) -> np.ndarray:
        A = torch.tensor(A, dtype=torch.float64)
        mu = family.posterior_mean(N.reshape(-1, *process.shape), A)
        return process.predictor(mu, A).reshape(-1).double().numpy()

    if isinstance(grid, torch.Tensor):
        times = validate_times(grid)
        if len(times) != steps + 1:
            raise ValueError(f"steps must be the grid's {len(times) - 1} intervals, got {steps}")
    else:
        times = make_grid(process.schedule, steps, grid or REGISTRY[solver].default_grid)
    A = process.schedule.A(times).double().numpy()
    law = np.eye(support)[0]
    for A0, A1 in zip(A[:-1], A[1:]):
        law = law @ SCHEME_KERNELS[solver](xhat, float(A0), float(A1), support)
    return _checked(law, f"the count law of {solver} at {steps} steps")


# ---------------------------------------------------------------- Dirichlet-Categorical: class counts
#
# A position's state is its class counts C (the oracle reads C alone), and every scheme draws
# Poisson(dA) events per position whatever the state, so a step's kernel is
#     K[C, C'] = sum over first events e of  prod_i Poisson(|C'_i| - |C_i|; dA) comp_i^e[C, C'_i],
# with a dA-free composition: tau_leap's Multinomial(C'_i - C_i; xhat_i(C)) (one e: none), and
# dirichlet_leap's, per position, no event (C'_i = C_i) or a first event of class j with probability
# xhat_ij(C) and the rest DirichletMultinomial(C'_i - C_i - e_j; s xhat_i(C + e)) (the state after
# every position's first event; s the step's concentration, inf where there is no spread).

#: The schemes of ``categorical_scheme_count_law``.
CATEGORICAL_SCHEMES = ("tau_leap", "dirichlet_leap")


def count_states(classes: int, max_events: int) -> np.ndarray:
    """Every class-count vector of a position with at most ``max_events`` events, ``(S, classes)``,
    in order of their total."""
    classes, max_events = positive_int(classes, "classes"), positive_int(max_events, "max_events", minimum=0)
    grid = np.stack(np.meshgrid(*[np.arange(max_events + 1)] * classes, indexing="ij"), -1).reshape(-1, classes)
    grid = grid[grid.sum(-1) <= max_events]
    return grid[np.argsort(grid.sum(-1), kind="stable")]


def _positions_and_classes(target) -> tuple[int, int]:
    if isinstance(target, Categorical):
        probs = target.probs
    elif isinstance(target, PointMasses):
        probs = target.values[0]
    else:
        raise ValueError(f"target must be a Categorical or PointMasses (values on the simplex), got "
                         f"{type(target).__name__}")
    return math.prod(probs.shape[:-1]), probs.shape[-1]


def simplex_target_count_law(target: Categorical | PointMasses, A: float, max_events: int) -> np.ndarray:
    """Joint pmf of the class counts at exposure ``A`` of a Categorical or point-mass target of at most
    two positions, on ``count_states(K, max_events)`` per position (shape ``(S,) * positions``):
    ``sum_m w_m prod_{i,k} Poisson(C_ik; A v_mik)``, the Categorical's atoms being its one-hot
    vectors, independent across positions."""
    positions, classes = _positions_and_classes(target)
    _check_positions(positions)
    A = _exposure(A)
    states = count_states(classes, max_events)

    def single(v: np.ndarray) -> np.ndarray:  # one position: prod_k Poisson(C_k; A v_k)
        return np.prod(stats.poisson.pmf(states, A * v), axis=-1)

    def independent(laws: list[np.ndarray]) -> np.ndarray:
        return laws[0] if len(laws) == 1 else np.multiply.outer(laws[0], laws[1])

    if isinstance(target, Categorical):  # independent positions, each a mixture of its one-hot atoms
        probs = target.probs.reshape(positions, classes).double().numpy()
        law = independent([sum(p[j] * single(np.eye(classes)[j]) for j in range(classes)) for p in probs])
    else:
        values = target.values.reshape(-1, positions, classes).double().numpy()
        law = sum(w * independent([single(v_i) for v_i in v]) for w, v in zip(target.weights.double().tolist(), values))
    return _checked(law, "the target's count law")


def _check_positions(positions: int) -> None:
    if positions not in (1, 2):
        raise ValueError(f"exact class-count laws are computed for 1 or 2 positions, got {positions}")


def _log_rising(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``log(a (a + 1) .. (a + r - 1))`` (0 where r = 0, -inf where a = 0 < r), summed as logs."""
    out = np.zeros(np.broadcast_shapes(a.shape, r.shape))
    with np.errstate(divide="ignore"):
        for i in range(int(r.max(initial=0))):
            out = out + np.where(r > i, np.log(np.where(r > i, a + i, 1.0)), 0.0)
    return out


def _composition(r: np.ndarray, mean: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """pmf of the class counts ``r >= 0`` (``(..., K)``) given their total: DirichletMultinomial with
    parameters ``strength * mean`` (Multinomial(mean) where strength is inf)."""
    m = r.sum(-1)
    log_pmf = special.gammaln(m + 1.0) - special.gammaln(r + 1.0).sum(-1)
    finite = np.isfinite(strength)
    s = np.where(finite, strength, 1.0)
    dirichlet = _log_rising(s[..., None] * mean, r).sum(-1) - _log_rising(s, m)
    multinomial = special.xlogy(r, mean).sum(-1)
    return np.exp(log_pmf + np.where(finite, dirichlet, multinomial))


class CategoricalCountLaws:
    """Exact laws of the class counts under ``solver`` (``"tau_leap"`` or ``"dirichlet_leap"``) for a
    Dirichlet-Categorical ``process`` of 1 or 2 positions, on ``count_states(K, max_events)`` per
    position: the step kernel's compositions (the comment above) are computed once, then ``law``
    pushes the pmf through any grid."""

    def __init__(self, process: GammaPoissonCoxSDE, solver: str, max_events: int):
        if not isinstance(solver, str) or solver not in CATEGORICAL_SCHEMES:
            raise ValueError(f"solver must be one of {list(CATEGORICAL_SCHEMES)}, got {solver!r}")
        if not isinstance(process, GammaPoissonCoxSDE) or not process.counts_information:
            raise ValueError("process must be a Dirichlet-Categorical process")
        self.process, self.solver = process, solver
        self.positions, classes = math.prod(process.shape), process.family.num_classes
        _check_positions(self.positions)
        self.states = states = count_states(classes, max_events)
        S = len(states)
        self.joint = joint = np.stack(np.unravel_index(np.arange(S ** self.positions), (S,) * self.positions), -1)
        family = process.family.cast(torch.zeros((), dtype=torch.float64))

        def xhat(C: np.ndarray) -> np.ndarray:  # (n, L, K) class counts -> predictions
            counts = torch.as_tensor(C, dtype=torch.float64).reshape(len(C), *process.shape, classes)
            mu, A = family.state_from_statistic(counts, counts.sum(-1, keepdim=True))
            return process.predictor(mu, A).reshape(len(C), self.positions, classes).double().numpy()

        C = states[joint]  # (S^L, L, K)
        xhat0 = xhat(C)
        below, above = np.nonzero((states[None, :, :] >= states[:, None, :]).all(-1))  # C_i <= C'_i, per position
        combos = ([(None,) * self.positions] if solver == "tau_leap"
                  else list(itertools.product([None, *range(classes)], repeat=self.positions)))
        self.compositions = []
        for combo in combos:
            first = np.stack([np.zeros(classes, dtype=np.int64) if j is None else np.eye(classes, dtype=np.int64)[j]
                              for j in combo])
            after = xhat(C + first) if any(j is not None for j in combo) else xhat0
            per_position = []
            for i, j in enumerate(combo):
                comp = np.zeros((len(joint), S))
                for a in range(S):  # the joint states whose position i holds states[a]
                    rows = np.nonzero(joint[:, i] == a)[0]
                    outs = above[below == a]
                    r = states[outs] - states[a] - first[i]
                    ok = (r >= 0).all(-1)
                    outs, r = outs[ok], r[ok]
                    if solver == "tau_leap":
                        values = _composition(r[None], xhat0[rows, i, None, :], np.full((len(rows), len(r)), np.inf))
                    elif j is None:
                        values = np.broadcast_to((r == 0).all(-1).astype(float), (len(rows), len(r)))
                    else:
                        x0, x1 = xhat0[rows, i, j], after[rows, i, j]
                        spread = x1 > x0
                        strength = np.where(spread, np.maximum((1.0 - x0) / np.where(spread, x1 - x0, 1.0), 1.0),
                                            np.inf)
                        values = x0[:, None] * _composition(r[None], after[rows, i, None, :],
                                                            np.broadcast_to(strength[:, None], (len(rows), len(r))))
                    comp[rows[:, None], outs[None, :]] = values
                per_position.append(comp)
            self.compositions.append(per_position)
        totals = states.sum(-1)
        jumps = totals[None, :] - totals[:, None]
        self.jumps = np.where(jumps >= 0, jumps, -1)  # (S, S): |C'| - |C| of a position; -1 (weight 0) below
        if self.positions == 1:  # one kernel, sparse: its entries and their jumps
            self.single = sparse.csr_matrix(sum(per_position[0] for per_position in self.compositions))
            self.single_jumps = self.jumps[np.repeat(np.arange(S), np.diff(self.single.indptr)), self.single.indices]

    def law(self, steps: int, grid: str | torch.Tensor | None = None) -> np.ndarray:
        """Joint pmf ``(S,) * positions`` of the class counts at the end of ``grid`` (a grid name, default
        the solver's, or a tensor of times) with ``steps`` steps."""
        process, S, L = self.process, len(self.states), self.positions
        if isinstance(grid, torch.Tensor):
            times = validate_times(grid)
            if len(times) != steps + 1:
                raise ValueError(f"steps must be the grid's {len(times) - 1} intervals, got {steps}")
        else:
            times = make_grid(process.schedule, positive_int(steps, "steps"),
                              grid or REGISTRY[self.solver].default_grid)
        A = process.schedule.A(times).double().numpy()
        law = np.zeros(S ** L)
        law[0] = 1.0
        for A0, A1 in zip(A[:-1], A[1:]):
            poisson = np.append(stats.poisson.pmf(np.arange(S), float(A1 - A0)), 0.0)  # [-1] = 0: no jump down
            if L == 1:
                kernel = sparse.csr_matrix((self.single.data * poisson[self.single_jumps], self.single.indices,
                                            self.single.indptr), shape=(S, S))
                law = kernel.T @ law
                continue
            weight, step = poisson[self.jumps], np.zeros(S ** L)
            for first, second in self.compositions:
                step += ((law[:, None] * first * weight[self.joint[:, 0]]).T
                         @ (second * weight[self.joint[:, 1]])).reshape(-1)
            law = step
        return _checked(law.reshape((S,) * L), f"the class-count law of {self.solver} at {steps} steps")


def categorical_scheme_count_law(process: GammaPoissonCoxSDE, solver: str, steps: int, max_events: int,
                                 grid: str | torch.Tensor | None = None) -> np.ndarray:
    """``CategoricalCountLaws(process, solver, max_events).law(steps, grid)``: one law."""
    return CategoricalCountLaws(process, solver, max_events).law(steps, grid)
