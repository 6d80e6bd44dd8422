"""Cox-process solvers: tau_leap is the PMM chain, thinning is exact in law, weak orders measured
on a target with an exact law, lattice and simplex invariants, per-sample reproducibility, errors.

tau_leap_2's weak order is measured on the exact law of its scheme (propagated through the step's
transition matrix), and a chi-square test shows that sample() draws that law. A direct Monte Carlo
measurement is out of reach of a unit test: at 8 steps its error in E[N_T] is 0.0045 standard
deviations of N_T, and 0.013 for the best possible functional (the chi-square distance), so
resolving it at 10 standard errors takes 0.6-5 million samples per step count."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import pmm_sde as pmm
from pmm_sde.grids import information_steps, make_grid
from pmm_sde.testing import assert_same_law
from pmm_sde.testing.laws import same_law_pvalue

F64 = torch.float64
COX = ["tau_leap", "tau_leap_2", "thinning"]


def gamma_poisson_process(target, total: float = 20.0, shape=(2,)):
    family = pmm.GammaPoisson(1.5, 0.5)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(total), target.predictor(family), shape=shape)


def dirichlet_process(probs, total: float = 3.0):
    family = pmm.DirichletCategorical(probs.shape[-1], 1.0)
    target = pmm.targets.Categorical(probs)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Linear(total), target.predictor(family),
                                  shape=tuple(probs.shape[:-1]))


def counts(process, result):
    """``N = b mu - a0`` (Gamma-Poisson), checked to lie on the integer lattice."""
    N = process.family.statistic(result.mu, result.A)
    assert torch.allclose(N, N.round(), atol=1e-8), "mu left its lattice"
    return N.round()


PROBS = torch.tensor([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype=F64)
POINTS = pmm.targets.PointMasses([0.4, 0.6], torch.tensor([0.5, 3.0]))
POINTS_2D = pmm.targets.PointMasses([0.4, 0.6], torch.tensor([[0.5, 2.0], [3.0, 1.0]]))  # xhat_max = 3


def point_mass_law(weights, rates) -> stats.rv_discrete:
    """``sum_m w_m Poisson(rate_m)``, frozen, truncated where the tail is below 1e-15."""
    k = np.arange(int(stats.poisson(max(rates)).ppf(1 - 1e-15)) + 1)
    pmf = sum(w * stats.poisson(r).pmf(k) for w, r in zip(weights, rates))
    return stats.rv_discrete(values=(k, pmf / pmf.sum())).freeze()


# ---------------------------------------------------------------- weak orders, exact laws
# A Gamma-mixture target: N_T ~ sum_m w_m NegativeBinomial(a_m, b_m / (b_m + A_T)) exactly (pmm-notes
# fact 12 per component), and its oracle is nonlinear in N, unlike a single Gamma's, whose affine
# intensity (a + N) / (b + A) makes E[N_T] exact for both schemes and Var[N_T] superconvergent.
MIXTURE = pmm.targets.GammaMixture([0.5, 0.5], [1.0, 8.0], [2.0, 2.0])
MIXTURE_TOTAL = 4.0
SUPPORT = 100  # counts 0..99 hold all but ~2e-11 of every law below


def mixture_process():
    family = pmm.GammaPoisson(1.0, 1.0)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(MIXTURE_TOTAL), MIXTURE.predictor(family))


def mixture_law() -> np.ndarray:
    k = np.arange(SUPPORT)
    return sum(0.5 * stats.nbinom(a, b / (b + MIXTURE_TOTAL)).pmf(k) for a, b in [(1.0, 2.0), (8.0, 2.0)])


def poisson_kernel(rates: np.ndarray) -> np.ndarray:
    """``K[..., n, m] = Poisson(m - n; rates[..., n])`` on the truncated support."""
    jumps = np.arange(1, SUPPORT)
    pmf = np.exp(-rates)[..., None] * np.concatenate(
        [np.ones(rates.shape + (1,)), np.cumprod(rates[..., None] / jumps, axis=-1)], axis=-1)
    offset = np.arange(SUPPORT)[None, :] - np.arange(SUPPORT)[:, None]
    kernel = np.take_along_axis(pmf, np.broadcast_to(np.maximum(offset, 0), pmf.shape), axis=-1)
    return np.where(offset >= 0, kernel, 0.0)


def scheme_law(process, solver: str, steps: int) -> np.ndarray:
    """Exact law of N_T under the solver's step equation (TauLeap / TauLeap2 docstrings), by
    propagating the pmf of N through each step's transition matrix; xhat is the process's oracle."""
    A = process.schedule.A(make_grid(process.schedule, steps)).numpy()
    N = torch.arange(SUPPORT, dtype=F64)

    def xhat(a: float) -> np.ndarray:
        a = torch.tensor(a, dtype=F64)
        return process.predictor(process.family.posterior_mean(N, a), a).numpy()

    law = np.eye(SUPPORT)[0]
    for A0, A1 in zip(A[:-1], A[1:]):
        h, x0 = A1 - A0, xhat(A0)
        if solver == "tau_leap":
            law = law @ poisson_kernel(h * x0)
        else:  # first half step n -> m, then rates h/2 max(2 xhat(m, A0 + h/2) - xhat(n, A0), 0)
            second = 0.5 * h * np.maximum(2.0 * xhat(A0 + 0.5 * h)[None, :] - x0[:, None], 0.0)
            law = law @ np.einsum("nm,nmj->nj", poisson_kernel(0.5 * h * x0), poisson_kernel(second))
    return law


def functionals(law: np.ndarray) -> np.ndarray:
    """``E[N], Var[N], P(N = 0)`` of a law on the support."""
    k = np.arange(SUPPORT)
    mean = (k * law).sum()
    return np.array([mean, ((k - mean) ** 2 * law).sum(), law[0]])


@pytest.mark.parametrize("solver, order", [("tau_leap", 1.0), ("tau_leap_2", 2.0)])
def test_weak_order_of_the_scheme_law(solver, order):
    """The weak errors of E[N_T], Var[N_T], P(N_T = 0), computed exactly from the scheme's law
    (no Monte Carlo noise), fall at the declared order: fitted slopes within 0.25 (measured:
    tau_leap 0.93, 1.04, 0.97; tau_leap_2 2.14, 1.93, 2.00 over 8-64 steps). The test below
    checks that the solver samples exactly this law."""
    process = mixture_process()
    assert pmm.solvers.get_solver(solver, process).weak_order == order
    exact = functionals(mixture_law())
    steps = [8, 16, 32, 64]
    errors = np.abs([functionals(scheme_law(process, solver, s)) - exact for s in steps])
    slopes = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert np.all(np.abs(slopes - order) < 0.25), (slopes, errors)


@pytest.mark.parametrize("solver", ["tau_leap", "tau_leap_2"])
@pytest.mark.parametrize("steps", [2, 4])
def test_solver_samples_its_scheme_law(solver, steps):
    """Chi-square of sample() against the scheme's exact law on coarse grids, where that law is far
    from the target's: at 2 steps the same samples reject the exact law."""
    process = mixture_process()
    res = pmm.sample(process, solver, steps=steps, n=20_000, seed=50 + steps, dtype=F64)
    N = counts(process, res)
    support = np.arange(SUPPORT)
    law = scheme_law(process, solver, steps)
    assert_same_law(N, stats.rv_discrete(values=(support, law / law.sum())).freeze())
    if steps == 2:
        exact = mixture_law()
        assert same_law_pvalue(N, stats.rv_discrete(values=(support, exact / exact.sum())).freeze()) < 1e-6


def test_tau_leap_weak_order_one_by_monte_carlo():
    """Direct measurement: Monte Carlo errors of Var[N_T] against the exact mixture law halve when
    the steps double (each error above 10 standard errors)."""
    process = mixture_process()
    exact = functionals(mixture_law())[1]
    steps = [4, 8, 16]
    errors, ses = [], []
    for s in steps:
        N = counts(process, pmm.sample(process, "tau_leap", steps=s, n=100_000, seed=7, dtype=F64)).numpy()
        centred = (N - N.mean()) ** 2
        errors.append(abs(centred.mean() - exact))
        ses.append(centred.std() / math.sqrt(N.size))
    assert min(e / se for e, se in zip(errors, ses)) > 10, (errors, ses)
    slope = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert abs(slope - 1.0) < 0.25, (slope, errors)


def test_available_lists_exactly_the_cox_solvers():
    for process in (gamma_poisson_process(pmm.targets.Gamma(2.0, 1.0)), dirichlet_process(PROBS)):
        assert pmm.solvers.available(process) == COX
    brownian = pmm.NormalNormalSDE(pmm.NormalNormal(), pmm.schedules.Linear(1.0), lambda mu, A: mu)
    assert not set(COX) & set(pmm.solvers.available(brownian))


@pytest.mark.parametrize("case", ["gamma_poisson", "dirichlet"])
def test_tau_leap_is_the_pmm_chain(case):
    """Same seed, same A(grid): sample(tau_leap) reproduces run_chain(alphas = diff A(grid))."""
    if case == "gamma_poisson":
        process = gamma_poisson_process(pmm.targets.Gamma(torch.tensor([2.0, 0.7]), 1.5))
    else:
        process = dirichlet_process(PROBS)
    grid = make_grid(process.schedule, 12)
    _, alphas = information_steps(process.schedule, grid)
    res = pmm.sample(process, "tau_leap", grid=grid, n=500, seed=21, dtype=F64)
    chain = pmm.run_chain(process.family, alphas, process.predictor, n=500, shape=process.shape, seed=21,
                          dtype=F64)
    assert torch.allclose(res.mu, chain.mu, rtol=1e-12, atol=1e-12)
    assert torch.allclose(res.A, chain.A, rtol=1e-12, atol=1e-12)
    assert res.nfe == chain.nfe == 12


@pytest.mark.parametrize("solver", COX)
@pytest.mark.parametrize("steps", [1, 2, 7])
def test_gamma_poisson_state_stays_on_its_lattice(solver, steps):
    """N = b mu - a0 is a finite non-negative integer after any number of steps, one included;
    the terminal A is the schedule's A(1)."""
    process = gamma_poisson_process(POINTS_2D, total=5.0)
    res = pmm.sample(process, solver, steps=steps, n=400, seed=5, dtype=F64)
    assert bool(torch.isfinite(res.mu).all())
    assert bool((counts(process, res) >= 0).all())
    assert math.isclose(float(res.A), 5.0, rel_tol=1e-12)


@pytest.mark.parametrize("solver", ["tau_leap", "thinning"])
@pytest.mark.parametrize("steps", [1, 5])
def test_dirichlet_state_stays_on_the_simplex(solver, steps):
    process = dirichlet_process(PROBS, total=4.0)
    res = pmm.sample(process, solver, steps=steps, n=400, seed=6, dtype=F64)
    assert bool((res.mu >= 0).all()) and torch.allclose(res.mu.sum(-1), torch.ones(400, 2, dtype=F64))
    assert torch.equal(res.A, res.A.round()) and bool((res.A >= 0).all())
    C = process.family.statistic(res.mu, res.A)
    assert torch.allclose(C, C.round(), atol=1e-9) and torch.allclose(C.sum(-1, keepdim=True), res.A)


@pytest.mark.parametrize("case, solver", [("gamma_poisson", s) for s in COX]
                         + [("dirichlet", "tau_leap"), ("dirichlet", "thinning")])
def test_sample_noise_depends_only_on_seed_and_index(case, solver):
    process = gamma_poisson_process(POINTS_2D, total=5.0) if case == "gamma_poisson" else dirichlet_process(PROBS)
    small = pmm.sample(process, solver, steps=4, n=7, seed=42, dtype=F64)
    large = pmm.sample(process, solver, steps=4, n=700, seed=42, dtype=F64)
    assert torch.equal(small.mu, large.mu[:7]) and torch.equal(small.A, large.A[:7] if small.A.dim() else large.A)
    other = pmm.sample(process, solver, steps=4, n=7, seed=43, dtype=F64)
    assert not torch.equal(small.mu, other.mu)


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_thinning_is_exact_for_point_masses_on_any_grid(steps):
    """N_T ~ sum_m w_m Poisson(A_T v_m) exactly, however coarse the grid; NFE = proposal rounds."""
    family = pmm.GammaPoisson(1.0, 1.0)
    process = pmm.GammaPoissonCoxSDE(family, pmm.schedules.Linear(5.0), POINTS.predictor(family))
    res = pmm.sample(process, "thinning", steps=steps, grid="uniform", n=20_000, seed=30 + steps, dtype=F64)
    assert_same_law(counts(process, res), point_mass_law([0.4, 0.6], [5.0 * 0.5, 5.0 * 3.0]))
    assert res.nfe >= 5.0 * 3.0  # rounds >= the batch's largest proposal count, of mean A_T xhat_max


def test_thinning_is_exact_for_coupled_coordinates():
    """Two coordinates sharing one point mass are coupled through the oracle's posterior over the
    point: the joint law of (N_1, N_2) is the mixture of independent Poissons."""
    values = torch.tensor([[0.5, 2.0], [2.5, 0.3]])
    target = pmm.targets.PointMasses([0.5, 0.5], values)
    family = pmm.GammaPoisson(1.0, 1.0)
    process = pmm.GammaPoissonCoxSDE(family, pmm.schedules.Linear(3.0), target.predictor(family), shape=(2,))
    res = pmm.sample(process, "thinning", steps=2, n=20_000, seed=33, dtype=F64)
    N = counts(process, res)
    base = 40
    k = np.arange(base)
    joint = sum(0.5 * np.outer(stats.poisson(3.0 * v[0]).pmf(k), stats.poisson(3.0 * v[1]).pmf(k))
                for v in values.double().numpy())
    law = stats.rv_discrete(values=(np.arange(base * base), joint.ravel() / joint.sum())).freeze()
    assert_same_law(N[:, 0] * base + N[:, 1], law)


@pytest.mark.parametrize("steps", [1, 3])
def test_thinning_dirichlet_samples_the_categories_exactly(steps):
    """Events per position ~ Poisson(A_T) (so P(no event) = exp(-A_T)), and the class of an
    informed position follows probs, on any grid."""
    process = dirichlet_process(PROBS, total=2.0)
    res = pmm.sample(process, "thinning", steps=steps, n=20_000, seed=40 + steps, dtype=F64)
    events = res.A[..., 0]
    assert_same_law(events.flatten(), stats.poisson(2.0))
    assert_same_law((events == 0).double().sum(), stats.binom(40_000, math.exp(-2.0)))
    seen = events > 0
    for pos in range(2):
        cls = res.mu[:, pos][seen[:, pos]].argmax(-1)
        assert_same_law(cls, stats.rv_discrete(values=([0, 1, 2], PROBS[pos].tolist())).freeze())


def test_nfe_per_step():
    process = gamma_poisson_process(POINTS_2D, total=5.0)
    assert pmm.sample(process, "tau_leap", steps=6, n=10).nfe == 6
    assert pmm.sample(process, "tau_leap_2", steps=6, n=10).nfe == 12


def test_thinning_refuses_a_prediction_above_its_bound():
    process = gamma_poisson_process(POINTS_2D, total=5.0)
    with pytest.raises(ValueError, match=r"xhat_max = 2"):
        pmm.sample(process, pmm.solvers.Thinning(xhat_max=2.0), steps=3, n=50)


def test_thinning_needs_a_bound():
    process = gamma_poisson_process(pmm.targets.Gamma(2.0, 1.0), shape=())
    with pytest.raises(ValueError, match="xhat_max"):
        pmm.sample(process, "thinning", steps=3, n=10)
    with pytest.raises(ValueError, match="xhat_max"):
        pmm.solvers.Thinning(xhat_max=0.0)


def test_thinning_uses_a_given_bound():
    """A predictor without xhat_max, bounded by the user: xhat = 1.5 <= 2 gives N_T ~ Poisson(1.5 A_T)."""
    family = pmm.GammaPoisson(1.0, 1.0)
    process = pmm.GammaPoissonCoxSDE(family, pmm.schedules.Linear(4.0), lambda mu, A: torch.full_like(mu, 1.5))
    res = pmm.sample(process, pmm.solvers.Thinning(xhat_max=2.0), steps=2, n=10_000, seed=9, dtype=F64)
    assert_same_law(counts(process, res), stats.poisson(6.0))


def test_tau_leap_2_is_gamma_poisson_only():
    with pytest.raises(ValueError, match="tau_leap_2.*Gamma-Poisson"):
        pmm.sample(dirichlet_process(PROBS), "tau_leap_2", steps=3, n=10)
