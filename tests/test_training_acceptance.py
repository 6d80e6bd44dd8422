"""The training-acceptance benchmark's functions at tiny sizes (no quality assertions), its exact
Markov predictor, and the "absorbing" preconditioning it trains with."""

import json
import math

import torch

import pmm_sde as pmm
from benchmarks import training_acceptance as acceptance
from pmm_sde.training import variational_bound


def test_quick_acceptance_reports_every_figure():
    digits_settings, markov_settings = acceptance.QUICK
    digits = acceptance.digits_acceptance(digits_settings)
    for solver in digits_settings.solvers:
        row = digits["solvers"][solver]
        assert row["nfe"] > 0 and isinstance(row["pass"], bool)
        assert all(math.isfinite(row[key]) for key in ("mean_rel_error", "var_rel_error", "sliced_wasserstein"))
    assert digits["solvers"]["thinning"]["run"] is False
    assert math.isfinite(digits["poisson_baseline"]["sliced_wasserstein"])
    markov = acceptance.markov_acceptance(markov_settings)
    assert markov["bound"]["n"] == markov_settings.heldout and math.isfinite(markov["bound"]["bits_per_dim"])
    assert math.isfinite(markov["oracle_bound"]["bits_per_dim"]) and isinstance(markov["pass"], bool)
    json.dumps({"digits": digits, "markov": markov})


def test_the_exact_markov_predictor_makes_the_bound_the_entropy():
    """With E*[x | state] the bound is -log p(x) up to Monte Carlo noise in time: compare it with the
    exact negative log-likelihood of the same sequences."""
    dataset = pmm.data.load("markov", train_size=10, heldout_size=400)
    tokens = dataset.heldout
    bound = variational_bound(dataset.family(), pmm.schedules.Exponential(20.0),
                              dataset.corpus.predictor(), dataset.one_hot(tokens).double(),
                              time_points=8, generator=torch.Generator().manual_seed(0))
    nll = pmm.metrics.bits_per_token(-dataset.corpus.log_prob(tokens), dataset.corpus.length)
    assert abs(bound.bits_per_dim - nll) < 5 * bound.stderr


def test_the_exact_markov_predictor_conditions_on_the_nearest_revealed_neighbours():
    corpus = pmm.data.MarkovCorpus(num_classes=3, length=4, seed=1)
    family = pmm.DirichletCategorical(3)
    P, pi = corpus.transition, corpus.stationary
    # position 0 revealed as class 2, position 3 as class 1; positions 1 and 2 masked
    counts = torch.zeros(1, 4, 3, dtype=torch.float64)
    counts[0, 0, 2], counts[0, 3, 1] = 2.0, 1.0
    mu, events = family.cast(counts).state_from_statistic(counts, None)
    xhat = corpus.predictor()(mu, events)[0]
    expected_1 = P[2] * (P @ P)[:, 1]
    assert torch.allclose(xhat[1], expected_1 / expected_1.sum())
    assert torch.equal(xhat[0], torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    none_revealed = corpus.predictor()(*family.initial_state(1, (4,)))
    assert torch.allclose(none_revealed[0].double(), pi.expand(4, 3), atol=1e-6)


def test_absorbing_preconditioning_copies_revealed_positions():
    family = pmm.DirichletCategorical(4)
    network = pmm.networks.Transformer(4, 6, dim=8, depth=1, heads=2,
                                       preconditioning={"kind": "absorbing", "data_mean": 0.25, "data_std": 0.4})
    x = torch.nn.functional.one_hot(torch.tensor([[0, 1, 2, 3, 0, 1]]), 4).float()
    mu, events = family.sample_state(x, torch.tensor(0.7), torch.Generator().manual_seed(0))
    xhat = network(mu, events)
    revealed = events[0, :, 0] > 0
    assert bool(revealed.any()) and bool((~revealed).any())
    assert torch.equal(xhat[0, revealed], x[0, revealed])
    assert torch.allclose(xhat.sum(-1), torch.ones(1, 6)) and bool((xhat[0, ~revealed] > 0).all())
