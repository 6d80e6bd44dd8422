"""Schedules (A, rate, inverse) and step grids; the default grid is chosen by measurement."""

import math

import pytest
import torch

import pmm_sde as pmm
from pmm_sde.grids import DEFAULT_GRID, information_steps, make_grid, validate_times
from gaussian_recursion import plug_in_moments

SCHEDULES = [pmm.schedules.Linear(50.0), pmm.schedules.Power(1e3, 2.5), pmm.schedules.Exponential(1e4),
             pmm.schedules.Interpolated([0.0, 0.3, 1.0], [0.0, 2.0, 40.0])]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_schedule_A_rate_inverse(schedule):
    t = torch.linspace(0.01, 0.99, 37, dtype=torch.float64)
    assert float(schedule.A(torch.tensor(0.0, dtype=torch.float64))) == 0.0
    assert abs(float(schedule.A(torch.tensor(1.0, dtype=torch.float64))) - schedule.total) < 1e-9 * schedule.total
    h = 1e-6
    numeric = (schedule.A(t + h) - schedule.A(t - h)) / (2 * h)
    assert torch.allclose(schedule.rate(t), numeric, rtol=1e-5)
    assert torch.allclose(schedule.inverse(schedule.A(t)), t, atol=1e-10)
    assert bool((schedule.A(t)[1:] > schedule.A(t)[:-1]).all())


def test_exponential_schedule_formula():
    s = pmm.schedules.Exponential(99.0)
    assert abs(float(s.A(0.5)) - 9.0) < 1e-12
    assert abs(float(s.rate(0.5)) - math.log(100) * 10) < 1e-10


@pytest.mark.parametrize("kind", ["log1p", "log1p_sqrt", "log", "uniform", "edm", "uniform_A"])
@pytest.mark.parametrize("steps", [1, 2, 17])
def test_grids_are_increasing_from_0_to_1(kind, steps):
    t = make_grid(pmm.schedules.Power(1e3, 2.0), steps, kind)
    assert t.shape == (steps + 1,) and float(t[0]) == 0.0 and float(t[-1]) == 1.0
    assert bool((t[1:] > t[:-1]).all())


def test_log1p_grid_is_geometric_in_one_plus_A():
    s = pmm.schedules.Power(1e4, 2.0)
    A = s.A(make_grid(s, 8, "log1p"))
    ratios = torch.log1p(A[1:]) - torch.log1p(A[:-1])
    assert torch.allclose(ratios, torch.full_like(ratios, math.log1p(1e4) / 8), rtol=1e-9)


def test_edm_grid_is_rho_spaced_in_sigma():
    s = pmm.schedules.Linear(1e4)
    A = s.A(make_grid(s, 6, "edm", rho=7.0, sigma_max=80.0))
    sigma_root = A[1:] ** (-0.5 / 7.0)
    steps = sigma_root[1:] - sigma_root[:-1]
    assert torch.allclose(steps, steps[0].expand_as(steps), rtol=1e-8)
    assert abs(float(A[1]) - 80.0 ** -2) < 1e-12


def test_default_grid_is_the_measured_best_and_first_order():
    """On the Gaussian oracle problem (A(1) = 1e4) the default grid has the smallest error of
    Var(mu_1) among the named grids, and the error halves when the steps double."""
    schedule = pmm.schedules.Power(1e4, 2.0)
    fam, target = pmm.NormalNormal(0.0, 1.0), pmm.targets.Gaussian(1.5, 0.5)
    _, exact_var = target.marginal(fam, 1e4)
    errors = {}
    for kind in ("log1p", "uniform", "edm", "uniform_A"):
        errors[kind] = [abs(plug_in_moments(1.0, 0.0, 1.5, 0.5, schedule.A(make_grid(schedule, N, kind)))[1]
                            / float(exact_var) - 1) for N in (40, 80, 160)]
    assert min(errors, key=lambda k: errors[k][-1]) == DEFAULT_GRID
    e = errors[DEFAULT_GRID]
    assert 1.8 < e[0] / e[1] < 2.2 and 1.8 < e[1] / e[2] < 2.2
    assert errors["uniform_A"][-1] > 0.5  # one huge first step: the chain collapses


def test_grid_and_schedule_errors():
    with pytest.raises(ValueError, match="steps"):
        make_grid(pmm.schedules.Linear(1.0), 0)
    with pytest.raises(ValueError, match="grid"):
        make_grid(pmm.schedules.Linear(1.0), 4, "cosine")
    with pytest.raises(ValueError, match="strictly increasing"):
        validate_times(torch.tensor([0.0, 0.5, 0.4, 1.0]))
    with pytest.raises(ValueError, match="total"):
        pmm.schedules.Linear(-1.0)
    with pytest.raises(ValueError, match="power"):
        pmm.schedules.Power(1.0, 0.0)
    with pytest.raises(ValueError, match="values"):
        pmm.schedules.Interpolated([0.0, 0.5, 1.0], [0.0, 3.0, 2.0])

    class Decreasing(pmm.schedules.Linear):
        def A(self, t):
            return -super().A(t)

    with pytest.raises(ValueError, match="non-decreasing"):
        information_steps(Decreasing(1.0), make_grid(pmm.schedules.Linear(1.0), 4, "uniform"))
