"""The figures and the widget of chapter 6 (language models), in the book's look.

=========================  ===============================================================
function                   shows
=========================  ===============================================================
corpus_overview            word lengths of the splits, and how often each character occurs
perplexity_curves          validation perplexity against step, n-gram baselines dashed
train_val_curves           training and validation curves of several runs (overfitting)
accuracy_by_position       next-symbol accuracy at each position: teacher forcing, free running
temperature_effect         what sampled words look like against the temperature
gradient_reach             how far back the gradient reaches, with the truncation length
context_use                loss at each position after a reset, against the carried state
next_symbol_bars           the next-symbol distribution after a prefix, and sampled words
sampler                    widget: temperature and prefix, drawing :func:`next_symbol_bars`
=========================  ===============================================================

Every figure is a :class:`rnnbook.plots.BookFigure` drawn inside :func:`rnnbook.plots.style`
(Okabe-Ito colours, and a distinct line style for every series).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from rnnbook import plots
from rnnbook.plots import PALETTE

__all__ = [
    "corpus_overview",
    "perplexity_curves",
    "train_val_curves",
    "accuracy_by_position",
    "temperature_effect",
    "gradient_reach",
    "context_use",
    "next_symbol_bars",
    "sampler",
]

BASELINE_STYLES = [(0, (1, 1)), (0, (4, 2)), (0, (6, 2, 1, 2)), (0, (1, 3))]


def _nonempty(name: str, mapping: Any) -> None:
    if not isinstance(mapping, Mapping) or not mapping:
        raise ValueError(f"{name} must be a non-empty dict")


def corpus_overview(
    lengths: Mapping[str, np.ndarray], char_counts: Mapping[str, int], title: str = ""
) -> Figure:
    """Left: the share of words of each length, one line per split. Right: character counts.

    Parameters
    ----------
    lengths : dict split name -> array of word lengths (characters)
    char_counts : dict character -> count (in the training words)
    """
    _nonempty("lengths", lengths)
    _nonempty("char_counts", char_counts)
    with plots.style():
        fig, (left, right) = plots.figure(1, 2, figsize=(8.0, 3.3))
        top = max(int(np.max(v)) for v in lengths.values())
        bins = np.arange(1, top + 1)
        for k, (name, v) in enumerate(lengths.items()):
            v = np.asarray(v)
            share = np.array([np.mean(v == n) for n in bins])
            left.plot(bins, 100 * share, **plots.series(k, marker=True), ms=3, label=name)
        left.set_xlabel("word length (characters)")
        left.set_ylabel("share of the words (%)")
        left.set_title("Word lengths")
        left.legend()
        chars = sorted(char_counts, key=lambda c: -char_counts[c])
        counts = np.array([char_counts[c] for c in chars], dtype=float)
        right.bar(range(len(chars)), 100 * counts / counts.sum(), color=PALETTE[0])
        right.set_xticks(range(len(chars)), chars, fontsize=8)
        right.set_ylabel("share of the characters (%)")
        right.set_title("Characters, most frequent first")
        right.grid(axis="x", visible=False)
        if title:
            fig.suptitle(title)
    return fig


def perplexity_curves(
    histories: Mapping[str, Any],
    baselines: Mapping[str, float],
    name: str = "val",
    title: str = "Validation perplexity",
    xlabel: str = "training step",
) -> Figure:
    """An evaluation curve of each run as a perplexity (e ** nats), baselines dashed.

    Parameters
    ----------
    histories : dict label -> :class:`rnnbook.lm.LMHistory`
    baselines : dict label -> nats per symbol (e.g. the n-gram models), horizontal lines
    name : which evaluation curve (``history.evals[name]``)
    """
    _nonempty("histories", histories)
    with plots.style():
        fig, ax = plots.figure()
        for k, (label, h) in enumerate(histories.items()):
            if name not in h.evals:
                raise ValueError(f"histories[{label!r}] has no evaluation {name!r}")
            ax.plot(
                h.eval_steps[1:],
                np.exp(h.evals[name][1:]),
                **plots.series(k, marker=True),
                ms=3,
                label=label,
            )
        for k, (label, nats) in enumerate(baselines.items()):
            ax.axhline(np.exp(nats), color="0.3", ls=BASELINE_STYLES[k % 4], lw=1.1, label=label)
        plots.log_axis(ax, "y")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("perplexity per symbol (log scale)")
        ax.set_title(title)
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def train_val_curves(
    histories: Mapping[str, Any], title: str = "Training and validation", ylabel: str = ""
) -> Figure:
    """Training (thin, dashed) and validation (thick) cross-entropy of each run, in nats.

    Parameters
    ----------
    histories : dict label -> LMHistory, or label -> list of LMHistory (several seeds, drawn
        in one colour); each must have the evaluations ``"train"`` and ``"val"``
    """
    _nonempty("histories", histories)
    with plots.style():
        fig, ax = plots.figure()
        for k, (label, runs) in enumerate(histories.items()):
            runs = list(runs) if isinstance(runs, list | tuple) else [runs]
            look = plots.series(k)
            for j, h in enumerate(runs):
                if not {"train", "val"} <= set(h.evals):
                    raise ValueError(f"histories[{label!r}] needs 'train' and 'val' evaluations")
                ax.plot(
                    h.eval_steps,
                    h.evals["val"],
                    **look,
                    lw=1.8,
                    label=f"{label}: validation" if j == 0 else None,
                )
                ax.plot(
                    h.eval_steps,
                    h.evals["train"],
                    **look,
                    lw=0.9,
                    alpha=0.7,
                    label=f"{label}: training words" if j == 0 else None,
                )
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel or "cross-entropy (nats per symbol)")
        ax.set_title(title)
        ax.legend(fontsize=8, ncols=2)
    return fig


def accuracy_by_position(
    curves: Mapping[str, np.ndarray], counts: np.ndarray | None = None, title: str = ""
) -> Figure:
    """Accuracy (%) of the most likely next symbol at each position of a word.

    Parameters
    ----------
    curves : dict label -> array (T,) of accuracies in [0, 1] (NaN where no word is that long)
    counts : array (T,), optional, how many words reach each position (drawn as bars behind)
    """
    _nonempty("curves", curves)
    with plots.style():
        fig, ax = plots.figure()
        T = len(next(iter(curves.values())))
        pos = np.arange(1, T + 1)
        for k, (label, acc) in enumerate(curves.items()):
            acc = np.asarray(acc, dtype=float)
            if acc.shape != (T,):
                raise ValueError(f"curves[{label!r}] must have shape ({T},), got {acc.shape}")
            ax.plot(
                pos,
                100 * acc,
                **plots.series(k, marker=True),
                ms=3,
                label=label,
            )
        ax.set_xlabel("position in the word (1 = first letter)")
        ax.set_ylabel("most likely symbol is right (%)")
        ax.set_ylim(0, 100)
        if counts is not None:
            twin = ax.twinx()
            twin.bar(pos, counts, color="0.85", zorder=0)
            twin.set_ylabel("words that long", color="0.45")
            twin.grid(False)
            ax.set_zorder(twin.get_zorder() + 1)
            ax.patch.set_visible(False)
        ax.set_title(title or "Teacher forcing against free running")
        ax.legend()
    return fig


def temperature_effect(
    temperatures: Sequence[float],
    shares: Mapping[str, np.ndarray],
    bits: Mapping[str, np.ndarray],
    reference_bits: float | None = None,
    title: str = "Sampling at a temperature",
) -> Figure:
    """Two measures of sampled words against the sampling temperature, one line per model.

    Left: the share of the samples that are real words (%). Right: the bits per symbol a
    judge model gives the samples (lower is more plausible), with the judge's bits on real
    held-out words dashed.

    Parameters
    ----------
    temperatures : increasing temperatures (n,)
    shares : dict model -> array (n,) of shares in [0, 1]
    bits : dict model -> array (n,) of bits per symbol (the same models)
    reference_bits : float, optional
    """
    _nonempty("shares", shares)
    if set(bits) != set(shares):
        raise ValueError("shares and bits must have the same models")
    t = np.asarray(temperatures, dtype=float)
    with plots.style():
        fig, (left, right) = plots.figure(1, 2, figsize=(8.0, 3.3))
        for k, label in enumerate(shares):
            for ax, y, scale in ((left, shares[label], 100), (right, bits[label], 1)):
                y = np.asarray(y, dtype=float)
                if y.shape != t.shape:
                    raise ValueError(f"{label!r}: expected shape {t.shape}, got {y.shape}")
                ax.plot(
                    t,
                    scale * y,
                    **plots.series(k, marker=True),
                    ms=4,
                    label=label,
                )
        if reference_bits is not None:
            right.axhline(reference_bits, color="0.35", ls=":", lw=1.2, label="real words")
        left.set_ylabel("samples that are real words (%)")
        left.set_ylim(0, 100)
        right.set_ylabel("bits per symbol under the judge")
        for ax in (left, right):
            ax.set_xlabel("temperature T")
            ax.legend(fontsize=8)
        fig.suptitle(title)
    return fig


def gradient_reach(
    distance: np.ndarray,
    norms: Mapping[str, np.ndarray],
    k: int | None = None,
    title: str = "How far back the gradient reaches",
) -> Figure:
    """Gradient norms against how many steps back they reach (log scale), truncation marked.

    Parameters
    ----------
    distance : array (n,), steps between the loss and the state
    norms : dict label -> array (n,), e.g. from :func:`rnnbook.gradients.state_grad_norms`
    k : int, optional, the truncation length, drawn as a vertical line
    """
    _nonempty("norms", norms)
    distance = np.asarray(distance)
    with plots.style():
        fig, ax = plots.figure()
        for j, (label, y) in enumerate(norms.items()):
            y = np.asarray(y, dtype=float)
            if y.shape != distance.shape:
                raise ValueError(f"norms[{label!r}] must have the shape of distance")
            ax.plot(
                distance,
                np.where(y > 0, y, np.nan),
                **plots.series(j),
                label=label,
            )
        if k is not None:
            ax.axvline(k, color="0.3", ls=":", lw=1.2, label=f"truncation, k = {k}")
            ax.axvspan(k, distance.max(), color="0.9", zorder=0)
        plots.log_axis(ax, "y")
        ax.set_xlabel("steps back from the loss")
        ax.set_ylabel("gradient norm (log scale)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    return fig


def context_use(
    position_loss: Mapping[str, np.ndarray],
    carried: Mapping[str, float],
    positions: Sequence[int] | None = None,
    title: str = "What the state carries",
) -> Figure:
    """Loss (bits) after reading t characters of context, against the carried state.

    Parameters
    ----------
    position_loss : dict label -> array (k,), nats after reading t = 1..k characters
        (:func:`rnnbook.lm_eval.context_curve`)
    carried : dict label -> nats with the whole text carried (dotted lines, same colours)
    positions : the t to draw (default: about log-spaced from 1 to k), marked
    """
    _nonempty("position_loss", position_loss)
    with plots.style():
        fig, ax = plots.figure()
        for j, (label, y) in enumerate(position_loss.items()):
            y = np.asarray(y, dtype=float) / np.log(2)
            t = np.arange(1, len(y) + 1)
            if positions is not None:
                t = np.array([p for p in positions if 1 <= p <= len(y)])
            else:
                t = np.unique(np.round(np.geomspace(1, len(y), 16)).astype(int))
            look = plots.series(j, marker=True)
            ax.plot(
                t,
                y[t - 1],
                **look,
                ms=3,
                label=f"{label}: t characters read",
            )
            if label in carried:
                ax.axhline(
                    carried[label] / np.log(2),
                    color=look["color"],
                    ls=":",
                    lw=1.2,
                    label=f"{label}: whole text carried",
                )
        plots.log_axis(ax, "x")
        ax.set_xlabel("characters of context read, t (log scale)")
        ax.set_ylabel("cross-entropy (bits per character)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    return fig


def next_symbol_bars(
    probs: np.ndarray,
    symbols: Sequence[str],
    prefix: str = "",
    temperature: float = 1.0,
    samples: Sequence[str] = (),
    top: int = 12,
) -> Figure:
    """The ``top`` most likely next symbols after a prefix, and a list of sampled words.

    Parameters
    ----------
    probs : array (V,), the next-symbol distribution (sums to 1)
    symbols : the V symbols' printable names (``Vocab.symbols``; ``$`` ends the word)
    prefix, temperature : shown in the title
    samples : words sampled at this temperature, listed on the right
    """
    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 1 or len(probs) != len(symbols):
        raise ValueError(f"probs must have shape ({len(symbols)},), got {probs.shape}")
    order = np.argsort(-probs, kind="stable")[:top]
    with plots.style():
        fig, (ax, side) = plots.figure(1, 2, figsize=(8.0, 3.3))
        ax.bar(range(len(order)), 100 * probs[order], color=PALETTE[0])
        names = ["end" if symbols[i] == "$" else symbols[i] for i in order]
        ax.set_xticks(range(len(order)), names)
        ax.set_ylabel("probability (%)")
        ax.set_xlabel("next symbol")
        ax.grid(axis="x", visible=False)
        shown = f'"{prefix}"' if prefix else "the start of a word"
        ax.set_title(f"After {shown}, T = {temperature:g}")
        side.axis("off")
        side.set_title("sampled words")
        for i, w in enumerate(list(samples)[:12]):
            side.text(
                0.05,
                0.95 - i * 0.08,
                w,
                family="monospace",
                fontsize=9,
                transform=side.transAxes,
                va="top",
            )
        fig.get_layout_engine().set(w_pad=0.1)
    return fig


def sampler(
    model: Any,
    vocab: Any,
    temperature: float = 1.0,
    prefix: str = "",
    n: int = 12,
    seed: int = 0,
    show: bool = True,
):
    """Widget: a temperature slider and a prefix box; draws :func:`next_symbol_bars`.

    For the model's next-symbol distribution after the prefix at the chosen temperature,
    and ``n`` words it samples from there (:func:`rnnbook.lm_eval.sample_words`). Like every
    widget of the book it first displays a static figure for the initial values.

    Parameters
    ----------
    model : rnnbook.lm.CharLM
    vocab : rnnbook.text.Vocab with specials (the word vocabulary)
    temperature : float in [0, 3], the slider's initial value
    prefix : the box's initial text (characters of the vocabulary)
    n, seed : how many words to sample, and the seed
    show : display at once
    """
    import ipywidgets

    from rnnbook import lm_eval, widgets

    if not 0.0 <= temperature <= 3.0:
        raise ValueError(f"temperature must lie in [0, 3], got {temperature!r}")
    vocab.encode(prefix)  # a prefix outside the vocabulary fails here, not in the widget

    def draw(temperature: float, prefix: str) -> Figure:
        ids = vocab.encode(prefix.strip().lower())
        probs = lm_eval.next_distribution(model, ids, temperature)
        words = lm_eval.sample_words(model, n, temperature, prefix=ids, seed=seed)
        return next_symbol_bars(
            probs,
            vocab.symbols,
            prefix.strip().lower(),
            temperature,
            [vocab.decode(w) for w in words],
        )

    controls = {
        "temperature": ipywidgets.FloatSlider(
            value=temperature,
            min=0.0,
            max=3.0,
            step=0.05,
            description="temperature",
            continuous_update=False,
        ),
        "prefix": ipywidgets.Text(value=prefix, description="prefix", continuous_update=False),
    }
    return widgets.interactive_figure(draw, controls, show=show)
