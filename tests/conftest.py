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
    """``kernel_calls(name)``: a list that records the ``backend`` of each call of
    ``pmm_sde.kernels.<name>`` from then on (the solvers call the fused steps there)."""
    from pmm_sde import kernels

    def spy_on(name: str) -> list:
        calls, original = [], getattr(kernels, name)

        def spy(*args, **kwargs):
            calls.append(kwargs.get("backend"))
            return original(*args, **kwargs)

        monkeypatch.setattr(kernels, name, spy)
        return calls

    return spy_on
