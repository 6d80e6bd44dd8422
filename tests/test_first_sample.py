"""Global sample indices: ``sample(n, first_sample=s)`` simulates the global samples ``s .. s + n - 1``,
so ``sample(n=7).mu[3:]`` equals ``sample(n=4, first_sample=3).mu`` to the last bit, for every solver
family (Brownian, torchsde with its CounterBrownian, Cox with and without Poisson paths, thinning,
Dirichlet-Categorical) and every backend; the draws at an element offset agree across backends."""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import pmm_sde as pmm  # noqa: E402
from pmm_sde.streams import CounterBrownian, PoissonPaths, draws, native  # noqa: E402
from pmm_sde.streams import reference  # noqa: E402

F64 = torch.float64
INTERPRET = os.environ["TRITON_INTERPRET"] == "1"


def normal_process(shape=(3,)):
    family = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.Gaussian(0.5, 1.3)
    return pmm.NormalNormalSDE(family, pmm.schedules.Exponential(20.0), target.predictor(family), shape=shape)


def gamma_process(shape=(3,), top: float = 40.0, total: float = 20.0):
    """Points of ``shape`` with entries up to ``top`` (40: rates above 30 take the PTRS draws)."""
    family = pmm.GammaPoisson(1.5, 0.5)
    values = torch.tensor([0.5, 2.0, top, 3.0, 1.0])[:shape[0]]
    target = pmm.targets.PointMasses([0.4, 0.6], torch.stack([values, values.flip(0) + 0.1]))
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(total), target.predictor(family), shape=shape)


def small_gamma_process():
    """Few events per sample: Poisson paths and thinning walk them one by one."""
    return gamma_process(top=2.5, total=4.0)


def dirichlet_process():
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype=F64)
    family = pmm.DirichletCategorical(3, 1.0)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Linear(3.0), pmm.targets.Categorical(probs).predictor(family),
                                  shape=(2,))


CASES = {
    "pmm_chain": (normal_process, "pmm_chain", {}),
    "ode_2m": (normal_process, "ode_2m", {}),
    "euler_maruyama": (normal_process, "euler_maruyama", {}),
    "torchsde:euler": (normal_process, "torchsde:euler", {}),
    "tau_leap": (gamma_process, "tau_leap", {}),
    "tau_leap_2": (gamma_process, "tau_leap_2", {}),
    "nb_leap": (gamma_process, "nb_leap", {}),
    "tau_leap+paths": (small_gamma_process, "tau_leap", {"poisson_paths": PoissonPaths(9)}),
    "tau_leap_2+paths": (small_gamma_process, "tau_leap_2", {"poisson_paths": PoissonPaths(9)}),
    "nb_leap+paths": (small_gamma_process, "nb_leap", {"poisson_paths": PoissonPaths(9)}),
    "thinning": (lambda: gamma_process(top=1.5, total=2.0), "thinning", {}),
    "dirichlet tau_leap": (dirichlet_process, "tau_leap", {}),
    "dirichlet_leap": (dirichlet_process, "dirichlet_leap", {}),
}


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_run_from_a_later_sample_repeats_the_tail_of_a_longer_run(case, backend):
    make, solver, extra = CASES[case]
    process = make()
    run = dict(solver=solver, steps=6, seed=11, dtype=F64, backend=backend, **extra)
    whole = pmm.sample(process, n=7, **run)
    tail = pmm.sample(process, n=4, first_sample=3, **run)
    assert torch.equal(whole.mu[3:], tail.mu)
    assert torch.equal(whole.A[3:], tail.A) if whole.A.dim() else True
    middle = pmm.sample(process, n=2, first_sample=2, **run)
    assert torch.equal(whole.mu[2:4], middle.mu)


@pytest.mark.parametrize("solver", ["pmm_chain", "euler_maruyama", "tau_leap", "dirichlet"])
def test_the_triton_steps_from_a_later_sample_repeat_the_tail(solver):
    pytest.importorskip("triton")
    if not INTERPRET:
        pytest.skip("compiled Triton (TRITON_INTERPRET=0) needs CUDA tensors")
    process = dirichlet_process() if solver == "dirichlet" else (
        gamma_process((5,)) if solver == "tau_leap" else normal_process((5,)))
    run = dict(solver="tau_leap" if solver == "dirichlet" else solver, steps=3, seed=4, dtype=F64)
    whole = pmm.sample(process, n=5, backend="triton", **run)
    tail = pmm.sample(process, n=2, first_sample=3, backend="triton", **run)
    assert torch.equal(whole.mu[3:], tail.mu)
    assert torch.equal(tail.mu, pmm.sample(process, n=5, backend="torch", **run).mu[3:]) or solver in (
        "pmm_chain", "euler_maruyama")  # normals agree to the last bits of log, cos, sin only


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 5, 1026])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_draws_at_an_offset_are_the_tail_of_the_draws_from_zero(offset, dtype):
    whole = reference.normal((offset + 1030,), 3, 7, dtype=dtype)
    assert torch.equal(reference.normal((1030,), 3, 7, dtype=dtype, offset=offset), whole[offset:])
    rate = torch.linspace(0.0, 60.0, offset + 1030, dtype=dtype)
    counts = reference.poisson(rate, 3, 7)
    assert torch.equal(reference.poisson(rate[offset:], 3, 7, offset=offset), counts[offset:])
    if native.native_available():
        assert torch.equal(draws.poisson(rate[offset:], 3, 7, backend="native", offset=offset), counts[offset:])
        tail = draws.normal((1030,), 3, 7, dtype=dtype, backend="native", offset=offset)
        assert torch.equal(tail, native.normal((offset + 1030,), 3, 7, dtype)[offset:])


def test_counter_brownian_rows_are_keyed_by_the_global_sample_index():
    whole = CounterBrownian(0.0, 1.0, (6, 3), seed=2, times=[0.25, 0.5])
    tail = CounterBrownian(0.0, 1.0, (2, 3), seed=2, times=[0.25, 0.5], first_sample=4)
    for ta, tb in ((0.0, 0.25), (0.25, 0.7), (0.1, 1.0)):
        assert torch.equal(whole(ta, tb)[4:], tail(ta, tb))
    with pytest.raises(ValueError, match="first_sample"):
        CounterBrownian(0.0, 1.0, (2, 3), first_sample=-1)


def test_a_user_brownian_motion_is_refused_from_a_later_sample():
    process = normal_process((2,))
    bm = CounterBrownian(0.0, 1.0, (4, 2), seed=1)
    with pytest.raises(ValueError, match="bm .* first_sample = 3"):
        pmm.sample(process, "euler_maruyama", steps=4, n=4, bm=bm, first_sample=3)


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_a_bad_first_sample_is_refused(bad):
    with pytest.raises(ValueError, match="first_sample"):
        pmm.sample(normal_process(), steps=2, n=2, first_sample=bad)


def test_a_first_sample_past_the_element_indices_is_refused():
    with pytest.raises(ValueError, match="first_sample \\+ n"):
        pmm.sample(normal_process(), steps=2, n=2, first_sample=2**62)


@pytest.mark.parametrize("offset", [3, 8])
def test_the_triton_draws_at_an_offset_are_the_tail_of_the_draws_from_zero(offset):
    pytest.importorskip("triton")
    if not INTERPRET:
        pytest.skip("compiled Triton (TRITON_INTERPRET=0) needs CUDA tensors")
    rate = torch.linspace(0.0, 45.0, offset + 70, dtype=F64)
    counts = draws.poisson(rate, 5, 2, backend="triton")
    assert torch.equal(draws.poisson(rate[offset:], 5, 2, backend="triton", offset=offset), counts[offset:])
    assert torch.equal(counts, reference.poisson(rate, 5, 2))
    whole = draws.normal((offset + 70,), 5, 2, dtype=F64, backend="triton")
    assert torch.equal(draws.normal((70,), 5, 2, dtype=F64, backend="triton", offset=offset), whole[offset:])
