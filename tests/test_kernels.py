"""Triton kernels against the torch reference streams; laws of the Poisson sampler.

Triton runs on CPU tensors through its interpreter (``TRITON_INTERPRET=1``), so sizes are small.
"""

import os
import subprocess
import sys

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from scipy import stats  # noqa: E402

triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402

from pmm_sde import kernels  # noqa: E402
from pmm_sde.streams import reference as random  # noqa: E402
from pmm_sde.streams import triton_draws as triton_random  # noqa: E402
from pmm_sde.testing import assert_moments, assert_same_law  # noqa: E402

RATES = (0.0, 0.3, 3.0, 9.99, 10.0, 29.99, 30.0, 300.0, 1e4, 1e6)  # inversion below 30, PTRS from 30
DTYPES = (torch.float32, torch.float64)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Run this module's small torch ops on one thread: the Triton interpreter is single-threaded
    anyway, and OpenMP barriers stall badly when a runner's cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@triton.jit
def _philox_words_kernel(index_ptr, out_ptr, seed, counter, attempt, BLOCK: tl.constexpr):
    """``out[i, :] = Philox(seed; index[i], counter, attempt)`` through the kernels' helper."""
    offs = tl.arange(0, BLOCK)
    w0, w1, w2, w3 = triton_random._philox(seed, tl.load(index_ptr + offs), counter, attempt)
    tl.store(out_ptr + 4 * offs, w0.to(tl.int64))
    tl.store(out_ptr + 4 * offs + 1, w1.to(tl.int64))
    tl.store(out_ptr + 4 * offs + 2, w2.to(tl.int64))
    tl.store(out_ptr + 4 * offs + 3, w3.to(tl.int64))


def _ulp_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Number of representable values between same-signed floats ``a`` and ``b``."""
    bits = torch.int32 if a.dtype == torch.float32 else torch.int64
    return (a.view(bits).long() - b.view(bits).long()).abs()


@pytest.mark.parametrize("seed", [0, 7, 2**32 + 5, 2**63 + 11, 2**64 - 1])
def test_triton_philox_words_equal_torch_words(seed):
    index = torch.tensor([0, 1, 2, 3, 1000, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1,
                          3 * 2**32 + 17, 2**40 + 12345, 2**62, 5, 6, 7], dtype=torch.int64)
    lo, hi = index & 0xFFFFFFFF, index >> 32
    for counter, attempt in [(0, 0), (1, 0), (12, 3), (2**31 + 3, 1), (2**32 - 1, 2**31)]:
        words = torch.empty(index.numel(), 4, dtype=torch.int64)
        _philox_words_kernel[(1,)](index, words, seed, counter, attempt, BLOCK=index.numel())
        expected = torch.stack(random.philox4x32(seed, lo, hi, counter, attempt), dim=1)
        assert torch.equal(words, expected), (seed, counter, attempt)


@pytest.mark.parametrize("dtype", DTYPES)
def test_triton_poisson_equals_torch_poisson_per_rate(dtype):
    for i, lam in enumerate(RATES):
        rate = torch.full((1000,), lam, dtype=dtype)
        got = kernels.poisson(rate, seed=11 + i, counter=3, backend="triton")
        want = kernels.poisson(rate, seed=11 + i, counter=3, backend="torch")
        assert got.dtype == dtype and got.shape == rate.shape
        assert torch.equal(got, want), f"rate {lam}: {(got != want).sum().item()} counts differ"


def test_unvalidated_poisson_gives_nan_at_invalid_rates_on_both_backends():
    """The driver's draws (validate=False): NaN where a rate is invalid, the same counts elsewhere."""
    rate = torch.tensor([2.0, -1.0, float("nan"), 30.0, float("inf"), 0.5], dtype=torch.float64)
    got = kernels.poisson(rate, seed=4, counter=7, backend="triton", validate=False)
    want = kernels.poisson(rate, seed=4, counter=7, backend="torch", validate=False)
    assert torch.equal(torch.isnan(got), torch.tensor([False, True, True, False, True, False]))
    assert torch.equal(torch.nan_to_num(got, nan=-1.0), torch.nan_to_num(want, nan=-1.0))
    with pytest.raises(ValueError, match="rate"):
        kernels.poisson(rate, seed=4, counter=7, backend="triton")


@pytest.mark.parametrize("dtype", DTYPES)
def test_triton_poisson_equals_torch_poisson_mixed_rates(dtype):
    generator = torch.Generator().manual_seed(0)
    rate = torch.tensor(RATES, dtype=dtype).repeat(300)
    rate = rate[torch.randperm(rate.numel(), generator=generator)].reshape(50, 60)
    got = kernels.poisson(rate, seed=2**40 + 3, counter=2**31 + 9, backend="triton")
    want = kernels.poisson(rate, seed=2**40 + 3, counter=2**31 + 9, backend="torch")
    assert got.shape == rate.shape
    assert torch.equal(got, want)
    # A non-contiguous view is read in its logical (row-major) order, like the torch path.
    transposed = rate.T
    assert torch.equal(kernels.poisson(transposed, 1, 2, backend="triton"),
                       kernels.poisson(transposed, 1, 2, backend="torch"))


@pytest.mark.parametrize("lam", [0.3, 3.0, 29.99, 30.0, 300.0])  # 29.99: inversion at its largest rates
def test_poisson_chi_square(lam):
    rate = torch.full((40_000,), lam, dtype=torch.float64)
    draws = kernels.poisson(rate, seed=21, counter=4, backend="torch")
    assert_same_law(draws, stats.poisson(lam))  # pooled chi-square, rejects at p < 1e-6


@pytest.mark.parametrize("lam", [1e4, 1e6])
def test_poisson_moments_at_large_rates(lam):
    rate = torch.full((40_000,), lam, dtype=torch.float64)
    draws = kernels.poisson(rate, seed=22, counter=0, backend="torch")
    assert_moments(draws, mean=lam, variance=lam)  # z-tests, 5 standard errors


def test_float32_rate_1e7_is_finite_with_the_right_mean():
    rate = torch.full((20_000,), 1e7, dtype=torch.float32)
    draws = kernels.poisson(rate, seed=23, counter=1, backend="torch")
    assert draws.dtype == torch.float32 and bool(torch.isfinite(draws).all())
    assert_moments(draws, mean=1e7, variance=1e7)
    assert torch.equal(kernels.poisson(rate[:300], seed=23, counter=1, backend="triton"), draws[:300])


def test_log_factorial_matches_lgamma():
    k = torch.cat([torch.arange(0.0, 200.0), torch.logspace(2.5, 9, 500).floor()]).double()
    torch.testing.assert_close(random.log_factorial(k), torch.lgamma(k + 1.0), rtol=1e-15, atol=0.0)


def test_unit_interval_is_open_and_exact():
    words = torch.tensor([0, 1, 2**31, 2**32 - 1], dtype=torch.int64)
    for dtype in DTYPES:
        u = random.to_unit_interval(words, dtype)
        assert u.dtype == dtype and bool((u > 0).all()) and bool((u < 1).all())
        bits = random.unit_interval_bits(dtype)
        assert u[0].item() == 2.0 ** -(bits + 1) and u[-1].item() == 1 - 2.0 ** -(bits + 1)


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_poisson_is_deterministic_in_seed_and_counter(backend):
    rate = torch.tensor([0.5, 4.0, 25.0, 5e3]).repeat(64)
    draws = kernels.poisson(rate, seed=5, counter=2, backend=backend)
    assert torch.equal(draws, kernels.poisson(rate, seed=5, counter=2, backend=backend))
    assert not torch.equal(draws, kernels.poisson(rate, seed=5, counter=3, backend=backend))
    assert not torch.equal(draws, kernels.poisson(rate, seed=6, counter=2, backend=backend))
    assert torch.equal(draws[:50], kernels.poisson(rate[:50], seed=5, counter=2, backend=backend))


def test_triton_normal_matches_torch_normal():
    shape = (3, 1001)  # numel not a multiple of 4: the last Philox group is partial
    got = kernels.normal(shape, seed=2**33 + 1, counter=4, dtype=torch.float32, backend="triton")
    want = kernels.normal(shape, seed=2**33 + 1, counter=4, dtype=torch.float32, backend="torch")
    assert got.dtype == torch.float32 and got.shape == shape
    assert torch.equal(got, want)
    got = kernels.normal(shape, seed=3, counter=0, dtype=torch.float64, backend="triton")
    want = kernels.normal(shape, seed=3, counter=0, dtype=torch.float64, backend="torch")
    # float64: numpy's and torch's log/cos/sin may differ in the last bits.
    assert int(_ulp_distance(got, want).max()) <= 4


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_normal_is_deterministic_in_seed_and_counter(backend):
    draws = kernels.normal((257,), seed=1, counter=1, backend=backend)
    assert torch.equal(draws, kernels.normal((257,), seed=1, counter=1, backend=backend))
    assert not torch.equal(draws, kernels.normal((257,), seed=1, counter=2, backend=backend))
    assert torch.equal(draws[:13], kernels.normal((13,), seed=1, counter=1, backend=backend))


@pytest.mark.parametrize("backend", ["torch", "triton"])
def test_empty_inputs(backend):
    assert kernels.poisson(torch.empty(0, 3), seed=1, backend=backend).shape == (0, 3)
    assert kernels.normal((2, 0), seed=1, backend=backend).shape == (2, 0)


def test_auto_backend_on_cpu_is_native_or_torch():
    expected = "native" if kernels.native_available() else "torch"
    assert kernels.resolve_backend("auto", "cpu") == expected
    rate = torch.tensor([1.0, 50.0])
    assert torch.equal(kernels.poisson(rate, 1), random.poisson(rate, 1))


@pytest.mark.parametrize("backend", ["torch", "triton"])
@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), -float("inf")])
def test_bad_rates_raise(backend, bad):
    with pytest.raises(ValueError, match=r"rate must be (finite|>= 0)"):
        kernels.poisson(torch.tensor([1.0, bad]), seed=0, backend=backend)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="backend"):
        kernels.poisson(torch.tensor([1.0]), seed=0, backend="cuda")
    with pytest.raises(ValueError, match="backend"):
        kernels.normal((3,), seed=0, backend="numpy")
    with pytest.raises(ValueError, match="rate must be a float32 or float64 tensor"):
        kernels.poisson(torch.tensor([1, 2]), seed=0)
    with pytest.raises(ValueError, match="dtype"):
        kernels.normal((3,), seed=0, dtype=torch.float16)


def test_package_imports_and_samples_without_triton():
    script = (
        "import sys; sys.modules['triton'] = None\n"
        "import torch\n"
        "from pmm_sde import kernels\n"
        "assert not kernels.triton_available()\n"
        "k = kernels.poisson(torch.tensor([0.5, 20.0]), seed=1)\n"
        "z = kernels.normal((5,), seed=1)\n"
        "assert k.shape == (2,) and z.shape == (5,)\n"
        "try:\n"
        "    kernels.poisson(torch.tensor([1.0]), seed=1, backend='triton')\n"
        "except RuntimeError as error:\n"
        "    assert 'triton' in str(error)\n"
        "else:\n"
        "    raise AssertionError('backend=triton without triton did not raise')\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": path}, timeout=120)
    assert result.returncode == 0, result.stderr


def test_launch_sweep_times_every_launch_shape_and_restores_the_default(monkeypatch):
    from benchmarks import kernels as kernels_benchmark
    from pmm_sde.streams import triton_draws as triton_random

    launches = ((32, 1), (128, 2))  # two of the sweep's shapes: the interpreter is slow
    monkeypatch.setattr(kernels_benchmark, "SWEEP_LAUNCHES", launches)
    monkeypatch.setattr(kernels_benchmark, "TRAJECTORY_STEPS", 4)
    default = triton_random.POISSON_LAUNCH
    records = kernels_benchmark.launch_sweep(torch.device("cpu"), repeats=1, n=64)
    assert [(r["block"], r["num_warps"]) for r in records] == list(launches)
    assert all(r["tau_leap_step_vs_eager"] > 0 and r["gamma_oracle_tau_leap_vs_eager_loop"] > 0 for r in records)
    assert triton_random.POISSON_LAUNCH == default


def test_events_sweep_times_every_lane_count_and_restores_the_default(monkeypatch):
    from benchmarks import kernels as kernels_benchmark
    from pmm_sde.kernels import triton_steps

    monkeypatch.setattr(kernels_benchmark, "SWEEP_EVENTS_PER_LANE", (1, 4))
    monkeypatch.setattr(kernels_benchmark, "EVENT_STEPS", (16,))
    default = triton_steps.EVENTS_PER_LANE
    records = kernels_benchmark.events_sweep(torch.device("cpu"), repeats=1, n=100)
    assert [r["events_per_lane"] for r in records] == [1, 4]
    assert all(r["triton_events_vs_eager_loop"] > 0 and r["steps"] == 16 for r in records)
    assert triton_steps.EVENTS_PER_LANE == default
