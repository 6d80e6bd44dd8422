"""The ``pmm-sde`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .demo import DEMO_TRAIN_STEPS
from .problems import PROBLEMS
from .training import TIME_SAMPLERS, WEIGHTINGS, TrainConfig


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


def _train(args: argparse.Namespace) -> int:
    from .training import train

    config = TrainConfig(data=args.data, data_options={"seed": args.data_seed},
                         family=None if args.family is None else {"name": args.family},
                         schedule={"name": "exponential", "total": args.total},
                         network=None if args.network is None else {"name": args.network},
                         steps=args.steps, batch_size=args.batch_size, lr=args.lr, weighting=args.weighting,
                         time_sampler=args.time_sampler, seed=args.seed, device=args.device,
                         checkpoint_every=args.checkpoint_every)
    model = train(config, out_dir=args.out, resume=args.resume)
    metrics = json.loads((Path(args.out) / "metrics.json").read_text())
    line = f"trained {len(model.losses)} steps; final loss {metrics['final_loss']:.4g}"
    if "heldout_bound" in metrics:
        bound = metrics["heldout_bound"]
        line += f"; held-out bound {bound['bits_per_dim']:.4f} {bound['unit']}"
    print(line)
    print(f"wrote {Path(args.out) / 'checkpoint.pt'}, metrics.json, loss.png and samples.png")
    return 0


def _sample(args: argparse.Namespace) -> int:
    from .training import sample_checkpoint

    metrics = sample_checkpoint(args.checkpoint, Path(args.out), solver=args.solver, steps=args.steps, n=args.n,
                                seed=args.seed, device=args.device)
    quality = "".join(f"; {key} {metrics[key]:.5f}" for key in ("energy_distance", "sliced_wasserstein")
                      if key in metrics)
    print(f"{metrics['solver']}, {metrics['steps']} steps, {metrics['nfe']} NFE, {metrics['seconds']:.2f}s{quality}")
    print(f"wrote {Path(args.out) / 'samples.pt'}, samples.png and metrics.json")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if len(values) < 3 or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected at least three step counts >= 1")
    return values


def _converge(args: argparse.Namespace) -> int:
    from .convergence import convergence_study
    from .problems import convergence_problem, exact_count_law

    process, description = convergence_problem(args.process)
    study = convergence_study(process, args.solvers.split(","), args.steps, args.n, seed=args.seed,
                              progress=True, name=description, strong=args.strong,
                              exact_law=None if args.monte_carlo else exact_count_law(args.process),
                              quadrature=args.process == "normal" and not args.monte_carlo,
                              coupling=args.coupling)
    for solver, row in study.table().items():
        line = f"{solver:>15}: measured weak order {row['weak_order']:.2f} (declared {row['declared_weak_order']:g})"
        if args.strong:
            line += f", strong order {row['strong_order']:.2f} (declared {row['declared_strong_order']:g})"
        print(line)
    if args.json:
        study.to_json(args.json)
    if args.plot:
        study.plot(args.plot)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmm-sde", description="Posterior Mean Matching: processes, solvers, sampling.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train a small model on a 2-D Gaussian mixture, sample it with two solvers; "
                                       "write metrics, plots and a checkpoint")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--n", type=int, default=2000, help="number of samples (default: 2000)")
    demo.add_argument("--train-steps", type=int, default=DEMO_TRAIN_STEPS,
                      help=f"training steps (default: {DEMO_TRAIN_STEPS})")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    train = sub.add_parser("train", help="train a predictor network on a built-in data set")
    train.add_argument("--data", required=True, help="data set name (pmm_sde.data.available())")
    train.add_argument("--data-seed", type=int, default=0, help="seed of the data set's draw and split (default: 0)")
    train.add_argument("--family", choices=["normal", "gamma", "dirichlet"], default=None,
                       help="conjugate family (default: the data set's suggestion)")
    train.add_argument("--network", choices=["mlp", "unet", "transformer"], default=None,
                       help="network (default: transformer for tokens, an MLP with a bounded head for counts, "
                            "unet for real images, else mlp)")
    train.add_argument("--steps", type=int, default=TrainConfig.steps)
    train.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    train.add_argument("--lr", type=float, default=TrainConfig.lr)
    total = TrainConfig().schedule["total"]
    train.add_argument("--total", type=float, default=total, help=f"A(1) of the exponential schedule (default: {total:g})")
    train.add_argument("--weighting", choices=list(WEIGHTINGS), default=TrainConfig.weighting)
    train.add_argument("--time-sampler", choices=list(TIME_SAMPLERS), default=TrainConfig.time_sampler)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default=None, help="torch device (default: cuda when present, else cpu)")
    train.add_argument("--checkpoint-every", type=int, default=0, help="also checkpoint every N steps")
    train.add_argument("--resume", default=None, help="checkpoint to continue from")
    train.add_argument("--out", required=True, help="run folder")
    train.set_defaults(run=_train)
    sample = sub.add_parser("sample", help="sample a trained checkpoint with a chosen solver")
    sample.add_argument("--checkpoint", required=True)
    sample.add_argument("--solver", default="pmm_chain", help="solver name (default: pmm_chain)")
    sample.add_argument("--steps", type=int, default=100)
    sample.add_argument("--n", type=int, default=1000)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", default=None, help="torch device (default: the checkpoint's)")
    sample.add_argument("--out", required=True, help="output folder")
    sample.set_defaults(run=_sample)
    conv = sub.add_parser("converge", help="measure solvers' weak orders on an oracle problem")
    conv.add_argument("--process", choices=list(PROBLEMS), default="normal")
    conv.add_argument("--solvers", required=True, help="comma-separated solver names")
    conv.add_argument("--steps", type=_int_list, default=[8, 16, 32, 64, 128], help="refining step counts")
    conv.add_argument("--n", type=int, default=20_000, help="samples per run (default: 20000)")
    conv.add_argument("--seed", type=int, default=1)
    conv.add_argument("--monte-carlo", action="store_true",
                      help="weak errors by Monte Carlo for every solver (default: exact count laws for cox, "
                           "quadrature for the normal problem's one-step solvers)")
    conv.add_argument("--coupling", choices=["common", "antithetic"], default="common",
                      help="Monte Carlo coupling of the one-step Brownian solvers' weak differences: one "
                           "shared Brownian path, or per difference a coarse and two antithetic fine paths")
    conv.add_argument("--strong", action="store_true",
                      help="also measure strong (pathwise L1) orders on the same coupled runs")
    conv.add_argument("--json", default=None, help="write the table as JSON here")
    conv.add_argument("--plot", default=None, help="write the log-log figure (PNG) here")
    conv.set_defaults(run=_converge)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as error:
        print(f"pmm-sde {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
