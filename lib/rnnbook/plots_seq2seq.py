"""Chapter 8's figures: the data, error against length, alignments.

Drawn in the book's look (:func:`rnnbook.plots.style`, the Okabe-Ito palette, the boxes
and arrows of :func:`rnnbook.plots.unrolled_graph`), and returned as
:class:`rnnbook.plots.BookFigure`.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
length_distributions       how many letters and phonemes the words have
error_by_length            an error rate against word length, one line per model
alignment_grid             several attention heat maps side by side, one colour scale
=========================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from rnnbook.plots import PALETTE, figure, series, style

__all__ = [
    "length_distributions",
    "error_by_length",
    "alignment_grid",
]


def length_distributions(
    letters: Sequence[int], phonemes: Sequence[int], title: str = "Word lengths"
) -> Figure:
    """Histograms of the words' lengths in letters and in phonemes, side by side.

    Parameters
    ----------
    letters, phonemes : one length per word
    """
    letters, phonemes = np.asarray(letters), np.asarray(phonemes)
    if letters.shape != phonemes.shape or letters.ndim != 1 or letters.size == 0:
        raise ValueError("letters and phonemes must be non-empty 1-D arrays of one length")
    top = int(max(letters.max(), phonemes.max()))
    n = np.arange(1, top + 1)
    with style():
        fig, ax = figure()
        for k, (label, values) in enumerate((("letters", letters), ("phonemes", phonemes))):
            counts = np.bincount(values, minlength=top + 1)[1:]
            ax.bar(n + (k - 0.5) * 0.4, counts / len(values), width=0.4, label=label,
                   color=PALETTE[k], hatch="" if k == 0 else "//", edgecolor="white")  # fmt: skip
        ax.set_xticks(n)
        ax.set_xlabel("length of a word (letters or phonemes)")
        ax.set_ylabel("fraction of words")
        ax.set_title(title)
        ax.legend()
    return fig


def error_by_length(
    lengths: Sequence[int],
    rates: Mapping[str, Sequence[float]],
    ylabel: str = "phoneme error rate (%)",
    title: str = "Error against word length",
    counts: Sequence[int] | None = None,
) -> Figure:
    """One line per model: an error rate (in percent) against the length of the word.

    Parameters
    ----------
    lengths : (n,) the word lengths (letters) on the x axis
    rates : dict model -> (n,) error rates as fractions (drawn in percent)
    ylabel, title : str
    counts : (n,), optional, the number of words at each length, written under the axis
    """
    x = np.asarray(lengths)
    if not isinstance(rates, Mapping) or not rates:
        raise ValueError("rates must be a non-empty dict of model -> array")
    with style():
        fig, ax = figure()
        for k, (label, r) in enumerate(rates.items()):
            r = np.asarray(r, dtype=float)
            if r.shape != x.shape:
                raise ValueError(f"rates[{label!r}] has shape {r.shape}, expected {x.shape}")
            ax.plot(x, 100 * r, **series(k, marker=True), ms=4, label=label)
        labels = [str(v) for v in x]
        if counts is not None:
            if len(counts) != len(x):
                raise ValueError(f"counts must have {len(x)} entries, got {len(counts)}")
            labels = [f"{v}\n({c})" for v, c in zip(x, counts, strict=True)]
        ax.set_xticks(x, labels)
        ax.set_ylim(bottom=0)
        ax.set_xlabel("letters in the word" + (" (test words)" if counts is not None else ""))
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return fig


def alignment_grid(
    matrices: Sequence[np.ndarray],
    columns: Sequence[Sequence[str]],
    rows: Sequence[Sequence[str]],
    titles: Sequence[str],
    ncols: int = 3,
    title: str = "Attention weights",
) -> Figure:
    """Several attention heat maps on one colour scale from 0 to 1.

    Parameters
    ----------
    matrices : each (steps, S): rows are output steps, columns source positions
    columns, rows : the labels of each matrix's columns (letters) and rows (outputs)
    titles : one per matrix
    ncols : panels per row
    """
    n = len(matrices)
    if not n or not len(columns) == len(rows) == len(titles) == n:
        raise ValueError("need one columns, rows and titles entry per matrix (at least one)")
    for m, c, r in zip(matrices, columns, rows, strict=True):
        if np.ndim(m) != 2 or np.shape(m) != (len(r), len(c)):
            raise ValueError(f"a matrix of shape {np.shape(m)} needs {np.shape(m)} labels")
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    with style():
        fig, axes = figure(nrows, ncols, figsize=(7.0, 2.9 * nrows), squeeze=False)
        for k, ax in enumerate(axes.flat):
            if k >= n:
                ax.set_axis_off()
                continue
            image = ax.imshow(matrices[k], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
            ax.grid(False)
            ax.set_xticks(range(len(columns[k])), list(columns[k]))
            ax.set_yticks(range(len(rows[k])), list(rows[k]), fontsize=8)
            ax.set_title(titles[k], fontsize=10)
            if k % ncols == 0:
                ax.set_ylabel("output phoneme")
            if k // ncols == nrows - 1:
                ax.set_xlabel("letter")
        fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
        fig.suptitle(title)
    return fig
