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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pmm-sde", description="Posterior Mean Matching: processes, solvers, sampling.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="sample a 2-D Gaussian mixture with the PMM chain; write metrics and a plot")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--n", type=int, default=2000, help="number of samples (default: 2000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_demo)
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
