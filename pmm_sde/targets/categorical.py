"""Categorical target (independent positions), with its Dirichlet-Categorical oracle.

x is one-hot with class probabilities ``probs``. Given class counts ``c`` at a position, the
posterior over the class is ``r_j propto p_j prod_k (e_j)_k^c_k``: the prior ``p`` when no event has
arrived, and the one class that holds every event otherwise.

A plug-in chain with finite steps can also reach states the target cannot, with events in
several classes at one position (two events drawn in one step from a frozen ``xhat``). There the
oracle is extended by its limit for nearly one-hot laws ``x_eps = (1 - eps) e_j + eps / K``: as
``eps -> 0`` only the classes with the most events keep weight, ``r_j propto p_j 1[c_j = max_k c_k]``,
which equals the exact oracle on every reachable state.
"""

from __future__ import annotations

import torch

from .._validation import positive_int, real_probability_vectors
from ..families import DirichletCategorical
from .base import Target, counts


def categorical_rule(family, params, S, events):
    """``E*[x | c]``: ``probs`` where no event has arrived, else ``probs`` restricted to the classes
    holding the most events (the one class holding all of them, on every reachable state)."""
    c = counts(S)
    probs = params["probs"].expand_as(c)
    leading = probs * (c == c.amax(-1, keepdim=True)).to(c.dtype)
    return torch.where(counts(events) > 0, leading / leading.sum(-1, keepdim=True), probs)


class Categorical(Target):
    """Independent positions, ``x_i ~ Cat(probs_i)`` one-hot; ``probs`` has shape ``(*shape, K)``."""

    xhat_max = 1.0

    def __init__(self, probs):
        """``probs``: probability vectors (entries >= 0, sum 1) on the last axis, the class axis."""
        self.probs = real_probability_vectors(probs, "probs")
        self.num_classes = self.probs.shape[-1]
        self.shape = self.probs.shape[:-1]

    def sample(self, n, generator=None):
        n = positive_int(n, "n")
        flat = self.probs.reshape(-1, self.num_classes)
        idx = torch.stack([torch.multinomial(p, n, replacement=True, generator=generator) for p in flat], 1)
        one_hot = torch.nn.functional.one_hot(idx, self.num_classes).to(self.probs.dtype)
        return one_hot.reshape(n, *self.shape, self.num_classes)

    def _oracle_parameters(self):
        return {"probs": self.probs}

    def _rules(self):
        return {DirichletCategorical: categorical_rule}

    def _check_family(self, family):
        if family.num_classes != self.num_classes:
            raise ValueError(f"family: num_classes={family.num_classes}, but the Categorical target's probs have "
                             f"{self.num_classes} classes (shape {tuple(self.probs.shape)})")
        super()._check_family(family)
