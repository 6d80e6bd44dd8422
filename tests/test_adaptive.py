"""Adaptive stepping: the PI controller's rule, the embedded pairs' local orders, ``ode_3m_adaptive``'s
error against the exact flow of a Gaussian target as the tolerance falls, per-sample steps
independent of the batch, and bad input."""

import math

import pytest
import torch

import pmm_sde as pmm
from pmm_sde.convergence import weak_orders
from pmm_sde.stepsize import PIController
from pmm_sde.streams import Noise

F64 = torch.float64


def gaussian_process(shape=()):
    family = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.Gaussian(torch.full(shape, 1.5), 0.5)
    return pmm.NormalNormalSDE(family, pmm.schedules.Exponential(100.0), target.predictor(family), shape=shape), target


def test_accept_and_reject_follow_the_pi_rule():
    controller = PIController(rtol=0.1, atol=0.01)  # pcoeff 0.4, icoeff 1, safety 0.9, factors [0.2, 10]
    ratio = torch.tensor([0.5, 2.0, 100.0, 0.0, 0.99, float("inf")], dtype=F64)
    previous = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.1, 1.0], dtype=F64)
    accept, factor, memory = controller.adapt(ratio, previous, 3.0)
    assert accept.tolist() == [True, False, False, True, True, False]
    expected = [0.9 * 0.5 ** (-1.4 / 3),  # accepted: safety r^-((p + i)/k) = 1.244
                0.9 * 2.0 ** (-1.4 / 3),  # rejected: 0.651, below safety
                0.2,                      # rejected far off: factormin
                10.0,                     # no error: factormax
                1.0,                      # accepted: 0.9 0.99^(-1.4/3) 0.1^(0.4/3) = 0.665, but never below 1
                0.2]                      # non-finite error: factormin
    assert torch.allclose(factor, torch.tensor(expected, dtype=F64), rtol=1e-14, atol=0)
    assert memory.tolist() == [0.5, 1.0, 1.0, 1.0, 0.99, 1.0]  # accepted ratios, 1 for a zero error, else kept
    _, factor, _ = controller.adapt(torch.tensor([0.5], dtype=F64), torch.tensor([0.25], dtype=F64), 2.0)
    assert math.isclose(float(factor), 0.9 * 0.5 ** (-1.4 / 2) * 0.25 ** (0.4 / 2), rel_tol=1e-14)


def test_the_error_norm_is_a_per_sample_rms_of_mixed_tolerances():
    controller = PIController(rtol=0.1, atol=0.01)
    error = torch.tensor([[0.1, 0.2], [0.0, 0.0], [1.0, 0.0]], dtype=F64)
    y0 = torch.tensor([[1.0, -2.0], [1.0, 1.0], [1.0, 1.0]], dtype=F64)
    y1 = torch.tensor([[1.5, 1.0], [1.0, 1.0], [float("nan"), 1.0]], dtype=F64)
    ratio = controller.error_ratio(error, y0, y1, unit=2.0)
    first = math.sqrt(((0.1 / (0.02 + 0.15)) ** 2 + (0.2 / (0.02 + 0.2)) ** 2) / 2)
    assert ratio.shape == (3, 1)
    assert math.isclose(float(ratio[0]), first, rel_tol=1e-14) and float(ratio[1]) == 0.0
    assert ratio[2].item() == float("inf")  # a step to NaN is rejected


def test_error_against_the_exact_flow_falls_with_the_tolerance():
    """For a Gaussian target the flow maps the start z to E* + sd* z exactly (an affine monotone map
    of N(0, 1) onto the closed-form terminal law), so each sample's error is known without Monte
    Carlo noise. Measured RMS errors (n = 200): 1.5e-2, 1.7e-3 and 2.7e-4 at rtol = atol = 1e-2, 1e-3
    and 1e-4 (10, 14 and 24 NFE): the estimate is of the step taken (local order 4), so the global
    error falls about as tol^(3/4), 5.6x a decade (8.9x and 6.2x measured)."""
    process, target = gaussian_process()
    n = 200
    mean, var = target.marginal(process.family, 100.0)
    exact = mean + var.sqrt() * Noise(5, (n,), F64, "cpu").normal(0)
    errors, nfes = [], []
    for rtol, bound in [(1e-2, 3e-2), (1e-3, 7e-3), (1e-4, 5e-4)]:
        res = pmm.sample(process, "ode_3m_adaptive", n=n, seed=5, dtype=F64, rtol=rtol, atol=rtol)
        errors.append(float((res.mu - exact).square().mean().sqrt()))
        nfes.append(res.nfe)
        assert errors[-1] < bound, (rtol, errors[-1])
    assert errors[0] > 3 * errors[1] > 9 * errors[2]
    assert nfes[0] < nfes[1] < nfes[2]


@pytest.mark.parametrize("make", ["gaussian", "mixture"])
def test_a_samples_steps_do_not_depend_on_the_batch(make):
    if make == "gaussian":
        process, _ = gaussian_process(shape=(3,))
    else:
        family = pmm.NormalNormal(0.0, 1.0)
        target = pmm.targets.GaussianMixture([0.3, 0.7], [-1.0, 1.5], [0.3, 0.5])
        process = pmm.NormalNormalSDE(family, pmm.schedules.Exponential(100.0), target.predictor(family))
    run = dict(solver="ode_3m_adaptive", seed=11, dtype=F64, rtol=1e-2, atol=1e-2)
    whole = pmm.sample(process, n=7, **run)
    tail = pmm.sample(process, n=4, first_sample=3, **run)
    assert torch.equal(whole.mu[3:], tail.mu)
    assert torch.equal(whole.accepted[3:], tail.accepted) and torch.equal(whole.rejected[3:], tail.rejected)
    assert torch.equal(whole.evaluations[3:], tail.evaluations)
    assert len(set(whole.accepted.tolist())) > 1  # the samples do take different steps


@pytest.mark.parametrize("solver", ["ode_3m_adaptive", "pmm_2_adaptive"])
def test_translating_the_data_and_the_prior_translates_every_sample(solver):
    """rtol is relative to the offset from the data mean (``y - u E x`` along the flow, ``mu - E x``
    for the SDE), so shifting the data and the prior by ``c`` shifts every sample by ``c`` and changes
    no step (relative to ``y``, the shifted flow is solved about 70 times more loosely)."""
    runs = []
    for shift in (0.0, 100.0):
        family = pmm.NormalNormal(shift, 1.0)
        target = pmm.targets.GaussianMixture([0.3, 0.7], [-1.0 + shift, 1.5 + shift], [0.3, 0.5])
        process = pmm.NormalNormalSDE(family, pmm.schedules.Exponential(100.0), target.predictor(family))
        runs.append(pmm.sample(process, solver, n=64, seed=3, dtype=F64, rtol=1e-2, atol=1e-3))
    base, shifted = runs
    assert torch.equal(base.accepted, shifted.accepted) and torch.equal(base.rejected, shifted.rejected)
    assert torch.allclose(shifted.mu - 100.0, base.mu, rtol=0, atol=1e-8)
    assert len(set(base.accepted.tolist())) > 1


def test_result_reports_steps_and_evaluations():
    process, _ = gaussian_process()
    assert "ode_3m_adaptive" in pmm.solvers.available(process)
    res = pmm.sample(process, "ode_3m_adaptive", n=50, seed=0, dtype=F64, rtol=1e-2)
    assert res.accepted.shape == res.rejected.shape == (50,)
    assert res.A.item() == float(process.schedule.A(torch.tensor(1.0, dtype=F64)))
    # one evaluation at A = 0, then one per round: a round is a first-step try or a later accepted step
    assert 1 + int(res.accepted.max()) <= res.nfe <= 1 + int((res.accepted + res.rejected).max())
    fixed = pmm.sample(process, "ode_3m", steps=4, n=5)
    assert fixed.accepted is None and fixed.rejected is None and fixed.evaluations is None


def test_a_round_evaluates_only_the_samples_not_yet_done():
    process, _ = gaussian_process()
    rows = []

    def counting(mu, A):
        rows.append(mu.shape[0])
        return process.predictor(mu, A)

    counted = pmm.NormalNormalSDE(process.family, process.schedule, counting, shape=process.shape)
    res = pmm.sample(counted, "ode_3m_adaptive", n=50, seed=0, dtype=F64, rtol=1e-2)
    assert len(rows) == res.nfe and int(res.evaluations.max()) == res.nfe
    assert sum(rows) == int(res.evaluations.sum()) < 50 * res.nfe  # finished samples are not evaluated
    assert rows == sorted(rows, reverse=True) and rows[0] == 50
    # one evaluation at A = 0, then one a round until done: a first-step try or a later accepted step
    assert bool((res.evaluations <= 1 + res.accepted + res.rejected).all())
    assert bool((res.evaluations >= 1 + res.accepted).all())


def test_bad_tolerances_and_fixed_grid_arguments_are_refused():
    process, _ = gaussian_process()
    for bad in [dict(rtol=0.0), dict(rtol=-1e-3), dict(atol=-1.0), dict(rtol=float("nan")), dict(atol="x")]:
        name = next(iter(bad))
        with pytest.raises(ValueError, match=name):
            pmm.sample(process, "ode_3m_adaptive", n=3, **bad)
    with pytest.raises(ValueError, match="rtol and atol are tolerances of adaptive solvers"):
        pmm.sample(process, "ode_3m", steps=4, n=3, rtol=1e-3)
    for fixed in [dict(steps=10), dict(grid="log1p"), dict(save_at="grid")]:
        with pytest.raises(ValueError, match=f"{next(iter(fixed))}: the adaptive solver"):
            pmm.sample(process, "ode_3m_adaptive", n=3, **fixed)
    with pytest.raises(ValueError, match="max_steps"):
        pmm.sample(process, pmm.solvers.ODE3MAdaptive(max_steps=3), n=3, rtol=1e-4)
    with pytest.raises(ValueError, match="first_step"):
        pmm.solvers.ODE3MAdaptive(first_step=0.0)
    with pytest.raises(ValueError, match="safety"):
        PIController(safety=1.5)
    with pytest.raises(ValueError, match="chooses each sample's steps itself"):  # tools that set step counts
        weak_orders(process, "ode_3m_adaptive", [4, 8, 16], 100)


def test_the_embedded_pairs_have_their_declared_local_orders():
    """With xhat = cos(u + 1/2) along the path, ``int xhat du = sin(u1 + 1/2) - sin(u0 + 1/2)``: the multistep step
    taken has local error O(h^4) (order 3) and the embedded one O(h^3) (order 2), in ``rho``; with a fourth
    prediction the estimate is the cubic's correction, O(h^4), and the step plus it (the cubic step) is O(h^5);
    the first step's Heun O(h^3) and Euler O(h^2). Measured slopes: 3.96-3.98, 2.99, 3.85-3.93, 4.99-5.00,
    3.02-3.04, 2.02-2.05."""
    solver = pmm.solvers.ODE3MAdaptive()
    f = lambda rho: torch.cos(torch.expm1(rho) + 0.5)  # noqa: E731
    primitive = lambda u: torch.sin(u + 0.5)  # noqa: E731
    taken, embedded, estimate, cubic, heun, euler = [], [], [], [], [], []
    for h in [0.04, 0.02, 0.01]:
        rho, h_ = torch.tensor([1.0], dtype=F64), torch.tensor([h], dtype=F64)
        u0, u1 = torch.expm1(rho), torch.expm1(rho + h_)
        exact = primitive(u1) - primitive(u0)
        history = [(f(rho - k * h_), rho - k * h_) for k in (1, 2, 3)]
        for level, errors in [(2, (taken, embedded)), (3, (estimate, cubic))]:
            y1, error = solver.multistep_pair(torch.zeros(1, dtype=F64), f(rho), rho, h_, u1 - u0, *history,
                                              torch.tensor([level]))
            errors[0].append(float((y1 - exact).abs()) if level == 2 else float(error.abs()))
            errors[1].append(float((y1 - error - exact).abs()) if level == 2 else float((y1 + error - exact).abs()))
        du = torch.expm1(h_)  # the first step, from u = 0
        y1, error = solver.start_pair(torch.zeros(1, dtype=F64), f(0 * h_), f(h_), du)
        exact = primitive(du) - primitive(0 * du)
        heun.append(float((y1 - exact).abs()))
        euler.append(float((y1 - error - exact).abs()))
    for errors, order in [(taken, 4), (embedded, 3), (estimate, 4), (cubic, 5), (heun, 3), (euler, 2)]:
        slopes = [math.log2(a / b) for a, b in zip(errors, errors[1:])]
        assert all(abs(slope - order) < 0.25 for slope in slopes), (order, slopes)


def test_a_progress_bar_does_not_change_the_run(capsys):
    process, _ = gaussian_process()
    run = dict(solver="ode_3m_adaptive", n=30, seed=2, dtype=F64, rtol=1e-2)
    quiet, shown = pmm.sample(process, **run), pmm.sample(process, progress=True, **run)
    assert torch.equal(quiet.mu, shown.mu) and torch.equal(quiet.accepted, shown.accepted)
    assert quiet.nfe == shown.nfe
    assert "ode_3m_adaptive" in capsys.readouterr().err  # tqdm writes to stderr
