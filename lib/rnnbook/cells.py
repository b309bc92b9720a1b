r"""Recurrent cells in NumPy with backpropagation through time written by hand.

The cells are the book's reference implementation: a reader can put the chapter's
derivation beside ``forward`` and ``backward`` and tick it off line by line.

Conventions
-----------
Math vs code
    The chapters write column vectors, :math:`h_t = \tanh(W_{hh} h_{t-1} + W_{ih} x_t + b)`.
    The code keeps a *batch of row vectors* with PyTorch's layout, so the same equation reads
    ``h = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``.
Shapes
    Sequences are time-major: ``x`` is ``(T, B, input_size)`` and ``outputs`` is
    ``(T, B, hidden_size)`` (``(T, B, output_size)`` for :class:`JordanRNN`). One step is
    ``(B, input_size)``. A state is one array ``(B, hidden_size)``, or the pair ``(h, c)``
    for the LSTM.
Parameters
    ``cell.params`` maps PyTorch's names to arrays in PyTorch's layout: ``weight_ih`` of
    shape ``(G*H, I)``, ``weight_hh`` ``(G*H, H)``, ``bias_ih`` and ``bias_hh`` ``(G*H,)``,
    where the ``G`` gate blocks are stacked in PyTorch's order (LSTM ``i, f, g, o``; GRU
    ``r, z, n``). Extra parameters get their own names (``weight_ci`` for a peephole...).
    Initialisation is PyTorch's: every entry uniform in :math:`(-1/\sqrt{H}, 1/\sqrt{H})`,
    drawn from ``np.random.default_rng(seed)``. :meth:`from_torch` / :meth:`to_torch` copy
    the arrays bit for bit.
Speed
    The input projection of the whole sequence, for all gates, is one matmul hoisted out of
    the time loop; each step does one hidden matmul for all gates (GRU ``reset="before"``
    needs two). The backward pass stores the gate gradients of every step and computes each
    weight gradient with one matmul over all steps.
forward / backward
    ``forward(x, state=None)`` returns ``(outputs, final_state, cache)``; a missing state
    means zeros. ``backward(d_outputs, cache, d_state=None)`` takes the gradient of the loss
    with respect to every output and (optionally) to the final state, and returns a dict
    with ``"x"`` ``(T, B, I)``, ``"state"`` (same structure as the initial state) and one
    entry per parameter name. ``backward`` uses the parameters as they are when it is
    called, so do not update them between ``forward`` and ``backward``. An LSTM state is
    the complete pair ``(h, c)`` (or None for zeros). The cache remembers the cell whose
    ``forward`` made it, and another cell's ``backward`` refuses it (a dict written by hand
    must hold every array ``forward`` stores, in the shapes it stores them).
dtype
    Parameters are float64 by default; pass ``dtype=np.float32`` for float32. Inputs
    (``x``, states, upstream gradients) must be real floating-point arrays (lists of floats
    are fine); they are cast to the cell's dtype, so a float32 cell computes in float32 even
    when fed float64 (float16 is computed in float32). Integer, boolean and complex inputs
    raise ``TypeError``: write ``np.array([[1.0, 1.0]])``, not ``np.array([[1, 1]])``. The
    parameters must have the cell's dtype.
Errors
    Wrong rank, wrong feature size, an empty axis, a batch that differs between ``x`` and the
    state, NaN or inf, and unknown options raise ``ValueError`` naming the expected shape or
    the valid choices; wrong dtypes raise ``TypeError``. ``forward`` and ``backward`` check
    ``params`` too (names, shapes, dtype, finite values), once per call and never inside the
    time loop. Past that, the arithmetic is IEEE's, as in PyTorch: a network that explodes
    (chapter 2) overflows to inf with NumPy's warning.
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

__all__ = [
    "RNNCell",
    "JordanRNN",
    "LSTMCell",
    "GRUCell",
    "Stacked",
    "Bidirectional",
    "pin_gates",
]

State = Any  # an array (B, H), a tuple (h, c), or for the wrappers a list / tuple of states
Grads = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Small helpers: activations, validation, fused matmuls
# --------------------------------------------------------------------------------------------


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


def _blocks(a: np.ndarray, names: str) -> dict[str, np.ndarray]:
    """Split the last axis of the fused gate array into one view per gate name."""
    H = a.shape[-1] // len(names)
    return {g: a[..., k * H : (k + 1) * H] for k, g in enumerate(names)}


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


# --------------------------------------------------------------------------------------------
# What every cell shares
# --------------------------------------------------------------------------------------------


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


class _Cell:
    """Shared plumbing: parameters, their init, states, input checks and ``step``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "forward" in vars(cls):  # the cache of every cell's forward remembers the cell
            cls.forward = _remembers_its_cell(vars(cls)["forward"])

    input_size: int
    hidden_size: int
    output_size: int  # feature size of the outputs (= hidden_size except for JordanRNN)
    state_size: int  # feature size of the state (= hidden_size except for JordanRNN)
    _state_dim = "hidden_size"  # its name in error messages
    dtype: np.dtype
    params: dict[str, np.ndarray]

    def _init(self, input_size: int, hidden_size: int, dtype: DTypeLike) -> None:
        self.input_size = _positive_int("input_size", input_size)
        self.hidden_size = _positive_int("hidden_size", hidden_size)
        self.output_size = self.state_size = self.hidden_size
        self.dtype = _float_dtype(dtype)

    def _init_params(self, shapes: dict[str, tuple[int, ...]], seed: int | None) -> None:
        """Every parameter uniform in (-1/sqrt(H), 1/sqrt(H)), as PyTorch, in ``shapes`` order."""
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

    def _check_cache(self, cache: Any) -> None:
        """Refuse a cache that another cell's forward made. A dict written by hand must hold
        every array that this cell's forward stores, in the shapes it stores them."""
        maker = getattr(cache, "cell", None)
        if maker is self:
            return
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
        for key, a in stored.items():
            if key not in cache:
                raise ValueError(f"cache has no {key!r}; this cell's forward stores {list(stored)}")
            shape = (T, *a.shape[1:]) if a.ndim == 3 else a.shape
            _checked(f"cache[{key!r}]", cache[key], shape)

    def _upstream(self, d_outputs: ArrayLike, d_state: State | None, cache: dict):
        self._check_cache(cache)
        self._check_params()
        T, B, _ = cache["x"].shape
        shape, dims = (T, B, self.output_size), ("T", "B", self._state_dim)
        d_outputs = self._array("d_outputs", d_outputs, shape, dims)
        return d_outputs, self._state_in("d_state", d_state, B)

    def _bias_grads(self, grads: Grads, **sums: np.ndarray) -> None:
        """Add the bias gradients (sums of pre-activation gradients over t and b) if biased."""
        for name, d in sums.items():
            if name in self.params:
                grads[name] = d.sum(axis=(0, 1))

    # -- one step is a sequence of length one ----------------------------------------------
    def step(self, x_t: ArrayLike, state: State | None = None) -> tuple[np.ndarray, State]:
        """One time step: ``x_t`` (B, input_size) -> ``(output_t (B, H), new_state)``."""
        x_t = self._array("x_t", x_t, (None, self.input_size), ("B", "input_size"))
        outputs, state, _ = self.forward(x_t[None], state)
        return outputs[0], state

    def forward(self, x: ArrayLike, state: State | None = None):  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self._options().items())
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{opts and ', '}{opts})"

    def _options(self) -> dict[str, Any]:
        return {}


# --------------------------------------------------------------------------------------------
# Elman RNN
# --------------------------------------------------------------------------------------------


class RNNCell(_Cell):
    r"""Elman recurrent cell (as ``torch.nn.RNN`` with one layer, plus a linear option).

    .. math::

        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    with :math:`\phi` = tanh, relu or the identity ("linear").

    Parameters
    ----------
    input_size, hidden_size : I and H
    nonlinearity : "tanh", "relu" or "linear"
    bias : whether there are biases (``bias=False`` as in PyTorch: no bias entries)
    seed : seed of ``np.random.default_rng`` for the initial weights
    dtype : np.float64 (default) or np.float32

    Attributes
    ----------
    params : ``weight_ih`` (H, I), ``weight_hh`` (H, H), ``bias_ih`` (H,), ``bias_hh`` (H,)

    Shapes
    ------
    x (T, B, I), state h (B, H), outputs (T, B, H) = h_1 ... h_T, final state h_T (B, H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        nonlinearity: str = "tanh",
        bias: bool = True,
        seed: int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self._init(input_size, hidden_size, dtype)
        self.nonlinearity = _choice("nonlinearity", nonlinearity, ("tanh", "relu", "linear"))
        self.bias = bool(bias)
        I, H = self.input_size, self.hidden_size
        shapes = {"weight_ih": (H, I), "weight_hh": (H, H)}
        if self.bias:
            shapes.update(bias_ih=(H,), bias_hh=(H,))
        self._shapes = shapes  # what _check_params expects
        self._init_params(shapes, seed)

    def _options(self) -> dict[str, Any]:
        return {"nonlinearity": self.nonlinearity, "bias": self.bias}

    def forward(self, x: ArrayLike, state: np.ndarray | None = None):
        """Run over a sequence: x (T, B, I), state (B, H) -> (outputs (T, B, H), h_T, cache)."""
        x, h = self._prepare(x, state)
        phi, _ = _ACTIVATIONS[self.nonlinearity]
        p = self.params
        b = p["bias_ih"] + p["bias_hh"] if self.bias else None
        ax = _linear(x, p["weight_ih"], b)  # W_ih x_t + b for every t: one matmul
        W_hh_T = p["weight_hh"].T
        hs = np.empty_like(ax)
        h0 = h
        for t in range(x.shape[0]):
            h = phi(ax[t] + h @ W_hh_T)  # h_t = phi(W_ih x_t + b + W_hh h_{t-1})
            hs[t] = h
        return hs, h, {"x": x, "h0": h0, "h": hs}

    def backward(self, d_outputs: ArrayLike, cache: dict, d_state: np.ndarray | None = None):
        r"""BPTT. d_outputs (T, B, H) = dL/dh_t from above, d_state (B, H) = dL/dh_T (extra).

        With :math:`\bar h_t` = ``d_outputs[t]`` and :math:`\delta_t = \partial L/\partial a_t`
        for the pre-activation :math:`a_t`:
        :math:`\delta_t = (\bar h_t + W_{hh}^T \delta_{t+1}) \odot \phi'(a_t)`,
        then :math:`\partial L/\partial W_{hh} = \sum_t \delta_t h_{t-1}^T`,
        :math:`\partial L/\partial W_{ih} = \sum_t \delta_t x_t^T`,
        :math:`\partial L/\partial x_t = W_{ih}^T \delta_t`.
        """
        d_outputs, dh_next = self._upstream(d_outputs, d_state, cache)
        _, dphi = _ACTIVATIONS[self.nonlinearity]
        x, h0, hs = cache["x"], cache["h0"], cache["h"]
        W_hh = self.params["weight_hh"]
        da = np.empty_like(hs)  # delta_t = dL/da_t for every step
        for t in reversed(range(x.shape[0])):
            dh = d_outputs[t] + dh_next  # from the output at t and from step t+1
            da[t] = dh * dphi(hs[t])
            dh_next = da[t] @ W_hh  # dL/dh_{t-1} through the recurrence
        grads = {
            "x": _linear(da, self.params["weight_ih"].T, None),
            "state": dh_next,
            "weight_ih": _sum_outer(da, x),
            "weight_hh": _sum_outer(da, _previous(h0, hs)),
        }
        self._bias_grads(grads, bias_ih=da, bias_hh=da)
        return grads

    @classmethod
    def from_torch(cls, module) -> RNNCell:
        """A cell with the weights of ``nn.RNN`` (one layer, unidirectional) or ``nn.RNNCell``."""
        params = _read_torch(module, "RNN", "RNNCell")
        I, H = module.input_size, module.hidden_size
        cell = cls(I, H, module.nonlinearity, bias=module.bias, dtype=params["weight_ih"].dtype)
        cell.params = params
        return cell

    def to_torch(self, cell: bool = False):
        """An ``nn.RNN`` (or ``nn.RNNCell`` if ``cell``) with exactly these weights."""
        import torch
        from torch import nn

        if self.nonlinearity == "linear":
            raise ValueError("PyTorch has no linear RNN: nonlinearity must be 'tanh' or 'relu'")
        kind = nn.RNNCell if cell else nn.RNN
        with torch.random.fork_rng(devices=[]):  # building the module must not move torch's RNG
            m = kind(
                self.input_size,
                self.hidden_size,
                nonlinearity=self.nonlinearity,
                bias=self.bias,
                dtype=_torch_dtype(self.dtype),
            )
        return _write_torch(m, self._check_params(), cell)


# --------------------------------------------------------------------------------------------
# Jordan RNN
# --------------------------------------------------------------------------------------------


class JordanRNN(_Cell):
    r"""Jordan network: the recurrent state is the previous *output*, not the hidden layer.

    .. math::

        h_t &= \phi(W_{ih} x_t + b_{ih} + W_{hh} y_{t-1} + b_{hh}) \\
        y_t &= \psi(W_{hy} h_t + b_y)

    with :math:`\phi` the hidden nonlinearity and :math:`\psi` the output nonlinearity
    ("tanh", "relu", "linear"; ``psi`` may also be "sigmoid"). Unlike an Elman cell it has
    no PyTorch counterpart.

    Parameters
    ----------
    input_size, hidden_size, output_size : I, H and O
    nonlinearity, output_nonlinearity : phi and psi
    bias, seed, dtype : as for :class:`RNNCell`

    Attributes
    ----------
    params : ``weight_ih`` (H, I), ``weight_hh`` (H, O), ``bias_ih`` (H,), ``bias_hh`` (H,),
        ``weight_hy`` (O, H), ``bias_y`` (O,)

    Shapes
    ------
    x (T, B, I), state y (B, O), outputs (T, B, O) = y_1 ... y_T, final state y_T (B, O).
    The hidden values h_t are in ``cache["h"]`` (T, B, H).
    """

    _state_dim = "output_size"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        nonlinearity: str = "tanh",
        output_nonlinearity: str = "linear",
        bias: bool = True,
        seed: int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self._init(input_size, hidden_size, dtype)
        self.output_size = self.state_size = _positive_int("output_size", output_size)
        self.nonlinearity = _choice("nonlinearity", nonlinearity, ("tanh", "relu", "linear"))
        self.output_nonlinearity = _choice(
            "output_nonlinearity", output_nonlinearity, tuple(_ACTIVATIONS)
        )
        self.bias = bool(bias)
        I, H, O = self.input_size, self.hidden_size, self.output_size
        shapes = {"weight_ih": (H, I), "weight_hh": (H, O)}
        if self.bias:
            shapes.update(bias_ih=(H,), bias_hh=(H,))
        shapes["weight_hy"] = (O, H)
        if self.bias:
            shapes["bias_y"] = (O,)
        self._shapes = shapes  # what _check_params expects
        self._init_params(shapes, seed)

    def __repr__(self) -> str:
        return (
            f"JordanRNN({self.input_size}, {self.hidden_size}, {self.output_size}, "
            f"nonlinearity={self.nonlinearity!r}, "
            f"output_nonlinearity={self.output_nonlinearity!r}, bias={self.bias})"
        )

    def forward(self, x: ArrayLike, state: np.ndarray | None = None):
        """Run over a sequence: x (T, B, I), state y_0 (B, O) -> (outputs (T, B, O), y_T, cache)."""
        x, y = self._prepare(x, state)
        phi, _ = _ACTIVATIONS[self.nonlinearity]
        psi, _ = _ACTIVATIONS[self.output_nonlinearity]
        p = self.params
        b = p["bias_ih"] + p["bias_hh"] if self.bias else None
        ax = _linear(x, p["weight_ih"], b)  # W_ih x_t + b for every t: one matmul
        W_hh_T, W_hy_T, b_y = p["weight_hh"].T, p["weight_hy"].T, p.get("bias_y", 0.0)
        T, B, _ = x.shape
        hs = np.empty((T, B, self.hidden_size), dtype=self.dtype)
        ys = np.empty((T, B, self.output_size), dtype=self.dtype)
        y0 = y
        for t in range(T):
            h = phi(ax[t] + y @ W_hh_T)  # h_t = phi(W_ih x_t + b + W_hh y_{t-1})
            y = psi(h @ W_hy_T + b_y)  # y_t = psi(W_hy h_t + b_y)
            hs[t], ys[t] = h, y
        return ys, y, {"x": x, "y0": y0, "h": hs, "y": ys}

    def backward(self, d_outputs: ArrayLike, cache: dict, d_state: np.ndarray | None = None):
        r"""BPTT. d_outputs (T, B, O) = dL/dy_t from above, d_state (B, O) = dL/dy_T (extra).

        With :math:`\epsilon_t = \partial L/\partial(W_{hy} h_t + b_y)` and
        :math:`\delta_t = \partial L/\partial(\text{pre-activation of } h_t)`:
        :math:`\epsilon_t = (\bar y_t + W_{hh}^T \delta_{t+1}) \odot \psi'`,
        :math:`\delta_t = (W_{hy}^T \epsilon_t) \odot \phi'`.
        """
        d_outputs, dy_next = self._upstream(d_outputs, d_state, cache)
        _, dphi = _ACTIVATIONS[self.nonlinearity]
        _, dpsi = _ACTIVATIONS[self.output_nonlinearity]
        x, y0, hs, ys = cache["x"], cache["y0"], cache["h"], cache["y"]
        W_hh, W_hy = self.params["weight_hh"], self.params["weight_hy"]
        de = np.empty_like(ys)  # epsilon_t: gradient at the output pre-activation
        da = np.empty_like(hs)  # delta_t: gradient at the hidden pre-activation
        for t in reversed(range(x.shape[0])):
            dy = d_outputs[t] + dy_next  # from the output at t and from step t+1
            de[t] = dy * dpsi(ys[t])
            da[t] = (de[t] @ W_hy) * dphi(hs[t])
            dy_next = da[t] @ W_hh  # dL/dy_{t-1} through the recurrence
        grads = {
            "x": _linear(da, self.params["weight_ih"].T, None),
            "state": dy_next,
            "weight_ih": _sum_outer(da, x),
            "weight_hh": _sum_outer(da, _previous(y0, ys)),
            "weight_hy": _sum_outer(de, hs),
        }
        self._bias_grads(grads, bias_ih=da, bias_hh=da, bias_y=de)
        return grads

    @classmethod
    def from_torch(cls, module) -> JordanRNN:
        raise TypeError("a Jordan network has no PyTorch module (torch.nn.RNN is an Elman network)")

    def to_torch(self, cell: bool = False):
        raise TypeError("a Jordan network has no PyTorch module (torch.nn.RNN is an Elman network)")


# --------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------

# gate blocks stacked in weight_ih / weight_hh / biases, per variant
_LSTM_GATES = {"vanilla": "ifgo", "peephole": "ifgo", "noaf": "ifgo", "cifg": "fgo", "nfg": "igo"}


class LSTMCell(_Cell):
    r"""Long short-term memory cell and the variants compared by Greff et al. (2017).

    ``variant="vanilla"`` is ``torch.nn.LSTM``:

    .. math::

        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        \tilde c_t = g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= o_t \odot \tanh(c_t)

    The other variants change one thing each:

    ``"peephole"`` (Gers & Schmidhuber 2000): the gates look at the cell,
        :math:`i_t, f_t` add :math:`w_{ci} \odot c_{t-1}`, :math:`w_{cf} \odot c_{t-1}`
        inside the sigmoid, and :math:`o_t` adds :math:`w_{co} \odot c_t` (the *new* cell).
    ``"cifg"`` coupled input and forget gate: :math:`i_t = 1 - f_t`. There is no i block:
        the weights stack 3 blocks ``f, g, o`` (3H rows).
    ``"nfg"`` no forget gate: :math:`f_t = 1`, so :math:`c_t = c_{t-1} + i_t \odot g_t`.
        The weights stack 3 blocks ``i, g, o``.
    ``"noaf"`` no output activation: :math:`h_t = o_t \odot c_t`.

    Parameters
    ----------
    input_size, hidden_size : I and H
    variant : "vanilla", "peephole", "cifg", "nfg" or "noaf"
    forget_bias : added to the forget block of ``bias_ih`` at initialisation (1.0 is a common
        choice: gates start open, gradients flow back further). Not allowed for "nfg".
    bias, seed, dtype : as for :class:`RNNCell`

    Attributes
    ----------
    params : ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,)
        with G = 4 blocks ``i, f, g, o`` (PyTorch's order), or 3 for "cifg" / "nfg";
        for "peephole" also ``weight_ci``, ``weight_cf``, ``weight_co`` (H,).

    Shapes
    ------
    x (T, B, I), state (h, c) each (B, H), outputs (T, B, H) = h_1 ... h_T,
    final state (h_T, c_T).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        variant: str = "vanilla",
        forget_bias: float = 0.0,
        bias: bool = True,
        seed: int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self._init(input_size, hidden_size, dtype)
        self.variant = _choice("LSTM variant", variant, tuple(_LSTM_GATES))
        self.gates = _LSTM_GATES[self.variant]
        self.bias = bool(bias)
        self.forget_bias = _number("forget_bias", forget_bias)
        if self.forget_bias and (self.variant == "nfg" or not self.bias):
            raise ValueError(
                "forget_bias needs a forget gate and biases (not 'nfg', not bias=False)"
            )
        I, H, G = self.input_size, self.hidden_size, len(self.gates)
        shapes = {"weight_ih": (G * H, I), "weight_hh": (G * H, H)}
        if self.bias:
            shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        if self.variant == "peephole":
            shapes.update(weight_ci=(H,), weight_cf=(H,), weight_co=(H,))
        self._shapes = shapes  # what _check_params expects
        self._init_params(shapes, seed)
        if self.forget_bias:
            _blocks(self.params["bias_ih"], self.gates)["f"][...] += self.forget_bias

    def _options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"variant": self.variant}
        if self.forget_bias:
            opts["forget_bias"] = self.forget_bias
        if not self.bias:
            opts["bias"] = False
        return opts

    def init_state(self, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """The zero state ``(h, c)``, each (batch, H)."""
        return super().init_state(batch), super().init_state(batch)

    def _state_in(self, name: str, state, batch: int) -> tuple[np.ndarray, np.ndarray]:
        if state is None:
            return self.init_state(batch)
        if not (isinstance(state, tuple | list) and len(state) == 2):
            raise TypeError(f"an LSTM {name} is a pair (h, c) of arrays of shape (B, H)")
        for part, s in zip("hc", state, strict=True):
            if s is None:
                raise TypeError(
                    f"an LSTM {name} is a pair (h, c) of arrays of shape (B, H), got None for "
                    f"{part}: pass np.zeros((B, H)) for a zero {part}, or {name}=None for both"
                )
        h, c = (
            super(LSTMCell, self)._state_in(f"{name} {n}", s, batch)
            for n, s in zip("hc", state, strict=True)
        )
        return h, c

    def forward(self, x: ArrayLike, state: tuple[np.ndarray, np.ndarray] | None = None):
        """Run over a sequence: x (T, B, I), (h_0, c_0) -> (outputs (T, B, H), (h_T, c_T), cache).

        The cache keeps every step's gates i, f, g (= c~), o, the cells c, tanh(c) and h.
        """
        x, (h, c) = self._prepare(x, state)
        v, p = self.variant, self.params
        b = p["bias_ih"] + p["bias_hh"] if self.bias else None
        ax = _linear(x, p["weight_ih"], b)  # all gates' input projections, all t: one matmul
        W_hh_T = p["weight_hh"].T
        if v == "peephole":
            w_ci, w_cf, w_co = p["weight_ci"], p["weight_cf"], p["weight_co"]
        T, B, _ = x.shape
        cache = {k: np.empty((T, B, self.hidden_size), self.dtype) for k in "ifgoch"}
        cache["tanh_c"] = cache["c"] if v == "noaf" else np.empty_like(cache["c"])
        cache.update(x=x, h0=h, c0=c)
        one = np.ones_like(h)
        for t in range(T):
            a = _blocks(ax[t] + h @ W_hh_T, self.gates)  # pre-activations a["i"], a["f"], ...
            if v == "peephole":  # i and f look at the old cell c_{t-1}
                a["i"] = a["i"] + w_ci * c
                a["f"] = a["f"] + w_cf * c
            f = one if v == "nfg" else sigmoid(a["f"])  # forget gate
            i = 1.0 - f if v == "cifg" else sigmoid(a["i"])  # input gate
            g = np.tanh(a["g"])  # candidate c~_t
            c = f * c + i * g  # c_t = f_t * c_{t-1} + i_t * c~_t
            if v == "peephole":  # o looks at the new cell c_t
                a["o"] = a["o"] + w_co * c
            o = sigmoid(a["o"])  # output gate
            tanh_c = c if v == "noaf" else np.tanh(c)
            h = o * tanh_c  # h_t = o_t * tanh(c_t)
            cache["i"][t], cache["f"][t], cache["g"][t], cache["o"][t] = i, f, g, o
            cache["c"][t], cache["tanh_c"][t], cache["h"][t] = c, tanh_c, h
        return cache["h"], (h, c), cache

    def backward(self, d_outputs: ArrayLike, cache: dict, d_state=None):
        r"""BPTT. d_outputs (T, B, H) = dL/dh_t from above; d_state = (dL/dh_T, dL/dc_T) or None.

        Going back through step t with :math:`\bar h = \partial L/\partial h_t` and
        :math:`\bar c` the gradient reaching :math:`c_t` from step t+1:

        .. math::

            \bar o &= \bar h \odot \tanh(c_t), \quad
            \bar c \mathrel{+}= \bar h \odot o_t \odot (1 - \tanh^2 c_t) \\
            \bar i &= \bar c \odot g_t, \quad \bar f = \bar c \odot c_{t-1}, \quad
            \bar g = \bar c \odot i_t, \quad \bar c_{t-1} = \bar c \odot f_t

        and each gate's pre-activation gets its bar times the local derivative,
        :math:`\sigma' = \sigma(1 - \sigma)`, :math:`\tanh' = 1 - \tanh^2`.
        """
        d_outputs, (dh_next, dc_next) = self._upstream(d_outputs, d_state, cache)
        T, B, _ = cache["x"].shape
        v, p, H = self.variant, self.params, self.hidden_size
        W_hh = p["weight_hh"]
        c0 = cache["c0"]
        dA = np.empty((T, B, len(self.gates) * H), self.dtype)  # dL/d(pre-activations)
        da = _blocks(dA, self.gates)  # views: da["i"][t] writes into dA
        for t in reversed(range(T)):
            i, f, g, o = cache["i"][t], cache["f"][t], cache["g"][t], cache["o"][t]
            tanh_c = cache["tanh_c"][t]
            c_prev = c0 if t == 0 else cache["c"][t - 1]
            dh = d_outputs[t] + dh_next  # from the output at t and from step t+1
            do = dh * tanh_c  # h = o * tanh(c)
            dc = dc_next + dh * o * (1.0 if v == "noaf" else dtanh(tanh_c))
            da["o"][t] = do * dsigmoid(o)
            if v == "peephole":
                dc += da["o"][t] * p["weight_co"]
            di, df, dg = dc * g, dc * c_prev, dc * i  # c = f * c_prev + i * g
            dc_next = dc * f  # dL/dc_{t-1}
            da["g"][t] = dg * dtanh(g)
            if v == "cifg":  # i = 1 - f: f gets its own share and minus the input gate's
                da["f"][t] = (df - di) * dsigmoid(f)
            else:
                da["i"][t] = di * dsigmoid(i)
                if v != "nfg":
                    da["f"][t] = df * dsigmoid(f)
            if v == "peephole":
                dc_next += da["i"][t] * p["weight_ci"] + da["f"][t] * p["weight_cf"]
            dh_next = dA[t] @ W_hh  # dL/dh_{t-1} through all gates
        grads = {
            "x": _linear(dA, p["weight_ih"].T, None),
            "state": (dh_next, dc_next),
            "weight_ih": _sum_outer(dA, cache["x"]),
            "weight_hh": _sum_outer(dA, _previous(cache["h0"], cache["h"])),
        }
        self._bias_grads(grads, bias_ih=dA, bias_hh=dA)
        if v == "peephole":
            c_prev = _previous(c0, cache["c"])
            grads["weight_ci"] = (da["i"] * c_prev).sum(axis=(0, 1))
            grads["weight_cf"] = (da["f"] * c_prev).sum(axis=(0, 1))
            grads["weight_co"] = (da["o"] * cache["c"]).sum(axis=(0, 1))
        return grads

    @classmethod
    def from_torch(cls, module) -> LSTMCell:
        """A vanilla cell with the weights of ``nn.LSTM`` (one layer, no projection) or
        ``nn.LSTMCell``."""
        params = _read_torch(module, "LSTM", "LSTMCell")
        I, H = module.input_size, module.hidden_size
        cell = cls(I, H, bias=module.bias, dtype=params["weight_ih"].dtype)
        cell.params = params
        return cell

    def to_torch(self, cell: bool = False):
        """An ``nn.LSTM`` (or ``nn.LSTMCell`` if ``cell``) with exactly these weights."""
        import torch
        from torch import nn

        if self.variant != "vanilla":
            raise ValueError(f"PyTorch has only the vanilla LSTM, not variant={self.variant!r}")
        kind = nn.LSTMCell if cell else nn.LSTM
        with torch.random.fork_rng(devices=[]):
            m = kind(
                self.input_size, self.hidden_size, bias=self.bias, dtype=_torch_dtype(self.dtype)
            )
        return _write_torch(m, self._check_params(), cell)


# --------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------


class GRUCell(_Cell):
    r"""Gated recurrent unit, with the reset gate after (PyTorch) or before (Cho et al. 2014)
    the hidden matmul.

    .. math::

        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        \tilde h_t = n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))
            \quad \text{reset="after" (torch.nn.GRU)} \\
        \tilde h_t = n_t &= \tanh(W_{in} x_t + b_{in} + W_{hn} (r_t \odot h_{t-1}) + b_{hn})
            \quad \text{reset="before" (Cho et al. 2014)} \\
        h_t &= z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t

    Sources that write :math:`h_t = (1 - u_t) h_{t-1} + u_t \tilde h_t` use :math:`u = 1 - z`.
    "before" needs two hidden matmuls per step (``r`` must be known before ``W_hn`` acts);
    there ``b_in`` and ``b_hn`` are simply added, so only their sum matters (kept for the layout).

    Parameters
    ----------
    input_size, hidden_size : I and H
    reset : "after" or "before"
    bias, seed, dtype : as for :class:`RNNCell`

    Attributes
    ----------
    params : ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,),
        blocks ``r, z, n`` in PyTorch's order.

    Shapes
    ------
    x (T, B, I), state h (B, H), outputs (T, B, H) = h_1 ... h_T, final state h_T (B, H).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        reset: str = "after",
        bias: bool = True,
        seed: int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        self._init(input_size, hidden_size, dtype)
        self.reset = _choice("GRU reset", reset, ("after", "before"))
        self.bias = bool(bias)
        I, H = self.input_size, self.hidden_size
        shapes = {"weight_ih": (3 * H, I), "weight_hh": (3 * H, H)}
        if self.bias:
            shapes.update(bias_ih=(3 * H,), bias_hh=(3 * H,))
        self._shapes = shapes  # what _check_params expects
        self._init_params(shapes, seed)

    def _options(self) -> dict[str, Any]:
        return {"reset": self.reset} if self.bias else {"reset": self.reset, "bias": False}

    def forward(self, x: ArrayLike, state: np.ndarray | None = None):
        """Run over a sequence: x (T, B, I), state (B, H) -> (outputs (T, B, H), h_T, cache)."""
        x, h = self._prepare(x, state)
        p, H = self.params, self.hidden_size
        ax = _blocks(_linear(x, p["weight_ih"], p.get("bias_ih")), "rzn")  # one matmul, all t
        b_hh = p.get("bias_hh", np.zeros(3 * H, self.dtype))
        if self.reset == "after":
            W_hh_T = p["weight_hh"].T
        else:  # r and z from h, n from r * h: two matmuls
            W_hrz_T, b_hrz = p["weight_hh"][: 2 * H].T, b_hh[: 2 * H]
            W_hn_T, b_hn = p["weight_hh"][2 * H :].T, b_hh[2 * H :]
        T, B, _ = x.shape
        # hn = W_hn h_{t-1} + b_hn ("after") or rh = r_t * h_{t-1} ("before") is kept for backward
        kept = "hn" if self.reset == "after" else "rh"
        cache = {k: np.empty((T, B, H), self.dtype) for k in ("r", "z", "n", "h", kept)}
        cache.update(x=x, h0=h)
        for t in range(T):
            if self.reset == "after":
                ah = _blocks(h @ W_hh_T + b_hh, "rzn")  # W_h{r,z,n} h_{t-1} + b_h{r,z,n}
                r = sigmoid(ax["r"][t] + ah["r"])  # reset gate
                z = sigmoid(ax["z"][t] + ah["z"])  # update gate
                hn = ah["n"]  # W_hn h_{t-1} + b_hn
                n = np.tanh(ax["n"][t] + r * hn)  # candidate h~_t
                cache["hn"][t] = hn
            else:
                ah = _blocks(h @ W_hrz_T + b_hrz, "rz")
                r = sigmoid(ax["r"][t] + ah["r"])
                z = sigmoid(ax["z"][t] + ah["z"])
                rh = r * h  # reset applied before the matmul
                n = np.tanh(ax["n"][t] + rh @ W_hn_T + b_hn)
                cache["rh"][t] = rh
            h = z * h + (1.0 - z) * n  # h_t = z_t * h_{t-1} + (1 - z_t) * h~_t
            cache["r"][t], cache["z"][t], cache["n"][t], cache["h"][t] = r, z, n, h
        return cache["h"], h, cache

    def backward(self, d_outputs: ArrayLike, cache: dict, d_state: np.ndarray | None = None):
        r"""BPTT. d_outputs (T, B, H) = dL/dh_t from above, d_state (B, H) = dL/dh_T (extra).

        Through step t, with :math:`\bar h = \partial L/\partial h_t`:
        :math:`\bar z = \bar h \odot (h_{t-1} - n_t)`,
        :math:`\bar n = \bar h \odot (1 - z_t)`,
        :math:`\bar h_{t-1} = \bar h \odot z_t + \ldots`; with reset "after",
        :math:`\bar r = \bar a_n \odot (W_{hn} h_{t-1} + b_{hn})` where
        :math:`\bar a_n = \bar n \odot (1 - n_t^2)`; with reset "before",
        :math:`\bar r = (W_{hn}^T \bar a_n) \odot h_{t-1}`.
        """
        d_outputs, dh_next = self._upstream(d_outputs, d_state, cache)
        T, B, _ = cache["x"].shape
        p, H = self.params, self.hidden_size
        W_hh = p["weight_hh"]
        h_prev_all = _previous(cache["h0"], cache["h"])
        dAx = np.empty((T, B, 3 * H), self.dtype)  # dL/d(W_ih x_t + b_ih), blocks r, z, n
        dAh = np.empty((T, B, 3 * H), self.dtype)  # dL/d(hidden matmul output), blocks r, z, n
        dax, dah = _blocks(dAx, "rzn"), _blocks(dAh, "rzn")
        for t in reversed(range(T)):
            r, z, n = cache["r"][t], cache["z"][t], cache["n"][t]
            h_prev = h_prev_all[t]
            dh = d_outputs[t] + dh_next  # from the output at t and from step t+1
            dz = dh * (h_prev - n)  # h = z * h_prev + (1 - z) * n
            dn = dh * (1.0 - z)
            dh_prev = dh * z
            dax["n"][t] = dn * dtanh(n)
            if self.reset == "after":  # n = tanh(a_in + r * hn)
                dr = dax["n"][t] * cache["hn"][t]
                dah["n"][t] = dax["n"][t] * r
            else:  # n = tanh(a_in + W_hn (r * h_prev) + b_hn)
                drh = dax["n"][t] @ W_hh[2 * H :]
                dr = drh * h_prev
                dh_prev += drh * r
                dah["n"][t] = dax["n"][t]
            dax["r"][t] = dah["r"][t] = dr * dsigmoid(r)
            dax["z"][t] = dah["z"][t] = dz * dsigmoid(z)
            if self.reset == "after":
                dh_next = dh_prev + dAh[t] @ W_hh
            else:
                dh_next = dh_prev + dAh[t, :, : 2 * H] @ W_hh[: 2 * H]
        grads = {
            "x": _linear(dAx, p["weight_ih"].T, None),
            "state": dh_next,
            "weight_ih": _sum_outer(dAx, cache["x"]),
        }
        if self.reset == "after":
            grads["weight_hh"] = _sum_outer(dAh, h_prev_all)
        else:  # the n block multiplied r * h_prev, not h_prev
            grads["weight_hh"] = np.concatenate(
                [
                    _sum_outer(dAh[..., : 2 * H], h_prev_all),
                    _sum_outer(dah["n"], cache["rh"]),
                ]
            )
        self._bias_grads(grads, bias_ih=dAx, bias_hh=dAh)
        return grads

    @classmethod
    def from_torch(cls, module) -> GRUCell:
        """A cell (reset="after") with the weights of ``nn.GRU`` (one layer) or ``nn.GRUCell``."""
        params = _read_torch(module, "GRU", "GRUCell")
        I, H = module.input_size, module.hidden_size
        cell = cls(I, H, reset="after", bias=module.bias, dtype=params["weight_ih"].dtype)
        cell.params = params
        return cell

    def to_torch(self, cell: bool = False):
        """An ``nn.GRU`` (or ``nn.GRUCell`` if ``cell``) with exactly these weights."""
        import torch
        from torch import nn

        if self.reset != "after":
            raise ValueError("PyTorch's GRU applies the reset after the matmul: need reset='after'")
        kind = nn.GRUCell if cell else nn.GRU
        with torch.random.fork_rng(devices=[]):
            m = kind(
                self.input_size, self.hidden_size, bias=self.bias, dtype=_torch_dtype(self.dtype)
            )
        return _write_torch(m, self._check_params(), cell)


# --------------------------------------------------------------------------------------------
# Wrappers: deep and bidirectional
# --------------------------------------------------------------------------------------------


def _model(name: str, m: Any) -> Any:
    """``m`` if it is a cell, a Stacked or a Bidirectional, else a ``TypeError`` naming it."""
    if not isinstance(m, _Cell | Stacked | Bidirectional):
        raise TypeError(
            f"{name} must be a cell (RNNCell, JordanRNN, LSTMCell, GRUCell), a Stacked or a "
            f"Bidirectional, got {type(m).__name__}"
        )
    return m


def _layer_name(name: str, k: int) -> str:
    """PyTorch's name of a parameter in layer k: weight_ih -> weight_ih_l1,
    weight_ih_reverse -> weight_ih_l1_reverse."""
    if name.endswith("_reverse"):
        return f"{name.removesuffix('_reverse')}_l{k}_reverse"
    return f"{name}_l{k}"


class Stacked:
    r"""A deep RNN: layer k+1 reads the outputs of layer k.

    .. math::

        h^{(1)}_t = \text{cell}_1(x_t, h^{(1)}_{t-1}), \quad
        h^{(k+1)}_t = \text{cell}_{k+1}(h^{(k)}_t, h^{(k+1)}_{t-1})

    ``Stacked([RNNCell(I, H), RNNCell(H, H)])`` is ``nn.RNN(I, H, num_layers=2)`` (without
    dropout). Parameter names follow PyTorch: ``weight_ih_l0``, ``weight_ih_l1``, ... (and
    ``weight_ih_l1_reverse`` for a stack of :class:`Bidirectional` layers).

    Shapes: x (T, B, I), state a list of per-layer states (None = zeros), outputs
    (T, B, output_size of the last layer). ``backward`` returns ``"state"`` as a list.
    """

    def __init__(self, cells: Sequence[Any]) -> None:
        if not isinstance(cells, list | tuple):
            raise TypeError(f"cells must be a list of cells, got {type(cells).__name__}")
        self.cells = [_model(f"cells[{k}]", c) for k, c in enumerate(cells)]
        if not self.cells:
            raise ValueError("Stacked needs at least one cell")
        for k in range(1, len(self.cells)):
            if self.cells[k].input_size != self.cells[k - 1].output_size:
                raise ValueError(
                    f"layer {k} has input_size={self.cells[k].input_size} but layer {k - 1} "
                    f"outputs {self.cells[k - 1].output_size} features"
                )
        self.input_size = self.cells[0].input_size
        self.hidden_size = self.cells[-1].hidden_size
        self.output_size = self.cells[-1].output_size

    @property
    def params(self) -> dict[str, np.ndarray]:
        """All parameters under PyTorch's names (the same arrays, not copies)."""
        return {_layer_name(n, k): a for k, c in enumerate(self.cells) for n, a in c.params.items()}

    def num_parameters(self) -> int:
        return sum(c.num_parameters() for c in self.cells)

    def init_state(self, batch: int) -> list:
        return [c.init_state(batch) for c in self.cells]

    def _per_layer(self, name: str, states) -> list:
        if states is None:
            return [None] * len(self.cells)
        if not isinstance(states, list | tuple) or len(states) != len(self.cells):
            raise ValueError(f"{name} of a Stacked RNN is a list of {len(self.cells)} layer states")
        return list(states)

    def forward(self, x: ArrayLike, state: list | None = None):
        """x (T, B, I), list of layer states -> (last layer's outputs, list of states, cache)."""
        states, caches = [], []
        for cell, s in zip(self.cells, self._per_layer("state", state), strict=True):
            x, s, cache = cell.forward(x, s)
            states.append(s)
            caches.append(cache)
        return x, states, caches

    def backward(self, d_outputs: ArrayLike, cache: list, d_state: list | None = None) -> Grads:
        """Backward from the top layer down; each layer's ``"x"`` gradient feeds the one below."""
        if not isinstance(cache, list) or len(cache) != len(self.cells):
            raise TypeError(
                f"cache of a Stacked RNN is the list of {len(self.cells)} layer caches "
                f"that its forward returned, got {type(cache).__name__}"
            )
        grads: Grads = {}
        d_states = self._per_layer("d_state", d_state)
        d_x, d_init = d_outputs, []
        for k in reversed(range(len(self.cells))):
            g = self.cells[k].backward(d_x, cache[k], d_states[k])
            d_x = g.pop("x")
            d_init.append(g.pop("state"))
            grads.update({_layer_name(n, k): v for n, v in g.items()})
        grads["x"], grads["state"] = d_x, d_init[::-1]
        return grads

    def step(self, x_t: ArrayLike, state: list | None = None):
        """One time step through every layer: x_t (B, I) -> (output_t, list of new states)."""
        x_t = _checked("x_t", x_t, (None, self.input_size), ("B", "input_size"))
        outputs, state, _ = self.forward(x_t[None], state)
        return outputs[0], state

    def __repr__(self) -> str:
        return f"Stacked([{', '.join(map(repr, self.cells))}])"


class Bidirectional:
    r"""Two cells reading the sequence in opposite directions; outputs concatenated.

    .. math::

        \overrightarrow{h}_t = \text{fwd}(x_t, \overrightarrow{h}_{t-1}), \quad
        \overleftarrow{h}_t = \text{bwd}(x_t, \overleftarrow{h}_{t+1}), \quad
        y_t = [\overrightarrow{h}_t ; \overleftarrow{h}_t]

    ``Bidirectional(RNNCell(I, H), RNNCell(I, H))`` is ``nn.RNN(I, H, bidirectional=True)``;
    the second cell's parameters are named with ``_reverse`` as in PyTorch.

    Shapes: x (T, B, I), state a pair ``(fwd_state, bwd_state)`` (either may be None = zeros),
    outputs (T, B, fwd.output_size + bwd.output_size). The final state of the backward cell
    is the one after reading ``x_0``.
    """

    def __init__(self, fwd: Any, bwd: Any) -> None:
        fwd, bwd = _model("fwd", fwd), _model("bwd", bwd)
        if fwd.input_size != bwd.input_size:
            raise ValueError(
                f"both directions must read the same input: input_size {fwd.input_size} "
                f"vs {bwd.input_size}"
            )
        self.fwd, self.bwd = fwd, bwd
        self.input_size = fwd.input_size
        self.hidden_size = fwd.hidden_size
        self.output_size = fwd.output_size + bwd.output_size

    @property
    def params(self) -> dict[str, np.ndarray]:
        """All parameters, PyTorch's names (``_reverse`` for the backward cell), same arrays."""
        return {**self.fwd.params, **{f"{n}_reverse": a for n, a in self.bwd.params.items()}}

    def num_parameters(self) -> int:
        return self.fwd.num_parameters() + self.bwd.num_parameters()

    def init_state(self, batch: int) -> tuple:
        return self.fwd.init_state(batch), self.bwd.init_state(batch)

    @staticmethod
    def _pair(name: str, state) -> tuple:
        if state is None:
            return None, None
        if not isinstance(state, tuple | list) or len(state) != 2:
            raise ValueError(f"{name} of a Bidirectional RNN is a pair (fwd_state, bwd_state)")
        return tuple(state)

    def forward(self, x: ArrayLike, state: tuple | None = None):
        """x (T, B, I), (fwd_state, bwd_state) -> (outputs (T, B, 2H), (fwd_T, bwd_0), cache)."""
        s_f, s_b = self._pair("state", state)
        x = _checked("x", x, (None, None, self.input_size), ("T", "B", "input_size"))
        out_f, s_f, cache_f = self.fwd.forward(x, s_f)
        out_b, s_b, cache_b = self.bwd.forward(x[::-1], s_b)  # reads x_T, ..., x_1
        outputs = np.concatenate([out_f, out_b[::-1]], axis=-1)
        return outputs, (s_f, s_b), (cache_f, cache_b)

    def backward(self, d_outputs: ArrayLike, cache: tuple, d_state: tuple | None = None) -> Grads:
        """Split the output gradient, run both backwards, add the two input gradients."""
        if not isinstance(cache, tuple) or len(cache) != 2:
            raise TypeError(
                "cache of a Bidirectional RNN is the pair (fwd_cache, bwd_cache) that its "
                f"forward returned, got {type(cache).__name__}"
            )
        dims = ("T", "B", "output_size")
        d_outputs = _checked("d_outputs", d_outputs, (None, None, self.output_size), dims)
        ds_f, ds_b = self._pair("d_state", d_state)
        n_f = self.fwd.output_size
        g_f = self.fwd.backward(d_outputs[..., :n_f], cache[0], ds_f)
        g_b = self.bwd.backward(d_outputs[::-1, :, n_f:], cache[1], ds_b)
        grads: Grads = {"x": g_f.pop("x") + g_b.pop("x")[::-1]}
        grads["state"] = (g_f.pop("state"), g_b.pop("state"))
        grads.update(g_f)
        grads.update({f"{n}_reverse": v for n, v in g_b.items()})
        return grads

    def __repr__(self) -> str:
        return f"Bidirectional({self.fwd!r}, {self.bwd!r})"


# --------------------------------------------------------------------------------------------
# Forcing gates (the limiting cases of the GRU and LSTM chapters)
# --------------------------------------------------------------------------------------------

PIN_LOGIT = 40.0
"""The pre-activation used for a gate pinned to 0 or 1: sigmoid(40) = 1 in float64 and
sigmoid(-40) < 5e-18."""


def pin_gates(cell: GRUCell | LSTMCell, **gates: float) -> GRUCell | LSTMCell:
    r"""A copy of ``cell`` whose named gates are the constants given, whatever the input.

    Each pinned gate :math:`g = \sigma(W_{xg} x_t + W_{hg} h_{t-1} + b_g)` gets zero weights
    and the bias :math:`\operatorname{logit}(v) = \log(v / (1 - v))`, so that
    :math:`g_t = v` at every step; 0 and 1 use :data:`PIN_LOGIT` (:math:`\mp 40`): in float64
    :math:`\sigma(40)` is exactly 1 and :math:`\sigma(-40) \approx 4 \cdot 10^{-18}`. The other
    blocks keep their weights. The cell is not changed.

    Parameters
    ----------
    cell : GRUCell (gates ``r``, ``z``) or LSTMCell (its gates among ``i``, ``f``, ``o``)
        with biases.
    **gates : float in [0, 1]
        e.g. ``pin_gates(gru, z=0.0, r=1.0)`` or ``pin_gates(lstm, o=0.0)``.

    Returns
    -------
    A new cell of the same class and options.
    """
    import copy

    if isinstance(cell, GRUCell):
        order = "rzn"
    elif isinstance(cell, LSTMCell):
        order = cell.gates
    else:
        raise TypeError(f"pin_gates needs a GRUCell or LSTMCell, got {type(cell).__name__}")
    if not cell.bias:
        raise ValueError("pin_gates needs a cell with biases (bias=True)")
    cell._check_params()
    allowed = [g for g in order if g not in "ng"]  # the candidate is not a gate
    new = copy.deepcopy(cell)
    for name, value in gates.items():
        if name not in allowed:
            raise ValueError(f"{type(cell).__name__} gates are {allowed}, got {name!r}")
        v = _number(f"gate {name}", value)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"gate {name} must be pinned to a value in [0, 1], got {value!r}")
        logit = math.log(v / (1.0 - v)) if 0.0 < v < 1.0 else (PIN_LOGIT if v else -PIN_LOGIT)
        logit = min(max(logit, -PIN_LOGIT), PIN_LOGIT)
        k, H = order.index(name), cell.hidden_size
        rows = slice(k * H, (k + 1) * H)  # the gate's block of rows
        for pname in ("weight_ih", "weight_hh", "bias_hh"):
            new.params[pname][rows] = 0.0
        new.params.get(f"weight_c{name}", np.zeros(0))[...] = 0.0  # a peephole, if any
        new.params["bias_ih"][rows] = logit
    return new
