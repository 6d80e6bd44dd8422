"""``sample()``: the one driver. It owns the grid, the random streams, saving and NFE counting.

The schedule is evaluated once per grid (``A(t_k)``, ``alpha(t_k)`` in float64, then cast), the
loop makes no host-device synchronisation (prediction checks are accumulated on the device and
read once at the end, with the final state's finiteness), and saved states go into a preallocated
tensor.
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from . import _validation
from ._validation import as_float_tensor
from .chain import resolve_shape, sample_count
from .grids import make_grid, validate_times
from .adaptive import flow_adaptive
from .adaptive_sde import sde_adaptive
from .processes import NormalNormalSDE, PMMProcess
from .streams import MAX_STEPS, Noise, PoissonPaths, check_brownian_motion
from .result import SampleResult
from .solvers import AdaptiveSolver, PMM2Adaptive, get_solver
from .solvers.base import BaseSolver, Evaluator, Grid, State
from .stepsize import PIController

#: The step count of a fixed-grid solver when neither ``steps`` nor a tensor ``grid`` is given.
DEFAULT_STEPS = 100


def _grid(process: PMMProcess, steps, grid, save_at, default: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    if grid is None or isinstance(grid, str):
        times = make_grid(process.schedule, steps, default if grid is None else grid)
    else:
        times = validate_times(grid, "grid")
        if float(times[0]) != 0.0:
            raise ValueError(f"grid must start at t = 0, where the process starts from its prior; got "
                             f"t_0 = {float(times[0]):g}")
    save_times = None
    if isinstance(save_at, str):
        if save_at != "grid":
            raise ValueError(f"save_at must be 'grid', a tensor of times, or None, got {save_at!r}")
        save_times = times
    elif save_at is not None:
        save = as_float_tensor(save_at, "save_at", torch.float64)
        if save.dim() > 1:
            raise ValueError(f"save_at must be a time or a 1-D tensor of times, got shape {tuple(save.shape)}")
        save_times = validate_times(torch.unique(save.reshape(-1)), "save_at", minimum=1)
        if float(save_times[0]) < float(times[0]) or float(save_times[-1]) > float(times[-1]):
            raise ValueError(f"save_at times must lie within the grid [{float(times[0]):g}, {float(times[-1]):g}]")
        times = torch.unique(torch.cat([times, save_times]))
    if len(times) - 1 > MAX_STEPS:
        raise ValueError(f"grid has {len(times) - 1} steps; a run takes at most {MAX_STEPS} (its 32-bit counter "
                         f"words would wrap around)")
    return times, save_times


def prepare_run(process: PMMProcess, shape: tuple[int, ...], times: torch.Tensor, dtype: torch.dtype,
                device: torch.device) -> tuple[PMMProcess, Grid]:
    """The process cast to the run's ``dtype`` and ``device`` with data shape ``shape``, and the
    schedule evaluated on ``times`` (once per run)."""
    grid = Grid.evaluate(process.schedule, times)
    process = process.cast(grid.A.to(dtype=dtype, device=device))
    process.shape = shape
    return process, grid


def sample(process: PMMProcess, solver="pmm_chain", steps: int | None = None, n: int = 10_000, shape=None,
           seed: int = 0, grid=None, bm=None, poisson_paths: PoissonPaths | None = None, save_at=None,
           dtype: torch.dtype | None = None, device: torch.device | str | None = None, backend: str = "auto",
           progress: bool = False, first_sample: int = 0, rtol: float | None = None,
           atol: float | None = None) -> SampleResult:
    """Simulate ``n`` samples of ``process`` from its prior state at ``t = 0`` to the grid's end.

    ``solver``: a registered name (``pmm.solvers.available(process)``) or a solver object.
    ``steps``: an int in ``[1, MAX_STEPS]`` (default 100). ``seed``: an int in ``[0, 2^64)``. ``grid``: ``None`` (the
    solver's default grid: log1p, or log1p_sqrt for probability-flow solvers), a grid name, or a tensor
    of times from ``t_0 = 0`` (the prior's time); a tensor grid fixes the steps itself. ``bm``: a
    torchsde Brownian motion over the grid's time span with size ``(n, d)`` (Brownian solvers).
    ``poisson_paths``: a ``PoissonPaths`` whose unit-rate processes give the counts of ``tau_leap`` /
    ``tau_leap_2`` by random time change, so runs at different step counts share their jumps (for strong
    errors). ``save_at``: ``"grid"`` or a tensor of times (merged into the grid); the states there form
    ``result.trajectory``. ``dtype``: float32 or float64 (default: the default dtype). ``device``:
    ``"cpu"`` or an available CUDA device. ``backend``: where the draws and fused steps run, chosen once
    for the run (``"auto"``: Triton on CUDA, compiled C on the CPU, where available; ``"torch"``,
    ``"native"``, ``"triton"``; how they agree: ``docs/kernels.md``). ``progress``: a tqdm bar (over
    the grid's steps; for an adaptive solver, over the samples that reached the end, one update a round).
    ``first_sample``: the global index of the run's first sample: the run simulates samples
    ``first_sample .. first_sample + n - 1``, whose draws depend only on ``(seed, global sample
    index)``, so ``sample(n=7).mu[3:]`` equals ``sample(n=4, first_sample=3).mu`` to the last bit (a
    ``bm`` must start at the same global sample: its ``first_sample``, 0 for torchsde's). A
    prediction of the wrong shape, dtype or device, or outside the family's range, raises
    ``ValueError``, and so does a final state that overflowed to NaN or inf.

    An adaptive solver (``pmm.solvers.AdaptiveSolver``, e.g. ``"ode_3m_adaptive"``, ``"pmm_2_adaptive"``) chooses each
    sample's steps itself to the tolerances ``rtol`` and ``atol`` (default 1e-3 each) of
    a ``pmm.stepsize.PIController``: it refuses ``steps``, ``grid``, ``save_at`` and ``bm``, and the
    result reports the steps each sample accepted and rejected (``docs/solvers.md``, "Adaptive
    stepping"). A fixed-grid solver refuses ``rtol`` and ``atol``.
    """
    if not isinstance(process, PMMProcess):
        raise ValueError(f"process must be a PMMProcess, got {type(process).__name__}")
    solver = get_solver(solver, process)
    seed = _validation.seed(seed)
    dtype = _validation.run_dtype(dtype)
    device = _validation.device(device)
    shape = process.shape if shape is None else resolve_shape(process.family, shape)
    first_sample = _validation.positive_int(first_sample, "first_sample", minimum=0)
    n = sample_count(n, process.family.state_shape(shape), first_sample)
    if bm is not None and not isinstance(process, NormalNormalSDE):
        raise ValueError("bm drives Brownian solvers only; a Cox process takes poisson_paths")
    if bm is not None and getattr(bm, "first_sample", 0) != first_sample:
        raise ValueError(f"bm starts at global sample {getattr(bm, 'first_sample', 0)}, but the run's first_sample = "
                         f"{first_sample}: a bm's rows must be the run's samples (CounterBrownian and "
                         f"AntitheticRefinement take first_sample=; a torchsde Brownian motion starts at 0)")
    if poisson_paths is not None and not isinstance(poisson_paths, PoissonPaths):
        raise ValueError(f"poisson_paths must be a PoissonPaths, got {type(poisson_paths).__name__}")
    controller = stepping_controller(solver, steps=steps, grid=grid, save_at=save_at, bm=bm,
                                     poisson_paths=poisson_paths, rtol=rtol, atol=atol)
    if controller is not None:
        return _sample_adaptive(process, solver, controller, n, shape, seed, dtype, device, backend, first_sample,
                                progress)
    steps = DEFAULT_STEPS if steps is None else steps
    if poisson_paths is not None and not solver.poisson_counts:
        raise ValueError(f"poisson_paths couple the counts of tau_leap and tau_leap_2; solver {solver.name!r} "
                         f"does not draw Poisson counts")
    times, save_times = _grid(process, steps, grid, save_at, solver.default_grid)
    process, grid = prepare_run(process, shape, times, dtype, device)
    mu, A_state = process.family.initial_state(n, process.shape)
    if bm is not None:
        check_brownian_motion(bm, (n, mu.numel() // n), float(times[0]), float(times[-1]))
    noise = Noise(seed, mu.shape, dtype, mu.device, backend=backend, times=times, bm=bm, poisson_paths=poisson_paths,
                  offset=first_sample * (mu.numel() // n))
    state = State(mu, A_state, solver.init(process, grid, noise))
    predict = Evaluator(process, mu.shape, mu.device, mu.dtype)

    trajectory = None
    if save_times is not None:
        save_mask = torch.isin(times, save_times)
        trajectory = torch.empty((int(save_mask.sum()), *mu.shape), dtype=dtype, device=mu.device)
        save_slots = torch.cumsum(save_mask, 0) - 1
        if save_mask[0]:
            trajectory[0] = mu
    for interval in tqdm(grid.intervals(dtype, mu.device), desc=solver.name, disable=not progress, leave=False):
        state = solver.step(process, predict, state, interval, noise)
        if trajectory is not None and save_mask[interval.index + 1]:
            trajectory[save_slots[interval.index + 1]] = state.mu
    predict.raise_if_bad(state.mu, state.A)
    return SampleResult(mu=state.mu, A=state.A, nfe=predict.nfe, times=times, trajectory=trajectory,
                        trajectory_times=save_times)


def stepping_controller(solver: BaseSolver, *, steps=None, grid=None, save_at=None, bm=None, poisson_paths=None,
                        rtol: float | None = None, atol: float | None = None) -> PIController | None:
    """The ``PIController`` of an adaptive ``solver`` with the tolerances ``rtol`` and ``atol`` (the
    controller's defaults where None) and the solver's ``max_step_ratio``, or None for a fixed-grid
    solver; a ``ValueError`` naming the arguments that do not fit the solver's kind: ``steps``, ``grid``, ``save_at``, ``bm`` or
    ``poisson_paths`` given to an adaptive solver, ``rtol`` or ``atol`` to a fixed-grid one (``sample()``
    and ``sample_to_files`` check a run's arguments with it)."""
    if not isinstance(solver, AdaptiveSolver):
        if rtol is not None or atol is not None:
            raise ValueError(f"rtol and atol are tolerances of adaptive solvers; {solver.name!r} steps on a fixed "
                             f"grid (give steps or grid, or use an adaptive solver such as 'ode_3m_adaptive')")
        return None
    given = [name for name, value in (("steps", steps), ("grid", grid), ("save_at", save_at), ("bm", bm),
                                      ("poisson_paths", poisson_paths)) if value is not None]
    if given:
        raise ValueError(f"{', '.join(given)}: the adaptive solver {solver.name!r} chooses each sample's steps to the "
                         f"tolerances rtol and atol, from A = 0 to A(1), and draws its own start; leave "
                         f"{' and '.join(given)} out (or use a fixed-grid solver)")
    tolerances = {name: value for name, value in (("rtol", rtol), ("atol", atol)) if value is not None}
    return PIController(factormax=solver.max_step_ratio, **tolerances)


def _sample_adaptive(process, solver, controller, n, shape, seed, dtype, device, backend, first_sample, progress
                     ) -> SampleResult:
    """``sample()`` for an adaptive solver, its arguments checked as there."""
    times = torch.tensor([0.0, 1.0], dtype=torch.float64)
    process, grid = prepare_run(process, shape, times, dtype, device)
    mu, _ = process.family.initial_state(n, process.shape)
    noise = Noise(seed, mu.shape, dtype, mu.device, backend=backend, offset=first_sample * (mu.numel() // n))
    predict = Evaluator(process, mu.shape, mu.device, mu.dtype)
    total = float(grid.A[-1])
    loop = sde_adaptive if isinstance(solver, PMM2Adaptive) else flow_adaptive
    mu, accepted, rejected, evaluations = loop(process, solver, controller, mu, total, noise, predict, progress)
    A = torch.tensor(total, dtype=dtype, device=mu.device)
    predict.raise_if_bad(mu, A)
    return SampleResult(mu=mu, A=A, nfe=predict.nfe, times=times, accepted=accepted, rejected=rejected,
                        evaluations=evaluations)
