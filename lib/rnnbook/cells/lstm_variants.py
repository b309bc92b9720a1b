r"""The LSTM variants compared by Greff et al. (2017), each a subclass of
:class:`~rnnbook.cells.lstm.LSTMCell` that overrides only its step (and, for a variant with
other blocks, the names of the blocks).

``LSTMCell(I, H, variant=...)`` builds them; chapter 4 compares them. Read each step beside
:meth:`LSTMCell.step_forward <rnnbook.cells.lstm.LSTMCell.step_forward>`: the comments
``# <-`` mark the lines that differ.
"""

from __future__ import annotations

import numpy as np

from rnnbook.cells.base import NEW, Grads, _sigmoid, _split
from rnnbook.cells.lstm import _VARIANTS, LSTMCell


class PeepholeLSTMCell(LSTMCell):
    r"""Peephole connections (Gers & Schmidhuber 2000): the gates look at the cell,
    :math:`i_t = \sigma(\ldots + w_{ci} \odot c_{t-1})`, :math:`f_t = \sigma(\ldots + w_{cf}
    \odot c_{t-1})`, :math:`o_t = \sigma(\ldots + w_{co} \odot c_t)` (the *new* cell), with
    the extra parameters ``weight_ci``, ``weight_cf``, ``weight_co`` (H,)."""

    variant = "peephole"

    def _extra_shapes(self) -> dict[str, tuple[int, ...]]:
        H = self.hidden_size
        return {"weight_ci": (H,), "weight_cf": (H,), "weight_co": (H,)}

    def step_forward(self, a_x, state, w, out=NEW):
        h_prev, c_prev = state
        a = a_x + h_prev @ w["weight_hh_T"]
        a_i, a_f, a_c, a_o = _split(a, 4)
        gates = np.empty_like(a)
        i, f, c_tilde, o = _split(gates, 4)
        _sigmoid(a_i + w["weight_ci"] * c_prev, out=i)  # <- i looks at c_t-1
        _sigmoid(a_f + w["weight_cf"] * c_prev, out=f)  # <- f looks at c_t-1
        np.tanh(a_c, out=c_tilde)
        c = f * c_prev + i * c_tilde
        _sigmoid(a_o + w["weight_co"] * c, out=o)  # <- o looks at the new c_t
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), {"gates": gates, "c_prev": c_prev, "c": c, "tanh_c": tanh_c, "h": h}

    def step_backward(self, d_state, kept, w, out=NEW):
        dh, dc = d_state
        gates, c_prev, tanh_c = kept["gates"], kept["c_prev"], kept["tanh_c"]
        i, f, c_tilde, o = _split(gates, 4)
        da_o = dh * tanh_c * o * (1 - o)
        dc = dc + dh * o * (1 - tanh_c**2) + da_o * w["weight_co"]  # <- and through o_t
        da_i = dc * c_tilde * i * (1 - i)
        da_f = dc * c_prev * f * (1 - f)
        da = np.concatenate([da_i, da_f, dc * i * (1 - c_tilde**2), da_o], axis=1)
        dc_prev = dc * f + da_i * w["weight_ci"] + da_f * w["weight_cf"]  # <- through i, f
        return {"a_x": da}, (da @ w["weight_hh"], dc_prev)

    def _weight_grads(self, d: dict[str, np.ndarray], cache: dict) -> Grads:
        grads = super()._weight_grads(d, cache)
        da_i, da_f, _, da_o = _split(d["a_x"], 4)
        grads["weight_ci"] = (da_i * cache["c_prev"]).sum(axis=(0, 1))
        grads["weight_cf"] = (da_f * cache["c_prev"]).sum(axis=(0, 1))
        grads["weight_co"] = (da_o * cache["c"]).sum(axis=(0, 1))
        return grads


class CIFGLSTMCell(LSTMCell):
    r"""Coupled input and forget gate: :math:`i_t = 1 - f_t`. The weights stack three
    blocks ``f, c~, o`` (3H rows)."""

    variant = "cifg"
    gates = "fgo"

    def _views(self, cache):
        f, c_tilde, o = _split(cache["gates"], 3)
        return {"i": 1 - f, "f": f, "c_tilde": c_tilde, "g": c_tilde, "o": o}

    def step_forward(self, a_x, state, w, out=NEW):
        h_prev, c_prev = state
        H = self.hidden_size
        a = a_x + h_prev @ w["weight_hh_T"]  # <- blocks f, c~, o
        gates = _sigmoid(a)
        f, c_tilde, o = _split(gates, 3)
        np.tanh(a[:, H : 2 * H], out=c_tilde)
        i = 1 - f  # <- coupled
        c = f * c_prev + i * c_tilde
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), {"gates": gates, "c_prev": c_prev, "c": c, "tanh_c": tanh_c, "h": h}

    def step_backward(self, d_state, kept, w, out=NEW):
        dh, dc = d_state
        gates, c_prev, tanh_c = kept["gates"], kept["c_prev"], kept["tanh_c"]
        f, c_tilde, o = _split(gates, 3)
        dc = dc + dh * o * (1 - tanh_c**2)
        da = np.concatenate(
            [
                dc * (c_prev - c_tilde) * f * (1 - f),  # <- f gets the share of i = 1 - f
                dc * (1 - f) * (1 - c_tilde**2),
                dh * tanh_c * o * (1 - o),
            ],
            axis=1,
        )
        return {"a_x": da}, (da @ w["weight_hh"], dc * f)


class NFGLSTMCell(LSTMCell):
    r"""No forget gate: :math:`f_t = 1`, :math:`c_t = c_{t-1} + i_t \odot \tilde c_t`. The
    weights stack three blocks ``i, c~, o``."""

    variant = "nfg"
    gates = "igo"

    def _views(self, cache):
        i, c_tilde, o = _split(cache["gates"], 3)
        return {"i": i, "f": np.ones_like(i), "c_tilde": c_tilde, "g": c_tilde, "o": o}

    def step_forward(self, a_x, state, w, out=NEW):
        h_prev, c_prev = state
        H = self.hidden_size
        a = a_x + h_prev @ w["weight_hh_T"]  # <- blocks i, c~, o
        gates = _sigmoid(a)
        i, c_tilde, o = _split(gates, 3)
        np.tanh(a[:, H : 2 * H], out=c_tilde)
        c = c_prev + i * c_tilde  # <- f = 1
        tanh_c = np.tanh(c)
        h = o * tanh_c
        return (h, c), {"gates": gates, "c_prev": c_prev, "c": c, "tanh_c": tanh_c, "h": h}

    def step_backward(self, d_state, kept, w, out=NEW):
        dh, dc = d_state
        gates, tanh_c = kept["gates"], kept["tanh_c"]
        i, c_tilde, o = _split(gates, 3)
        dc = dc + dh * o * (1 - tanh_c**2)
        da = np.concatenate(
            [dc * c_tilde * i * (1 - i), dc * i * (1 - c_tilde**2), dh * tanh_c * o * (1 - o)],
            axis=1,
        )
        return {"a_x": da}, (da @ w["weight_hh"], dc)  # <- dc_prev = dc


class NoAFLSTMCell(LSTMCell):
    r"""No output activation: :math:`h_t = o_t \odot c_t`."""

    variant = "noaf"

    def step_forward(self, a_x, state, w, out=NEW):
        (h, c), kept = super().step_forward(a_x, state, w)
        o = _split(kept["gates"], 4)[3]
        h = o * c  # <- no tanh
        return (h, c), {**kept, "tanh_c": c, "h": h}

    def step_backward(self, d_state, kept, w, out=NEW):
        dh, dc = d_state
        gates, c_prev, c = kept["gates"], kept["c_prev"], kept["c"]
        i, f, c_tilde, o = _split(gates, 4)
        H = self.hidden_size
        dc = dc + dh * o  # <- h_t = o c_t
        d_gates = np.concatenate([dc * c_tilde, dc * c_prev, dc * i, dh * c], axis=1)  # <- c_t
        da = d_gates * gates * (1 - gates)
        da[:, 2 * H : 3 * H] = d_gates[:, 2 * H : 3 * H] * (1 - c_tilde**2)
        return {"a_x": da}, (da @ w["weight_hh"], dc * f)


for _cls in (PeepholeLSTMCell, CIFGLSTMCell, NFGLSTMCell, NoAFLSTMCell):
    _VARIANTS[_cls.variant] = _cls
