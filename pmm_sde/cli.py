"""The ``pmm-sde`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import _validation, data, distributed
from .convergence import DEFAULT_BLOCK, PROBLEMS, convergence_problem, convergence_study, exact_count_law
from .data.files import DEFAULT_HELDOUT_FRACTION, DEFAULT_TEXT_LENGTH
from .demo import DEMO_TRAIN_STEPS
from .families import DirichletCategorical, GammaPoisson, NormalNormal
from .grids import GRIDS
from .processes import GammaPoissonCoxSDE, NormalNormalSDE
from .schedules import Linear
from .shards import DEFAULT_CHUNK, rank_device
from .solvers import available
from .training import TIME_SAMPLERS, WEIGHTINGS, TrainConfig, grids_path, tune_checkpoint_grid
from .training.tuned_grids import SAMPLED_PROXIES

#: How ``--family`` reads a user's file: the kind of data each family models.
FAMILY_KINDS = {"normal": "real", "gamma": "counts", "dirichlet": "tokens"}


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    metrics = run_demo(Path(args.out), n=args.n, train_steps=args.train_steps, seed=args.seed)
    floor = metrics["heldout_energy_distance"]
    print(f"trained {metrics['train']['steps']} steps in {metrics['train']['seconds']:.1f}s; "
          f"held-out bound {metrics['train']['heldout_bound']['bits_per_dim']:.3f} bits/dim")
    print(f"path KL from the exact process: {metrics['path_kl_to_exact_bits_per_dim']:.4f} bits/dim")
    print(f"held-out energy distance floor: {floor:.5f}")
    for run in metrics["runs"]:
        print(f"{run['solver']:>10} {run['steps']:>5} steps  energy distance {run['energy_distance']:.5f} "
              f"({run['energy_distance'] / floor:.2f}x floor; exact predictor "
              f"{run['oracle_energy_distance'] / floor:.2f}x)  {run['seconds']:.2f}s")
    print(f"wrote {Path(args.out) / 'metrics.json'}, samples.png, loss.png and checkpoint.pt")
    return 0


def _data_options(args: argparse.Namespace) -> dict:
    """The data loader's keywords that were given on the command line."""
    options = {"seed": args.data_seed}
    if args.heldout is not None:
        options["heldout_fraction"] = args.heldout
    if args.length is not None:
        options["length"] = args.length
    return options


def _quality_lines(metrics: dict) -> list[str]:
    """Each sample-quality distance next to its held-out floor, and what the floor means."""
    pairs = [(key, value, metrics[f"heldout_{key}"]) for key, value in metrics.items()
             if f"heldout_{key}" in metrics and not key.startswith("heldout_")]
    lines = [f"  {key.replace('_', ' ')} {value:.5f} (held-out floor {floor:.5f})" for key, value, floor in pairs]
    if pairs:
        lines.append(f"  floor: the same distance between two held-out halves of {metrics['quality_points']} points; "
                     f"samples that follow the data's law score about the floor")
    if "true_law_bits_per_token" in metrics:
        lines.append(f"  true-law cross-entropy {metrics['true_law_bits_per_token']:.4f} bits/token (the corpus's "
                     f"entropy {metrics['entropy_bits_per_token']:.4f}: a perfect model's value)")
    return lines


def _train(args: argparse.Namespace) -> int:
    from .training import train

    kind = FAMILY_KINDS.get(args.family) if args.data not in data.available() else None
    options = _data_options(args) if kind is None else {**_data_options(args), "kind": kind}
    config = TrainConfig(data=args.data, data_options=options,
                         family=None if args.family is None else {"name": args.family},
                         schedule={"name": "exponential", "total": args.total},
                         network=None if args.network is None else {"name": args.network},
                         steps=args.steps, batch_size=args.batch_size, lr=args.lr, weighting=args.weighting,
                         time_sampler=args.time_sampler, seed=args.seed, device=args.device,
                         checkpoint_every=args.checkpoint_every, bound_points=args.bound_points,
                         sample_points=args.sample_n, sample_solver=args.solver, sample_steps=args.sample_steps)
    with distributed.session(config.validate().torch_device()) as world:
        model = train(config, out_dir=args.out, resume=args.resume)
    if not world.is_main:
        return 0
    metrics = json.loads((Path(args.out) / "metrics.json").read_text())
    print(f"data: {metrics['data']['description']}")
    line = f"trained {len(model.losses)} steps; final loss {metrics['final_loss']:.4g}"
    if "heldout_bound" in metrics:
        bound = metrics["heldout_bound"]
        line += f"; held-out bound {bound['bits_per_dim']:.4f} {bound['unit']}"
    print(line)
    if "samples" in metrics:
        run = metrics["samples"]
        print(f"{run['n']} samples by {run['solver']} in {run['steps']} steps ({run['nfe']} NFE)")
        for quality in _quality_lines(run):
            print(quality)
    written = ["checkpoint.pt", "metrics.json", "loss.png"] + metrics.get("samples", {}).get("files", [])
    print(f"wrote {', '.join(written)} in {args.out}")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .training import sample_checkpoint

    device = _validation.device(args.device, "--device")
    with distributed.session(device) as world:
        metrics = sample_checkpoint(args.checkpoint, Path(args.out), solver=args.solver, steps=args.steps, n=args.n,
                                    seed=args.seed, device=rank_device(device, world), chunk=args.chunk,
                                    progress=True, grid=args.grid, rtol=args.rtol, atol=args.atol)
        if not world.is_main:
            return 0
    if metrics["steps"] is None:
        stepping = (f"at rtol {metrics['rtol']:g}, atol {metrics['atol']:g} ({metrics['accepted_mean']:.1f} accepted "
                    f"and {metrics['rejected_mean']:.1f} rejected steps and {metrics['evaluations_mean']:.1f} predictor "
                    f"evaluations a sample, at most {metrics['accepted_max']} accepted)")
    else:
        stepping = f"in {metrics['steps']} steps ({metrics['grid']} grid)"
    print(f"{metrics['n']} samples by {metrics['solver']} {stepping}, {metrics['nfe']} NFE a chunk, "
          f"{metrics['processes']} process{'es' if metrics['processes'] > 1 else ''}, {metrics['seconds']:.2f}s")
    for quality in _quality_lines(metrics):
        print(quality)
    shards = f"{metrics['shards']} shard{'s' if metrics['shards'] > 1 else ''} (samples-*.npy)"
    print(f"wrote {shards}, {', '.join(metrics['files'] + ['metrics.json'])} in {args.out}")
    return 0


def _tune_grid(args: argparse.Namespace) -> int:
    entry = tune_checkpoint_grid(args.checkpoint, args.solver, args.steps, proxy=args.proxy, n=args.n,
                                 seed=args.seed, reference_steps=args.reference_steps, degree=args.degree,
                                 max_evaluations=args.max_evaluations, device=args.device)
    print(f"{entry['solver']} in {entry['steps']} steps: {entry['proxy_kind']} proxy {entry['proxy']:.3g} on the "
          f"tuned grid, {entry['start_proxy']:.3g} on log1p_sqrt ({entry['reference_steps']}-step reference, {entry['n']} "
          f"starts); wrote {grids_path(args.checkpoint)}")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if len(values) < 3 or any(v < 1 for v in values) or any(b <= a for a, b in zip(values, values[1:])):
        raise argparse.ArgumentTypeError(f"expected at least three increasing step counts >= 1, got {text!r}")
    return values


def _output_file(path: str | None, option: str, name: str) -> Path | None:
    """The file an output option writes: ``path``, or ``path/name`` when ``path`` is a folder. Checked
    before any work: its folder exists and it ends in the suffix of ``name``."""
    if path is None:
        return None
    target = Path(path)
    if target.is_dir():
        return target / name
    if not target.absolute().parent.is_dir():
        raise ValueError(f"{option}: the folder of {path!r} does not exist")
    suffix = Path(name).suffix
    if target.suffix.lower() != suffix:
        raise ValueError(f"{option} writes a {suffix} file: give a path ending in {suffix} or a folder, got {path!r}")
    return target


def _converge(args: argparse.Namespace) -> int:
    json_file = _output_file(args.json, "--json", "convergence.json")
    plot_file = _output_file(args.plot, "--plot", "convergence.png")
    if args.n < 2:
        raise ValueError(f"n must be an integer >= 2 (a weak error needs a sample variance), got {args.n}")
    process, description = convergence_problem(args.process)
    with distributed.session("cpu") as world:
        study = convergence_study(process, args.solvers.split(","), args.steps, args.n, seed=args.seed,
                                  progress=True, name=description, strong=args.strong,
                                  exact_law=None if args.monte_carlo else exact_count_law(args.process),
                                  quadrature=args.process == "normal" and not args.monte_carlo,
                                  coupling=args.coupling, block=args.block, chunk=args.chunk, world=world)
        if not world.is_main:
            return 0
    for solver, row in study.table().items():
        line = f"{solver:>15}: measured weak order {row['weak_order']:.2f} (declared {row['declared_weak_order']:g})"
        if args.strong:
            line += f", strong order {row['strong_order']:.2f} (declared {row['declared_strong_order']:g})"
        print(line)
    for path, write in ((json_file, study.to_json), (plot_file, study.plot)):
        if path is not None:
            write(path)
            print(f"wrote {path}")
    return 0


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, except where there is none (None: the help says why)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        return action.help if action.default is None else super()._get_help_string(action)


def _solver_help() -> str:
    """The solvers that apply to each family, as help text."""
    processes = {"real data (normal)": NormalNormalSDE(NormalNormal(), Linear(1.0), _identity),
                 "counts (gamma)": GammaPoissonCoxSDE(GammaPoisson(), Linear(1.0), _identity),
                 "tokens (dirichlet)": GammaPoissonCoxSDE(DirichletCategorical(2), Linear(1.0), _identity)}
    return "; ".join(f"{name}: {', '.join(available(process))}" for name, process in processes.items())


def _identity(mu, A):
    return mu


def build_parser() -> argparse.ArgumentParser:
    formatter = _Help
    parser = _Parser(prog="pmm-sde", description="Posterior Mean Matching: processes, solvers, sampling.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", formatter_class=formatter,
                          help="train a small model on a 2-D Gaussian mixture, sample it with two solvers; "
                               "write metrics, plots and a checkpoint")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--n", type=int, default=2000, help="number of samples")
    demo.add_argument("--train-steps", type=int, default=DEMO_TRAIN_STEPS, help="training steps")
    demo.add_argument("--seed", type=int, default=0, help="seed of training and sampling")
    demo.set_defaults(run=_demo)
    solvers = _solver_help()
    train = sub.add_parser("train", formatter_class=formatter,
                           help="train a predictor network on a built-in data set or your own data",
                           description="Train a predictor with the PMM objective; write checkpoint.pt, metrics.json, "
                                       "loss.png and samples (in the data's own form) with samples.png into --out. "
                                       "Under torchrun (torchrun --nproc_per_node=K -m pmm_sde train ...) each of K "
                                       "ranks trains on batch-size / K rows of the same global batch (data-parallel); "
                                       "rank 0 writes --out.")
    train.add_argument("--data", required=True,
                       help=f"a built-in data set ({', '.join(data.available())}) or a path: real points in "
                            f".npy/.npz/.pt (floating) or .csv; counts in .npy/.npz/.pt (integer) or a folder of "
                            f"grayscale PNG images of one size; any other file is UTF-8 text, modelled as characters")
    train.add_argument("--family", choices=list(FAMILY_KINDS), default=None,
                       help="conjugate family (default: the data's: normal for real values, gamma for counts, "
                            "dirichlet for tokens and text); for a file it sets how the values are read")
    train.add_argument("--heldout", type=float, default=None,
                       help=f"fraction of your data held out for the metrics (files only; default "
                            f"{DEFAULT_HELDOUT_FRACTION})")
    train.add_argument("--length", type=int, default=None,
                       help=f"characters per sequence for text (default {DEFAULT_TEXT_LENGTH}); tokens per sequence "
                            f"for markov")
    train.add_argument("--data-seed", type=int, default=0, help="seed of the data set's draw and split")
    train.add_argument("--network", choices=["mlp", "unet", "transformer"], default=None,
                       help="network (default: transformer for tokens, an MLP with a bounded head for counts, "
                            "unet for real square images, else mlp)")
    train.add_argument("--steps", type=int, default=TrainConfig.steps, help="training steps")
    train.add_argument("--batch-size", type=int, default=TrainConfig.batch_size,
                       help="data points per step (the global batch: under torchrun divisible by the number of ranks)")
    train.add_argument("--lr", type=float, default=TrainConfig.lr, help="AdamW learning rate (cosine decay)")
    train.add_argument("--total", type=float, default=TrainConfig().schedule["total"],
                       help="A(1) of the exponential schedule")
    train.add_argument("--weighting", choices=list(WEIGHTINGS), default=TrainConfig.weighting,
                       help="weighting of the PMM objective over time")
    train.add_argument("--time-sampler", choices=list(TIME_SAMPLERS), default=TrainConfig.time_sampler,
                       help="law of the training times")
    train.add_argument("--seed", type=int, default=0, help="seed of the weights, batches and sampling")
    train.add_argument("--device", default=None, help="torch device (default: cuda when present, else cpu)")
    train.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps (0: only at the end)")
    train.add_argument("--resume", default=None, help="checkpoint to continue from")
    train.add_argument("--solver", default=None,
                       help=f"solver of the samples written after training (default: pmm_chain for real data, "
                            f"tau_leap for counts and tokens). {solvers}")
    train.add_argument("--sample-steps", type=int, default=TrainConfig.sample_steps, help="steps of that solver")
    train.add_argument("--sample-n", type=int, default=TrainConfig.sample_points,
                       help="samples written after training (0: none)")
    train.add_argument("--bound-points", type=int, default=TrainConfig.bound_points,
                       help="held-out points of the variational bound (0: no bound)")
    train.add_argument("--out", required=True, help="run folder")
    train.set_defaults(run=_train)
    sample = sub.add_parser("sample", formatter_class=formatter, help="sample a trained checkpoint with a chosen solver",
                            description="Sample a checkpoint; write the samples in the data's own form as .npy shards "
                                        "of --chunk samples (samples-000000.npy, ...) with manifest.json, which "
                                        "lists them in order (numpy and json read them; pmm_sde.load_samples "
                                        "returns one tensor), the text (samples.txt) or image grid "
                                        "(samples_grid.png) of text and image data, samples.png and metrics.json "
                                        "into --out. The original data file is not needed. Under torchrun "
                                        "(torchrun --nproc_per_node=K -m -- pmm_sde sample ...: the -- keeps "
                                        "torchrun from reading --n as one of its options) the ranks write the "
                                        "shards of contiguous ranges of chunks and rank 0 the other files: the "
                                        "samples are bitwise those of one process.")
    sample.add_argument("--checkpoint", required=True, help="checkpoint.pt written by pmm-sde train")
    sample.add_argument("--solver", default=None,
                        help=f"solver (default: pmm_chain for real data, tau_leap for counts and tokens). {solvers}")
    sample.add_argument("--steps", type=int, default=None,
                        help="steps of a fixed-grid solver (default 100; an adaptive solver refuses it)")
    sample.add_argument("--rtol", type=float, default=None,
                        help="relative tolerance of an adaptive solver such as ode_3m_adaptive (default 1e-3; a "
                             "fixed-grid solver refuses it)")
    sample.add_argument("--atol", type=float, default=None,
                        help="absolute tolerance of an adaptive solver (default 1e-3; a fixed-grid solver refuses it)")
    sample.add_argument("--n", type=int, default=1000, help="number of samples")
    sample.add_argument("--chunk", type=int, default=DEFAULT_CHUNK,
                        help="samples per shard: one sampling call of this many samples (the last may be shorter), "
                             "held in memory at once. The chunks start at multiples of --chunk whatever the number "
                             "of processes, so the samples do not depend on it")
    sample.add_argument("--seed", type=int, default=0, help="seed: the random numbers of sample i depend on (seed, i) "
                                                             "only")
    sample.add_argument("--device", default=None,
                        help="torch device (default: the checkpoint's; under torchrun cuda:LOCAL_RANK when CUDA is "
                             "present, else cpu)")
    sample.add_argument("--out", required=True, help="output folder (under torchrun on several machines, a folder "
                                                     "they share)")
    sample.add_argument("--grid", default=None, choices=list(GRIDS),
                        help="step grid (default: the grid stored by pmm-sde tune-grid for this solver and step "
                             "count when there is one, else the solver's default)")
    sample.set_defaults(run=_sample)
    tune = sub.add_parser("tune-grid", formatter_class=formatter,
                          help="optimise a checkpoint's step grid for a solver and step count",
                          description="Optimise the step grid of a probability-flow solver (ode_euler, ode_heun, "
                                      "ode_2m, ode_3m) for a checkpoint: a warp of the log1p_sqrt grid minimising "
                                      "an error proxy against a many-step run from the same starts "
                                      "(pmm_sde.convergence.optimise_grid). Writes <checkpoint stem>.grids.json "
                                      "beside the checkpoint, which pmm-sde sample then uses for this solver and "
                                      "step count.")
    tune.add_argument("--checkpoint", required=True, help="checkpoint.pt written by pmm-sde train")
    tune.add_argument("--solver", default="ode_3m", help="a probability-flow solver")
    tune.add_argument("--steps", type=int, required=True, help="solver steps of the grid")
    tune.add_argument("--proxy", choices=list(SAMPLED_PROXIES), default="sample_moments",
                      help="sample_moments: the errors of the terminal mean, variance and E cos against the reference "
                           "run from the same starts; pathwise: the root mean square terminal discrepancy to it")
    tune.add_argument("--n", type=int, default=2000, help="starting points of the proxy")
    tune.add_argument("--seed", type=int, default=1,
                      help="seed of the starting points (1: apart from pmm-sde sample's default seed 0)")
    tune.add_argument("--reference-steps", type=int, default=200, help="steps of the reference run")
    tune.add_argument("--degree", type=int, default=3, help="parameters of the warp")
    tune.add_argument("--max-evaluations", type=int, default=150, help="proxy evaluations of the optimiser")
    tune.add_argument("--device", default=None, help="torch device (default: the checkpoint's)")
    tune.set_defaults(run=_tune_grid)
    conv = sub.add_parser("converge", formatter_class=formatter,
                          help="measure solvers' weak (and strong) orders on an oracle problem")
    conv.add_argument("--process", choices=list(PROBLEMS), default="normal", help="oracle problem")
    conv.add_argument("--solvers", required=True, help=f"comma-separated solver names. {solvers}")
    conv.add_argument("--steps", type=_int_list, default=[8, 16, 32, 64, 128], help="refining step counts")
    conv.add_argument("--n", type=int, default=20_000, help="Monte Carlo samples per step count")
    conv.add_argument("--seed", type=int, default=1, help="seed of the coupled runs")
    conv.add_argument("--block", type=int, default=DEFAULT_BLOCK,
                      help="Monte Carlo samples per block: statistics are summed per block of global sample indices "
                           "and folded in block order (the figures depend on n, seed and block only)")
    conv.add_argument("--chunk", type=int, default=None,
                      help="samples held in memory per run, a multiple of --block (default 16 blocks); it never "
                           "changes the figures. Under torchrun the blocks are split over the ranks")
    conv.add_argument("--monte-carlo", action="store_true",
                      help="weak errors by Monte Carlo for every solver (default: exact count laws for cox, "
                           "quadrature for the normal problem's one-step solvers)")
    conv.add_argument("--coupling", choices=["common", "antithetic"], default="common",
                      help="Monte Carlo coupling of the one-step Brownian solvers' weak differences: one "
                           "shared Brownian path, or per difference a coarse and two antithetic fine paths")
    conv.add_argument("--strong", action="store_true",
                      help="also measure strong (pathwise L1) orders on the same coupled runs")
    conv.add_argument("--json", default=None, help="write the table here: a .json file, or a folder "
                                                  "(convergence.json in it)")
    conv.add_argument("--plot", default=None, help="write the log-log figure here: a .png file, or a folder "
                                                  "(convergence.png in it)")
    conv.set_defaults(run=_converge)
    return parser


def _created_folders(path: str | None) -> list[Path]:
    """The folders that writing into ``path`` would create (``path`` and its missing parents), deepest first."""
    if path is None:
        return []
    missing, folder = [], Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    new_folders = _created_folders(getattr(args, "out", None))
    try:
        return args.run(args)
    except (ValueError, OSError, ImportError, distributed.DistributedError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"pmm-sde {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pmm-sde {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        for folder in new_folders:
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


if __name__ == "__main__":
    sys.exit(main())
