"""Preconditioning: what a network body sees of ``(mu, A)`` and how its raw output becomes ``xhat``.

A preconditioner maps the state to a well-scaled input ``r = inputs(mu, A)`` and the body's raw
output ``F`` to the prediction ``xhat = outputs(F, mu, A, head)``. Both run in mu's dtype. Data
statistics ``m_d`` (mean) and ``s_d`` (standard deviation) are numbers from the configuration.

"none": ``r = mu``, ``xhat = head(F)``.

"gaussian" (Normal-Normal, prior ``N(m0, 1/l0)``, head "real"; EDM-like, Karras et al. 2022). The
statistic ``S = (l0 + A) mu - l0 m0`` is ``A x + sqrt(A) eps`` given x, so with x of mean ``m_d``
and variance ``s_d^2`` the centred statistic has variance ``A (1 + A s_d^2)``, and

    r    = (S - A m_d) / sqrt(A (1 + A s_d^2))                       (unit variance at every A),
    xhat = (m_d + s_d^2 S) / (1 + A s_d^2) + s_d / sqrt(1 + A s_d^2) F.

The first term ("c_skip") is the exact posterior mean if x were ``N(m_d, s_d^2)``; the weight of
F ("c_out") is that posterior's standard deviation, so F has unit scale at every A (these are
EDM's c_in, c_skip, c_out with ``sigma^2 = 1/A``). The denominator of r is kept above
``GAUSSIAN_MIN_SCALE`` (at ``A = 0`` S is zero up to roundoff, and xhat does not depend on r).

"activation_skip" (Gamma-Poisson with head "positive"/"bounded", Dirichlet-Categorical with head
"simplex"): ``r = (mu - m_d) / s_d`` and ``xhat = head(head.inverse(mu) + F)``: F is a correction
to the current posterior mean in the head's pre-activation space (``softmax(log mu + F)`` for
the simplex), so ``F = 0`` predicts ``xhat = mu``, which is right once A is large.

"absorbing" (Dirichlet-Categorical on one-hot tokens, head "simplex"; the carry-over of masked
diffusion, MDLM's SUBS parameterisation): inputs as "activation_skip", and

    xhat_i = onehot(argmax_k mu_ik)          where position i has events (A_i > 0),
    xhat_i = softmax(log mu_i + F_i)         where it has none (still at the prior).

Exact for one-hot data: every event of a position carries x's class, so one event reveals x and
``E*[x | state]`` is that class's one-hot; the body only predicts positions without events. Not
for soft (probability-vector) data, where one event does not determine x.
"""

from __future__ import annotations

import torch
from torch import nn

from .._validation import as_float_tensor, positive
from ..families import ConjugateFamily, DirichletCategorical, GammaPoisson, NormalNormal

GAUSSIAN_MIN_SCALE = 1e-4
KINDS = ("none", "gaussian", "activation_skip", "absorbing")
#: Heads each kind accepts.
KIND_HEADS = {"none": ("real", "positive", "bounded", "simplex"), "gaussian": ("real",),
              "activation_skip": ("real", "positive", "bounded", "simplex"), "absorbing": ("simplex",)}


def preconditioning_for(family: ConjugateFamily | None, data_mean: float = 0.0, data_std: float = 1.0,
                        one_hot: bool = False) -> dict:
    """The preconditioning configuration (JSON-serialisable) suited to ``family`` and data statistics;
    ``one_hot``: Dirichlet-Categorical data are one-hot tokens, so revealed positions are copied
    ("absorbing")."""
    if family is None:
        return {"kind": "none"}
    stats = {"data_mean": float(data_mean), "data_std": float(data_std)}
    if isinstance(family, NormalNormal):
        return {"kind": "gaussian", "prior_mean": family.mean.tolist(),
                "prior_precision": family.precision.tolist(), **stats}
    if isinstance(family, DirichletCategorical) and one_hot:
        return {"kind": "absorbing", **stats}
    if isinstance(family, (GammaPoisson, DirichletCategorical)):
        return {"kind": "activation_skip", **stats}
    raise ValueError(f"family must be a NormalNormal, GammaPoisson or DirichletCategorical, got {family!r}")


class Preconditioner(nn.Module):
    """``kind`` "none" (see the module docstring)."""

    kind = "none"

    def inputs(self, mu: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        return mu

    def outputs(self, raw: torch.Tensor, mu: torch.Tensor, A: torch.Tensor, head: nn.Module) -> torch.Tensor:
        return head(raw)


class DataScaled(Preconditioner):
    """Holds the data statistics ``m_d``, ``s_d``."""

    def __init__(self, data_mean: float, data_std: float):
        super().__init__()
        self.data_mean = float(as_float_tensor(data_mean, "data_mean"))
        self.data_std = float(positive(data_std, "data_std"))


class GaussianPreconditioner(DataScaled):
    """``kind`` "gaussian" (see the module docstring)."""

    kind = "gaussian"

    def __init__(self, prior_mean, prior_precision, data_mean: float, data_std: float):
        super().__init__(data_mean, data_std)
        prior_mean = as_float_tensor(torch.as_tensor(prior_mean, dtype=torch.float64), "prior_mean")
        prior_precision = positive(torch.as_tensor(prior_precision, dtype=torch.float64), "prior_precision")
        self.register_buffer("prior_mean", prior_mean, persistent=False)
        self.register_buffer("prior_precision", prior_precision, persistent=False)

    def _statistic(self, mu: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """``S = (l0 + A) mu - l0 m0``."""
        l0, m0 = self.prior_precision.to(mu), self.prior_mean.to(mu)
        return (l0 + A) * mu - l0 * m0

    def inputs(self, mu, A):
        scale = torch.sqrt(A * (1.0 + A * self.data_std ** 2)).clamp_min(GAUSSIAN_MIN_SCALE)
        return (self._statistic(mu, A) - A * self.data_mean) / scale

    def outputs(self, raw, mu, A, head):
        spread = 1.0 + A * self.data_std ** 2
        skip = (self.data_mean + self.data_std ** 2 * self._statistic(mu, A)) / spread
        return skip + self.data_std / torch.sqrt(spread) * head(raw)


class ActivationSkipPreconditioner(DataScaled):
    """``kind`` "activation_skip" (see the module docstring)."""

    kind = "activation_skip"

    def inputs(self, mu, A):
        return (mu - self.data_mean) / self.data_std

    def outputs(self, raw, mu, A, head):
        return head(head.inverse(mu) + raw)


class AbsorbingPreconditioner(ActivationSkipPreconditioner):
    """``kind`` "absorbing" (see the module docstring); ``A`` holds the events per position ``(n, L, 1)``."""

    kind = "absorbing"

    def outputs(self, raw, mu, A, head):
        revealed = nn.functional.one_hot(mu.argmax(-1), mu.shape[-1]).to(mu)
        return torch.where(A > 0, revealed, super().outputs(raw, mu, A, head))


def make_preconditioner(config: dict, head: str) -> Preconditioner:
    """The preconditioner described by ``config`` (from ``preconditioning_for``), checked against ``head``."""
    if not isinstance(config, dict) or config.get("kind") not in KINDS:
        raise ValueError(f"preconditioning must be a dict with 'kind' in {KINDS}, got {config!r}")
    kind = config["kind"]
    if head not in KIND_HEADS[kind]:
        raise ValueError(f"head: preconditioning {kind!r} needs a head in {KIND_HEADS[kind]}, got {head!r}")
    options = {k: v for k, v in config.items() if k != "kind"}
    builder = {"none": Preconditioner, "gaussian": GaussianPreconditioner,
               "activation_skip": ActivationSkipPreconditioner, "absorbing": AbsorbingPreconditioner}[kind]
    try:
        return builder(**options)
    except TypeError as error:
        raise ValueError(f"preconditioning: bad keys for kind {kind!r}: {sorted(options)} ({error})") from None
