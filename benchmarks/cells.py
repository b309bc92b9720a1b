"""Forward+backward time of the library's cells against PyTorch, measured in one run.

At the size the issue fixes (T=100, B=32, I=64, H=128) for the LSTM, the GRU and the tanh RNN,
in float32 and float64, on one thread and on all threads: the library's cells and
torch.nn.LSTM/GRU/RNN, each the median of several repeats, interleaved so that the machine's
load falls on both alike (rnnbook.timing; CPU time on one thread). Also the machine's own
matmul throughput, to say how close the library gets.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from rnnbook import timing
from rnnbook.cells import GRUCell, LSTMCell, RNNCell

T, B, I, H = 100, 32, 64, 128
REPEATS = 11
CELLS = {"LSTM": (LSTMCell, torch.nn.LSTM, 4),
         "GRU": (GRUCell, torch.nn.GRU, 3),
         "RNN": (RNNCell, torch.nn.RNN, 1)}  # fmt: skip
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}


def median_time(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of ``fn()`` in seconds, after one warm-up call (:mod:`rnnbook.timing`)."""
    return timing.median_time(fn, repeats, clock="wall")


def matmul_flops(gates: int) -> float:
    """Floating-point operations of the matmuls in one forward+backward (the rest is small).

    Forward: input projection 2*T*B*I*G*H plus hidden 2*T*B*H*G*H. Backward: two matmuls of
    the same size for each forward matmul (the gradient of the input and of the weight).
    """
    forward = 2 * T * B * (I + H) * gates * H
    return 3 * forward


def peak_gflops(dtype: np.dtype, n: int = 2048) -> float:
    """The machine's own matmul throughput: one large NumPy matmul, in GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(dtype)
    seconds = median_time(lambda: a @ a, repeats=5)
    return 2 * n**3 / seconds / 1e9


@dataclass
class Row:
    cell: str
    dtype: str
    threads: str
    library: float
    torch: float

    @property
    def ratio(self) -> float:
        return self.library / self.torch


def measure(cell: str, dtype: str, threads: int) -> Row:
    lib_cls, torch_cls, _ = CELLS[cell]
    np_dtype, torch_dtype = DTYPES[dtype]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np_dtype)
    d_out = rng.standard_normal((T, B, H)).astype(np_dtype)
    lib = lib_cls(I, H, seed=0, dtype=np_dtype)
    module = lib.to_torch().to(torch_dtype)
    xt = torch.from_numpy(x).requires_grad_(True)
    dt = torch.from_numpy(d_out)

    def run_library():
        outputs, _, cache = lib.forward(x)
        return lib.backward(d_out, cache)

    def run_torch():
        outputs, _ = module(xt)
        outputs.backward(dt)

    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads):
        # interleaved repeats; on one thread, CPU time, which the neighbours' load disturbs less
        t = timing.median_times(
            {"library": run_library, "torch": run_torch},
            REPEATS,
            clock="cpu" if threads == 1 else "wall",
        )
        library, torch_s = t["library"], t["torch"]
    label = "1" if threads == 1 else f"all ({threads})"
    return Row(cell, dtype, label, library, torch_s)


def run() -> tuple[list[Row], dict[str, float]]:
    """Every row of the table, and the matmul peaks (GFLOP/s) by dtype and threads."""
    cores = os.cpu_count() or 1
    rows, peaks = [], {}
    for threads in sorted({1, cores}):
        with threadpool_limits(limits=threads):
            for dtype in DTYPES:
                peaks[f"{dtype}, {threads} thread(s)"] = peak_gflops(DTYPES[dtype][0])
        for dtype in DTYPES:
            for cell in CELLS:
                rows.append(measure(cell, dtype, threads))
    return rows, peaks
