"""Chapter 8's exercise checks: edit distance and one step of beam search.

Built on the grading engine of :mod:`rnnbook.grading` (:func:`check_function`: seeded cases,
the library's own function as the reference, a friendly :class:`Verdict`, hints for known
mistakes, a time limit)::

    check_edit_distance(fn)   fn(a, b) -> int, the Levenshtein distance of two sequences
    check_beam_step(fn)       fn(scores (K,), log_probs (K, V), k)
                              -> (new_scores (k,), origins (k,), tokens (k,))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook import decoding
from rnnbook.grading import TIME_LIMIT, Verdict, check_function, seeded_cases

__all__ = ["check_edit_distance", "check_beam_step"]


# --------------------------------------------------------------------------- edit distance


def _hamming(a, b):
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def _indel(a, b):  # substitutions forbidden: a substitution costs a deletion and an insertion
    a, b = list(a), list(b)
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + 2 * (x != y)))
        previous = current
    return previous[-1]


def _zero_border(a, b):  # D[i][0] = D[0][j] = 0: forgets that an empty prefix costs its length
    a, b = list(a), list(b)
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def check_edit_distance(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check a Levenshtein distance (chapter 8): ``fn(a, b) -> int``.

    ``a`` and ``b`` are sequences (strings, or tuples of phonemes such as
    ``("B", "AA", "K", "S")``); the answer is the fewest insertions, deletions and
    substitutions, each costing 1, that turn ``a`` into ``b``. The reference is
    :func:`rnnbook.decoding.edit_distance`.
    """
    cases = [
        {"a": a, "b": b}
        for a, b in [
            ("kitten", "sitting"),
            (("B", "AA", "K", "S"), ("B", "AO", "K", "S")),
            (("N", "AY", "T"), ("K", "N", "AY", "T")),
            ("", "abc"),
            ("abc", ""),
            ("ab", "ba"),
            (("F", "OW", "N"), ("F", "OW", "N")),
            ("intention", "execution"),
            (("S", "AY", "K", "AA", "L", "AH", "JH", "IY"), ("S", "IH", "K", "L", "OW", "JH")),
        ]
    ]
    mistakes = [
        (
            _hamming,
            "That compares the sequences position by position. An insertion early in a "
            "sequence shifts everything after it, and position by position every later item "
            "then counts as an error; the edit distance lets the two sequences realign.",
        ),
        (
            _indel,
            "A substitution costs 1, not 2: replacing one item is a single edit, not a "
            "deletion followed by an insertion.",
        ),
        (
            _zero_border,
            "Start the table from D[i][0] = i and D[0][j] = j: turning a prefix into an empty "
            "sequence takes as many deletions as it has items.",
        ),
    ]
    return check_function(
        fn,
        decoding.edit_distance,
        cases,
        outputs={"distance": "an int"},
        against="rnnbook.decoding.edit_distance",
        hint="Fill a table D of (len(a) + 1) x (len(b) + 1) entries: D[i][0] = i, D[0][j] = j, "
        "and D[i][j] = min(D[i-1][j] + 1, D[i][j-1] + 1, D[i-1][j-1] + (a[i-1] != b[j-1])); "
        "the answer is D[len(a)][len(b)].",
        mistakes=mistakes,
        time_limit=time_limit,
    )


# --------------------------------------------------------------------------- beam search


def _without_scores(scores, log_probs, k):
    return decoding.beam_step(np.zeros_like(scores), log_probs, k)


def _best_of_each_prefix(scores, log_probs, k):
    total = scores[:, None] + log_probs
    tokens = total.argmax(axis=1)
    best = total[np.arange(len(scores)), tokens]
    order = np.argsort(-best, kind="stable")[:k]
    return best[order], order, tokens[order]


def _ascending(scores, log_probs, k):
    new, origins, tokens = decoding.beam_step(scores, log_probs, k)
    return new[::-1], origins[::-1], tokens[::-1]


def _beam_cases() -> list[dict]:
    def build(rng, K, V, k):
        scores = np.sort(rng.normal(-2.0, 1.0, size=K))[::-1]
        log_probs = np.log(rng.dirichlet(np.full(V, 0.5), size=K))
        return {"scores": scores, "log_probs": log_probs, "k": k}

    one_prefix = {  # the best extensions can all come from one prefix
        "scores": np.array([-0.1, -3.0]),
        "log_probs": np.log(np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05]])),
        "k": 2,
    }
    sizes = [(3, 5, 3), (2, 6, 2), (4, 4, 4), (1, 7, 3), (3, 5, 5)]
    return [*seeded_cases(build, sizes, seed=8), one_prefix]


def check_beam_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one step of beam search (chapter 8).

    The student writes ``fn(scores, log_probs, k)``: ``scores`` (K,) are the
    log-probabilities of the beam's K prefixes, ``log_probs`` (K, V) those of each next token
    after each prefix; it returns the k best extensions of all K * V, best first, as a tuple
    of three arrays: their scores ``scores[i] + log_probs[i, v]`` (k,), the prefix each
    extends ``i`` (k,) and the token it appends ``v`` (k,). The reference is
    :func:`rnnbook.decoding.beam_step` (the test cases have no ties).
    """
    mistakes = [
        (
            _without_scores,
            "Add the prefix's own log-probability: an extension's score is scores[i] + "
            "log_probs[i, v], the log-probability of the whole new prefix.",
        ),
        (
            _best_of_each_prefix,
            "The k best extensions need not come from k different prefixes: compare all "
            "K * V of them at once (flatten the K x V table of sums).",
        ),
        (
            _ascending,
            "Best first: sort the scores in decreasing order (np.argsort(-x)).",
        ),
    ]
    return check_function(
        fn,
        decoding.beam_step,
        _beam_cases(),
        outputs={"new_scores": "(k,)", "origins": "(k,)", "tokens": "(k,)"},
        against="rnnbook.decoding.beam_step",
        hint="Form total = scores[:, None] + log_probs (K, V), flatten it, take the indices of "
        "the k largest values in decreasing order; index // V is the prefix, index % V the "
        "token.",
        mistakes=mistakes,
        time_limit=time_limit,
    )
