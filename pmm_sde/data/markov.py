"""A synthetic token corpus with exact likelihood and entropy: a stationary first-order Markov chain.

Rows of the transition matrix are drawn as ``P_i ~ Dirichlet(concentration * 1_K)``. A row's
expected entropy is ``psi(K c + 1) - psi(c + 1)`` nats; with ``K = 8`` and the default
``c = 0.5`` that is 2.12 bits (``c = 0.3``: 1.79 bits, ``c = 1``: 2.48 bits), so the entropy rate
is about 2 bits per token, well below the 3 bits of uniform tokens and well above 0: a model has
structure to learn and an exact target to be measured against.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .._validation import positive, positive_int
from ..families import DirichletCategorical
from .dataset import (HELDOUT_STREAM, STRUCTURE_STREAM, TRAIN_STREAM, Dataset, seeded_generator, stream_seed,
                      validate_seed)


def entropy_bits(probs: torch.Tensor) -> torch.Tensor:
    """``-sum_j p_j log2 p_j`` over the last axis (``0 log 0 = 0``)."""
    return -torch.xlogy(probs, probs).sum(-1) / math.log(2.0)


class MarkovCorpus:
    """Sequences ``x_1 ~ pi``, ``x_t | x_{t-1} ~ P[x_{t-1}]`` of ``length`` tokens in ``0..num_classes-1``.

    ``transition`` ``P`` (K, K) is drawn from ``seed``; ``stationary`` ``pi`` solves ``pi P = pi``.
    All quantities are float64.
    """

    def __init__(self, num_classes: int = 8, length: int = 32, seed: int = 0, concentration: float = 0.5):
        self.num_classes = positive_int(num_classes, "num_classes")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.length = positive_int(length, "length")
        self.seed = validate_seed(seed)
        self.concentration = float(positive(concentration, "concentration"))
        rng = np.random.default_rng(stream_seed(self.seed, STRUCTURE_STREAM))
        rows = torch.as_tensor(rng.dirichlet(np.full(self.num_classes, self.concentration), size=self.num_classes),
                               dtype=torch.float64)
        self.transition = rows / rows.sum(-1, keepdim=True)
        self.stationary = self._stationary_law(self.transition)

    @staticmethod
    def _stationary_law(transition: torch.Tensor) -> torch.Tensor:
        """Solve ``(P^T - I) pi = 0`` with ``sum pi = 1`` (the last balance equation replaced by it)."""
        K = transition.shape[0]
        system = transition.T - torch.eye(K, dtype=transition.dtype)
        system[-1] = 1.0
        rhs = torch.zeros(K, dtype=transition.dtype)
        rhs[-1] = 1.0
        pi = torch.linalg.solve(system, rhs).clamp_min(0.0)
        return pi / pi.sum()

    @property
    def entropy_rate_bits(self) -> float:
        """``H_rate = -sum_i pi_i sum_j P_ij log2 P_ij`` bits per token."""
        return float((self.stationary * entropy_bits(self.transition)).sum())

    def entropy_bits_per_token(self, length: int | None = None) -> float:
        """Exact entropy of one sequence per token, ``(H(pi) + (L - 1) H_rate) / L`` bits (default L = length)."""
        length = self.length if length is None else positive_int(length, "length")
        return (float(entropy_bits(self.stationary)) + (length - 1) * self.entropy_rate_bits) / length

    def log_prob(self, tokens: torch.Tensor) -> torch.Tensor:
        """``log pi(x_1) + sum_t log P(x_{t-1}, x_t)`` (nats, float64) per sequence of ``tokens`` ``(n, L)``."""
        tokens = torch.as_tensor(tokens)
        if tokens.dim() != 2 or tokens.shape[1] < 1:
            raise ValueError(f"tokens must have shape (n, L) with L >= 1, got {tuple(tokens.shape)}")
        if tokens.is_floating_point() or tokens.is_complex():
            raise ValueError(f"tokens must be integer class indices, got dtype {tokens.dtype}")
        if bool(((tokens < 0) | (tokens >= self.num_classes)).any()):
            raise ValueError(f"tokens must lie in 0..{self.num_classes - 1}")
        tokens = tokens.long()
        first = torch.log(self.stationary)[tokens[:, 0]]
        steps = torch.log(self.transition)[tokens[:, :-1], tokens[:, 1:]].sum(1)
        return first + steps

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sequences, int64 ``(n, length)``, by inverse-CDF draws from ``generator``."""
        n = positive_int(n, "n")
        uniforms = torch.rand(self.length, n, 1, generator=generator, dtype=torch.float64)
        last = self.num_classes - 1
        tokens = torch.empty(self.length, n, dtype=torch.int64)
        transition_cdf = torch.cumsum(self.transition, 1)
        cdf = torch.cumsum(self.stationary, 0).repeat(n, 1)
        for t in range(self.length):
            tokens[t] = torch.searchsorted(cdf, uniforms[t]).squeeze(1).clamp_max(last)
            cdf = transition_cdf[tokens[t]]
        return tokens.T.contiguous()

    def predictor(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The exact predictor ``E*[x_i | state]`` of the corpus under Poisson-clock evidence (one-hot data).

        A position with an event is revealed (its class is ``argmax mu``, every event carrying x's
        class). For a position i without one, with the nearest revealed positions ``l < i`` (class a)
        and ``r > i`` (class b), the Markov property gives

            p(x_i = k | state) propto [P^(i-l)]_(a, k) [P^(r-i)]_(k, b),

        with ``pi_k`` for the left factor when no position on the left is revealed (the chain is
        stationary) and 1 for the right factor when none on the right is.
        """
        L, K = self.length, self.num_classes
        powers = [torch.eye(K, dtype=torch.float64)]
        for _ in range(L):
            powers.append(powers[-1] @ self.transition)
        powers = torch.stack(powers)
        stationary = self.stationary

        def predict(mu: torch.Tensor, events: torch.Tensor) -> torch.Tensor:
            n = mu.shape[0]
            revealed = torch.broadcast_to(events, (*mu.shape[:-1], 1))[..., 0] > 0
            value = mu.argmax(-1)
            position = torch.arange(L, device=mu.device).expand(n, L)
            left = torch.where(revealed, position, torch.full_like(position, -1)).cummax(1).values
            right = torch.where(revealed, position, torch.full_like(position, L)).flip(1).cummin(1).values.flip(1)
            left_factor = powers[position - left.clamp_min(0), value.gather(1, left.clamp_min(0))]
            left_factor = torch.where((left >= 0).unsqueeze(-1), left_factor, stationary)
            right_value = value.gather(1, right.clamp_max(L - 1)).unsqueeze(-1)
            right_factor = powers[right.clamp_max(L - 1) - position].gather(-1, right_value[..., None].expand(n, L, K, 1))
            right_factor = torch.where((right < L).unsqueeze(-1), right_factor[..., 0], torch.ones_like(left_factor))
            joint = left_factor * right_factor
            return (joint / joint.sum(-1, keepdim=True)).to(mu.dtype)

        return predict

    def __repr__(self) -> str:
        return (f"MarkovCorpus(num_classes={self.num_classes}, length={self.length}, seed={self.seed}, "
                f"concentration={self.concentration:g})")


def load_markov(seed: int = 0, train_size: int = 20_000, heldout_size: int = 5_000, num_classes: int = 8,
                length: int = 32, concentration: float = 0.5) -> Dataset:
    """Sequences of a ``MarkovCorpus(num_classes, length, seed, concentration)`` (``ds.corpus``)."""
    corpus = MarkovCorpus(num_classes, length, seed, concentration)
    train_size, heldout_size = positive_int(train_size, "train_size"), positive_int(heldout_size, "heldout_size")
    return Dataset(name="markov", kind="tokens", form="tokens", shape=(corpus.length,),
                   num_classes=corpus.num_classes, corpus=corpus,
                   train=corpus.sample(train_size, seeded_generator(corpus.seed, TRAIN_STREAM)),
                   heldout=corpus.sample(heldout_size, seeded_generator(corpus.seed, HELDOUT_STREAM)),
                   make_family=lambda: DirichletCategorical(corpus.num_classes),
                   description=f"{corpus!r}: entropy {corpus.entropy_bits_per_token():.3f} bits/token")
