"""One timer for the book and its benchmarks: medians over interleaved repeats.

:func:`median_times` times several functions against each other: one warm-up round, then
``repeats`` rounds that call each function in turn, so that a slow spell of a busy machine
hits all of them alike; the median of each is returned. By default it reads CPU time
(:func:`time.process_time`, this process only, so other programs disturb it less than wall
time; with more than one thread it adds up all threads); ``clock="wall"`` reads
:func:`time.perf_counter`, as a benchmark of multi-threaded code wants.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["median_times", "median_time"]

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def median_times(
    fns: Mapping[Any, Callable[[], object]], repeats: int = 7, clock: str = "cpu"
) -> dict[Any, float]:
    """Median time of each function, in seconds, the functions' repeats interleaved.

    Parameters
    ----------
    fns : dict key -> function of no arguments
    repeats : timed rounds (>= 1); the median over them is returned
    clock : "cpu" (:func:`time.process_time`) or "wall" (:func:`time.perf_counter`)

    Returns
    -------
    dict key -> median seconds per call
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if not isinstance(fns, Mapping) or not fns or not all(callable(f) for f in fns.values()):
        raise TypeError("fns must be a non-empty dict of key -> function of no arguments")
    if clock not in CLOCKS:
        raise ValueError(f"clock must be one of {tuple(CLOCKS)}, got {clock!r}")
    now = CLOCKS[clock]
    seconds: dict[Any, list[float]] = {key: [] for key in fns}
    for round_ in range(repeats + 1):
        for key, fn in fns.items():
            start = now()
            fn()
            if round_:  # round 0 warms up
                seconds[key].append(now() - start)
    return {key: float(np.median(s)) for key, s in seconds.items()}


def median_time(fn: Callable[[], object], repeats: int = 7, clock: str = "wall") -> float:
    """Median time of one function (:func:`median_times` of ``{0: fn}``), wall time by default."""
    return median_times({0: fn}, repeats, clock)[0]
