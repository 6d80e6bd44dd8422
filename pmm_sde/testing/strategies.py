"""Hypothesis strategies for valid PMM objects (requires the ``hypothesis`` package).

Families, per-step information, schedules, step grids, data points, targets with exact oracles,
predictors and posterior states: every object drawn is valid input to the package, so a property
test states what must hold for all of them. Tensors are float64. Example:

    from hypothesis import given
    from pmm_sde.testing import strategies as pst

    @given(family=pst.families(), data=st.data())
    def test_state_is_valid(family, data):
        state = data.draw(pst.posterior_states(family))
        ...
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from hypothesis import strategies as st

from .. import schedules as sched
from .._validation import real_tensor
from .. import targets as tg
from ..families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal
from ..grids import GRIDS, make_grid

F64 = torch.float64
_positive = st.floats(min_value=0.05, max_value=20.0, allow_nan=False, allow_infinity=False)
_real = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False, allow_infinity=False)


@st.composite
def normal_families(draw) -> NormalNormal:
    """``NormalNormal(mean, precision)``, mean in [-5, 5], precision in [0.05, 20]."""
    return NormalNormal(mean=draw(_real), precision=draw(_positive))


@st.composite
def gamma_poisson_families(draw) -> GammaPoisson:
    """``GammaPoisson(concentration, rate)``, both in [0.05, 20]."""
    return GammaPoisson(concentration=draw(_positive), rate=draw(_positive))


@st.composite
def dirichlet_families(draw, max_classes: int = 6) -> DirichletCategorical:
    """``DirichletCategorical(K, concentration)``, K in [2, max_classes], concentrations in [0.05, 20]."""
    k = draw(st.integers(min_value=2, max_value=max_classes))
    conc = draw(st.lists(_positive, min_size=k, max_size=k))
    return DirichletCategorical(k, concentration=torch.tensor(conc))


def families() -> st.SearchStrategy:
    """Any of the three conjugate families with valid random parameters."""
    return st.one_of(normal_families(), gamma_poisson_families(), dirichlet_families())


def alphas(min_size: int = 1, max_size: int = 8, max_value: float = 10.0) -> st.SearchStrategy:
    """Per-step information: lists of values in [0, max_value] (zero steps included)."""
    return st.lists(st.floats(min_value=0.0, max_value=max_value, allow_nan=False), min_size=min_size,
                    max_size=max_size)


def schedules(min_total: float = 0.1, max_total: float = 1e5) -> st.SearchStrategy:
    """Linear, Power (power in [0.25, 4]) and Exponential schedules with ``A(1)`` in [min_total, max_total]."""
    total = st.floats(min_value=min_total, max_value=max_total)
    return st.one_of(
        total.map(sched.Linear),
        st.tuples(total, st.floats(min_value=0.25, max_value=4.0)).map(lambda a: sched.Power(*a)),
        total.map(sched.Exponential),
    )


@st.composite
def grids(draw, schedule, min_steps: int = 1, max_steps: int = 32) -> torch.Tensor:
    """Step grids ``0 = t_0 < ... < t_N = 1`` (float64) with N in [min_steps, max_steps].

    Either a named grid of ``pmm_sde.grids`` for ``schedule`` or random times on a lattice of
    spacing 1/1024: the grids ``sample(process, grid=...)`` accepts.
    """
    steps = draw(st.integers(min_value=min_steps, max_value=max_steps))
    kinds = [k for k in GRIDS if k != "edm" or schedule.total ** -0.5 < 80.0]
    kind = draw(st.sampled_from(kinds + ["random"]))
    if kind != "random":
        return make_grid(schedule, steps, kind)
    inner = draw(st.lists(st.integers(min_value=1, max_value=1023), min_size=steps - 1, max_size=steps - 1,
                          unique=True))
    return torch.tensor([0.0] + sorted(k / 1024 for k in inner) + [1.0], dtype=F64)


def _support_point(family: ConjugateFamily, shape: tuple[int, ...], interior: bool = False) -> st.SearchStrategy:
    """One point of the family's support, shape ``shape`` (``(*shape, K)`` for Dirichlet-Categorical);
    ``interior``: entries bounded away from 0 (Gamma-Poisson, Dirichlet-Categorical)."""
    size = int(torch.Size(shape).numel())
    low = 0.05 if interior else 0.0
    if isinstance(family, NormalNormal):
        return st.lists(_real, min_size=size, max_size=size).map(lambda v: torch.tensor(v, dtype=F64).reshape(shape))
    if isinstance(family, GammaPoisson):
        values = st.floats(min_value=low, max_value=20.0)
        return st.lists(values, min_size=size, max_size=size).map(lambda v: torch.tensor(v, dtype=F64).reshape(shape))
    k = family.num_classes
    weights = st.lists(st.floats(min_value=low, max_value=1.0), min_size=k, max_size=k).filter(lambda w: sum(w) > 1e-3)

    def simplex(rows):
        w = torch.tensor(rows, dtype=F64)
        return (w / w.sum(-1, keepdim=True)).reshape(*shape, k)

    return st.lists(weights, min_size=size, max_size=size).map(simplex)


@st.composite
def data_points(draw, family, n: int = 1, interior: bool = False) -> torch.Tensor:
    """``n`` points x in the family's support: reals, non-negative reals, or probability vectors
    (shape ``(n,)``, or ``(n, K)`` for Dirichlet-Categorical). ``interior``: entries at least
    0.05 (before normalisation), so that no count is a rare event."""
    return draw(_support_point(family, (n,), interior))


def _tensor(values, shape) -> torch.Tensor:
    return torch.tensor(values, dtype=F64).reshape(shape)


def _weights(m: int) -> st.SearchStrategy:
    return st.lists(st.floats(min_value=0.05, max_value=1.0), min_size=m, max_size=m).map(
        lambda w: torch.tensor(w, dtype=F64) / sum(w))


@st.composite
def targets(draw, family, shape: tuple[int, ...] = (), bounded: bool = False, max_components: int = 3):
    """Targets with an exact oracle for ``family`` and data points of shape ``shape``.

    NormalNormal: ``Gaussian``, ``GaussianMixture``, ``PointMasses``; GammaPoisson: ``Gamma``,
    ``GammaMixture``, ``PointMasses`` (values in [0.05, 5]); DirichletCategorical: ``Categorical``,
    ``PointMasses`` on the simplex. Class probabilities and point values are bounded away from 0,
    so every posterior state of the family has positive likelihood and a finite oracle.
    ``bounded=True`` keeps the targets whose predictor has an ``xhat_max`` (point masses,
    categories), as thinning needs.
    """
    shape = tuple(shape)
    size = int(torch.Size(shape).numel())
    m = draw(st.integers(min_value=1, max_value=max_components))

    def fill(strategy, count, event_shape):
        return _tensor(draw(st.lists(strategy, min_size=count, max_size=count)), event_shape)

    if isinstance(family, DirichletCategorical):
        k = family.num_classes
        points = _support_point(family, (m, *shape), interior=True)
        if draw(st.booleans()):
            return tg.Categorical(draw(_support_point(family, shape, interior=True)))
        return tg.PointMasses(draw(_weights(m)), draw(points).reshape(m, *shape, k))
    kind = draw(st.sampled_from(["points"] if bounded else ["single", "mixture", "points"]))
    if isinstance(family, NormalNormal):
        means, stds = st.floats(-3.0, 3.0), st.floats(0.1, 3.0)
        if kind == "single":
            return tg.Gaussian(fill(means, size, shape), fill(stds, size, shape))
        if kind == "mixture":
            return tg.GaussianMixture(draw(_weights(m)), fill(means, m * size, (m, *shape)),
                                      fill(stds, m * size, (m, *shape)))
        return tg.PointMasses(draw(_weights(m)), fill(means, m * size, (m, *shape)))
    if isinstance(family, GammaPoisson):
        concentrations, rates = st.floats(0.5, 10.0), st.floats(0.5, 5.0)
        if kind == "single":
            return tg.Gamma(fill(concentrations, size, shape), fill(rates, size, shape))
        if kind == "mixture":
            return tg.GammaMixture(draw(_weights(m)), fill(concentrations, m * size, (m, *shape)),
                                   fill(rates, m * size, (m, *shape)))
        return tg.PointMasses(draw(_weights(m)), fill(st.floats(0.05, 5.0), m * size, (m, *shape)))
    raise ValueError(f"family: no targets for {type(family).__name__}; give a NormalNormal, GammaPoisson or "
                     f"DirichletCategorical instance")


class ConstantPredictor:
    """The predictor ``xhat(mu, A) = x`` for a fixed point x of the support: the chain given x.

    With it every exact frozen-predictor step (``pmm_chain``, ``tau_leap``) is exact, and the state
    after information A follows the family's closed-form law given x. ``xhat_max = max(x)``.
    """

    def __init__(self, x: torch.Tensor):
        """``x``: a finite, non-empty real tensor (or number, or array)."""
        self.x = real_tensor(x, "x")
        self.xhat_max = float(self.x.max())

    def __call__(self, mu: torch.Tensor, A) -> torch.Tensor:
        return self.x.to(mu).expand_as(mu)

    def __repr__(self) -> str:
        return f"ConstantPredictor({self.x.tolist()})"


@st.composite
def predictors(draw, family, shape: tuple[int, ...] = (), bounded: bool = False):
    """Valid predictors ``xhat(mu, A)`` for ``family``: a random target's exact oracle
    (see ``targets``) or a ``ConstantPredictor`` at a random point of the support."""
    if draw(st.booleans()):
        return draw(targets(family, shape, bounded=bounded)).predictor(family)
    return ConstantPredictor(draw(_support_point(family, tuple(shape), interior=bounded)))


class PosteriorState(NamedTuple):
    """A data point x and posterior states drawn given it: ``mu`` of shape ``(n, *state)`` and
    ``A``, the information a predictor is given (0-dim, or events per position ``(n, 1)``)."""

    x: torch.Tensor
    mu: torch.Tensor
    A: torch.Tensor


@st.composite
def posterior_states(draw, family, n: int = 4, shape: tuple[int, ...] = (),
                     max_information: float = 100.0) -> PosteriorState:
    """Posterior states given a random x after a random cumulative information A in
    [0, max_information], drawn from the closed-form training law ``family.sample_state``:
    ``(mu, A)`` with ``S | x ~ statistic_law(x, A)`` and ``mu = (n0 mu0 + S) / (n0 + A)``."""
    x = draw(_support_point(family, tuple(shape)))
    A = draw(st.floats(min_value=0.0, max_value=max_information))
    generator = torch.Generator().manual_seed(draw(st.integers(min_value=0, max_value=2**31 - 1)))
    fam = family.cast(x)
    mu, info = fam.sample_state(x.expand(n, *x.shape), torch.tensor(A, dtype=F64), generator)
    return PosteriorState(x, mu, info)
