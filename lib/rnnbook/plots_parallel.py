"""The figures of chapter 9 (recurrence in parallel), in the book's look (:mod:`rnnbook.plots`).

=====================  ===========================================================
function               shows
=====================  ===========================================================
scan_diagram           which steps each round of a scan combines (T = 8)
scan_timing            time against T for the loop and the scans, log-log
state_orbits           a recurrent state on inputs 1, 1, 1, ...: alternating or not
=====================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from rnnbook import plots, scan

__all__ = ["scan_diagram", "scan_timing", "state_orbits"]

LINESTYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D")


def _new_figure(ncols: int = 1, figsize: tuple[float, float] | None = None):
    fig = plots.BookFigure(figsize=figsize or plots.FIGSIZE, layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, axes


def scan_diagram(
    T: int = 8, methods: Sequence[str] = ("loop", "hillis_steele", "blelloch"), title: str = ""
) -> Figure:
    """One panel per method: positions 1..T across, rounds down; a line for each combine.

    Each round's combines (from :func:`rnnbook.scan.scan_pattern`) are drawn as arrows from
    the source position in the row above to the target in the row of that round; the
    panel's title gives the depth (rounds) and the work (combines).
    """
    if isinstance(T, bool) or not isinstance(T, int) or not 2 <= T <= 32:
        raise ValueError(f"T must be an int in [2, 32] for a readable diagram, got {T!r}")
    names = {"loop": "loop", "hillis_steele": "Hillis-Steele", "blelloch": "Blelloch"}
    for m in methods:
        if m not in names:
            raise ValueError(f"methods must be among {tuple(names)}, got {m!r}")
    with plots.style():
        fig, axes = _new_figure(len(methods), figsize=(7.0, 3.6))
        axes = np.atleast_1d(axes)
        for ax, m, color in zip(axes, methods, plots.PALETTE, strict=False):
            rounds = scan.scan_pattern(m, T)
            depth = len(rounds)
            for r, pairs in enumerate(rounds):
                for src, dst in pairs:
                    ax.annotate(
                        "",
                        xy=(dst + 1, -(r + 1)),
                        xytext=(src + 1, -r),
                        arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.0},
                    )
            for r in range(depth + 1):
                ax.plot(np.arange(1, T + 1), np.full(T, -r), "o", color="0.3", ms=3)
            cost = scan.scan_cost(m, T)
            ax.set_title(f"{names[m]}: depth {cost.depth}, work {cost.work}", fontsize=10)
            ax.set_xlabel("step t")
            ax.set_xticks(range(1, T + 1))
            ax.set_yticks([-r for r in range(depth + 1)], [str(r) for r in range(depth + 1)])
            ax.grid(False)
        axes[0].set_ylabel("round")
        if title:
            fig.suptitle(title)
    return fig


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
        fig, ax = _new_figure()
        for k, (label, s) in enumerate(seconds.items()):
            s = np.asarray(s, dtype=float)
            if s.shape != T.shape:
                raise ValueError(f"seconds[{label!r}] has shape {s.shape}, expected {T.shape}")
            ax.plot(
                T,
                1000 * s,
                ls=LINESTYLES[k % 4],
                marker=MARKERS[k % 4],
                ms=4,
                color=plots.PALETTE[k % len(plots.PALETTE)],
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
        fig, axes = _new_figure(len(states))
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
                    ls=LINESTYLES[j],
                    marker=MARKERS[j],
                    ms=3,
                    color=plots.PALETTE[j],
                    label=f"unit {j + 1}",
                )
            ax.set_title(label, fontsize=10)
            ax.set_xlabel("number of ones read, t")
        axes[0].set_ylabel("state $h_t$")
        axes[-1].legend(fontsize=8)
        fig.suptitle(title)
    return fig
