"""The antithetic Brownian coupling of a grid and its refinement (``pmm_sde.streams.couplings``)."""

import pytest
import torch

from pmm_sde.streams.couplings import AntitheticRefinement

TIMES = torch.tensor([0.0, 0.1, 0.3, 0.35, 0.6, 0.8, 1.0], dtype=torch.float64)


def _increments(coupling, sign, times):
    bm = coupling.path(sign)
    return [bm(float(a), float(b)) for a, b in zip(times[:-1], times[1:])]


def test_fine_paths_sum_to_the_coarse_increments_and_differ_only_in_the_bridge():
    coupling = AntitheticRefinement(TIMES, (200_000, 1), seed=3)
    coarse = _increments(coupling, None, TIMES[::2])
    plus, minus = _increments(coupling, 1, TIMES), _increments(coupling, -1, TIMES)
    for k, dW in enumerate(coarse):
        torch.testing.assert_close(plus[2 * k] + plus[2 * k + 1], dW, rtol=0, atol=1e-14)
        torch.testing.assert_close(minus[2 * k] + minus[2 * k + 1], dW, rtol=0, atol=1e-14)
        torch.testing.assert_close(plus[2 * k] + minus[2 * k], 2 * (TIMES[2 * k + 1] - TIMES[2 * k])
                                   / (TIMES[2 * k + 2] - TIMES[2 * k]) * dW, rtol=0, atol=1e-14)


@pytest.mark.parametrize("sign", [None, 1, -1])
def test_each_path_has_independent_gaussian_increments_of_the_right_variance(sign):
    """Variances h_j within 5 standard errors (sqrt(2/n) relative), correlations within 5/sqrt(n)."""
    n = 200_000
    coupling = AntitheticRefinement(TIMES, (n, 1), seed=4)
    times = TIMES if sign is not None else TIMES[::2]
    dW = torch.cat(_increments(coupling, sign, times), 1)
    h = times[1:] - times[:-1]
    assert torch.all((dW.var(0) / h - 1).abs() < 5 * (2 / n) ** 0.5)
    corr = torch.corrcoef(dW.T) - torch.eye(len(h), dtype=torch.float64)
    assert float(corr.abs().max()) < 5 / n ** 0.5


def test_bad_times_and_intervals_are_refused():
    with pytest.raises(ValueError, match="2N \\+ 1"):
        AntitheticRefinement(TIMES[:-1], (2, 1), seed=0)
    with pytest.raises(ValueError, match="strictly increasing"):
        AntitheticRefinement(torch.tensor([0.0, 0.5, 0.5]), (2, 1), seed=0)
    coupling = AntitheticRefinement(TIMES, (2, 1), seed=0)
    with pytest.raises(ValueError, match="not a point"):
        coupling.path(1)(0.0, 0.2)
    with pytest.raises(ValueError, match="coarse path"):
        coupling.path(None)(0.0, 0.1)
    with pytest.raises(ValueError, match="fine path"):
        coupling.path(1)(0.0, 0.3)
    with pytest.raises(ValueError, match="sign"):
        coupling.path(0)
