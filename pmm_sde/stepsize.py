"""A PI step-size controller for embedded error estimates, one step size per sample.

For a step of size ``h`` from ``y0`` to ``y1`` with error estimate ``e`` (the difference of an
embedded pair), the scaled error of a sample is the RMS over its entries

    r = sqrt(mean((e / (atol c + rtol max(|y0|, |y1|)))^2)),

``c`` a typical size of y at the step (1 unless the caller knows better: the flow solvers give
``1 + u``, since ``y = u x + z``) and ``y0``, ``y1`` what ``rtol`` is relative to (the adaptive loops
give offsets from the data mean, ``y - u E x`` or ``mu - E x``, so that translating the data changes
no step); the step is accepted when ``r < 1``, and the next step size is ``h`` times

    factor = clip(safety r^(-(pcoeff + icoeff) / k) r_prev^(pcoeff / k), lo, hi),

``k`` the order of the local error (the embedded method's order plus one), ``r_prev`` the scaled
error of the sample's last accepted step (1 before its first), ``[lo, hi] = [1, factormax]`` after
an accepted step and ``[factormin, safety]`` after a rejected one. This is diffrax's
``PIDController`` (Kidger, Neural differential equations, 2021, section 4.4) with ``dcoeff = 0``,
computed per sample so that a sample's steps depend on its own errors only. Powers are taken as
``exp(c log r)``, whose CPU kernels round alike inside and outside a vectorised block (torch's
``pow`` does not), so a sample's step sizes do not depend on the batch size either; their
arguments are kept finite and positive (``RATIO_FLOOR``), so that no ``inf - inf`` arises.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._validation import real_number

#: Scaled errors are bounded to ``[RATIO_FLOOR, 1 / RATIO_FLOOR]`` where they set the factor (which
#: is then clipped at ``factormax`` or ``factormin`` anyway).
RATIO_FLOOR = 1e-10


@dataclass(frozen=True)
class PIController:
    """Per-sample PI control of step sizes (module docstring): ``rtol > 0``, ``atol >= 0``,
    ``pcoeff >= 0``, ``icoeff > 0``, ``0 < factormin < 1``, ``0 < safety < 1``, ``factormax > 1``."""

    rtol: float = 1e-3
    atol: float = 1e-3
    pcoeff: float = 0.4
    icoeff: float = 1.0
    safety: float = 0.9
    factormin: float = 0.2
    factormax: float = 10.0

    def __post_init__(self):
        rules = {"rtol": (lambda v: v > 0, "> 0"), "atol": (lambda v: v >= 0, ">= 0"),
                 "pcoeff": (lambda v: v >= 0, ">= 0"), "icoeff": (lambda v: v > 0, "> 0"),
                 "safety": (lambda v: 0 < v < 1, "in (0, 1)"), "factormin": (lambda v: 0 < v < 1, "in (0, 1)"),
                 "factormax": (lambda v: v > 1, "> 1")}
        for name, (holds, rule) in rules.items():
            value = real_number(getattr(self, name), name)
            if not holds(value):
                raise ValueError(f"{name} must be {rule}, got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)

    def error_ratio(self, error: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor, unit: torch.Tensor | float = 1.0
                    ) -> torch.Tensor:
        """The scaled error ``r`` of each sample (axis 0), shaped ``(n, 1, ..., 1)`` like ``error``'s
        dimensions, with ``atol`` in units of ``unit`` (the typical size of y, one per sample, or 1);
        ``inf`` where ``y1`` or ``error`` is not finite (the step is then rejected)."""
        scale = self.atol * unit + self.rtol * torch.maximum(y0.abs(), y1.abs())
        scaled = error / scale
        ratio = torch.sqrt((scaled * scaled).reshape(len(scaled), -1).mean(1))
        finite = torch.isfinite(y1).reshape(len(y1), -1).all(1) & torch.isfinite(ratio)
        ratio = torch.where(finite, ratio, torch.full_like(ratio, float("inf")))
        return ratio.reshape(-1, *(1,) * (error.dim() - 1))

    def adapt(self, ratio: torch.Tensor, previous: torch.Tensor, error_order: torch.Tensor | float
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(accept, factor, previous')`` per sample from the scaled error ``ratio`` of this step and
        ``previous`` of the last accepted one (module docstring); ``error_order`` is ``k``.
        ``previous'`` is what the next call takes: ``ratio`` where the step is accepted (1 where that
        is 0, so a step with no error does not disturb the next), else ``previous``."""
        accept = ratio < 1
        bounded = ratio.clamp(RATIO_FLOOR, 1 / RATIO_FLOOR)  # no inf or 0 into log and exp (module docstring)
        exponent = (self.pcoeff * torch.log(previous) - (self.pcoeff + self.icoeff) * torch.log(bounded)) / error_order
        proposal = self.safety * torch.exp(exponent)
        low = torch.where(accept, torch.ones_like(ratio), torch.full_like(ratio, self.factormin))
        high = torch.where(accept, torch.full_like(ratio, self.factormax), torch.full_like(ratio, self.safety))
        factor = torch.minimum(torch.maximum(proposal, low), high)
        remembered = torch.where(ratio > 0, bounded, torch.ones_like(ratio))
        return accept, factor, torch.where(accept, remembered, previous)
