"""The compiled CPU draws (pmm_sde.streams.native) against the torch reference streams.

They need a C compiler: where ``$CC``/``cc`` is missing (or ``PMM_SDE_NATIVE=0`` turns them off)
the module is skipped; where one exists, a build that fails is a test failure.
"""

import os
import shutil
import subprocess
import sys

import pytest
import torch
from fused_ops import at_counter, euler_maruyama_coefficients, pmm_chain_coefficients, scalars, tau_leap_coefficients

import pmm_sde
from pmm_sde import kernels
from pmm_sde.convergence import oracle_trajectories
from pmm_sde.streams import reference as random
from pmm_sde.streams import native
from pmm_sde.solvers import EulerMaruyama, PMMChain, TauLeap, TauLeap2

if shutil.which(os.environ.get("CC", "cc")) is None:
    pytest.skip("no C compiler: the compiled draws cannot be built here", allow_module_level=True)
if os.environ.get("PMM_SDE_NATIVE") == "0":
    pytest.skip("PMM_SDE_NATIVE=0 turns the compiled draws off", allow_module_level=True)

RATES = (0.0, 1e-300, 0.3, 3.0, 9.99, 10.0, 30.0, 300.0, 1e4, 1e6, 1e7)
SEED, COUNTER = 2**40 + 17, 2**32 - 5  # the key's high word and the counter's top bit in use (larger counters are refused)


def _ulps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    as_int = torch.int32 if a.dtype == torch.float32 else torch.int64
    return (a.view(as_int).to(torch.int64) - b.view(as_int).to(torch.int64)).abs()


def test_the_sources_build_and_load():
    assert native.native_available(), native.native_unavailable_reason()
    assert native.native_unavailable_reason() is None
    assert kernels.resolve_backend("auto", "cpu") == "native"
    assert kernels.resolve_backend("native", "cpu") == "native"


@pytest.mark.parametrize("shape", [(1,), (3,), (5, 1), (1027,), (2000, 4), (100_003,)])
def test_float32_normals_equal_the_torch_stream(shape):
    """The float64 Box-Muller value rounded to float32: equal but where a last bit of log, cos or
    sin moves it across a rounding boundary (none in these 300,000 draws)."""
    ulps = _ulps(native.normal(shape, SEED, COUNTER, torch.float32),
                 random.normal(shape, SEED, COUNTER, dtype=torch.float32))
    assert ulps.max() <= 1
    assert (ulps > 0).float().mean() < 1e-4


@pytest.mark.parametrize("shape", [(3,), (1027,), (20_000, 4)])
def test_float64_normals_agree_to_the_math_library_last_bits(shape):
    ulps = _ulps(native.normal(shape, SEED, COUNTER, torch.float64),
                 random.normal(shape, SEED, COUNTER, dtype=torch.float64))
    assert ulps.max() <= 16


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_poisson_counts_equal_the_torch_stream(dtype):
    """Bitwise: the inversion and PTRS decisions are the reference's float64 operations in order."""
    generator = torch.Generator().manual_seed(0)
    rates = torch.cat([torch.tensor(RATES), 20.0 * torch.rand(100_000, generator=generator),
                       2000.0 * torch.rand(50_000, generator=generator)]).to(dtype)
    counts = native.poisson(rates, SEED, COUNTER)
    assert counts.dtype == dtype and counts.shape == rates.shape
    assert torch.equal(counts, random.poisson(rates, SEED, COUNTER))


def test_poisson_marks_invalid_rates_nan_as_the_unvalidated_reference():
    rates = torch.tensor([1.0, -1.0, float("nan"), float("inf"), -float("inf"), 50.0])
    counts = native.poisson(rates, 3, 4)
    assert torch.equal(counts.isnan(), torch.tensor([False, True, True, True, True, False]))
    torch.testing.assert_close(counts, random.poisson(rates, 3, 4, validate=False), rtol=0, atol=0, equal_nan=True)


def test_poisson_of_a_strided_rate_uses_its_logical_element_order():
    rates = (30.0 * torch.rand(40, 30, generator=torch.Generator().manual_seed(1))).t()
    assert not rates.is_contiguous()
    assert torch.equal(native.poisson(rates, 5, 6), random.poisson(rates, 5, 6))


def test_dispatch_through_the_kernels_draws():
    rate = torch.tensor([[0.5, 12.0], [3.0, 400.0]])
    assert torch.equal(kernels.poisson(rate, 9, 2, backend="native"), random.poisson(rate, 9, 2))
    assert torch.equal(kernels.poisson(rate, 9, 2), random.poisson(rate, 9, 2))
    with pytest.raises(ValueError, match="rate must be"):
        kernels.poisson(torch.tensor([1.0, -2.0]), 9, backend="native")
    z = kernels.normal((6, 3), 9, 2, backend="native")
    assert z.shape == (6, 3) and z.dtype == torch.float32
    assert _ulps(z, random.normal((6, 3), 9, 2)).max() <= 1
    assert kernels.normal((0, 3), 9, backend="native").shape == (0, 3)
    assert kernels.poisson(torch.empty(0), 9, backend="native").shape == (0,)


def test_native_on_a_cuda_device_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="backend='native' runs on CPU tensors"):
        kernels.resolve_backend("native", "cuda")


def _run(env_update: dict[str, str], code: str) -> str:
    env = {**os.environ, **env_update}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


REPORT = ("from pmm_sde import kernels; print(kernels.resolve_backend('auto', 'cpu'), '|', "
          "kernels.native_unavailable_reason())")


def test_turned_off_by_the_environment_falls_back_to_torch():
    assert _run({"PMM_SDE_NATIVE": "0"}, REPORT) == "torch | turned off by PMM_SDE_NATIVE=0"


def test_a_missing_compiler_falls_back_to_torch_and_native_says_why(tmp_path):
    env = {"CC": "no-such-compiler-pmm", "PMM_SDE_CACHE": str(tmp_path)}
    assert _run(env, REPORT) == "torch | no C compiler: 'no-such-compiler-pmm' is not on PATH (set CC)"
    refused = _run(env, "from pmm_sde import kernels\ntry:\n    kernels.normal((2,), 0, backend='native')\n"
                        "except RuntimeError as error:\n    print(error)")
    assert refused.startswith("backend='native' is unavailable: no C compiler")


def test_the_build_is_cached_by_sources_flags_and_cpu(tmp_path):
    code = "from pmm_sde.streams import native; print(native.native_available())"
    assert _run({"PMM_SDE_CACHE": str(tmp_path)}, code) == "True"
    built = sorted(p.name for p in tmp_path.iterdir())
    assert len(built) == 1 and built[0].startswith("pmm_native-") and built[0].endswith(".so")
    assert _run({"PMM_SDE_CACHE": str(tmp_path), "CC": "no-such-compiler-pmm"}, code) == "False"
    assert _run({"PMM_SDE_CACHE": str(tmp_path)}, code) == "True"
    assert sorted(p.name for p in tmp_path.iterdir()) == built


#: The elementwise fused ops, with their coefficients from ``(h, alpha0, lambda0)`` or ``(A0, A1, prior)``.
STEPS = {"euler_maruyama": (euler_maruyama_coefficients, (0.01, 2.0, 3.0)),
         "pmm_chain": (pmm_chain_coefficients, (0.5, 0.9, 1.0)), "tau_leap": (tau_leap_coefficients, (0.5, 0.9, 1.5))}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("step", sorted(STEPS))
def test_fused_steps_equal_the_torch_reference(step, dtype):
    """One pass with in-kernel draws, the reference's arithmetic in the state's dtype: bitwise for
    float32 and for the tau-leap counts; the float64 normal steps to the ulps of their z."""
    generator = torch.Generator().manual_seed(2)
    mu = torch.randn(1001, 3, generator=generator, dtype=dtype)
    xhat = torch.randn(3, 1001, generator=generator, dtype=dtype).t()  # strided: read in logical order
    if step == "tau_leap":
        mu, xhat = mu.abs(), 20.0 * xhat.abs()
    coefficients, values = STEPS[step]
    args = (mu, xhat, *coefficients(mu, *values))
    got, want = (at_counter(getattr(kernels, step), backend, 7, 11, *args) for backend in ("native", "torch"))
    assert got.shape == want.shape and got.dtype == dtype
    if dtype == torch.float32 or step == "tau_leap":
        assert torch.equal(got, want)
    else:
        torch.testing.assert_close(got, want, rtol=16 * torch.finfo(dtype).eps, atol=16 * torch.finfo(dtype).eps)


def test_fused_tau_leap_step_gives_nan_at_invalid_rates():
    mu = torch.ones(4)
    xhat = torch.tensor([1.0, -1.0, float("nan"), 2.0])
    got, want = (at_counter(kernels.tau_leap, backend, 3, 8, mu, xhat, *tau_leap_coefficients(mu, 0.0, 1.0, 1.0))
                 for backend in ("native", "torch"))
    torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)
    assert torch.equal(got.isnan(), torch.tensor([False, True, True, False]))


def _processes():
    normal_family = pmm_sde.NormalNormal(0.0, 1.0)
    normal = pmm_sde.NormalNormalSDE(normal_family, pmm_sde.schedules.Exponential(100.0),
                                     pmm_sde.targets.Gaussian(torch.full((2,), 1.5), 0.5).predictor(normal_family),
                                     shape=(2,))
    gamma_family = pmm_sde.GammaPoisson(2.0, 1.5)
    cox = pmm_sde.GammaPoissonCoxSDE(gamma_family, pmm_sde.schedules.Exponential(30.0),
                                     pmm_sde.targets.Gamma(torch.full((2,), 3.0), 0.5).predictor(gamma_family),
                                     shape=(2,))
    return normal, cox


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("solver, kernel, per_step",
                         [(EulerMaruyama, "euler_maruyama", 1), (PMMChain, "pmm_chain", 1),
                          (TauLeap, "tau_leap", 1), (TauLeap2, "tau_leap", 2)],
                         ids=["euler_maruyama", "pmm_chain", "tau_leap", "tau_leap_2"])
def test_solvers_run_their_steps_native_on_cpu_by_default(solver, kernel, per_step, dtype, kernel_calls):
    """Each fused step (two per step for tau_leap_2) is the native kernel, with the torch path's
    numbers: bitwise for the Poisson steps and float32 normals."""
    normal, cox = _processes()
    counts = solver in (TauLeap, TauLeap2)
    process = cox if counts else normal
    run = dict(steps=5, n=150, seed=3, dtype=dtype)
    want = pmm_sde.sample(process, solver(), backend="torch", **run)
    calls = kernel_calls(kernel)
    got = pmm_sde.sample(process, solver(), **run)
    assert calls == ["native"] * 5 * per_step and got.nfe == want.nfe == 5 * per_step
    if dtype == torch.float32 or counts:
        assert torch.equal(got.mu, want.mu)
    else:
        eps = torch.finfo(dtype).eps
        torch.testing.assert_close(got.mu, want.mu, rtol=16 * eps, atol=16 * eps * float(want.mu.abs().max()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gamma_oracle_events_equal_the_torch_reference(dtype):
    """The event-to-event Gamma trajectory, by default compiled on the CPU: the torch path's numbers,
    on a grid with a zero-length step, rates from ~0 into PTRS (zero-truncated) and fine steps."""
    grid = torch.cat([torch.zeros(2), torch.logspace(-2, 2, 8), torch.linspace(100.0, 101.0, 300)]).double()
    args = (5_000, grid, 2.0, 1.5, 3.0, 0.5, 2**35 + 7)
    want = oracle_trajectories.gamma_oracle_tau_leap_events(*args, backend="torch", dtype=dtype)
    got = oracle_trajectories.gamma_oracle_tau_leap_events(*args, dtype=dtype)
    assert got.dtype == dtype and torch.equal(got, want)
    assert torch.equal(oracle_trajectories.gamma_oracle_tau_leap_events(0, grid, 2.0, 1.5, 3.0, 0.5, 1, dtype=dtype),
                       torch.empty(0, dtype=dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_categorical_tau_leap_step_equals_the_torch_reference(dtype):
    """Positions of 3 and of 1100 classes (more than a chunk of the C step), rates into PTRS, a NaN."""
    generator = torch.Generator().manual_seed(4)
    for shape in ((200, 3), (2, 1100)):
        mu, xhat = (torch.rand(shape, generator=generator, dtype=torch.float64).to(dtype) for _ in range(2))
        xhat.view(-1)[5] = float("nan")
        A = torch.randint(0, 9, shape[:-1] + (1,), generator=generator).to(dtype)
        args = (mu, xhat / xhat.nansum(-1, keepdim=True), A, *scalars(mu, 1.5, 80.0))  # s0, dA
        got, want = (at_counter(kernels.categorical_tau_leap, backend, 9, 40, *args) for backend in ("native", "torch"))
        for g, w in zip(got, want):
            assert g.dtype == dtype and torch.equal(g.nan_to_num(-1.0), w.nan_to_num(-1.0))
            assert torch.equal(g.isnan(), w.isnan()) and bool(w.isnan().any())


def test_dirichlet_tau_leap_runs_native_on_cpu_by_default(kernel_calls):
    family = pmm_sde.DirichletCategorical(4, 0.5)
    probs = torch.softmax(torch.linspace(-1.0, 2.0, 8, dtype=torch.float64).reshape(2, 4), -1)
    process = pmm_sde.GammaPoissonCoxSDE(family, pmm_sde.schedules.Linear(6.0),
                                         pmm_sde.targets.Categorical(probs).predictor(family), shape=(2,))
    run = dict(steps=6, n=100, seed=3, dtype=torch.float32)
    want = pmm_sde.sample(process, TauLeap(), backend="torch", **run)
    calls = kernel_calls("categorical_tau_leap")
    got = pmm_sde.sample(process, TauLeap(), **run)
    assert calls == ["native"] * 6
    assert torch.equal(got.mu, want.mu) and torch.equal(got.A, want.A)


def test_invalid_predictions_still_raise_on_the_native_backend():
    cox = pmm_sde.GammaPoissonCoxSDE(pmm_sde.GammaPoisson(1.0, 1.0), pmm_sde.schedules.Linear(2.0),
                                     lambda mu, A: torch.full_like(mu, -1.0))
    with pytest.raises(ValueError, match="not finite and >= 0"):
        pmm_sde.sample(cox, TauLeap(), backend="native", steps=2, n=4)
    normal = pmm_sde.NormalNormalSDE(pmm_sde.NormalNormal(), pmm_sde.schedules.Linear(2.0),
                                     lambda mu, A: torch.full_like(mu, float("nan")))
    for solver in (PMMChain, EulerMaruyama):
        with pytest.raises(ValueError, match="not finite"):
            pmm_sde.sample(normal, solver(), backend="native", steps=2, n=4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("family", [pmm_sde.NormalNormal(0.0, 1.0), pmm_sde.GammaPoisson(1.0, 1.0)],
                         ids=["normal", "gamma_poisson"])
def test_compiled_prediction_check_agrees_with_the_families_reference(family, dtype):
    nonnegative = family.entrywise_prediction_check == "finite and >= 0"
    generator = torch.Generator().manual_seed(5)
    specials = [float("nan"), float("inf"), -float("inf"), -1e-30, -0.0, 0.0, torch.finfo(dtype).max,
                -torch.finfo(dtype).max, torch.finfo(dtype).tiny / 4]
    for trial in range(60):
        x = torch.rand(37, 3, generator=generator, dtype=dtype) * 10
        if trial % 2:
            x.view(-1)[int(torch.randint(111, (1,), generator=generator))] = specials[trial % len(specials)]
        count = native.count_invalid(x, nonnegative)
        assert (count > 0) == bool(family.invalid_prediction(x)), (trial, x.view(-1)[x.view(-1) != x.view(-1)])
    assert native.count_invalid(torch.tensor([[1.0, float("nan")], [-2.0, float("inf")]]), True) == 3
    assert native.count_invalid(torch.tensor([[1.0, float("nan")], [-2.0, float("inf")]]).t(), False) == 2


def test_the_samplers_report_the_first_invalid_step_from_the_compiled_check():
    calls = []

    def predictor(mu, A):
        calls.append(1)
        return torch.full_like(mu, float("nan") if len(calls) == 3 else 1.0)

    process = pmm_sde.NormalNormalSDE(pmm_sde.NormalNormal(), pmm_sde.schedules.Linear(2.0), predictor)
    with pytest.raises(ValueError, match=r"not finite \(first at step 2\)"):
        pmm_sde.sample(process, "euler_maruyama", steps=5, n=4)
    cox = pmm_sde.GammaPoissonCoxSDE(pmm_sde.GammaPoisson(1.0, 1.0), pmm_sde.schedules.Linear(2.0),
                                     lambda mu, A: torch.full_like(mu, -1.0))
    with pytest.raises(ValueError, match=r"not finite and >= 0 \(first at step 0\)"):
        pmm_sde.sample(cox, "tau_leap", steps=3, n=4)


def test_a_family_with_an_unknown_entrywise_constraint_is_refused():
    class Bounded(pmm_sde.NormalNormal):
        entrywise_prediction_check = "in (0, 1)"

    process = pmm_sde.NormalNormalSDE(Bounded(), pmm_sde.schedules.Linear(2.0), lambda mu, A: mu)
    with pytest.raises(ValueError, match="entrywise_prediction_check must be one of"):
        pmm_sde.sample(process, "pmm_chain", steps=2, n=3)
