"""The checks of chapter 9's code exercises (recurrence in parallel).

Built on the engine of :mod:`rnnbook.grading` (:func:`rnnbook.grading.check_function`):
each check calls the student's function on seeded inputs, compares with the library, and
returns a :class:`rnnbook.grading.Verdict` that names a known mistake when it sees one::

    check_combine(fn)        fn(first, second) -> (a, b), the composition of two affine maps
    check_min_gru_step(fn)   fn(x, h, W, b) -> h_new
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook import mincells, scan
from rnnbook.functional import sigmoid
from rnnbook.grading import TIME_LIMIT, Verdict, check_function, seeded_cases

__all__ = ["check_combine", "check_min_gru_step"]


def _pair_cases() -> list[dict[str, tuple[np.ndarray, np.ndarray]]]:
    def build(rng, *shape):
        first = (rng.uniform(0.2, 1.5, shape), rng.normal(size=shape))
        second = (rng.uniform(0.2, 1.5, shape), rng.normal(size=shape))
        return {"first": first, "second": second}

    return seeded_cases(build, [(3,), (2, 4), (1, 5)])


def _combine(first, second):
    return scan.combine(first, second)


def check_combine(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    r"""Check the scan's operator: ``fn(first, second) -> (a, b)``.

    ``first = (a1, b1)`` and ``second = (a2, b2)`` are pairs of arrays of one shape standing
    for the maps :math:`h \mapsto a_1 h + b_1` (applied first) and
    :math:`h \mapsto a_2 h + b_2` (applied second); the answer is the pair of their
    composition, :math:`(a_1 a_2,\; a_2 b_1 + b_2)`, as :func:`rnnbook.scan.combine`.
    """
    mistakes = [
        (
            lambda first, second: (first[0] * second[0], first[0] * second[1] + first[1]),
            "You applied the second map first. 'first' happens earlier in time: "
            "h -> a2 (a1 h + b1) + b2.",
        ),
        (
            lambda first, second: (first[0] * second[0], first[1] + second[1]),
            "The earlier offset b1 passes through the later map too: it is multiplied by a2.",
        ),
        (
            lambda first, second: (first[0] + second[0], second[0] * first[1] + second[1]),
            "Composing two maps multiplies their slopes: a1 * a2, not a1 + a2.",
        ),
    ]
    return check_function(
        fn,
        _combine,
        _pair_cases(),
        outputs={"a": "the shape of a1", "b": "the shape of b1"},
        against="rnnbook.scan.combine",
        hint="Write a2 (a1 h + b1) + b2 as (slope) h + (offset) and read off the pair.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def _step_cases() -> list[dict[str, np.ndarray]]:
    def build(rng, B, I, H, seed):
        cell = mincells.MinGRUCell(I, H, seed=seed)
        return {
            "x": rng.normal(size=(B, I)) * 2.0,  # both branches of g
            "h": rng.uniform(-1, 1, size=(B, H)),
            "W": cell.params["weight_ih"],
            "b": cell.params["bias_ih"],
        }

    return seeded_cases(build, [(1, 2, 3, 0), (2, 3, 4, 1), (3, 4, 2, 2)])


def _min_gru_step(x, h, W, b):
    return mincells.min_gru_step(x, h, W, b)[0]


def _split(x, W, b):
    k_z, k_h = np.split(x @ W.T + b, 2, axis=-1)
    return sigmoid(k_z), k_h


def check_min_gru_step(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    r"""Check one minGRU step: ``fn(x, h, W, b) -> h_new``.

    ``x`` (B, I), ``h`` (B, H), ``W`` (2H, I) with the blocks z then h, ``b`` (2H,); as
    :func:`rnnbook.mincells.min_gru_step` (Feng et al. 2024)::

        z = sigmoid(x @ W_z.T + b_z)
        h_tilde = g(x @ W_h.T + b_h)       # g(k) = k + 0.5 for k >= 0, sigmoid(k) below
        h_new = (1 - z) * h + z * h_tilde
    """

    def swapped(x, h, W, b):
        z, k_h = _split(x, W, b)
        return z * h + (1 - z) * mincells.g(k_h)

    def linear(x, h, W, b):
        z, k_h = _split(x, W, b)
        return (1 - z) * h + z * k_h

    def tanh(x, h, W, b):
        z, k_h = _split(x, W, b)
        return (1 - z) * h + z * np.tanh(k_h)

    mistakes = [
        (
            swapped,
            "z and 1 - z are swapped. In Feng et al.'s minGRU z = 1 takes the candidate: "
            "h_new = (1 - z) * h + z * h_tilde (the opposite of the book's GRU convention).",
        ),
        (linear, "The candidate goes through g: g(k) = k + 0.5 where k >= 0, sigmoid(k) below."),
        (tanh, "minGRU has no tanh: the candidate is g(k), which is positive, not tanh(k)."),
    ]
    return check_function(
        fn,
        _min_gru_step,
        _step_cases(),
        outputs={"h_new": "(B, H)"},
        against="rnnbook.mincells.min_gru_step",
        hint="Both blocks come from x alone: k = x @ W.T + b, then split k into its z half and "
        "its h half; h enters only in the last line.",
        mistakes=mistakes,
        time_limit=time_limit,
    )
