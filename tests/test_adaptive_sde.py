"""``pmm_2_adaptive``: the per-sample dyadic Brownian tree (its law, its additivity, its keys), the
step pair's declared orders on the tree's paths, the error against a fine fixed-level run as the
tolerance falls, per-sample steps independent of the batch, and bad input."""

import functools
import math

import pytest
import torch

import pmm_sde as pmm
from pmm_sde.adaptive_sde import ceil_log2, dyadic_level, information_clock
from pmm_sde.streams import Noise
from pmm_sde.streams.brownian_tree import MAX_LEVEL, DyadicBrownianTree

F64 = torch.float64


def tree_of(n, seed=3, offset=0, clock=None, shape=()):
    index = Noise(seed, (n, *shape), F64, "cpu", offset=offset).index
    return DyadicBrownianTree(seed, index, clock or information_clock(100.0))


def nodes(level, j, n):
    return torch.full((n,), level), torch.full((n,), j), torch.ones(n, dtype=torch.bool)


def test_tree_increments_have_the_bridge_law_and_add_up():
    """On the clock ``A(v) = e^v - 1`` of a run to ``A = 100`` (unequal A-lengths at every split), each node's
    increment is N(0, its A-length), siblings are independent, and a node is the sum of its children
    (to float64 rounding), whatever the order of the queries."""
    n = 20_000
    clock = information_clock(100.0)
    tree = tree_of(n, clock=clock)
    queried = [(3, 5), (0, 0), (1, 0), (1, 1), (2, 2), (2, 3), (3, 4), (7, 100)]
    values = {node: tree.increment(*nodes(*node, n)) for node in queried}
    for (level, j), W in values.items():
        s, u = tree.node_ends(torch.tensor([level]), torch.tensor([j]))
        length = float(clock(u) - clock(s))
        assert abs(float(W.var()) / length - 1) < 5 * math.sqrt(2 / n), (level, j)
    for parent, left, right in [((0, 0), (1, 0), (1, 1)), ((1, 1), (2, 2), (2, 3)), ((2, 2), (3, 4), (3, 5))]:
        assert torch.allclose(values[left] + values[right], values[parent], rtol=0, atol=1e-12)
        assert abs(float(torch.corrcoef(torch.stack([values[left], values[right]]))[0, 1])) < 5 / math.sqrt(n)
    again = tree_of(n, clock=clock)  # a fresh tree, queried deepest first, then the root: the same path
    assert torch.equal(again.increment(*nodes(7, 100, n)), values[(7, 100)])
    assert torch.equal(again.increment(*nodes(0, 0, n)), values[(0, 0)])
    assert torch.equal(again.increment(*nodes(2, 3, n)), values[(2, 3)])


def test_tree_values_are_keyed_by_global_element_and_node():
    """A sample's increment depends on its global index and node only: not on the batch, on the
    offset of the run, or on which nodes the other samples ask for."""
    whole = tree_of(8, shape=(3,))
    level = torch.tensor([5, 0, 2, 9, 5, 3, 1, 4])
    node = torch.tensor([7, 0, 1, 300, 30, 2, 1, 15])
    active = torch.tensor([True, True, True, True, True, False, True, True])
    W = whole.increment(level, node, active)
    assert torch.equal(W[5], torch.zeros(3))  # inactive
    part = tree_of(3, offset=5 * 3, shape=(3,))  # samples 5, 6, 7 alone
    assert torch.equal(part.increment(level[5:], node[5:], torch.ones(3, dtype=torch.bool))[1:], W[6:])
    single = tree_of(1, offset=3 * 3, shape=(3,))
    assert torch.equal(single.increment(level[3:4], node[3:4], active[3:4]), W[3:4])


def test_dyadic_levels_are_the_coarsest_aligned_nodes_within_the_step():
    assert ceil_log2(torch.tensor([1.0, 2.0, 3.0, 4.0, 0.3], dtype=F64)).tolist() == [0, 1, 2, 2, -1]
    end = 1 << MAX_LEVEL
    position = torch.tensor([0, 0, end // 2, end // 4 * 3, 1, 0])
    h = torch.tensor([10.0, 0.3, 10.0, 10.0, 10.0, 1.0], dtype=F64)
    # v_end = 1: h = 0.3 wants level 2; 3/4 is a level-2 node's end; position 1 needs the finest level
    assert dyadic_level(position, h, 1.0).tolist() == [0, 2, 1, 2, MAX_LEVEL, 0]


def mixture_process():
    family = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.GaussianMixture([0.3, 0.7], [-1.0, 1.5], [0.3, 0.5])
    return pmm.NormalNormalSDE(family, pmm.schedules.Exponential(100.0), target.predictor(family))


GAUSSIAN = pmm.NormalNormalSDE(pmm.NormalNormal(0.0, 1.0), pmm.schedules.Exponential(100.0),
                               pmm.targets.Gaussian(1.5, 0.5).predictor(pmm.NormalNormal(0.0, 1.0)))
PATHS = 200


@functools.cache
def fixed_level_run(level: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pmm_2, pmm_chain)`` on the 2^level nodes of one level (uniform steps in ``v = log(1 + A)``), with the
    tree's increments: the paths of ``pmm_2_adaptive`` at seed 0 for ``PATHS`` samples of ``GAUSSIAN``."""
    solver = pmm.solvers.PMM2Adaptive()
    clock = information_clock(100.0)
    tree = tree_of(PATHS, seed=0, clock=clock)
    taken = chain = torch.zeros(PATHS, dtype=F64)
    predict = GAUSSIAN.predictor
    for j in range(2**level):
        lv, node, active = nodes(level, j, PATHS)
        s, u = tree.node_ends(lv[:1], node[:1])
        A0, A1 = clock(s), clock(u)
        dA, dB = A1 - A0, tree.increment(lv, node, active)
        xhat0 = predict(taken, A0)
        guess = solver.chain_guess(GAUSSIAN, taken, xhat0, A0, A1, dA, dB)
        taken = solver.pair(GAUSSIAN, taken, xhat0, predict(guess, A1), A0, A1, dA, dB)[0]
        chain = solver.chain_guess(GAUSSIAN, chain, predict(chain, A0), A0, A1, dA, dB)
    return taken, chain


def test_the_pair_has_its_declared_strong_orders_on_the_tree():
    """Pathwise RMS differences of successive levels 2-6 (4-64 steps in v) on the same tree paths
    (Gaussian oracle, A(1) = 100) fall at strong order 1 for pmm_2 (the step taken) and pmm_chain
    (embedded). Measured: successive differences 1.20, 1.00, 0.85 (pmm_2) and 0.96, 0.89, 0.83 (pmm_chain);
    against level 9, levels 2-7: 1.11, 1.04, 0.92, 1.17, 1.02 and 0.89, 0.93, 0.94, 1.09, 1.15."""
    runs = [fixed_level_run(level) for level in range(2, 7)]
    for which, order in [(0, pmm.solvers.PMM2Adaptive.strong_order), (1, pmm.solvers.PMM2Adaptive.embedded_order)]:
        gaps = [float((a[which] - b[which]).square().mean().sqrt()) for a, b in zip(runs, runs[1:])]
        slopes = [math.log2(a / b) for a, b in zip(gaps, gaps[1:])]
        assert all(abs(slope - order) < 0.3 for slope in slopes), (which, gaps, slopes)


def test_the_error_estimate_is_local_order_one_and_a_half():
    """One step from the same state over the nodes of levels 6-10 starting at v = v_end / 2: the
    RMS of the estimate ``dA (xhat1 - xhat0) / (2 lambda1)`` falls as h^1.5 (mixture oracle). Measured:
    1.45, 1.44, 1.49, 1.49."""
    n = 2000
    process = mixture_process()
    solver = pmm.solvers.PMM2Adaptive()
    clock = information_clock(100.0)
    tree = tree_of(n, clock=clock)
    mu = torch.full((n,), 0.4, dtype=F64)
    sizes = []
    for level in (6, 7, 8, 9, 10):
        lv, node, active = nodes(level, 2 ** (level - 1), n)
        s, u = tree.node_ends(lv[:1], node[:1])
        A0, A1 = clock(s), clock(u)
        dB = tree.increment(lv, node, active)
        xhat0 = process.predictor(mu, A0)
        guess = solver.chain_guess(process, mu, xhat0, A0, A1, A1 - A0, dB)
        sizes.append(float(solver.pair(process, mu, xhat0, process.predictor(guess, A1), A0, A1, A1 - A0, dB)[1]
                           .square().mean().sqrt()))
    slopes = [math.log2(a / b) for a, b in zip(sizes, sizes[1:])]
    assert all(abs(slope - solver.error_order) < 0.2 for slope in slopes), slopes


def test_error_against_a_fine_fixed_level_run_falls_with_the_tolerance():
    """The adaptive run and a fixed run of 2^7 steps on the same tree paths approximate the same strong
    solution (Gaussian oracle), so the RMS of their difference falls with the tolerance. Measured: 0.13,
    0.031 and 0.0053 at rtol = atol = 1e-1, 1e-2 and 1e-3 (26, 94 and 469 NFE; the last left out for
    time); the fixed run's own error is 0.003."""
    reference = fixed_level_run(7)[0]
    errors, nfes = [], []
    for rtol in (1e-1, 1e-2):
        res = pmm.sample(GAUSSIAN, "pmm_2_adaptive", n=PATHS, seed=0, dtype=F64, rtol=rtol, atol=rtol)
        errors.append(float((res.mu - reference).square().mean().sqrt()))
        nfes.append(res.nfe)
    assert errors[0] > 2 * errors[1], errors
    assert nfes[0] < nfes[1]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_a_samples_steps_and_path_do_not_depend_on_the_batch(dtype):
    family = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.GaussianMixture([0.3, 0.7], [[-1.0, 0.0], [1.5, 1.0]], [0.3, 0.5])
    process = pmm.NormalNormalSDE(family, pmm.schedules.Exponential(100.0), target.predictor(family), shape=(2,))
    run = dict(solver="pmm_2_adaptive", seed=11, dtype=dtype, rtol=3e-2, atol=3e-2)
    whole = pmm.sample(process, n=9, **run)
    for first, n in [(5, 4), (7, 1)]:
        part = pmm.sample(process, n=n, first_sample=first, **run)
        assert torch.equal(whole.mu[first:first + n], part.mu)
        assert torch.equal(whole.accepted[first:first + n], part.accepted)
        assert torch.equal(whole.rejected[first:first + n], part.rejected)
        assert torch.equal(whole.evaluations[first:first + n], part.evaluations)
    assert len(set(whole.accepted.tolist())) > 1 and int(whole.rejected.sum()) > 0


def test_result_reports_steps_and_evaluations():
    process = mixture_process()
    assert "pmm_2_adaptive" in pmm.solvers.available(process)
    res = pmm.sample(process, "pmm_2_adaptive", n=50, seed=0, dtype=F64, rtol=1e-1)
    assert res.accepted.shape == res.rejected.shape == (50,)
    assert res.A.item() == float(process.schedule.A(torch.tensor(1.0, dtype=F64)))
    # one evaluation at A = 0, then one per round: an accepted step takes two rounds (the first one, whose xhat0
    # is the evaluation at A = 0, one), a rejected one one; every sample starts at once
    assert res.nfe == int((2 * res.accepted + res.rejected).max())
    # each sample's own evaluations: the rounds until it was done (finished samples are not evaluated)
    assert torch.equal(res.evaluations, 2 * res.accepted + res.rejected) and int(res.evaluations.max()) == res.nfe


def test_bad_input_is_refused():
    process = mixture_process()
    for bad in [dict(rtol=0.0), dict(atol=-1.0), dict(rtol=float("inf"))]:
        with pytest.raises(ValueError, match=next(iter(bad))):
            pmm.sample(process, "pmm_2_adaptive", n=3, **bad)
    for fixed in [dict(steps=10), dict(grid="log1p")]:
        with pytest.raises(ValueError, match=f"{next(iter(fixed))}: the adaptive solver"):
            pmm.sample(process, "pmm_2_adaptive", n=3, **fixed)
    for option in ["first_step", "max_steps"]:
        with pytest.raises(ValueError, match=option):
            pmm.solvers.PMM2Adaptive(**{option: 0})
    with pytest.raises(ValueError, match="max_steps"):
        pmm.sample(process, pmm.solvers.PMM2Adaptive(max_steps=5), n=3, rtol=1e-3)
    with pytest.raises(ValueError, match="levels"):
        DyadicBrownianTree(0, torch.arange(3), information_clock(1.0), levels=MAX_LEVEL + 1)
