r"""The LSTM of chapters 3 and 4: a forward step that is {eq}`eq-03-lstm`, a backward step that
is {eq}`eq-04-dc` and {eq}`eq-04-da`, and the variants of Greff et al. (2017) as subclasses
that override only their step (:mod:`rnnbook.cells.lstm_variants`).

The weights stack the gate blocks in PyTorch's order: ``weight_ih`` (4H, I) holds
:math:`W_{xi}, W_{xf}, W_{xc}, W_{xo}` (rows ``[0:H]``, ``[H:2H]``, ``[2H:3H]``, ``[3H:4H]``),
``weight_hh`` (4H, H) likewise :math:`W_{hi}, W_{hf}, W_{hc}, W_{ho}`; PyTorch calls the
candidate block :math:`\tilde c` "g".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from rnnbook.cells.base import (
    NEW,
    _blocks,
    _Cell,
    _choice,
    _new_torch,
    _number,
    _read_torch,
    _sigmoid,
    _split,
    _write_torch,
)

LSTM_VARIANTS = ("vanilla", "peephole", "cifg", "nfg", "noaf")
"""The variants of :class:`LSTMCell` (``variant=...``), after Greff et al. (2017)."""


class LSTMCell(_Cell):
    r"""Long short-term memory cell, ``torch.nn.LSTM``'s equations {eq}`eq-03-lstm`:

    .. math::

        i_t &= \sigma(W_{xi} x_t + W_{hi} h_{t-1} + b_i) \\
        f_t &= \sigma(W_{xf} x_t + W_{hf} h_{t-1} + b_f) \\
        \tilde c_t &= \tanh(W_{xc} x_t + W_{hc} h_{t-1} + b_c) \\
        o_t &= \sigma(W_{xo} x_t + W_{ho} h_{t-1} + b_o) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot \tilde c_t \\
        h_t &= o_t \odot \tanh(c_t)

    with each bias the sum of its blocks of ``bias_ih`` and ``bias_hh``.
    ``LSTMCell(I, H, variant=...)`` builds a variant instead, each changing one thing
    (see :mod:`rnnbook.cells.lstm_variants`):

    ``"peephole"`` (Gers & Schmidhuber 2000): :math:`i_t, f_t` add
        :math:`w_{ci} \odot c_{t-1}`, :math:`w_{cf} \odot c_{t-1}` inside the sigmoid, and
        :math:`o_t` adds :math:`w_{co} \odot c_t` (the *new* cell).
    ``"cifg"`` coupled input and forget gate: :math:`i_t = 1 - f_t`. There is no i block:
        the weights stack 3 blocks ``f, c~, o`` (3H rows).
    ``"nfg"`` no forget gate: :math:`f_t = 1`, so :math:`c_t = c_{t-1} + i_t \odot \tilde c_t`.
        The weights stack 3 blocks ``i, c~, o``.
    ``"noaf"`` no output activation: :math:`h_t = o_t \odot c_t`.

    Parameters
    ----------
    input_size, hidden_size : I and H
    variant : one of :data:`LSTM_VARIANTS`
    forget_bias : added to the forget block of ``bias_ih`` at initialisation (1.0 is a common
        choice: gates start open, gradients flow back further). Not allowed for "nfg".
    bias, seed, dtype : as for :class:`~rnnbook.cells.RNNCell`

    Attributes
    ----------
    params : ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,)
        with G = 4 blocks ``i, f, c~, o`` (PyTorch's order ``i, f, g, o``), or 3 for "cifg"
        and "nfg"; for "peephole" also ``weight_ci``, ``weight_cf``, ``weight_co`` (H,).
    gates : the blocks' names in order, "ifgo" ("g" is the candidate), "fgo" or "igo"

    Shapes
    ------
    x (T, B, I), state (h, c) each (B, H), outputs (T, B, H) = h_1 ... h_T,
    final state (h_T, c_T). The cache holds every step's ``i``, ``f``, ``c_tilde``
    (also under PyTorch's name ``g``), ``o`` (views of ``gates``, (T, B, G*H)), ``c``,
    ``tanh_c`` and ``h``, (T, B, H), and ``c_prev``, ``h_prev`` (the same shifted by one).
    """

    variant = "vanilla"
    gates = "ifgo"
    _family = "LSTMCell"
    _initial = ("h0", "c0")
    _carried = {"h": "h0", "c": "c0"}
    _view_names = ("i", "f", "c_tilde", "g", "o")

    def __new__(cls, *args: Any, **kwargs: Any):
        if cls is LSTMCell:  # LSTMCell(..., variant="cifg") is a CIFGLSTMCell
            variant = kwargs.get("variant", args[2] if len(args) > 2 else "vanilla")
            cls = _VARIANTS[_choice("LSTM variant", variant, LSTM_VARIANTS)]
        return super().__new__(cls)

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
        if variant != self.variant:
            raise ValueError(f"{type(self).__name__} is variant {self.variant!r}, not {variant!r}")
        self.bias = bool(bias)
        self.forget_bias = _number("forget_bias", forget_bias)
        if self.forget_bias and ("f" not in self.gates or not self.bias):
            raise ValueError(
                "forget_bias needs a forget gate and biases (not 'nfg', not bias=False)"
            )
        I, H, G = self.input_size, self.hidden_size, len(self.gates)
        shapes = {"weight_ih": (G * H, I), "weight_hh": (G * H, H)}
        if self.bias:
            shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        shapes.update(self._extra_shapes())
        self._init_params(shapes, seed)
        if self.forget_bias:
            _blocks(self.params["bias_ih"], self.gates)["f"][...] += self.forget_bias

    def _extra_shapes(self) -> dict[str, tuple[int, ...]]:
        return {}

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

    def _add_output_gradient(self, d_state, d_out_t):
        dh, dc = d_state
        return dh + d_out_t, dc

    def _views(self, cache: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The gates of every step, (T, B, H) views of ``cache["gates"]``."""
        i, f, c_tilde, o = _split(cache["gates"], 4)
        return {"i": i, "f": f, "c_tilde": c_tilde, "g": c_tilde, "o": o}

    def step_forward(self, a_x: np.ndarray, state: tuple, w: dict, out: dict = NEW):
        r"""One step of {eq}`eq-03-lstm`. ``a_x`` (B, 4H) is :math:`W_{x\cdot} x_t + b_\cdot`
        for the four blocks; ``state`` is :math:`(h_{t-1}, c_{t-1})`, each (B, H).

        Returns ``((h, c), kept)``: the new state and what :meth:`step_backward` needs,
        ``kept["gates"]`` (B, 4H) holding :math:`i_t, f_t, \tilde c_t, o_t` side by side.
        """
        h_prev, c_prev = state
        gates = np.matmul(h_prev, w["weight_hh_T"], out=out["gates"])
        gates += a_x  # eq-03-lstm: the pre-activations of i, f, c~, o, side by side
        i, f, c_tilde, o = _split(gates, 4)  # views of the blocks, made gates in place:
        c_tilde *= 2  # tanh(a) = 2 sigmoid(2a) - 1, so that one sigmoid does all four
        _sigmoid(gates, out=gates)  # the gates i, f, o ...
        c_tilde *= 2
        c_tilde -= 1  # ... and the candidate c~ = tanh(a_c)
        c = np.multiply(f, c_prev, out=out["c"])
        c += i * c_tilde  # cell state
        tanh_c = np.tanh(c, out=out["tanh_c"])
        h = np.multiply(o, tanh_c, out=out["h"])  # hidden state
        kept = {"gates": gates, "c_prev": c_prev, "c": c, "tanh_c": tanh_c, "h": h}
        return (h, c), kept

    def step_backward(self, d_state: tuple, kept: dict, w: dict, out: dict = NEW):
        r"""Back through one step, {eq}`eq-04-dc` and {eq}`eq-04-da`. ``d_state`` is
        :math:`(\partial L/\partial h_t, \partial L/\partial c_t)`, the latter from step t+1
        only (through the carousel); ``kept`` is what :meth:`step_forward` returned.

        Returns ``({"a_x": da}, (dh_prev, dc_prev))``: ``da`` (B, 4H) the gradient of the four
        pre-activations (= of ``a_x``), and the gradient of :math:`(h_{t-1}, c_{t-1})`.
        """
        dh, dc = d_state
        gates, c_prev, tanh_c = kept["gates"], kept["c_prev"], kept["tanh_c"]
        i, f, c_tilde, o = _split(gates, 4)
        H = self.hidden_size
        dc = dc + dh * o * (1 - tanh_c**2)  # eq-04-dc: from c_t+1, and through h_t
        # eq-04-da: dL/d(i, f, c~, o) from c_t = f c_t-1 + i c~ and h_t = o tanh(c_t)
        d_gates = np.hstack([dc * c_tilde, dc * c_prev, dc * i, dh * tanh_c])
        da = np.multiply(d_gates, gates * (1 - gates), out=out["a_x"])  # s' = s(1-s)
        da[:, 2 * H : 3 * H] = d_gates[:, 2 * H : 3 * H] * (1 - c_tilde**2)  # tanh
        dh_prev = da @ w["weight_hh"]  # eq-04-dh: back through the four W_h.
        return {"a_x": da}, (dh_prev, dc * f)  # dc * f: the carousel, eq-04-six (1)

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
        from torch import nn

        if self.variant != "vanilla":
            raise ValueError(f"PyTorch has only the vanilla LSTM, not variant={self.variant!r}")
        m = _new_torch(nn.LSTMCell if cell else nn.LSTM, self, bias=self.bias)
        return _write_torch(m, self._check_params(), cell)


_VARIANTS: dict[str, type[LSTMCell]] = {"vanilla": LSTMCell}  # filled by lstm_variants
