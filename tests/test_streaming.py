"""Streaming block statistics (``pmm_sde.convergence.streaming``): bitwise the same for any chunk
size, equal to one ``sample()`` call's statistics to float64 rounding, mergeable over consecutive
block ranges, a short last block, and the refusal of bad blocks and chunks."""

import math

import pytest
import torch

import pmm_sde as pmm
from pmm_sde.convergence.streaming import StreamingStatistics, streaming_statistics

F64 = torch.float64


def normal_process():
    family = pmm.NormalNormal(0.0, 1.0)
    predictor = pmm.targets.Gaussian(0.5, 1.3).predictor(family)
    return pmm.NormalNormalSDE(family, pmm.schedules.Exponential(20.0), predictor, shape=(2,))


def gamma_process():
    family = pmm.GammaPoisson(1.5, 0.5)
    predictor = pmm.targets.Gamma(2.0, 1.0).predictor(family)
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Exponential(20.0), predictor, shape=(2,))


def same(a: StreamingStatistics, b: StreamingStatistics) -> bool:
    """Bitwise equality of everything the statistics hold and report."""
    return (a.functionals == b.functionals and a.first_block == b.first_block and torch.equal(a.counts, b.counts)
            and torch.equal(a.sums, b.sums) and torch.equal(a.sums_of_squares, b.sums_of_squares)
            and a.totals == b.totals and ((a.histogram is None and b.histogram is None)
                                          or torch.equal(a.histogram, b.histogram)))


@pytest.mark.parametrize("make, solver", [(normal_process, "pmm_chain"), (gamma_process, "tau_leap_2")])
def test_the_statistics_do_not_depend_on_the_chunk_size(make, solver):
    process = make()
    run = dict(solver=solver, steps=5, n=250, seed=3, block=40, dtype=F64)
    extra = {"histogram_bins": 30} if solver == "tau_leap_2" else {}
    by_block = streaming_statistics(process, chunk=40, **run, **extra)
    by_three = streaming_statistics(process, chunk=120, **run, **extra)
    at_once = streaming_statistics(process, chunk=280, **run, **extra)
    assert same(by_block, by_three) and same(by_block, at_once)
    assert by_block.blocks == 7 and by_block.counts[-1] == 10 and by_block.n == 250  # the last block is short
    if extra:
        assert int(by_block.histogram.sum()) == 250


def test_the_statistics_are_those_of_one_sample_call():
    process = gamma_process()
    stats = streaming_statistics(process, "tau_leap", steps=4, n=300, seed=8, block=64, chunk=128, dtype=F64,
                                 histogram_bins=12, histogram_entry=1)
    result = pmm.sample(process, "tau_leap", steps=4, n=300, seed=8, dtype=F64)
    x = result.mu[:, 0]
    for name, values in {"x": x, "x^2": x**2, "cos x": torch.cos(x)}.items():
        assert stats.means[name] == pytest.approx(float(values.mean()), rel=1e-13)
        assert stats.variances[name] == pytest.approx(float(values.var()), rel=1e-10)
        assert stats.stderrs[name] == pytest.approx(math.sqrt(float(values.var()) / 300), rel=1e-10)
    N = torch.round(process.family.statistic(result.mu, result.A)[:, 1]).long().clamp(max=12)
    assert torch.equal(stats.histogram, torch.bincount(N, minlength=13))


def test_results_over_consecutive_blocks_merge_into_the_whole():
    process = normal_process()
    run = dict(solver="pmm_chain", steps=3, n=230, seed=1, block=50, chunk=100, dtype=F64)
    whole = streaming_statistics(process, **run)
    head = streaming_statistics(process, blocks=range(0, 2), **run)
    tail = streaming_statistics(process, blocks=range(2, 5), **run)
    assert same(head.merge(tail), whole)
    assert whole.to_dict()["n"] == 230
    with pytest.raises(ValueError, match="other must start at block 2"):
        head.merge(streaming_statistics(process, blocks=range(3, 5), **run))


def test_custom_functionals_and_their_shape():
    process = normal_process()
    stats = streaming_statistics(process, steps=2, n=10, block=5, functionals={"norm": lambda mu: mu.norm(dim=1)})
    assert stats.functionals == ("norm",) and stats.sums.shape == (2, 1)
    with pytest.raises(ValueError, match="functional 'bad' must return one value per sample"):
        streaming_statistics(process, steps=2, n=10, block=5, functionals={"bad": lambda mu: mu})


@pytest.mark.parametrize("kwargs, name", [({"block": 0}, "block"), ({"block": 2.5}, "block"),
                                          ({"block": 4, "chunk": 6}, "chunk"), ({"chunk": -4}, "chunk"),
                                          ({"blocks": range(0, 9)}, "blocks"), ({"blocks": [0, 1]}, "blocks"),
                                          ({"histogram_bins": 5}, "histogram_bins")])
def test_bad_blocks_and_chunks_are_refused(kwargs, name):
    with pytest.raises(ValueError, match=name):
        streaming_statistics(normal_process(), steps=2, n=10, **kwargs)


def test_a_histogram_entry_outside_the_state_is_refused():
    with pytest.raises(ValueError, match="histogram_entry must be an integer in \\[0, 1\\]"):
        streaming_statistics(gamma_process(), "tau_leap", steps=2, n=10, histogram_bins=4, histogram_entry=2)
