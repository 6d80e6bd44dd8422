"""Oracles E*[x | posterior state] against brute-force integration; target samplers."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

import pmm_sde as pmm
from pmm_sde.testing import assert_moments, assert_same_law

F64 = torch.float64


def _state(family, S, A):
    S = torch.as_tensor(S, dtype=F64)
    A = torch.as_tensor(A, dtype=F64)
    return family.cast(S).posterior_mean(S, A), A


@pytest.mark.parametrize("S, A", [(0.0, 0.0), (0.7, 0.5), (-3.0, 4.0), (40.0, 30.0)])
def test_gaussian_mixture_oracle_matches_quadrature(S, A):
    fam = pmm.NormalNormal(mean=0.2, precision=1.5)
    w, m, s = [0.3, 0.7], [-1.0, 2.0], [0.5, 0.8]
    target = pmm.targets.GaussianMixture(w, torch.tensor(m)[:, None], torch.tensor(s)[:, None])
    mu, A_t = _state(fam, [S], A)
    xhat = float(target.predictor(fam)(mu[None], A_t))

    def prior(x):
        return sum(wi * stats.norm(mi, si).pdf(x) for wi, mi, si in zip(w, m, s))

    def lik(x):
        return math.exp(-0.5 * A * x * x + S * x)  # S | x ~ N(A x, A), x-dependent part

    num = integrate.quad(lambda x: x * prior(x) * lik(x), -20, 20, points=[-1, 2], limit=200)[0]
    den = integrate.quad(lambda x: prior(x) * lik(x), -20, 20, points=[-1, 2], limit=200)[0]
    assert abs(xhat - num / den) < 1e-6


def test_gaussian_mixture_oracle_2d_matches_grid_integration():
    fam = pmm.NormalNormal()
    means = torch.tensor([[-1.0, 1.0], [1.5, -0.5], [0.0, 2.0]])
    stds = torch.tensor([[0.3, 0.6], [0.5, 0.4], [0.8, 0.2]])
    w = torch.tensor([0.2, 0.5, 0.3])
    target = pmm.targets.GaussianMixture(w, means, stds)
    S, A = torch.tensor([[0.9, 0.4]], dtype=F64), 2.0
    mu, A_t = _state(fam, S, A)
    xhat = target.predictor(fam)(mu, A_t)[0].numpy()
    g = np.linspace(-6, 6, 1201)
    X, Y = np.meshgrid(g, g, indexing="ij")
    dens = sum(float(w[k]) * stats.norm(float(means[k, 0]), float(stds[k, 0])).pdf(X)
               * stats.norm(float(means[k, 1]), float(stds[k, 1])).pdf(Y) for k in range(3))
    post = dens * np.exp(-0.5 * A * (X ** 2 + Y ** 2) + 0.9 * X + 0.4 * Y)
    expect = np.array([(X * post).sum(), (Y * post).sum()]) / post.sum()
    assert np.allclose(xhat, expect, atol=1e-5)


def test_gaussian_oracle_fact_8_and_prior_target_is_identity():
    fam = pmm.NormalNormal(mean=0.3, precision=4.0)
    target = pmm.targets.Gaussian(1.5, 0.5)
    mu = torch.linspace(-2, 2, 9, dtype=F64)
    A = torch.tensor(3.0, dtype=F64)
    lam = 4.0 + 3.0
    expect = (1.5 / 0.25 + lam * mu - 4.0 * 0.3) / (1 / 0.25 + 3.0)
    assert torch.allclose(target.predictor(fam)(mu, A), expect)
    prior_as_target = pmm.targets.Gaussian(0.3, 0.5)  # N(m0, 1/l0)
    assert torch.allclose(prior_as_target.predictor(fam)(mu, A), mu)


@pytest.mark.parametrize("N, A", [(0, 0.0), (3, 1.5), (20, 4.0), (2, 10.0)])
def test_gamma_mixture_oracle_matches_quadrature(N, A):
    fam = pmm.GammaPoisson(concentration=1.2, rate=0.8)
    w, a, b = [0.4, 0.6], [2.0, 9.0], [3.0, 1.5]
    target = pmm.targets.GammaMixture(w, torch.tensor(a), torch.tensor(b))
    mu, A_t = _state(fam, [float(N)], A)
    xhat = float(target.predictor(fam)(mu, A_t))

    def post(x):
        prior = sum(wi * stats.gamma(ai, scale=1 / bi).pdf(x) for wi, ai, bi in zip(w, a, b))
        return prior * x ** N * math.exp(-A * x)

    num = integrate.quad(lambda x: x * post(x), 0, 60, limit=200)[0]
    den = integrate.quad(post, 0, 60, limit=200)[0]
    assert abs(xhat - num / den) < 1e-7 * max(1.0, num / den)


def test_gamma_oracle_fact_12_and_prior_target_is_identity():
    fam = pmm.GammaPoisson(concentration=2.0, rate=0.5)
    mu, A = _state(fam, torch.arange(6.0), 3.0)
    target = pmm.targets.Gamma(3.0, 2.0)
    assert torch.allclose(target.predictor(fam)(mu, A), (3.0 + torch.arange(6.0, dtype=F64)) / (2.0 + 3.0))
    assert torch.allclose(pmm.targets.Gamma(2.0, 0.5).predictor(fam)(mu, A), mu)


def test_point_masses_oracles_for_every_family():
    weights = torch.tensor([0.2, 0.5, 0.3])
    # Normal-Normal: posterior weights w_m N(S; A v_m, A)
    values = torch.tensor([[-1.0], [0.5], [2.0]])
    fam = pmm.NormalNormal()
    S, A = 1.1, 0.8
    mu, A_t = _state(fam, [[S]], A)
    post = weights * torch.tensor([stats.norm(A * v, math.sqrt(A)).pdf(S) for v in values[:, 0].tolist()])
    expect = float((post * values[:, 0]).sum() / post.sum())
    assert abs(float(pmm.targets.PointMasses(weights, values).predictor(fam)(mu, A_t)) - expect) < 1e-6
    # Gamma-Poisson: w_m Poisson(N; A v_m), including a point at 0
    values = torch.tensor([0.0, 1.5, 4.0])
    fam = pmm.GammaPoisson(1.0, 1.0)
    target = pmm.targets.PointMasses(weights, values)
    assert target.predictor(fam).xhat_max == 4.0
    for N in (0, 2, 9):
        mu, A_t = _state(fam, [float(N)], 2.0)
        post = weights * torch.tensor([stats.poisson(2.0 * v).pmf(N) if v > 0 else float(N == 0)
                                       for v in values.tolist()])
        expect = float((post * values).sum() / post.sum())
        assert abs(float(target.predictor(fam)(mu, A_t)) - expect) < 1e-6
    # Dirichlet-Categorical: w_m prod_k v_mk^c_k
    values = torch.tensor([[0.7, 0.3, 0.0], [0.1, 0.1, 0.8]])
    fam = pmm.DirichletCategorical(3, 0.5)
    target = pmm.targets.PointMasses([0.6, 0.4], values)
    c = torch.tensor([[2.0, 1.0, 0.0]], dtype=F64)
    mu, events = fam.cast(c).state_from_statistic(c, None)
    post = torch.tensor([0.6 * 0.7 ** 2 * 0.3, 0.4 * 0.1 ** 2 * 0.1])
    expect = (post[:, None] * values).sum(0) / post.sum()
    assert torch.allclose(target.predictor(fam)(mu, events)[0].float(), expect, atol=1e-6)


def test_categorical_oracle():
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]])
    target = pmm.targets.Categorical(probs)
    fam = pmm.DirichletCategorical(3, 1.0)
    c = torch.tensor([[[0.0, 0.0, 0.0], [0.0, 4.0, 0.0]]], dtype=F64)
    mu, events = fam.cast(c).state_from_statistic(c, None)
    xhat = target.predictor(fam)(mu, events)
    assert torch.allclose(xhat[0, 0], probs[0].double())
    assert torch.allclose(xhat[0, 1], torch.tensor([0.0, 1.0, 0.0], dtype=F64))
    assert target.predictor(fam).xhat_max == 1.0


def test_target_samplers():
    g = torch.Generator().manual_seed(0)
    x = pmm.targets.Gaussian(1.5, 0.5).sample(40_000, g)
    assert_same_law(x, stats.norm(1.5, 0.5))
    x = pmm.targets.Gamma(2.5, 1.5).sample(40_000, g)
    assert_same_law(x, stats.gamma(2.5, scale=1 / 1.5))
    x = pmm.targets.GaussianMixture([0.3, 0.7], torch.tensor([[-2.0], [1.0]]), torch.tensor([[0.5], [1.0]])).sample(40_000, g)
    assert x.shape == (40_000, 1)
    assert_moments(x, mean=0.3 * -2 + 0.7 * 1, variance=0.3 * (4.25) + 0.7 * 2.0 - 0.1 ** 2)
    x = pmm.targets.GammaMixture([0.5, 0.5], torch.tensor([1.0, 8.0]), torch.tensor([1.0, 2.0])).sample(40_000, g)
    assert_moments(x, mean=0.5 * 1 + 0.5 * 4)
    x = pmm.targets.Categorical(torch.tensor([0.1, 0.2, 0.7])).sample(40_000, g)
    assert x.shape == (40_000, 3) and torch.equal(x.sum(-1), torch.ones(40_000))
    assert_same_law(x.argmax(-1), stats.rv_discrete(values=([0, 1, 2], [0.1, 0.2, 0.7])).freeze())
    x = pmm.targets.PointMasses([0.25, 0.75], torch.tensor([1.0, 3.0])).sample(40_000, g)
    assert set(x.unique().tolist()) == {1.0, 3.0}


def test_target_errors():
    with pytest.raises(ValueError, match="std"):
        pmm.targets.Gaussian(0.0, 0.0)
    with pytest.raises(ValueError, match="weights"):
        pmm.targets.GaussianMixture([0.5, 0.6], torch.zeros(2, 1), torch.ones(2, 1))
    with pytest.raises(ValueError, match="means"):
        pmm.targets.GaussianMixture([0.5, 0.5], torch.zeros(3, 1), torch.ones(3, 1))
    with pytest.raises(ValueError, match="probs"):
        pmm.targets.Categorical(torch.tensor([0.5, 0.6]))
    with pytest.raises(ValueError, match="family"):
        pmm.targets.Gaussian().predictor(pmm.GammaPoisson())
    with pytest.raises(ValueError, match="values"):
        pmm.targets.PointMasses([0.5, 0.5], torch.tensor([-1.0, 1.0])).predictor(pmm.GammaPoisson())
    with pytest.raises(ValueError, match="concentration"):
        pmm.targets.Gamma(-1.0, 1.0)


@pytest.mark.parametrize("target", [
    pmm.targets.PointMasses([0.5, 0.5], torch.tensor([-1.0, 1.0])),
    pmm.targets.GaussianMixture([0.5, 0.5], torch.tensor([-1.0, 1.0]), torch.tensor([0.3, 0.3])),
], ids=["point_masses", "gaussian_mixture"])
def test_joint_component_targets_refuse_points_of_another_shape(target):
    """Scalar components with points of shape (2,) would be misaligned (components against the
    coordinate axis), so the oracle asks for points of the target's exact shape."""
    oracle = target.predictor(pmm.NormalNormal())
    with pytest.raises(ValueError, match="exactly"):
        oracle(torch.zeros(5, 2), torch.tensor(3.0))
    assert oracle(torch.zeros(5), torch.tensor(3.0)).shape == (5,)


def test_per_coordinate_oracles_follow_the_state_shape_as_it_changes():
    """The Gaussian and Gamma oracles read their parameters expanded to the state's shape and keep
    them for the last shape: a new batch size, data shape or dtype must give the closed forms
    (m + s^2 S) / (1 + A s^2) and (a + N) / (b + A) again, not a stale expansion."""
    normal, gamma_poisson = pmm.NormalNormal(0.5, 2.0), pmm.GammaPoisson(2.0, 1.5)
    mean, std = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.5, 1.0, 2.0])
    concentration, rate = torch.tensor([3.0, 1.0, 0.5]), 0.5
    gaussian = pmm.targets.Gaussian(mean, std).predictor(normal)
    gamma = pmm.targets.Gamma(concentration, rate).predictor(gamma_poisson)
    generator = torch.Generator().manual_seed(3)
    for n, extra, dtype in [(5, (), torch.float64), (7, (), torch.float64), (4, (2,), torch.float64),
                            (5, (), torch.float32)]:
        shape = (n, *extra, 3)
        A = torch.tensor(1.7, dtype=dtype)
        mu = torch.rand(shape, generator=generator, dtype=torch.float64).to(dtype) + 0.1
        S = normal.cast(mu).statistic(mu, A)
        want = (mean.to(dtype) + std.to(dtype) ** 2 * S) / (1.0 + A * std.to(dtype) ** 2)
        assert torch.equal(gaussian(mu, A), want), (n, extra, dtype)
        N = gamma_poisson.cast(mu).statistic(mu, A)
        assert torch.equal(gamma(mu, A), (concentration.to(dtype) + N) / (rate + A)), (n, extra, dtype)
