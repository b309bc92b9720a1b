r"""What every cell shares: checks, parameters, and the sequence loop written once.

A cell family (:mod:`~rnnbook.cells.elman`, :mod:`~rnnbook.cells.lstm`,
:mod:`~rnnbook.cells.gru`) writes two methods that are its chapter's equations,

``step_forward(a_x, state, w, out=NEW) -> (new_state, kept)``
    one time step from the step's input projection :math:`a_x = W_x x_t + b` ((B, G*H),
    all gate blocks at once), the previous state and the weights ``w`` (``cell.step_weights()``:
    the parameters, and the recurrent weights transposed, ``w["weight_hh_T"]``, stored
    contiguous because BLAS multiplies by them faster); ``kept`` is a dict of the arrays its
    backward needs (B, ...);
``step_backward(d_state, kept, w, out=NEW) -> (d_a, d_state_prev)``
    the gradient of the loss with respect to the new state in, the gradients of the
    pre-activations (a dict; ``d_a["a_x"]`` is the gradient of :math:`a_x`) and of the
    previous state out,

where ``out`` maps names of ``kept`` (or ``d_a``) to arrays of the sequence's cache to
write into (a step called alone leaves it out and gets new arrays), and :class:`_Cell` runs
them over a sequence: :meth:`_Cell.forward` computes the input
projection of every step in one matmul before the loop and stacks what the steps keep into
the cache; :meth:`_Cell.backward` runs the steps backwards and computes every weight gradient
as one matmul over all steps (:meth:`_Cell._weight_grads`), since
:math:`\partial L/\partial W = \sum_t \bar a_t v_t^T` for a weight :math:`W` that multiplies
:math:`v_t` into the pre-activation :math:`a_t`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from rnnbook import repro
from rnnbook.functional import _checked, _positive_int, drelu, dsigmoid, dtanh, relu, sigmoid

State = Any  # an array (B, H), a tuple (h, c), or for the wrappers a list / tuple of states
Grads = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Activations and fused matmuls
# --------------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r""":math:`\sigma(x) = 1 / (1 + e^{-x})` in four NumPy calls (``out`` may be ``x`` itself).

    Where :math:`e^{-x}` overflows (x below about -88 in float32) it is inf and the result
    0, which is right, so the overflow is not reported. An exp costs about two thirds of a
    tanh in NumPy, which makes this faster than :math:`\tfrac12 (1 + \tanh(x/2))`.
    """
    out = np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def _identity(x: np.ndarray) -> np.ndarray:
    return x


def _one(y: np.ndarray) -> float:
    return 1.0


# name -> (function, derivative given the function's output)
_ACTIVATIONS = {
    "tanh": (np.tanh, dtanh),
    "relu": (relu, drelu),
    "linear": (_identity, _one),
    "sigmoid": (sigmoid, dsigmoid),
}


def _linear(x: np.ndarray, W: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x @ W.T + b`` for ``x`` of shape (..., n) as ONE matmul over all leading axes."""
    y = x.reshape(-1, x.shape[-1]) @ W.T
    if b is not None:
        y += b
    return y.reshape(*x.shape[:-1], W.shape[0])


def _sum_outer(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    r""":math:`\sum_{t,b} d_{t,b}^T v_{t,b}` for d (T, B, m), v (T, B, n): one matmul, (m, n)."""
    return d.reshape(-1, d.shape[-1]).T @ v.reshape(-1, v.shape[-1])


def _previous(first: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """The sequence shifted by one step: ``[first, seq[0], ..., seq[T-2]]``, shape (T, B, n)."""
    return np.concatenate([first[None], seq[:-1]], axis=0)


def _split(a: np.ndarray, n: int) -> list[np.ndarray]:
    """The ``n`` equal blocks of the last axis, as views (``np.split``, without its cost)."""
    H = a.shape[-1] // n
    return [a[..., k * H : (k + 1) * H] for k in range(n)]


def _blocks(a: np.ndarray, names: str) -> dict[str, np.ndarray]:
    """Split the last axis of the fused gate array into one view per gate name."""
    H = a.shape[-1] // len(names)
    return {g: a[..., k * H : (k + 1) * H] for k, g in enumerate(names)}


# --------------------------------------------------------------------------------------------
# Validation of options
# --------------------------------------------------------------------------------------------


def _choice(what: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(choices)}")
    return value


def _number(name: str, value: Any) -> float:
    """``value`` as a finite float, or a ``TypeError`` / ``ValueError`` naming it."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _float_dtype(dtype: DTypeLike) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}")
    return dt


# --------------------------------------------------------------------------------------------
# PyTorch conversion
# --------------------------------------------------------------------------------------------


def _torch_dtype(dtype: np.dtype):
    import torch

    return torch.float64 if dtype == np.float64 else torch.float32


def _read_torch(module, layer: str, cell: str) -> dict[str, np.ndarray]:
    """Parameters of ``torch.nn.<layer>`` (one layer, one direction) or ``torch.nn.<cell>``,
    copied, under the cell's names (``weight_ih_l0`` -> ``weight_ih``)."""
    from torch import nn

    if isinstance(module, getattr(nn, layer)):
        problems = [
            (module.num_layers != 1, f"num_layers={module.num_layers} (use Stacked([...]))"),
            (module.bidirectional, "bidirectional=True (use Bidirectional(fwd, bwd))"),
            (module.batch_first, "batch_first=True (the book is time-major, (T, B, I))"),
            (getattr(module, "proj_size", 0) > 0, f"proj_size={getattr(module, 'proj_size', 0)}"),
        ]
        bad = [msg for is_bad, msg in problems if is_bad]
        if bad:
            raise ValueError(
                f"from_torch converts a one-layer, unidirectional, time-major nn.{layer}; "
                f"got {', '.join(bad)}"
            )
        suffix = "_l0"
    elif isinstance(module, getattr(nn, cell)):
        suffix = ""
    else:
        raise TypeError(
            f"expected torch.nn.{layer} or torch.nn.{cell}, got {type(module).__name__}"
        )
    params = {}
    for name, p in module.named_parameters():
        a = p.detach().cpu().numpy().copy()
        _float_dtype(a.dtype)
        params[name.removesuffix(suffix)] = a
    return params


def _write_torch(module, params: dict[str, np.ndarray], cell: bool):
    """Copy ``params`` into the freshly built torch ``module`` (exactly) and return it."""
    import torch

    suffix = "" if cell else "_l0"
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.from_numpy(params[name.removesuffix(suffix)]))
    return module


def _new_torch(kind, cell: Any, **options: Any):
    """``kind(I, H, **options)`` (an nn module) with exactly ``cell``'s weights, built without
    moving torch's global random state."""
    import torch

    with torch.random.fork_rng(devices=[]):
        m = kind(cell.input_size, cell.hidden_size, dtype=_torch_dtype(cell.dtype), **options)
    return m


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------


class _New(dict):
    """The ``out`` of a step called alone: every name gives None, so NumPy allocates."""

    def __missing__(self, key: str) -> None:
        return None


NEW = _New()


def _store(kept: dict[str, np.ndarray], out: dict[str, np.ndarray]) -> None:
    """Copy into ``out`` the arrays of ``kept`` that a step did not write there itself."""
    for k, slot in out.items():
        if kept[k] is not slot:
            slot[...] = kept[k]


class _Cache(dict):
    """What ``forward`` keeps for ``backward``: a dict of arrays that knows which cell made it."""

    cell: Any = None


def _remembers_its_cell(forward):
    """``forward``, returning its cache as a :class:`_Cache` that names the cell."""

    @functools.wraps(forward)
    def wrapped(self, x, state=None):
        outputs, final, cache = forward(self, x, state)
        cache = _Cache(cache)
        cache.cell = self
        return outputs, final, cache

    return wrapped


# --------------------------------------------------------------------------------------------
# The cell: plumbing, and the sequence forward / backward written once
# --------------------------------------------------------------------------------------------


class _Cell:
    """Shared plumbing: parameters, their init, states, input checks, the sequence loop."""

    input_size: int
    hidden_size: int
    output_size: int  # feature size of the outputs (= hidden_size except for JordanRNN)
    state_size: int  # feature size of the state (= hidden_size except for JordanRNN)
    _state_dim = "hidden_size"  # its name in error messages
    _initial = ("h0",)  # the cache's names of the initial state (its parts)
    _carried = {"h": "h0"}  # kept arrays that are the state, and their initial values
    _output = "h"  # the kept array that is the output of a step
    _view_names: tuple[str, ...] = ()  # the names :meth:`_views` adds to the cache
    dtype: np.dtype
    params: dict[str, np.ndarray]

    def _init(self, input_size: int, hidden_size: int, dtype: DTypeLike) -> None:
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.output_size = self.state_size = self.hidden_size
        self.dtype = _float_dtype(dtype)

    def _init_params(self, shapes: dict[str, tuple[int, ...]], seed: int | None) -> None:
        """Every parameter uniform in (-1/sqrt(H), 1/sqrt(H)), as PyTorch, in ``shapes`` order."""
        self._shapes = shapes  # what _check_params expects
        rng = np.random.default_rng(seed)
        k = 1.0 / math.sqrt(self.hidden_size)
        self.params = {
            name: rng.uniform(-k, k, size=shape).astype(self.dtype)
            for name, shape in shapes.items()
        }
        repro.perturb_arrays(self.params.values(), seed)  # only under RNNBOOK_PERTURB

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.params.values())

    def init_state(self, batch: int) -> State:
        """The zero state for a batch of ``batch`` sequences, shape (batch, state_size)."""
        return np.zeros((_positive_int("batch", batch), self.state_size), dtype=self.dtype)

    # -- validation: once per forward / backward call, all of it through _checked -------------
    def _array(self, name: str, a: ArrayLike, shape: Sequence[int | None], dims: Sequence[str]):
        return _checked(name, a, tuple(shape), tuple(dims), self.dtype)

    def _check_params(self) -> dict[str, np.ndarray]:
        """``self.params`` if it holds the names, shapes and dtype the cell was built with, and
        finite values; else a ``ValueError`` / ``TypeError`` naming the parameter."""
        p, shapes = self.params, self._shapes
        if not isinstance(p, dict) or p.keys() != shapes.keys():
            got = f"got a {type(p).__name__}"
            if isinstance(p, dict):
                missing = [n for n in shapes if n not in p]
                got = f"missing {missing}" if missing else f"unexpected {list(p - shapes.keys())}"
            raise ValueError(f"{self!r}.params must hold {list(shapes)}; {got}")
        for name, shape in shapes.items():
            a = p[name]
            if not isinstance(a, np.ndarray) or a.dtype != self.dtype:
                got = f"dtype {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
                raise TypeError(
                    f"params[{name!r}] of {self!r} must be a NumPy array of the cell's dtype "
                    f"{self.dtype}, got {got}; convert it with .astype(np.{self.dtype})"
                )
            _checked(f"params[{name!r}] of {self!r}", a, shape)
        return p

    def _state_in(self, name: str, state: State | None, batch: int) -> State:
        """The state (or its gradient) checked against the batch size; None means zeros."""
        if state is None:
            return np.zeros((batch, self.state_size), dtype=self.dtype)
        return self._array(name, state, (batch, self.state_size), ("B", self._state_dim))

    def _prepare(self, x: ArrayLike, state: State | None) -> tuple[np.ndarray, State]:
        x = self._array("x", x, (None, None, self.input_size), ("T", "B", "input_size"))
        state = self._state_in("state", state, x.shape[1])
        self._check_params()
        return x, state

    def _check_cache(self, cache: Any) -> dict:
        """The cache, checked: refuse one that another cell's forward made. A dict written by
        hand must hold every array that this cell's forward stores, in the shapes it stores
        them, except ``h_prev`` (``c_prev``, ``y_prev``), made from ``h0`` and ``h``."""
        maker = getattr(cache, "cell", None)
        if maker is self:
            return cache
        if maker is not None:
            raise ValueError(
                f"cache was made by the forward of another cell object, {maker!r} (another "
                f"instance, or a copy): {self!r}.backward takes the cache of its own forward"
            )
        if not isinstance(cache, dict) or "x" not in cache:
            raise TypeError(
                f"cache must be the third value returned by {type(self).__name__}.forward(x), "
                f"got {type(cache).__name__}"
            )
        dims = ("T", "B", "input_size")
        T, B, _ = self._array("cache['x']", cache["x"], (None, None, self.input_size), dims).shape
        stored = self.forward(np.zeros((1, B, self.input_size), self.dtype))[2]
        cache = dict(cache)  # completed below, not changed
        for k, first in self._carried.items():  # h_prev... can be made from h0 and h
            if f"{k}_prev" not in cache and k in cache and first in cache:
                cache[f"{k}_prev"] = _previous(np.asarray(cache[first]), np.asarray(cache[k]))
        for key, a in stored.items():
            if key in self._view_names:
                continue
            if key not in cache:
                keys = [k for k in stored if k not in self._view_names]
                raise ValueError(f"cache has no {key!r}; this cell's forward stores {keys}")
            shape = (T, *a.shape[1:]) if a.ndim == 3 else a.shape
            _checked(f"cache[{key!r}]", cache[key], shape)
        return cache

    def _upstream(self, d_outputs: ArrayLike, d_state: State | None, cache: dict):
        cache = self._check_cache(cache)
        self._check_params()
        T, B, _ = cache["x"].shape
        shape, dims = (T, B, self.output_size), ("T", "B", self._state_dim)
        d_outputs = self._array("d_outputs", d_outputs, shape, dims)
        return d_outputs, self._state_in("d_state", d_state, B), cache

    # -- the sequence, written once ----------------------------------------------------------
    def _input_projection(self, x: np.ndarray) -> np.ndarray:
        """:math:`W_x x_t + b` for every step and every gate block: one matmul, (T, B, G*H).
        Both biases are added here unless a family keeps ``bias_hh`` inside its step."""
        p = self.params
        b = p["bias_ih"] + p["bias_hh"] if "bias_ih" in p else None
        return _linear(x, p["weight_ih"], b)

    def step_weights(self) -> dict[str, np.ndarray]:
        """The weights as the steps read them: ``params``, plus each recurrent or output
        matrix transposed and contiguous (``weight_hh_T``...), for a faster matmul."""
        p = self.params
        T = {
            f"{n}_T": np.ascontiguousarray(a.T)
            for n, a in p.items()
            if n in ("weight_hh", "weight_hy")
        }
        return {**p, **T}

    @_remembers_its_cell
    def forward(self, x: ArrayLike, state: State | None = None):
        """Run over a sequence: x (T, B, I) and the initial state (None = zeros) ->
        ``(outputs (T, B, output_size), final state, cache)``.

        The input projection of every step is one matmul before the loop; each step is
        :meth:`step_forward`, which writes what it keeps straight into the cache's arrays
        (T, B, ...) when it can (``out``).
        """
        x, state = self._prepare(x, state)
        a_x = self._input_projection(x)  # (T, B, G*H), all steps and gates: one matmul
        w, first = self.step_weights(), state
        state, kept = self.step_forward(a_x[0], state, w)
        cache = self._cache_for(kept, first, x.shape[0])
        for t in range(1, x.shape[0]):
            out = {k: cache[k][t] for k in kept if not k.endswith("_prev")}
            state, kept = self.step_forward(a_x[t], state, w, out)
            _store(kept, out)
        cache.update(self._views(cache), x=x)
        return cache[self._output], state, cache

    def _cache_for(self, kept: dict[str, np.ndarray], first: State, T: int) -> dict:
        """The cache's arrays (T, B, ...) for what the steps keep, holding step 0's ``kept``.
        A carried state (h, c, y) gets one (T + 1, B, ...) array, its initial value first, so
        that ``cache[k]`` and ``cache[k + "_prev"]`` are views of it."""
        initial = dict(
            zip(self._initial, first if isinstance(first, tuple) else (first,), strict=True)
        )
        cache = {}
        for k, v in kept.items():
            if k.endswith("_prev"):  # the carried state of the step before: a view, below
                continue
            if k in self._carried:
                buf = np.empty((T + 1, *v.shape), v.dtype)
                buf[0], buf[1] = initial[self._carried[k]], v
                cache[k], cache[f"{k}_prev"] = buf[1:], buf[:-1]
            else:
                cache[k] = np.empty((T, *v.shape), v.dtype)
                cache[k][0] = v
        cache.update(initial)
        return cache

    def _views(self, cache: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Extra names for parts of the stacked arrays (the LSTM's gates i, f, c~, o)."""
        return {}

    def _add_output_gradient(self, d_state: State, d_out_t: np.ndarray) -> State:
        """dL/d(state_t) from step t+1, plus dL/d(output_t) from above."""
        return d_state + d_out_t

    def backward(self, d_outputs: ArrayLike, cache: dict, d_state: State | None = None) -> Grads:
        """Backpropagation through time.

        ``d_outputs`` (T, B, output_size) is dL/d(output_t) from above, ``d_state`` the
        gradient of the final state (None = zeros). Returns ``"x"`` (T, B, I), ``"state"``
        (the gradient of the initial state) and one entry per parameter. Each step back is
        :meth:`step_backward`; the weight gradients are one matmul over all steps.
        """
        d_outputs, d_state, cache = self._upstream(d_outputs, d_state, cache)
        kept = [k for k in cache if k not in ("x", *self._view_names) and cache[k].ndim == 3]
        w, T = self.step_weights(), cache["x"].shape[0]
        d_state = self._add_output_gradient(d_state, d_outputs[T - 1])
        d_a, d_state = self.step_backward(d_state, {k: cache[k][T - 1] for k in kept}, w)
        d = {k: np.empty((T, *v.shape), v.dtype) for k, v in d_a.items()}  # stacked over t
        _store(d_a, {k: d[k][T - 1] for k in d})
        for t in reversed(range(T - 1)):
            d_state = self._add_output_gradient(d_state, d_outputs[t])
            out = {k: d[k][t] for k in d}
            d_a, d_state = self.step_backward(d_state, {k: cache[k][t] for k in kept}, w, out)
            _store(d_a, out)
        p = self.params
        grads = {
            "x": _linear(d["a_x"], p["weight_ih"].T, None),
            "state": d_state,
            "weight_ih": _sum_outer(d["a_x"], cache["x"]),
            **self._weight_grads(d, cache),
        }
        return {"x": grads.pop("x"), "state": grads.pop("state"), **{n: grads[n] for n in p}}

    def _weight_grads(self, d: dict[str, np.ndarray], cache: dict) -> Grads:
        """The gradients of the parameters other than ``weight_ih``, from the stacked
        pre-activation gradients ``d`` (T, B, ...) and the cache. This default is the
        cells whose hidden matmul reads :math:`h_{t-1}` and whose two biases both enter
        :math:`a` (the RNN, the LSTM); the Jordan network and the GRU override it."""
        grads = {"weight_hh": _sum_outer(d["a_x"], cache["h_prev"])}
        if self.bias:
            grads["bias_ih"] = grads["bias_hh"] = d["a_x"].sum(axis=(0, 1))
        return grads

    def step_forward(self, a_x, state, w, out=None):  # pragma: no cover
        raise NotImplementedError

    def step_backward(self, d_state, kept, w, out=None):  # pragma: no cover
        raise NotImplementedError

    # -- one step, checked, as a sequence of length one --------------------------------------
    def step(self, x_t: ArrayLike, state: State | None = None) -> tuple[np.ndarray, State]:
        """One time step: ``x_t`` (B, input_size) -> ``(output_t (B, H), new_state)``."""
        x_t = self._array("x_t", x_t, (None, self.input_size), ("B", "input_size"))
        outputs, state, _ = self.forward(x_t[None], state)
        return outputs[0], state

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        name = getattr(self, "_family", type(self).__name__)
        return f"{name}({self.input_size}, {self.hidden_size}{opts and ', '}{opts})"

    def _options(self) -> dict[str, Any]:
        return {}
