"""Bad and edge inputs to the API's entry points: a ValueError that names the argument, never a raw
error or a silently wrong result (issue 15, items 3 and 4)."""

import numpy as np
import pytest
import torch

import pmm_sde as pmm
from pmm_sde import grids, schedules
from pmm_sde.streams import reference as random
from pmm_sde.convergence import convergence_study, fit_order, weak_orders
from pmm_sde.convergence.count_laws import scheme_count_law, target_count_law
from pmm_sde.streams.couplings import AntitheticRefinement
from pmm_sde.convergence.problems import convergence_problem, exact_count_law
from pmm_sde.convergence.quadrature import scheme_expectations

F64 = torch.float64
FAMILY = pmm.NormalNormal(0.0, 1.0)
PREDICTOR = pmm.targets.Gaussian(1.0, 0.5).predictor(FAMILY)
PROCESS = pmm.NormalNormalSDE(FAMILY, schedules.Exponential(20.0), PREDICTOR, shape=(2,))
GAMMA = pmm.GammaPoisson(1.0, 1.0)
COX = pmm.GammaPoissonCoxSDE(GAMMA, schedules.Exponential(4.0), pmm.targets.Gamma(2.0, 1.0).predictor(GAMMA))


def _sample(**kwargs):
    return pmm.sample(PROCESS, **{"steps": 3, "n": 4, **kwargs})


def _chain(**kwargs):
    return pmm.run_chain(**{"family": FAMILY, "alphas": [1.0, 2.0], "predictor": PREDICTOR, "n": 4, **kwargs})


SAMPLE_BAD = [
    ("n", 0), ("n", None), ("n", "10"), ("n", True), ("n", float("nan")), ("n", 1.5), ("n", 2**70),
    ("seed", -1), ("seed", 2**64), ("seed", 1.5), ("seed", None), ("seed", "0"), ("seed", True),
    ("steps", 0), ("steps", 1.5), ("steps", "4"), ("steps", 2**40),
    ("shape", (-2,)), ("shape", "2"), ("shape", (2.5,)), ("shape", (0,)), ("shape", (None,)), ("shape", -1),
    ("dtype", torch.int64), ("dtype", torch.bool), ("dtype", torch.complex64), ("dtype", "int64"),
    ("dtype", torch.float16), ("dtype", np.float32),
    ("device", "gpu0"), ("device", "meta"), ("device", 1.5),
    ("grid", torch.tensor([0.2, 0.5, 1.0])), ("grid", torch.tensor([])), ("grid", "nope"), ("grid", [0.0, 0.5, 0.5]),
    ("save_at", "all"), ("save_at", []), ("save_at", [[0.5]]), ("save_at", [1.5]), ("save_at", 7),
    ("solver", "nope"), ("solver", 5), ("solver", None), ("solver", "tau_leap"),
    ("poisson_paths", "x"),
]


@pytest.mark.parametrize("name,value", SAMPLE_BAD, ids=lambda v: repr(v)[:30])
def test_sample_refuses_bad_arguments_naming_them(name, value):
    with pytest.raises(ValueError, match=name):
        _sample(**{name: value})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:3", 0])
def test_cuda_device_without_cuda_says_so(device):
    with pytest.raises(ValueError, match="device.*CUDA is not available"):
        _sample(device=device)


def test_unknown_solver_lists_the_available_names():
    with pytest.raises(ValueError, match=r"available.*'pmm_chain'.*'torchsde:euler'"):
        _sample(solver="nope")


def test_grid_must_start_at_zero_where_the_prior_is():
    with pytest.raises(ValueError, match=r"grid must start at t = 0.*got t_0 = 0.25"):
        _sample(grid=torch.tensor([0.25, 1.0]))


def test_accepted_edge_inputs_give_correct_results():
    """dtype by name, a numpy seed, the largest seed, an integer grid, one save time."""
    reference = _sample(dtype=F64, seed=7)
    assert _sample(dtype="float64", seed=np.int64(7)).mu.equal(reference.mu)
    assert _sample(dtype="torch.float64", seed=7).mu.equal(reference.mu)
    assert torch.isfinite(_sample(seed=2**64 - 1).mu).all()
    grid = _sample(grid=torch.tensor([0, 1]), dtype=F64, seed=7)
    assert grid.mu.equal(_sample(grid=torch.tensor([0.0, 1.0]), dtype=F64, seed=7).mu)
    saved = _sample(save_at=[0.5], dtype=F64)
    assert saved.trajectory.shape == (1, 4, 2) and saved.trajectory_times.tolist() == [0.5]
    assert _sample(save_at=0.5).trajectory.shape == (1, 4, 2)


PREDICTORS = {
    "float64 for a float32 state": lambda mu, A: PREDICTOR(mu, A).double(),
    "an integer tensor": lambda mu, A: PREDICTOR(mu, A).long(),
    "a numpy array": lambda mu, A: PREDICTOR(mu, A).numpy(),
    "a float": lambda mu, A: 1.0,
    "None": lambda mu, A: None,
    "a broadcastable shape": lambda mu, A: PREDICTOR(mu, A)[:1],
}


@pytest.mark.parametrize("kind", PREDICTORS)
def test_predictor_of_the_wrong_kind_is_named(kind):
    process = pmm.NormalNormalSDE(FAMILY, schedules.Exponential(20.0), PREDICTORS[kind], shape=(2,))
    with pytest.raises(ValueError, match=r"predictor must return .*(torch.float32|shaped like mu)"):
        pmm.sample(process, steps=3, n=4)
    with pytest.raises(ValueError, match="predictor must return"):
        _chain(predictor=PREDICTORS[kind], shape=(2,))


def test_overflow_to_nan_raises_and_float64_runs():
    """Counts of about 1e50 overflow float32 (NaN mu); the final state's flag reports it."""
    huge = pmm.GammaPoissonCoxSDE(GAMMA, schedules.Exponential(1e30), lambda mu, A: torch.full_like(mu, 1e20))
    with pytest.raises(ValueError, match="overflowed.*float64"):
        pmm.sample(huge, solver="tau_leap", steps=3, n=4)
    big = lambda mu, A: torch.full_like(mu, 1e30)  # noqa: E731
    with pytest.raises(ValueError, match="overflowed.*float64"):
        _chain(alphas=[1e30, 1e30], predictor=big)
    assert torch.isfinite(_chain(alphas=[1e30, 1e30], predictor=big, dtype=F64).mu).all()


def test_bad_prediction_after_an_overflow_says_the_state_overflowed():
    """A state that overflowed makes the oracle's next prediction NaN; the error says so."""
    process = pmm.NormalNormalSDE(FAMILY, schedules.Linear(1.0), lambda mu, A: mu * 1e30 + 1e30, shape=(1,))
    with pytest.raises(ValueError, match=r"predictor returned .*first at step [1-9].*overflowed"):
        pmm.sample(process, solver="euler_maruyama", grid="uniform", steps=6, n=4)


CHAIN_BAD = [
    ("alphas", None), ("alphas", "1,2"), ("alphas", [True, False]), ("alphas", [1 + 2j]), ("alphas", [1.0, -1.0]),
    ("alphas", []), ("alphas", [[1.0]]), ("alphas", [float("inf")]),
    ("n", 0), ("n", None), ("n", "8"), ("seed", -1), ("seed", 2**64), ("seed", 1.5), ("seed", None),
    ("shape", (-1,)), ("shape", "2"), ("shape", (2.5,)), ("dtype", torch.int64), ("dtype", "float16"),
    ("device", "gpu0"), ("predictor", 3), ("family", None),
]


@pytest.mark.parametrize("name,value", CHAIN_BAD, ids=lambda v: repr(v)[:30])
def test_run_chain_refuses_bad_arguments_naming_them(name, value):
    with pytest.raises(ValueError, match=name):
        _chain(**{name: value})


@pytest.mark.parametrize("name,value", [("seed", -1), ("alphas", None), ("family", None), ("n", 0)])
def test_run_exact_chain_refuses_bad_arguments_naming_them(name, value):
    kwargs = {"family": FAMILY, "alphas": [1.0], "target": pmm.targets.Gaussian(1.0, 0.5), "n": 4, name: value}
    with pytest.raises(ValueError, match=name):
        pmm.run_exact_chain(**kwargs)


def test_integer_alphas_are_read_exactly():
    """Integer alphas (a list, an int64 tensor) give the chain of the same float alphas."""
    reference = _chain(alphas=[1.0, 2.0, 3.0], dtype=F64, seed=3).mu
    assert _chain(alphas=[1, 2, 3], dtype=F64, seed=3).mu.equal(reference)
    assert _chain(alphas=torch.tensor([1, 2, 3]), dtype=F64, seed=3).mu.equal(reference)


@pytest.mark.parametrize("call,name", [
    (lambda: random.normal((4,), -1, 0), "seed"), (lambda: random.normal((4,), 2**64, 0), "seed"),
    (lambda: random.normal((4,), 1.5, 0), "seed"), (lambda: random.normal((4,), 0, 2**32), "counter"),
    (lambda: random.normal((4,), 0, -1), "counter"), (lambda: random.uniform((4,), 0, 0, attempt=2**32), "attempt"),
    (lambda: random.poisson(torch.tensor([3.0]), -1, 0), "seed"), (lambda: random.gamma(torch.ones(2), 2**64, 0), "seed"),
    (lambda: random.normal((-1,), 0, 0), "shape"), (lambda: pmm.PoissonPaths(-1), "seed"),
    (lambda: pmm.PoissonPaths("a"), "seed"),
])
def test_random_streams_refuse_aliasing_seeds_and_wrapping_counters(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_largest_counter_and_seed_are_accepted():
    assert torch.isfinite(random.normal((4,), 2**64 - 1, 2**32 - 1)).all()


@pytest.mark.parametrize("make,name", [
    (lambda v: schedules.Linear(v), "total"), (lambda v: schedules.Exponential(v), "total"),
    (lambda v: schedules.Power(v, 2.0), "total"), (lambda v: schedules.Power(1.0, v), "power"),
])
@pytest.mark.parametrize("value", [-1.0, 0.0, float("nan"), float("inf"), 1 + 2j, True, None, "5", [1.0, 2.0]],
                         ids=repr)
def test_schedules_refuse_bad_parameters_naming_them(make, name, value):
    with pytest.raises(ValueError, match=name):
        make(value)


@pytest.mark.parametrize("times,values,name", [
    ([0.0, 0.5, 1.0], [0.0, 2.0, 1.0], "values"), ([0.1, 0.5, 1.0], [0.0, 1.0, 2.0], "times"),
    ([0.0, 1.0], [False, True], "values"), ([0.0, 1.0], [0.0, 1 + 1j], "values"), (None, [0.0, 1.0], "times"),
])
def test_interpolated_schedule_refuses_bad_points(times, values, name):
    with pytest.raises(ValueError, match=name):
        schedules.Interpolated(times, values)


def test_schedule_totals_are_read_in_float64():
    assert schedules.Linear(0.1).total == 0.1 and schedules.Exponential(1e300).total == 1e300


@pytest.mark.parametrize("kwargs,name", [
    ({"steps": 0}, "steps"), ({"steps": -1}, "steps"), ({"steps": 1.5}, "steps"), ({"steps": None}, "steps"),
    ({"steps": random.MAX_STEPS + 1}, "steps"), ({"kind": "nope"}, "log1p"), ({"kind": None}, "grid"),
    ({"schedule": None}, "schedule"), ({"kind": "log", "A_min": -1.0}, "A_min"), ({"kind": "edm", "rho": 0.0}, "rho"),
    ({"kind": "edm", "sigma_max": float("nan")}, "sigma_max"),
])
def test_make_grid_refuses_bad_arguments_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        grids.make_grid(**{"schedule": schedules.Exponential(20.0), "steps": 4, **kwargs})


NORMAL, _ = convergence_problem("normal")


@pytest.mark.parametrize("kwargs,name", [
    ({"n": 0}, "n"), ({"n": 1}, "n"), ({"n": None}, "n"), ({"steps": [4, 8]}, "steps"), ({"steps": []}, "steps"),
    ({"steps": [4, 2, 8]}, "steps"), ({"steps": [2, 2, 4]}, "steps"), ({"steps": [0, 2, 4]}, "steps"),
    ({"steps": "2,4,8"}, "steps"), ({"steps": None}, "steps"), ({"solvers": "pmm_chain"}, "solvers"),
    ({"solvers": []}, "solvers"), ({"seed": -1}, "seed"),
])
def test_convergence_study_refuses_bad_arguments_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        convergence_study(**{"process": NORMAL, "solvers": ["pmm_chain"], "steps": [2, 4, 8], "n": 16, **kwargs})


def test_weak_orders_and_fit_order_refuse_too_little_data():
    with pytest.raises(ValueError, match="n"):
        weak_orders(NORMAL, "pmm_chain", [2, 4, 8], n=1)
    with pytest.raises(ValueError, match="steps, differences and standard_errors"):
        fit_order([1, 2, 3], [1.0, 2.0], [0.1, 0.1])


@pytest.mark.parametrize("kwargs,name", [
    ({"seed": -1}, "seed"), ({"counter_base": -1}, "counter_base"), ({"counter_base": 2**32}, "counter_base"),
    ({"shape": None}, "shape"), ({"fine_times": [0.0, 1.0]}, "fine_times"),
])
def test_antithetic_refinement_refuses_bad_arguments_naming_them(kwargs, name):
    args = {"fine_times": grids.make_grid(schedules.Exponential(20.0), 4), "shape": (2, 1), "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=name):
        AntitheticRefinement(**args)


COX_PROBLEM, _ = convergence_problem("cox")
LINE = pmm.NormalNormalSDE(FAMILY, schedules.Exponential(20.0), PREDICTOR, shape=(1,))


@pytest.mark.parametrize("call,name", [
    (lambda: scheme_count_law(COX_PROBLEM, "tau_leap", 4, 0), "support"),
    (lambda: scheme_count_law(COX_PROBLEM, "tau_leap", 4, None), "support"),
    (lambda: scheme_count_law(COX_PROBLEM, "tau_leap", 0, 50), "steps"),
    (lambda: target_count_law(pmm.targets.Gamma(2.0, 1.0), -1.0, 50), "A"),
    (lambda: target_count_law(pmm.targets.Gamma(2.0, 1.0), float("nan"), 50), "A"),
    (lambda: target_count_law(pmm.targets.Gamma(2.0, 1.0), 1.0, -2), "support"),
    (lambda: exact_count_law("nope"), "process"),
    (lambda: scheme_expectations(LINE, "pmm_chain", 2, [np.cos], grid_points=1), "grid_points"),
    (lambda: scheme_expectations(LINE, "pmm_chain", 2, [np.cos], nodes=0), "nodes"),
    (lambda: scheme_expectations(LINE, "pmm_chain", 2, []), "functions"),
])
def test_exact_law_and_quadrature_helpers_name_bad_arguments(call, name):
    with pytest.raises(ValueError, match=name):
        call()
