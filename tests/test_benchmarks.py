"""The benchmark's arithmetic: the matmul count, the timer and the report's targets."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import cells as bench  # noqa: E402


def test_matmul_flop_count():
    # LSTM: forward 2*T*B*(I+H)*4H, backward twice that.
    assert bench.matmul_flops(4) == 3 * 2 * bench.T * bench.B * (bench.I + bench.H) * 4 * bench.H


def test_median_time_is_the_median():
    calls = []
    assert bench.median_time(lambda: calls.append(1), repeats=3) >= 0
    assert len(calls) == 4  # one warm-up call, then the repeats


def test_the_report_states_both_targets():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import run

    rows = {
        (cell, "float32", "1"): bench.Row(cell, "float32", "1", ratio, 1.0)
        for cell, ratio in (("LSTM", 1.4), ("GRU", 1.2))
    }
    lines = run.targets(rows)
    assert "LSTM" in lines[0] and "**1.40x, met**" in lines[0]
    assert "GRU" in lines[1] and "**1.20x, missed**" in lines[1]
