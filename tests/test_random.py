"""Counter-based streams: laws, determinism, batch independence."""

import numpy as np
import torch
from scipy import stats

from pmm_sde.streams import reference as random
from pmm_sde.streams.noise import Noise
from pmm_sde.testing import assert_moments, assert_same_law


def test_normal_law_float64_and_float32():
    z = random.normal((100_000,), seed=3, counter=1, dtype=torch.float64)
    assert_same_law(z, stats.norm())
    z32 = random.normal((100_000,), seed=3, counter=1, dtype=torch.float32)
    assert z32.dtype == torch.float32
    assert_same_law(z32, stats.norm())


def test_normal_lanes_are_independent():
    z = random.normal((200_000,), seed=5, counter=0, dtype=torch.float64).reshape(-1, 4)
    corr = torch.corrcoef(z.T)
    off = corr[~torch.eye(4, dtype=torch.bool)]
    assert float(off.abs().max()) < 5 / 50_000 ** 0.5


def test_uniform_law():
    u = random.uniform((100_000,), seed=1, counter=7, dtype=torch.float64)
    assert float(u.min()) > 0 and float(u.max()) < 1
    assert_same_law(u, stats.uniform())


def test_noise_uniform_at_some_elements_equals_the_full_draw_there():
    """Thinning draws its gaps and marks at the proposing units only: the same numbers as the
    whole state's draw, read at those elements."""
    noise = Noise(seed=9, shape=(5, 3, 2), dtype=torch.float64, device="cpu")
    full = noise.uniform(4, 1, attempt=7)
    picked = noise.index[torch.arange(5), torch.tensor([2, 0, 1, 1, 2]), 0]
    assert torch.equal(noise.uniform(4, 1, attempt=7, index=picked), full.flatten()[picked])
    assert torch.equal(noise.uniform(4, 1, attempt=7, index=noise.index), full)


def test_zero_truncated_poisson_law():
    """Poisson(rate) given >= 1, by chi-square, in the inversion (to 29.99) and PTRS (from 30) regimes."""
    index = torch.arange(40_000)
    u = random.to_unit_interval(random.philox4x32(6, index, 0, 2, 0)[1], torch.float64)
    for lam in (0.01, 3.0, 29.99, 45.0, 300.0):
        c = random.zero_truncated_poisson(torch.full((40_000,), lam, dtype=torch.float64), u, 6, 2, index)
        k = np.arange(1, int(lam + 20 * lam**0.5 + 20))
        pmf = stats.poisson.pmf(k, lam) / stats.poisson.sf(0, lam)
        assert float(c.min()) >= 1
        assert_same_law(c, stats.rv_discrete(values=(k, pmf / pmf.sum())))


def test_gamma_law_small_and_large_shape():
    for a in (0.3, 1.0, 4.5):
        g = random.gamma(torch.full((50_000,), a, dtype=torch.float64), seed=2, counter=3)
        assert_same_law(g, stats.gamma(a))


def test_poisson_law_and_large_rates():
    for lam in (0.3, 3.0, 30.0, 300.0):
        k = random.poisson(torch.full((40_000,), lam, dtype=torch.float64), seed=4, counter=0)
        assert_same_law(k, stats.poisson(lam))
    k = random.poisson(torch.full((20_000,), 1e7, dtype=torch.float32), seed=4, counter=0)
    assert torch.isfinite(k).all()
    assert_moments(k, mean=1e7, variance=1e7)


def test_streams_are_deterministic_and_counter_dependent():
    a = random.normal((1000,), seed=9, counter=2)
    assert torch.equal(a, random.normal((1000,), seed=9, counter=2))
    assert not torch.equal(a, random.normal((1000,), seed=9, counter=3))
    assert not torch.equal(a, random.normal((1000,), seed=10, counter=2))
    big_seed = random.normal((1000,), seed=2**40 + 9, counter=2)
    assert not torch.equal(a, big_seed)


def test_prefix_of_stream_does_not_depend_on_length():
    short = random.poisson(torch.full((7, 3), 12.0), seed=1, counter=5)
    long = random.poisson(torch.full((700, 3), 12.0), seed=1, counter=5)
    assert torch.equal(short, long[:7])
    assert torch.equal(random.normal((7, 3), 1, 5), random.normal((700, 3), 1, 5)[:7])


def test_invalid_rate_raises_or_is_nan():
    import pytest
    with pytest.raises(ValueError, match="rate"):
        random.poisson(torch.tensor([1.0, -1.0]), seed=0)
    out = random.poisson(torch.tensor([1.0, float("nan"), -2.0, float("inf")]), seed=0, validate=False)
    assert torch.isfinite(out[0]) and torch.isnan(out[1:]).all()


def test_poisson_inversion_is_the_inverse_cdf_of_its_uniform():
    """Below ``POISSON_INVERSION_MAX`` a count is the smallest ``k`` with ``F(k; rate) >= u`` for the
    stream's own uniform (``lane_word``: word ``e & 3`` of block ``(e >> 2, counter, 0)``). ``F`` from scipy (float64, error about
    1e-15): a count may differ from scipy's only where ``u`` lies within 1e-12 of ``F(k)``."""
    generator = torch.Generator().manual_seed(5)
    rate = random.POISSON_INVERSION_MAX * torch.rand(200_000, generator=generator, dtype=torch.float64)
    rate[:1000] = 0.0
    counts = random.poisson(rate, seed=9, counter=3).numpy()
    word = random.lane_word(9, random.element_index(rate.shape), 3)
    u = random.to_unit_interval(word, torch.float64).numpy()
    expected = stats.poisson.ppf(u, rate.numpy())
    differ = counts != expected
    near_threshold = abs(u - stats.poisson.cdf(np.minimum(counts, expected), rate.numpy())) < 1e-12
    assert not (differ & ~near_threshold).any()


def test_poisson_lanes_of_a_block_are_independent():
    """The four elements of a group take the four words of one Philox block for their inversion."""
    counts = random.poisson(torch.full((200_000,), 3.0, dtype=torch.float64), seed=5, counter=0).reshape(-1, 4)
    corr = torch.corrcoef(counts.T)
    off = corr[~torch.eye(4, dtype=torch.bool)]
    assert float(off.abs().max()) < 5 / 50_000 ** 0.5
