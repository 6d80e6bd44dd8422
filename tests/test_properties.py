"""Property tests over random valid configurations (bounded, derandomized CI profile)."""

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

import pmm_sde as pmm
from pmm_sde.testing import strategies as pst

F64 = torch.float64


def _observations(family, x, alphas, seed):
    return [family.observe(x, a, seed, i) for i, a in enumerate(alphas)]


@given(family=pst.families(), alphas=pst.alphas(min_size=2), seed=st.integers(0, 2**31), data=st.data())
def test_update_order_invariance(family, alphas, seed, data):
    x = data.draw(pst.data_points(family, n=3))
    family = family.cast(x)
    ys = _observations(family, x, alphas, seed)
    batch_mu, batch_A = family.batch_update(ys, alphas)
    perm = data.draw(st.permutations(range(len(alphas))))
    mu, A = family.initial_state(3, ())
    for i in perm:
        mu, A = family.update(mu, A, ys[i], alphas[i])
    assert torch.allclose(mu, batch_mu, rtol=1e-9, atol=1e-9)


@given(family=pst.families(), alphas=pst.alphas(min_size=1, max_size=5), seed=st.integers(0, 2**31),
       data=st.data())
def test_positivity_and_simplex_preservation(family, alphas, seed, data):
    x = data.draw(pst.data_points(family, n=4))
    family = family.cast(x)
    mu, A = family.initial_state(4, ())
    for i, a in enumerate(alphas):
        mu, A = family.update(mu, A, family.observe(x, a, seed, i), a)
        if isinstance(family, pmm.GammaPoisson):
            assert bool((mu > 0).all())
        if isinstance(family, pmm.DirichletCategorical):
            assert bool((mu >= 0).all()) and torch.allclose(mu.sum(-1), torch.ones(4, dtype=F64))


@given(family=st.one_of(pst.normal_families(), pst.gamma_poisson_families()),
       a=st.floats(0.05, 5.0), b=st.floats(0.05, 5.0), seed=st.integers(0, 2**31), data=st.data())
def test_step_splitting_invariance_given_x(family, a, b, seed, data):
    """One step of a + b and two steps a, b give the same law of mu given x (z-tests of the mean
    and of the variance, with the variance's standard error from the fourth moment, which Poisson
    counts at small rates need)."""
    x = float(data.draw(pst.data_points(family, n=1))[0])
    n = 20_000

    def run(alphas):
        res = pmm.run_chain(family, alphas, lambda mu, A: torch.full_like(mu, x), n=n, seed=seed, dtype=F64)
        return res.mu

    def variance_and_se(mu):
        centred = mu - mu.mean()
        m2, m4 = float((centred ** 2).mean()), float((centred ** 4).mean())
        return m2, math.sqrt(max(m4 - m2 ** 2, 0.0) / n)

    one, two = run([a + b]), run([a, b])
    if isinstance(family, pmm.GammaPoisson) and x == 0:  # no events: mu_T = a0 / (b0 + a + b) exactly
        assert torch.allclose(one, two, rtol=1e-12, atol=0)
        return
    (var1, se1), (var2, se2) = variance_and_se(one), variance_and_se(two)
    assert abs(float(one.mean() - two.mean())) <= 5 * math.sqrt((var1 + var2) / n)
    assert abs(var1 - var2) <= 5 * math.hypot(se1, se2)


@given(family=st.one_of(pst.normal_families(), pst.gamma_poisson_families()), alpha=st.floats(0.1, 10.0),
       seed=st.integers(0, 2**31))
def test_posterior_mean_is_a_martingale_under_the_prior(family, alpha, seed):
    """x ~ prior, y ~ pi_alpha(.|x): E[mu_1] = mu_0 (5 standard errors)."""
    n = 40_000
    g = torch.Generator().manual_seed(seed)
    mu0 = float(family.prior_mean)
    if isinstance(family, pmm.NormalNormal):
        x = mu0 + torch.randn(n, generator=g, dtype=F64) / math.sqrt(float(family.precision))
    else:
        x = torch._standard_gamma(family.concentration.double().expand(n).contiguous(), generator=g) / float(family.rate)
    fam = family.cast(x)
    mu, A = fam.initial_state(n, ())
    mu1, _ = fam.update(mu, A, fam.observe(x, alpha, seed, 0), alpha)
    assert abs(float(mu1.mean()) - mu0) <= 5 * float(mu1.std()) / math.sqrt(n) + 1e-12


@given(schedule=pst.schedules(), steps=st.integers(1, 60),
       kind=st.sampled_from(["log1p", "log1p_sqrt", "log", "uniform", "edm", "uniform_A"]))
def test_grids_are_valid_for_any_schedule(schedule, steps, kind):
    if kind == "edm" and schedule.total ** -0.5 >= 80.0:
        return
    t = pmm.grids.make_grid(schedule, steps, kind)
    A, alphas = pmm.grids.information_steps(schedule, t)
    assert bool((alphas >= 0).all()) and abs(float(A[-1]) - schedule.total) <= 1e-6 * schedule.total
