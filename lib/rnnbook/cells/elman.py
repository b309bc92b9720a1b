r"""The naive recurrent networks of chapter 1: the Elman cell and the Jordan network.

Each is a forward step and a backward step (the chapter's equations); the sequence loop is
:class:`rnnbook.cells.base._Cell`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from rnnbook.cells.base import (
    _ACTIVATIONS,
    NEW,
    Grads,
    _Cell,
    _choice,
    _new_torch,
    _read_torch,
    _sum_outer,
    _write_torch,
)
from rnnbook.functional import _positive_int

_HIDDEN = ("tanh", "relu", "linear")


class RNNCell(_Cell):
    r"""Elman recurrent cell (as ``torch.nn.RNN`` with one layer, plus a linear option).

    .. math::

        h_t = \phi(W_{xh} x_t + W_{hh} h_{t-1} + b)

    ({eq}`eq-01-elman-h`) with :math:`\phi` = tanh, relu or the identity ("linear") and
    :math:`b` = ``bias_ih + bias_hh`` (PyTorch keeps two biases).

    Parameters
    ----------
    input_size, hidden_size : I and H
    nonlinearity : "tanh", "relu" or "linear"
    bias : whether there are biases (``bias=False`` as in PyTorch: no bias entries)
    seed : seed of ``np.random.default_rng`` for the initial weights
    dtype : np.float64 (default) or np.float32

    Attributes
    ----------
    params : ``weight_ih`` (H, I) = :math:`W_{xh}`, ``weight_hh`` (H, H) = :math:`W_{hh}`,
        ``bias_ih`` (H,), ``bias_hh`` (H,)

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
        self.nonlinearity = _choice("nonlinearity", nonlinearity, _HIDDEN)
        self.bias = bool(bias)
        I, H = self.input_size, self.hidden_size
        shapes = {"weight_ih": (H, I), "weight_hh": (H, H)}
        if self.bias:
            shapes.update(bias_ih=(H,), bias_hh=(H,))
        self._init_params(shapes, seed)

    def _options(self) -> dict[str, Any]:
        return {"nonlinearity": self.nonlinearity, "bias": self.bias}

    def step_forward(self, a_x: np.ndarray, h_prev: np.ndarray, w: dict, out=NEW):
        r"""One step, {eq}`eq-01-elman-h`: ``a_x`` (B, H) is :math:`W_{xh} x_t + b`.

        Returns ``(h, kept)``: the new state :math:`h_t` (B, H) and what the backward needs.
        """
        phi, _ = _ACTIVATIONS[self.nonlinearity]
        h = phi(a_x + h_prev @ w["weight_hh_T"])  # h_t = phi(W_xh x_t + W_hh h_t-1 + b)
        return h, {"h": h}

    def step_backward(self, dh: np.ndarray, kept: dict, w: dict, out: dict = NEW):
        r"""Back through one step: ``dh`` = :math:`\partial L/\partial h_t` (B, H) ->
        ``({"a_x": da}, dh_prev)`` with :math:`\bar a = \bar h \odot \phi'` and
        :math:`\partial L/\partial h_{t-1} = W_{hh}^T \bar a`."""
        _, dphi = _ACTIVATIONS[self.nonlinearity]
        da = dh * dphi(kept["h"])  # through phi, given its output h_t
        return {"a_x": da}, da @ w["weight_hh"]

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
        from torch import nn

        if self.nonlinearity == "linear":
            raise ValueError("PyTorch has no linear RNN: nonlinearity must be 'tanh' or 'relu'")
        kind = nn.RNNCell if cell else nn.RNN
        m = _new_torch(kind, self, nonlinearity=self.nonlinearity, bias=self.bias)
        return _write_torch(m, self._check_params(), cell)


class JordanRNN(_Cell):
    r"""Jordan network: the recurrent state is the previous *output*, not the hidden layer.

    .. math::

        h_t &= \phi(W_{xh} x_t + W_{yh} y_{t-1} + b) \\
        y_t &= \psi(W_{hy} h_t + b_y)

    ({eq}`eq-01-jordan`) with :math:`\phi` the hidden nonlinearity and :math:`\psi` the
    output nonlinearity ("tanh", "relu", "linear"; ``psi`` may also be "sigmoid"). Unlike an
    Elman cell it has no PyTorch counterpart.

    Parameters
    ----------
    input_size, hidden_size, output_size : I, H and O
    nonlinearity, output_nonlinearity : phi and psi
    bias, seed, dtype : as for :class:`RNNCell`

    Attributes
    ----------
    params : ``weight_ih`` (H, I) = :math:`W_{xh}`, ``weight_hh`` (H, O) = :math:`W_{yh}`,
        ``bias_ih`` (H,), ``bias_hh`` (H,), ``weight_hy`` (O, H), ``bias_y`` (O,)

    Shapes
    ------
    x (T, B, I), state y (B, O), outputs (T, B, O) = y_1 ... y_T, final state y_T (B, O).
    The hidden values h_t are in ``cache["h"]`` (T, B, H).
    """

    _state_dim = "output_size"
    _initial = ("y0",)
    _carried = {"y": "y0"}
    _output = "y"

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
        self.nonlinearity = _choice("nonlinearity", nonlinearity, _HIDDEN)
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
        self._init_params(shapes, seed)

    def __repr__(self) -> str:
        return (
            f"JordanRNN({self.input_size}, {self.hidden_size}, {self.output_size}, "
            f"nonlinearity={self.nonlinearity!r}, "
            f"output_nonlinearity={self.output_nonlinearity!r}, bias={self.bias})"
        )

    def step_forward(self, a_x: np.ndarray, y_prev: np.ndarray, w: dict, out: dict = NEW):
        r"""One step, {eq}`eq-01-jordan`: ``a_x`` (B, H) is :math:`W_{xh} x_t + b`; the state
        is the previous output :math:`y_{t-1}` (B, O). Returns ``(y, kept)``."""
        phi, _ = _ACTIVATIONS[self.nonlinearity]
        psi, _ = _ACTIVATIONS[self.output_nonlinearity]
        h = phi(a_x + y_prev @ w["weight_hh_T"])  # h_t = phi(W_xh x_t + W_yh y_t-1 + b)
        y = psi(h @ w["weight_hy_T"] + w.get("bias_y", 0.0))  # y_t = psi(W_hy h_t + b_y)
        return y, {"h": h, "y": y}

    def step_backward(self, dy: np.ndarray, kept: dict, w: dict, out: dict = NEW):
        r"""Back through one step: ``dy`` = :math:`\partial L/\partial y_t` (B, O) ->
        ``({"a_x": da, "a_y": de}, dy_prev)``, with :math:`\bar e = \bar y \odot \psi'` at the
        output's pre-activation and :math:`\bar a = (W_{hy}^T \bar e) \odot \phi'`."""
        _, dphi = _ACTIVATIONS[self.nonlinearity]
        _, dpsi = _ACTIVATIONS[self.output_nonlinearity]
        de = dy * dpsi(kept["y"])  # through psi
        da = (de @ w["weight_hy"]) * dphi(kept["h"])  # through W_hy, then phi
        return {"a_x": da, "a_y": de}, da @ w["weight_hh"]

    def _weight_grads(self, d: dict[str, np.ndarray], cache: dict) -> Grads:
        grads = {
            "weight_hh": _sum_outer(d["a_x"], cache["y_prev"]),
            "weight_hy": _sum_outer(d["a_y"], cache["h"]),
        }
        if self.bias:
            grads["bias_ih"] = grads["bias_hh"] = d["a_x"].sum(axis=(0, 1))
            grads["bias_y"] = d["a_y"].sum(axis=(0, 1))
        return grads

    @classmethod
    def from_torch(cls, module) -> JordanRNN:
        raise TypeError("a Jordan network has no PyTorch module (torch.nn.RNN is an Elman network)")

    def to_torch(self, cell: bool = False):
        raise TypeError("a Jordan network has no PyTorch module (torch.nn.RNN is an Elman network)")
