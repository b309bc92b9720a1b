"""The figures of chapters 1 and 2 (the naive RNN, its gradients), in the book's look.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
hidden_state_trajectory    inputs and hidden states of an RNN at every step (chapter 1)
dependency_matrices        which outputs of an RNN depend on which inputs (uni-, bidirectional)
w_chain                    y_T = w**(T-1) and its derivative over w, log scale (chapter 2)
error_surface              a loss over two parameters, with gradient-descent paths (chapter 2)
=========================  ===============================================================

Each returns a :class:`rnnbook.plots.BookFigure` drawn in :func:`rnnbook.plots.style`.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from rnnbook import plots
from rnnbook.plots import PALETTE

__all__ = ["hidden_state_trajectory", "dependency_matrices", "w_chain", "error_surface"]


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
    with plots.style():
        fig, axes = plots.figure(
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
    with plots.style():
        n = len(ms)
        fig, axes = plots.figure(1, n, figsize=(min(7.0, 2.4 * n + 0.6), 3.6), squeeze=False)
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
    with plots.style():
        fig, ax = plots.figure()
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
        plots.log_axis(ax, "y")
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
    with plots.style():
        fig, ax = plots.figure(figsize=(7.0, 4.2))
        levels = np.log10(np.maximum(loss, 1e-8))
        image = ax.contourf(x, y, levels, levels=30, cmap="viridis")
        fig.colorbar(image, ax=ax, label="$\\log_{10}$ loss")
        for k, (label, p) in enumerate((paths or {}).items()):
            p = np.asarray(p, dtype=float)
            if p.ndim != 2 or p.shape[1] != 2:
                raise ValueError(f"paths[{label!r}] must have shape (steps + 1, 2), got {p.shape}")
            # the first path wide and solid, each later one narrower, dashed and on top, so a
            # path that runs under another still shows on both sides of it
            color = ("white", PALETTE[1], PALETTE[3], PALETTE[5])[k % 4]
            ls, marker = ("-", "--", "-.", ":")[k % 4], ("o", "^", "s", "D")[k % 4]
            ax.plot(
                p[:, 0],
                p[:, 1],
                ls=ls,
                marker=marker,
                color=color,
                ms=3.5 - k,
                lw=max(3.2 - 1.4 * k, 1.0),
                label=label,
                zorder=3 + k,
            )
            ax.plot(*p[0], "s", color=color, ms=7, mec="black", zorder=3 + k)
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(y[0], y[-1])
        ax.grid(False)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if paths:
            ax.legend(loc="lower left", facecolor="0.9", frameon=True, framealpha=0.85)
    return fig
