"""Checks of the code exercises of chapter 6 (language models), on the engine of
:mod:`rnnbook.grading`.

::

    check_perplexity(fn)             fn(log_probs (N,)) -> perplexity
    check_masked_cross_entropy(fn)   fn(logits (T, B, V), targets (T, B), lengths (B,)) -> nats
    check_add_one_bigram(fn)         fn(words, vocab_size) -> P (V, V), P[a, b] = p(b | a)

Each returns a :class:`rnnbook.grading.Verdict`; ``.assert_ok()`` fails an nbgrader test
cell with the verdict's text. The references are the library's own: the perplexity of
:mod:`rnnbook.text`, :func:`rnnbook.lm.masked_cross_entropy` and
:class:`rnnbook.text.NGramModel` with add-one smoothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook import text
from rnnbook.functional import log_softmax
from rnnbook.grading import TIME_LIMIT, Verdict, check_function, seeded_cases

__all__ = ["check_perplexity", "check_masked_cross_entropy", "check_add_one_bigram"]


# ----------------------------------------------------------------------------- perplexity


def _perplexity(log_probs: np.ndarray) -> float:
    return float(np.exp(-np.mean(log_probs)))


def _log_prob_cases() -> list[dict[str, np.ndarray]]:
    uniform = {"log_probs": np.full(5, np.log(1 / 28))}  # uniform over 28 symbols: 28

    def build(rng, n):
        return {"log_probs": np.log(rng.uniform(0.02, 1.0, size=n))}

    return [uniform, *seeded_cases(build, [(7,), (40,), (1,)])]


def check_perplexity(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check ``fn(log_probs) -> float``, the perplexity of natural-log probabilities.

    ``log_probs`` holds :math:`\\ln p` of every predicted symbol; the perplexity is
    :math:`\\exp(-\\frac1N \\sum_i \\ln p_i)`, the inverse of their geometric mean.
    """
    mistakes = [
        (
            lambda log_probs: float(np.exp(-np.sum(log_probs))),
            "That is the inverse probability of the whole text: take the mean over the symbols, "
            "not the sum, so that the answer does not grow with the length.",
        ),
        (
            lambda log_probs: float(np.exp(np.mean(log_probs))),
            "A sign: the mean log-probability is negative, and the perplexity is exp of MINUS it "
            "(a number >= 1).",
        ),
        (
            lambda log_probs: float(2.0 ** (-np.mean(log_probs))),
            "The log-probabilities are natural logs: undo them with exp, not with 2 ** x.",
        ),
        (
            lambda log_probs: float(np.mean(np.exp(-log_probs))),
            "That is the arithmetic mean of 1/p. The perplexity is exp of the mean of -ln p, "
            "the inverse of the geometric mean of p.",
        ),
        (
            lambda log_probs: float(-np.mean(log_probs)),
            "That is the cross-entropy in nats. The perplexity is e to that power.",
        ),
    ]
    return check_function(
        fn,
        _perplexity,
        _log_prob_cases(),
        outputs={"perplexity": "a number"},
        against="exp(-mean(log_probs))",
        hint="Average -ln p over the symbols, then take exp.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------- masked loss


def _nll(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return -np.take_along_axis(log_softmax(logits, axis=-1), targets[..., None], -1)[..., 0]


def _mask(targets: np.ndarray, lengths: np.ndarray, shift: int = 0) -> np.ndarray:
    return np.arange(targets.shape[0])[:, None] < lengths[None, :] + shift


def _masked_ce(logits, targets, lengths) -> float:
    mask = _mask(targets, lengths)
    return float((_nll(logits, targets) * mask).sum() / mask.sum())


def _masked_ce_cases() -> list[dict[str, np.ndarray]]:
    def build(rng, T, B, V):
        lengths = rng.integers(1, T + 1, size=B)
        lengths[0] = T  # one full-length sequence, and at least one shorter one
        lengths[1] = max(1, T - 2)
        targets = rng.integers(1, V, size=(T, B))
        targets[~_mask(targets, lengths)] = 0  # padding
        logits = rng.normal(size=(T, B, V)) * 2
        return {"logits": logits, "targets": targets, "lengths": lengths}

    return seeded_cases(build, [(4, 3, 5), (6, 2, 7), (3, 4, 3)])


def check_masked_cross_entropy(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check ``fn(logits, targets, lengths) -> float``, the masked cross-entropy in nats.

    ``logits`` (T, B, V), ``targets`` (T, B) ints (0 at padded positions), ``lengths`` (B,):
    the mean of :math:`-\\ln \\mathrm{softmax}(\\text{logits}_{t,b})[\\text{target}_{t,b}]`
    over the real positions, ``t < lengths[b]``, each real symbol counted once.
    """

    def unmasked(logits, targets, lengths):
        return float(_nll(logits, targets).mean())

    def per_sequence(logits, targets, lengths):
        mask = _mask(targets, lengths)
        return float(((_nll(logits, targets) * mask).sum(0) / mask.sum(0)).mean())

    def off_by_one(logits, targets, lengths):
        mask = _mask(targets, lengths, shift=1)
        return float((_nll(logits, targets) * mask).sum() / mask.sum())

    def summed(logits, targets, lengths):
        return float((_nll(logits, targets) * _mask(targets, lengths)).sum())

    def no_softmax(logits, targets, lengths):
        picked = -np.take_along_axis(logits, targets[..., None], -1)[..., 0]
        mask = _mask(targets, lengths)
        return float((picked * mask).sum() / mask.sum())

    def over_batch(logits, targets, lengths):
        return float((_nll(logits, targets) * _mask(targets, lengths)).sum() / logits.shape[1])

    mistakes = [
        (
            unmasked,
            "That is the mean over every position, padding included. Multiply by a mask "
            "(t < lengths[b]) and divide by the number of real positions.",
        ),
        (
            per_sequence,
            "That averages each sequence first and then the sequences: a short word then "
            "weighs as much as a long one. Divide the masked sum by the number of real symbols.",
        ),
        (
            off_by_one,
            "The mask keeps one position too many: sequence b has real positions "
            "t = 0 .. lengths[b] - 1, so the condition is t < lengths[b].",
        ),
        (summed, "That is the sum: divide by the number of real positions for the mean."),
        (
            no_softmax,
            "The logits are not log-probabilities: take log_softmax over the last axis first.",
        ),
        (
            over_batch,
            "That divides by the batch size. The mean is per real symbol: divide by the number "
            "of real positions.",
        ),
    ]
    return check_function(
        fn,
        _masked_ce,
        _masked_ce_cases(),
        outputs={"loss": "a number"},
        against="rnnbook.lm.masked_cross_entropy",
        hint="log_softmax over the last axis, pick the target's entry, keep t < lengths[b], "
        "and average over the kept entries.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# ----------------------------------------------------------------------------- bigram


def _add_one_bigram(words, vocab_size) -> np.ndarray:
    model = text.NGramModel(2, vocab_size, "add-one", start=text.BOUNDARY)
    model.fit([np.asarray(w)[1:] for w in words])
    return model.distribution(np.arange(vocab_size)[:, None])


def _bigram_counts(words, vocab_size) -> np.ndarray:
    counts = np.zeros((vocab_size, vocab_size))
    for w in words:
        for a, b in zip(w[:-1], w[1:], strict=True):
            counts[a, b] += 1
    return counts


def _bigram_cases() -> list[dict[str, object]]:
    vocab = text.word_vocab()
    real = [[1, *vocab.word_targets(w)] for w in ("cat", "cart", "act", "tact")]
    cases = [{"words": [[int(i) for i in w] for w in real], "vocab_size": len(vocab)}]
    for seed, V in enumerate((4, 6)):
        rng = np.random.default_rng(seed)
        words = [[1, *rng.integers(2, V, size=rng.integers(1, 5)).tolist(), 1] for _ in range(4)]
        cases.append({"words": words, "vocab_size": V})
    return cases


def check_add_one_bigram(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check ``fn(words, vocab_size) -> P``, a character bigram model with add-one smoothing.

    ``words`` is a list of words, each a list of symbol ids that starts and ends with the
    boundary id 1 (``[1, 5, 3, 22, 1]`` for "cat"). ``P`` is the (V, V) array with
    ``P[a, b] = (c(a b) + 1) / (c(a) + V)``: ``c(a b)`` counts how often ``b`` follows ``a``
    inside the words, ``c(a)`` how often ``a`` is followed by anything. Every row sums to 1,
    including rows of symbols never seen (uniform, 1 / V). The reference is
    :class:`rnnbook.text.NGramModel` ``(2, V, "add-one")``.
    """

    def mle(words, vocab_size):
        counts = _bigram_counts(words, vocab_size)
        with np.errstate(invalid="ignore", divide="ignore"):
            return counts / counts.sum(axis=1, keepdims=True)

    def plus_one_below(words, vocab_size):
        counts = _bigram_counts(words, vocab_size)
        return (counts + 1) / (counts.sum(axis=1, keepdims=True) + 1)

    def transposed(words, vocab_size):
        return _add_one_bigram(words, vocab_size).T

    def columns(words, vocab_size):
        counts = _bigram_counts(words, vocab_size)
        return ((counts + 1) / (counts.sum(axis=0, keepdims=True) + vocab_size)).T

    def across_words(words, vocab_size):
        flat = [i for w in words for i in w]
        return _add_one_bigram([flat], vocab_size)

    mistakes = [
        (
            mle,
            "No smoothing: a pair never seen gets probability 0, and a row never seen 0 / 0. "
            "Add 1 to every count and V to every row's total.",
        ),
        (
            plus_one_below,
            "Each row gets V extra counts (one per symbol), so add V to its total, not 1: "
            "otherwise the row does not sum to 1.",
        ),
        (
            transposed,
            "Transposed: the row is the previous symbol a, the column the next symbol b.",
        ),
        (columns, "Normalise each row (over the next symbol b), not each column."),
        (
            across_words,
            "Count pairs inside each word only: the end boundary of one word and the start of "
            "the next are not a pair.",
        ),
    ]
    return check_function(
        fn,
        _add_one_bigram,
        _bigram_cases(),
        outputs={"P": "(V, V)"},
        against="rnnbook.text.NGramModel(2, V, 'add-one')",
        hint="Count c[a, b] over consecutive pairs of each word, then P = (c + 1) / (row sums "
        "+ V).",
        nan_hint="A row of zeros divided by its zero total gives NaN: smoothing removes it.",
        mistakes=mistakes,
        time_limit=time_limit,
    )
