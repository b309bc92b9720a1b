"""Checks of the code exercises of chapter 7 (attention).

On the engine of :mod:`rnnbook.grading`; the references are :func:`rnnbook.attention.score`
and :func:`rnnbook.functional.softmax`::

    check_score(fn, method)  fn(query (d_q,), keys (T, d_k), params) -> scores (T,)
    check_softmax(fn)        fn(x) -> softmax over the last axis
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rnnbook import attention, functional
from rnnbook.grading import TIME_LIMIT, Verdict, check_function

__all__ = ["check_score", "check_softmax"]


def check_score(fn: Callable, method: str, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check one attention score function against :func:`rnnbook.attention.score`.

    The student writes ``fn(query, keys, params) -> scores`` for one example: ``query``
    (d_q,), ``keys`` (T, d_k), ``params`` the dict of :func:`rnnbook.attention.init_params`
    (``{}`` for dot and scaled_dot, ``{"W": (d_q, d_k)}`` for general, ``{"W_a": (d_attn, d_q),
    "W_b": (d_attn, d_k), "v": (d_attn,)}`` for concat), returning ``scores`` (T,)::

        dot         scores[t] = query . keys[t]
        general     scores[t] = query @ W @ keys[t]
        concat      scores[t] = v . tanh(W_a @ query + W_b @ keys[t])
        scaled_dot  scores[t] = query . keys[t] / sqrt(d)

    ``method`` is one of ``rnnbook.attention.METHODS`` (or "additive" for concat).
    """
    if method not in (*attention.METHODS, "additive"):
        raise ValueError(f"unknown method {method!r}; expected one of {attention.METHODS}")
    method = "concat" if method == "additive" else method
    same = method in ("dot", "scaled_dot")
    cases = []
    for seed, (T, d_q, d_k) in enumerate([(4, 3, 5), (1, 2, 4), (6, 4, 3)]):
        d_k = d_q if same else d_k
        rng = np.random.default_rng(seed)
        cases.append(
            {
                "query": rng.normal(size=d_q),
                "keys": rng.normal(size=(T, d_k)),
                "params": attention.init_params(method, d_q, d_k, d_attn=d_q + 1, seed=seed),
            }
        )

    def reference(query, keys, params):
        return attention.score(query, keys, method, params)

    def dot(query, keys, params):
        return attention.score(query, keys, "dot")

    mistakes = {
        "scaled_dot": [
            (dot, "You forgot to divide by sqrt(d), the square root of the vectors' size."),
            (
                lambda **c: dot(**c) / c["query"].size,
                "Divide by the square root of d, not by d.",
            ),
        ],
        "concat": [
            (
                lambda query, keys, params: (
                    (query @ params["W_a"].T + keys @ params["W_b"].T) @ params["v"]
                ),
                "The tanh is missing: scores = v . tanh(W_a q + W_b k_t).",
            )
        ],
    }.get(method, [])
    hints = {
        "dot": "One score per key: each row of keys against the query. Which product gives "
        "a vector of T numbers at once?",
        "general": "W sits between the query and each key; its shape (d_q, d_k) tells which "
        "side each goes on. Then do all T keys in one product.",
        "concat": "Bring the query and every key into the same d_attn space, combine them there, "
        "squash, and let v turn each key's vector into one number. Broadcasting does 'every "
        "key'.",
        "scaled_dot": "The dot score, divided by a factor that grows with the vectors' size d: "
        "which one keeps the scores' variance at 1?",
    }
    return check_function(
        fn,
        reference,
        cases,
        outputs={"scores": "(T,)"},
        against=f"rnnbook.attention.score(..., {method!r})",
        hint=hints[method],
        mistakes=mistakes,
        time_limit=time_limit,
    )


def check_softmax(fn: Callable, *, time_limit: float = TIME_LIMIT) -> Verdict:
    """Check a softmax over the last axis against :func:`rnnbook.functional.softmax`.

    The student writes ``fn(x) -> y`` for an array ``x`` of any shape; each slice along the last
    axis becomes a distribution: ``y = exp(x) / exp(x).sum(axis=-1, keepdims=True)``, computed
    without overflow (scores of 1000 are among the test inputs).
    """
    rng = np.random.default_rng(0)
    cases = [
        {"x": rng.normal(size=5)},
        {"x": 3 * rng.normal(size=(3, 4))},
        {"x": np.array([7.0])},
        {"x": np.array([1000.0, 1001.0, 1002.0])},
        {"x": np.array([[-1000.0, -1001.0], [0.0, 1.0]])},
    ]

    def shifted_exp(x):
        return np.exp(x - x.max())

    mistakes = [
        (
            lambda x: functional.softmax(x, axis=0),
            "Each row (the last axis) should sum to 1; you normalised the columns. Use "
            "axis=-1 with keepdims=True.",
        ),
        (
            lambda x: shifted_exp(x) / shifted_exp(x).sum(),
            "You divided by the sum over the whole array; each row should sum to 1 on its "
            "own: .sum(axis=-1, keepdims=True).",
        ),
    ]
    return check_function(
        fn,
        lambda x: functional.softmax(x, axis=-1),
        cases,
        outputs={"y": "(same as x)"},
        against="rnnbook.functional.softmax",
        hint="Normalise along the last axis, and keep that axis when you sum so that the "
        "division broadcasts over each row.",
        nan_hint="exp(1000) overflows to inf (and inf / inf is NaN), while exp(-1000) is 0 "
        "(and 0 / 0 is NaN). The softmax does not change when the same number is subtracted "
        "from a whole row: which number keeps every exponent at most 0?",
        mistakes=mistakes,
        time_limit=time_limit,
    )
