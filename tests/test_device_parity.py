"""Every solver and chain gives the same numbers on every device and backend.

A run's random numbers are counter-based streams keyed by the seed and the sample's index, so a
run on another backend or device differs from the torch reference on the CPU only in the last bits
of transcendental functions: float64 states within 1e-12 relative, counts (Gamma-Poisson and
Dirichlet-Categorical states) bitwise, and the adaptive solvers' accepted, rejected and evaluated
steps equal. The solvers are every one ``pmm.solvers.available`` lists for each process, so a new
solver is checked without a new test. On the CPU the compiled (``native``) and interpreted-Triton
backends run; with CUDA, the run on the CUDA device (Triton kernels, compiled when
``TRITON_INTERPRET=0``), which ``benchmarks/device_check.sh`` runs on a lent GPU.
"""

import os

os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

import pmm_sde as pmm  # noqa: E402
from test_first_sample import dirichlet_process, gamma_process, small_gamma_process  # noqa: E402
from pmm_sde.solvers.adaptive import AdaptiveSolver  # noqa: E402
from pmm_sde.solvers.base import REGISTRY  # noqa: E402
from pmm_sde.streams import native  # noqa: E402

F64 = torch.float64
INTERPRET = os.environ["TRITON_INTERPRET"] == "1"


def _triton_importable() -> bool:
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def configurations() -> list[tuple[str, str]]:
    """``(device, backend)`` pairs this machine runs, besides the reference ``("cpu", "torch")``."""
    pairs = [("cpu", "native")] if native.native_available() else []
    if INTERPRET and _triton_importable():
        pairs.append(("cpu", "triton"))
    if torch.cuda.is_available():
        pairs.append(("cuda", "auto"))
    return pairs


def normal_process() -> pmm.NormalNormalSDE:
    family = pmm.NormalNormal(0.0, 1.0)
    target = pmm.targets.GaussianMixture([0.3, 0.7], torch.tensor([[-1.0, 1.0], [1.5, -0.5]]),
                                         torch.tensor([[0.3, 0.6], [0.5, 0.4]]))
    return pmm.NormalNormalSDE(family, pmm.schedules.Exponential(50.0), target.predictor(family), shape=(2,))


#: Thinning walks every event: on Gamma-Poisson, a process with few (bounded rates, small exposure).
#: The Gamma-Poisson processes (rates above 30 take the transformed-rejection draws) and the
#: Dirichlet-Categorical one are ``test_first_sample``'s.
PROCESSES = {"normal": normal_process, "gamma": gamma_process, "dirichlet": dirichlet_process,
             "gamma_few_events": small_gamma_process}
CASES = [(name, solver) for name, make in PROCESSES.items() for solver in pmm.solvers.available(make())
         if (solver == "thinning") == (name == "gamma_few_events") or name == "dirichlet"]


def run(process, solver: str, device: str, backend: str) -> pmm.SampleResult:
    """Nine samples from sample 5 on (an offset into the streams), float64."""
    adaptive = issubclass(REGISTRY.get(solver, object), AdaptiveSolver)
    size = dict(rtol=1e-2, atol=1e-2) if adaptive else dict(steps=6)
    return pmm.sample(process, solver, n=9, first_sample=5, seed=21, dtype=F64, device=device, backend=backend, **size)


def test_every_registered_solver_is_checked():
    assert {solver for _, solver in CASES} >= set(REGISTRY)


@pytest.mark.parametrize("device, backend", configurations())
@pytest.mark.parametrize("process_name, solver", CASES)
def test_a_solver_gives_the_reference_numbers_on_every_device_and_backend(process_name, solver, device, backend):
    process = PROCESSES[process_name]()
    reference = run(process, solver, "cpu", "torch")
    other = run(process, solver, device, backend)
    assert other.mu.device.type == device
    assert other.nfe == reference.nfe
    if isinstance(process.family, pmm.NormalNormal):
        torch.testing.assert_close(other.mu.cpu(), reference.mu, rtol=1e-12, atol=1e-12)
    else:
        assert torch.equal(other.mu.cpu(), reference.mu)  # the counts, and so the posterior means, bitwise
    for counts in ("accepted", "rejected", "evaluations"):
        if getattr(reference, counts, None) is not None:
            assert torch.equal(getattr(other, counts).cpu(), getattr(reference, counts))


@pytest.mark.parametrize("device, backend", [pair for pair in configurations() if pair[0] == "cuda"])
def test_the_chains_give_the_cpu_numbers_on_cuda(device, backend):
    cases = [(pmm.NormalNormal(), pmm.targets.Gaussian(torch.ones(3), 0.5)),
             (pmm.GammaPoisson(1.0, 1.0), pmm.targets.Gamma(torch.full((3,), 2.0), 1.5)),
             (pmm.DirichletCategorical(4), pmm.targets.Categorical(torch.full((3, 4), 0.25)))]
    alphas = torch.full((12,), 0.5)
    for family, target in cases:
        cpu = pmm.run_chain(family, alphas, target.predictor(family), n=50, shape=(3,), seed=5, dtype=F64)
        gpu = pmm.run_chain(family, alphas, target.predictor(family), n=50, shape=(3,), seed=5, dtype=F64,
                            device=device)
        if isinstance(family, pmm.NormalNormal):
            torch.testing.assert_close(gpu.mu.cpu(), cpu.mu, rtol=1e-12, atol=1e-12)
        else:
            assert torch.equal(gpu.mu.cpu(), cpu.mu)
