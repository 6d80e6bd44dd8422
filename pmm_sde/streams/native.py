"""Compiled CPU kernels: the draws of ``pmm_sde.streams.reference`` (normal, Poisson) and the fused steps.

The C sources in ``csrc/`` compute the reference's draws element by element (``normal.c``,
``poisson.c``); ``steps.c`` holds the fused steps of :mod:`pmm_sde.kernels.ops`, one pass over
``mu`` and ``xhat`` with the coefficients computed by torch; ``checks.c`` counts invalid
predictions for the samplers' checks; ``events.c`` runs the event-to-event Gamma-oracle
trajectory (``pmm_sde.convergence.oracle_trajectories.gamma_oracle_tau_leap_events``). One thread. How they
agree with the torch reference, and the compiler flags that make them: ``docs/kernels.md``.

The sources are built on first use with the system C compiler (``$CC``, else ``cc``) into a
cache folder (``$PMM_SDE_CACHE``, else ``~/.cache/pmm_sde``) keyed by the sources, flags and CPU,
and loaded with ctypes. ``PMM_SDE_NATIVE=0`` turns them off; where no compiler works,
``native_available()`` is False, ``native_unavailable_reason()`` says why, and the torch path
runs instead.
"""

from __future__ import annotations

import ctypes
import functools
import getpass
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

_SOURCES = Path(__file__).with_name("csrc")
#: Object files and their compiler flags: vector math for Box-Muller; IEEE order for the counts.
_OBJECTS = (("normal.c", ("-O3", "-ffast-math", "-ffp-contract=off")),
            ("poisson.c", ("-O3", "-ffp-contract=off")),
            ("steps.c", ("-O3", "-ffp-contract=off")),
            ("checks.c", ("-O3", "-ffp-contract=off")),
            ("events.c", ("-O3", "-ffp-contract=off")))
#: Tried in order: tuned for this CPU, then generic.
_TARGET_FLAGS = (("-march=native",), ())


def _cpu_identity() -> str:
    """The CPU model and feature flags (``/proc/cpuinfo`` where it exists): a build tuned with
    ``-march=native`` must not be loaded on another CPU sharing the cache."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    wanted = ("model name", "flags", "Features")
    return "\n".join(sorted({line for line in lines if line.split(":")[0].strip() in wanted}))


def _cache_dir() -> Path:
    """``$PMM_SDE_CACHE``, else ``~/.cache/pmm_sde`` when it is writable, else a folder in the
    temporary directory."""
    if os.environ.get("PMM_SDE_CACHE"):
        return Path(os.environ["PMM_SDE_CACHE"])
    home = Path.home() / ".cache" / "pmm_sde"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"pmm_sde-{getpass.getuser()}"


def _compile(compiler: str, target: tuple[str, ...], library: Path) -> None:
    """Compile the sources into the shared library ``library`` (written atomically)."""
    with tempfile.TemporaryDirectory() as build:
        objects = []
        for source, flags in _OBJECTS:
            obj = Path(build) / (source + ".o")
            subprocess.run([compiler, *flags, *target, "-fPIC", "-c", str(_SOURCES / source), "-o", str(obj)],
                           check=True, capture_output=True, text=True)
            objects.append(str(obj))
        built = Path(build) / "libpmm_native.so"
        # No -ffast-math at the link: gcc would add crtfastmath.o, whose constructor turns on
        # flush-to-zero for the whole process.
        subprocess.run([compiler, "-shared", *objects, "-o", str(built), "-lm"],
                       check=True, capture_output=True, text=True)
        library.parent.mkdir(parents=True, exist_ok=True)
        staged = library.with_suffix(f".{os.getpid()}.tmp")
        shutil.copyfile(built, staged)
        os.replace(staged, library)


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    u64, u32, i64, ptr = ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int64, ctypes.c_void_p
    signatures = {}
    for suffix, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        signatures[f"pmm_normal_{suffix}"] = [u64, u32, i64, i64, ptr]
        signatures[f"pmm_poisson_{suffix}"] = [ptr, i64, u64, u32, i64, ptr]
        signatures[f"pmm_gamma_events_{suffix}"] = [i64, ptr, ptr, i64, ctypes.c_double, real, real, u64, ptr]
        signatures[f"pmm_categorical_tau_leap_step_{suffix}"] = [ptr, ptr, ptr, i64, i64, real, real, u64, u32, i64,
                                                                 ptr, ptr]
    for name, argtypes in signatures.items():
        getattr(lib, name).argtypes = argtypes
        getattr(lib, name).restype = None
    for suffix in ("f32", "f64"):
        getattr(lib, f"pmm_count_invalid_{suffix}").argtypes = [ptr, i64, ctypes.c_int]
        getattr(lib, f"pmm_count_invalid_{suffix}").restype = i64
    return lib


@functools.cache
def _load() -> ctypes.CDLL | str:
    """The loaded library, or the reason there is none."""
    if os.environ.get("PMM_SDE_NATIVE", "1") == "0":
        return "turned off by PMM_SDE_NATIVE=0"
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        return f"no C compiler: {compiler!r} is not on PATH (set CC)"
    sources = b"".join((_SOURCES / name).read_bytes() for name in ("philox.h", "draws.h", *(s for s, _ in _OBJECTS)))
    errors = []
    for target in _TARGET_FLAGS:
        key = hashlib.sha256(b"\0".join([sources, repr((_OBJECTS, target, compiler)).encode(),
                                         _cpu_identity().encode(), platform.machine().encode()])).hexdigest()
        library = _cache_dir() / f"pmm_native-{key[:20]}.so"
        try:
            if not library.exists():
                _compile(compiler, target, library)
            return _declare(ctypes.CDLL(str(library)))
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", "") or str(error)
            errors.append(f"{' '.join(target) or 'generic'}: {detail.strip()[:300]}")
    return "the C sources did not build: " + "; ".join(errors)


def native_available() -> bool:
    """Whether the compiled CPU draws are built and loaded (building them on the first call)."""
    return not isinstance(_load(), str)


def native_unavailable_reason() -> str | None:
    """Why the compiled CPU draws are unavailable, or None when they are available."""
    loaded = _load()
    return loaded if isinstance(loaded, str) else None


def _library() -> ctypes.CDLL:
    loaded = _load()
    if isinstance(loaded, str):
        raise RuntimeError(f"backend='native' is unavailable: {loaded}")
    return loaded


def _suffix(dtype: torch.dtype) -> str:
    return "f64" if dtype == torch.float64 else "f32"


def normal(shape: tuple[int, ...], seed: int, counter: int, dtype: torch.dtype, offset: int = 0) -> torch.Tensor:
    """``pmm_sde.streams.reference.normal(shape, seed, counter, dtype=dtype, offset=offset)`` (float32 or
    float64) on the CPU: the normals of elements ``offset .. offset + numel - 1``."""
    out = torch.empty(shape, dtype=dtype)
    getattr(_library(), "pmm_normal_" + _suffix(dtype))(int(seed) & 0xFFFFFFFFFFFFFFFF, int(counter) & 0xFFFFFFFF,
                                                        int(offset), out.numel(), out.data_ptr())
    return out


def poisson(rate: torch.Tensor, seed: int, counter: int, offset: int = 0) -> torch.Tensor:
    """``pmm_sde.streams.reference.poisson(rate, seed, counter, validate=False)`` for a float32 or float64 CPU
    ``rate``, entry ``e`` at element index ``offset + e``: NaN where a rate is negative, NaN or infinite."""
    rate = rate.contiguous()
    out = torch.empty_like(rate)
    getattr(_library(), "pmm_poisson_" + _suffix(rate.dtype))(rate.data_ptr(), rate.numel(),
                                                               int(seed) & 0xFFFFFFFFFFFFFFFF,
                                                               int(counter) & 0xFFFFFFFF, int(offset),
                                                               out.data_ptr())
    return out


def fused_step(step: str, mu: torch.Tensor, xhat: torch.Tensor, coefficients: list[torch.Tensor], seed: int,
               counter: int, offset: int = 0) -> torch.Tensor:
    """The elementwise fused step ``pmm_<step>_step_f32`` / ``_f64`` of ``csrc/steps.c`` on float32
    or float64 CPU tensors ``mu`` and ``xhat`` of one shape, with ``coefficients`` (0-dim tensors of
    mu's dtype) in the order of the op's torch reference (:mod:`pmm_sde.kernels.ops`); entry ``e`` draws
    at element index ``offset + e``. The C signature is ``(mu, xhat, n, coefficient..., seed, counter,
    offset, out)``, declared on first use."""
    mu, xhat = mu.contiguous(), xhat.contiguous()
    out = torch.empty_like(mu)
    function = getattr(_library(), f"pmm_{step}_step_{_suffix(mu.dtype)}")
    if function.argtypes is None:
        real = ctypes.c_double if mu.dtype == torch.float64 else ctypes.c_float
        function.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, *[real] * len(coefficients),
                             ctypes.c_uint64, ctypes.c_uint32, ctypes.c_int64, ctypes.c_void_p]
        function.restype = None
    function(mu.data_ptr(), xhat.data_ptr(), mu.numel(), *(float(c) for c in coefficients),
             int(seed) & 0xFFFFFFFFFFFFFFFF, int(counter) & 0xFFFFFFFF, int(offset), out.data_ptr())
    return out


def categorical_tau_leap_step(mu: torch.Tensor, xhat: torch.Tensor, A: torch.Tensor, coefficients: list[torch.Tensor],
                              seed: int, counter: int, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mu', A')`` of ``pmm_sde.kernels.categorical_tau_leap`` by ``csrc/steps.c``: float32 or float64
    CPU tensors ``mu``, ``xhat`` (K classes on the last axis) and ``A`` (``mu.shape[:-1] + (1,)``);
    ``coefficients = (s0, dA)``, 0-dim tensors of mu's dtype; entry ``e`` draws at element index ``offset + e``."""
    mu, xhat, A = mu.contiguous(), xhat.contiguous(), A.contiguous()
    out, A_out = torch.empty_like(mu), torch.empty_like(A)
    s0, dA = (float(c) for c in coefficients)
    getattr(_library(), "pmm_categorical_tau_leap_step_" + _suffix(mu.dtype))(
        mu.data_ptr(), xhat.data_ptr(), A.data_ptr(), A.numel(), mu.shape[-1], s0, dA,
        int(seed) & 0xFFFFFFFFFFFFFFFF, int(counter) & 0xFFFFFFFF, int(offset), out.data_ptr(), A_out.data_ptr())
    return out, A_out


def gamma_oracle_tau_leap_events(n: int, W: torch.Tensor, w: torch.Tensor, a_star: float, terminal: torch.Tensor,
                                 seed: int) -> torch.Tensor:
    """Terminal ``mu`` of ``pmm_sde.convergence.oracle_trajectories.gamma_oracle_tau_leap_events`` for ``n`` elements, by
    ``csrc/events.c``: ``W`` (steps + 1) and ``w`` (steps) float64 CPU tensors, ``terminal = (a0, b0 + A_K)``
    in the state's dtype (float32 or float64)."""
    W, w = W.contiguous(), w.contiguous()
    out = torch.empty(n, dtype=terminal.dtype)
    a0, lam_K = (float(v) for v in terminal)
    getattr(_library(), "pmm_gamma_events_" + _suffix(terminal.dtype))(
        n, W.data_ptr(), w.data_ptr(), w.numel(), float(a_star), a0, lam_K, int(seed) & 0xFFFFFFFFFFFFFFFF,
        out.data_ptr())
    return out


def count_invalid(x: torch.Tensor, nonnegative: bool) -> int:
    """How many entries of the float32 or float64 CPU tensor ``x`` are NaN or infinite, or (with
    ``nonnegative``) negative: one pass, no tensor created (``csrc/checks.c``)."""
    x = x.contiguous()
    return getattr(_library(), "pmm_count_invalid_" + _suffix(x.dtype))(x.data_ptr(), x.numel(), int(nonnegative))
