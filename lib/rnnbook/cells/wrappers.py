"""Wrappers of any cell, deep (:class:`Stacked`) and bidirectional (:class:`Bidirectional`), and
:func:`pin_gates`, which forces a GRU's or an LSTM's gates to constants (chapters 3 and 5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from rnnbook.cells.base import Grads, _Cell, _number
from rnnbook.cells.gru import GRUCell
from rnnbook.cells.lstm import LSTMCell
from rnnbook.functional import _checked

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
