"""Closed forms of the three conjugate families (pmm-notes section 6, facts 1, 2, 6, 7, 11, 14, 15)."""

import math

import pytest
import torch
from scipy import stats

import pmm_sde as pmm
from pmm_sde.testing import assert_moments, assert_same_law

F64 = torch.float64


def test_normal_update_matches_formula():
    fam = pmm.NormalNormal(mean=0.5, precision=2.0)
    mu, A = torch.tensor([0.5], dtype=F64), torch.tensor(0.0, dtype=F64)
    mu1, A1 = fam.update(mu, A, torch.tensor([1.7], dtype=F64), 3.0)
    assert torch.allclose(mu1, torch.tensor([(2.0 * 0.5 + 3.0 * 1.7) / 5.0], dtype=F64))
    assert float(A1) == 3.0
    mu2, A2 = fam.update(mu1, A1, torch.tensor([-0.4], dtype=F64), 1.5)
    assert torch.allclose(mu2, torch.tensor([(5.0 * float(mu1) + 1.5 * -0.4) / 6.5], dtype=F64))


def test_gamma_poisson_update_matches_formula():
    fam = pmm.GammaPoisson(concentration=2.0, rate=0.5)
    mu, A = fam.initial_state(1, ())
    assert torch.allclose(mu, torch.tensor([4.0]))
    mu1, A1 = fam.update(mu, A, torch.tensor([3.0]), 1.5)
    assert torch.allclose(mu1, torch.tensor([(2.0 + 3.0) / (0.5 + 1.5)]))
    N = fam.statistic(mu1, A1)
    assert torch.allclose(N, torch.tensor([3.0]))


def test_dirichlet_update_matches_formula_and_stays_on_simplex():
    fam = pmm.DirichletCategorical(3, concentration=torch.tensor([1.0, 2.0, 3.0]))
    mu, A = fam.initial_state(2, ())
    assert torch.allclose(mu, torch.tensor([[1 / 6, 2 / 6, 3 / 6]] * 2))
    c = torch.tensor([[0.0, 2.0, 1.0], [4.0, 0.0, 0.0]])
    mu1, A1 = fam.update(mu, A, c, 5.0)
    expect = (torch.tensor([1.0, 2.0, 3.0]) + c) / (6.0 + c.sum(-1, keepdim=True))
    assert torch.allclose(mu1, expect)
    assert torch.allclose(A1, c.sum(-1, keepdim=True))
    assert torch.allclose(mu1.sum(-1), torch.ones(2))


@pytest.mark.parametrize("family", [pmm.NormalNormal(0.3, 2.0), pmm.GammaPoisson(1.5, 0.7),
                                    pmm.DirichletCategorical(4, 0.5)])
def test_batch_update_equals_sequential_in_any_order(family):
    g = torch.Generator().manual_seed(0)
    shape = (5, 4) if family.has_class_axis else (5,)
    alphas = [0.3, 1.2, 0.05, 2.0]
    if isinstance(family, pmm.NormalNormal):
        ys = [torch.randn(shape, generator=g, dtype=F64) for _ in alphas]
    else:
        ys = [torch.poisson(torch.full(shape, 2.0, dtype=F64), generator=g) for _ in alphas]
    family = family.cast(ys[0])
    batch_mu, batch_A = family.batch_update(ys, alphas)
    for order in ([0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]):
        mu, A = family.initial_state(5, ())
        for i in order:
            mu, A = family.update(mu, A, ys[i], alphas[i])
        assert torch.allclose(mu, batch_mu.expand_as(mu), atol=1e-12)
        assert torch.allclose(A, torch.as_tensor(batch_A, dtype=F64).expand_as(A))


def test_normal_state_law_closed_form():
    """Fact 6: mu | x ~ N((l0 m0 + A x)/(l0 + A), A/(l0 + A)^2)."""
    fam = pmm.NormalNormal(mean=0.4, precision=2.0)
    x, A = torch.full((60_000,), 1.3, dtype=F64), 5.0
    mu, info = fam.sample_state(x, A, torch.Generator().manual_seed(1))
    lam = 2.0 + A
    assert_same_law(mu, stats.norm((2.0 * 0.4 + A * 1.3) / lam, math.sqrt(A) / lam))
    law = fam.statistic_law(x[:3], A)
    assert torch.allclose(law.mean, A * x[:3]) and torch.allclose(law.variance, torch.full((3,), A, dtype=F64))
    assert float(info) == A


def test_normal_variance_vanishes_like_one_over_A():
    """Fact 7: Var(mu | x) = A/lambda^2 -> 0 like 1/A; mu -> x."""
    fam = pmm.NormalNormal(0.0, 1.0)
    for A in (1e2, 1e4, 1e6):
        var = A / (1.0 + A) ** 2
        assert abs(var * A - 1.0) < 2.0 / A
    mu, _ = fam.sample_state(torch.full((10_000,), 2.0, dtype=F64), 1e8, torch.Generator().manual_seed(0))
    assert float((mu - 2.0).abs().max()) < 1e-3


def test_gamma_poisson_state_law_closed_form():
    """Fact 11: N | x ~ Poisson(A x), mu = (a0 + N)/(b0 + A), mu b - a0 integer."""
    fam = pmm.GammaPoisson(2.0, 0.5)
    x, A = torch.full((60_000,), 1.7, dtype=F64), 4.0
    mu, _ = fam.sample_state(x, A, torch.Generator().manual_seed(2))
    N = fam.statistic(mu, torch.tensor(A, dtype=F64))
    assert torch.allclose(N, N.round(), atol=1e-9) and bool((N >= -1e-9).all())
    assert_same_law(N.round(), stats.poisson(A * 1.7))
    assert_moments(mu, mean=(2.0 + A * 1.7) / (0.5 + A), variance=A * 1.7 / (0.5 + A) ** 2)


def test_dirichlet_state_law_poisson_clock():
    """Fact 15 under the Poisson clock: events ~ Poisson(A), P(still at prior) = exp(-A)."""
    fam = pmm.DirichletCategorical(3, 1.0)
    x = torch.tensor([0.0, 1.0, 0.0], dtype=F64).expand(50_000, 3)
    A = 1.3
    mu, events = fam.sample_state(x, A, torch.Generator().manual_seed(3))
    assert_same_law(events.squeeze(-1), stats.poisson(A))
    at_prior = (events == 0).double().mean()
    p = math.exp(-A)
    assert abs(float(at_prior) - p) < 5 * math.sqrt(p * (1 - p) / 50_000)
    assert torch.allclose(mu.sum(-1), torch.ones(50_000, dtype=F64))
    expect = (1.0 + events * x) / (3.0 + events)
    assert torch.allclose(mu, expect)


def test_dirichlet_multinomial_moments():
    """Fact 15: with n events drawn from p, E[mu] = (beta0 + n p)/(s0 + n), Var = n p(1-p)/(s0+n)^2."""
    fam = pmm.DirichletCategorical(3, 0.5)
    p = torch.tensor([0.2, 0.3, 0.5], dtype=F64)
    n_events = 12
    counts = torch.distributions.Multinomial(n_events, p).sample((60_000,))
    mu, _ = fam.state_from_statistic(counts, None)
    for k in range(3):
        assert_moments(mu[:, k], mean=float((0.5 + n_events * p[k]) / (1.5 + n_events)),
                       variance=float(n_events * p[k] * (1 - p[k]) / (1.5 + n_events) ** 2))


def test_log_likelihoods_match_scipy():
    y, x = torch.tensor([0.3, -1.2], dtype=F64), torch.tensor([0.1, 0.5], dtype=F64)
    ll = pmm.NormalNormal().log_likelihood(y, x, 2.5)
    assert torch.allclose(ll, torch.tensor(stats.norm(x.numpy(), 1 / math.sqrt(2.5)).logpdf(y.numpy())))
    k, r = torch.tensor([0.0, 3.0, 7.0], dtype=F64), torch.tensor([0.4, 2.0, 5.0], dtype=F64)
    ll = pmm.GammaPoisson().log_likelihood(k, r, 1.5)
    assert torch.allclose(ll, torch.tensor(stats.poisson(1.5 * r.numpy()).logpmf(k.numpy())))
    c, p = torch.tensor([[2.0, 0.0, 1.0]], dtype=F64), torch.tensor([[0.5, 0.2, 0.3]], dtype=F64)
    ll = pmm.DirichletCategorical(3).log_likelihood(c, p, 2.0)
    expect = sum(stats.poisson(2.0 * float(p[0, i])).logpmf(float(c[0, i])) for i in range(3))
    assert abs(float(ll) - expect) < 1e-10


def test_observe_laws():
    x = torch.full((50_000,), 0.7, dtype=F64)
    y = pmm.NormalNormal().observe(x, 4.0, seed=1, counter=0)
    assert_same_law(y, stats.norm(0.7, 0.5))
    c = pmm.GammaPoisson().observe(x, 3.0, seed=1, counter=0)
    assert_same_law(c, stats.poisson(2.1))
    p = torch.tensor([0.1, 0.6, 0.3], dtype=F64).expand(50_000, 3)
    c = pmm.DirichletCategorical(3).observe(p, 2.0, seed=1, counter=0)
    assert_same_law(c.sum(-1), stats.poisson(2.0))
    assert_same_law(c[:, 1], stats.poisson(1.2))


def test_parameters_broadcast_over_data_shape_and_dtypes():
    fam = pmm.NormalNormal(mean=torch.tensor([0.0, 1.0]), precision=torch.tensor([[1.0], [2.0], [4.0]]))
    assert fam.param_shape() == (3, 2)
    mu, A = fam.initial_state(5, (3, 2))
    assert mu.shape == (5, 3, 2) and torch.allclose(mu[0, :, 1], torch.ones(3))
    for dtype in (torch.float32, torch.float64):
        f = fam.cast(torch.zeros((), dtype=dtype))
        assert f.mean.dtype == dtype and f.precision.dtype == dtype


@pytest.mark.parametrize("make, match", [
    (lambda: pmm.NormalNormal(precision=0.0), "precision"),
    (lambda: pmm.NormalNormal(precision=-1.0), "precision"),
    (lambda: pmm.NormalNormal(mean=float("nan")), "mean"),
    (lambda: pmm.GammaPoisson(concentration=-1.0), "concentration"),
    (lambda: pmm.GammaPoisson(rate=0.0), "rate"),
    (lambda: pmm.DirichletCategorical(3, concentration=0.0), "concentration"),
    (lambda: pmm.DirichletCategorical(1), "num_classes"),
    (lambda: pmm.DirichletCategorical(3, concentration=torch.ones(4)), "concentration"),
])
def test_invalid_prior_parameters_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make()
