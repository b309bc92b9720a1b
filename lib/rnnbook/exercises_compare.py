"""Checks of the code exercises of chapter 10 (which one: comparing the cells).

On the engine of :mod:`rnnbook.grading`::

    check_matched_hidden_size(fn)  fn(cell, budget, input_size, output_size) -> H, an int
    check_copy_baseline(fn)        fn(T, n_symbols, length) -> the memoryless cross-entropy
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook import tasks
from rnnbook.grading import TIME_LIMIT, Verdict, check_function

__all__ = ["check_matched_hidden_size", "check_copy_baseline"]

_BLOCKS = {"rnn": 1, "lstm": 4, "gru": 3}


def _model_count(cell, hidden_size, input_size, output_size, biases=2, readout=True):
    G, H, I, O = _BLOCKS[cell], hidden_size, input_size, output_size
    return G * (H * I + H * H + biases * H) + (O * H + O if readout else 0)


def _matched_hidden_size(cell, budget, input_size, output_size, **count):
    H = 0
    while _model_count(cell, H + 1, input_size, output_size, **count) <= budget:
        H += 1
    return H


def check_matched_hidden_size(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the largest hidden size that fits a parameter budget (chapter 10).

    The student writes ``fn(cell, budget, input_size, output_size) -> int``: the largest
    hidden size H for which the model of :class:`rnnbook.models.SequenceRegressor` (one
    ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` layer with PyTorch's two bias vectors, then a linear
    readout) has at most ``budget`` trainable parameters,
    ``G * (H*I + H*H + 2*H) + O*H + O`` with G = 1, 4, 3 for "rnn", "lstm", "gru"
    (0 if not even H = 1 fits).
    """
    cases = [
        {"cell": c, "budget": b, "input_size": i, "output_size": o}
        for c, b, i, o in [
            ("gru", 4641, 2, 1),
            ("rnn", 4641, 2, 1),
            ("lstm", 4641, 2, 1),
            ("lstm", 20000, 10, 10),
            ("gru", 50, 3, 2),
            ("rnn", 3, 1, 1),
        ]
    ]
    mistakes = [
        (
            lambda cell, budget, input_size, output_size: _matched_hidden_size(
                cell, budget, input_size, output_size, readout=False
            ),
            "Count the readout too: O*H weights and O biases belong to the model.",
        ),
        (
            lambda cell, budget, input_size, output_size: _matched_hidden_size(
                cell, budget, input_size, output_size, biases=1
            ),
            "PyTorch keeps two bias vectors per block, b_ih and b_hh: count both.",
        ),
        (
            lambda cell, budget, input_size, output_size: (
                _matched_hidden_size(cell, budget, input_size, output_size) + 1
            ),
            "One too many: the count of your H exceeds the budget. Return the largest H whose "
            "count is at most the budget.",
        ),
    ]
    return check_function(
        fn,
        _matched_hidden_size,
        cases,
        outputs={"H": "an int"},
        against="counting the parameters of rnnbook.models.SequenceRegressor",
        hint="Write the model's parameter count as a function of H (each block of the "
        "recurrent layer with PyTorch's two biases, then the readout), and look for the "
        "largest H whose count still fits.",
        mistakes=mistakes,
        time_limit=time_limit,
    )


def check_copy_baseline(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check the memoryless baseline of the copy task (chapter 10).

    The student writes ``fn(T, n_symbols, length) -> float``: the cross-entropy (natural log),
    averaged over all ``T + 2 * length`` steps, of a model that has learnt the schedule but
    remembers no symbol: certain blanks until the answer starts, then a uniform guess over the
    ``n_symbols`` symbols for each of the ``length`` answer steps. The reference is
    :func:`rnnbook.tasks.copy_baseline_ce`, ``length * log(n_symbols) / (T + 2 * length)``.
    """
    cases = [
        {"T": T, "n_symbols": n, "length": k}
        for T, n, k in [(100, 8, 10), (20, 8, 10), (20, 8, 3), (1, 2, 1), (500, 26, 5)]
    ]
    mistakes = [
        (
            lambda T, n_symbols, length: float(np.log(n_symbols)),
            "That is the loss of one answer step. The task's loss is averaged over every step, "
            "and all the blank steps before the answer cost nothing.",
        ),
        (
            lambda T, n_symbols, length: length * float(np.log(n_symbols)) / T,
            "Count every step of the sequence: T + 2 * length of them, not T.",
        ),
        (
            lambda T, n_symbols, length: length * float(np.log(n_symbols + 2)) / (T + 2 * length),
            "The guess is over the symbols only: a model that knows the schedule never predicts "
            "the blank or the delimiter on an answer step.",
        ),
    ]
    return check_function(
        fn,
        tasks.copy_baseline_ce,
        cases,
        outputs={"baseline": "a number"},
        against="rnnbook.tasks.copy_baseline_ce",
        hint="Which steps can a model without memory predict with certainty, and what is the "
        "best it can do on the others? Then average over every step of the sequence.",
        mistakes=mistakes,
        time_limit=time_limit,
    )
