"""Solvers are immutable: per-run state lives in ``State.carry`` (from ``init``), so one solver
object runs any number of runs, interleaved, with the results of fresh objects."""

import dataclasses

import pytest
import torch

import pmm_sde as pmm

F64 = torch.float64


def _normal_process() -> pmm.NormalNormalSDE:
    family = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.GaussianMixture([0.3, 0.7], [-1.0, 1.5], [0.4, 0.6])
    return pmm.NormalNormalSDE(family, pmm.schedules.Linear(20.0), target.predictor(family))


def _cox_process() -> pmm.GammaPoissonCoxSDE:
    family = pmm.GammaPoisson(2.0, 1.5)
    target = pmm.targets.PointMasses([0.4, 0.6], [0.5, 3.0])
    return pmm.GammaPoissonCoxSDE(family, pmm.schedules.Linear(6.0), target.predictor(family))


CASES = ([(_normal_process, name) for name in pmm.solvers.available(_normal_process())]
         + [(_cox_process, name) for name in pmm.solvers.available(_cox_process())])


@pytest.mark.parametrize("make_process, name", CASES, ids=[name for _, name in CASES])
def test_one_solver_object_serves_interleaved_runs(make_process, name):
    process = make_process()
    solver = pmm.solvers.get_solver(name, process)
    before = {key: value for key, value in vars(solver).items()}
    adaptive = isinstance(solver, pmm.solvers.AdaptiveSolver)
    run = dict(rtol=1e-1, n=12, seed=3, dtype=F64) if adaptive else dict(steps=5, n=12, seed=3, dtype=F64)
    between = dict(rtol=5e-2) if adaptive else dict(steps=9)  # another grid or tolerance, n and seed between
    first = pmm.sample(process, solver, **run)
    other = pmm.sample(process, solver, n=7, seed=4, dtype=F64, **between)
    again = pmm.sample(process, solver, **run)
    fresh = pmm.sample(process, name, **run)
    assert torch.equal(first.mu, again.mu) and torch.equal(first.mu, fresh.mu) and first.nfe == fresh.nfe
    assert other.mu.shape[0] == 7
    assert vars(solver) == before  # no per-run attribute was written on the solver


def test_states_and_intervals_are_frozen():
    state = pmm.solvers.State(torch.zeros(3), torch.zeros(()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.mu = torch.ones(3)
    grid = pmm.solvers.Grid.evaluate(pmm.schedules.Linear(4.0), torch.tensor([0.0, 0.5, 1.0], dtype=F64))
    assert torch.equal(grid.A, torch.tensor([0.0, 2.0, 4.0], dtype=F64))
    intervals = grid.intervals(torch.float32, "cpu")
    assert [i.index for i in intervals] == [0, 1] and intervals[1].A1.dtype == torch.float32
    with pytest.raises(dataclasses.FrozenInstanceError):
        intervals[0].index = 3
