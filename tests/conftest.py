import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture
def kernel_calls(monkeypatch):
    """``kernel_calls(name)``: a list that records, for each call of the fused op
    ``pmm_sde.kernels.<name>`` from then on (the solvers step through them), the backend that ran it:
    ``"native"`` or ``"triton"`` for its compiled implementation, ``"torch"`` for its torch reference."""
    from pmm_sde import kernels

    def spy_on(name: str) -> list:
        op, calls = getattr(kernels, name), []

        def recording(backend: str, run):
            def spy(*args):
                calls.append(backend)
                return run(*args)

            return spy

        for backend, run in list(op.implementations.items()):
            monkeypatch.setitem(op.implementations, backend, recording(backend, run))
        monkeypatch.setattr(op, "reference", recording("torch", op.reference))
        return calls

    return spy_on
