"""Targets with exact oracles: ``predictor(mu, A) = E*[x | posterior state (mu, A)]``.

The posterior state ``(mu, A)`` is equivalent to the family's statistic ``S = n(A) mu - n0 mu0``,
whose likelihood given x is closed-form; an oracle is the posterior mean of x under the target
given S. Normal-Normal: ``S | x ~ N(A x, A)``; Gamma-Poisson: ``N | x ~ Poisson(A x)``;
Dirichlet-Categorical: ``c | x ~ prod_k Poisson(A x_k)``, which as a function of x on the simplex
is proportional to ``prod_k x_k^c_k`` (the clock exposure cancels).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import torch

from .._validation import cast_parameter
from ..families import ConjugateFamily

OracleRule = Callable[[ConjugateFamily, dict[str, torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]


class Oracle:
    """A predictor ``xhat(mu, A)`` computed in closed form from the target's parameters.

    ``xhat_max`` bounds every prediction when the target's support is bounded (else ``None``).
    ``broadcastable``: whether data points may have a larger shape than the target's, which then
    applies to each coordinate independently (product targets); a target whose components are
    joint laws of the whole point (mixtures, point masses) needs points of exactly its shape.
    ``state_shaped``: names of parameters that the rule only combines elementwise with the state;
    they are handed to it expanded to the state's shape (contiguous, kept for the last shape seen),
    because torch's elementwise ops are several times slower on a small trailing axis broadcast
    over the batch than on whole tensors. The values are the same either way.
    ``positive``: names of parameters that must stay > 0 when cast to the state's dtype. A cast
    that overflows a parameter to inf (or underflows a positive one to 0) raises a ValueError
    naming it, at the first call in that dtype.
    """

    def __init__(self, family: ConjugateFamily, parameters: dict[str, torch.Tensor], rule: OracleRule,
                 shape: torch.Size, xhat_max: float | None = None, name: str = "oracle",
                 broadcastable: bool = True, state_shaped: tuple[str, ...] = (), positive: tuple[str, ...] = ()):
        self.family = family
        self.positive = tuple(positive)
        self.shape = torch.Size(shape)
        self.broadcastable = broadcastable
        self.parameters = parameters
        self.rule = rule
        self.xhat_max = xhat_max
        self.name = name
        self._cast_cache: dict[tuple[torch.dtype, torch.device], tuple] = {}
        self.state_shaped = tuple(state_shaped)
        self._state_shaped_cache: tuple[tuple, dict[str, torch.Tensor]] | None = None
        self._fitting_shapes: set[torch.Size] = set()

    def _cast(self, mu: torch.Tensor) -> tuple[ConjugateFamily, dict[str, torch.Tensor]]:
        key = (mu.dtype, mu.device)
        if key not in self._cast_cache:
            params = {k: (cast_parameter(v, k, mu.dtype, k in self.positive) if v.is_floating_point() else v
                          ).to(device=mu.device) for k, v in self.parameters.items()}
            self._cast_cache[key] = (self.family.cast(mu), params)
        return self._cast_cache[key]

    def _parameters(self, mu: torch.Tensor) -> tuple[ConjugateFamily, dict[str, torch.Tensor]]:
        """``_cast(mu)`` with the ``state_shaped`` parameters expanded to ``mu.shape``."""
        family, params = self._cast(mu)
        if not self.state_shaped:
            return family, params
        key = (mu.dtype, mu.device, mu.shape)
        if self._state_shaped_cache is None or self._state_shaped_cache[0] != key:
            expanded = {name: params[name].expand(mu.shape).contiguous() for name in self.state_shaped}
            self._state_shaped_cache = (key, params | expanded)
        return family, self._state_shaped_cache[1]

    def _check_data_shape(self, data_shape: torch.Size) -> None:
        """Raise unless points of ``data_shape`` fit the target (remembered once a shape fits)."""
        if data_shape in self._fitting_shapes:
            return
        fits = (len(self.shape) <= len(data_shape)
                and all(t in (1, d) for t, d in zip(reversed(self.shape), reversed(data_shape))))
        if not fits or not (self.broadcastable or data_shape == self.shape):
            rule = "" if self.broadcastable else " exactly (its components are joint laws of a whole point)"
            raise ValueError(f"mu: the target's data shape is {tuple(self.shape)}, but mu holds points of "
                             f"shape {tuple(data_shape)}; points must have the target's shape{rule} "
                             f"(pass shape= to the sampler, or give the target parameters of that shape)")
        self._fitting_shapes.add(data_shape)

    def __call__(self, mu: torch.Tensor, A: torch.Tensor | float) -> torch.Tensor:
        self._check_data_shape(mu.shape[1:-1] if self.family.has_class_axis else mu.shape[1:])
        family, params = self._parameters(mu)
        A = torch.as_tensor(A, dtype=mu.dtype, device=mu.device)
        S = family.statistic(mu, A)
        A = torch.broadcast_to(A, (*mu.shape[:-1], 1) if family.has_class_axis else mu.shape)
        return self.rule(family, params, S, A)

    def __repr__(self) -> str:
        return f"Oracle({self.name}, {self.family!r})"


def mixture_mean(log_weights: torch.Tensor, component_means: torch.Tensor) -> torch.Tensor:
    """``sum_k softmax(log_weights)_k m_k`` over the component axis 1.

    ``log_weights`` has shape ``(n, K)``, ``component_means`` ``(n, K, *state)``.
    """
    r = torch.softmax(log_weights, dim=1)
    return (r.reshape(*r.shape, *([1] * (component_means.dim() - 2))) * component_means).sum(1)


def sum_event(values: torch.Tensor) -> torch.Tensor:
    """Sum over every axis after the first two (batch, component)."""
    return values.flatten(2).sum(-1) if values.dim() > 2 else values


def counts(S: torch.Tensor) -> torch.Tensor:
    """Event counts from a count statistic, rounded to the integer lattice they live on."""
    return torch.round(S)


class Target(ABC):
    """A data law ``p*`` with exact oracles for the families it supports."""

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws of x (``n``: an integer >= 1), shape ``(n, *shape)`` (``(n, *shape, K)`` one-hot for
        categories)."""

    @abstractmethod
    def _rules(self) -> dict[type, OracleRule]:
        """Closed-form oracle rule for each supported family class."""

    @abstractmethod
    def _oracle_parameters(self) -> dict[str, torch.Tensor]:
        """The tensors the oracle rules read."""

    xhat_max: float | None = None
    #: Shape of one data point (class axis excluded).
    shape: torch.Size = torch.Size()
    #: Whether the components (mixtures, point masses) are joint laws of a whole data point, so
    #: the oracle takes points of exactly ``shape`` rather than any shape it broadcasts to.
    joint_components: bool = False
    #: Parameters that every rule of the target combines elementwise with the state (``Oracle``'s
    #: ``state_shaped``).
    state_shaped_parameters: tuple[str, ...] = ()
    #: Oracle parameters that must stay > 0 in the state's dtype (``Oracle``'s ``positive``).
    positive_parameters: tuple[str, ...] = ()

    def predictor(self, family: ConjugateFamily) -> Oracle:
        """The exact predictor ``E*[x | (mu, A)]`` for ``family``.

        ``family`` must be a family instance the target has an oracle for, whose parameter shape
        fits the target's points: it broadcasts to them (exactly their shape for targets whose
        components are joint laws of a point) or, for product targets, with them.
        """
        rules = self._rules()
        rule = rules.get(type(family))
        if rule is None:
            supported = ", ".join(sorted(cls.__name__ for cls in rules))
            given = f"the class {family.__name__}" if isinstance(family, type) else type(family).__name__
            raise ValueError(f"family: {type(self).__name__} has an oracle for {supported} instances, "
                             f"not for {given}")
        self._check_family(family)
        return Oracle(family, self._oracle_parameters(), rule, self.data_shape(family), self.xhat_max,
                      type(self).__name__, broadcastable=not self.joint_components,
                      state_shaped=self.state_shaped_parameters, positive=self.positive_parameters)

    def _check_family(self, family: ConjugateFamily) -> None:
        """Raise unless ``family``'s parameter shape fits the target's data shape (see ``predictor``)."""
        param_shape, data_shape = family.param_shape(), self.data_shape(family)
        try:
            fits = torch.broadcast_shapes(param_shape, data_shape)
        except RuntimeError:
            fits = None
        if fits is None or (self.joint_components and fits != data_shape):
            rule = "broadcast to" if self.joint_components else "broadcast with"
            raise ValueError(f"family: its parameters have shape {tuple(param_shape)}, which does not {rule} "
                             f"the {type(self).__name__} target's data shape {tuple(data_shape)}")

    def data_shape(self, family: ConjugateFamily) -> torch.Size:
        """Shape of one data point as ``family`` sees it (class axis excluded)."""
        return self.shape

