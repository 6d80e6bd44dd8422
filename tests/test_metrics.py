"""Sliced Wasserstein distance, the Poisson baseline for counts, bits per token."""

import math

import pytest
import torch

from pmm_sde.metrics import bits_per_token, poisson_baseline, sliced_wasserstein


def normal_sample(n, d, seed):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def test_sliced_wasserstein_is_zero_for_identical_samples():
    x = normal_sample(500, 3, 0)
    assert sliced_wasserstein(x, x.clone()) == 0.0
    assert sliced_wasserstein(x, x[torch.randperm(500)]) == 0.0


def test_sliced_wasserstein_of_a_shift_is_its_norm_over_root_d():
    d, projections = 5, 4096
    x = normal_sample(200, d, 1)
    c = torch.tensor([1.0, -2.0, 0.5, 0.0, 3.0])
    sw2 = sliced_wasserstein(x, x + c, projections=projections, seed=7) ** 2
    # (theta . c)^2 = |c|^2 theta_1^2, theta_1^2 ~ Beta(1/2, (d - 1)/2): mean 1/d, variance 2(d-1)/(d^2 (d+2))
    norm2 = float(c.pow(2).sum())
    se = norm2 * math.sqrt(2 * (d - 1) / (d ** 2 * (d + 2)) / projections)
    assert abs(sw2 - norm2 / d) < 5 * se


def test_sliced_wasserstein_is_symmetric_and_seeded():
    x, y = normal_sample(300, 4, 2), 1.5 * normal_sample(700, 4, 3) + 0.2
    assert sliced_wasserstein(x, y, seed=3) == pytest.approx(sliced_wasserstein(y, x, seed=3), rel=1e-12)
    assert sliced_wasserstein(x, y, seed=3) == sliced_wasserstein(x, y, seed=3)
    assert sliced_wasserstein(x, y, seed=3) != sliced_wasserstein(x, y, seed=4)


def test_sliced_wasserstein_interpolates_quantiles_for_unequal_sizes():
    # exact quantile grids of U(0, 1) with 1000 and 3000 points: the interpolated quantile functions
    # agree except below level 1/2000 and above 1 - 1/2000
    x = ((torch.arange(1000) + 0.5) / 1000).unsqueeze(1)
    y = ((torch.arange(3000) + 0.5) / 3000).unsqueeze(1)
    assert sliced_wasserstein(x, y, projections=4) < 1e-4
    assert sliced_wasserstein(x, y + 0.25, projections=4) == pytest.approx(0.25, abs=1e-4)


def test_sliced_wasserstein_flattens_points_and_checks_arguments():
    x = normal_sample(200, 6, 4)
    assert sliced_wasserstein(x.reshape(200, 2, 3), x.reshape(200, 3, 2) + 1.0, seed=1) == pytest.approx(
        sliced_wasserstein(x, x + 1.0, seed=1))
    with pytest.raises(ValueError, match="same size"):
        sliced_wasserstein(x, normal_sample(200, 5, 0))
    with pytest.raises(ValueError, match="projections"):
        sliced_wasserstein(x, x, projections=0)


def test_poisson_baseline_matches_per_coordinate_means():
    train = torch.tensor([[0.0, 1.0, 10.0], [0.0, 3.0, 14.0]])
    n = 20_000
    samples = poisson_baseline(train, n, torch.Generator().manual_seed(0))
    assert samples.shape == (n, 3) and samples.dtype == torch.float32
    assert torch.equal(samples, samples.round()) and (samples >= 0).all()
    assert (samples[:, 0] == 0).all()
    rate = train.mean(0)
    se = torch.sqrt(rate / n)
    assert ((samples.mean(0) - rate).abs()[1:] < 5 * se[1:]).all()
    again = poisson_baseline(train, n, torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)
    images = poisson_baseline(torch.full((4, 8, 8), 2.0), 5)
    assert images.shape == (5, 8, 8)


def test_poisson_baseline_rejects_negative_counts():
    with pytest.raises(ValueError, match="train"):
        poisson_baseline(torch.tensor([[-1.0, 2.0]]), 10)
    with pytest.raises(ValueError, match="n must"):
        poisson_baseline(torch.tensor([[1.0, 2.0]]), 0)


def test_bits_per_token():
    assert bits_per_token(32 * math.log(2.0), 32) == pytest.approx(1.0)
    assert bits_per_token(torch.tensor([1.0, 3.0]) * math.log(2.0), 2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="length"):
        bits_per_token(1.0, 0)
