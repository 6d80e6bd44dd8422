"""Coefficients of the continuous-time processes (pmm-notes 2.1, 2.2)."""

import pytest
import torch
from scipy import stats

from pmm_sde.testing import assert_moments, assert_same_law

import pmm_sde as pmm

F64 = torch.float64


def test_normal_sde_coefficients():
    fam = pmm.NormalNormal(mean=0.0, precision=2.0)
    target = pmm.targets.Gaussian(1.0, 0.5)
    schedule = pmm.schedules.Power(50.0, 2.0)
    process = pmm.NormalNormalSDE(fam, schedule, target.predictor(fam))
    mu, t = torch.linspace(-1, 2, 7, dtype=F64), torch.tensor(0.4, dtype=F64)
    A, alpha = 50.0 * 0.16, 50.0 * 2 * 0.4
    lam = 2.0 + A
    xhat = target.predictor(fam)(mu, torch.tensor(A, dtype=F64))
    assert torch.allclose(process.drift(t, mu), (alpha / lam) * (xhat - mu))
    assert torch.allclose(process.diffusion(t, mu), torch.full_like(mu, alpha ** 0.5 / lam))
    # pmm-notes 2.1 with m0 = 0: d mu/dt = (alpha/(2 lambda)) m* + (alpha/A)(l0/lambda - 1/2) mu
    expect = (alpha / (2 * lam)) * xhat + (alpha / A) * (2.0 / lam - 0.5) * mu
    assert torch.allclose(process.probability_flow(t, mu), expect)
    y = mu.reshape(7, 1)
    assert process.f(t, y).shape == (7, 1) and process.g(t, y).shape == (7, 1)


def test_frozen_step_is_the_pmm_update():
    fam = pmm.NormalNormal(mean=0.3, precision=1.5)
    process = pmm.NormalNormalSDE(fam, pmm.schedules.Linear(10.0), lambda mu, A: mu)
    mu, xhat = torch.tensor([0.2], dtype=F64), torch.tensor([1.1], dtype=F64)
    A0, A1 = torch.tensor(2.0, dtype=F64), torch.tensor(5.0, dtype=F64)
    noise = pmm.streams.Noise(4, mu.shape, F64, "cpu")
    z = noise.normal(3, 0)
    y = xhat + z / 3.0 ** 0.5  # y ~ N(xhat, 1/dA) with dA = 3
    expect, _ = fam.update(mu, A0, y, 3.0)
    assert torch.allclose(process.frozen_step(noise, 3, 0, mu, xhat, A0, A1), expect)


def test_cox_process_coefficients():
    fam = pmm.GammaPoisson(2.0, 0.5)
    target = pmm.targets.Gamma(3.0, 1.0)
    schedule = pmm.schedules.Linear(8.0)
    process = pmm.GammaPoissonCoxSDE(fam, schedule, target.predictor(fam))
    mu, t = torch.tensor([1.0, 4.5], dtype=F64), torch.tensor(0.25, dtype=F64)
    A = 2.0
    xhat = target.predictor(fam)(mu, torch.tensor(A, dtype=F64))
    assert torch.allclose(process.intensity(t, mu), 8.0 * xhat)
    assert torch.allclose(process.jump_size(t), torch.tensor(1 / 2.5, dtype=F64))
    flowed = process.flow(mu, torch.tensor(2.0, dtype=F64), torch.tensor(6.0, dtype=F64))
    assert torch.allclose(flowed * 6.5, mu * 2.5)  # mu b constant between jumps
    assert torch.allclose(process.compensator_increment(mu, 0.25, 0.75), 4.0 * xhat)


def test_process_errors():
    fam = pmm.NormalNormal()
    with pytest.raises(ValueError, match="family"):
        pmm.GammaPoissonCoxSDE(fam, pmm.schedules.Linear(1.0), lambda mu, A: mu)
    with pytest.raises(ValueError, match="schedule"):
        pmm.NormalNormalSDE(fam, "linear", lambda mu, A: mu)
    with pytest.raises(ValueError, match="predictor"):
        pmm.NormalNormalSDE(fam, pmm.schedules.Linear(1.0), None)
    with pytest.raises(ValueError, match="process"):
        pmm.sample("not a process")


def test_fact_9_sde_given_x_has_the_closed_form_law():
    """With the predictor fixed at x, the SDE's law at t is N((l0 m0 + A x)/lambda, A/lambda^2):
    Euler-Maruyama with small steps (its weak error is O(1/steps)) against the closed form."""
    fam, x = pmm.NormalNormal(mean=0.5, precision=2.0), 1.3
    process = pmm.NormalNormalSDE(fam, pmm.schedules.Linear(6.0), lambda mu, A: torch.full_like(mu, x))
    res = pmm.sample(process, "euler_maruyama", steps=400, n=40_000, grid="uniform", seed=4, dtype=F64)
    lam = 2.0 + 6.0
    assert_moments(res.mu, mean=(2.0 * 0.5 + 6.0 * x) / lam, variance=6.0 / lam ** 2, z=5)


def test_fact_10_diffusion_coordinates():
    """VE: mu/gamma | x ~ N(x, 1/A) (prior mean 0); VP: sqrt(l0/gamma) mu | x ~ N(sqrt(gamma l0) x, 1 - gamma)."""
    l0, A, x = 2.0, 3.0, 0.8
    fam = pmm.NormalNormal(0.0, l0)
    mu, _ = fam.sample_state(torch.full((40_000,), x, dtype=F64), A, torch.Generator().manual_seed(8))
    gamma = A / (l0 + A)
    assert_same_law(mu / gamma, stats.norm(x, (1 / A) ** 0.5))
    assert_same_law((l0 / gamma) ** 0.5 * mu, stats.norm((gamma * l0) ** 0.5 * x, (1 - gamma) ** 0.5))
