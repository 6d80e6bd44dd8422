"""Fused simulator steps (``pmm_sde.kernels.ops``): Triton against the torch reference, the torch
reference against ``pmm_sde.run_chain`` and ``pmm_sde.sample``, the laws of the whole-trajectory
oracle simulators (``pmm_sde.convergence.oracle_trajectories``), and the solvers' steps on the fused kernels.

Triton runs on CPU tensors through its interpreter (``TRITON_INTERPRET=1``, the default here), so
CPU sizes are small. With CUDA, the Triton cases also run on CUDA tensors: compiled kernels when
``TRITON_INTERPRET=0`` (then the CPU Triton cases are skipped), else interpreted.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from fused_ops import (at_counter, euler_maruyama_coefficients, pmm_chain_coefficients, scalars,  # noqa: E402
                       tau_leap_coefficients)
from gaussian_recursion import plug_in_moments  # noqa: E402
from scipy import stats  # noqa: E402

import pmm_sde  # noqa: E402
from pmm_sde import kernels  # noqa: E402
from pmm_sde.convergence import oracle_trajectories as oracles  # noqa: E402
from pmm_sde.streams import reference as random  # noqa: E402
from pmm_sde.convergence.count_laws import scheme_count_law, target_count_law  # noqa: E402
from pmm_sde.families import GammaPoisson, NormalNormal  # noqa: E402
from pmm_sde.grids import make_grid  # noqa: E402
from pmm_sde.streams import Noise, PoissonPaths  # noqa: E402
from pmm_sde.solvers import EulerMaruyama, PMMChain, TauLeap, TauLeap2  # noqa: E402
from pmm_sde.targets import Gamma, GammaMixture, Gaussian, PointMasses  # noqa: E402
from pmm_sde.testing import assert_moments, assert_same_law  # noqa: E402
from pmm_sde.testing.laws import same_law_pvalue  # noqa: E402

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
    A0 = torch.tensor(0.3, dtype=torch.float64, device=device)  # a 0-dim tensor of another dtype, cast first
    coefficients = tau_leap_coefficients(mu, A0, 1.1, 1.5)
    got, want = (at_counter(kernels.tau_leap, backend, 2**40 + 3, 2**31 + 9, mu, xhat, *coefficients)
                 for backend in ("triton", "torch"))
    assert got.dtype == dtype and got.shape == mu.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0, equal_nan=True)
    assert int(torch.isnan(got).sum()) == 2
    # non-contiguous: logical order, like the torch path
    transposed = (mu.T, xhat.T, *tau_leap_coefficients(mu, 0.0, 0.5, 2.0))
    torch.testing.assert_close(at_counter(kernels.tau_leap, "triton", 5, 8, *transposed),
                               at_counter(kernels.tau_leap, "torch", 5, 8, *transposed), rtol=0, atol=0, equal_nan=True)


def _normal_step_cases(mu, xhat):
    """``(fused op, its coefficients, the update as a function of z)``, equations spelled out."""
    A0, A1, l0 = 0.75, 2.0, 1.5
    h, alpha0, lambda0 = 0.125, 3.0, 2.5

    def _t(v):
        return torch.tensor(v, dtype=mu.dtype, device=mu.device)

    def frozen(z):
        dA = _t(A1) - _t(A0)
        return ((_t(l0) + _t(A0)) * mu + (dA * xhat + torch.sqrt(dA) * z)) / (_t(l0) + _t(A1))

    def euler(z):
        return mu + (_t(alpha0) / _t(lambda0)) * (xhat - mu) * _t(h) + (torch.sqrt(_t(alpha0) * _t(h)) / _t(lambda0)) * z

    return [(kernels.pmm_chain, pmm_chain_coefficients(mu, A0, A1, l0), frozen),
            (kernels.euler_maruyama, euler_maruyama_coefficients(mu, h, alpha0, lambda0), euler)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_normal_steps_triton_match_torch(device, dtype):
    device = _triton_device(device)
    mu, xhat = _state(_size(device), dtype, device, xhat_max=4.0)
    seed, counter = 2**33 + 1, 16
    z_triton = kernels.normal(tuple(mu.shape), seed, counter, dtype=dtype, device=device, backend="triton")
    eps = torch.finfo(dtype).eps
    for op, coefficients, update in _normal_step_cases(mu, xhat):
        got, want = (at_counter(op, backend, seed, counter, mu, xhat, *coefficients) for backend in ("triton", "torch"))
        assert got.dtype == dtype and got.shape == mu.shape
        # The update itself is bitwise: the torch equation evaluated at the kernel's own z.
        assert torch.equal(got, update(z_triton)), op.__name__
        # Against the torch stream: z agrees to 1 ulp (float32) or a few ulp (float64, interpreter).
        torch.testing.assert_close(got, want, rtol=8 * eps, atol=8 * eps * float(want.abs().max()))


def _assert_same_chain(got: torch.Tensor, want: torch.Tensor, driven_by_normals: bool) -> None:
    """Bitwise, but for float64 chains driven by normals: those agree to the last bits of the
    normals, which the samplers draw compiled on a CPU with a C compiler (``kernels.native``) and
    the torch references with torch's ``log``/``cos``/``sin``."""
    if driven_by_normals and got.dtype == torch.float64:
        torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-13)
    else:
        assert torch.equal(got, want)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family, target, prior, op, coefficients", [
    (GammaPoisson(2.0, 1.5), Gamma(3.0, 0.5), 1.5, kernels.tau_leap, tau_leap_coefficients),
    (NormalNormal(0.5, 2.0), Gaussian(1.0, 0.7), 2.0, kernels.pmm_chain, pmm_chain_coefficients),
], ids=["tau_leap", "pmm_chain"])
def test_step_reference_is_one_step_of_run_chain(dtype, family, target, prior, op, coefficients):
    seed = 17
    result = pmm_sde.run_chain(family, ALPHAS, target.predictor(family), n=64, shape=(3,), seed=seed,
                               save_trajectory=True, dtype=dtype)
    predictor, A = target.predictor(family), _cumulative(ALPHAS, dtype)
    for k in range(len(ALPHAS)):
        mu = result.trajectory[k]
        step = at_counter(op, "torch", seed, k * 8, mu, predictor(mu, A[k]), *coefficients(mu, A[k], A[k + 1], prior))
        _assert_same_chain(step, result.trajectory[k + 1], isinstance(family, NormalNormal))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_oracle_trajectory_reference_equals_run_chain(dtype):
    family, target, seed = GammaPoisson(2.0, 1.5), Gamma(3.0, 0.5), 29
    result = pmm_sde.run_chain(family, ALPHAS, target.predictor(family), n=200, seed=seed, dtype=dtype)
    grid = torch.stack(_cumulative(ALPHAS, torch.float64))
    mu = oracles.gamma_oracle_tau_leap(200, grid, 2.0, 1.5, 3.0, 0.5, seed, backend="torch", dtype=dtype)
    assert torch.equal(mu, result.mu)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_oracle_trajectory_triton_equals_torch(device, dtype):
    device = _triton_device(device)
    n = 100_000 if _compiled(device) else 300
    grid = torch.cat([torch.zeros(1), torch.logspace(-2, 2, 8)]).double()  # rates from ~0 into PTRS
    args = (n, grid, 2.0, 1.5, 3.0, 0.5, 2**35 + 7)
    got = oracles.gamma_oracle_tau_leap(*args, backend="triton", dtype=dtype, device=device)
    want = oracles.gamma_oracle_tau_leap(*args, backend="torch", dtype=dtype, device=device)
    assert got.shape == (n,) and got.dtype == dtype and got.device.type == device.type
    assert torch.equal(got, want)


def test_gamma_oracle_trajectory_count_has_the_exact_mean():
    """The plug-in chain's conditional mean is exact: E[N_{k+1} | N_k] = N_k + dA (a* + N_k) / (b* + A_k),
    solved by E N_k = a* A_k / b*, at any step sizes (the variance is tau-leaping's, not checked)."""
    a0, b0, a_star, b_star = 2.0, 1.5, 3.0, 0.5
    grid = torch.linspace(0.0, 4.0, 17, dtype=torch.float64) ** 2
    mu = oracles.gamma_oracle_tau_leap(20_000, grid, a0, b0, a_star, b_star, seed=31, backend="torch")
    counts = (b0 + grid[-1]) * mu - a0
    assert_moments(counts, mean=a_star * float(grid[-1]) / b_star)


def _categorical_state(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device):
    """``(mu, xhat, A)`` of a Dirichlet-Categorical state: ``xhat`` on the simplex, ``A`` per position,
    one invalid rate (-1) at flat element 3."""
    generator = torch.Generator().manual_seed(2)
    mu, xhat = (torch.rand(shape, generator=generator, dtype=F64) for _ in range(2))
    xhat = xhat / xhat.sum(-1, keepdim=True)
    xhat.view(-1)[3] = -1.0
    A = torch.randint(0, 9, shape[:-1] + (1,), generator=generator).to(F64)
    return tuple(t.to(dtype=dtype, device=device) for t in (mu, xhat, A))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(7, 3, 5), (50, 2), (2, 1, 130)], ids=["K5", "K2", "K130"])
def test_categorical_tau_leap_step_triton_equals_torch(device, dtype, shape):
    """Positions of K classes (padded to a power of 2; K = 130 spans one program alone), rates from 0
    into PTRS (dA = 60), NaN at the invalid rate's class and at its position's A'."""
    device = _triton_device(device)
    mu, xhat, A = _categorical_state(shape, dtype, device)
    args = (mu, xhat, A, *scalars(mu, 2.5, 60.0))  # s0, dA
    got, want = (at_counter(kernels.categorical_tau_leap, backend, 2**33 + 5, 24, *args)
                 for backend in ("triton", "torch"))
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == dtype and torch.equal(g.isnan(), w.isnan())
        assert torch.equal(g.nan_to_num(-1.0), w.nan_to_num(-1.0))
    assert torch.equal(want[1].isnan().view(-1).nonzero().view(-1), torch.tensor([3 // shape[-1]], device=device))


def test_categorical_tau_leap_step_is_the_dirichlet_update_and_refuses_a_misshapen_A():
    family = pmm_sde.DirichletCategorical(4, 0.5)
    mu, xhat, A = _categorical_state((6, 4), F64, torch.device("cpu"))
    xhat = xhat.abs()
    mu1, A1 = at_counter(kernels.categorical_tau_leap, "torch", 5, 16, mu, xhat, A,
                         *scalars(mu, family.prior_strength.reshape(()), 3.0))
    counts = random.poisson(3.0 * xhat, 5, 16)
    want = family.absorb(mu, A, *family.increments(counts, torch.tensor(3.0, dtype=F64)))
    assert torch.equal(mu1, want[0]) and torch.equal(A1, want[1])
    with pytest.raises(ValueError, match="A must be a tensor of shape"):
        at_counter(kernels.categorical_tau_leap, "auto", 5, 16, mu, xhat, A.reshape(-1), *scalars(mu, 2.0, 3.0))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gamma_oracle_events_triton_equals_torch(device, dtype):
    """Event to event, on a grid whose step rates run from ~0 to ~100 (zero-truncated PTRS) and with
    zero-length steps."""
    device = _triton_device(device)
    n = 100_000 if _compiled(device) else 300
    grid = torch.cat([torch.zeros(2), torch.logspace(-2, 2, 8), torch.full((1,), 100.0)]).double()
    args = (n, grid, 2.0, 1.5, 3.0, 0.5, 2**35 + 7)
    got = oracles.gamma_oracle_tau_leap_events(*args, backend="triton", dtype=dtype, device=device)
    want = oracles.gamma_oracle_tau_leap_events(*args, backend="torch", dtype=dtype, device=device)
    assert got.shape == (n,) and got.dtype == dtype and got.device.type == device.type
    assert torch.equal(got, want)


def _two_step_count_pmf(a_star: float, w: tuple[float, float], top: int) -> np.ndarray:
    """Exact law of N_2 = c0 + c1 of the two-step Gamma-oracle chain: c0 ~ Poisson(a* w0),
    c1 | c0 ~ Poisson((a* + c0) w1), on 0 .. top."""
    c0 = np.arange(top + 1)
    first = stats.poisson.pmf(c0, a_star * w[0])
    return np.array([np.sum(first[:m + 1] * stats.poisson.pmf(m - c0[:m + 1], (a_star + c0[:m + 1]) * w[1]))
                     for m in range(top + 1)])


@pytest.mark.parametrize("A", [(0.0, 0.4, 1.0), (0.0, 6.0, 11.0), (0.0, 0.05, 20.0)],
                         ids=["small-rates", "inversion-near-30", "ptrs"])
def test_gamma_oracle_events_count_has_the_chains_exact_law(A):
    """Two steps, so the chain's law of N_T is a finite sum: the event algorithm draws exactly it
    (chi-square), in the inversion regime and where the second step's rate is PTRS's (> 30)."""
    a0, b0, a_star, b_star = 2.0, 1.5, 3.0, 0.5
    grid = torch.tensor(A, dtype=torch.float64)
    mu = oracles.gamma_oracle_tau_leap_events(100_000, grid, a0, b0, a_star, b_star, seed=12, backend="torch")
    counts = ((b0 + grid[-1]) * mu - a0).round().numpy()
    w = tuple(float(x) for x in (grid[1:] - grid[:-1]) / (b_star + grid[:-1]))
    top = int(counts.max()) + 300
    pmf = _two_step_count_pmf(a_star, w, top)
    assert pmf.sum() > 1 - 1e-9
    assert_same_law(counts, stats.rv_discrete(values=(np.arange(top + 1), pmf / pmf.sum())))


def test_gamma_oracle_events_has_the_law_of_the_step_chain():
    """Six steps of an Exponential(4) schedule: N_T follows tau-leaping's own exact law
    (``count_laws.scheme_count_law``), which the target's law (negative binomial) fails there."""
    family, target = GammaPoisson(2.0, 1.5), Gamma(torch.tensor(3.0, dtype=F64), torch.tensor(0.5, dtype=F64))
    process = pmm_sde.GammaPoissonCoxSDE(family, pmm_sde.schedules.Exponential(4.0), target.predictor(family))
    A = process.schedule.A(make_grid(process.schedule, 6)).double()
    mu = oracles.gamma_oracle_tau_leap_events(40_000, A, 2.0, 1.5, 3.0, 0.5, seed=3, backend="torch")
    counts = ((1.5 + A[-1]) * mu - 2.0).round()
    support = 400
    assert_same_law(counts, _count_law(scheme_count_law(process, "tau_leap", 6, support)))
    assert same_law_pvalue(counts, _count_law(target_count_law(target, 4.0, support))) < 1e-6


def test_gamma_oracle_events_refuses_bad_parameters():
    grid = torch.tensor([0.0, 1.0])
    with pytest.raises(ValueError, match="a_star must be > 0"):
        oracles.gamma_oracle_tau_leap_events(4, grid, 2.0, 1.5, -3.0, 0.5, seed=0)
    with pytest.raises(ValueError, match="a_star and b_star must be scalars"):
        oracles.gamma_oracle_tau_leap_events(4, grid, 2.0, 1.5, [3.0, 1.0], 0.5, seed=0)
    with pytest.raises(ValueError, match="A_grid must be non-decreasing"):
        oracles.gamma_oracle_tau_leap_events(4, torch.tensor([0.0, 2.0, 1.0]), 2.0, 1.5, 3.0, 0.5, seed=0)
    for trajectory in (oracles.gamma_oracle_tau_leap, oracles.gamma_oracle_tau_leap_events):
        for n in (-1, 2.5, True):
            with pytest.raises(ValueError, match="n \\(the number of chains\\) must be an int >= 0"):
                trajectory(n, grid, 2.0, 1.5, 3.0, 0.5, seed=0)


def test_steps_are_deterministic_and_use_the_element_index():
    mu, xhat = _state((40,), torch.float64, torch.device("cpu"), xhat_max=30.0)
    coefficients = tau_leap_coefficients(mu, 0.0, 1.0, 1.0)
    step = at_counter(kernels.tau_leap, "torch", 3, 8, mu, xhat, *coefficients)
    assert torch.equal(step, at_counter(kernels.tau_leap, "torch", 3, 8, mu, xhat, *coefficients))
    assert torch.equal(step[:7], at_counter(kernels.tau_leap, "torch", 3, 8, mu[:7], xhat[:7], *coefficients))
    assert not torch.equal(step, at_counter(kernels.tau_leap, "torch", 3, 16, mu, xhat, *coefficients))
    counts = random.poisson(xhat, 3, 8)
    assert torch.equal(step, (1.0 * mu + counts) / 2.0)


def test_bad_arguments_raise():
    mu = torch.ones(4)
    coefficients = tau_leap_coefficients(mu, 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="xhat must match mu"):
        at_counter(kernels.tau_leap, "auto", 0, 0, mu, torch.ones(4, dtype=torch.float64), *coefficients)
    with pytest.raises(ValueError, match="float32 or float64"):
        integers = torch.ones(4, dtype=torch.int64)
        at_counter(kernels.pmm_chain, "auto", 0, 0, integers, integers, *pmm_chain_coefficients(mu, 0.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="backend"):
        at_counter(kernels.tau_leap, "cuda", 0, 0, mu, mu, *coefficients)
    with pytest.raises(ValueError, match="non-decreasing"):
        oracles.gamma_oracle_tau_leap(4, torch.tensor([0.0, 2.0, 1.0]), 1.0, 1.0, 1.0, 1.0, 0)
    with pytest.raises(ValueError, match="1-D"):
        oracles.gamma_oracle_tau_leap(4, torch.tensor([0.0]), 1.0, 1.0, 1.0, 1.0, 0)


# ---------------------------------------------------------------- whole-trajectory oracle kernels
F64 = torch.float64
#: Prior Gamma(a0, b0) and Normal(m0, 1/l0): dyadic, so run_chain's float32 families hold them exactly.
GAMMA_PRIOR, NORMAL_PRIOR = (2.0, 1.5), (0.5, 2.0)
#: Three components (padded to four in the kernels); a point at 0 (log v = -inf).
MIXTURE = (torch.tensor([0.2, 0.3, 0.5], dtype=F64), torch.tensor([1.0, 8.0, 3.0], dtype=F64),
           torch.tensor([2.0, 0.5, 1.25], dtype=F64))
POINT_MASSES = (torch.tensor([0.2, 0.3, 0.5], dtype=F64), torch.tensor([0.0, 3.0, 0.7], dtype=F64))
GAUSSIAN = (1.0, 0.7)  # mean, std
#: Cumulative information from 0 through rates that need PTRS.
TRAJECTORY_GRID = torch.cat([torch.zeros(1), torch.logspace(-2, 2, 8)]).double()


def _trajectory_case(case: str):
    """``(trajectory function, its arguments after n and A_grid but for the seed, family, target)``."""
    if case == "gamma_mixture":
        return (oracles.gamma_mixture_oracle_tau_leap, (*GAMMA_PRIOR, *MIXTURE), GammaPoisson(*GAMMA_PRIOR),
                GammaMixture(*MIXTURE))
    if case == "point_masses":
        return (oracles.point_masses_oracle_tau_leap, (*GAMMA_PRIOR, *POINT_MASSES), GammaPoisson(*GAMMA_PRIOR),
                PointMasses(*POINT_MASSES))
    return (oracles.gaussian_oracle_pmm_chain, (*NORMAL_PRIOR, *GAUSSIAN), NormalNormal(*NORMAL_PRIOR),
            Gaussian(*(torch.tensor(v, dtype=F64) for v in GAUSSIAN)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["gamma_mixture", "point_masses", "gaussian"])
def test_oracle_trajectory_references_equal_run_chain(dtype, case):
    trajectory, args, family, target = _trajectory_case(case)
    seed = 37
    result = pmm_sde.run_chain(family, ALPHAS, target.predictor(family), n=200, seed=seed, dtype=dtype)
    grid = torch.stack(_cumulative(ALPHAS, torch.float64))
    mu = trajectory(200, grid, *args, seed, backend="torch", dtype=dtype)
    assert mu.shape == (200,) and mu.dtype == dtype
    _assert_same_chain(mu, result.mu, case == "gaussian")


@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_trajectory_reference_equals_the_pmm_chain_solver(dtype):
    """sample(process, "pmm_chain") on a schedule's grid is the same chain on A(grid)."""
    _, _, family, target = _trajectory_case("gaussian")
    schedule = pmm_sde.schedules.Exponential(50.0)
    process = pmm_sde.NormalNormalSDE(family, schedule, target.predictor(family))
    times = make_grid(schedule, 6)
    result = pmm_sde.sample(process, "pmm_chain", grid=times, n=200, seed=41, dtype=dtype)
    mu = oracles.gaussian_oracle_pmm_chain(200, schedule.A(times).double(), *NORMAL_PRIOR, *GAUSSIAN, 41,
                                           backend="torch", dtype=dtype)
    _assert_same_chain(mu, result.mu, True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["gamma_mixture", "point_masses"])
def test_mixture_oracle_trajectories_triton_equal_torch(device, dtype, case):
    """Bitwise: mu depends on the oracle only through the counts. Compiled float32 may flip a count
    whose decision lies within the oracle's last-bit discrepancy (expected under one in 10^5 chains)."""
    device = _triton_device(device)
    trajectory, args, _, _ = _trajectory_case(case)
    n = 100_000 if _compiled(device) else 300
    run = (n, TRAJECTORY_GRID, *args, 2**35 + 11)
    got = trajectory(*run, backend="triton", dtype=dtype, device=device)
    want = trajectory(*run, backend="torch", dtype=dtype, device=device)
    assert got.shape == (n,) and got.dtype == dtype and got.device.type == device.type
    allowed = n // 10_000 if _compiled(device) and dtype == torch.float32 else 0
    assert int((got != want).sum()) <= allowed


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gaussian_oracle_trajectory_triton_matches_torch(device, dtype, monkeypatch):
    device = _triton_device(device)
    n, seed = (100_000 if _compiled(device) else 300), 2**35 + 13
    got = oracles.gaussian_oracle_pmm_chain(n, TRAJECTORY_GRID, *NORMAL_PRIOR, *GAUSSIAN, seed, backend="triton",
                                            dtype=dtype, device=device)
    want = oracles.gaussian_oracle_pmm_chain(n, TRAJECTORY_GRID, *NORMAL_PRIOR, *GAUSSIAN, seed, backend="torch",
                                             dtype=dtype, device=device)
    assert got.shape == (n,) and got.dtype == dtype and got.device.type == device.type
    # Bitwise: the oracle and NormalNormalSDE.frozen_step in torch, at the kernel's own z: without its
    # Triton implementation kernels.pmm_chain runs its torch reference, on the noise's Triton draws.
    _, _, family, target = _trajectory_case("gaussian")
    A = TRAJECTORY_GRID.to(dtype=dtype, device=device)
    process = pmm_sde.NormalNormalSDE(family, pmm_sde.schedules.Linear(1.0), target.predictor(family)).cast(A)
    mu = process.family.prior_mean.expand(n).clone()
    noise = Noise(seed, mu.shape, dtype, device, backend="triton")
    monkeypatch.delitem(kernels.pmm_chain.implementations, "triton")
    for k in range(A.numel() - 1):
        mu = process.frozen_step(noise, k, 0, mu, process.predictor(mu, A[k]), A[k], A[k + 1])
    assert torch.equal(got, mu)
    # Against the torch stream: z agrees to 1 ulp (float32) or a few (float64), and the chain contracts.
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(got, want, rtol=8 * eps, atol=8 * eps * float(want.abs().max()))


def _count_law(pmf: np.ndarray) -> stats.rv_discrete:
    return stats.rv_discrete(values=(np.arange(pmf.size), pmf / pmf.sum())).freeze()


@pytest.mark.parametrize("case", ["gamma_mixture", "point_masses"])
def test_oracle_trajectory_counts_follow_the_exact_laws(case):
    """Chi-square of N_T from 20,000 torch-path chains (prior Gamma(1, 1), A_T = 4, the grids of an
    Exponential(4) schedule): on 4 steps against tau-leaping's own exact law
    (``count_laws.scheme_count_law``), which the target's law fails there; on 128 steps against the
    target's exact law (``count_laws.target_count_law``), from which the scheme's law is then within
    a chi-square distance of 5 / n, too small for the test to see."""
    if case == "gamma_mixture":
        trajectory, params, support = oracles.gamma_mixture_oracle_tau_leap, ([0.5, 0.5], [1.0, 8.0], [2.0, 2.0]), 120
        target = GammaMixture(*(torch.tensor(p, dtype=F64) for p in params))
    else:
        trajectory, params, support = oracles.point_masses_oracle_tau_leap, ([0.4, 0.6], [0.5, 3.0]), 80
        target = PointMasses(*(torch.tensor(p, dtype=F64) for p in params))
    family, n = GammaPoisson(1.0, 1.0), 20_000
    process = pmm_sde.GammaPoissonCoxSDE(family, pmm_sde.schedules.Exponential(4.0), target.predictor(family))
    exact = target_count_law(target, 4.0, support)

    def counts(steps: int, seed: int) -> torch.Tensor:
        A = process.schedule.A(make_grid(process.schedule, steps)).double()
        N = (1.0 + A[-1]) * trajectory(n, A, 1.0, 1.0, *params, seed, backend="torch") - 1.0
        assert torch.allclose(N, N.round(), atol=1e-8)
        return N.round()

    coarse = counts(4, seed=61)
    assert_same_law(coarse, _count_law(scheme_count_law(process, "tau_leap", 4, support)))
    assert same_law_pvalue(coarse, _count_law(exact)) < 1e-6
    fine = scheme_count_law(process, "tau_leap", 128, support)
    assert n * ((fine - exact) ** 2 / exact).sum() < 5
    assert_same_law(counts(128, seed=62), _count_law(exact))


def test_gaussian_oracle_trajectory_has_the_exact_plug_in_moments():
    """The chain is Gaussian with the mean and variance of the plug-in recursion (pmm-notes fact 8)."""
    A = torch.tensor([0.0, 0.25, 0.75, 2.0, 5.0, 12.0, 30.0], dtype=F64)
    mu = oracles.gaussian_oracle_pmm_chain(20_000, A, *NORMAL_PRIOR, *GAUSSIAN, seed=43, backend="torch")
    mean, variance = plug_in_moments(NORMAL_PRIOR[1], NORMAL_PRIOR[0], *GAUSSIAN, A)
    assert_moments(mu, mean=mean, variance=variance)


@pytest.mark.parametrize("call, message", [
    (lambda: oracles.gamma_mixture_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [0.5, 0.6], [1.0, 2.0], 1.0, 0),
     "weights must hold probability vectors"),
    (lambda: oracles.gamma_mixture_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [-0.5, 1.5], [1.0, 2.0], 1.0, 0),
     "weights must be >= 0"),
    (lambda: oracles.gamma_mixture_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [0.5, 0.5], [1.0, -2.0], 1.0, 0),
     "concentrations must be > 0"),
    (lambda: oracles.gamma_mixture_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [0.5, 0.5], 1.0, [1.0, 0.0], 0),
     "rates must be > 0"),
    (lambda: oracles.gamma_mixture_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [0.5, 0.5], [1.0, 2.0, 3.0], 1.0, 0),
     "leading axis of size K=2"),
    (lambda: oracles.gamma_mixture_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [0.5, 0.5], [[1.0, 2.0]] * 2, 1.0, 0),
     "concentrations and rates must be 1-D"),
    (lambda: oracles.gamma_mixture_oracle_tau_leap(4, [0.0, 1.0], 0.0, 1.0, [1.0], [1.0], 1.0, 0), "a0 must be > 0"),
    (lambda: oracles.point_masses_oracle_tau_leap(4, [0.0, 1.0], 1.0, -1.0, [1.0], [1.0], 0), "b0 must be > 0"),
    (lambda: oracles.point_masses_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [0.5, 0.5], [-1.0, 2.0], 0),
     "values must be >= 0"),
    (lambda: oracles.point_masses_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [0.5, 0.5], [1.0], 0),
     "leading axis of size M=2"),
    (lambda: oracles.point_masses_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [1.0], [[1.0, 2.0]], 0),
     "values must be 1-D"),
    (lambda: oracles.gaussian_oracle_pmm_chain(4, [0.0, 1.0], 0.0, 1.0, 0.0, 0.0, 0), "std must be > 0"),
    (lambda: oracles.gaussian_oracle_pmm_chain(4, [0.0, 1.0], 0.0, -1.0, 0.0, 1.0, 0), "l0 must be > 0"),
    (lambda: oracles.gaussian_oracle_pmm_chain(4, [0.0, 1.0], 0.0, 1.0, [0.0, 1.0], 1.0, 0),
     "mean and std must be scalars"),
    (lambda: oracles.gaussian_oracle_pmm_chain(4, [0.0, 2.0, 1.0], 0.0, 1.0, 0.0, 1.0, 0), "non-decreasing"),
    (lambda: oracles.gaussian_oracle_pmm_chain(4, [0.0, float("nan")], 0.0, 1.0, 0.0, 1.0, 0),
     "A_grid must be finite"),
    (lambda: oracles.gamma_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, -3.0, 1.0, 0), "a_star must be > 0"),
    (lambda: oracles.point_masses_oracle_tau_leap(4, [0.0, 1.0], 1.0, 1.0, [1.0], [1.0], 0, dtype=torch.float16),
     "dtype must be"),
])
def test_oracle_trajectory_arguments_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- solvers on the fused steps
def _cox_process(target, family=None, shape=(2,)):
    family = family or GammaPoisson(1.5, 0.5)
    return pmm_sde.GammaPoissonCoxSDE(family, pmm_sde.schedules.Exponential(20.0), target.predictor(family),
                                      shape=shape)


def _normal_process(family=None):
    family = family or NormalNormal(0.0, 1.0)
    target = Gaussian(torch.full((2,), 1.5), 0.5)
    return pmm_sde.NormalNormalSDE(family, pmm_sde.schedules.Exponential(100.0), target.predictor(family), shape=(2,))


POINTS_2D = PointMasses([0.4, 0.6], torch.tensor([[0.5, 2.0], [3.0, 1.0]]))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver, leaps", [(TauLeap, 1), (TauLeap2, 2)], ids=["tau_leap", "tau_leap_2"])
def test_tau_leap_solvers_on_triton_equal_torch(device, dtype, solver, leaps, kernel_calls):
    """Every leap (two per step for tau_leap_2) runs as kernels.tau_leap's Triton kernel, bitwise
    equal to the torch path."""
    device = _triton_device(device)
    process = _cox_process(POINTS_2D)
    run = dict(steps=5, n=150, seed=3, dtype=dtype, device=device)
    want = pmm_sde.sample(process, solver(), backend="torch", **run)
    calls = kernel_calls("tau_leap")
    got = pmm_sde.sample(process, solver(), backend="triton", **run)
    assert calls == ["triton"] * 5 * leaps
    assert torch.equal(got.mu, want.mu) and torch.equal(got.A, want.A) and got.nfe == want.nfe == 5 * leaps


def test_tau_leap_solver_takes_the_torch_path_where_no_kernel_fits(kernel_calls):
    """Dirichlet-Categorical, poisson_paths and a per-coordinate prior rate: on the Triton backend
    every leap is the op's torch reference, with the torch backend's numbers."""
    pytest.importorskip("triton")
    probs = torch.tensor([[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]], dtype=F64)
    family = pmm_sde.DirichletCategorical(3, torch.tensor([[1.0], [2.0]]))  # a concentration per position
    dirichlet = pmm_sde.GammaPoissonCoxSDE(family, pmm_sde.schedules.Linear(3.0),
                                           pmm_sde.targets.Categorical(probs).predictor(family), shape=(2,))
    gamma = [(_cox_process(POINTS_2D), {"poisson_paths": pmm_sde.PoissonPaths(seed=2)}),
             (_cox_process(POINTS_2D, GammaPoisson(1.5, torch.tensor([0.5, 2.0]))), {})]
    cases = [(TauLeap, dirichlet, {})] + [(solver, *case) for solver in (TauLeap, TauLeap2) for case in gamma]
    run = dict(steps=3, n=20, seed=4, dtype=F64)
    wants = [pmm_sde.sample(process, solver(), backend="torch", **run, **extra) for solver, process, extra in cases]
    calls = [kernel_calls("tau_leap"), kernel_calls("categorical_tau_leap")]
    for (solver, process, extra), want in zip(cases, wants):
        got = pmm_sde.sample(process, solver(), backend="triton", **run, **extra)
        assert torch.equal(got.mu, want.mu) and torch.equal(got.A, want.A)
    assert calls == [["torch"] * (2 * 3 + 2 * 6), ["torch"] * 3]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("solver, kernel", [(PMMChain, "pmm_chain"), (EulerMaruyama, "euler_maruyama")],
                         ids=["pmm_chain", "euler_maruyama"])
def test_normal_solvers_on_triton_match_torch(device, dtype, solver, kernel, kernel_calls, monkeypatch):
    """Every step runs as the fused kernel on Triton: within the z agreement of the torch path, and
    bitwise equal to it when the torch path draws its z with Triton too."""
    device = _triton_device(device)
    process = _normal_process()
    run = dict(steps=5, n=150, seed=3, dtype=dtype, device=device)
    want = pmm_sde.sample(process, solver(), backend="torch", **run)
    calls = kernel_calls(kernel)
    got = pmm_sde.sample(process, solver(), backend="triton", **run)
    assert calls == ["triton"] * 5 and got.nfe == 5
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(got.mu, want.mu, rtol=8 * eps, atol=8 * eps * float(want.mu.abs().max()))
    triton_normal = pmm_sde.streams.draws.normal
    monkeypatch.setattr(pmm_sde.streams.draws, "normal",
                        lambda *args, **kw: triton_normal(*args, **{**kw, "backend": "triton"}))
    assert torch.equal(got.mu, pmm_sde.sample(process, solver(), backend="torch", **run).mu)


def _dirichlet_process(positions: int = 3) -> pmm_sde.GammaPoissonCoxSDE:
    family = pmm_sde.DirichletCategorical(5, 0.5)
    probs = torch.softmax(torch.linspace(-1.0, 2.0, positions * 5, dtype=F64).reshape(positions, 5), -1)
    return pmm_sde.GammaPoissonCoxSDE(family, pmm_sde.schedules.Linear(6.0),
                                      pmm_sde.targets.Categorical(probs).predictor(family), shape=(positions,))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dirichlet_tau_leap_on_triton_equals_torch(device, dtype, kernel_calls):
    """Dirichlet-Categorical tau-leaping: every step is kernels.categorical_tau_leap's Triton kernel,
    bitwise equal to the torch path (family.absorb of the counts)."""
    device = _triton_device(device)
    run = dict(steps=5, n=40, seed=3, dtype=dtype, device=device)
    want = pmm_sde.sample(_dirichlet_process(), TauLeap(), backend="torch", **run)
    calls = kernel_calls("categorical_tau_leap")
    got = pmm_sde.sample(_dirichlet_process(), TauLeap(), backend="triton", **run)
    assert calls == ["triton"] * 5
    assert torch.equal(got.mu, want.mu) and torch.equal(got.A, want.A) and bool((want.A > 0).any())


def test_normal_solvers_take_the_torch_path_where_no_kernel_fits(kernel_calls):
    """A user's Brownian motion bm, or a per-coordinate prior precision: on the Triton backend every
    step is the op's torch reference, with the torch backend's numbers."""
    pytest.importorskip("triton")
    torchsde = pytest.importorskip("torchsde")
    run = dict(steps=3, n=20, seed=4, dtype=F64)
    cases = []
    for solver in (PMMChain, EulerMaruyama):
        bm = torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(20, 2), dtype=F64, entropy=3)
        cases += [(solver, _normal_process(), {"bm": bm}),
                  (solver, _normal_process(NormalNormal(0.0, torch.tensor([1.0, 2.0]))), {})]
    wants = [pmm_sde.sample(process, solver(), backend="torch", **run, **extra) for solver, process, extra in cases]
    calls = {kernel: kernel_calls(kernel) for kernel in ("pmm_chain", "euler_maruyama")}
    for (solver, process, extra), want in zip(cases, wants):
        assert torch.equal(pmm_sde.sample(process, solver(), backend="triton", **run, **extra).mu, want.mu)
    assert calls == {"pmm_chain": ["torch"] * 6, "euler_maruyama": ["torch"] * 6}


@pytest.mark.parametrize("backend", ["native", "triton"])
def test_ops_run_their_torch_reference_off_the_counter_streams_or_with_coefficients_of_several_values(
        backend, kernel_calls):
    """With ``poisson_paths`` on the noise, or a coefficient of two values (broadcast over the last
    axis), each op is its torch reference, called directly, bitwise; its compiled kernel never runs."""
    if backend == "triton":
        _triton_device("cpu")
    elif not kernels.native_available():
        pytest.skip(f"the compiled CPU steps are unavailable: {kernels.native_unavailable_reason()}")
    mu, xhat = _state((6, 2), F64, torch.device("cpu"), xhat_max=4.0)
    cases = {"tau_leap": (mu, xhat, *tau_leap_coefficients(mu, 0.25, 1.0, 1.5)),
             "categorical_tau_leap": (mu, xhat, torch.arange(6.0, dtype=F64).reshape(6, 1), *scalars(mu, 2.0, 3.0)),
             "pmm_chain": (mu, xhat, *pmm_chain_coefficients(mu, 0.25, 1.0, 1.5)),
             "euler_maruyama": (mu, xhat, *euler_maruyama_coefficients(mu, 0.125, 3.0, 2.5))}
    two_values = torch.tensor([0.5, 2.0], dtype=F64)
    for name, args in cases.items():
        op = getattr(kernels, name)
        reference, calls = op.reference, kernel_calls(name)
        for paths, call in [(PoissonPaths(seed=2), args), (None, (*args[:-1], args[-1] * two_values))]:
            got, want = (run(Noise(5, mu.shape, F64, "cpu", backend=backend, poisson_paths=paths), 3, 2, *call)
                         for run in (op, reference))
            torch.testing.assert_close(got, want, rtol=0, atol=0, msg=name)
        assert calls == ["torch", "torch"], name


def test_invalid_predictions_still_raise_on_the_triton_backend():
    pytest.importorskip("triton")
    family = GammaPoisson(1.0, 1.0)
    cox = pmm_sde.GammaPoissonCoxSDE(family, pmm_sde.schedules.Linear(2.0), lambda mu, A: torch.full_like(mu, -1.0))
    with pytest.raises(ValueError, match="not finite and >= 0"):
        pmm_sde.sample(cox, TauLeap(), backend="triton", steps=2, n=4)
    normal = pmm_sde.NormalNormalSDE(NormalNormal(), pmm_sde.schedules.Linear(2.0),
                                     lambda mu, A: torch.full_like(mu, float("nan")))
    for solver in (PMMChain, EulerMaruyama):
        with pytest.raises(ValueError, match="not finite"):
            pmm_sde.sample(normal, solver(), backend="triton", steps=2, n=4)


def test_sample_takes_a_backend_and_the_registry_still_builds_the_solvers():
    normal, cox = _normal_process(), _cox_process(POINTS_2D)
    for solver, process in [(PMMChain, normal), (EulerMaruyama, normal), (TauLeap, cox), (TauLeap2, cox)]:
        with pytest.raises(ValueError, match="backend must be one of"):
            pmm_sde.sample(process, solver(), backend="gpu", steps=2, n=4)
    assert isinstance(pmm_sde.solvers.get_solver("pmm_chain", normal), PMMChain)
    assert pmm_sde.solvers.get_solver("euler_maruyama", normal).check_stability
    assert isinstance(pmm_sde.solvers.get_solver("tau_leap", cox), TauLeap)


@pytest.mark.parametrize("device", DEVICES)
def test_family_draws_on_a_device_are_the_reference_streams(device):
    """What ``run_chain`` and the training objective draw (``families.base.stream_*``): Triton on CUDA,
    the compiled or torch path on the CPU; the reference stream's numbers on every device."""
    from pmm_sde.families.base import stream_normal, stream_poisson

    generator = torch.Generator().manual_seed(3)
    rate = 40.0 * torch.rand(7, 301, generator=generator)  # inversion and PTRS
    assert torch.equal(stream_poisson(rate.to(device), 5, 16).cpu(), random.poisson(rate, 5, 16))
    for dtype in DTYPES:
        z = stream_normal((7, 301), 5, 16, like=torch.empty(0, dtype=dtype, device=device))
        assert z.dtype == dtype and z.device.type == device
        torch.testing.assert_close(z.cpu(), random.normal((7, 301), 5, 16, dtype=dtype), rtol=1e-6, atol=1e-6)
