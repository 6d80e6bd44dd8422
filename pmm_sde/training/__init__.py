"""Learned predictors: the simulation-free PMM objective, the variational bound, the trainer.

    model = pmm.training.train(pmm.training.TrainConfig(data="gaussian_mixture", steps=2000), out_dir="runs/x")
    result = model.sample("ode_2m", steps=20, n=2000)      # or pmm.sample(model.process(), ...)
    model.bound(x).bits_per_dim                              # variational bound on held-out data
    model = pmm.training.load_model("runs/x/checkpoint.pt")
"""

from .bound import Bound, path_kl_to_reference, variational_bound
from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig, build_family, build_schedule, family_spec
from .model import TrainedModel, load_model, model_from_checkpoint
from .objectives import WEIGHTINGS, divergence, pmm_loss, pointwise_loss
from .times import TIME_SAMPLERS, TimeSampler
from .report import sample_checkpoint, sample_quality, write_run_folder
from .tuned_grids import grids_path, stored_grid, tune_checkpoint_grid
from .trainer import default_network, network_config, resolve_family, train

__all__ = ["TrainConfig", "train", "TrainedModel", "load_model", "model_from_checkpoint", "save_checkpoint",
           "load_checkpoint", "variational_bound", "path_kl_to_reference", "Bound", "pmm_loss", "pointwise_loss",
           "divergence", "WEIGHTINGS", "TimeSampler", "TIME_SAMPLERS", "build_family", "build_schedule",
           "family_spec", "network_config", "default_network", "resolve_family", "write_run_folder",
           "sample_checkpoint", "sample_quality", "grids_path", "stored_grid", "tune_checkpoint_grid"]
