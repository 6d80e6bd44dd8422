"""Optimised step grids: the warp, the optimiser on oracles, bad inputs, and a checkpoint's tuned
grid through the command line."""

import json

import numpy as np
import pytest
import torch

import pmm_sde as pmm
from pmm_sde.cli import main
from pmm_sde.convergence import grid_proxy, optimise_grid, warped_grid
from pmm_sde.grids import make_grid
from pmm_sde.training import (TrainConfig, grids_path, load_checkpoint, sample_checkpoint, stored_grid, train,
                              trainer, tune_checkpoint_grid)

TOTAL = 1e4


def _process(target) -> pmm.NormalNormalSDE:
    family = pmm.NormalNormal(0.0, 1.0)
    return pmm.NormalNormalSDE(family, pmm.schedules.Exponential(TOTAL), target.predictor(family), shape=(1,))


def _gaussian() -> pmm.NormalNormalSDE:
    return _process(pmm.targets.Gaussian(torch.tensor([1.5]), 0.5))


def _mixture() -> pmm.NormalNormalSDE:
    return _process(pmm.targets.GaussianMixture([0.3, 0.7], torch.tensor([[-1.0], [1.5]]),
                                                torch.tensor([[0.3], [0.5]])))


def _is_grid(times: torch.Tensor, steps: int) -> bool:
    return (times.dtype == torch.float64 and times.shape == (steps + 1,) and float(times[0]) == 0.0
            and float(times[-1]) == 1.0 and bool((times[1:] > times[:-1]).all()))


def test_the_warp_at_zero_is_log1p_sqrt_and_every_warp_is_a_grid():
    schedule = pmm.schedules.Exponential(TOTAL)
    for steps in (1, 2, 7, 10):
        assert torch.allclose(warped_grid(schedule, steps, np.zeros(min(3, steps - 1))),
                              make_grid(schedule, steps, "log1p_sqrt"), rtol=1e-12, atol=1e-14)
    rng = np.random.default_rng(0)
    for degree in (1, 3, 9):
        times = warped_grid(schedule, 10, 3 * rng.standard_normal(degree))
        assert _is_grid(times, 10)
    with pytest.raises(ValueError, match="theta must have at most steps - 1 = 4"):
        warped_grid(schedule, 5, np.zeros(5))
    with pytest.raises(ValueError, match="theta must be finite"):
        warped_grid(schedule, 5, [np.nan])


def test_the_optimiser_lowers_the_exact_moment_proxy_on_the_gaussian_oracle():
    process = _gaussian()
    found = optimise_grid(process, "ode_3m", 6, proxy="moments", reference_steps=100, max_evaluations=40)
    assert _is_grid(found.times, 6) and len(found.theta) == 3
    assert found.proxy < 0.1 * found.start_proxy
    measure = grid_proxy(process, "ode_3m", 6, proxy="moments", reference_steps=100)
    assert measure(found.times) == pytest.approx(found.proxy, rel=1e-9)
    assert measure(make_grid(process.schedule, 6, "log1p_sqrt")) == pytest.approx(found.start_proxy, rel=1e-9)


def test_the_moment_proxy_takes_a_markov_stochastic_solver():
    process = _gaussian()
    measure = grid_proxy(process, "pmm_2", 3, proxy="moments", reference_steps=6)
    default, warped = (measure(grid) for grid in (make_grid(process.schedule, 3, "log1p_sqrt"),
                                                  warped_grid(process.schedule, 3, [0.5])))
    assert 0 < default < 1 and 0 < warped < 1 and default != warped


def test_the_optimiser_lowers_the_pathwise_proxy_on_the_mixture_oracle():
    found = optimise_grid(_mixture(), "ode_2m", 6, proxy="pathwise", reference_steps=50, n=100, degree=2,
                          max_evaluations=12)
    assert _is_grid(found.times, 6) and found.proxy < 0.5 * found.start_proxy
    assert found.to_dict()["steps"] == 6 and found.to_dict()["proxy_kind"] == "pathwise"


def test_the_sample_moment_proxy_is_near_the_exact_one_and_the_optimiser_lowers_it():
    """Over 2,000 common starts the sample moments' errors are close to the exact (quadrature) ones."""
    process = _mixture()
    grid = make_grid(process.schedule, 6, "log1p_sqrt")
    sampled = grid_proxy(process, "ode_3m", 6, proxy="sample_moments", reference_steps=30)(grid)
    exact = grid_proxy(process, "ode_3m", 6, proxy="moments", reference_steps=30)(grid)
    assert abs(sampled / exact - 1) < 0.2
    found = optimise_grid(process, "ode_2m", 6, proxy="sample_moments", reference_steps=50, n=200, degree=2,
                          max_evaluations=20)
    assert _is_grid(found.times, 6) and found.proxy < 0.5 * found.start_proxy


def test_one_step_has_nothing_to_optimise():
    found = optimise_grid(_gaussian(), "ode_2m", 1, proxy="pathwise", reference_steps=10, n=50)
    assert found.times.tolist() == [0.0, 1.0] and found.theta == [] and found.proxy == found.start_proxy


@pytest.mark.parametrize("arguments, message", [
    (dict(steps=0), "steps must be an integer"),
    (dict(solver="rk45"), "rk45"),
    (dict(solver="ode_3m_adaptive"), "adaptive solver"),
    (dict(proxy="kl"), "proxy must be one of"),
    (dict(solver="pmm_chain"), "proxy 'pathwise' needs a probability-flow solver"),
    (dict(solver="pmm_chain", proxy="sample_moments"), "proxy 'sample_moments' needs a probability-flow solver"),
    (dict(degree=0), "degree must be an integer"),
    (dict(reference_steps=0), "reference_steps must be an integer"),
    (dict(n=0), "n must be an integer"),
])
def test_bad_inputs_are_clear_value_errors(arguments, message):
    options = dict(solver="ode_3m", steps=4, proxy="pathwise") | arguments
    with pytest.raises(ValueError, match=message):
        optimise_grid(_gaussian(), options.pop("solver"), options.pop("steps"), **options)


def test_a_non_oracle_process_is_refused_by_the_moment_proxy():
    family = pmm.NormalNormal(0.0, 1.0)
    process = pmm.NormalNormalSDE(family, pmm.schedules.Exponential(TOTAL),
                                  pmm.targets.Gaussian(torch.zeros(2), 1.0).predictor(family), shape=(2,))
    with pytest.raises(ValueError, match="one-dimensional"):
        optimise_grid(process, "ode_3m", 4, proxy="moments")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of a tiny model, with the ode_3m grid of 3 steps tuned by ``pmm-sde tune-grid``."""
    checkpoint = tmp_path_factory.mktemp("run") / "checkpoint.pt"
    config = TrainConfig(data="gaussian_mixture", data_options={"train_size": 200, "heldout_size": 50},
                         network={"name": "mlp", "hidden": 16, "depth": 1, "embed_dim": 8}, steps=3, batch_size=8,
                         bound_points=10, sample_points=10, sample_steps=2, device="cpu")
    with pytest.MonkeyPatch.context() as patch:  # only the checkpoint is needed, not the run folder's plots
        patch.setattr(trainer, "write_run_folder", lambda *args, **kwargs: None)
        train(config, checkpoint.parent, progress=False)
    assert main(["tune-grid", "--checkpoint", str(checkpoint), "--solver", "ode_3m", "--steps", "3", "--n", "20",
                 "--reference-steps", "6", "--degree", "2", "--max-evaluations", "6", "--proxy", "pathwise"]) == 0
    assert main(["tune-grid", "--checkpoint", str(checkpoint), "--solver", "ode_2m", "--steps", "2", "--n", "20",
                 "--reference-steps", "6", "--proxy", "sample_moments", "--max-evaluations", "4"]) == 0
    return checkpoint


def test_tune_grid_stores_the_grid_beside_the_checkpoint(checkpoint):
    entry = json.loads(grids_path(checkpoint).read_text())["ode_3m/3"]
    assert entry["proxy"] <= entry["start_proxy"] and entry["n"] == 20 and entry["reference_steps"] == 6
    times = stored_grid(checkpoint, "ode_3m", 3)
    assert _is_grid(times, 3) and times.tolist() == entry["times"]
    assert stored_grid(checkpoint, "ode_3m", 4) is None and stored_grid(checkpoint, "ode_2m", 3) is None
    other = json.loads(grids_path(checkpoint).read_text())["ode_2m/2"]
    assert other["proxy_kind"] == "sample_moments" and _is_grid(stored_grid(checkpoint, "ode_2m", 2), 2)
    with pytest.raises(ValueError, match="proxy must be one of"):
        tune_checkpoint_grid(checkpoint, "ode_3m", 3, proxy="moments")
    load_checkpoint(checkpoint)  # the checkpoint is unchanged, still read with weights_only=True


def test_sample_uses_the_tuned_grid_unless_a_grid_is_named(checkpoint, tmp_path, capsys):
    for grid, name in ((), "tuned"), (("--grid", "log1p"), "log1p"):
        out = tmp_path / name
        assert main(["sample", "--checkpoint", str(checkpoint), "--solver", "ode_3m", "--steps", "3", "--n", "20",
                     *grid, "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["grid"] == name and metrics["nfe"] == 4
        assert f"({name} grid)" in capsys.readouterr().out
    model = pmm.training.load_model(checkpoint)
    tuned = model.sample("ode_3m", n=20, grid=stored_grid(checkpoint, "ode_3m", 3))
    assert np.array_equal(tuned.mu.numpy(), pmm.load_samples(tmp_path / "tuned").numpy())


def test_a_corrupt_grids_file_and_a_bad_grid_name_are_one_line_errors(tmp_path, capsys):
    checkpoint = tmp_path / "checkpoint.pt"
    grids_path(checkpoint).write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a JSON object of tuned grids"):
        stored_grid(checkpoint, "ode_3m", 3)
    grids_path(checkpoint).write_text(json.dumps({"ode_3m/3": {"times": [0.0, 0.5, 1.0]}}))
    with pytest.raises(ValueError, match="is not a grid of 3 steps"):
        stored_grid(checkpoint, "ode_3m", 3)
    with pytest.raises(ValueError, match="grid must be one of"):
        sample_checkpoint(checkpoint, tmp_path / "s", grid="karras")
    with pytest.raises(SystemExit):
        main(["sample", "--checkpoint", str(checkpoint), "--grid", "karras", "--out", str(tmp_path / "s")])
    assert "invalid choice: 'karras'" in capsys.readouterr().err
