"""Chapter 8's figures: the encoder-decoder, the data, error against length, alignments.

Drawn in the book's look (:func:`rnnbook.plots.style`, the Okabe-Ito palette, the boxes
and arrows of :func:`rnnbook.plots.unrolled_graph`), and returned as
:class:`rnnbook.plots.BookFigure`.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
encoder_decoder_diagram    a (bidirectional) encoder, a decoder, attention for one step,
                           and what the decoder reads: the reference or its own output
length_distributions       how many letters and phonemes the words have
error_by_length            an error rate against word length, one line per model
alignment_grid             several attention heat maps side by side, one colour scale
=========================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from rnnbook.plots import PALETTE, _arrow, _box, _figure, _node, style

__all__ = [
    "encoder_decoder_diagram",
    "length_distributions",
    "error_by_length",
    "alignment_grid",
]

_COLORS = {"x": "#cfe3f1", "h": "#f6dcb0", "y": "#c9e9dd", "s": "#f6dcb0"}
_STYLES = ["-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1))]
_MARKERS = ["o", "s", "^", "D", "v", "P"]


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
    title : str, optional
    """
    if not isinstance(source, str) or not 1 <= len(source) <= 5:
        raise ValueError(f"source must be a word of 1 to 5 letters, got {source!r}")
    target = list(target)
    if not 1 <= len(target) <= 5:
        raise ValueError(f"target must have 1 to 5 tokens, got {len(target)}")
    steps = len(target) + 1  # the end token too
    if not 0 <= attend_step < steps:
        raise ValueError(f"attend_step must be from 0 to {steps - 1}, got {attend_step!r}")
    S, dx = len(source), 1.3
    xe = np.arange(S) * dx
    xd = xe[-1] + 2.2 + np.arange(steps) * dx
    y_in, y_h, y_mix, y_out = 0.0, 1.5, 2.45, 3.5
    outputs = [*target, "</s>"]
    with style():
        fig, ax = _figure(figsize=(7.0, 4.0))
        ax.set_axis_off()
        for j, (x, letter) in enumerate(zip(xe, source, strict=True)):
            _box(ax, (x, y_in), f"{letter}", _COLORS["x"], w=0.7)
            _box(ax, (x, y_h), f"$h_{j + 1}$", _COLORS["h"], w=0.7)
            _arrow(ax, (x, y_in + 0.3), (x, y_h - 0.3), color=PALETTE[0])
            if j:  # forward (left to right) and backward (right to left) recurrences
                _arrow(ax, (x - dx + 0.36, y_h + 0.1), (x - 0.36, y_h + 0.1), color=PALETTE[3])
                _arrow(ax, (x - 0.36, y_h - 0.1), (x - dx + 0.36, y_h - 0.1), color=PALETTE[4])
        _arrow(ax, (xe[-1] + 0.36, y_h), (xd[0] - 0.36, y_h), None, color="0.2")
        first = f"$s_0 = [\\overrightarrow{{h}}_{S}; \\overleftarrow{{h}}_1]$"
        ax.text((xe[-1] + xd[0]) / 2, y_h - 0.4, first, ha="center", fontsize=8)
        for t, x in enumerate(xd):
            if t == 0:
                read = "<s>"
            else:
                read = outputs[t - 1] if teacher_forcing else f"$\\hat y_{t}$"
            _box(ax, (x, y_in), read, "white", w=0.8)
            _box(ax, (x, y_h), f"$s_{t + 1}$", _COLORS["s"], w=0.7)
            _box(ax, (x, y_out), outputs[t], _COLORS["y"], w=0.8)
            _arrow(ax, (x, y_in + 0.3), (x, y_h - 0.3), color=PALETTE[0])
            if attention:  # Luong: s~_t = tanh(W_c [c_t; s_t]) feeds the output layer
                _box(ax, (x, y_mix), f"$\\tilde s_{t + 1}$", "white", w=0.6, h=0.45)
                _arrow(ax, (x, y_h + 0.3), (x, y_mix - 0.24), color=PALETTE[2])
                _arrow(ax, (x, y_mix + 0.24), (x, y_out - 0.3), color=PALETTE[2])
            else:
                _arrow(ax, (x, y_h + 0.3), (x, y_out - 0.3), color=PALETTE[2])
            if t:
                _arrow(ax, (x - dx + 0.36, y_h), (x - 0.36, y_h), color=PALETTE[3])
            if not teacher_forcing and t < steps - 1:  # the output is read back
                _curve(ax, (x + 0.42, y_out - 0.2), (xd[t + 1] - 0.42, y_in + 0.2), 0.0, "0.45")
        if attention:
            xs = xd[attend_step]
            xc = xs - 0.68
            _node(ax, (xc, y_mix), "$c$", r=0.2)
            for x in xe:
                _curve(ax, (x + 0.2, y_h + 0.3), (xc - 0.2, y_mix + 0.05), -0.2, PALETTE[1])
            _arrow(ax, (xc + 0.2, y_mix), (xs - 0.3, y_mix), color=PALETTE[1])
            ax.text(xe.mean() + 0.4, 2.8, "$\\alpha_{tj}$", color=PALETTE[1], fontsize=10)
        ax.text(xe.mean(), -0.7, "encoder (bidirectional)", ha="center", fontsize=10)
        reads = "the reference" if teacher_forcing else "its own output"
        ax.text(xd.mean(), -0.7, f"decoder, reading {reads}", ha="center", fontsize=10)
        ax.set_xlim(xe[0] - 0.6, xd[-1] + 0.6)
        ax.set_ylim(-0.95, y_out + 0.45)
        ax.set_aspect("equal")
        mode = "teacher forcing (training)" if teacher_forcing else "free running (testing)"
        what = "with attention" if attention else "without attention"
        ax.set_title(title or f"An encoder-decoder {what}, {mode}")
    return fig


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
        fig, ax = _figure()
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
        fig, ax = _figure()
        for k, (label, r) in enumerate(rates.items()):
            r = np.asarray(r, dtype=float)
            if r.shape != x.shape:
                raise ValueError(f"rates[{label!r}] has shape {r.shape}, expected {x.shape}")
            ax.plot(x, 100 * r, ls=_STYLES[k % len(_STYLES)], marker=_MARKERS[k % 6], ms=4,
                    color=PALETTE[k % len(PALETTE)], label=label)  # fmt: skip
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
        fig, axes = _figure(nrows, ncols, figsize=(7.0, 2.9 * nrows), squeeze=False)
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
