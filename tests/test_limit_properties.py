"""Property tests of the limits over random valid configurations (pmm-notes 2, 6).

- the plug-in chain's law converges to the SDE's as the steps grow (Normal-Normal and Cox);
- mu_T tends to x as A_T grows (all three families);
- splitting invariance: the exact frozen-predictor steps give the same law on every grid;
- thinning is exact on every grid.

Deterministic: fixed seeds, the derandomized "ci" hypothesis profile (tests/conftest.py), and
tolerances from standard errors: z-tests 5 standard errors wide, law tests at level 1e-6
(``pmm_sde.testing``). Where a law is known in closed form the convergence itself is checked
exactly, without Monte Carlo noise, and the samples are checked against that law.
"""

import math

import numpy as np
import pytest
import torch
from gaussian_recursion import plug_in_moments
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import pmm_sde as pmm
from pmm_sde.grids import make_grid
from pmm_sde.testing import assert_moments, assert_same_law
from pmm_sde.testing import strategies as pst

F64 = torch.float64
SEEDS = st.integers(0, 2**31 - 1)
# Grids that refine as the steps grow, for any total in the strategies' range.
REFINING = st.sampled_from(["log1p", "log1p_sqrt", "log", "edm"])
STEPS = [64, 256, 1024]


def _halves_per_quadrupling(errors) -> bool:
    """First-order convergence from 64 steps on: the error at least halves when N quadruples
    (the ratio is 1/4 asymptotically; measured at most 0.34 over the strategies' range)."""
    return all(e1 <= 0.5 * e0 for e0, e1 in zip(errors[:-1], errors[1:]))


# ------------------------------------------------------------------ chain -> SDE
@given(family=pst.normal_families(), m=st.floats(-3.0, 3.0), s=st.floats(0.1, 3.0),
       schedule=pst.schedules(), kind=REFINING, seed=SEEDS)
def test_normal_chain_law_converges_to_the_sde_law(family, m, s, schedule, kind, seed):
    """Gaussian target N(m, s^2): the SDE with the oracle drift has the target's marginal law
    N(M*, V*) at A(1) (pmm-notes fact 8). The plug-in chain on N steps has the Gaussian law
    N(M_N, V_N) of its moment recursion: M_N = M* exactly and |V_N / V* - 1| -> 0 at first order.
    The samples of ``pmm_chain`` on 8 steps follow N(M_8, V_8) (KS at level 1e-6)."""
    l0, m0 = float(family.precision), float(family.prior_mean)
    mean, var = (float(v) for v in pmm.targets.Gaussian(m, s).marginal(family, schedule.total))

    def moments(steps):
        return plug_in_moments(l0, m0, m, s, schedule.A(make_grid(schedule, steps, kind)))

    errors = []
    for steps in STEPS:
        M, V = moments(steps)
        assert abs(M - mean) <= 1e-7 * (1 + abs(mean))
        errors.append(abs(V / var - 1))
    assert _halves_per_quadrupling(errors) and errors[-1] < 0.1, errors

    process = pmm.NormalNormalSDE(family, schedule, pmm.targets.Gaussian(m, s).predictor(family))
    res = pmm.sample(process, "pmm_chain", steps=8, grid=kind, n=4000, seed=seed, dtype=F64)
    M, V = moments(8)
    assert_same_law(res.mu, stats.norm(M, math.sqrt(V)))


def tau_leap_count_moments(a: float, b: float, A: np.ndarray) -> tuple[float, float]:
    """Mean and variance of N_T under tau-leaping with the Gamma(a, b) oracle ``(a + N) / (b + A)``.

    One step of length h from A: ``N' = N + Poisson(h (a + N) / (b + A))``, so with
    ``r = (b + A') / (b + A)``: ``a + E N' = r (a + E N)``, whence ``E N_T = a A_T / b`` on every
    grid, and ``Var N' = r^2 Var N + h a / b``, whence ``Var N_T = (b + A_T)^2 (a / b)
    sum_k h_k / (b + A_{k+1})^2``: a right-endpoint rule for the exact
    ``(b + A_T)^2 (a / b) int_0^A_T ds / (b + s)^2 = a A_T (b + A_T) / b^2`` (negative binomial).
    """
    W = float(np.sum(np.diff(A) / (b + A[1:]) ** 2))
    return a * A[-1] / b, (b + A[-1]) ** 2 * a / b * W


@given(family=pst.gamma_poisson_families(), a=st.floats(0.5, 10.0), b=st.floats(0.5, 5.0),
       schedule=pst.schedules(max_total=1e3), kind=REFINING, seed=SEEDS)
def test_tau_leap_law_converges_to_the_cox_process_law(family, a, b, schedule, kind, seed):
    """Gamma(a, b) target: the Cox process with the oracle intensity has N_T ~ NegativeBinomial
    (pmm-notes fact 12), mean a A_T / b, variance a A_T (b + A_T) / b^2. Tau-leaping (the PMM
    chain) keeps the mean exact on every grid and its variance error -> 0 at first order; its
    samples on 8 steps have the recursion's mean and variance (z-tests, 5 standard errors)."""
    total = schedule.total
    exact_var = a * total * (b + total) / b ** 2
    errors = []
    for steps in STEPS:
        mean, var = tau_leap_count_moments(a, b, schedule.A(make_grid(schedule, steps, kind)).numpy())
        assert math.isclose(mean, a * total / b, rel_tol=1e-9)
        errors.append(abs(var / exact_var - 1))
    assert _halves_per_quadrupling(errors) and errors[-1] < 0.1, errors

    target = pmm.targets.Gamma(a, b)
    process = pmm.GammaPoissonCoxSDE(family, schedule, target.predictor(family))
    res = pmm.sample(process, "tau_leap", steps=8, grid=kind, n=4000, seed=seed, dtype=F64)
    N = process.family.cast(res.mu).statistic(res.mu, res.A).round()
    mean, var = tau_leap_count_moments(a, b, schedule.A(make_grid(schedule, 8, kind)).numpy())
    assert_moments(N, mean=mean, variance=var)


# ------------------------------------------------------------------ mu_T -> x
def exact_squared_error(family, x: torch.Tensor, A: float) -> float:
    """``E |mu_A - x|^2`` given x (summed over classes): with ``B = |n0 mu0 - n0 x|^2`` and ``v``
    the variance per unit information (Normal 1, Poisson x, Dirichlet sum_k x_k (1 - x_k)),
    ``(B + A v) / (n0 + A)^2``; for Dirichlet-Categorical the information is the event count
    ``n ~ Poisson(A)``, averaged over in closed form."""
    n0 = float(family.prior_strength.sum()) if family.has_class_axis else float(family.prior_strength)
    B = float(((family.prior_statistic.double() - n0 * x) ** 2).sum())
    if isinstance(family, pmm.NormalNormal):
        return (B + A) / (n0 + A) ** 2
    if isinstance(family, pmm.GammaPoisson):
        return (B + A * float(x)) / (n0 + A) ** 2
    v = float((x * (1 - x)).sum())
    n = np.arange(int(stats.poisson(A).ppf(1e-16)), int(stats.poisson(A).isf(1e-16)) + 1)
    return float(np.sum(stats.poisson(A).pmf(n) * (B + n * v) / (n0 + n) ** 2))


@given(family=pst.families(), split=pst.alphas(min_size=1, max_size=4).filter(lambda w: sum(w) > 0.1),
       seed=SEEDS, data=st.data())
def test_posterior_mean_tends_to_x_as_information_grows(family, split, seed, data):
    """Given x, the chain's ``E |mu_T - x|^2`` equals its closed form (5 standard errors) at
    A_T = 1e2, 1e4, 1e6, split into random steps, and that closed form falls at least tenfold
    per hundredfold A_T (asymptotically like v / A_T): mu_T -> x in mean square. x is interior
    (entries >= 0.05 before normalisation): a count of mean A_T x << 1 would be a rare event,
    whose sample standard error is no bound on the error of the mean."""
    x = data.draw(pst.data_points(family, n=1, interior=True))[0]
    family = family.cast(x)
    predictor = pst.ConstantPredictor(x)
    exact = []
    for A in (1e2, 1e4, 1e6):
        alphas = A * torch.tensor(split, dtype=F64) / sum(split)
        res = pmm.run_chain(family, alphas, predictor, n=2000, shape=(), seed=seed, dtype=F64)
        d = ((res.mu - x) ** 2).reshape(2000, -1).sum(1)
        exact.append(exact_squared_error(family, x, A))
        se = float(d.std()) / math.sqrt(d.numel())
        assert abs(float(d.mean()) - exact[-1]) <= 5 * se + 1e-9 * exact[-1], (A, float(d.mean()), exact[-1], se)
    assert exact[1] <= 0.1 * exact[0] and exact[2] <= 0.1 * exact[1], exact


# ------------------------------------------------------------------ splitting invariance
EXACT_STEPS = {pmm.NormalNormal: ["pmm_chain", "pmm_2"], pmm.GammaPoisson: ["tau_leap", "tau_leap_2", "nb_leap"],
               pmm.DirichletCategorical: ["tau_leap", "dirichlet_leap"]}


@settings(max_examples=20)
@given(family=pst.families(), schedule=pst.schedules(max_total=1e3), seed=SEEDS, data=st.data())
def test_exact_steps_give_the_same_law_on_every_grid(family, schedule, seed, data):
    """With the predictor frozen at a point x the exact steps are exact, so their law of the
    statistic after A_T is the closed form given x on any grid: S ~ N(A_T x, A_T) (pmm_chain,
    pmm_2), N ~ Poisson(A_T x) (tau_leap, tau_leap_2; nb_leap, whose Gamma has no spread when the
    prediction does not move with the count), C_k ~ Poisson(A_T x_k) (Dirichlet tau_leap;
    dirichlet_leap, whose first event's class is drawn from x and the rest have no spread); each
    checked at level 1e-6. The grid is a random named or lattice grid."""
    x = data.draw(pst.data_points(family, n=1))[0]
    family = family.cast(x)
    solver = data.draw(st.sampled_from(EXACT_STEPS[type(family)]))
    grid = data.draw(pst.grids(schedule, max_steps=12))
    cls = pmm.NormalNormalSDE if isinstance(family, pmm.NormalNormal) else pmm.GammaPoissonCoxSDE
    process = cls(family, schedule, pst.ConstantPredictor(x), shape=())
    res = pmm.sample(process, solver, grid=grid, n=3000, seed=seed, dtype=F64)
    A = schedule.total
    if isinstance(family, pmm.NormalNormal):
        assert_same_law(family.statistic(res.mu, res.A), stats.norm(A * float(x), math.sqrt(A)))
        return
    counts = family.statistic(res.mu, res.A if family.has_class_axis else A).round()
    for k, xk in enumerate(x.reshape(-1).tolist()):
        column = counts.reshape(3000, -1)[:, k]
        if xk == 0.0:
            assert bool((column == 0).all())
        else:
            assert_same_law(column, stats.poisson(A * xk))


@given(family=st.one_of(pst.normal_families(), pst.gamma_poisson_families()), dA=st.floats(0.01, 10.0),
       seed=SEEDS, data=st.data())
def test_pmm_update_is_the_frozen_step_from_any_state(family, dA, seed, data):
    """From posterior states drawn given x (the training law) and any valid predictor, one PMM
    update of information dA adds to the statistic the frozen step's increment: S' - S ~
    N(dA xhat, dA), checked on (S' - S - dA xhat) / sqrt(dA) by KS at level 1e-6; N' - N ~
    Poisson(dA xhat), checked by z-tests of the mean 0 and variance 1 of (N' - N - r) / sqrt(r),
    r = dA xhat, where r > 0.1 (5 standard errors; smaller rates give too heavy tails)."""
    state = data.draw(pst.posterior_states(family, n=3000))
    predictor = data.draw(pst.predictors(family))
    family = family.cast(state.mu)
    xhat = predictor(state.mu, state.A)
    assert not bool(family.invalid_prediction(xhat))
    mu, A = family.absorb(state.mu, state.A, *family.evidence(xhat, dA, seed, 0))
    increment = family.statistic(mu, A) - family.statistic(state.mu, state.A)
    if isinstance(family, pmm.NormalNormal):
        assert_same_law((increment - dA * xhat) / math.sqrt(dA), stats.norm())
        return
    counts, rate = increment.round(), dA * xhat
    assert torch.allclose(increment, counts, atol=1e-6) and bool((counts[rate == 0] == 0).all())
    used = rate > 0.1
    if int(used.sum()) > 100:
        assert_moments((counts - rate)[used] / rate[used].sqrt(), mean=0.0, variance=1.0)


# ------------------------------------------------------------------ thinning exact
def poisson_mixture(weights, rates) -> stats.rv_discrete:
    """``sum_m w_m Poisson(rate_m)``, truncated where its tail is below 1e-15."""
    k = np.arange(int(stats.poisson(max(rates)).isf(1e-15)) + 1)
    pmf = sum(w * stats.poisson(r).pmf(k) for w, r in zip(weights, rates))
    return stats.rv_discrete(values=(k, pmf / pmf.sum())).freeze()


@settings(max_examples=15)
@given(family=pst.gamma_poisson_families(), schedule=pst.schedules(min_total=0.5, max_total=4.0),
       seed=SEEDS, data=st.data())
def test_thinning_is_exact_on_every_grid(family, schedule, seed, data):
    """Point-mass target (values in [0.05, 5]): N_T ~ sum_m w_m Poisson(A_T v_m) exactly, on a
    random grid of 1 to 6 steps (chi-square at level 1e-6)."""
    target = data.draw(pst.targets(family, bounded=True))
    grid = data.draw(pst.grids(schedule, max_steps=6))
    process = pmm.GammaPoissonCoxSDE(family, schedule, target.predictor(family))
    res = pmm.sample(process, "thinning", grid=grid, n=4000, seed=seed, dtype=F64)
    N = process.family.cast(res.mu).statistic(res.mu, res.A).round()
    assert_same_law(N, poisson_mixture(target.weights.tolist(), (schedule.total * target.values).tolist()))


@settings(max_examples=10)
@given(family=pst.dirichlet_families(max_classes=4), schedule=pst.schedules(min_total=0.5, max_total=4.0),
       seed=SEEDS, data=st.data())
def test_dirichlet_thinning_is_exact_on_every_grid(family, schedule, seed, data):
    """Categorical target: per position the events number Poisson(A_T), all in one class, drawn
    from probs, on a random grid (two chi-square tests at level 1e-6)."""
    target = pmm.targets.Categorical(data.draw(pst.data_points(family, n=1))[0])
    grid = data.draw(pst.grids(schedule, max_steps=6))
    process = pmm.GammaPoissonCoxSDE(family, schedule, target.predictor(family), shape=())
    res = pmm.sample(process, "thinning", grid=grid, n=4000, seed=seed, dtype=F64)
    events = res.A.reshape(-1)
    assert_same_law(events, stats.poisson(schedule.total))
    C = family.cast(res.mu).statistic(res.mu, res.A).round()
    informed = events > 0
    assert torch.equal(C[informed].amax(-1), events[informed])
    K = family.num_classes
    law = stats.rv_discrete(values=(np.arange(K), target.probs.double().numpy())).freeze()
    assert_same_law(C[informed].argmax(-1), law)


def test_the_pytest_plugin_registers_the_slow_marker():
    """Declared as a pytest11 entry point, and its hook adds the marker line."""
    from pathlib import Path

    tomllib = pytest.importorskip("tomllib")

    from pmm_sde.testing import pytest_plugin

    project = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["pytest11"]["pmm_sde"] == "pmm_sde.testing.pytest_plugin"
    lines = []

    class Config:
        def addinivalue_line(self, name, line):
            lines.append((name, line))

    pytest_plugin.pytest_configure(Config())
    assert lines == [("markers", pytest_plugin.SLOW_MARKER)]
