"""rnnbook.timing: the one timer of the book and its benchmarks."""

import time

import pytest

from rnnbook import timing


def test_median_times_interleave_the_functions_after_one_warm_up_round():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    times = timing.median_times(fns, repeats=2)
    assert calls == ["a", "b"] * 3 and set(times) == {"a", "b"}


def test_the_wall_clock_sees_sleep_and_the_cpu_clock_does_not():
    def nap():
        time.sleep(0.02)

    assert timing.median_time(nap, repeats=3) >= 0.015  # wall time by default
    assert timing.median_times({"nap": nap}, repeats=3, clock="cpu")["nap"] < 0.015


def test_median_times_refuses_bad_input():
    with pytest.raises(ValueError, match="repeats"):
        timing.median_times({"f": print}, repeats=0)
    with pytest.raises(ValueError, match="clock"):
        timing.median_times({"f": print}, clock="sundial")
    with pytest.raises(TypeError, match="no arguments"):
        timing.median_times({})
