"""Fused simulator steps (``pmm_sde.kernels.steps``): Triton against the torch reference, the torch
reference against ``pmm_sde.run_chain``, and the law of the whole-trajectory Gamma-oracle kernel.

Triton runs on CPU tensors through its interpreter (``TRITON_INTERPRET=1``, the default here), so
CPU sizes are small. With CUDA, the Triton cases also run on CUDA tensors: compiled kernels when
``TRITON_INTERPRET=0`` (then the CPU Triton cases are skipped), else interpreted.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import pmm_sde  # noqa: E402
from pmm_sde import kernels, random  # noqa: E402
from pmm_sde.families import GammaPoisson, NormalNormal  # noqa: E402
from pmm_sde.targets import Gamma, Gaussian  # noqa: E402
from pmm_sde.testing import assert_moments  # noqa: E402

INTERPRET = os.environ["TRITON_INTERPRET"] == "1"
DTYPES = (torch.float32, torch.float64)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
#: Dyadic per-step information: cumulative sums are exact, so ``A1 - A0`` is the chain's ``alpha``.
ALPHAS = (0.25, 0.5, 0.5, 1.0, 2.0, 4.0, 8.0)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """One torch thread: the interpreter is single-threaded and shared cores stall OpenMP barriers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _triton_device(device: str) -> torch.device:
    """``device`` if Triton can run there in this process (else skip): CPU only under the interpreter."""
    pytest.importorskip("triton")
    if device == "cpu" and not INTERPRET:
        pytest.skip("compiled Triton (TRITON_INTERPRET=0) needs CUDA tensors")
    return torch.device(device)


def _state(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device, xhat_max: float
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """A positive ``mu`` and a prediction ``xhat`` on ``[0, xhat_max)`` (fixed generator)."""
    generator = torch.Generator().manual_seed(1)
    mu = 5.0 * torch.rand(shape, generator=generator, dtype=torch.float64)
    xhat = xhat_max * torch.rand(shape, generator=generator, dtype=torch.float64)
    return mu.to(dtype=dtype, device=device), xhat.to(dtype=dtype, device=device)


def _compiled(device: torch.device) -> bool:
    """Whether Triton runs compiled here (CUDA, no interpreter): then the sizes can be large."""
    return device.type == "cuda" and not INTERPRET


def _size(device: torch.device) -> tuple[int, int]:
    return (100, 1001) if _compiled(device) else (3, 341)


def _cumulative(alphas, dtype: torch.dtype) -> list[torch.Tensor]:
    """``A_0 = 0``, ``A_{k+1} = A_k + alpha_k`` in ``dtype``, as ``family.absorb`` accumulates it."""
    A = [torch.zeros((), dtype=dtype)]
    for alpha in alphas:
        A.append(A[-1] + torch.tensor(alpha, dtype=dtype))
    return A


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_tau_leap_step_triton_equals_torch(device, dtype):
    device = _triton_device(device)
    mu, xhat = _state(_size(device), dtype, device, xhat_max=60.0)  # rates 0..48: inversion and PTRS
    xhat.view(-1)[:3] = torch.tensor([1e6, -1.0, float("nan")], dtype=dtype)  # PTRS far out; invalid -> NaN
    A0 = torch.tensor(0.3, dtype=torch.float64, device=device)  # a 0-dim tensor of another dtype
    args = (mu, xhat, A0, 1.1, 1.5, 2**40 + 3, 2**31 + 9)
    got = kernels.tau_leap_step(*args, backend="triton")
    want = kernels.tau_leap_step(*args, backend="torch")
    assert got.dtype == dtype and got.shape == mu.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)
    assert int(torch.isnan(got).sum()) == 2
    transposed = (mu.T, xhat.T, 0.0, 0.5, 2.0, 5, 8)  # non-contiguous: logical order, like the torch path
    torch.testing.assert_close(kernels.tau_leap_step(*transposed, backend="triton"),
                               kernels.tau_leap_step(*transposed, backend="torch"), rtol=0, atol=0, equal_nan=True)


def _normal_step_cases(mu, xhat):
    """``(name, step function, scalar args, the update as a function of z)``, equations spelled out."""
    A0, A1, l0 = 0.75, 2.0, 1.5
    h, alpha0, lambda0 = 0.125, 3.0, 2.5

    def _t(v):
        return torch.tensor(v, dtype=mu.dtype, device=mu.device)

    def frozen(z):
        dA = _t(A1) - _t(A0)
        return ((_t(l0) + _t(A0)) * mu + (dA * xhat + torch.sqrt(dA) * z)) / (_t(l0) + _t(A1))

    def euler(z):
        return mu + (_t(alpha0) / _t(lambda0)) * (xhat - mu) * _t(h) + (torch.sqrt(_t(alpha0) * _t(h)) / _t(lambda0)) * z

    return [(kernels.pmm_chain_step, (A0, A1, l0), frozen), (kernels.euler_maruyama_step, (h, alpha0, lambda0), euler)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_steps_triton_match_torch(device, dtype):
    device = _triton_device(device)
    mu, xhat = _state(_size(device), dtype, device, xhat_max=4.0)
    seed, counter = 2**33 + 1, 16
    z_triton = kernels.normal(tuple(mu.shape), seed, counter, dtype=dtype, device=device, backend="triton")
    eps = torch.finfo(dtype).eps
    for step, scalars, update in _normal_step_cases(mu, xhat):
        got = step(mu, xhat, *scalars, seed, counter, backend="triton")
        want = step(mu, xhat, *scalars, seed, counter, backend="torch")
        assert got.dtype == dtype and got.shape == mu.shape
        # The update itself is bitwise: the torch equation evaluated at the kernel's own z.
        assert torch.equal(got, update(z_triton)), step.__name__
        # Against the torch stream: z agrees to 1 ulp (float32) or a few ulp (float64, interpreter).
        torch.testing.assert_close(got, want, rtol=8 * eps, atol=8 * eps * float(want.abs().max()))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family, target, prior, step_fn", [
    (GammaPoisson(2.0, 1.5), Gamma(3.0, 0.5), 1.5, kernels.tau_leap_step),
    (NormalNormal(0.5, 2.0), Gaussian(1.0, 0.7), 2.0, kernels.pmm_chain_step),
], ids=["tau_leap", "pmm_chain"])
def test_step_reference_is_one_step_of_run_chain(dtype, family, target, prior, step_fn):
    seed = 17
    result = pmm_sde.run_chain(family, ALPHAS, target.predictor(family), n=64, shape=(3,), seed=seed,
                               save_trajectory=True, dtype=dtype)
    predictor, A = target.predictor(family), _cumulative(ALPHAS, dtype)
    for k in range(len(ALPHAS)):
        mu = result.trajectory[k]
        step = step_fn(mu, predictor(mu, A[k]), A[k], A[k + 1], prior, seed, k * 8, backend="torch")
        assert torch.equal(step, result.trajectory[k + 1]), k


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_oracle_trajectory_reference_equals_run_chain(dtype):
    family, target, seed = GammaPoisson(2.0, 1.5), Gamma(3.0, 0.5), 29
    result = pmm_sde.run_chain(family, ALPHAS, target.predictor(family), n=200, seed=seed, dtype=dtype)
    grid = torch.stack(_cumulative(ALPHAS, torch.float64))
    mu = kernels.gamma_oracle_tau_leap(200, grid, 2.0, 1.5, 3.0, 0.5, seed, backend="torch", dtype=dtype)
    assert torch.equal(mu, result.mu)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_oracle_trajectory_triton_equals_torch(device, dtype):
    device = _triton_device(device)
    n = 100_000 if _compiled(device) else 300
    grid = torch.cat([torch.zeros(1), torch.logspace(-2, 2, 8)]).double()  # rates from ~0 into PTRS
    args = (n, grid, 2.0, 1.5, 3.0, 0.5, 2**35 + 7)
    got = kernels.gamma_oracle_tau_leap(*args, backend="triton", dtype=dtype, device=device)
    want = kernels.gamma_oracle_tau_leap(*args, backend="torch", dtype=dtype, device=device)
    assert got.shape == (n,) and got.dtype == dtype and got.device.type == device.type
    assert torch.equal(got, want)


def test_gamma_oracle_trajectory_count_has_the_exact_mean():
    """The plug-in chain's conditional mean is exact: E[N_{k+1} | N_k] = N_k + dA (a* + N_k) / (b* + A_k),
    solved by E N_k = a* A_k / b*, at any step sizes (the variance is tau-leaping's, not checked)."""
    a0, b0, a_star, b_star = 2.0, 1.5, 3.0, 0.5
    grid = torch.linspace(0.0, 4.0, 17, dtype=torch.float64) ** 2
    mu = kernels.gamma_oracle_tau_leap(20_000, grid, a0, b0, a_star, b_star, seed=31, backend="torch")
    counts = (b0 + grid[-1]) * mu - a0
    assert_moments(counts, mean=a_star * float(grid[-1]) / b_star)


def test_steps_are_deterministic_and_use_the_element_index():
    mu, xhat = _state((40,), torch.float64, torch.device("cpu"), xhat_max=30.0)
    step = kernels.tau_leap_step(mu, xhat, 0.0, 1.0, 1.0, 3, 8, backend="torch")
    assert torch.equal(step, kernels.tau_leap_step(mu, xhat, 0.0, 1.0, 1.0, 3, 8, backend="torch"))
    assert torch.equal(step[:7], kernels.tau_leap_step(mu[:7], xhat[:7], 0.0, 1.0, 1.0, 3, 8, backend="torch"))
    assert not torch.equal(step, kernels.tau_leap_step(mu, xhat, 0.0, 1.0, 1.0, 3, 16, backend="torch"))
    counts = random.poisson(xhat, 3, 8)
    assert torch.equal(step, (1.0 * mu + counts) / 2.0)


def test_bad_arguments_raise():
    mu = torch.ones(4)
    with pytest.raises(ValueError, match="xhat must match mu"):
        kernels.tau_leap_step(mu, torch.ones(4, dtype=torch.float64), 0.0, 1.0, 1.0, 0, 0)
    with pytest.raises(ValueError, match="float32 or float64"):
        kernels.pmm_chain_step(torch.ones(4, dtype=torch.int64), torch.ones(4, dtype=torch.int64), 0.0, 1.0, 1.0, 0, 0)
    with pytest.raises(ValueError, match="0-dim"):
        kernels.euler_maruyama_step(mu, mu, torch.ones(2), 1.0, 1.0, 0, 0)
    with pytest.raises(ValueError, match="backend"):
        kernels.tau_leap_step(mu, mu, 0.0, 1.0, 1.0, 0, 0, backend="cuda")
    with pytest.raises(ValueError, match="non-decreasing"):
        kernels.gamma_oracle_tau_leap(4, torch.tensor([0.0, 2.0, 1.0]), 1.0, 1.0, 1.0, 1.0, 0)
    with pytest.raises(ValueError, match="1-D"):
        kernels.gamma_oracle_tau_leap(4, torch.tensor([0.0]), 1.0, 1.0, 1.0, 1.0, 0)
