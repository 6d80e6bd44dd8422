"""What every continuous-time PMM process shares: a family, a schedule and a predictor."""

from __future__ import annotations

import copy
from typing import ClassVar

import torch

from ..chain import Predictor, resolve_shape
from ..families import ConjugateFamily
from ..schedules import Schedule


class PMMProcess(torch.nn.Module):
    """A process driven by ``xhat(mu, A(t))``; subclasses give its coefficients, never a step rule.

    ``shape`` is the shape of one data point (default: the family's parameter shape). A predictor
    that is an ``nn.Module`` is registered as a submodule, so its parameters follow the process.
    A predictor with a ``family`` attribute (an oracle) must have been built for an equal family:
    an oracle reads the state through its own family's prior.
    """

    #: The family classes the process is defined for.
    family_types: ClassVar[tuple[type[ConjugateFamily], ...]] = (ConjugateFamily,)

    def __init__(self, family: ConjugateFamily, schedule: Schedule, predictor: Predictor, shape=None):
        super().__init__()
        if not isinstance(family, self.family_types):
            expected = " or ".join(cls.__name__ for cls in self.family_types)
            given = f"the class {family.__name__}" if isinstance(family, type) else type(family).__name__
            raise ValueError(f"family must be a {expected} instance for {type(self).__name__}, got {given}")
        if not isinstance(schedule, Schedule):
            raise ValueError(f"schedule must be a Schedule, got {type(schedule).__name__}")
        if not callable(predictor):
            raise ValueError(f"predictor must be callable as predictor(mu, A), got {type(predictor).__name__}")
        own = getattr(predictor, "family", None)
        if isinstance(own, ConjugateFamily) and not own.same_as(family):
            raise ValueError(f"predictor was built for {own!r}, not for the process's family {family!r}; "
                             f"build it with target.predictor(family)")
        self.family = family
        self.schedule = schedule
        self.predictor = predictor
        self.shape = resolve_shape(family, shape)

    def state_shape(self, n: int) -> tuple[int, ...]:
        """Shape of the state ``mu`` for ``n`` samples."""
        return (n, *self.family.state_shape(self.shape))

    def cast(self, reference: torch.Tensor) -> "PMMProcess":
        """A shallow copy whose family has the dtype and device of ``reference``."""
        process = copy.copy(self)
        process.__dict__["family"] = self.family.cast(reference)
        return process

    def extra_repr(self) -> str:
        return f"family={self.family!r}, schedule={self.schedule!r}, shape={self.shape}"
