"""The benchmark's unfused cells compute exactly what the library's fused cells compute,
so the benchmark compares the same work done two ways."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import cells as bench  # noqa: E402
import unfused  # noqa: E402

from rnnbook.cells import GRUCell, LSTMCell, RNNCell  # noqa: E402


@pytest.mark.parametrize(
    "cls, fn", [(LSTMCell, unfused.lstm), (GRUCell, unfused.gru), (RNNCell, unfused.rnn)]
)
def test_unfused_gradients_equal_the_library(cls, fn):
    rng = np.random.default_rng(1)
    cell = cls(3, 5, seed=2)
    x = rng.standard_normal((6, 4, 3))
    d_out = rng.standard_normal((6, 4, 5))
    _, _, cache = cell.forward(x)
    expected = cell.backward(d_out, cache)
    got = fn(cell.params, x, d_out)
    for name in [*cell.params, "x"]:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_matmul_flop_count():
    # LSTM: forward 2*T*B*(I+H)*4H, backward twice that.
    assert bench.matmul_flops(4) == 3 * 2 * bench.T * bench.B * (bench.I + bench.H) * 4 * bench.H


def test_median_time_is_the_median():
    calls = []
    assert bench.median_time(lambda: calls.append(1), repeats=3) >= 0
    assert len(calls) == 4  # one warm-up call, then the repeats
