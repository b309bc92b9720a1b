"""The figures of chapter 10 (which one), in the book's look.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
adding_sample              one sequence of the adding problem, marked values highlighted
=========================  ===============================================================

:func:`rnnbook.plots.lr_sensitivity`, which chapter 6 draws too, is in :mod:`rnnbook.plots`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from rnnbook import plots
from rnnbook.plots import PALETTE

__all__ = ["adding_sample"]


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
    with plots.style():
        fig, ax = plots.figure(figsize=(7.0, 3.0))
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
