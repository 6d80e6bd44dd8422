"""Cox-process solvers: identities with the chain, exact thinning, orders, errors."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

import pmm_sde as pmm
from pmm_sde.grids import information_steps, make_grid
from pmm_sde.testing import assert_same_law

F64 = torch.float64


def gamma_process(target, total=10.0, family=None):
    family = family or pmm.GammaPoisson(1.0, 1.0)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(total), target.predictor(family))


def test_available_names():
    process = gamma_process(pmm.targets.Gamma(2.0, 1.0))
    assert pmm.solvers.available(process) == ["tau_leap", "tau_leap_2", "thinning"]


def test_tau_leap_equals_run_chain():
    process = gamma_process(pmm.targets.GammaMixture([0.4, 0.6], torch.tensor([2.0, 9.0]), torch.tensor([3.0, 1.5])))
    res = pmm.sample(process, "tau_leap", steps=20, n=300, seed=4, dtype=F64)
    _, alphas = information_steps(process.schedule, make_grid(process.schedule, 20))
    chain = pmm.run_chain(process.family, alphas, process.predictor, n=300, seed=4, dtype=F64)
    assert torch.allclose(res.mu, chain.mu, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("steps", [1, 3])
def test_tau_leap_stays_on_the_lattice(steps):
    process = gamma_process(pmm.targets.Gamma(2.0, 0.5), total=1e4)
    res = pmm.sample(process, "tau_leap", steps=steps, n=2000, seed=1, dtype=F64)
    N = process.family.statistic(res.mu, res.A)
    assert bool(torch.isfinite(res.mu).all()) and bool((N > -1e-6).all())
    assert torch.allclose(N, N.round(), atol=1e-6)


def point_mass_law(weights, values, A):
    """N_T = sum_m w_m Poisson(A v_m) as a frozen scipy law."""
    k = np.arange(0, int(A * max(values) + 20 * math.sqrt(A * max(values) + 1)) + 1)
    pmf = sum(w * stats.poisson(A * v).pmf(k) for w, v in zip(weights, values))
    return stats.rv_discrete(values=(k, pmf / pmf.sum())).freeze()


@pytest.mark.parametrize("steps", [1, 2, 5])
def test_thinning_is_exact_at_any_grid(steps):
    weights, values = [0.3, 0.7], [0.5, 2.0]
    target = pmm.targets.PointMasses(weights, torch.tensor(values))
    process = gamma_process(target, total=4.0)
    res = pmm.sample(process, "thinning", steps=steps, n=20_000, seed=steps, dtype=F64)
    N = process.family.statistic(res.mu, res.A).round()
    assert_same_law(N, point_mass_law(weights, values, 4.0))


def test_dirichlet_thinning_is_exact():
    probs = torch.tensor([0.2, 0.3, 0.5], dtype=F64)
    fam, target = pmm.DirichletCategorical(3, 1.0), pmm.targets.Categorical(probs)
    process = pmm.GammaPoissonCoxSDE(fam, pmm.schedules.Linear(2.0), target.predictor(fam))
    res = pmm.sample(process, "thinning", steps=2, n=20_000, seed=3, dtype=F64)
    seen = res.A[..., 0] > 0
    assert_same_law((~seen).double().sum(), stats.binom(20_000, math.exp(-2.0)))
    cls = res.mu[seen].argmax(-1)
    assert_same_law(cls, stats.rv_discrete(values=([0, 1, 2], probs.tolist())).freeze())
    counts = fam.statistic(res.mu, res.A).round()
    assert bool(((counts > 0).sum(-1) <= 1).all())


def test_thinning_bound_errors():
    target = pmm.targets.Gamma(2.0, 1.0)  # unbounded: no xhat_max
    process = gamma_process(target)
    with pytest.raises(ValueError, match="xhat_max"):
        pmm.sample(process, "thinning", steps=2, n=10)
    with pytest.raises(ValueError, match="xhat_max"):
        pmm.sample(process, pmm.solvers.Thinning(xhat_max=0.5), steps=2, n=10)


@pytest.mark.parametrize("solver", ["tau_leap", "tau_leap_2", "thinning"])
def test_cox_samples_do_not_depend_on_batch_size(solver):
    process = gamma_process(pmm.targets.PointMasses([0.5, 0.5], torch.tensor([0.5, 3.0])), total=5.0)
    small = pmm.sample(process, solver, steps=4, n=7, seed=2)
    large = pmm.sample(process, solver, steps=4, n=700, seed=2)
    assert torch.equal(small.mu, large.mu[:7])
