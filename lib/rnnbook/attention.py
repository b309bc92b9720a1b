"""Attention: score a query against a sequence of keys, turn the scores into weights, mix values.

A decoder state, the *query* :math:`h_a`, is compared with every encoder state, the *keys*
:math:`h_b = k_1, \\dots, k_T`. Four score functions are in use (Luong, Pham and Manning 2015;
Bahdanau, Cho and Bengio 2015; Vaswani et al. 2017):

=============  ==============================================  ===============================
method         score :math:`S(h_a, h_b)`                        parameters (``params`` keys)
=============  ==============================================  ===============================
``dot``        :math:`h_a^\\top h_b`                             none; needs ``d_q == d_k``
``general``    :math:`h_a^\\top W h_b`                           ``W`` (d_q, d_k)
``concat``     :math:`v^\\top \\tanh(W_a h_a + W_b h_b)`          ``W_a`` (d_attn, d_q),
                                                                ``W_b`` (d_attn, d_k),
                                                                ``v`` (d_attn,)
``scaled_dot`` :math:`h_a^\\top h_b / \\sqrt{d}`                  none; needs ``d_q == d_k = d``
=============  ==============================================  ===============================

``concat`` is Bahdanau's *additive* attention; ``"additive"`` is accepted as another name.
In chapter 7 the four scores are eqs. ``eq-07-dot``, ``eq-07-general``, ``eq-07-concat`` and
``eq-07-scaled``, the weights eq. ``eq-07-softmax`` (masked: ``eq-07-mask``) and the context
eq. ``eq-07-context``.
The weights are the softmax of the scores over time, :math:`\\alpha_t = e^{S_t} / \\sum_s
e^{S_s}`, with padded positions masked out (weight exactly 0), and the context is the weighted
sum of the values, :math:`c = \\sum_t \\alpha_t v_t`.

Shapes: a batch of row vectors, **batch first** on purpose (the one exception to the book's
time-major convention, stated in book/notation.md): attention scores one query per example
(one decoder step) against that example's T keys and reduces over T, so each example's keys
are a contiguous (T, d_k) block, its scores a row, as in PyTorch's
``scaled_dot_product_attention``; a time-major encoder output (T, B, H) enters as
``enc.transpose(1, 0, 2)``. ``query`` is (B, d_q),
``keys`` (B, T, d_k), ``values`` (B, T, d_v), ``mask`` (B, T) with True at real positions;
scores and weights are (B, T) and the context (B, d_v). For small worked examples the batch
axis may be left out everywhere at once: query (d_q,), keys (T, d_k) give scores (T,).

Arguments are checked as the cells check theirs: real floating-point arrays (int, bool and
complex raise ``TypeError``), finite, of the shapes above with no empty axis (``ValueError``
naming the argument and the shape expected). Everything is computed in float64 if the query,
keys, values or a parameter is float64, else in float32 (float16 is computed in float32, as
in the cells). Scores or gradients that overflow the dtype raise ``ValueError`` rather than
give NaN weights.

``score_backward`` and ``attend_backward`` are the hand-written gradients, written next to the
forward so the two can be read side by side; the tests check them against ``torch.autograd``.

Example
-------
>>> import numpy as np
>>> from rnnbook import attention
>>> q = np.array([1.0, 0.0]); K = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
>>> attention.score(q, K, "dot")
array([1., 0., 1.])
>>> context, weights = attention.attend(q, K, K, "dot")
>>> weights.round(3)
array([0.422, 0.155, 0.422])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from rnnbook.functional import _asarray, _checked, _positive_int, softmax, softmax_backward

__all__ = [
    "METHODS",
    "PARAM_NAMES",
    "score",
    "score_backward",
    "attend",
    "attend_backward",
    "init_params",
]

METHODS = ("dot", "general", "concat", "scaled_dot")
"""The score functions, by name."""

PARAM_NAMES = {"dot": (), "general": ("W",), "concat": ("W_a", "W_b", "v"), "scaled_dot": ()}
"""The ``params`` keys each method needs."""

_ALIASES = {"additive": "concat"}

Params = Mapping[str, ArrayLike]


# ----------------------------------------------------------------------------------------------
# Checking the arguments
# ----------------------------------------------------------------------------------------------


def _method(method: str) -> str:
    if not isinstance(method, str):
        raise TypeError(f"method must be a string, one of {METHODS}; got {type(method).__name__}")
    m = _ALIASES.get(method, method)
    if m not in METHODS:
        valid = ", ".join(repr(x) for x in METHODS)
        raise ValueError(
            f"unknown attention method {method!r}; expected one of {valid} "
            "('additive' is another name for 'concat')"
        )
    return m


def _inputs(
    method: str, params: Params | None, **args: ArrayLike | None
) -> tuple[str, dict[str, np.ndarray], bool, dict[str, np.ndarray]]:
    """Check the arguments of a public function, once per call, with rnnbook's one array check.

    ``args`` holds ``query`` and ``keys`` and any of ``values``, ``mask``, ``d_scores``,
    ``d_context``, ``d_weights`` (None for ``mask`` and ``d_weights`` means none). Everything
    is computed in float64 if an input (query, keys, values, parameters) is float64, else in
    float32: float16 is computed in float32, as the cells do. Returns ``(method, params,
    batched, arrays)`` with each array given the batch axis if it was one example.
    """
    method = _method(method)
    needed = PARAM_NAMES[method]
    args = {n: a for n, a in args.items() if a is not None or n not in ("mask", "d_weights")}
    raw = {n: _asarray(n, a) for n, a in args.items()}
    if not isinstance(params, Mapping | None):
        raise TypeError(f"params must be a dict of arrays (see init_params), got {params!r}")
    for n in needed:
        if params is not None and n in params:
            raw[f"params[{n!r}]"] = _asarray(f"params[{n!r}]", params[n])
    forward = [a for n, a in raw.items() if n != "mask" and not n.startswith("d_")]
    wide = any(a.dtype.kind == "f" and a.itemsize > 4 for a in forward)
    dtype = np.float64 if wide else np.float32

    batched, B = raw["query"].ndim != 1, None
    one = "" if batched else " (one example: query (d_q,), so no batch axis anywhere)"

    def arg(name: str, sizes: tuple, dims: tuple, dt: DTypeLike = dtype) -> np.ndarray:
        if batched:
            return _checked(name, raw[name], (B, *sizes), ("B", *dims), dt)
        return _checked(name, raw[name], sizes, dims, dt, one)[None]

    got = {"query": arg("query", (None,), ("d_q",))}
    B, d_q = got["query"].shape
    got["keys"] = arg("keys", (None, None), ("T", "d_k"))
    T, d_k = got["keys"].shape[1:]
    if method in ("dot", "scaled_dot") and d_q != d_k:
        raise ValueError(
            f"method {method!r} needs query and keys of the same size, got d_q={d_q} and "
            f"d_k={d_k}; use 'general' or 'concat' to compare vectors of different sizes"
        )
    shapes = {"values": ((T, None), ("T", "d_v")), "d_scores": ((T,), ("T",))}
    shapes |= {"d_weights": ((T,), ("T",)), "mask": ((T,), ("T",))}
    for name in ("values", "d_scores", "d_weights", "mask"):
        if name in raw:
            got[name] = arg(name, *shapes[name], np.bool_ if name == "mask" else dtype)
    if "d_context" in raw:
        got["d_context"] = arg("d_context", (got["values"].shape[2],), ("d_v",))
    if "mask" in got:
        empty = np.flatnonzero(~got["mask"].any(axis=1))
        if empty.size:
            where = f"batch rows {empty.tolist()}" if batched else "the sequence"
            raise ValueError(
                f"mask hides every position of {where}: attention needs at least one real "
                "(True) position per row to put its weight on"
            )
    return method, _params(method, raw, needed, d_q, d_k, dtype), batched, got


def _params(
    method: str, raw: dict[str, np.ndarray], needed: tuple, d_q: int, d_k: int, dtype: DTypeLike
) -> dict[str, np.ndarray]:
    """The parameters of ``method``, checked: ``W`` (d_q, d_k), or ``W_a`` (d_attn, d_q),
    ``W_b`` (d_attn, d_k), ``v`` (d_attn,) with the d_attn that most of the three have."""
    missing = [n for n in needed if f"params[{n!r}]" not in raw]
    if missing:
        raise ValueError(
            f"method {method!r} needs params with keys {list(needed)}; missing {missing}. "
            f"Make them with init_params({method!r}, d_query={d_q}, d_key={d_k})"
        )
    if method == "general":
        return {"W": _checked("params['W']", raw["params['W']"], (d_q, d_k), ("d_q", "d_k"), dtype)}
    if method != "concat":
        return {}
    rows = [raw[f"params[{n!r}]"].shape[:1] for n in needed]  # () for a 0-d array
    d_attn = (max(rows, key=rows.count) or (None,))[0]
    shapes = {"W_a": ((d_attn, d_q), ("d_attn", "d_q")), "W_b": ((d_attn, d_k), ("d_attn", "d_k"))}
    shapes["v"] = ((d_attn,), ("d_attn",))
    return {n: _checked(f"params[{n!r}]", raw[f"params[{n!r}]"], *shapes[n], dtype) for n in needed}


def _overflowed(what: str, arrays: dict[str, np.ndarray]) -> None:
    """Refuse results that overflowed their dtype (computed with NumPy's warnings off): the
    weights of an overflowed score would be NaN."""
    bad = [name for name, a in arrays.items() if not np.isfinite(a).all()]
    if bad:
        dt = arrays[bad[0]].dtype
        wider = "; or pass float64 arrays" if dt == np.float32 else ""
        raise ValueError(
            f"{what} overflow {dt} (not finite: {', '.join(bad)}): the query, keys, values or "
            f"parameters are too large; scale them down{wider}"
        )


def _scores(q: np.ndarray, k: np.ndarray, method: str, p: dict) -> np.ndarray:
    """:func:`_score`'s scores (B, T), refused if they overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        s = _score(q, k, method, p)[0]
    _overflowed("the scores", {"scores": s})
    return s


# ----------------------------------------------------------------------------------------------
# Parameters
# ----------------------------------------------------------------------------------------------


def init_params(
    method: str,
    d_query: int,
    d_key: int,
    d_attn: int | None = None,
    seed: int | None = None,
) -> dict[str, np.ndarray]:
    """Random parameters for a score function, uniform in :math:`\\pm 1/\\sqrt{\\text{fan in}}`.

    As ``torch.nn.Linear`` does: ``W`` and ``W_b`` have fan-in ``d_key``, ``W_a`` has
    ``d_query`` and ``v`` has ``d_attn``.

    Parameters
    ----------
    method : "dot", "general", "concat" (or "additive"), "scaled_dot"
    d_query, d_key : sizes of the query and of each key
    d_attn : size of the hidden layer of ``concat`` (default ``d_key``); ignored otherwise
    seed : seed of the random generator

    Returns
    -------
    dict with ``{}`` for dot and scaled_dot, ``{"W": (d_query, d_key)}`` for general and
    ``{"W_a": (d_attn, d_query), "W_b": (d_attn, d_key), "v": (d_attn,)}`` for concat.
    """
    method = _method(method)
    d_query, d_key = _positive_int("d_query", d_query), _positive_int("d_key", d_key)
    d_attn = None if d_attn is None else _positive_int("d_attn", d_attn)
    if method in ("dot", "scaled_dot") and d_query != d_key:
        raise ValueError(f"method {method!r} needs d_query == d_key, got {d_query} and {d_key}")
    rng = np.random.default_rng(seed)

    def uniform(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        bound = 1.0 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, size=shape)

    if method == "general":
        return {"W": uniform((d_query, d_key), d_key)}
    if method == "concat":
        a = d_key if d_attn is None else d_attn
        return {
            "W_a": uniform((a, d_query), d_query),
            "W_b": uniform((a, d_key), d_key),
            "v": uniform((a,), a),
        }
    return {}


# ----------------------------------------------------------------------------------------------
# Scores and their gradient
# ----------------------------------------------------------------------------------------------


def score(
    query: ArrayLike, keys: ArrayLike, method: str, params: Params | None = None
) -> np.ndarray:
    """Score of the query against each key: the table in the module docstring (chapter 7, eqs.
    ``eq-07-dot``, ``eq-07-general``, ``eq-07-concat``, ``eq-07-scaled``).

    Parameters
    ----------
    query : (B, d_q), or (d_q,) for one example
    keys : (B, T, d_k), or (T, d_k) for one example
    method : "dot", "general", "concat" (or "additive"), "scaled_dot"
    params : the parameters of the method (see :func:`init_params`); None for dot, scaled_dot

    Returns
    -------
    scores : (B, T), or (T,) for one example
    """
    method, p, batched, a = _inputs(method, params, query=query, keys=keys)
    s = _scores(a["query"], a["keys"], method, p)
    return s if batched else s[0]


def _score(q: np.ndarray, k: np.ndarray, method: str, p: dict) -> tuple[np.ndarray, np.ndarray]:
    """Batched scores (B, T), and what the backward needs (``q W`` or the tanh layer)."""
    if method == "dot":  # S = h_a . h_b
        return np.einsum("bd,btd->bt", q, k), q
    if method == "scaled_dot":  # S = h_a . h_b / sqrt(d)
        return np.einsum("bd,btd->bt", q, k) / np.sqrt(q.shape[-1]), q
    if method == "general":  # S = h_a^T W h_b = (h_a^T W) . h_b
        qW = q @ p["W"]  # (B, d_k)
        return np.einsum("bd,btd->bt", qW, k), qW
    # concat: S = v^T tanh(W_a h_a + W_b h_b); u is the tanh layer, (B, T, d_attn)
    u = np.tanh((q @ p["W_a"].T)[:, None, :] + k @ p["W_b"].T)
    return u @ p["v"], u


def score_backward(
    d_scores: ArrayLike,
    query: ArrayLike,
    keys: ArrayLike,
    method: str,
    params: Params | None = None,
) -> dict[str, np.ndarray]:
    """Gradients of a loss through :func:`score`, given ``d_scores`` = dL/dS.

    For dot, :math:`dS/dh_a = h_b` and :math:`dS/dh_b = h_a` (scaled_dot divides both by
    :math:`\\sqrt d`). For general, :math:`dh_a = W h_b\\,dS`, :math:`dh_b = W^\\top h_a\\,dS`,
    :math:`dW = h_a h_b^\\top dS`. For concat with :math:`u = \\tanh(W_a h_a + W_b h_b)`:
    :math:`dv = u\\,dS`, :math:`da = (1 - u^2) \\odot v\\,dS`, then :math:`dh_a = W_a^\\top da`,
    :math:`dh_b = W_b^\\top da`, :math:`dW_a = da\\,h_a^\\top`, :math:`dW_b = da\\,h_b^\\top`,
    each summed over the time steps (and the batch, for the parameters).

    Parameters
    ----------
    d_scores : (B, T), or (T,) for one example
    query, keys, method, params : as for :func:`score`

    Returns
    -------
    dict with ``"query"`` (B, d_q), ``"keys"`` (B, T, d_k) and one entry per parameter of the
    method, of that parameter's shape.
    """
    method, p, batched, a = _inputs(method, params, query=query, keys=keys, d_scores=d_scores)
    with np.errstate(over="ignore", invalid="ignore"):
        grads = _score_backward(a["d_scores"], a["query"], a["keys"], method, p)
    _overflowed("the gradients", grads)
    if not batched:
        grads["query"], grads["keys"] = grads["query"][0], grads["keys"][0]
    return grads


def _score_backward(ds: np.ndarray, q: np.ndarray, k: np.ndarray, method: str, p: dict) -> dict:
    s, saved = _score(q, k, method, p)
    if method in ("dot", "scaled_dot"):
        scale = 1.0 if method == "dot" else 1.0 / np.sqrt(q.shape[-1])
        return {
            "query": scale * np.einsum("bt,btd->bd", ds, k),
            "keys": scale * ds[:, :, None] * q[:, None, :],
        }
    if method == "general":
        qW = saved
        d_qW = np.einsum("bt,btd->bd", ds, k)  # (B, d_k)
        return {
            "query": d_qW @ p["W"].T,
            "keys": ds[:, :, None] * qW[:, None, :],
            "W": q.T @ d_qW,
        }
    u = saved  # (B, T, d_attn)
    da = ds[:, :, None] * p["v"] * (1.0 - u * u)  # gradient at the tanh's input
    da_sum = da.sum(axis=1)  # the query term is the same at every time step
    return {
        "query": da_sum @ p["W_a"],
        "keys": da @ p["W_b"],
        "W_a": da_sum.T @ q,
        "W_b": np.einsum("bta,btd->ad", da, k),
        "v": np.einsum("bt,bta->a", ds, u),
    }


# ----------------------------------------------------------------------------------------------
# Weights, context and their gradient
# ----------------------------------------------------------------------------------------------


def attend(
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    method: str,
    params: Params | None = None,
    mask: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Attention weights :math:`\\alpha = \\mathrm{softmax}(S)` and context :math:`c = \\sum_t
    \\alpha_t v_t` (chapter 7, eqs. ``eq-07-softmax``, ``eq-07-mask``, ``eq-07-context``).

    Parameters
    ----------
    query : (B, d_q), or (d_q,) for one example
    keys : (B, T, d_k), or (T, d_k)
    values : (B, T, d_v), or (T, d_v); often the keys themselves
    method, params : as for :func:`score`
    mask : optional boolean (B, T), or (T,); True at real positions, False at padding, which gets
        weight exactly 0. A row with no True raises ``ValueError``.

    Returns
    -------
    context : (B, d_v), or (d_v,)
    weights : (B, T), or (T,); each row sums to 1
    """
    method, p, batched, a = _inputs(
        method, params, query=query, keys=keys, values=values, mask=mask
    )
    weights = softmax(_scores(a["query"], a["keys"], method, p), axis=-1, mask=a.get("mask"))
    with np.errstate(over="ignore", invalid="ignore"):
        context = np.einsum("bt,btv->bv", weights, a["values"])
    _overflowed("the context", {"context": context})
    return (context, weights) if batched else (context[0], weights[0])


def attend_backward(
    d_context: ArrayLike,
    query: ArrayLike,
    keys: ArrayLike,
    values: ArrayLike,
    method: str,
    params: Params | None = None,
    mask: ArrayLike | None = None,
    d_weights: ArrayLike | None = None,
) -> dict[str, np.ndarray]:
    """Gradients of a loss through :func:`attend`, given dL/dcontext (and optionally dL/dweights).

    With :math:`c = \\sum_t \\alpha_t v_t`: :math:`dv_t = \\alpha_t\\,dc`,
    :math:`d\\alpha_t = v_t \\cdot dc` (plus ``d_weights``), then the softmax backward
    :math:`dS = \\alpha \\odot (d\\alpha - \\langle d\\alpha, \\alpha \\rangle)`
    (masked positions get 0; the softmax Jacobian is eq. ``eq-07-jacobian`` of chapter 7) and
    :func:`score_backward`. The forward is recomputed, so no
    cache is needed.

    Parameters
    ----------
    d_context : (B, d_v), or (d_v,)
    query, keys, values, method, params, mask : as for :func:`attend`
    d_weights : optional (B, T), or (T,), if the loss also uses the weights directly

    Returns
    -------
    dict with ``"query"``, ``"keys"``, ``"values"`` (shapes of the inputs) and one entry per
    parameter of the method.
    """
    method, p, batched, a = _inputs(
        method, params, query=query, keys=keys, values=values, mask=mask,
        d_context=d_context, d_weights=d_weights,
    )  # fmt: skip
    q, k, v, dc = a["query"], a["keys"], a["values"], a["d_context"]
    weights = softmax(_scores(q, k, method, p), axis=-1, mask=a.get("mask"))
    with np.errstate(over="ignore", invalid="ignore"):
        dw = np.einsum("bv,btv->bt", dc, v)
        if "d_weights" in a:
            dw = dw + a["d_weights"]
    _overflowed("the gradients", {"weights": dw})
    with np.errstate(over="ignore", invalid="ignore"):
        grads = _score_backward(softmax_backward(dw, weights), q, k, method, p)
        grads["values"] = weights[:, :, None] * dc[:, None, :]
    _overflowed("the gradients", grads)
    if not batched:
        for name in ("query", "keys", "values"):
            grads[name] = grads[name][0]
    return grads
