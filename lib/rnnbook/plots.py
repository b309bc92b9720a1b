"""The book's figures, with one look.

Every function returns a :class:`matplotlib.figure.Figure` (a :class:`BookFigure`, which
displays as a PNG in any notebook) with a title and labelled axes,
drawn inside :func:`style` (dpi 100, about 7 x 3.5 inches, the Okabe-Ito colour-blind-safe
palette, a light grid). In a notebook, make a figure the last expression of a cell (or pass
it to ``display``) to store it as a PNG; :func:`use_style` applies the look to figures a
chapter draws by hand.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
loss_curves                training losses of several runs (:class:`rnnbook.train.History`)
unrolled_graph             an RNN unrolled in time, with its shared weights
heatmap                    a matrix such as attention weights, with row and column labels
line_log                   several curves on a log scale (gradient norms, w**T)
hidden_state_trajectory    inputs and hidden states of an RNN at every step
dependency_matrices        which outputs of an RNN depend on which inputs (uni-, bidirectional)
gate_trajectories          a GRU's state over time and in the plane, for pinned gates
w_chain                    y_T = w**(T-1) and its derivative over w, log scale (chapter 2)
error_surface              a loss over two parameters, with gradient-descent paths (chapter 2)
adding_sample              one sequence of the adding problem, marked values highlighted
lr_sensitivity             final loss against learning rate for several models (chapter 10)
lstm_cell_diagram          one LSTM cell: three gates, the candidate, c_t and h_t (chapter 3)
lstm_trace                 an LSTM unit's inputs, gates, c_t and h_t over time (chapter 3)
attention_2d               a 2-D query, its keys and the attention weights (chapter 7)
softmax_saturation         largest weight and softmax gradient against the size d (chapter 7)
=========================  ===============================================================
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence

import matplotlib as mpl
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = [
    "PALETTE",
    "RC",
    "BookFigure",
    "style",
    "use_style",
    "loss_curves",
    "unrolled_graph",
    "heatmap",
    "line_log",
    "hidden_state_trajectory",
    "dependency_matrices",
    "gate_trajectories",
    "w_chain",
    "error_surface",
    "lstm_gradient_paths",
    "lstm_cell_diagram",
    "lstm_trace",
    "attention_2d",
    "softmax_saturation",
    "adding_sample",
    "lr_sensitivity",
]

PALETTE = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
]
"""Okabe and Ito's colour-blind-safe palette, in the order the book uses it."""

FIGSIZE = (7.0, 3.5)

RC = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": FIGSIZE,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "legend.frameon": False,
    "image.cmap": "viridis",
}
"""The matplotlib rcParams of every figure in the book."""


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager: draw the figures inside the ``with`` block in the book's look."""
    with mpl.rc_context(RC):
        yield


def use_style() -> None:
    """Apply the book's look to every later figure (a notebook may call it once)."""
    mpl.rcParams.update(RC)


class _PlainLogFormatter(mticker.LogFormatterSciNotation):
    """Label the ticks matplotlib would label on a log axis, but as plain numbers (0.5, 20)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def _log_axis(ax, axis: str = "y") -> None:
    """Log scale with plain tick labels (0.01, 0.5, 1, 20) instead of 5x10^-1."""
    getattr(ax, f"set_{axis}scale")("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(_PlainLogFormatter())
    target.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


class BookFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG in any notebook.

    The book's figures are made without pyplot, so no backend shows them a second time
    and none piles up in pyplot's list of open figures; a notebook displays one when it is
    the value of a cell (or passed to ``display``), through :meth:`_repr_png_`, whatever the
    matplotlib backend (with the inline backend, IPython's own figure formatter is used).
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=self.dpi, bbox_inches="tight")
        return buf.getvalue()


def _figure(
    nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None, **kwargs: object
) -> tuple[Figure, object]:
    """A BookFigure in the current rcParams (call inside :func:`style`) and its axes."""
    fig = BookFigure(figsize=figsize or mpl.rcParams["figure.figsize"], layout="constrained")
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


# --------------------------------------------------------------------------- loss curves


def _moving_average(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1:
        return y
    c = np.cumsum(np.insert(y.astype(float), 0, 0.0))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - window, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def loss_curves(
    histories: Mapping[str, object],
    baseline: float | Mapping[str, float] | None = None,
    x: str = "step",
    logy: bool = True,
    smooth: int = 1,
    title: str = "Training loss",
    ylabel: str = "loss",
) -> Figure:
    """Training loss of several runs against step or wall time.

    Parameters
    ----------
    histories : dict label -> History, or label -> list of History
        A list (several seeds of one model) is drawn as thin lines of one colour with one
        legend entry.
    baseline : float or dict label -> float, optional
        Drawn as dashed horizontal lines (e.g. ``tasks.adding_baseline_mse()``).
    x : "step" or "time"
        Horizontal axis: step number, or cumulative wall time in seconds.
    logy : bool
        Log-scale loss axis.
    smooth : int
        Trailing moving-average window (1 = raw losses).
    title, ylabel : str
    """
    if x not in ("step", "time"):
        raise ValueError(f"x must be 'step' or 'time', got {x!r}")
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError("histories must be a non-empty dict of label -> History (or list)")
    with style():
        fig, ax = _figure()
        for i, (label, runs) in enumerate(histories.items()):
            runs = list(runs) if isinstance(runs, list | tuple) else [runs]
            color = PALETTE[i % len(PALETTE)]
            for j, h in enumerate(runs):
                xs = h.steps if x == "step" else h.time
                ax.plot(
                    xs,
                    _moving_average(np.asarray(h.loss), smooth),
                    color=color,
                    lw=1.6 if len(runs) == 1 else 1.0,
                    alpha=1.0 if len(runs) == 1 else 0.7,
                    label=label if j == 0 else None,
                )
        if baseline is not None:
            items = baseline.items() if isinstance(baseline, Mapping) else [("baseline", baseline)]
            for k, (label, value) in enumerate(items):
                ax.axhline(value, color="0.35", ls=("--", ":", "-.")[k % 3], lw=1.2, label=label)
        if logy:
            _log_axis(ax, "y")
        ax.set_xlabel("training step" if x == "step" else "wall time (s)")
        ax.set_ylabel(ylabel if smooth <= 1 else f"{ylabel} (moving average of {smooth})")
        ax.set_title(title)
        ax.legend()
    return fig


# --------------------------------------------------------------------------- the unrolled graph


def _box(ax, xy, text, color, w=0.9, h=0.55):
    x, y = xy
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            fc=color,
            ec="0.2",
            lw=1.0,
            alpha=0.9,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=11)


def _arrow(ax, start, end, label=None, label_offset=(0.0, 0.0), color="0.2"):
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, lw=1.1, color=color)
    )
    if label:
        mx, my = (
            (start[0] + end[0]) / 2 + label_offset[0],
            (start[1] + end[1]) / 2 + label_offset[1],
        )
        ax.text(mx, my, label, ha="center", va="center", fontsize=9, color=color)


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
        fig, ax = _figure(figsize=(max(4.0, 1.6 * T + 1.6), 3.5 if show_outputs else 2.6))
        ax.set_axis_off()
        xs = np.arange(1, T + 1) * 1.6
        y_x, y_h, y_y = 0.0, 1.5, 3.0
        if show_initial:
            _box(ax, (0.0, y_h), "$h_0$", "white")
        for t, cx in zip(range(1, T + 1), xs, strict=True):
            _box(ax, (cx, y_x), f"$x_{t}$", colors["x"])
            _box(ax, (cx, y_h), f"$h_{t}$", colors["h"])
            _arrow(ax, (cx, y_x + 0.3), (cx, y_h - 0.3), "$W_{xh}$", (0.32, 0.0), PALETTE[0])
            if show_outputs:
                _box(ax, (cx, y_y), f"$y_{t}$", colors["y"])
                _arrow(ax, (cx, y_h + 0.3), (cx, y_y - 0.3), "$W_{hy}$", (0.32, 0.0), PALETTE[2])
            if t > 1 or show_initial:
                _arrow(ax, (cx - 1.15, y_h), (cx - 0.47, y_h), "$W_{hh}$", (0.0, 0.25), PALETTE[3])
        ax.set_xlim(-0.6 if show_initial else 0.8, xs[-1] + 0.6)
        ax.set_ylim(-0.5, (y_y if show_outputs else y_h) + 0.5)
        ax.set_aspect("equal")
        shared = "$W_{xh}$, $W_{hh}$" + (", $W_{hy}$" if show_outputs else "")
        ax.set_title(title or f"An RNN unrolled over {T} steps: {shared} shared by every step")
    return fig


# --------------------------------------------------------------------------- matrices and lines


def heatmap(
    matrix: np.ndarray,
    xlabels: Sequence[object] | None = None,
    ylabels: Sequence[object] | None = None,
    title: str = "Attention weights",
    xlabel: str = "source position",
    ylabel: str = "output step",
    annotate: bool | None = None,
    fmt: str = ".2f",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Figure:
    """A matrix as a heat map, row labels on the left and column labels below.

    For attention weights pass ``weights[:, b, :]`` of :class:`rnnbook.models.Seq2Seq`
    (rows: output steps, columns: source positions), with the tokens as labels.

    Parameters
    ----------
    matrix : array (rows, cols)
    xlabels, ylabels : labels of the columns and rows (default 0, 1, ...)
    annotate : write each value in its cell (default: when the matrix has <= 100 cells)
    fmt : format of the written values (default ".2f")
    cmap, vmin, vmax, colorbar : colour scale
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D (rows, cols), got shape {m.shape}")
    rows, cols = m.shape
    for name, labels, size in (("xlabels", xlabels, cols), ("ylabels", ylabels, rows)):
        if labels is not None and len(labels) != size:
            raise ValueError(f"{name} must have {size} entries, got {len(labels)}")
    annotate = m.size <= 100 if annotate is None else annotate
    with style():
        w = min(7.0, 1.5 + 0.45 * cols)
        h = min(5.0, 1.2 + 0.4 * rows)
        fig, ax = _figure(figsize=(max(w, 3.5), max(h, 2.5)))
        image = ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
        ax.grid(False)
        ax.set_xticks(range(cols), [str(s) for s in xlabels] if xlabels is not None else None)
        ax.set_yticks(range(rows), [str(s) for s in ylabels] if ylabels is not None else None)
        if annotate:
            norm = image.norm
            for i in range(rows):
                for j in range(cols):
                    dark = norm(m[i, j]) < 0.6 if np.isfinite(m[i, j]) else False
                    ax.text(
                        j,
                        i,
                        format(m[i, j], fmt),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="white" if dark else "black",
                    )
        if colorbar:
            fig.colorbar(image, ax=ax, shrink=0.9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
    return fig


def line_log(
    x: np.ndarray,
    ys: Mapping[str, np.ndarray],
    xlabel: str = "step t",
    ylabel: str = "norm",
    title: str = "Gradient norms",
    logy: bool = True,
    logx: bool = False,
    markers: bool = False,
) -> Figure:
    """Several curves over a shared x axis, on a log scale (gradient norms, ``w**T``).

    Zeros and negative values cannot be drawn on a log axis and are left out.

    Parameters
    ----------
    x : array (n,)
    ys : dict label -> array (n,)
    xlabel, ylabel, title : str
    logy, logx : log scale for each axis
    markers : draw a marker at each point
    """
    x = np.asarray(x)
    if not isinstance(ys, Mapping) or not ys:
        raise ValueError("ys must be a non-empty dict of label -> array")
    with style():
        fig, ax = _figure()
        for label, y in ys.items():
            y = np.asarray(y, dtype=float)
            if y.shape != x.shape:
                raise ValueError(f"ys[{label!r}] has shape {y.shape}, expected {x.shape} like x")
            if logy:
                y = np.where(y > 0, y, np.nan)
            ax.plot(x, y, marker="o" if markers else None, ms=3, label=label)
        if logy:
            _log_axis(ax, "y")
        if logx:
            _log_axis(ax, "x")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return fig


def _short(v: float) -> str:
    """A value with at most two decimals and no trailing zeros: 1, 0.5, 0.99, 0 (never -0)."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def hidden_state_trajectory(
    hs: np.ndarray,
    inputs: np.ndarray | None = None,
    title: str = "Hidden state at every step",
    annotate: bool | None = None,
    outputs: np.ndarray | None = None,
) -> Figure:
    """Inputs and hidden states step by step, as two heat maps sharing the time axis.

    Column ``t`` shows ``x_t`` (top) and ``h_t`` (bottom), so a reader can follow how each
    input changes the memory. Colours are centred on 0 (blue negative, red positive).

    Parameters
    ----------
    hs : array (T, H)
        Hidden states ``h_1 .. h_T`` (one sequence; take ``outputs[:, 0]`` of a cell).
    inputs : array (T, I), optional
    annotate : write the values in the cells (default: when there are <= 120 of them)
    outputs : array (T, O), optional
        Outputs ``y_t`` (e.g. a readout's probabilities), drawn as a third heat map below.
    """
    hs = np.asarray(hs, dtype=float)
    if hs.ndim != 2:
        raise ValueError(f"hs must be (T, H), got shape {hs.shape}")
    T, H = hs.shape
    xs = None if inputs is None else np.asarray(inputs, dtype=float)
    if xs is not None and (xs.ndim != 2 or xs.shape[0] != T):
        raise ValueError(f"inputs must be (T, I) with T = {T}, got shape {xs.shape}")
    annotate = (hs.size + (0 if xs is None else xs.size)) <= 120 if annotate is None else annotate
    panels = [("x", xs), ("h", hs)] if xs is not None else [("h", hs)]
    if outputs is not None:
        ys = np.asarray(outputs, dtype=float)
        if ys.ndim != 2 or ys.shape[0] != T:
            raise ValueError(f"outputs must be (T, O) with T = {T}, got shape {ys.shape}")
        panels.append(("y", ys))
    heights = [p.shape[1] for _, p in panels]
    with style():
        fig, axes = _figure(
            len(panels),
            1,
            sharex=True,
            figsize=(min(7.0, 2.0 + 0.7 * T), min(5.0, 1.6 + 0.45 * sum(heights))),
            gridspec_kw={"height_ratios": heights},
            squeeze=False,
        )
        for ax, (name, m) in zip(axes[:, 0], panels, strict=True):
            lim = float(np.nanmax(np.abs(m))) if m.size and np.isfinite(m).any() else 1.0
            lim = lim or 1.0
            image = ax.imshow(m.T, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
            ax.grid(False)
            ax.set_yticks(range(m.shape[1]), [f"${name}_{{t,{i + 1}}}$" for i in range(m.shape[1])])
            one_row = m.shape[1] == 1  # too short for a readable colour bar: write the values
            if annotate or one_row:
                for t in range(T):
                    for i in range(m.shape[1]):
                        strong = abs(m[t, i]) > 0.6 * lim
                        ax.text(
                            t,
                            i,
                            _short(m[t, i]) if one_row else f"{m[t, i]:.3g}",
                            ha="center",
                            va="center",
                            fontsize=8,
                            color="white" if strong else "black",
                        )
            bar = fig.colorbar(image, ax=ax, shrink=0.9, aspect=10)
            if one_row:
                bar.set_ticks([])  # kept (empty) so that the panels stay aligned
            ax.set_ylabel({"x": "input", "h": "hidden", "y": "output"}[name])
        axes[-1, 0].set_xticks(range(T), [str(t) for t in range(1, T + 1)])
        axes[-1, 0].set_xlabel("step t")
        axes[0, 0].set_title(title)
    return fig


# --------------------------------------------------------------------------- dependencies


def dependency_matrices(
    matrices: Mapping[str, np.ndarray],
    title: str = "Which outputs depend on which inputs",
) -> Figure:
    """Side-by-side maps of "output ``y_t`` depends on input ``x_k``", one per network.

    Entry ``[t, k]`` of each matrix is how much output ``t`` changed when input ``k`` was
    perturbed (any nonzero value counts as "depends"). A unidirectional RNN gives a lower
    triangle (``y_t`` sees ``x_1 .. x_t``); a bidirectional one fills the square.

    Parameters
    ----------
    matrices : dict label -> array (T, T)
        Rows: output step t; columns: input step k (both drawn from 1).
    title : str
    """
    if not isinstance(matrices, Mapping) or not matrices:
        raise ValueError("matrices must be a non-empty dict of label -> (T, T) array")
    ms = {label: np.asarray(m, dtype=float) for label, m in matrices.items()}
    for label, m in ms.items():
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"matrices[{label!r}] must be square (T, T), got shape {m.shape}")
    cmap = mpl.colors.ListedColormap(["#eeeeee", PALETTE[0]])
    with style():
        n = len(ms)
        fig, axes = _figure(1, n, figsize=(min(7.0, 2.4 * n + 0.6), 3.6), squeeze=False)
        for ax, (label, m) in zip(axes[0], ms.items(), strict=True):
            T = m.shape[0]
            ax.imshow(np.abs(m) > 0, cmap=cmap, vmin=0, vmax=1)
            ax.grid(False)
            ticks = range(T)
            ax.set_xticks(ticks, [str(k + 1) for k in ticks])
            ax.set_yticks(ticks, [str(t + 1) for t in ticks])
            ax.set_xlabel("input step k")
            ax.set_title(label, fontsize=10)
        axes[0, 0].set_ylabel("output step t")
        handles = [
            mpl.patches.Patch(color=PALETTE[0], label="$y_t$ depends on $x_k$"),
            mpl.patches.Patch(color="#eeeeee", label="does not"),
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=2)
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- GRU gates


def gate_trajectories(
    runs: Mapping[str, np.ndarray],
    h0: np.ndarray | None = None,
    highlight: str | None = None,
    title: str = "GRU state for pinned gates",
) -> Figure:
    """Hidden-state trajectories of one cell under several gate settings (GRU chapter).

    Left: the first unit :math:`h_{t,1}` against the step t. Right: the path of
    :math:`(h_{t,1}, h_{t,2})` in the plane, from :math:`h_0` (a black dot). The run named
    ``highlight`` is drawn thick, the others thin and dashed, as references.

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
    with style():
        fig, (ax_t, ax_p) = _figure(1, 2, figsize=(7.5, 3.4))
        for k, (label, h) in enumerate(hs.items()):
            path = np.vstack([start, h])
            thick = label == highlight or highlight is None
            kw = {"color": PALETTE[k % len(PALETTE)], "label": label}
            kw.update({"lw": 2.4} if thick else {"lw": 1.1, "ls": "--", "alpha": 0.8})
            ax_t.plot(t, path[:, 0], **kw)
            ax_p.plot(path[:, 0], path[:, 1], marker="o" if thick else None, ms=2.5, **kw)
        ax_p.plot(*start[:2], "o", color="black", ms=6, zorder=5)
        ax_p.annotate("$h_0$", start[:2], xytext=(6, 4), textcoords="offset points")
        ax_t.set(xlabel="step t", ylabel="$h_{t,1}$", title="first unit over time")
        ax_p.set(xlabel="$h_{t,1}$", ylabel="$h_{t,2}$", title="path of the state")
        ax_p.set_aspect("equal", adjustable="datalim")
        fig.legend(*ax_t.get_legend_handles_labels(), loc="outside lower center", ncols=2)
        fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- chapter 2: gradients


def w_chain(
    ws: np.ndarray,
    y: np.ndarray,
    dy: np.ndarray,
    T: int,
    marks: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """The w-chain's output :math:`y_T = w^{T-1}` and :math:`|dy_T/dw|` over w, log scale.

    Parameters
    ----------
    ws : array (n,), increasing values of w
    y, dy : arrays (n,), :math:`y_T` and :math:`dy_T/dw` at each w (e.g. from
        :func:`rnnbook.gradients.one_unit_chain`); zeros are left out (log scale)
    T : int, the sequence length (for the labels)
    marks : dict label -> w, optional
        Values of w drawn as dotted vertical lines with a dot on each curve.
    title : str, optional
    """
    ws, y, dy = (np.asarray(a, dtype=float) for a in (ws, y, dy))
    if ws.ndim != 1 or y.shape != ws.shape or dy.shape != ws.shape:
        raise ValueError(
            f"ws, y, dy must be 1-D of one length, got {ws.shape}, {y.shape}, {dy.shape}"
        )
    with style():
        fig, ax = _figure()
        for k, (label, v) in enumerate(
            (
                (f"$y_T = w^{{{T - 1}}}$", y),
                (f"$|dy_T/dw| = {T - 1}\\,|w|^{{{T - 2}}}$", np.abs(dy)),
            )
        ):
            ax.plot(ws, np.where(v > 0, v, np.nan), color=PALETTE[k], label=label)
        for j, (label, w) in enumerate((marks or {}).items()):
            ax.axvline(w, color="0.4", ls=":", lw=1.0)
            for k, v in enumerate((y, np.abs(dy))):
                if np.all(v > 0):  # interpolate on the log scale the curve is drawn on
                    value = float(np.exp(np.interp(w, ws, np.log(v))))
                    ax.plot(w, value, "o", color=PALETTE[k], ms=5)
            ax.annotate(
                label,
                (w, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12 - 11 * j),
                textcoords="offset points",
                fontsize=8,
                color="0.25",
            )
        _log_axis(ax, "y")
        ax.set_xlabel("recurrent weight w")
        ax.set_ylabel("value (log scale)")
        ax.set_title(title or f"The w-chain after T = {T} steps: output and gradient")
        ax.legend(loc="lower right")
    return fig


def error_surface(
    x: np.ndarray,
    y: np.ndarray,
    loss: np.ndarray,
    paths: Mapping[str, np.ndarray] | None = None,
    xlabel: str = "w",
    ylabel: str = "b",
    title: str = "Error surface",
) -> Figure:
    """A loss over two parameters as filled contours of :math:`\\log_{10}` loss, with paths.

    Parameters
    ----------
    x, y : arrays (nx,), (ny,), the grid of the two parameters
    loss : array (ny, nx), loss at ``(x[j], y[i])`` in row i, column j (as ``np.meshgrid``)
    paths : dict label -> array (steps + 1, 2), optional
        Gradient-descent paths in the same plane (e.g. from :func:`rnnbook.gradients.descend`),
        drawn as lines with a dot at each step and a square at the start; steps that leave
        the grid leave the picture.
    xlabel, ylabel, title : str
    """
    x, y, loss = (np.asarray(a, dtype=float) for a in (x, y, loss))
    if x.ndim != 1 or y.ndim != 1 or loss.shape != (y.size, x.size):
        raise ValueError(
            f"loss must have shape (len(y), len(x)) = {(y.size, x.size)}, got {loss.shape}"
        )
    with style():
        fig, ax = _figure(figsize=(7.0, 4.2))
        levels = np.log10(np.maximum(loss, 1e-8))
        image = ax.contourf(x, y, levels, levels=30, cmap="viridis")
        fig.colorbar(image, ax=ax, label="$\\log_{10}$ loss")
        for k, (label, p) in enumerate((paths or {}).items()):
            p = np.asarray(p, dtype=float)
            if p.ndim != 2 or p.shape[1] != 2:
                raise ValueError(f"paths[{label!r}] must have shape (steps + 1, 2), got {p.shape}")
            color = ("white", PALETTE[1], PALETTE[3], PALETTE[5])[k % 4]
            ax.plot(p[:, 0], p[:, 1], "-o", color=color, ms=2.5, lw=1.3, label=label)
            ax.plot(*p[0], "s", color=color, ms=7, mec="black")
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y[0], y[-1])
        ax.grid(False)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if paths:
            ax.legend(loc="lower left", facecolor="0.9", frameon=True, framealpha=0.85)
    return fig


# --------------------------------------------------------------------------- LSTM gradient paths


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
        fig, ax = _figure(figsize=(7.0, 4.0))
        ax.set_axis_off()
        c_t, c_n, h_t, h_n, loss = (0.0, 3.4), (6.0, 3.4), (1.5, 1.5), (7.6, 1.5), (1.5, 0.0)
        gates = {g: (4.2, y) for g, y in zip("ifco", (2.7, 1.9, 1.1, 0.3), strict=True)}
        _box(ax, c_t, "$c_t$", colors["c"])
        _box(ax, c_n, "$c_{t+1}$", colors["c"])
        _box(ax, h_t, "$h_t$", colors["h"])
        _box(ax, h_n, "$h_{t+1}$", colors["h"])
        _box(ax, loss, "$\\ell_t$", colors["l"])
        names = {"i": "a_i", "f": "a_f", "c": "a_{\\tilde c}", "o": "a_o"}
        for g, xy in gates.items():
            _box(ax, xy, f"${names[g]}^{{t+1}}$", colors["a"], w=1.1, h=0.5)
        green, red, blue = PALETTE[2], PALETTE[3], PALETTE[0]
        _arrow(ax, (0.45, 3.4), (5.55, 3.4), "(1) $\\odot f_{t+1}$: the carousel", (0, 0.25), green)
        dh_dc = "$\\odot\\, o_t \\odot \\tanh'(c_t)$"
        _arrow(ax, (0.25, 3.1), (1.25, 1.8), dh_dc, (-0.9, -0.1), red)
        _arrow(ax, (1.5, 1.2), (1.5, 0.3), "(2) the loss at $t$", (-0.75, 0), blue)
        weights = {"i": "W_{hi}", "f": "W_{hf}", "c": "W_{h\\tilde c}", "o": "W_{ho}"}
        for k, (g, (gx, gy)) in enumerate(gates.items()):
            _arrow(ax, (1.95, 1.5), (gx - 0.55, gy), color=red)
            ly = gy + 0.1 if gy > 1.5 else gy - 0.28  # beside the arrowhead, off the line
            ax.text(gx - 0.62, ly, f"({k + 3}) ${weights[g]}$", ha="right", fontsize=9, color=red)
            end = (7.15, 1.5) if g == "o" else (5.7, 3.15)
            _arrow(ax, (gx + 0.55, gy), end, None, color="0.55")
        _arrow(ax, (6.25, 3.1), (7.4, 1.8), None, color="0.55")
        ax.set_xlim(-0.6, 8.2)
        ax.set_ylim(-0.4, 3.9)
        ax.set_aspect("equal")
        ax.set_title(title or "Six paths from $c_t$ to the loss: the gradient runs back along each")
    return fig


# --------------------------------------------------------------------------- chapter 3: LSTM


def _node(ax, xy, symbol, r=0.22):
    """A round operation node (a product or a sum) at ``xy``."""
    from matplotlib.patches import Circle

    ax.add_patch(Circle(xy, r, fc="white", ec="0.2", lw=1.1, zorder=3))
    ax.text(*xy, symbol, ha="center", va="center", fontsize=12, zorder=4)


def lstm_cell_diagram(title: str | None = None) -> Figure:
    """One LSTM cell: four blocks read :math:`[h_{t-1}, x_t]`, one cell state runs through.

    The gates :math:`f_t, i_t, o_t` (sigmoid) and the candidate :math:`\\tilde c_t` (tanh)
    each compute ``W_x x_t + W_h h_{t-1} + b``; then
    :math:`c_t = f_t \\odot c_{t-1} + i_t \\odot \\tilde c_t` along the top line and
    :math:`h_t = o_t \\odot \\tanh(c_t)` on the right (chapter 3, eq. eq-lstm).
    """
    gate_color, cand_color = "#f6dcb0", "#c9e9dd"
    with style():
        fig, ax = _figure(figsize=(7.0, 3.6))
        ax.set_axis_off()
        top, mid, row, bottom = 3.0, 2.1, 1.15, 0.0
        xs = {"f": 1.5, "i": 2.9, "g": 4.1, "o": 5.5}
        labels = {"f": "$\\sigma$", "i": "$\\sigma$", "g": "tanh", "o": "$\\sigma$"}
        names = {"f": "$f_t$", "i": "$i_t$", "g": "$\\tilde c_t$", "o": "$o_t$"}
        ax.text(-0.25, top, "$c_{t-1}$", ha="right", va="center", fontsize=11)
        ax.text(-0.25, bottom, "$h_{t-1}$", ha="right", va="center", fontsize=11)
        ax.text(0.55, -0.75, "$x_t$", ha="center", va="center", fontsize=11)
        # the cell state: straight through, one product and one sum
        _arrow(ax, (-0.2, top), (xs["f"] - 0.22, top), color=PALETTE[2])
        _arrow(ax, (xs["f"] + 0.22, top), (3.5 - 0.22, top), color=PALETTE[2])
        _arrow(ax, (3.5 + 0.22, top), (7.6, top), color=PALETTE[2])
        ax.text(7.7, top, "$c_t$", ha="left", va="center", fontsize=11)
        _node(ax, (xs["f"], top), "×")
        _node(ax, (3.5, top), "+")
        _node(ax, (3.5, mid), "×")
        # the input [h_{t-1}, x_t] feeds all four blocks
        ax.plot([-0.2, xs["o"]], [bottom, bottom], color="0.2", lw=1.1)
        ax.plot([0.55, 0.55], [-0.55, bottom], color="0.2", lw=1.1)
        for g, x in xs.items():
            _arrow(ax, (x, bottom), (x, row - 0.28))
            _box(ax, (x, row), labels[g], cand_color if g == "g" else gate_color, w=0.8, h=0.5)
        _arrow(ax, (xs["f"], row + 0.28), (xs["f"], top - 0.22), None)
        ax.text(xs["f"] + 0.1, 2.25, names["f"], ha="left", fontsize=10)
        _arrow(ax, (xs["i"], row + 0.28), (3.5 - 0.2, mid - 0.1), None)
        ax.text(xs["i"] - 0.3, 1.75, names["i"], ha="center", fontsize=10)
        _arrow(ax, (xs["g"], row + 0.28), (3.5 + 0.2, mid - 0.1), None)
        ax.text(xs["g"] + 0.3, 1.75, names["g"], ha="center", fontsize=10)
        _arrow(ax, (3.5, mid + 0.22), (3.5, top - 0.22), None)
        # the output: h_t = o_t * tanh(c_t)
        tap = 6.6
        _arrow(ax, (tap, top), (tap, mid + 0.25), None)
        _box(ax, (tap, mid), "tanh", "white", w=0.8, h=0.45)
        _node(ax, (tap, row), "×")
        _arrow(ax, (tap, mid - 0.23), (tap, row + 0.22), None)
        _arrow(ax, (xs["o"] + 0.4, row), (tap - 0.22, row), None)
        ax.text((xs["o"] + tap) / 2 + 0.1, row + 0.12, names["o"], ha="center", fontsize=10)
        _arrow(ax, (tap, row - 0.22), (tap, bottom + 0.05), None)
        ax.plot([tap, 7.6], [bottom, bottom], color="0.2", lw=1.1)
        _arrow(ax, (7.3, bottom), (7.6, bottom), None)
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
    with style():
        fig, axes = _figure(3, 1, figsize=(7.0, 5.6), sharex=True)
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


# --------------------------------------------------------------------------- chapter 7: attention


def attention_2d(
    query: np.ndarray,
    keys: np.ndarray,
    weights: np.ndarray,
    key_labels: Sequence[object] | None = None,
    title: str = "Attention weights of a query over keys in the plane",
) -> Figure:
    """A 2-D query and its keys (left) and the attention weights on the keys (right).

    Left: each key :math:`k_j` is a dot whose area and colour grow with its weight
    :math:`\\alpha_j` (written beside it), the query :math:`h_a` an arrow from the origin.
    Right: the weights as bars (they sum to 1). Used by
    :func:`rnnbook.widgets.attention_explorer` (chapter 7).

    Parameters
    ----------
    query : (2,)
    keys : (T, 2)
    weights : (T,), for example from :func:`rnnbook.attention.attend`
    key_labels : names of the keys (default ``k1``, ``k2``, ...)
    title : str
    """
    q = np.asarray(query, dtype=float)
    k = np.asarray(keys, dtype=float)
    w = np.asarray(weights, dtype=float)
    if q.shape != (2,) or k.ndim != 2 or k.shape[1] != 2 or w.shape != (k.shape[0],):
        raise ValueError(
            f"expected query (2,), keys (T, 2) and weights (T,), got {q.shape}, {k.shape}, "
            f"{w.shape}"
        )
    T = k.shape[0]
    labels = [f"k{j + 1}" for j in range(T)] if key_labels is None else list(key_labels)
    if len(labels) != T:
        raise ValueError(f"key_labels must have {T} entries, got {len(labels)}")
    with style():
        fig, (ax, bx) = _figure(1, 2, figsize=(7.0, 3.5), width_ratios=(1.1, 1.0))
        cmap = mpl.colormaps["viridis"]
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.scatter(k[:, 0], k[:, 1], s=30 + 600 * w, c=cmap(0.15 + 0.75 * w), zorder=3)
        for j in range(T):
            ax.annotate(f"{labels[j]}: {w[j]:.2f}", k[j], xytext=(8, 6), textcoords="offset points")
        ax.annotate(
            "",
            xy=q,
            xytext=(0, 0),
            arrowprops={"arrowstyle": "-|>", "color": PALETTE[3], "lw": 2.0},
            zorder=4,
        )
        ax.annotate("query", q, xytext=(6, -14), textcoords="offset points", color=PALETTE[3])
        r = 1.25 * max(np.abs(k).max(), np.abs(q).max(), 1.0)
        ax.set_xlim(-r, r)
        ax.set_ylim(-r, r)
        ax.set_aspect("equal")
        ax.set_title("query and keys")
        bx.bar(range(T), w, color=cmap(0.15 + 0.75 * w))
        bx.set_xticks(range(T), labels)
        bx.set_ylim(0, 1)
        bx.set_ylabel("weight $\\alpha_j$")
        bx.set_title("weights (sum to 1)")
        fig.suptitle(title)
    return fig


def softmax_saturation(
    d: np.ndarray,
    max_weight: Mapping[str, np.ndarray],
    grad_norm: Mapping[str, np.ndarray],
    T: int | None = None,
    title: str = "Softmax of dot-product scores as the size d grows",
) -> Figure:
    """Largest attention weight (left) and size of the softmax's Jacobian (right) against d.

    For each label, ``max_weight[label][i]`` and ``grad_norm[label][i]`` are measured at
    size ``d[i]`` (log axis). A weight near 1 means the softmax has saturated on one key,
    and then its Jacobian :math:`\\mathrm{diag}(\\alpha) - \\alpha\\alpha^\\top` is near 0
    (chapter 7). With ``T`` (the number of keys) a dashed line marks the uniform weight 1/T.

    Parameters
    ----------
    d : (n,) the sizes
    max_weight, grad_norm : dict label -> (n,), the same labels in both
    T : int, optional
    title : str
    """
    d = np.asarray(d, dtype=float)
    if not isinstance(max_weight, Mapping) or not max_weight:
        raise ValueError("max_weight must be a non-empty dict of label -> array")
    if not isinstance(grad_norm, Mapping) or set(grad_norm) != set(max_weight):
        raise ValueError("grad_norm must be a dict with the same labels as max_weight")
    with style():
        fig, (ax, bx) = _figure(1, 2, figsize=(7.0, 3.5))
        for label in max_weight:
            mw = np.asarray(max_weight[label], dtype=float)
            gn = np.asarray(grad_norm[label], dtype=float)
            if mw.shape != d.shape or gn.shape != d.shape:
                raise ValueError(f"the curves of {label!r} must have the shape of d {d.shape}")
            ax.plot(d, mw, marker="o", ms=3, label=label)
            bx.plot(d, np.where(gn > 0, gn, np.nan), marker="o", ms=3, label=label)
        if T is not None:
            ax.axhline(1.0 / T, color="0.4", ls="--", lw=1.0, label=f"uniform 1/{T}")
        for a in (ax, bx):
            a.set_xscale("log", base=2)
            a.xaxis.set_major_formatter(mticker.ScalarFormatter())
            a.set_xlabel("size d of query and keys")
        _log_axis(bx, "y")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("largest weight")
        ax.set_title("largest weight")
        bx.set_ylabel("$\\|\\partial \\alpha / \\partial S\\|_F$")
        bx.set_title("softmax gradient")
        ax.legend()
        fig.suptitle(title)
    return fig


# ------------------------------------------------------------------------ chapter 10: comparisons


def adding_sample(x: np.ndarray, y: float, title: str | None = None) -> Figure:
    """One sequence of the adding problem: its values, with the two marked ones highlighted.

    Parameters
    ----------
    x : array (T, 2)
        Channel 0 the values, channel 1 the two-hot marker (one sequence of
        :func:`rnnbook.tasks.adding_problem`, e.g. ``x[:, 0]``).
    y : float
        Its target, the sum of the two marked values.
    title : str, optional
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"x must have shape (T, 2), got {x.shape}")
    marked = np.nonzero(x[:, 1] == 1)[0]
    if len(marked) != 2:
        raise ValueError(f"channel 1 must mark exactly two steps, got {len(marked)}")
    T = len(x)
    with style():
        fig, ax = _figure(figsize=(7.0, 3.0))
        colors = np.where(x[:, 1] == 1, PALETTE[3], "0.75")
        ax.bar(np.arange(T), x[:, 0], color=colors, width=0.8)
        for t in marked:
            ax.annotate(
                f"{x[t, 0]:.2f}",
                (t, x[t, 0]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color=PALETTE[3],
            )
        ax.axvline(T / 2 - 0.5, color="0.4", ls=":", lw=1.0)
        ax.set_xlim(-1, T)
        ax.set_ylim(0, 1.15)
        ax.set_xlabel("step t (dotted: middle of the sequence)")
        ax.set_ylabel("value $x_{t,0}$")
        ax.set_title(title or f"Adding problem, T = {T}: marked values sum to y = {y:.2f}")
    return fig


def lr_sensitivity(
    lrs: Sequence[float],
    finals: Mapping[str, np.ndarray],
    baseline: float | None = None,
    title: str = "Final loss against learning rate",
    ylabel: str = "final loss",
) -> Figure:
    """Final loss against learning rate, one line per model, a dot per seed (log-log axes).

    Parameters
    ----------
    lrs : increasing learning rates, length n
    finals : dict label -> array (n,) or (n, seeds) of final losses; the line joins the
        means over seeds (geometric means, as the axis is logarithmic)
    baseline : float, optional, drawn dashed
    title, ylabel : str
    """
    lrs = np.asarray(lrs, dtype=float)
    if lrs.ndim != 1 or len(lrs) < 2 or np.any(lrs <= 0):
        raise ValueError(f"lrs must be at least two positive learning rates, got {lrs}")
    if not isinstance(finals, Mapping) or not finals:
        raise ValueError("finals must be a non-empty dict of label -> array (n,) or (n, seeds)")
    with style():
        fig, ax = _figure()
        for k, (label, values) in enumerate(finals.items()):
            v = np.asarray(values, dtype=float)
            v = v[:, None] if v.ndim == 1 else v
            if v.ndim != 2 or v.shape[0] != len(lrs):
                raise ValueError(f"finals[{label!r}] must have {len(lrs)} rows, got {v.shape}")
            color = PALETTE[(k + 1) % len(PALETTE)]
            ax.plot(lrs, np.exp(np.log(v).mean(axis=1)), "-", color=color, label=label)
            for j in range(v.shape[1]):
                ax.plot(lrs, v[:, j], "o", color=color, ms=4, alpha=0.8)
        if baseline is not None:
            ax.axhline(baseline, color="0.35", ls="--", lw=1.2, label="baseline")
        _log_axis(ax, "x")
        _log_axis(ax, "y")
        ax.set_xlabel("learning rate (Adam)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return fig
