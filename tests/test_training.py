"""Learned predictors: objectives, the variational bound, the trainer and its checkpoints."""

import json
import math

import pytest
import torch

import pmm_sde as pmm
from pmm_sde.training import (TimeSampler, TrainConfig, load_checkpoint, load_model, path_kl_to_reference, pmm_loss,
                              pointwise_loss, train, variational_bound)
from pmm_sde.training import trainer as trainer_module
from pmm_sde.training.batches import step_loss

LN2 = math.log(2)


def _gaussian():
    return pmm.targets.Gaussian(torch.tensor([0.5, -1.0, 0.0]), torch.tensor([0.5, 0.3, 1.0]))


def _problems():
    """(family, target, perturbation of the oracle's prediction) for each family."""
    ring = pmm.data.gaussian_ring()
    counts = pmm.targets.PointMasses(torch.tensor([0.2, 0.5, 0.3]), torch.tensor([[0.0, 1.0], [2.0, 3.0], [5.0, 0.0]]))
    tokens = pmm.targets.Categorical(torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]))
    return [
        (pmm.NormalNormal(0.0, 1.0), ring, lambda xhat: 1.1 * xhat + 0.05),
        (pmm.GammaPoisson(1.0, 1.0), counts, lambda xhat: 1.2 * xhat + 0.05),
        (pmm.DirichletCategorical(3), tokens, lambda xhat: 0.8 * xhat + 0.2 / 3),
    ]


@pytest.mark.parametrize("case", range(3))
@pytest.mark.parametrize("weighting", ["uniform", "likelihood", "next_mean"])
def test_the_oracle_minimises_the_objective(case, weighting):
    family, target, perturb = _problems()[case]
    if weighting == "next_mean" and not isinstance(family, pmm.NormalNormal):
        with pytest.raises(ValueError, match="next_mean"):
            pmm_loss(family, pmm.schedules.Exponential(100.0), target.predictor(family), target.sample(4),
                     weighting=weighting)
        return
    schedule = pmm.schedules.Exponential(100.0)
    x = target.sample(4000, torch.Generator().manual_seed(1))
    oracle = target.predictor(family)
    losses = []
    for predictor in (oracle, lambda mu, A: perturb(oracle(mu, A))):
        generator = torch.Generator().manual_seed(2)  # common random numbers: a paired comparison
        losses.append(float(pmm_loss(family, schedule, predictor, x, generator, weighting)))
    assert losses[0] < losses[1]


def test_likelihood_weighting_estimates_the_path_kl():
    """For a Gaussian target and its oracle, int c alpha E[D] dt is the mutual information of x and
    the path, 1/2 sum_i log(1 + A1 s_i^2)."""
    family, target, schedule = pmm.NormalNormal(0.0, 1.0), _gaussian(), pmm.schedules.Exponential(1e3)
    generator = torch.Generator().manual_seed(0)
    x = target.sample(40_000, generator)
    t, inverse_density = TimeSampler(schedule, "information").sample(len(x), generator)
    loss = pointwise_loss(family, schedule, target.predictor(family), x, t, inverse_density, "likelihood", generator)
    exact = float(0.5 * torch.log1p(1e3 * target.std ** 2).sum())
    assert abs(float(loss.mean()) - exact) < 5 * float(loss.std()) / math.sqrt(len(x))


def test_time_samplers_integrate_to_one_and_stratify():
    schedule = pmm.schedules.Linear(50.0)
    generator = torch.Generator().manual_seed(0)
    for kind in ("uniform", "information"):
        t, inverse_density = TimeSampler(schedule, kind).sample(20_000, generator, torch.float64)
        assert bool(((t >= 0) & (t <= 1)).all())
        # E_r[1 / r(t)] = int_0^1 dt = 1
        assert abs(float(inverse_density.mean()) - 1) <= 5 * float(inverse_density.std()) / math.sqrt(len(t))
    t, _ = TimeSampler(schedule, "information").stratified(3, 4, generator, torch.float64)
    u = torch.log1p(schedule.A(t)) / math.log1p(50.0)
    assert torch.equal(torch.floor(u * 4).reshape(3, 4), torch.arange(4.0).expand(3, 4))
    with pytest.raises(ValueError, match="time_sampler"):
        TimeSampler(schedule, "log")


def test_normal_bound_of_the_oracle_is_the_entropy():
    """The exact posterior-mean model is the data law: the bound exceeds the differential entropy
    only by the terminal decoder's gap, which is tiny at A1 = 1e3."""
    family, target = pmm.NormalNormal(0.0, 1.0), _gaussian()
    generator = torch.Generator().manual_seed(0)
    x = target.sample(4000, generator)
    bound = variational_bound(family, pmm.schedules.Exponential(1e3), target.predictor(family), x,
                              generator=generator)
    entropy = float(0.5 * torch.log(2 * math.pi * math.e * target.std ** 2).mean()) / LN2
    assert bound.unit == "bits/dim" and bound.dims == 3
    assert entropy - 5 * bound.stderr < bound.bits_per_dim < entropy + 0.01 + 5 * bound.stderr


def test_token_bound_of_the_oracle_is_the_entropy():
    probs = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    target, family = pmm.targets.Categorical(probs), pmm.DirichletCategorical(3)
    generator = torch.Generator().manual_seed(0)
    x = target.sample(8000, generator)
    bound = variational_bound(family, pmm.schedules.Exponential(50.0), target.predictor(family), x,
                              generator=generator)
    entropy = float(-(probs * probs.log()).sum(-1).mean()) / LN2
    assert bound.unit == "bits/token" and bound.dims == 2
    assert abs(bound.bits_per_dim - entropy) < 5 * bound.stderr


def test_count_bound_of_the_oracle_is_the_entropy():
    weights = torch.tensor([0.2, 0.5, 0.3])
    target = pmm.targets.PointMasses(weights, torch.tensor([[0.0, 1.0], [2.0, 3.0], [5.0, 0.0]]))
    family = pmm.GammaPoisson(1.0, 1.0)
    generator = torch.Generator().manual_seed(0)
    x = target.sample(4000, generator)
    bound = variational_bound(family, pmm.schedules.Exponential(200.0), target.predictor(family), x,
                              generator=generator)
    entropy = float(-(weights * weights.log()).sum()) / 2 / LN2
    assert abs(bound.bits_per_dim - entropy) < 5 * bound.stderr
    with pytest.raises(ValueError, match="integer counts"):
        variational_bound(family, pmm.schedules.Exponential(200.0), target.predictor(family), x + 0.5)


def _config(**changes):
    options = dict(data="gaussian_mixture", data_options={"train_size": 2000, "heldout_size": 500},
                   network={"name": "mlp", "hidden": 16, "depth": 1, "embed_dim": 8}, steps=8, batch_size=32,
                   lr=1e-2, bound_points=100, device="cpu")
    return TrainConfig(**{**options, **changes})


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_training_is_reproducible_from_its_seed():
    first, second = (train(_config(), progress=False) for _ in range(2))
    assert _same_weights(first.network, second.network) and first.losses == second.losses
    assert not _same_weights(first.network, train(_config(seed=1), progress=False).network)


def test_a_resumed_run_equals_the_uninterrupted_run(tmp_path, monkeypatch):
    config = _config(checkpoint_every=4)
    whole = train(config, tmp_path / "whole", progress=False)
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt
        return step_loss(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "step_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path / "part", progress=False)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "part" / "checkpoint.pt")["step"] == 4
    resumed = train(config, tmp_path / "part", progress=False, resume=tmp_path / "part" / "checkpoint.pt")
    assert _same_weights(whole.network, resumed.network) and whole.losses == resumed.losses
    with pytest.raises(ValueError, match="lr"):
        train(_config(checkpoint_every=4, lr=1e-3), progress=False, resume=tmp_path / "part" / "checkpoint.pt")


def test_a_checkpoint_round_trips_and_loads_with_weights_only(tmp_path):
    model = train(_config(), tmp_path, progress=False)
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert payload["step"] == 8 and json.loads(json.dumps(payload["config"])) == payload["config"]
    loaded = load_model(tmp_path / "checkpoint.pt")
    assert _same_weights(model.network, loaded.network) and loaded.config == model.config
    assert torch.equal(model.sample("pmm_chain", 5, 16).mu, loaded.sample("pmm_chain", 5, 16).mu)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["steps"] == 8 and metrics["heldout_bound"]["unit"] == "bits/dim"
    assert metrics["samples"]["energy_distance"] > 0
    assert (tmp_path / "loss.png").stat().st_size > 1000 and (tmp_path / "samples.png").stat().st_size > 1000


def test_missing_corrupt_and_foreign_checkpoints_are_one_line_errors(tmp_path):
    corrupt, foreign, pickled = tmp_path / "corrupt.pt", tmp_path / "foreign.pt", tmp_path / "pickled.pt"
    corrupt.write_bytes(b"not a checkpoint")
    torch.save({"weights": torch.zeros(2)}, foreign)
    torch.save({"format": "pmm_sde.checkpoint", "object": TrainConfig}, pickled)
    for path, reason in [(tmp_path / "missing.pt", "does not exist"), (corrupt, "not a readable"),
                         (foreign, "not a pmm_sde checkpoint"), (pickled, "not a readable")]:
        with pytest.raises(ValueError, match=reason) as error:
            load_model(path)
        assert "\n" not in str(error.value)


def test_a_non_finite_loss_names_the_step(monkeypatch):
    calls = []

    def diverging(*args, **kwargs):
        calls.append(1)
        loss = step_loss(*args, **kwargs)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(trainer_module, "step_loss", diverging)
    with pytest.raises(ValueError, match="at step 2"):
        train(_config(), progress=False)


def test_the_bound_falls_with_training():
    heldout = pmm.data.load("gaussian_mixture", heldout_size=500).heldout
    bounds = [train(_config(steps=steps, network={"name": "mlp", "hidden": 32, "depth": 1}, lr=3e-3),
                    progress=False).bound(heldout).bits_per_dim for steps in (2, 300)]
    assert bounds[1] < bounds[0] - 0.2


@pytest.mark.parametrize("data, family, solver, process", [
    ("markov", None, "tau_leap", pmm.GammaPoissonCoxSDE),
    ("digits", "gamma", "tau_leap", pmm.GammaPoissonCoxSDE),
    ("two_moons", "normal", "ode_2m", pmm.NormalNormalSDE),
])
def test_each_family_trains_samples_and_bounds(data, family, solver, process):
    networks = {"markov": {"name": "transformer", "dim": 16, "depth": 1, "heads": 2, "embed_dim": 8},
                "digits": {"name": "unet", "base": 8, "embed_dim": 8},
                "two_moons": {"name": "mlp", "hidden": 16, "depth": 1, "embed_dim": 8}}
    options = {"markov": {"train_size": 200, "heldout_size": 20}, "digits": {"train_size": 200},
               "two_moons": {"train_size": 200, "heldout_size": 20}}
    model = train(_config(data=data, data_options=options[data], family=family and {"name": family},
                          network=networks[data], steps=2, batch_size=8, bound_points=0), progress=False)
    assert isinstance(model.process(), process)
    samples = model.decode(model.sample(solver, 4, 6))
    dataset = pmm.data.load(data, **options[data])
    assert samples.shape == (6, *dataset.shape)
    bound = model.bound(dataset.as_family_data(dataset.heldout[:8]), time_points=2)
    assert math.isfinite(bound.bits_per_dim)


def test_path_kl_to_the_oracle_is_the_bound_excess():
    """For Bregman divergences E[D(x, xhat)] - E[D(x, x*)] = E[D(x*, xhat)]: the excess of a perturbed
    predictor's path KL over the oracle's equals its path KL to the oracle."""
    family, target, schedule = pmm.NormalNormal(0.0, 1.0), _gaussian(), pmm.schedules.Exponential(1e3)
    oracle = target.predictor(family)

    def perturbed(mu, A):
        return oracle(mu, A) + 0.1

    x = target.sample(4000, torch.Generator().manual_seed(0))
    same = path_kl_to_reference(family, schedule, oracle, oracle, x, generator=torch.Generator().manual_seed(1))
    assert float(same.abs().max()) == 0.0
    excess = path_kl_to_reference(family, schedule, perturbed, oracle, x, generator=torch.Generator().manual_seed(1))
    bounds = [variational_bound(family, schedule, p, x, generator=torch.Generator().manual_seed(1)).path_kl
              for p in (perturbed, oracle)]
    difference = bounds[0] - bounds[1]  # common random numbers: the same times and states
    assert torch.allclose(excess.mean(), difference.mean(), rtol=0.05)
    # exact: int_0^1 alpha/2 * 3 * 0.1^2 dt = 0.015 A(1)
    assert abs(float(excess.mean()) - 0.015 * 1e3) < 1e-3 * 15


def test_token_networks_copy_revealed_positions_by_default():
    """One-hot tokens: a position with an event is revealed, so the default preconditioning is
    'absorbing'; other count data keep 'activation_skip'."""
    markov = pmm.data.load("markov", train_size=50, heldout_size=10)
    config = pmm.training.network_config({"name": "transformer"}, markov, markov.family())
    assert config["preconditioning"]["kind"] == "absorbing"
    assert pmm.networks.preconditioning_for(pmm.GammaPoisson(1.0, 0.2))["kind"] == "activation_skip"


def test_token_sample_quality_is_the_true_law_cross_entropy():
    """Held-out sequences score the corpus's entropy (within 5 standard errors); uniform tokens
    score log2 K = 3 bits per token plus the KL they carry."""
    markov = pmm.data.load("markov", train_size=50, heldout_size=4000)
    quality = pmm.training.sample_quality(markov.heldout, markov)
    nll = -markov.corpus.log_prob(markov.heldout) / (markov.corpus.length * math.log(2.0))
    assert abs(quality["true_law_bits_per_token"] - quality["entropy_bits_per_token"]) < 5 * float(nll.std()) / 4000 ** 0.5
    uniform = torch.randint(0, 8, (500, 32), generator=torch.Generator().manual_seed(0))
    assert pmm.training.sample_quality(uniform, markov)["true_law_bits_per_token"] > 3.0


def test_count_data_default_to_a_bounded_mlp_that_thinning_accepts():
    digits = pmm.data.load("digits", train_size=100)
    spec = pmm.training.default_network(digits)
    assert spec["name"] == "mlp" and spec["head"] == "bounded" and spec["x_max"] == 16.0
    family = digits.family()
    net = pmm.networks.build(pmm.training.network_config(spec, digits, family))
    assert net.xhat_max == 16.0
    process = pmm.GammaPoissonCoxSDE(family, pmm.schedules.Linear(1.0), net, shape=digits.shape)
    assert pmm.solvers.Thinning().proposal_rate(process) == 16.0
