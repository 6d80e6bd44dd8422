"""CounterBrownian: the law of its increments and Levy areas, consistency, batch-size invariance,
and the torchsde adapter's default Brownian motion built on it."""

import math

import pytest
import torch
import torchsde

import pmm_sde as pmm
from pmm_sde.streams.brownian import CounterBrownian
from pmm_sde.convergence import fit_order

F64 = torch.float64
#: A non-dyadic partition of [0, 2]: 0.3, 1.7 are ``times`` nodes below, 0.35 and 1.0 are not.
EDGES = [0.0, 0.3, 0.35, 1.0, 1.7, 2.0]


def mixture_process(d=2):
    fam = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.GaussianMixture([0.4, 0.6], torch.tensor([[-1.0] * d, [1.0] * d]),
                                         torch.tensor([[0.5] * d, [0.4] * d]))
    return pmm.NormalNormalSDE(fam, pmm.schedules.Exponential(50.0), target.predictor(fam), shape=(d,))


def standardised_increments(bm):
    """``W / sqrt(h)`` and ``H / sqrt(h / 12)`` over each interval of ``EDGES``, ``H = U / h - W / 2``."""
    rows = []
    for a, b in zip(EDGES[:-1], EDGES[1:]):
        W, U = bm(a, b, return_U=True)
        h = b - a
        rows += [W.flatten() / h ** 0.5, (U / h - W / 2).flatten() / (h / 12) ** 0.5]
    return torch.stack(rows)


@pytest.mark.parametrize("times", [None, [0.3, 1.7]])
def test_increments_and_levy_areas_are_independent_standard_normals(times):
    """Over disjoint intervals (dyadic or not, nodes or not) W ~ N(0, h), H ~ N(0, h/12), all ten
    uncorrelated: means, variances and correlations within 5 standard errors (100,000 draws; tol
    1e-3 keeps the descents to the times that are not nodes short)."""
    n = 100_000
    X = standardised_increments(CounterBrownian(0.0, 2.0, (n // 2, 2), seed=11, times=times, tol=1e-3, dtype=F64))
    assert X.mean(1).abs().max() < 5 / n ** 0.5
    assert (X.var(1) - 1).abs().max() < 5 * (2 / n) ** 0.5
    corr = torch.corrcoef(X) - torch.eye(X.shape[0], dtype=F64)
    assert corr.abs().max() < 5 / n ** 0.5


def test_queries_are_consistent_repeatable_and_independent_of_their_order():
    bm = CounterBrownian(0.0, 1.0, (5, 3), seed=2, times=[0.25, 0.6], dtype=F64)
    first = bm(0.1, 0.6, return_U=True)
    assert torch.allclose(bm(0.1) + bm(0.1, 0.6), bm(0.6), atol=1e-14, rtol=0)
    assert torch.allclose(bm(0.6), bm(0.0, 0.6), atol=0, rtol=0)
    # U is additive with the cross term: U(a, c) = U(a, b) + U(b, c) + (c - b) W(a, b)
    _, U_ac = bm(0.1, 0.9, return_U=True)
    W_ab, U_ab = bm(0.1, 0.6, return_U=True)
    _, U_bc = bm(0.6, 0.9, return_U=True)
    assert torch.allclose(U_ac, U_ab + U_bc + 0.3 * W_ab, atol=1e-14, rtol=0)
    bm(0.999, 1.0), bm(0.0123456)  # other paths through the tree, past the point cache
    again = bm(0.1, 0.6, return_U=True)
    assert all(torch.equal(x, y) for x, y in zip(first, again))
    fresh = CounterBrownian(0.0, 1.0, (5, 3), seed=2, times=[0.25, 0.6], dtype=F64)
    assert all(torch.equal(x, y) for x, y in zip(first, fresh(0.1, 0.6, return_U=True)))
    assert torch.equal(bm(0.4, 0.4), torch.zeros(5, 3, dtype=F64))


def test_sample_paths_do_not_depend_on_the_batch_size():
    """Entry j of sample i is element i * d + j of every stream: rows of a (7, 2) motion are those of a (3, 2) one."""
    big = CounterBrownian(0.0, 1.0, (7, 2), seed=5, times=[0.5, 0.75])
    small = CounterBrownian(0.0, 1.0, (3, 2), seed=5, times=[0.5, 0.75])
    for a, b in [(0.0, 0.5), (0.5, 0.75), (0.1, 0.33), (0.75, 1.0)]:
        for x, y in zip(big(a, b, return_U=True), small(a, b, return_U=True)):
            assert torch.equal(x[:3], y)
    assert not torch.equal(CounterBrownian(0.0, 1.0, (3, 2), seed=6)(0.5), small(0.5))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sample_paths_do_not_depend_on_the_device():
    cpu = CounterBrownian(0.0, 1.0, (64, 3), seed=1, times=[0.2, 0.7], dtype=F64)
    cuda = CounterBrownian(0.0, 1.0, (64, 3), seed=1, times=[0.2, 0.7], dtype=F64, device="cuda")
    for a, b in [(0.0, 0.2), (0.2, 0.7), (0.31, 0.9)]:
        for x, y in zip(cpu(a, b, return_U=True), cuda(a, b, return_U=True)):
            assert torch.allclose(x, y.cpu(), atol=1e-12, rtol=0)


def test_interface_and_bad_queries():
    bm = CounterBrownian(0.0, 1.0, (4, 2), seed=0, dtype=torch.float32)
    assert isinstance(bm, torchsde.BaseBrownian)
    assert bm.shape == (4, 2) and bm.size() == (4, 2) and bm.dtype == torch.float32
    assert bm.levy_area_approximation == "space-time" and bm(0.2, 0.5).dtype == torch.float32
    assert torch.equal(bm(0.0, 1.0 + 1e-9), bm(0.0, 1.0))  # float32 rounding of a grid's end
    with pytest.raises(ValueError, match=r"tb must lie in .*\[0.0, 1.0\]"):
        bm(0.5, 1.5)
    with pytest.raises(ValueError, match="ta must lie"):
        bm(-0.1, 0.5)
    with pytest.raises(ValueError, match="ta must be <= tb"):
        bm(0.6, 0.5)
    with pytest.raises(ValueError, match="return_A"):
        bm(0.1, 0.2, return_A=True)
    for kwargs, name in [(dict(t0=1.0, t1=1.0), "t0 must be < t1"), (dict(size=(4, 0)), "size"),
                         (dict(size=(2.5,)), "size"), (dict(seed=-1), "seed"), (dict(seed=2**64), "seed"),
                         (dict(tol=0.0), "tol"), (dict(times=[0.5, 1.5]), "times must lie"),
                         (dict(times=[float("nan")]), "times must be finite"), (dict(dtype=torch.int64), "dtype")]:
        args = dict(t0=0.0, t1=1.0, size=(4, 2)) | kwargs
        with pytest.raises(ValueError, match=name):
            CounterBrownian(args.pop("t0"), args.pop("t1"), args.pop("size"), **args)


def test_strong_orders_of_torchsde_euler_and_srk_on_a_shared_counter_brownian():
    """Runs at 8-64 uniform steps share one CounterBrownian (their grid times are dyadic nodes of
    its tree): euler's L1 refinement differences fall at order 1, srk's at least at 1.25 (1.68
    measured; 1.00 with the space-time Levy area dropped, U = h W / 2)."""
    fam = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.GaussianMixture([0.4, 0.6], torch.tensor([[-1.0], [1.0]]), torch.tensor([[0.5], [0.4]]))
    process = pmm.NormalNormalSDE(fam, pmm.schedules.Linear(10.0), target.predictor(fam), shape=(1,))
    n, steps = 1000, [8, 16, 32, 64]
    slopes = {}
    for method in ("euler", "srk"):
        bm = CounterBrownian(0.0, 1.0, (n, 1), seed=3, dtype=F64)
        runs = [pmm.sample(process, f"torchsde:{method}", steps=N, n=n, grid="uniform", bm=bm, dtype=F64).mu.flatten()
                for N in steps]
        diffs = [(runs[i] - runs[i + 1]).abs() for i in range(len(steps) - 1)]
        slopes[method] = fit_order(steps[:-1], [float(x.mean()) for x in diffs],
                                   [float(x.std() / n ** 0.5) for x in diffs]).slope
    assert abs(slopes["euler"] - 1.0) < 0.25 and slopes["srk"] > 1.25, slopes


@pytest.mark.parametrize("method", ["euler", "milstein", "srk"])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_torchsde_adapter_runs_do_not_depend_on_the_batch_size(method, dtype):
    process = mixture_process()
    big = pmm.sample(process, f"torchsde:{method}", steps=12, n=7, seed=4, dtype=dtype)
    small = pmm.sample(process, f"torchsde:{method}", steps=12, n=3, seed=4, dtype=dtype)
    assert torch.equal(big.mu[:3], small.mu) and big.nfe == small.nfe


def test_the_adapter_default_is_the_counter_brownian_on_the_grid_and_matches_euler_maruyama():
    """The default Brownian motion is ``CounterBrownian(seed, times=grid)``: passing it explicitly
    gives the same samples bit for bit, and pmm's euler_maruyama on it agrees with torchsde's euler."""
    process, n, steps = mixture_process(), 50, 16
    grid = pmm.grids.make_grid(process.schedule, steps, "log1p")
    bm = CounterBrownian(0.0, float(grid[-1]), (n, 2), seed=9, times=grid, dtype=F64)
    default = pmm.sample(process, "torchsde:euler", steps=steps, n=n, seed=9, dtype=F64)
    explicit = pmm.sample(process, "torchsde:euler", steps=steps, n=n, seed=9, dtype=F64, bm=bm)
    ours = pmm.sample(process, "euler_maruyama", steps=steps, n=n, seed=9, dtype=F64, bm=bm)
    assert torch.equal(default.mu, explicit.mu) and default.nfe == steps
    assert torch.allclose(default.mu, ours.mu, atol=1e-10, rtol=0)


def test_a_bm_of_the_wrong_size_or_span_is_refused_naming_bm():
    process = mixture_process()
    cases = [(torchsde.BrownianInterval(t0=0.0, t1=1.0, size=(2, 5)), r"bm must have size \(n, d\) = \(5, 2\)"),
             (CounterBrownian(0.0, 1.0, (10,)), r"bm must have size"),
             (torchsde.BrownianInterval(t0=0.0, t1=0.5, size=(5, 2)), r"bm must span the grid's times \[0.0, 1.0\]"),
             (CounterBrownian(0.2, 1.0, (5, 2)), "bm must span"), ("path", "bm must be a Brownian motion")]
    for bm, message in cases:
        for solver in ("euler_maruyama", "torchsde:euler"):
            with pytest.raises(ValueError, match=message):
                pmm.sample(process, solver, steps=4, n=5, bm=bm)


def test_torchsde_interface_refuses_states_of_the_wrong_width():
    process = mixture_process(d=2)
    for method in (process.f, process.g):
        with pytest.raises(ValueError, match=r"shape \(n, 2\).*got width 3.*pass shape= to the process"):
            method(0.5, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="got width 3"):
        torchsde.sdeint(process, torch.zeros(4, 3), torch.tensor([0.0, 1.0]), dt=0.5)
    assert process.f(0.5, torch.zeros(4, 2)).shape == (4, 2)
    assert math.isfinite(float(process.g(0.5, torch.zeros(4, 2))[0, 0]))
