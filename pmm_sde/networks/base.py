"""What every network shares: a predictor ``net(mu, A) -> xhat`` conditioned on the information A.

``forward`` normalises A against mu (``information``), preconditions the state, runs the body in
the parameters' dtype and returns xhat in mu's dtype and device. A subclass implements
``body(r, A_units) -> F`` where ``A_units`` holds one information value per unit the body
conditions on (one per sample, or one per position), and sets ``config``: a JSON-serialisable
dict with ``"name"`` and the constructor's arguments, so that ``networks.build(config)`` rebuilds it.
"""

from __future__ import annotations

import torch
from torch import nn

from ..families import ConjugateFamily
from .heads import BoundedPositiveHead, make_head
from .preconditioning import make_preconditioner, preconditioning_for


def information(mu: torch.Tensor, A: torch.Tensor | float) -> torch.Tensor:
    """A in mu's dtype and device, shaped to broadcast elementwise against ``mu`` ``(n, ...)``.

    Accepted: a scalar (one value for the whole batch), shape ``(n,)`` (one per sample), or a
    tensor with mu's number of dimensions that broadcasts to mu's shape (``(n, 1, ...)``,
    per position ``(n, L, 1)``, per coordinate).
    """
    A = torch.as_tensor(A, dtype=mu.dtype, device=mu.device)
    if A.dim() == 0:
        return A.reshape((1,) * mu.dim())
    if A.dim() == 1 and mu.dim() > 1 and A.shape[0] == mu.shape[0]:
        return A.reshape(-1, *(1,) * (mu.dim() - 1))
    try:
        fits = A.dim() == mu.dim() and torch.broadcast_shapes(A.shape, mu.shape) == mu.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(f"A must be a scalar, shape (n,), or broadcastable to mu's shape {tuple(mu.shape)} with "
                         f"the same number of dimensions, got shape {tuple(A.shape)}")
    return A


class PredictorNetwork(nn.Module):
    """Base class: head, preconditioning, dtype handling (see the module docstring).

    ``xhat_max`` exists (equal to ``x_max``) only when the head is "bounded".
    """

    config: dict

    def __init__(self, head: str, x_max: float | None, family: ConjugateFamily | None, data_mean: float,
                 data_std: float, preconditioning: dict | None):
        super().__init__()
        if family is not None and preconditioning is not None:
            raise ValueError("family and preconditioning: give one or the other, not both")
        self.head_name = head
        self.head = make_head(head, x_max)
        if preconditioning is None:
            preconditioning = preconditioning_for(family, data_mean, data_std)
        self.preconditioner = make_preconditioner(preconditioning, head)
        self.preconditioning = dict(preconditioning)
        if isinstance(self.head, BoundedPositiveHead):
            self.xhat_max = self.head.x_max

    def head_config(self) -> dict:
        """The head and preconditioning entries of ``config``."""
        x_max = self.head.x_max if isinstance(self.head, BoundedPositiveHead) else None
        return {"head": self.head_name, "x_max": x_max, "preconditioning": self.preconditioning}

    def check_state(self, mu: torch.Tensor) -> None:
        """Raise unless ``mu`` is a floating tensor of shape ``(n, *state)``, state in ``state_shapes()``."""
        if not isinstance(mu, torch.Tensor):
            raise ValueError(f"mu must be a tensor, got {type(mu).__name__}")
        if mu.dim() < 1 or tuple(mu.shape[1:]) not in self.state_shapes():
            expected = " or ".join(str((-1, *shape)).replace("-1", "n") for shape in self.state_shapes())
            raise ValueError(f"mu must have shape {expected}, got {tuple(mu.shape)}")
        if not mu.is_floating_point():
            raise ValueError(f"mu must be a floating tensor, got dtype {mu.dtype}")

    def units_information(self, mu: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        """One A per sample, ``(n,)``: the mean of A (shaped by ``information``) over a sample's
        coordinates; A is constant across them for Normal-Normal and Gamma-Poisson. Networks with
        per-position conditioning override this."""
        return A.reshape(A.shape[0], -1).mean(1).expand(mu.shape[0])

    def body(self, r: torch.Tensor, A_units: torch.Tensor) -> torch.Tensor:
        """Raw output ``F`` shaped like ``r``, in the parameters' dtype."""
        raise NotImplementedError

    def state_shapes(self) -> list[tuple[int, ...]]:
        """Accepted shapes of one sample's ``mu``."""
        raise NotImplementedError

    def forward(self, mu: torch.Tensor, A: torch.Tensor | float) -> torch.Tensor:
        self.check_state(mu)
        A = information(mu, A)
        parameter = next(self.parameters())
        r = self.preconditioner.inputs(mu, A).to(parameter)
        raw = self.body(r, self.units_information(mu, A).to(parameter))
        return self.preconditioner.outputs(raw.to(mu), mu, A, self.head)
