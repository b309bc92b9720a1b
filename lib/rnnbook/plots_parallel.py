"""The figures of chapter 9 (recurrence in parallel), in the book's look (:mod:`rnnbook.plots`).

=====================  ===========================================================
function               shows
=====================  ===========================================================
scan_timing            time against T for the loop and the scans, log-log
state_orbits           a recurrent state on inputs 1, 1, 1, ...: alternating or not
=====================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from rnnbook import plots

__all__ = ["scan_timing", "state_orbits"]


def scan_timing(
    T: Sequence[int],
    seconds: Mapping[str, Sequence[float]],
    title: str = "Time against sequence length",
    ylabel: str = "time per call (ms)",
) -> Figure:
    """Milliseconds against T on log-log axes, one line (colour, style and marker) per method.

    Parameters
    ----------
    T : the sequence lengths, (n,)
    seconds : dict label -> seconds per call at each T, (n,)
    """
    T = np.asarray(T)
    if not isinstance(seconds, Mapping) or not seconds:
        raise ValueError("seconds must be a non-empty dict of label -> times")
    with plots.style():
        fig, ax = plots.figure()
        for k, (label, s) in enumerate(seconds.items()):
            s = np.asarray(s, dtype=float)
            if s.shape != T.shape:
                raise ValueError(f"seconds[{label!r}] has shape {s.shape}, expected {T.shape}")
            ax.plot(
                T,
                1000 * s,
                **plots.series(k, marker=True),
                ms=4,
                label=label,
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length T (steps)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return fig


def state_orbits(
    states: Mapping[str, np.ndarray], title: str = "State on the inputs 1, 1, 1, ..."
) -> Figure:
    """One panel per model: the first units of its state against the step.

    Parameters
    ----------
    states : dict label -> array (T, k) of k units over T steps (k <= 4 are drawn)
    """
    if not isinstance(states, Mapping) or not states:
        raise ValueError("states must be a non-empty dict of label -> (T, k) array")
    with plots.style():
        fig, axes = plots.figure(1, len(states))
        axes = np.atleast_1d(axes)
        for ax, (label, h) in zip(axes, states.items(), strict=True):
            h = np.asarray(h, dtype=float)
            if h.ndim != 2:
                raise ValueError(f"states[{label!r}] must be (T, k), got shape {h.shape}")
            steps = np.arange(1, h.shape[0] + 1)
            for j in range(min(4, h.shape[1])):
                ax.plot(
                    steps,
                    h[:, j],
                    **plots.series(j, marker=True),
                    ms=3,
                    label=f"unit {j + 1}",
                )
            ax.set_title(label, fontsize=10)
            ax.set_xlabel("number of ones read, t")
        axes[0].set_ylabel("state $h_t$")
        axes[-1].legend(fontsize=8)
        fig.suptitle(title)
    return fig
