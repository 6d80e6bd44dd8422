"""The discrete PMM chain: exact laws, exact-target chains, weak order 1, reproducibility, errors."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import pmm_sde as pmm
from pmm_sde.grids import information_steps, make_grid
from pmm_sde.testing import assert_moments, assert_same_law
from gaussian_recursion import plug_in_moments

F64 = torch.float64
SPLITS = [[5.0], [1.0, 4.0], [0.5, 0.5, 2.0, 2.0], [4.0, 0.0, 1.0]]


@pytest.mark.parametrize("alphas", SPLITS, ids=str)
def test_normal_chain_with_constant_predictor_is_exact(alphas):
    """mu_T ~ N((l0 m0 + A x)/(l0 + A), A/(l0 + A)^2) for any split of A into steps."""
    fam, x, A = pmm.NormalNormal(mean=0.5, precision=2.0), 1.3, sum(alphas)
    res = pmm.run_chain(fam, alphas, lambda mu, a: torch.full_like(mu, x), n=40_000, seed=11, dtype=F64)
    lam = 2.0 + A
    assert_same_law(res.mu, stats.norm((2.0 * 0.5 + A * x) / lam, math.sqrt(A) / lam))
    assert res.nfe == len(alphas) and float(res.A) == A


@pytest.mark.parametrize("alphas", SPLITS, ids=str)
def test_gamma_poisson_chain_with_constant_predictor_is_exact(alphas):
    """N_T ~ Poisson(A x) exactly for any split."""
    fam, x, A = pmm.GammaPoisson(2.0, 0.5), 1.7, sum(alphas)
    res = pmm.run_chain(fam, alphas, lambda mu, a: torch.full_like(mu, x), n=40_000, seed=12, dtype=F64)
    N = fam.statistic(res.mu, torch.tensor(A, dtype=F64))
    assert torch.allclose(N, N.round(), atol=1e-9)
    assert_same_law(N.round(), stats.poisson(A * x))


@pytest.mark.parametrize("steps", [1, 7, 50])
def test_exact_gaussian_chain_matches_marginal_at_any_step_count(steps):
    fam, target = pmm.NormalNormal(0.2, 1.0), pmm.targets.Gaussian(1.5, 0.5)
    schedule = pmm.schedules.Exponential(1e3)
    A, alphas = information_steps(schedule, make_grid(schedule, steps))
    res = pmm.run_exact_chain(fam, alphas, target, n=30_000, seed=3, dtype=F64)
    mean, var = target.marginal(fam, A[-1])
    assert_same_law(res.mu, stats.norm(float(mean), math.sqrt(float(var))))


@pytest.mark.parametrize("steps", [1, 7, 50])
def test_exact_gamma_chain_matches_negative_binomial_at_any_step_count(steps):
    fam, target = pmm.GammaPoisson(1.0, 1.0), pmm.targets.Gamma(2.5, 1.5)
    schedule = pmm.schedules.Exponential(20.0)
    A, alphas = information_steps(schedule, make_grid(schedule, steps))
    res = pmm.run_exact_chain(fam, alphas, target, n=30_000, seed=4, dtype=F64)
    N = fam.statistic(res.mu, A[-1]).round()
    r, p = target.count_law(float(A[-1]))
    assert_same_law(N, stats.nbinom(float(r), 1 - float(p)))


def test_plug_in_chain_matches_its_exact_variance_recursion():
    """The Gaussian oracle is affine in mu, so the plug-in chain's law is N(M_T, V_T) exactly."""
    fam, target = pmm.NormalNormal(0.0, 1.0), pmm.targets.Gaussian(1.5, 0.5)
    schedule = pmm.schedules.Exponential(1e4)
    A, alphas = information_steps(schedule, make_grid(schedule, 20))
    res = pmm.run_chain(fam, alphas, target.predictor(fam), n=40_000, seed=5, dtype=F64)
    M, V = plug_in_moments(1.0, 0.0, 1.5, 0.5, A)
    assert_same_law(res.mu, stats.norm(M, math.sqrt(V)))


def test_plug_in_chain_converges_at_weak_order_one_on_default_grid():
    """The variance error of the oracle plug-in chain (2-D Gaussian target) halves when the steps
    double; the same seed at every step count keeps the Monte Carlo noise of the ratios small."""
    fam = pmm.NormalNormal()
    target = pmm.targets.Gaussian(torch.tensor([1.5, -0.5]), torch.tensor([0.5, 1.5]))
    schedule = pmm.schedules.Exponential(1e4)
    _, exact_var = target.marginal(fam, 1e4)
    errors = []
    steps_list = (32, 64, 128)
    for steps in steps_list:
        A, alphas = information_steps(schedule, make_grid(schedule, steps))
        res = pmm.run_chain(fam, alphas, target.predictor(fam), n=40_000, shape=(2,), seed=6, dtype=F64)
        errors.append(float((res.mu.var(0) / exact_var - 1).mean()))
    slope = -np.polyfit(np.log(steps_list), np.log(np.abs(errors)), 1)[0]
    assert abs(slope - 1.0) < 0.25, (errors, slope)


def test_dirichlet_chain_with_categorical_oracle_samples_the_categories():
    """Under the Poisson clock the first event fixes a position's class, drawn from probs; with
    small steps (two events in one step have probability ~ alpha^2) the terminal classes follow probs
    and a position is still at the prior with probability exp(-A)."""
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype=F64)
    fam, target = pmm.DirichletCategorical(3, 1.0), pmm.targets.Categorical(probs)
    alphas = [0.06] * 150
    res = pmm.run_chain(fam, alphas, target.predictor(fam), n=20_000, shape=(2,), seed=7, dtype=F64)
    assert res.mu.shape == (20_000, 2, 3) and res.A.shape == (20_000, 2, 1)
    assert torch.allclose(res.mu.sum(-1), torch.ones(20_000, 2, dtype=F64))
    seen = res.A[..., 0] > 0
    assert_same_law((~seen).double().sum(), stats.binom(40_000, math.exp(-9.0)))
    for pos in range(2):
        cls = res.mu[:, pos][seen[:, pos]].argmax(-1)
        assert_same_law(cls, stats.rv_discrete(values=([0, 1, 2], probs[pos].tolist())).freeze())


def test_gamma_poisson_plug_in_chain_approaches_negative_binomial():
    fam, target = pmm.GammaPoisson(1.0, 1.0), pmm.targets.Gamma(2.5, 1.5)
    schedule = pmm.schedules.Exponential(20.0)
    A, alphas = information_steps(schedule, make_grid(schedule, 200))
    res = pmm.run_chain(fam, alphas, target.predictor(fam), n=30_000, seed=8, dtype=F64)
    N = fam.statistic(res.mu, A[-1]).round()
    r, p = target.count_law(float(A[-1]))
    law = stats.nbinom(float(r), 1 - float(p))
    assert_moments(N, mean=law.mean(), z=5)
    assert abs(float(N.var()) / law.var() - 1) < 0.05  # plug-in variance deficit O(1/steps)


@pytest.mark.parametrize("family, target", [
    (pmm.NormalNormal(), pmm.targets.Gaussian(torch.ones(3), 2.0)),
    (pmm.GammaPoisson(), pmm.targets.Gamma(torch.full((3,), 2.0), 1.0)),
    (pmm.DirichletCategorical(4), pmm.targets.Categorical(torch.full((3, 4), 0.25))),
], ids=["normal", "gamma", "dirichlet"])
def test_sample_noise_depends_only_on_seed_and_index(family, target):
    alphas = [0.5, 1.0, 3.0, 30.0]
    small = pmm.run_chain(family, alphas, target.predictor(family), n=7, shape=(3,), seed=42)
    large = pmm.run_chain(family, alphas, target.predictor(family), n=700, shape=(3,), seed=42)
    assert torch.equal(small.mu, large.mu[:7])
    other = pmm.run_chain(family, alphas, target.predictor(family), n=7, shape=(3,), seed=43)
    assert not torch.equal(small.mu, other.mu)


def test_trajectory_and_dtypes():
    fam = pmm.GammaPoisson(2.0, 1.0)
    res = pmm.run_chain(fam, [1.0, 2.0], lambda mu, A: mu, n=5, shape=(2,), save_trajectory=True, dtype=torch.float32)
    assert res.trajectory.shape == (3, 5, 2) and res.mu.dtype == torch.float32
    assert torch.equal(res.trajectory[-1], res.mu) and torch.allclose(res.trajectory[0], torch.full((5, 2), 2.0))


def _const(value):
    return lambda mu, A: torch.full_like(mu, value)


@pytest.mark.parametrize("kwargs, match", [
    (dict(alphas=[1.0, -0.5]), "alphas"),
    (dict(alphas=[1.0, float("nan")]), "alphas"),
    (dict(alphas=[]), "alphas"),
    (dict(n=0), "n"),
    (dict(shape=(3,), family=pmm.NormalNormal(mean=torch.zeros(2))), "shape"),
    (dict(predictor=_const(float("nan"))), "predictor"),
    (dict(predictor=lambda mu, A: mu[:, :1]), "predictor"),
    (dict(family=pmm.GammaPoisson(), predictor=_const(-1.0)), "predictor.*>= 0"),
    (dict(family=pmm.DirichletCategorical(3), predictor=_const(0.5)), "predictor.*probability"),
])
def test_chain_errors(kwargs, match):
    args = dict(family=pmm.NormalNormal(), alphas=[1.0, 2.0], predictor=_const(1.0), n=4, shape=(2,))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        pmm.run_chain(**args)


def test_exact_chain_needs_a_closed_form_target():
    with pytest.raises(ValueError, match="target"):
        pmm.run_exact_chain(pmm.NormalNormal(), [1.0], pmm.targets.GaussianMixture([1.0], [[0.0]], [[1.0]]), n=3)
    with pytest.raises(ValueError, match="family"):
        pmm.run_exact_chain(pmm.GammaPoisson(), [1.0], pmm.targets.Gaussian(), n=3)
