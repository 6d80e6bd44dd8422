"""dirichlet_leap (Dirichlet-Categorical): exact in law for Categorical, Dirichlet and constant
oracles (one position, and independent positions), weak order 2 per position on a point-mass
mixture, weak order 1 for positions correlated through the predictor (exact laws of the class
counts, ``convergence.count_laws.CategoricalCountLaws``), sample() draws its scheme law, sharp
posteriors in float32 and float64 stay on the simplex, and bad inputs are named."""

import numpy as np
import pytest
import torch
from scipy import special, stats

import pmm_sde as pmm
from pmm_sde.convergence.count_laws import (CategoricalCountLaws, categorical_scheme_count_law, count_states,
                                            simplex_target_count_law)
from pmm_sde.testing import assert_same_law
from pmm_sde.testing.laws import same_law_pvalue

F64 = torch.float64
MIXTURE = pmm.targets.PointMasses([0.5, 0.5], torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], dtype=F64))
CORRELATED = pmm.targets.PointMasses([0.5, 0.5], torch.tensor([[[0.8, 0.2], [0.8, 0.2]], [[0.2, 0.8], [0.2, 0.8]]],
                                                              dtype=F64))


def process_for(predictor, classes: int, total: float, shape=()) -> pmm.GammaPoissonCoxSDE:
    """A Dirichlet-Categorical process with prior Dir(1) and ``A(1) = total``; ``predictor`` a target
    (its oracle) or a callable."""
    family = pmm.DirichletCategorical(classes, 1.0)
    predict = predictor.predictor(family) if isinstance(predictor, pmm.targets.Target) else predictor
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(total), predict, shape=shape)


def dirichlet_target_law(beta: torch.Tensor, A: float, max_events: int) -> np.ndarray:
    """Class counts of a Dirichlet(beta) target at exposure A: Poisson(A) events, DirichletMultinomial."""
    states = count_states(len(beta), max_events)
    m, b = states.sum(-1), beta.numpy()
    return np.exp(stats.poisson.logpmf(m, A) + special.gammaln(m + 1.0) - special.gammaln(states + 1.0).sum(-1)
                  + (special.gammaln(b + states) - special.gammaln(b)).sum(-1)
                  + special.gammaln(b.sum()) - special.gammaln(b.sum() + m))


def variance_and_tv(law: np.ndarray, exact: np.ndarray, states: np.ndarray) -> tuple[float, float]:
    """``|Var(C_0) - Var*(C_0)|`` of the first position's class 0, and the joint TV."""
    def variance(p: np.ndarray) -> float:
        marginal = p.reshape(len(states), -1).sum(-1)
        c = states[:, 0]
        return float(((c - (c * marginal).sum()) ** 2 * marginal).sum())

    return abs(variance(law) - variance(exact)), 0.5 * float(np.abs(law - exact).sum())


def slope(steps, errors) -> float:
    return -np.polyfit(np.log(steps), np.log(errors), 1)[0]


# ---------------------------------------------------------------- exactness
def test_exact_for_a_categorical_oracle():
    """One-hot data: the first event's class is drawn from the prior probabilities, every later one
    repeats it (the posterior after it is one-hot, so s = 1 and x~ = e_J); tau_leap is far off."""
    target = pmm.targets.Categorical(torch.tensor([0.2, 0.3, 0.5], dtype=F64))
    process = process_for(target, 3, 1.0)
    exact = simplex_target_count_law(target, 1.0, 12)
    leap, tau = (CategoricalCountLaws(process, solver, 12) for solver in ("dirichlet_leap", "tau_leap"))
    for steps in (1, 3):
        np.testing.assert_allclose(leap.law(steps), exact, atol=1e-13)
        assert 0.5 * np.abs(tau.law(steps) - exact).sum() > 0.05


def test_exact_for_independent_positions_and_a_random_grid():
    target = pmm.targets.Categorical(torch.tensor([[0.6, 0.4], [0.1, 0.9]], dtype=F64))
    process = process_for(target, 2, 0.5, shape=(2,))
    grid = torch.tensor([0.0, 0.13, 0.5, 0.62, 1.0], dtype=F64)
    np.testing.assert_allclose(categorical_scheme_count_law(process, "dirichlet_leap", 4, 9, grid=grid),
                               simplex_target_count_law(target, 0.5, 9), atol=1e-13)


def test_exact_for_a_dirichlet_oracle_and_a_constant_predictor():
    """A Dirichlet(beta) target's posterior is Dirichlet(beta + C): its concentration after the first
    event, (1 - xhat0_J) / (xhat1_J - xhat0_J) = |beta + C| + 1, is recovered exactly. A constant
    predictor has no spread (x~ = xhat1 = p): exact too."""
    beta = torch.tensor([0.5, 1.5, 3.0], dtype=F64)
    family = pmm.DirichletCategorical(3, 1.0)

    def dirichlet_oracle(mu, A):
        C = family.cast(mu).statistic(mu, A)
        return (beta + C) / (beta.sum() + C.sum(-1, keepdim=True))

    process = process_for(dirichlet_oracle, 3, 1.0)
    np.testing.assert_allclose(categorical_scheme_count_law(process, "dirichlet_leap", 2, 12),
                               dirichlet_target_law(beta, 1.0, 12), atol=1e-13)
    constant = pmm.targets.PointMasses([1.0], torch.tensor([[0.2, 0.3, 0.5]], dtype=F64))
    process = process_for(constant, 3, 1.0)
    np.testing.assert_allclose(categorical_scheme_count_law(process, "dirichlet_leap", 2, 12),
                               simplex_target_count_law(constant, 1.0, 12), atol=1e-13)


# ---------------------------------------------------------------- orders
def test_weak_order_two_per_position_on_a_point_mass_mixture():
    """Measured 1.98 / 1.99 (variance of C_0, TV; 4-16 steps); tau_leap's 0.98 / 0.97."""
    process = process_for(MIXTURE, 3, 1.5)
    exact = simplex_target_count_law(MIXTURE, 1.5, 13)
    for solver, declared in (("dirichlet_leap", 2.0), ("tau_leap", 1.0)):
        laws = CategoricalCountLaws(process, solver, 13)
        errors = np.array([variance_and_tv(laws.law(s), exact, laws.states) for s in (4, 8, 16)])
        assert pmm.solvers.REGISTRY[solver].weak_order == declared
        assert all(abs(slope([4, 8, 16], e) - declared) < 0.15 for e in errors.T), (solver, errors)


def test_weak_order_one_for_positions_correlated_through_the_predictor():
    """Two positions' events in one step are drawn independently: an O(dA^2) error per step.
    Measured 1.00 / 0.99 (variance of C_0, TV; 4-16 steps), with errors 10x / 2x below tau_leap's."""
    process = process_for(CORRELATED, 2, 0.5, shape=(2,))
    exact = simplex_target_count_law(CORRELATED, 0.5, 9)
    errors = {}
    for solver in ("dirichlet_leap", "tau_leap"):
        laws = CategoricalCountLaws(process, solver, 9)
        errors[solver] = np.array([variance_and_tv(laws.law(s), exact, laws.states) for s in (4, 8, 16)])
    assert all(abs(slope([4, 8, 16], e) - 1.0) < 0.1 for e in errors["dirichlet_leap"].T), errors
    assert (errors["dirichlet_leap"] < 0.6 * errors["tau_leap"]).all(), errors


# ---------------------------------------------------------------- sampling
def state_index(process, result, states: np.ndarray) -> np.ndarray:
    counts = process.family.statistic(result.mu, result.A)
    assert torch.allclose(counts, counts.round(), atol=1e-8), "mu left its lattice"
    lookup = {tuple(c): i for i, c in enumerate(states.tolist())}
    return np.array([lookup[tuple(c)] for c in counts.round().long().reshape(len(counts), -1).tolist()])


def test_sample_draws_its_scheme_law():
    """Chi-square of sample() at 1 step against the scheme's exact law (TV 0.02 from the target's,
    which the same samples reject)."""
    process = process_for(MIXTURE, 3, 1.5)
    res = pmm.sample(process, "dirichlet_leap", steps=1, n=20_000, seed=5, dtype=F64)
    assert res.nfe == 2
    states = count_states(3, 13)
    index = state_index(process, res, states)
    law = categorical_scheme_count_law(process, "dirichlet_leap", 1, 13)
    support = np.arange(len(states))
    assert_same_law(index, stats.rv_discrete(values=(support, law / law.sum())).freeze())
    exact = simplex_target_count_law(MIXTURE, 1.5, 13)
    assert same_law_pvalue(index, stats.rv_discrete(values=(support, exact / exact.sum())).freeze()) < 1e-6


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_sharp_posteriors_stay_on_the_simplex(dtype):
    """Atoms with classes of probability 1e-30 and 0: tiny and zero Gamma shapes, spreads near 0 and
    a one-hot posterior after the first event; every state finite, on the simplex and on its lattice."""
    values = torch.tensor([[1.0 - 2e-30, 1e-30, 1e-30, 0.0], [0.0, 0.0, 1e-12, 1.0 - 1e-12],
                           [0.25, 0.25, 0.25, 0.25]], dtype=F64)
    target = pmm.targets.PointMasses([0.3, 0.3, 0.4], values)
    process = process_for(target, 4, 30.0)
    res = pmm.sample(process, "dirichlet_leap", steps=3, n=2000, seed=2, dtype=dtype)
    assert torch.isfinite(res.mu).all() and (res.mu >= 0).all()
    assert torch.allclose(res.mu.sum(-1), torch.ones((), dtype=dtype), atol=1e-5)
    counts = process.family.cast(res.mu).statistic(res.mu, res.A)
    assert torch.allclose(counts, counts.round(), atol=1e-3)


# ---------------------------------------------------------------- catalogue and bad inputs
def test_available_and_restrictions():
    dirichlet = process_for(MIXTURE, 3, 4.0)
    gamma = pmm.GammaPoissonCoxSDE(pmm.GammaPoisson(1.0, 1.0), pmm.schedules.Exponential(4.0),
                                   pmm.targets.Gamma(4.0, 2.0).predictor(pmm.GammaPoisson(1.0, 1.0)))
    assert pmm.solvers.available(dirichlet) == ["tau_leap", "dirichlet_leap", "thinning"]
    assert "dirichlet_leap" not in pmm.solvers.available(gamma)
    with pytest.raises(ValueError, match="dirichlet_leap.*Dirichlet-Categorical only"):
        pmm.sample(gamma, "dirichlet_leap", steps=2, n=4)
    with pytest.raises(ValueError, match="nb_leap.*Gamma-Poisson only.*use dirichlet_leap"):
        pmm.sample(dirichlet, "nb_leap", steps=2, n=4)
    with pytest.raises(ValueError, match="poisson_paths"):
        pmm.sample(dirichlet, "dirichlet_leap", steps=2, n=4, poisson_paths=pmm.PoissonPaths(1))


def test_count_law_tools_name_bad_inputs():
    dirichlet = process_for(MIXTURE, 3, 4.0)
    gamma = pmm.GammaPoissonCoxSDE(pmm.GammaPoisson(1.0, 1.0), pmm.schedules.Exponential(4.0),
                                   pmm.targets.Gamma(4.0, 2.0).predictor(pmm.GammaPoisson(1.0, 1.0)))
    with pytest.raises(ValueError, match="solver must be one of"):
        CategoricalCountLaws(dirichlet, "nb_leap", 5)
    with pytest.raises(ValueError, match="Dirichlet-Categorical process"):
        CategoricalCountLaws(gamma, "tau_leap", 5)
    three = pmm.targets.Categorical(torch.full((3, 2), 0.5, dtype=F64))
    with pytest.raises(ValueError, match="1 or 2 positions"):
        CategoricalCountLaws(process_for(three, 2, 1.0, shape=(3,)), "tau_leap", 5)
    with pytest.raises(ValueError, match="1 or 2 positions"):
        simplex_target_count_law(three, 1.0, 5)
    with pytest.raises(ValueError, match="Categorical or PointMasses"):
        simplex_target_count_law(pmm.targets.Gamma(2.0, 1.0), 1.0, 5)
    with pytest.raises(ValueError, match="A must be"):
        simplex_target_count_law(MIXTURE, -1.0, 5)
    with pytest.raises(ValueError, match="raise support"):
        simplex_target_count_law(MIXTURE, 4.0, 5)
    with pytest.raises(ValueError, match="max_events"):
        count_states(3, -1)
