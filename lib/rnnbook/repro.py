"""Results that hold on every machine: the pinned numerical environment, and a switch to test it.

Two different things make a stored number differ on another computer, and the book handles
each in its own way.

1. **The last bits of floating-point arithmetic.** NumPy, OpenBLAS, MKL, oneDNN and PyTorch's
   own kernels pick code paths by the processor they find (AVX2, AVX-512, ...), and the
   paths round differently. :data:`PINNED` names one path for each library, the same on
   every x86-64 processor with AVX2 (every Intel and AMD server and laptop since about
   2015, and Colab's machines); :func:`environment` returns it for a child process (the
   notebook kernels of ``make execute`` and nbval), and :func:`pin_torch` sets what must be
   set inside the process. Where they do not apply (an ARM laptop, a CPU without AVX2)
   nothing is pinned, and printed numbers may differ in the last digits shown.
2. **Chaos.** Training amplifies a difference in the last bit into a different loss after a
   few hundred steps. No setting removes that, so the book never rests a claim on it: each
   claim about training holds with a margin, and ``RNNBOOK_PERTURB=1`` tests that it does.
   With it set, :func:`perturb_` multiplies every initial parameter of a model by
   ``1 + 1e-6 * N(0, 1)`` and :func:`data_seed` shifts every data seed by 1000, so every
   model starts from another point and sees other data: ``make test-perturbed``
   re-executes every chapter that way and fails if any claim breaks.

What each pinned setting does and costs is in the table of ``book/performance.md``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable
from pathlib import Path

import numpy as np

__all__ = [
    "PINNED",
    "THREADS",
    "PERTURB_VARIABLE",
    "RELATIVE_PERTURBATION",
    "SEED_SHIFT",
    "environment",
    "pin_torch",
    "perturbed",
    "perturb_",
    "perturb_arrays",
    "data_seed",
]

#: One thread for every math library: results do not depend on how work is split.
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: One code path per library on every x86-64 CPU with AVX2 (see the module docstring).
PINNED = {
    "ATEN_CPU_CAPABILITY": "avx2",  # PyTorch's vectorised kernels (tanh, sigmoid, Adam, ...)
    "MKL_CBWR": "COMPATIBLE",  # MKL (torch's matmuls): one code path on every x86 CPU
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's fused float32 LSTM on CPU)
    "OPENBLAS_CORETYPE": "Haswell",  # NumPy's OpenBLAS kernels (the library's NumPy cells)
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",  # NumPy's own SIMD loops
}

PERTURB_VARIABLE = "RNNBOOK_PERTURB"
RELATIVE_PERTURBATION = 1e-6
SEED_SHIFT = 1000


def _has_avx2(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        flags = next(ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return " avx2" in flags and " fma" in flags


def environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default ``os.environ``) with :data:`THREADS` and, on AVX2 CPUs, :data:`PINNED`.

    A variable already set in ``base`` is kept, so a caller can override one setting
    (``ATEN_CPU_CAPABILITY=avx512 make execute``), and the perturbation switch passes through.
    """
    env = dict(os.environ if base is None else base)
    wanted = {**THREADS, **(PINNED if _has_avx2() else {})}
    for name, value in wanted.items():
        env.setdefault(name, value)
    return env


def pin_torch() -> None:
    """Inside a process: deterministic PyTorch algorithms (called by ``train.deterministic``)."""
    import torch

    torch.use_deterministic_algorithms(True)


def perturbed() -> bool:
    """True when ``RNNBOOK_PERTURB`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(PERTURB_VARIABLE, "") not in ("", "0")


def _generator(seed: int | None) -> np.random.Generator:
    return np.random.default_rng([0 if seed is None else int(seed), 0x5EED])


def perturb_arrays(arrays: Iterable[np.ndarray], seed: int | None = None) -> None:
    """Under ``RNNBOOK_PERTURB``, scale each array in place by ``1 + 1e-6 * N(0, 1)``.

    Otherwise do nothing. The noise is drawn from a generator seeded by ``seed``, so a
    perturbed run is itself repeatable.
    """
    if not perturbed():
        return
    rng = _generator(seed)
    for a in arrays:
        a *= 1 + RELATIVE_PERTURBATION * rng.standard_normal(a.shape).astype(a.dtype)


def perturb_(module, seed: int | None = None):
    """Under ``RNNBOOK_PERTURB``, perturb a ``torch.nn.Module``'s parameters in place; return it."""
    if not perturbed():
        return module
    import torch

    rng = _generator(seed)
    with torch.no_grad():
        for p in module.parameters():
            noise = rng.standard_normal(tuple(p.shape))
            p.mul_(1 + RELATIVE_PERTURBATION * torch.as_tensor(noise, dtype=p.dtype))
    return module


def data_seed(seed):
    """The seed to draw data from: ``seed`` itself, or ``seed + 1000`` under ``RNNBOOK_PERTURB``.

    ``None`` and ``np.random.Generator`` objects pass through unchanged.
    """
    if perturbed() and isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return int(seed) + SEED_SHIFT
    return seed
