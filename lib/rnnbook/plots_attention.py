"""The figures of chapter 7 (attention), in the book's look.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
attention_2d               a 2-D query, its keys and the attention weights
softmax_saturation         largest weight and softmax gradient against the size d
=========================  ===============================================================

Each returns a :class:`rnnbook.plots.BookFigure` drawn in :func:`rnnbook.plots.style`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.ticker as mticker
import numpy as np
from matplotlib.figure import Figure

from rnnbook import plots
from rnnbook.plots import PALETTE

__all__ = ["attention_2d", "softmax_saturation"]


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
    with plots.style():
        fig, (ax, bx) = plots.figure(1, 2, figsize=(7.0, 3.5), width_ratios=(1.1, 1.0))
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
    with plots.style():
        fig, (ax, bx) = plots.figure(1, 2, figsize=(7.0, 3.5))
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
        plots.log_axis(bx, "y")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("largest weight")
        ax.set_title("largest weight")
        bx.set_ylabel("$\\|\\partial \\alpha / \\partial S\\|_F$")
        bx.set_title("softmax gradient")
        ax.legend()
        fig.suptitle(title)
    return fig
