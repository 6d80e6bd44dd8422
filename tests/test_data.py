"""Built-in datasets: shapes, dtypes, determinism, exact moments, and the Markov corpus's exact laws."""

import itertools
import math

import numpy as np
import pytest
import torch

import pmm_sde as pmm
from pmm_sde.data import MarkovCorpus

TOYS = ["gaussian_mixture", "two_moons", "checkerboard"]


def test_available_names():
    assert pmm.data.available() == ["gaussian_mixture", "two_moons", "checkerboard", "digits", "markov"]


@pytest.mark.parametrize("name", TOYS)
def test_toy_shapes_dtypes_and_family(name):
    ds = pmm.data.load(name, seed=0, train_size=1000, heldout_size=300)
    assert ds.name == name and ds.kind == "real" and ds.shape == (2,) and ds.num_classes is None
    assert ds.train.shape == (1000, 2) and ds.heldout.shape == (300, 2)
    assert ds.train.dtype == ds.heldout.dtype == torch.float32
    family = ds.family()
    assert isinstance(family, pmm.NormalNormal)
    assert float(family.mean) == 0.0 and float(family.precision) == 1.0


@pytest.mark.parametrize("name", TOYS)
def test_toy_determinism_and_independent_streams(name):
    a = pmm.data.load(name, seed=3, train_size=500, heldout_size=500)
    b = pmm.data.load(name, seed=3, train_size=500, heldout_size=500)
    c = pmm.data.load(name, seed=4, train_size=500, heldout_size=500)
    assert torch.equal(a.train, b.train) and torch.equal(a.heldout, b.heldout)
    assert not torch.equal(a.train, c.train)
    assert not torch.equal(a.train, a.heldout)


@pytest.mark.parametrize("name", ["two_moons", "checkerboard"])
def test_standardised_toys_have_zero_mean_unit_variance(name):
    x = pmm.data.load(name, seed=0, train_size=20_000, heldout_size=1).train.double()
    n = x.shape[0]
    centred = x - x.mean(0)
    m2, m4 = (centred ** 2).mean(0), (centred ** 4).mean(0)
    assert ((x.mean(0)).abs() < 5 * torch.sqrt(m2 / n)).all()
    assert ((m2 - 1).abs() < 5 * torch.sqrt((m4 - m2 ** 2) / n)).all()


def test_checkerboard_points_lie_on_black_squares():
    x = pmm.data.load("checkerboard", seed=1, train_size=5000, heldout_size=1, cells=6).train
    cell = torch.floor((x / math.sqrt(3.0) + 1.0) / 2.0 * 6).long()
    assert ((cell >= 0) & (cell < 6)).all()
    assert ((cell.sum(1) % 2) == 0).all()


def test_gaussian_mixture_is_the_8_gaussian_ring_with_an_exact_target():
    ds = pmm.data.load("gaussian_mixture", train_size=10, heldout_size=10)
    ring = ds.target
    assert isinstance(ring, pmm.targets.GaussianMixture)
    assert ring.means.shape == (8, 2)
    torch.testing.assert_close(ring.means.norm(dim=1), torch.full((8,), 2.0))
    torch.testing.assert_close(ring.stds, torch.full((8, 2), 0.25))
    torch.testing.assert_close(ring.weights, torch.full((8,), 1 / 8))


def test_load_rejects_bad_arguments():
    with pytest.raises(ValueError, match="name"):
        pmm.data.load("mnist")
    with pytest.raises(ValueError, match="options"):
        pmm.data.load("two_moons", size=10)
    with pytest.raises(ValueError, match="seed"):
        pmm.data.load("two_moons", seed=-1)
    with pytest.raises(ValueError, match="train_size"):
        pmm.data.load("two_moons", train_size=0)
    with pytest.raises(ValueError, match="cells"):
        pmm.data.load("checkerboard", cells=3)
    with pytest.raises(ValueError, match="tokens"):
        pmm.data.load("two_moons", train_size=5, heldout_size=5).one_hot(torch.zeros(2, 3, dtype=torch.long))


def test_digits_split_values_and_family():
    pytest.importorskip("sklearn")
    ds = pmm.data.load("digits", seed=0)
    assert ds.kind == "counts" and ds.shape == (8, 8)
    assert ds.train.shape == (1500, 8, 8) and ds.heldout.shape == (297, 8, 8)
    assert ds.train.dtype == torch.float32
    both = torch.cat([ds.train, ds.heldout])
    assert torch.equal(both, both.round()) and both.min() == 0 and both.max() == 16
    everything = pmm.data.digit_images().reshape(1797, -1).numpy()
    rows, counts = np.unique(both.reshape(1797, -1).numpy(), axis=0, return_counts=True)
    all_rows, all_counts = np.unique(everything, axis=0, return_counts=True)
    assert np.array_equal(rows, all_rows) and np.array_equal(counts, all_counts)  # a partition of the images
    again, other = pmm.data.load("digits", seed=0), pmm.data.load("digits", seed=1)
    assert torch.equal(again.train, ds.train) and not torch.equal(other.train, ds.train)
    family = ds.family()
    assert isinstance(family, pmm.GammaPoisson)
    assert float(family.concentration) == 1.0 and float(family.rate) == pytest.approx(0.2)


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pmm_sde\[digits\]"):
        pmm.data.load("digits")


def all_sequences(K, L):
    return torch.tensor(list(itertools.product(range(K), repeat=L)), dtype=torch.long)


def test_markov_stationary_law_and_exact_probabilities():
    corpus = MarkovCorpus(num_classes=3, length=4, seed=5)
    torch.testing.assert_close(corpus.stationary @ corpus.transition, corpus.stationary)
    sequences = all_sequences(3, 4)
    log_p = corpus.log_prob(sequences)
    assert float(torch.logsumexp(log_p, 0)) == pytest.approx(0.0, abs=1e-12)
    entropy = float(-(log_p.exp() * log_p).sum()) / math.log(2.0)
    assert corpus.entropy_bits_per_token() == pytest.approx(entropy / 4, rel=1e-12)


def test_markov_entropy_rate_is_the_conditional_entropy():
    corpus = MarkovCorpus(num_classes=4, length=2, seed=2, concentration=0.7)
    pairs = all_sequences(4, 2)
    log_p = corpus.log_prob(pairs)
    joint = float(-(log_p.exp() * log_p).sum()) / math.log(2.0)
    first = float(-(corpus.stationary * corpus.stationary.log()).sum()) / math.log(2.0)
    assert corpus.entropy_rate_bits == pytest.approx(joint - first, rel=1e-12)
    assert corpus.entropy_bits_per_token(1) == pytest.approx(first, rel=1e-12)


def test_markov_samples_match_the_exact_entropy():
    corpus = MarkovCorpus(seed=0)
    tokens = corpus.sample(20_000, torch.Generator().manual_seed(0))
    assert tokens.shape == (20_000, 32) and tokens.dtype == torch.int64
    assert tokens.min() >= 0 and tokens.max() <= 7
    nats = -corpus.log_prob(tokens)
    exact_nats = corpus.entropy_bits_per_token() * 32 * math.log(2.0)
    se = float(nats.std()) / math.sqrt(nats.numel())
    assert abs(float(nats.mean()) - exact_nats) < 5 * se
    frequencies = torch.bincount(tokens[:, 0], minlength=8).double() / tokens.shape[0]
    se_first = torch.sqrt(corpus.stationary * (1 - corpus.stationary) / tokens.shape[0])
    assert ((frequencies - corpus.stationary).abs() < 5 * se_first).all()


def test_default_markov_entropy_rate_is_between_1_5_and_2_5_bits():
    for seed in range(5):
        assert 1.5 < MarkovCorpus(seed=seed).entropy_rate_bits < 2.5


def test_markov_dataset_wraps_the_corpus():
    ds = pmm.data.load("markov", seed=1, train_size=200, heldout_size=50, num_classes=5, length=12)
    assert ds.kind == "tokens" and ds.shape == (12,) and ds.num_classes == 5
    assert ds.train.shape == (200, 12) and ds.heldout.shape == (50, 12) and ds.train.dtype == torch.int64
    assert isinstance(ds.corpus, MarkovCorpus) and ds.corpus.num_classes == 5 and ds.corpus.length == 12
    one_hot = ds.one_hot(ds.train)
    assert one_hot.shape == (200, 12, 5) and one_hot.dtype == torch.float32
    assert torch.equal(one_hot.argmax(-1), ds.train)
    family = ds.family()
    assert isinstance(family, pmm.DirichletCategorical) and family.num_classes == 5
    again = pmm.data.load("markov", seed=1, train_size=200, heldout_size=50, num_classes=5, length=12)
    assert torch.equal(again.train, ds.train) and torch.equal(again.corpus.transition, ds.corpus.transition)


def test_markov_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_classes"):
        MarkovCorpus(num_classes=1)
    with pytest.raises(ValueError, match="concentration"):
        MarkovCorpus(concentration=0.0)
    corpus = MarkovCorpus(num_classes=3, length=4)
    with pytest.raises(ValueError, match="tokens"):
        corpus.log_prob(torch.tensor([[0, 3]]))
    with pytest.raises(ValueError, match="tokens"):
        corpus.log_prob(torch.tensor([0, 1]))
