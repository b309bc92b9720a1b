"""The figures of the gated cells, chapters 3 and 5, in the book's look.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
lstm_trace                 an LSTM unit's inputs, gates, c_t and h_t over time (chapter 3)
gate_trajectories          a GRU's state over time and in the plane, for pinned gates (ch. 5)
=========================  ===============================================================

Each returns a :class:`rnnbook.plots.BookFigure` drawn in :func:`rnnbook.plots.style`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from rnnbook import plots
from rnnbook.plots import LINESTYLES, MARKERS, PALETTE

__all__ = ["lstm_trace", "gate_trajectories"]


_LSTM_TRACE_KEYS = ("x", "i", "f", "g", "o", "c", "h")


def lstm_trace(
    cache: Mapping[str, np.ndarray],
    seq: int = 0,
    unit: int = 0,
    input_labels: Sequence[str] | None = None,
    title: str = "Inside an LSTM cell, step by step",
) -> Figure:
    """Inputs, gates, cell state and hidden state of one LSTM unit over time (chapter 3).

    Three panels share the time axis t = 1 .. T: the inputs :math:`x_t`; the gates
    :math:`i_t, f_t, o_t` and the candidate :math:`\\tilde c_t`; the cell state :math:`c_t`
    and the hidden state :math:`h_t = o_t \\tanh(c_t)`, with the band :math:`(-1, 1)` that
    :math:`h_t` cannot leave (:math:`c_t` can).

    Parameters
    ----------
    cache : the cache of :meth:`rnnbook.cells.LSTMCell.forward`
        Needs ``"x"`` (T, B, I) and ``"i"``, ``"f"``, ``"g"``, ``"o"``, ``"c"``, ``"h"``
        (T, B, H).
    seq, unit : which sequence of the batch and which hidden unit to draw
    input_labels : names of the I input channels (default ``x_1``, ``x_2``, ...)
    title : str
    """
    missing = [k for k in _LSTM_TRACE_KEYS if k not in cache]
    if missing:
        raise ValueError(f"cache must hold {_LSTM_TRACE_KEYS} from LSTMCell.forward; no {missing}")
    x = np.asarray(cache["x"], dtype=float)
    T, B, I = x.shape
    H = np.asarray(cache["h"]).shape[2]
    if not (0 <= seq < B and 0 <= unit < H):
        raise ValueError(f"seq must be in 0..{B - 1} and unit in 0..{H - 1}, got {seq}, {unit}")
    labels = list(input_labels) if input_labels is not None else [f"$x_{k + 1}$" for k in range(I)]
    if len(labels) != I:
        raise ValueError(f"input_labels must have {I} entries, got {len(labels)}")
    v = {k: np.asarray(cache[k], dtype=float)[:, seq, unit] for k in "ifgoch"}
    t = np.arange(1, T + 1)
    with plots.style():
        fig, axes = plots.figure(3, 1, figsize=(7.0, 5.6), sharex=True)
        for k in range(I):
            axes[0].plot(t, x[:, seq, k], drawstyle="steps-mid", label=labels[k])
        axes[0].set_ylabel("input")
        gate_names = {"i": "input gate $i_t$", "f": "forget gate $f_t$", "o": "output gate $o_t$"}
        styles = {"i": "-", "f": "-", "o": ":"}  # o dotted: visible when it equals i
        for k, (g, label) in enumerate(gate_names.items()):
            axes[1].plot(
                t, v[g], color=PALETTE[k], ls=styles[g], lw=2.0, drawstyle="steps-mid", label=label
            )
        axes[1].plot(
            t,
            v["g"],
            color=PALETTE[4],
            ls="--",
            drawstyle="steps-mid",
            label="candidate $\\tilde c_t$",
        )
        axes[1].set_ylim(-1.1, 1.1)
        axes[1].set_ylabel("gate value")
        axes[2].axhspan(-1.0, 1.0, color="0.9", zorder=0, label="range of $h_t$")
        axes[2].plot(t, v["c"], color=PALETTE[2], lw=2.2, label="cell state $c_t$")
        axes[2].plot(t, v["h"], color=PALETTE[3], label="hidden state $h_t$")
        axes[2].set_ylabel("state")
        axes[2].set_xlabel("step t")
        for ax in axes:
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
        axes[0].set_title(title)
    return fig


def gate_trajectories(
    runs: Mapping[str, np.ndarray],
    h0: np.ndarray | None = None,
    highlight: str | None = None,
    title: str = "GRU state for pinned gates",
) -> Figure:
    """Hidden-state trajectories of one cell under several gate settings (GRU chapter).

    Left: the first unit :math:`h_{t,1}` against the step t. Right: the path of
    :math:`(h_{t,1}, h_{t,2})` in the plane, from :math:`h_0` (a black dot). The run named
    ``highlight`` is drawn thick, the others thin, each in its own line style and marker.

    Parameters
    ----------
    runs : dict label -> array (T, H), H >= 2
        Hidden states ``h_1 .. h_T`` of one sequence (``outputs[:, 0]`` of a cell).
    h0 : array (H,), optional
        The initial state, drawn at t = 0 (default zeros).
    highlight : a key of ``runs``, optional
    title : str
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict of label -> (T, H) array")
    hs = {label: np.asarray(h, dtype=float) for label, h in runs.items()}
    shapes = sorted({h.shape for h in hs.values()})
    if len(shapes) != 1 or len(shapes[0]) != 2 or shapes[0][1] < 2:
        raise ValueError(f"every run must be (T, H) with the same T and H >= 2, got {shapes}")
    if highlight is not None and highlight not in hs:
        raise ValueError(f"highlight must be one of {list(hs)}, got {highlight!r}")
    T, H = shapes[0]
    start = np.zeros(H) if h0 is None else np.asarray(h0, dtype=float).reshape(-1)
    if start.shape != (H,):
        raise ValueError(f"h0 must have shape ({H},), got {start.shape}")
    t = np.arange(T + 1)
    with plots.style():
        fig, (ax_t, ax_p) = plots.figure(1, 2, figsize=(7.5, 3.4))
        for k, (label, h) in enumerate(hs.items()):
            path = np.vstack([start, h])
            thick = label == highlight or highlight is None
            kw = {"color": PALETTE[k % len(PALETTE)], "label": label}
            if thick:
                kw.update(lw=2.4, ls="-", marker="o", ms=2.5)
            else:  # each reference its own line style and marker, so none hides another
                kw.update(
                    lw=1.3,
                    ls=LINESTYLES[1 + k % (len(LINESTYLES) - 1)],
                    alpha=0.9,
                    marker=MARKERS[1 + k % (len(MARKERS) - 1)],
                    ms=4,
                    markevery=4,
                )
            ax_t.plot(t, path[:, 0], **kw)
            ax_p.plot(path[:, 0], path[:, 1], **kw)
        ax_p.plot(*start[:2], "o", color="black", ms=6, zorder=5)
        ax_p.annotate("$h_0$", start[:2], xytext=(6, 4), textcoords="offset points")
        ax_t.set(xlabel="step t", ylabel="$h_{t,1}$", title="first unit over time")
        ax_p.set(xlabel="$h_{t,1}$", ylabel="$h_{t,2}$", title="path of the state")
        ax_p.set_aspect("equal", adjustable="datalim")
        fig.legend(*ax_t.get_legend_handles_labels(), loc="outside lower center", ncols=2)
        fig.suptitle(title)
    return fig
