"""Hypothesis strategies for valid PMM objects (requires the ``hypothesis`` package)."""

from __future__ import annotations

import torch
from hypothesis import strategies as st

from .. import schedules as sched
from ..families import DirichletCategorical, GammaPoisson, NormalNormal

_positive = st.floats(min_value=0.05, max_value=20.0, allow_nan=False, allow_infinity=False)
_real = st.floats(min_value=-5.0, max_value=5.0, allow_nan=False, allow_infinity=False)


@st.composite
def normal_families(draw) -> NormalNormal:
    return NormalNormal(mean=draw(_real), precision=draw(_positive))


@st.composite
def gamma_poisson_families(draw) -> GammaPoisson:
    return GammaPoisson(concentration=draw(_positive), rate=draw(_positive))


@st.composite
def dirichlet_families(draw, max_classes: int = 6) -> DirichletCategorical:
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


def schedules() -> st.SearchStrategy:
    """Linear, Power and Exponential schedules with totals between 1e-1 and 1e5."""
    total = st.floats(min_value=0.1, max_value=1e5)
    return st.one_of(
        total.map(sched.Linear),
        st.tuples(total, st.floats(min_value=0.25, max_value=4.0)).map(lambda a: sched.Power(*a)),
        total.map(sched.Exponential),
    )


@st.composite
def data_points(draw, family, n: int = 1) -> torch.Tensor:
    """Points x in the family's support: reals, non-negative reals, or probability vectors."""
    if isinstance(family, NormalNormal):
        values = draw(st.lists(_real, min_size=n, max_size=n))
        return torch.tensor(values, dtype=torch.float64)
    if isinstance(family, GammaPoisson):
        values = draw(st.lists(st.floats(min_value=0.0, max_value=20.0), min_size=n, max_size=n))
        return torch.tensor(values, dtype=torch.float64)
    k = family.num_classes
    weights = draw(st.lists(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=k, max_size=k)
                            .filter(lambda w: sum(w) > 1e-3), min_size=n, max_size=n))
    w = torch.tensor(weights, dtype=torch.float64)
    return w / w.sum(-1, keepdim=True)
