"""The book's look, and the figures several chapters share.

The look: the Okabe-Ito colour-blind-safe :data:`PALETTE`, one :data:`LINESTYLES` and one
:data:`MARKERS` list (so series differ in more than colour: :func:`series` gives the k-th
series its colour, line style and marker), the rcParams :data:`RC` applied by :func:`style`
(dpi 100, about 7 x 3.5 inches, a light grid) or :func:`use_style`, and the helpers every
figure module draws with: :func:`figure` (a :class:`BookFigure`, which displays as a PNG in
any notebook, and its axes), :func:`log_axis` (a log scale with plain tick labels), and
:func:`box`, :func:`arrow`, :func:`node` for diagrams. In a notebook, make a figure the last
expression of a cell (or pass it to ``display``) to store it as a PNG.

The figures, each returning a :class:`BookFigure` with a title and labelled axes:

=========================  ===============================================================
function                   shows
=========================  ===============================================================
loss_curves                training losses of several runs (:class:`rnnbook.train.History`)
heatmap                    a matrix such as attention weights, with row and column labels
line_log                   several curves on a log scale (gradient norms, w**T)
lr_sensitivity             final loss against learning rate for several models (ch. 6, 10)
=========================  ===============================================================

The diagrams (cells and networks as boxes and arrows) are in :mod:`rnnbook.diagrams`.
One chapter's own figures are in a module of
their own: :mod:`rnnbook.plots_rnn`
(chapters 1, 2), :mod:`rnnbook.plots_gates` (3, 5), :mod:`rnnbook.plots_lm` (6),
:mod:`rnnbook.plots_attention` (7), :mod:`rnnbook.plots_seq2seq` (8),
:mod:`rnnbook.plots_parallel` (9), :mod:`rnnbook.plots_compare` (10).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator, Mapping, Sequence

import matplotlib as mpl
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

__all__ = [
    "PALETTE",
    "LINESTYLES",
    "MARKERS",
    "FIGSIZE",
    "RC",
    "BookFigure",
    "png_bytes",
    "style",
    "use_style",
    "figure",
    "series",
    "log_axis",
    "box",
    "arrow",
    "node",
    "loss_curves",
    "heatmap",
    "line_log",
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

LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1)), (0, (1, 1))]
"""Line styles, in the order the book uses them: series k is PALETTE[k] with LINESTYLES[k]."""

MARKERS = ["o", "s", "^", "D", "v", "P"]
"""Markers, in the same order."""

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


def log_axis(ax, axis: str = "y") -> None:
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
        return png_bytes(self)


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as a PNG at its own dpi, cropped to what is drawn (what a notebook stores)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, bbox_inches="tight")
    return buf.getvalue()


def figure(
    nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None, **kwargs: object
) -> tuple[Figure, object]:
    """A BookFigure in the current rcParams (call inside :func:`style`) and its axes."""
    fig = BookFigure(figsize=figsize or mpl.rcParams["figure.figsize"], layout="constrained")
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def series(k: int, marker: bool = False) -> dict[str, object]:
    """The look of the k-th series of a figure: ``color`` and ``ls`` (and ``marker``).

    Pass it to ``ax.plot(x, y, **plots.series(k))``; series differ in colour and line style,
    so they stay apart in grey and for colour-blind readers.
    """
    look: dict[str, object] = {
        "color": PALETTE[k % len(PALETTE)],
        "ls": LINESTYLES[k % len(LINESTYLES)],
    }
    if marker:
        look["marker"] = MARKERS[k % len(MARKERS)]
    return look


# --------------------------------------------------------------------------- diagrams' parts


def box(ax, xy, text, color, w=0.9, h=0.55) -> None:
    """A rounded box of size ``w`` x ``h`` centred at ``xy``, filled with ``color``, holding
    ``text`` (a diagram's variable)."""
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


def arrow(ax, start, end, label=None, label_offset=(0.0, 0.0), color="0.2") -> None:
    """An arrow from ``start`` to ``end``, with ``label`` at its middle moved by
    ``label_offset``."""
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, lw=1.1, color=color)
    )
    if label:
        mx, my = (
            (start[0] + end[0]) / 2 + label_offset[0],
            (start[1] + end[1]) / 2 + label_offset[1],
        )
        ax.text(mx, my, label, ha="center", va="center", fontsize=9, color=color)


def node(ax, xy, symbol, r=0.22) -> None:
    """A round operation node (a product or a sum) at ``xy``."""
    ax.add_patch(Circle(xy, r, fc="white", ec="0.2", lw=1.1, zorder=3))
    ax.text(*xy, symbol, ha="center", va="center", fontsize=12, zorder=4)


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
        fig, ax = figure()
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
            log_axis(ax, "y")
        ax.set_xlabel("training step" if x == "step" else "wall time (s)")
        ax.set_ylabel(ylabel if smooth <= 1 else f"{ylabel} (moving average of {smooth})")
        ax.set_title(title)
        ax.legend()
    return fig


# --------------------------------------------------------------------------- the unrolled graph


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
        fig, ax = figure(figsize=(max(w, 3.5), max(h, 2.5)))
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
    references: Sequence[str] = (),
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
    references : labels of ``ys`` that are references (a bound, a prediction), drawn as
        dashed black lines; the other curves differ in colour and line style (:func:`series`)
    """
    x = np.asarray(x)
    if not isinstance(ys, Mapping) or not ys:
        raise ValueError("ys must be a non-empty dict of label -> array")
    unknown = [r for r in references if r not in ys]
    if unknown or isinstance(references, str):
        raise ValueError(f"references must be labels of ys, got {references!r}")
    with style():
        fig, ax = figure()
        k = 0
        for label, y in ys.items():
            y = np.asarray(y, dtype=float)
            if y.shape != x.shape:
                raise ValueError(f"ys[{label!r}] has shape {y.shape}, expected {x.shape} like x")
            if logy:
                y = np.where(y > 0, y, np.nan)
            if label in references:
                ax.plot(x, y, color="black", ls="--", lw=1.2, label=label, zorder=3)
                continue
            look = series(k, marker=markers)
            ax.plot(x, y, ms=3, label=label, **look)
            k += 1
        if logy:
            log_axis(ax, "y")
        if logx:
            log_axis(ax, "x")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return fig


# --------------------------------------------------------------------------- LSTM gradient paths


# --------------------------------------------------------------------------- chapter 3: LSTM


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
        fig, ax = figure()
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
        log_axis(ax, "x")
        log_axis(ax, "y")
        ax.set_xlabel("learning rate (Adam)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return fig
