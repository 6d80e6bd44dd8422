"""Training acceptance of issue 5 on the CPU: GammaPoisson on digits, DirichletCategorical on a Markov corpus.

Digits (``pmm.data.load("digits")``, 1500 training and 297 held-out 8x8 images of counts 0..16):
train an MLP with a bounded head (``xhat = 16 sigmoid(logit(mu / 16) + F)``) under the GammaPoisson
prior ``Gamma(1, 0.2)`` and ``Exponential(1000)`` (at ``A_1 = 1000`` the decoding
``round(N_1 / A_1)`` is sharp: the standard deviation of ``N_1 / A_1`` given ``x = 16`` is 0.13), sample
``n`` images with each Cox solver and decode them. With ``m``, ``v`` the 64-vectors of per-pixel
means and variances of the samples and ``m*``, ``v*`` those of the training images,

    mean error = |m - m*|_2 / |m*|_2 <= 0.10,      variance error = |v - v*|_2 / |v*|_2 <= 0.10,

and ``SW2(samples, held-out) < SW2(poisson_baseline(train), held-out)`` (``metrics.sliced_wasserstein``,
both with ``n_h = 297`` points, the held-out set's size). The same figures for the held-out images
against the training images are reported as the floor that sampling noise sets at ``n_h``.
``thinning`` is exact but proposes about ``x_max * 64 * A_1`` events per image (one NFE per
proposal round), so it is reported as not run.

Markov (``pmm.data.load("markov")``, K = 8, L = 32): train the Transformer with the ``absorbing``
preconditioning, the trainer's default for tokens (positions with an event are copied, the body
predicts the others) under the
likelihood weighting, and compute the variational bound (``training.bound``) in bits per token on
the held-out sequences: within 0.10 bits of ``corpus.entropy_bits_per_token()``. The bound of the
exact predictor (``MarkovCorpus.predictor``) is reported next to it: it checks the bound itself, since with
the exact ``E*[x | state]`` the bound equals the entropy (any-order autoregressive argument).

    python -m benchmarks.training_acceptance [--quick] [--out benchmarks/results] [--seed 0] [--threads 1]

Writes ``training_cpu.json`` (``training_cpu_quick.json`` with ``--quick``) into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

import pmm_sde as pmm
from pmm_sde.metrics import bits_per_token, poisson_baseline, sliced_wasserstein
from pmm_sde.training import TrainConfig, train, variational_bound

MOMENT_TOLERANCE = 0.10
BITS_TOLERANCE = 0.10
DIGITS_MAX_COUNT = 16.0


@dataclass
class DigitsSettings:
    """Training and sampling of the digits model; ``solvers`` maps a Cox solver to its step count."""

    steps: int = 5000
    batch_size: int = 128
    lr: float = 2e-3
    hidden: int = 256
    depth: int = 3
    total: float = 1000.0
    weighting: str = "likelihood"
    samples: int = 1500
    solvers: dict = field(default_factory=lambda: {"tau_leap": 400, "tau_leap_2": 200})


@dataclass
class MarkovSettings:
    """Training of the Markov-corpus transformer and the size of its bound evaluation."""

    steps: int = 2000
    batch_size: int = 128
    lr: float = 3e-3
    dim: int = 64
    depth: int = 2
    heads: int = 4
    total: float = 20.0
    weighting: str = "likelihood"
    heldout: int = 5000
    time_points: int = 16
    data_options: dict = field(default_factory=dict)


QUICK = (DigitsSettings(steps=20, batch_size=32, hidden=32, depth=1, samples=40,
                        solvers={"tau_leap": 8, "tau_leap_2": 4}),
         MarkovSettings(steps=4, batch_size=16, dim=16, depth=1, heads=2, heldout=40, time_points=2,
                        data_options={"train_size": 200, "heldout_size": 40}))


def relative_error(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """``|estimate - reference|_2 / |reference|_2``."""
    return float((estimate - reference).norm() / reference.norm())


def moment_errors(points: torch.Tensor, reference: torch.Tensor) -> dict:
    """Relative L2 errors of the per-coordinate means and variances of ``points`` against ``reference``
    (both ``(n, ...)``, flattened per point), and, as a diagnostic, the largest per-coordinate
    relative error of the mean over coordinates whose reference mean is at least 1."""
    points, reference = points.flatten(1).double(), reference.flatten(1).double()
    mean, reference_mean = points.mean(0), reference.mean(0)
    busy = reference_mean >= 1.0
    return {"mean_rel_error": relative_error(mean, reference_mean),
            "var_rel_error": relative_error(points.var(0), reference.var(0)),
            "max_pixel_mean_rel_error": float(((mean - reference_mean).abs() / reference_mean)[busy].max())}


def digits_acceptance(settings: DigitsSettings, seed: int = 0, progress: bool = False) -> dict:
    """Train on digits, sample with each solver of ``settings.solvers`` and check the moments and SW2."""
    dataset = pmm.data.load("digits")
    config = TrainConfig(data="digits", schedule={"name": "exponential", "total": settings.total},
                         network={"name": "mlp", "hidden": settings.hidden, "depth": settings.depth,
                                  "head": "bounded", "x_max": DIGITS_MAX_COUNT},
                         steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr,
                         weighting=settings.weighting, ema_decay=0.995, seed=seed, device="cpu",
                         bound_points=0, sample_points=0)
    began = time.perf_counter()
    model = train(config, progress=progress)
    report = {"settings": asdict(settings), "config": model.config.to_dict(),
              "train_seconds": time.perf_counter() - began, "final_loss": _tail_mean(model.losses)}
    heldout, n_h = dataset.heldout, len(dataset.heldout)
    baseline = poisson_baseline(dataset.train, n_h, torch.Generator().manual_seed(seed))
    report["poisson_baseline"] = {"sliced_wasserstein": sliced_wasserstein(baseline, heldout),
                                  **moment_errors(baseline, dataset.train)}
    report["heldout_floor"] = {"sliced_wasserstein": sliced_wasserstein(dataset.train[:n_h], heldout),
                               **moment_errors(heldout, dataset.train)}
    report["solvers"] = {}
    for solver, steps in settings.solvers.items():
        began = time.perf_counter()
        result = model.sample(solver, steps, settings.samples, seed=seed)
        samples = model.decode(result).cpu()
        row = {"steps": steps, "nfe": result.nfe, "n": settings.samples,
               "seconds": time.perf_counter() - began, **moment_errors(samples, dataset.train),
               "sliced_wasserstein": sliced_wasserstein(samples[:n_h], heldout), "sw_points": min(n_h, len(samples))}
        row["pass"] = bool(row["mean_rel_error"] <= MOMENT_TOLERANCE and row["var_rel_error"] <= MOMENT_TOLERANCE
                           and row["sliced_wasserstein"] < report["poisson_baseline"]["sliced_wasserstein"])
        report["solvers"][solver] = row
    proposals = DIGITS_MAX_COUNT * math.prod(dataset.shape) * settings.total
    report["solvers"]["thinning"] = {
        "run": False, "reason": f"exact thinning proposes about x_max * 64 * A_1 = {proposals:.3g} events per "
                                f"image, one NFE per proposal round: not feasible on a CPU"}
    report["thresholds"] = {"mean_rel_error": f"<= {MOMENT_TOLERANCE}", "var_rel_error": f"<= {MOMENT_TOLERANCE}",
                            "sliced_wasserstein": "< poisson_baseline.sliced_wasserstein (same n, held-out data)"}
    report["pass"] = all(row["pass"] for row in report["solvers"].values() if row.get("run", True))
    return report


def markov_acceptance(settings: MarkovSettings, seed: int = 0, progress: bool = False) -> dict:
    """Train the transformer on the Markov corpus and compare its held-out bound with the entropy."""
    dataset = pmm.data.load("markov", **settings.data_options)
    corpus = dataset.corpus
    config = TrainConfig(data="markov", data_options=settings.data_options,
                         schedule={"name": "exponential", "total": settings.total},
                         network={"name": "transformer", "dim": settings.dim, "depth": settings.depth,
                                  "heads": settings.heads},
                         steps=settings.steps, batch_size=settings.batch_size, lr=settings.lr,
                         weighting=settings.weighting, ema_decay=0.99, seed=seed, device="cpu",
                         bound_points=0, sample_points=0)
    began = time.perf_counter()
    model = train(config, progress=progress)
    report = {"settings": asdict(settings), "config": model.config.to_dict(),
              "train_seconds": time.perf_counter() - began, "final_loss": _tail_mean(model.losses)}
    tokens = dataset.heldout[: settings.heldout]
    x = dataset.one_hot(tokens)
    entropy = corpus.entropy_bits_per_token()
    began = time.perf_counter()
    bound = model.bound(x, time_points=settings.time_points, seed=seed)
    report["bound"] = {**bound.to_dict(), "seconds": time.perf_counter() - began}
    oracle = variational_bound(model.family, model.schedule, corpus.predictor(), x.double(),
                               time_points=settings.time_points, generator=torch.Generator().manual_seed(seed))
    report["oracle_bound"] = oracle.to_dict()
    report["entropy_bits_per_token"] = entropy
    report["heldout_nll_bits_per_token"] = bits_per_token(-corpus.log_prob(tokens), corpus.length)
    report["gap_bits_per_token"] = bound.bits_per_dim - entropy
    report["thresholds"] = {"gap_bits_per_token": f"|bound - entropy| <= {BITS_TOLERANCE}"}
    report["pass"] = bool(abs(report["gap_bits_per_token"]) <= BITS_TOLERANCE)
    return report


def _tail_mean(losses: list[float], last: int = 100) -> float:
    tail = losses[-last:]
    return sum(tail) / len(tail)


def run(quick: bool = False, seed: int = 0, progress: bool = False) -> dict:
    """Both acceptance checks (``QUICK`` settings when ``quick``) and their overall verdict."""
    digits_settings, markov_settings = QUICK if quick else (DigitsSettings(), MarkovSettings())
    report = {"mode": "quick" if quick else "full", "seed": seed, "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "load_average_start": list(os.getloadavg())}
    began = time.perf_counter()
    report["digits"] = digits_acceptance(digits_settings, seed, progress)
    report["markov"] = markov_acceptance(markov_settings, seed, progress)
    report["seconds"] = time.perf_counter() - began
    report["load_average_end"] = list(os.getloadavg())
    report["pass"] = report["digits"]["pass"] and report["markov"]["pass"]
    return report


def summary(report: dict) -> str:
    """One line per figure."""
    digits, markov = report["digits"], report["markov"]
    lines = [f"digits: trained {digits['train_seconds']:.0f} s; Poisson baseline SW2 "
             f"{digits['poisson_baseline']['sliced_wasserstein']:.3f}, held-out floor SW2 "
             f"{digits['heldout_floor']['sliced_wasserstein']:.3f}"]
    for solver, row in digits["solvers"].items():
        if row.get("run", True):
            lines.append(f"  {solver} ({row['steps']} steps, NFE {row['nfe']}): "
                         f"mean error {row['mean_rel_error']:.3f}, variance error {row['var_rel_error']:.3f}, "
                         f"SW2 {row['sliced_wasserstein']:.3f} "
                         f"[{'pass' if row['pass'] else 'FAIL'}]")
    lines.append(f"markov: trained {markov['train_seconds']:.0f} s; bound {markov['bound']['bits_per_dim']:.4f} "
                 f"+- {markov['bound']['stderr']:.4f} bits/token, oracle {markov['oracle_bound']['bits_per_dim']:.4f}, "
                 f"entropy {markov['entropy_bits_per_token']:.4f} [{'pass' if markov['pass'] else 'FAIL'}]")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of seconds")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--progress", action="store_true", help="training progress bars")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = run(args.quick, args.seed, args.progress)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("training_cpu_quick.json" if args.quick else "training_cpu.json")
    path.write_text(json.dumps(report, indent=2))
    print(summary(report), flush=True)
    print(f"{'PASS' if report['pass'] else 'FAIL'}; wrote {path}", flush=True)
    return report


if __name__ == "__main__":
    main()
