"""The ``pmm-sde`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    metrics = run_demo(Path(args.out), n=args.n, seed=args.seed)
    floor = metrics["heldout_energy_distance"]
    print(f"held-out energy distance floor: {floor:.5f}")
    for run in metrics["runs"]:
        print(f"{run['solver']:>10} {run['steps']:>5} steps  energy distance {run['energy_distance']:.5f} "
              f"({run['energy_distance'] / floor:.2f}x floor)  {run['seconds']:.2f}s")
    print(f"wrote {Path(args.out) / 'metrics.json'} and {Path(args.out) / 'samples.png'}")
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
                              exact_law=exact_count_law(args.process))
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
    demo = sub.add_parser("demo", help="sample a 2-D Gaussian mixture with the PMM chain; write metrics and a plot")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--n", type=int, default=2000, help="number of samples (default: 2000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
    conv = sub.add_parser("converge", help="measure solvers' weak orders on an oracle problem")
    conv.add_argument("--process", choices=["normal", "cox"], default="normal")
    conv.add_argument("--solvers", required=True, help="comma-separated solver names")
    conv.add_argument("--steps", type=_int_list, default=[8, 16, 32, 64, 128], help="refining step counts")
    conv.add_argument("--n", type=int, default=20_000, help="samples per run (default: 20000)")
    conv.add_argument("--seed", type=int, default=1)
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
