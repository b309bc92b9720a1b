"""The book's diagrams: cells and networks drawn as boxes and arrows, in the book's look.

Each function returns a :class:`rnnbook.plots.BookFigure` (a PNG in any notebook) drawn inside
:func:`rnnbook.plots.style`: white background, the Okabe-Ito colour-blind-safe palette, and
every distinction that colour makes also made by a label or a line style, so that the
diagrams read in grey, in the site's dark mode (figures keep their white background) and at
a phone's 390 px.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
unrolled_graph             an RNN unrolled in time, with its shared weights (chapter 1)
elman_jordan_diagram       what each network feeds back: hidden values or outputs (ch. 1)
deep_bidirectional_diagram a stacked RNN and a bidirectional RNN, unrolled (chapter 1)
lstm_cell_diagram          one LSTM cell: three gates, the candidate, c_t and h_t (ch. 3)
lstm_gradient_paths        every path from c_t to the loss, one step ahead (chapter 4)
gru_cell_diagram           one GRU cell: two gates, the candidate, one state (chapter 5)
encoder_decoder_diagram    an encoder-decoder with attention, on one word (chapter 8)
scan_diagram               which steps each round of a parallel scan combines (chapter 9)
=========================  ===============================================================

"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from rnnbook import plots, scan
from rnnbook.plots import PALETTE, arrow, box, figure, node, style

__all__ = [
    "unrolled_graph",
    "elman_jordan_diagram",
    "deep_bidirectional_diagram",
    "lstm_cell_diagram",
    "lstm_gradient_paths",
    "gru_cell_diagram",
    "encoder_decoder_diagram",
    "scan_diagram",
]

_COLORS = {
    "x": "#cfe3f1",
    "h": "#f6dcb0",
    "y": "#c9e9dd",
    "s": "#f6dcb0",
    "g": "#f6dcb0",
    "n": "#c9e9dd",
}


def _check_T(T: object, high: int = 8) -> int:
    if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= high:
        raise ValueError(f"T must be an int from 1 to {high}, got {T!r}")
    return T


def _curved(ax, start, end, rad, color, ls="-", label=None, offset=(0.0, 0.0)):
    """A curved arrow (``rad`` bends it), optionally labelled near its middle."""
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            lw=1.3,
            color=color,
            ls=ls,
            connectionstyle=f"arc3,rad={rad}",
        )
    )
    if label:
        mx = (start[0] + end[0]) / 2 + offset[0]
        my = (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, label, ha="center", va="center", fontsize=9, color=color)


# --------------------------------------------------------------------------- chapter 1


def elman_jordan_diagram(T: int = 3, title: str | None = None) -> Figure:
    """The Elman and the Jordan network unrolled over ``T`` steps, one above the other.

    Both read :math:`x_t` into a hidden layer :math:`h_t` and write an output :math:`y_t`.
    They differ in what the next step reads (thick vermillion arrows): the Elman network
    feeds back its hidden values, :math:`h_{t-1} \\to h_t` through :math:`W_{hh}`
    (eq. eq-01-elman-h), the Jordan network its outputs, :math:`y_{t-1} \\to h_t` through
    :math:`W_{yh}` (eq. eq-01-jordan). A note recalls that Jordan's own state units also
    had self-connections, which the book's ``JordanRNN`` leaves out.

    Parameters
    ----------
    T : int, 2 .. 5
    title : str, optional
    """
    T = _check_T(T, 5)
    if T < 2:
        raise ValueError(f"T must be an int from 2 to 5, got {T!r}")
    dx = 1.7
    xs = np.arange(T) * dx
    with style():
        fig, ax = figure(figsize=(7.0, 5.4))
        ax.set_axis_off()
        for base, name in ((4.4, "Elman"), (0.0, "Jordan")):
            y_x, y_h, y_y = base, base + 1.4, base + 2.8
            for t, cx in enumerate(xs, start=1):
                box(ax, (cx, y_x), f"$x_{t}$", _COLORS["x"], w=0.8)
                box(ax, (cx, y_h), f"$h_{t}$", _COLORS["h"], w=0.8)
                box(ax, (cx, y_y), f"$y_{t}$", _COLORS["y"], w=0.8)
                arrow(ax, (cx, y_x + 0.3), (cx, y_h - 0.3), color="0.35")
                arrow(ax, (cx, y_h + 0.3), (cx, y_y - 0.3), color="0.35")
                if t == 1:
                    continue
                if name == "Elman":  # the hidden values go to the next step
                    _curved(ax, (cx - dx + 0.42, y_h), (cx - 0.42, y_h), 0.0, PALETTE[3])
                    ax.text(
                        cx - dx / 2,
                        y_h + 0.22,
                        "$W_{hh}$",
                        ha="center",
                        fontsize=9,
                        color=PALETTE[3],
                    )
                else:  # the outputs go to the next step
                    _curved(
                        ax, (cx - dx + 0.42, y_y - 0.2), (cx - 0.42, y_h + 0.2), 0.0, PALETTE[3]
                    )
                    ax.text(
                        cx - dx / 2 + 0.22,
                        (y_h + y_y) / 2 + 0.2,
                        "$W_{yh}$",
                        ha="center",
                        fontsize=9,
                        color=PALETTE[3],
                    )
            what = "hidden values $h_{t-1}$" if name == "Elman" else "outputs $y_{t-1}$"
            ax.text(
                xs[-1] + 0.75,
                y_h,
                f"{name}:\nfeeds back its\n{what}",
                ha="left",
                va="center",
                fontsize=10,
            )
        ax.text(
            xs[-1] + 0.75,
            -0.05,
            "(Jordan's state units\nalso kept a decaying\n"
            "sum of past outputs:\nself-connections,\nleft out here)",
            ha="left",
            va="center",
            fontsize=8,
            color="0.35",
        )
        ax.plot([xs[0] - 0.6, xs[-1] + 3.3], [3.6, 3.6], color="0.75", lw=0.8, ls="--")
        ax.set_xlim(xs[0] - 0.6, xs[-1] + 3.4)
        ax.set_ylim(-0.5, 7.6)
        ax.set_aspect("equal")
        ax.set_title(title or "Elman and Jordan networks differ only in what they feed back")
    return fig


def deep_bidirectional_diagram(T: int = 3, title: str | None = None) -> Figure:
    """A two-layer (stacked) RNN and a bidirectional RNN, each unrolled over ``T`` steps.

    Left (eq. eq-01-stacked): the hidden states :math:`h^{(1)}_t` of layer 1 are the input
    sequence of layer 2, and both layers run left to right. Right
    (eq. eq-01-bidirectional): a forward RNN (:math:`\\overrightarrow{h}_t`, arrows to the
    right, solid) and a backward RNN (:math:`\\overleftarrow{h}_t`, arrows to the left,
    dashed) read the same inputs, and each output stacks both states.

    Parameters
    ----------
    T : int, 2 .. 4
    title : str, optional
    """
    T = _check_T(T, 4)
    if T < 2:
        raise ValueError(f"T must be an int from 2 to 4, got {T!r}")
    dx = 1.25
    fwd, bwd = PALETTE[3], PALETTE[0]
    with style():
        fig, (left, right) = figure(1, 2, figsize=(7.0, 3.9))
        for ax in (left, right):
            ax.set_axis_off()
        xs = np.arange(T) * dx
        for t, cx in enumerate(xs, start=1):  # the stacked RNN
            box(left, (cx, 0.0), f"$x_{t}$", _COLORS["x"], w=0.8)
            box(left, (cx, 1.4), f"$h^{{(1)}}_{t}$", _COLORS["h"], w=0.8)
            box(left, (cx, 2.8), f"$h^{{(2)}}_{t}$", _COLORS["y"], w=0.8)
            arrow(left, (cx, 0.3), (cx, 1.1), color="0.35")
            arrow(left, (cx, 1.7), (cx, 2.5), color="0.35")
            if t > 1:
                for y in (1.4, 2.8):
                    arrow(left, (cx - dx + 0.42, y), (cx - 0.42, y), color=fwd)
        left.text(xs.mean(), 3.55, "layer 2 reads layer 1", ha="center", fontsize=9)
        left.set_xlim(xs[0] - 0.6, xs[-1] + 0.6)
        left.set_ylim(-0.5, 3.8)
        left.set_aspect("equal")
        left.set_title("Deep (stacked): two layers", fontsize=10)
        for t, cx in enumerate(xs, start=1):  # the bidirectional RNN
            box(right, (cx, 0.0), f"$x_{t}$", _COLORS["x"], w=0.8)
            box(right, (cx, 1.15), f"$\\overrightarrow{{h}}_{t}$", _COLORS["h"], w=0.6)
            box(right, (cx, 2.05), f"$\\overleftarrow{{h}}_{t}$", "#e8e8e8", w=0.6)
            box(right, (cx, 3.2), f"$y_{t}$", _COLORS["y"], w=0.8)
            arrow(right, (cx - 0.1, 0.3), (cx - 0.1, 0.87), color="0.35")  # x -> forward
            arrow(right, (cx + 0.4, 0.3), (cx + 0.28, 1.8), color="0.35")  # x -> backward
            arrow(right, (cx - 0.28, 1.43), (cx - 0.4, 2.9), color="0.35")  # fwd -> y
            arrow(right, (cx + 0.1, 2.33), (cx + 0.1, 2.9), color="0.35")  # bwd -> y
            if t > 1:
                _curved(right, (cx - dx + 0.32, 1.15), (cx - 0.32, 1.15), 0.0, fwd)
                _curved(right, (cx - 0.32, 2.05), (cx - dx + 0.32, 2.05), 0.0, bwd, ls="--")
        right.text(
            xs.mean(),
            3.75,
            "$y_t = [\\overrightarrow{h}_t; \\overleftarrow{h}_t]$",
            ha="center",
            fontsize=9,
        )
        right.set_xlim(xs[0] - 0.6, xs[-1] + 0.75)
        right.set_ylim(-0.5, 3.95)
        right.set_aspect("equal")
        right.set_title("Bidirectional: forward and backward", fontsize=10)
        fig.suptitle(title or "Two ways to build a bigger RNN from the same cell")
    return fig


# --------------------------------------------------------------------------- chapter 5


def gru_cell_diagram(title: str | None = None) -> Figure:
    """One GRU cell in PyTorch's form: two gates and a candidate read :math:`[h_{t-1}, x_t]`.

    The reset gate :math:`r_t` and the update gate :math:`z_t` (sigmoid) and the candidate
    :math:`\\tilde h_t` (tanh) each read :math:`h_{t-1}` and :math:`x_t`; the reset gate
    scales the candidate's hidden term, :math:`r_t \\odot (W_{hn} h_{t-1} + b_{hn})`
    (eq. eq-05-n, the reset after the matmul). Along the top line runs the one state:
    :math:`h_t = z_t \\odot h_{t-1} + (1 - z_t) \\odot \\tilde h_t` (eq. eq-05-h). No cell
    state and no output gate: :math:`h_t` is the memory and the output.
    """
    gate, cand = _COLORS["g"], _COLORS["n"]
    with style():
        fig, ax = figure(figsize=(7.0, 3.6))
        ax.set_axis_off()
        top, mid, row, bottom = 3.0, 2.1, 1.15, 0.0
        xz, xr, xn, xplus = 1.5, 3.1, 4.7, 4.7
        ax.text(-0.25, top, "$h_{t-1}$", ha="right", va="center", fontsize=11)
        ax.text(0.75, -0.75, "$x_t$", ha="center", va="center", fontsize=11)
        # the one state: h_{t-1} -> (x z_t) -> (+) -> h_t
        arrow(ax, (-0.2, top), (xz - 0.22, top), color=PALETTE[2])
        arrow(ax, (xz + 0.22, top), (xplus - 0.22, top), color=PALETTE[2])
        arrow(ax, (xplus + 0.22, top), (6.6, top), color=PALETTE[2])
        ax.text(6.7, top, "$h_t$", ha="left", va="center", fontsize=11)
        node(ax, (xz, top), "×")
        node(ax, (xplus, top), "+")
        # h_{t-1} also feeds the gates: down to the input line
        ax.plot([0.3, 0.3], [top, bottom], color="0.2", lw=1.1)
        ax.plot([0.3, xn], [bottom, bottom], color="0.2", lw=1.1)
        ax.plot([0.75, 0.75], [-0.55, bottom], color="0.2", lw=1.1)
        for x, label, color in (
            (xz, "$\\sigma$", gate),
            (xr, "$\\sigma$", gate),
            (xn, "tanh", cand),
        ):
            arrow(ax, (x, bottom), (x, row - 0.28))
            box(ax, (x, row), label, color, w=0.8, h=0.5)
        # the update gate: z_t keeps the old state, 1 - z_t lets the candidate in
        arrow(ax, (xz, row + 0.28), (xz, top - 0.22), None)
        ax.text(xz - 0.12, 1.75, "$z_t$", ha="right", fontsize=10)
        ax.plot([xz, 3.55], [mid, mid], color="0.2", lw=1.1)
        node(ax, (3.8, mid), "1−", r=0.25)
        arrow(ax, (4.05, mid), (xn - 0.22, mid), None)
        ax.text(3.8, mid + 0.38, "$1 - z_t$", ha="center", fontsize=10)
        # the reset gate scales the candidate's hidden term
        arrow(ax, (xr + 0.4, row), (xn - 0.4, row), None, color=PALETTE[3])
        ax.text((xr + xn) / 2, row + 0.17, "$r_t$", ha="center", fontsize=10, color=PALETTE[3])
        ax.text(
            xn + 0.47,
            row - 0.05,
            "$\\tilde h_t$: reads $x_t$ and\n$r_t \\odot (W_{hn} h_{t-1} + b_{hn})$",
            ha="left",
            va="center",
            fontsize=9,
        )
        node(ax, (xn, mid), "×")
        arrow(ax, (xn, row + 0.28), (xn, mid - 0.22), None)
        arrow(ax, (xn, mid + 0.22), (xplus, top - 0.22), None)
        ax.add_patch(
            FancyBboxPatch(
                (0.9, -0.35), 4.4, 3.75, boxstyle="round,pad=0.05", fc="none", ec="0.6", ls="--"
            )
        )
        ax.set_xlim(-1.0, 7.9)
        ax.set_ylim(-0.95, 3.55)
        ax.set_aspect("equal")
        ax.set_title(title or "A GRU cell: two gates and a candidate, one state $h_t$")
    return fig


# --------------------------------------------------------------------------- moved from plots


def unrolled_graph(
    T: int = 4,
    show_outputs: bool = True,
    show_initial: bool = True,
    title: str | None = None,
) -> Figure:
    """The RNN unrolled over ``T`` steps: ``x_t -> h_t -> y_t`` and ``h_{t-1} -> h_t``.

    Every arrow of a kind carries the same weight matrix (``W_xh``, ``W_hh``, ``W_hy``): the
    parameters are shared across time, so the unrolled graph is deep in time but has the
    parameter count of one step.

    Parameters
    ----------
    T : int, 1 .. 8
    show_outputs : draw the ``y_t`` row and ``W_hy``
    show_initial : draw ``h_0`` at the left
    title : str, optional
    """
    if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= 8:
        raise ValueError(f"T must be an int from 1 to 8, got {T!r}")
    colors = {"x": "#cfe3f1", "h": "#f6dcb0", "y": "#c9e9dd"}
    with style():
        fig, ax = figure(figsize=(max(4.0, 1.6 * T + 1.6), 3.5 if show_outputs else 2.6))
        ax.set_axis_off()
        xs = np.arange(1, T + 1) * 1.6
        y_x, y_h, y_y = 0.0, 1.5, 3.0
        if show_initial:
            box(ax, (0.0, y_h), "$h_0$", "white")
        for t, cx in zip(range(1, T + 1), xs, strict=True):
            box(ax, (cx, y_x), f"$x_{t}$", colors["x"])
            box(ax, (cx, y_h), f"$h_{t}$", colors["h"])
            arrow(ax, (cx, y_x + 0.3), (cx, y_h - 0.3), "$W_{xh}$", (0.32, 0.0), PALETTE[0])
            if show_outputs:
                box(ax, (cx, y_y), f"$y_{t}$", colors["y"])
                arrow(ax, (cx, y_h + 0.3), (cx, y_y - 0.3), "$W_{hy}$", (0.32, 0.0), PALETTE[2])
            if t > 1 or show_initial:
                arrow(ax, (cx - 1.15, y_h), (cx - 0.47, y_h), "$W_{hh}$", (0.0, 0.25), PALETTE[3])
        ax.set_xlim(-0.6 if show_initial else 0.8, xs[-1] + 0.6)
        ax.set_ylim(-0.5, (y_y if show_outputs else y_h) + 0.5)
        ax.set_aspect("equal")
        shared = "$W_{xh}$, $W_{hh}$" + (", $W_{hy}$" if show_outputs else "")
        ax.set_title(title or f"An RNN unrolled over {T} steps: {shared} shared by every step")
    return fig


def lstm_gradient_paths(title: str | None = None) -> Figure:
    """Every path from the cell state :math:`c_t` to the loss, one step ahead (chapter 4).

    Forward arrows; the gradient :math:`\\delta_c^t` flows back along each of them.
    :math:`c_t` reaches :math:`c_{t+1}` directly, multiplied by :math:`f_{t+1}` (the
    carousel), and through :math:`h_t = o_t \\odot \\tanh(c_t)`, which feeds the loss at
    step t and the four pre-activations of step t+1 (through :math:`W_{hi}, W_{hf}, W_{hc},
    W_{ho}`): six terms in :math:`\\delta_c^t`, numbered as in the chapter.
    """
    colors = {"c": "#c9e9dd", "h": "#f6dcb0", "a": "#e8e8e8", "l": "#cfe3f1"}
    with style():
        fig, ax = figure(figsize=(7.0, 4.0))
        ax.set_axis_off()
        c_t, c_n, h_t, h_n, loss = (0.0, 3.4), (6.0, 3.4), (1.5, 1.5), (7.6, 1.5), (1.5, 0.0)
        gates = {g: (4.2, y) for g, y in zip("ifco", (2.7, 1.9, 1.1, 0.3), strict=True)}
        box(ax, c_t, "$c_t$", colors["c"])
        box(ax, c_n, "$c_{t+1}$", colors["c"])
        box(ax, h_t, "$h_t$", colors["h"])
        box(ax, h_n, "$h_{t+1}$", colors["h"])
        box(ax, loss, "$\\ell_t$", colors["l"])
        names = {"i": "a_i", "f": "a_f", "c": "a_{\\tilde c}", "o": "a_o"}
        for g, xy in gates.items():
            box(ax, xy, f"${names[g]}^{{t+1}}$", colors["a"], w=1.1, h=0.5)
        green, red, blue = PALETTE[2], PALETTE[3], PALETTE[0]
        arrow(ax, (0.45, 3.4), (5.55, 3.4), "(1) $\\odot f_{t+1}$: the carousel", (0, 0.25), green)
        dh_dc = "$\\odot\\, o_t \\odot \\tanh'(c_t)$"
        arrow(ax, (0.25, 3.1), (1.25, 1.8), dh_dc, (-0.9, -0.1), red)
        arrow(ax, (1.5, 1.2), (1.5, 0.3), "(2) the loss at $t$", (-0.75, 0), blue)
        weights = {"i": "W_{hi}", "f": "W_{hf}", "c": "W_{h\\tilde c}", "o": "W_{ho}"}
        for k, (g, (gx, gy)) in enumerate(gates.items()):
            arrow(ax, (1.95, 1.5), (gx - 0.55, gy), color=red)
            ly = gy + 0.1 if gy > 1.5 else gy - 0.28  # beside the arrowhead, off the line
            ax.text(gx - 0.62, ly, f"({k + 3}) ${weights[g]}$", ha="right", fontsize=9, color=red)
            end = (7.15, 1.5) if g == "o" else (5.7, 3.15)
            arrow(ax, (gx + 0.55, gy), end, None, color="0.55")
        arrow(ax, (6.25, 3.1), (7.4, 1.8), None, color="0.55")
        ax.set_xlim(-0.6, 8.2)
        ax.set_ylim(-0.4, 3.9)
        ax.set_aspect("equal")
        ax.set_title(title or "Six paths from $c_t$ to the loss: the gradient runs back along each")
    return fig


def lstm_cell_diagram(title: str | None = None) -> Figure:
    """One LSTM cell: four blocks read :math:`[h_{t-1}, x_t]`, one cell state runs through.

    The gates :math:`f_t, i_t, o_t` (sigmoid) and the candidate :math:`\\tilde c_t` (tanh)
    each compute ``W_x x_t + W_h h_{t-1} + b``; then
    :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot \\tilde c_t` along the top line and
    :math:`h_t = o_t \\odot \\tanh(c_t)` on the right (chapter 3, eq. eq-03-lstm).
    """
    gate_color, cand_color = "#f6dcb0", "#c9e9dd"
    with style():
        fig, ax = figure(figsize=(7.0, 3.6))
        ax.set_axis_off()
        top, mid, row, bottom = 3.0, 2.1, 1.15, 0.0
        xs = {"f": 1.5, "i": 2.9, "g": 4.1, "o": 5.5}
        labels = {"f": "$\\sigma$", "i": "$\\sigma$", "g": "tanh", "o": "$\\sigma$"}
        names = {"f": "$f_t$", "i": "$i_t$", "g": "$\\tilde c_t$", "o": "$o_t$"}
        ax.text(-0.25, top, "$c_{t-1}$", ha="right", va="center", fontsize=11)
        ax.text(-0.25, bottom, "$h_{t-1}$", ha="right", va="center", fontsize=11)
        ax.text(0.55, -0.75, "$x_t$", ha="center", va="center", fontsize=11)
        # the cell state: straight through, one product and one sum
        arrow(ax, (-0.2, top), (xs["f"] - 0.22, top), color=PALETTE[2])
        arrow(ax, (xs["f"] + 0.22, top), (3.5 - 0.22, top), color=PALETTE[2])
        arrow(ax, (3.5 + 0.22, top), (7.6, top), color=PALETTE[2])
        ax.text(7.7, top, "$c_t$", ha="left", va="center", fontsize=11)
        node(ax, (xs["f"], top), "×")
        node(ax, (3.5, top), "+")
        node(ax, (3.5, mid), "×")
        # the input [h_{t-1}, x_t] feeds all four blocks
        ax.plot([-0.2, xs["o"]], [bottom, bottom], color="0.2", lw=1.1)
        ax.plot([0.55, 0.55], [-0.55, bottom], color="0.2", lw=1.1)
        for g, x in xs.items():
            arrow(ax, (x, bottom), (x, row - 0.28))
            box(ax, (x, row), labels[g], cand_color if g == "g" else gate_color, w=0.8, h=0.5)
        arrow(ax, (xs["f"], row + 0.28), (xs["f"], top - 0.22), None)
        ax.text(xs["f"] + 0.1, 2.25, names["f"], ha="left", fontsize=10)
        arrow(ax, (xs["i"], row + 0.28), (3.5 - 0.2, mid - 0.1), None)
        ax.text(xs["i"] - 0.3, 1.75, names["i"], ha="center", fontsize=10)
        arrow(ax, (xs["g"], row + 0.28), (3.5 + 0.2, mid - 0.1), None)
        ax.text(xs["g"] + 0.3, 1.75, names["g"], ha="center", fontsize=10)
        arrow(ax, (3.5, mid + 0.22), (3.5, top - 0.22), None)
        # the output: h_t = o_t * tanh(c_t)
        tap = 6.6
        arrow(ax, (tap, top), (tap, mid + 0.25), None)
        box(ax, (tap, mid), "tanh", "white", w=0.8, h=0.45)
        node(ax, (tap, row), "×")
        arrow(ax, (tap, mid - 0.23), (tap, row + 0.22), None)
        arrow(ax, (xs["o"] + 0.4, row), (tap - 0.22, row), None)
        ax.text((xs["o"] + tap) / 2 + 0.1, row + 0.12, names["o"], ha="center", fontsize=10)
        arrow(ax, (tap, row - 0.22), (tap, bottom + 0.05), None)
        ax.plot([tap, 7.6], [bottom, bottom], color="0.2", lw=1.1)
        arrow(ax, (7.3, bottom), (7.6, bottom), None)
        ax.text(7.7, bottom, "$h_t$", ha="left", va="center", fontsize=11)
        ax.add_patch(
            FancyBboxPatch(
                (0.9, -0.35), 6.3, 3.75, boxstyle="round,pad=0.05", fc="none", ec="0.6", ls="--"
            )
        )
        ax.set_xlim(-1.0, 8.4)
        ax.set_ylim(-0.95, 3.55)
        ax.set_aspect("equal")
        ax.set_title(title or "An LSTM cell: three gates and a candidate read $h_{t-1}$ and $x_t$")
    return fig


# --------------------------------------------------------------------------- chapter 8


def _curve(ax, start, end, rad: float, color: str, ls: str = "--") -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=10,
            lw=1.0,
            color=color,
            ls=ls,
            connectionstyle=f"arc3,rad={rad}",
        )
    )


def encoder_decoder_diagram(
    source: str = "box",
    target: Sequence[str] = ("B", "AA", "K", "S"),
    attention: bool = True,
    teacher_forcing: bool = True,
    attend_step: int = 0,
    title: str | None = None,
    bidirectional: bool = True,
    end_token: bool = True,
) -> Figure:
    """An encoder-decoder on one example, unrolled: what each part reads and writes.

    Left, the encoder: the letters ``x_j`` (blue) and a bidirectional state ``h_j``
    (orange) for each, joined by arrows both ways. Its final states start the decoder
    (right): states ``s_t`` reading, at the bottom, ``<s>`` and then the previous token,
    writing, at the top, the next token and finally ``</s>``. With ``teacher_forcing`` the
    decoder reads the **reference** ``y_{t-1}`` (training); without it, its **own** output
    ``ŷ_{t-1}``, drawn as arrows from each output to the next input (testing). With
    ``attention``, the dashed arrows of one output step (``attend_step``, from 0) show the
    weights ``α_tj`` on every encoder state that make its context ``c_t``.

    Parameters
    ----------
    source : the input word (1 to 5 letters)
    target : its output tokens (1 to 5), without the end token
    attention, teacher_forcing : bool
    attend_step : the output step whose attention is drawn
    bidirectional : an encoder read both ways (chapter 8) or left to right only (chapter 7)
    end_token : the decoder writes ``</s>`` after the target (chapter 8) or stops after it
    title : str, optional
    """
    if not isinstance(source, str) or not 1 <= len(source) <= 5:
        raise ValueError(f"source must be a word of 1 to 5 letters, got {source!r}")
    target = list(target)
    if not 1 <= len(target) <= 5:
        raise ValueError(f"target must have 1 to 5 tokens, got {len(target)}")
    steps = len(target) + int(bool(end_token))  # the end token too, if there is one
    if not 0 <= attend_step < steps:
        raise ValueError(f"attend_step must be from 0 to {steps - 1}, got {attend_step!r}")
    S, dx = len(source), 1.3
    xe = np.arange(S) * dx
    xd = xe[-1] + 2.2 + np.arange(steps) * dx
    y_in, y_h, y_mix, y_out = 0.0, 1.5, 2.45, 3.5
    outputs = [*target, "</s>"] if end_token else target
    with style():
        fig, ax = figure(figsize=(7.0, 4.0))
        ax.set_axis_off()
        for j, (x, letter) in enumerate(zip(xe, source, strict=True)):
            box(ax, (x, y_in), f"{letter}", _COLORS["x"], w=0.7)
            box(ax, (x, y_h), f"$h_{j + 1}$", _COLORS["h"], w=0.7)
            arrow(ax, (x, y_in + 0.3), (x, y_h - 0.3), color=PALETTE[0])
            if j and bidirectional:  # forward (to the right) and backward recurrences
                arrow(ax, (x - dx + 0.36, y_h + 0.1), (x - 0.36, y_h + 0.1), color=PALETTE[3])
                arrow(ax, (x - 0.36, y_h - 0.1), (x - dx + 0.36, y_h - 0.1), color=PALETTE[4])
            elif j:  # one direction only
                arrow(ax, (x - dx + 0.36, y_h), (x - 0.36, y_h), color=PALETTE[3])
        arrow(ax, (xe[-1] + 0.36, y_h), (xd[0] - 0.36, y_h), None, color="0.2")
        first = f"$s_0 = [\\overrightarrow{{h}}_{S}; \\overleftarrow{{h}}_1]$"
        if not bidirectional:
            first = f"$s_0 = h_{S}$"
        ax.text((xe[-1] + xd[0]) / 2, y_h - 0.4, first, ha="center", fontsize=8)
        for t, x in enumerate(xd):
            if t == 0:
                read = "<s>"
            else:
                read = outputs[t - 1] if teacher_forcing else f"$\\hat y_{t}$"
            box(ax, (x, y_in), read, "white", w=0.8)
            box(ax, (x, y_h), f"$s_{t + 1}$", _COLORS["s"], w=0.7)
            box(ax, (x, y_out), outputs[t], _COLORS["y"], w=0.8)
            arrow(ax, (x, y_in + 0.3), (x, y_h - 0.3), color=PALETTE[0])
            if attention:  # Luong: s~_t = tanh(W_c [c_t; s_t]) feeds the output layer
                box(ax, (x, y_mix), f"$\\tilde s_{t + 1}$", "white", w=0.6, h=0.45)
                arrow(ax, (x, y_h + 0.3), (x, y_mix - 0.24), color=PALETTE[2])
                arrow(ax, (x, y_mix + 0.24), (x, y_out - 0.3), color=PALETTE[2])
            else:
                arrow(ax, (x, y_h + 0.3), (x, y_out - 0.3), color=PALETTE[2])
            if t:
                arrow(ax, (x - dx + 0.36, y_h), (x - 0.36, y_h), color=PALETTE[3])
            if not teacher_forcing and t < steps - 1:  # the output is read back
                _curve(ax, (x + 0.42, y_out - 0.2), (xd[t + 1] - 0.42, y_in + 0.2), 0.0, "0.45")
        if attention:
            xs = xd[attend_step]
            xc = xs - 0.68
            node(ax, (xc, y_mix), "$c$", r=0.2)
            for x in xe:
                _curve(ax, (x + 0.2, y_h + 0.3), (xc - 0.2, y_mix + 0.05), -0.2, PALETTE[1])
            arrow(ax, (xc + 0.2, y_mix), (xs - 0.3, y_mix), color=PALETTE[1])
            ax.text(xe.mean() + 0.4, 2.8, "$\\alpha_{tj}$", color=PALETTE[1], fontsize=10)
        encoder = "encoder (bidirectional)" if bidirectional else "encoder"
        ax.text(xe.mean(), -0.7, encoder, ha="center", fontsize=10)
        reads = "the reference" if teacher_forcing else "its own output"
        ax.text(xd.mean(), -0.7, f"decoder, reading {reads}", ha="center", fontsize=10)
        ax.set_xlim(xe[0] - 0.6, xd[-1] + 0.6)
        ax.set_ylim(-0.95, y_out + 0.45)
        ax.set_aspect("equal")
        mode = "teacher forcing (training)" if teacher_forcing else "free running (testing)"
        what = "with attention" if attention else "without attention"
        ax.set_title(title or f"An encoder-decoder {what}, {mode}")
    return fig


# --------------------------------------------------------------------------- chapter 9


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
        fig, axes = plots.figure(1, len(methods), figsize=(7.0, 3.6))
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
