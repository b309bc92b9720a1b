r"""minGRU and minLSTM in torch (Feng et al. 2024), for training; the equations of
:mod:`rnnbook.mincells`, whose NumPy cells they are checked against.

:class:`MinGRU` and :class:`MinLSTM` are single layers, time-major, with the NumPy cells'
parameters (``weight_ih`` (G*H, I), ``bias_ih`` (G*H,), no ``weight_hh``). Every gate of every
step comes from one matrix product before the recurrence; the recurrence
:math:`h_t = a_t \odot h_{t-1} + b_t` is then computed in one of three modes, which give the
same numbers:

``"log"``   in log space, :func:`rnnbook.scan.log_space`, as Feng et al.'s appendix (needs the
            positive candidate ``g``);
``"scan"``  by :func:`rnnbook.scan.linear_recurrence`: the Blelloch scan forward, a reverse
            scan backward (any sign: the ``signed`` minGRU needs it);
``"loop"``  one step after another (the reference).

:class:`MinRegressor` and :class:`MinTagger` put a readout on one or more layers, with the
interfaces of :class:`rnnbook.models.SequenceRegressor` and ``SequenceTagger``, for
:func:`rnnbook.train.train`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from rnnbook import scan
from rnnbook.mincells import CANDIDATES
from rnnbook.models import _as_features

__all__ = ["MODES", "KINDS", "MinGRU", "MinLSTM", "MinRegressor", "MinTagger"]

MODES = ("log", "scan", "loop")


def _log_g(k: torch.Tensor) -> torch.Tensor:
    """log g(k), stably: log(k + 1/2) for k >= 0, log sigmoid(k) = -softplus(-k) below."""
    return torch.where(k >= 0, torch.log(F.relu(k) + 0.5), -F.softplus(-k))


def _g(k: torch.Tensor) -> torch.Tensor:
    return torch.where(k >= 0, k + 0.5, torch.sigmoid(k))


class _MinLayer(nn.Module):
    blocks = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        candidate: str = "g",
        mode: str = "log",
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        for name, n in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{name} must be a positive int, got {n!r}")
        if candidate not in CANDIDATES:
            raise ValueError(f"candidate must be one of {CANDIDATES}, got {candidate!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "log" and candidate != "g":
            raise ValueError("mode='log' needs a positive candidate: candidate='g'")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.candidate, self.mode = candidate, mode
        G, k = len(self.blocks), 1.0 / math.sqrt(hidden_size)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        self.weight_ih = nn.Parameter(
            (2 * torch.rand(G * hidden_size, input_size, generator=gen, dtype=dtype) - 1) * k
        )
        self.bias_ih = nn.Parameter(
            (2 * torch.rand(G * hidden_size, generator=gen, dtype=dtype) - 1) * k
        )

    def _check(self, x: torch.Tensor, h0: torch.Tensor | None) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must be a (T, B, {self.input_size}) tensor")
        if h0 is not None and tuple(h0.shape) != (x.shape[1], self.hidden_size):
            raise ValueError(f"h0 must be ({x.shape[1]}, {self.hidden_size}), got {h0.shape}")
        if h0 is not None and self.mode == "log" and not bool((h0 > 0).all()):
            raise ValueError("mode='log' needs a positive h0 (or None for zeros)")

    def _run(self, a, b, log_a, log_b, h0):
        """h_1..h_T of h_t = a_t h_{t-1} + b_t, in the layer's mode."""
        if self.mode == "log":
            return scan.log_space(log_a, log_b, None if h0 is None else torch.log(h0))
        return (scan.linear_recurrence if self.mode == "scan" else scan.loop)(a, b, h0)

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x (T, B, I), h0 (B, H) or None (zeros) -> (outputs (T, B, H), h_T (B, H))."""
        self._check(x, h0)
        k = x @ self.weight_ih.T + self.bias_ih  # every gate of every step at once
        hs = self._recurrence(k, h0)
        return hs, hs[-1]


class MinGRU(_MinLayer):
    r"""A minGRU layer in torch, time-major (the equations of
    :class:`rnnbook.mincells.MinGRUCell`).

    ``mode="log"``: :math:`\log(1 - z_t) = -\mathrm{softplus}(k_z)`,
    :math:`\log z_t = -\mathrm{softplus}(-k_z)` and :math:`\log g(k_h)` go through
    :func:`rnnbook.scan.log_space`, as Feng et al.'s appendix does (needs
    ``candidate="g"``, not ``signed``); ``"scan"``: :func:`rnnbook.scan.linear_recurrence`
    (Blelloch forward, a reverse scan backward); ``"loop"``: the steps one after another. All
    three give the same numbers.

    Parameters
    ----------
    input_size, hidden_size, candidate : as :class:`rnnbook.mincells.MinGRUCell`
    mode : "log", "scan" or "loop"
    signed : transition :math:`1 - 2 z_t \in (-1, 1)`; needs mode "scan" or "loop"
    seed : seeds the initial weights (uniform in :math:`\pm 1/\sqrt H`) without touching
        torch's global generator
    dtype : torch.float32 (default) or torch.float64
    """

    blocks = "zh"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        candidate: str = "g",
        mode: str = "log",
        signed: bool = False,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if signed and mode == "log":
            raise ValueError("a signed transition can be negative: use mode='scan' or 'loop'")
        super().__init__(input_size, hidden_size, candidate, mode, seed, dtype)
        self.signed = bool(signed)

    def _recurrence(self, k: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
        k_z, k_h = k.chunk(2, dim=-1)
        if self.mode == "log":
            log_a, log_b = -F.softplus(k_z), -F.softplus(-k_z) + _log_g(k_h)
            return self._run(None, None, log_a, log_b, h0)
        z = torch.sigmoid(k_z)
        h_tilde = _g(k_h) if self.candidate == "g" else k_h
        a = 1.0 - 2.0 * z if self.signed else 1.0 - z
        return self._run(a, z * h_tilde, None, None, h0)


class MinLSTM(_MinLayer):
    r"""A minLSTM layer in torch, time-major (the equations of
    :class:`rnnbook.mincells.MinLSTMCell`).

    ``mode="log"`` uses :math:`d = \mathrm{softplus}(-k_f) - \mathrm{softplus}(-k_i)`,
    :math:`\log f'_t = -\mathrm{softplus}(d)`, :math:`\log i'_t = -\mathrm{softplus}(-d)`
    (Feng et al.'s appendix). Parameters as :class:`MinGRU`, without ``signed``.
    """

    blocks = "fih"

    def _recurrence(self, k: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
        k_f, k_i, k_h = k.chunk(3, dim=-1)
        if self.mode == "log":
            d = F.softplus(-k_f) - F.softplus(-k_i)  # log i - log f
            log_a, log_b = -F.softplus(d), -F.softplus(-d) + _log_g(k_h)
            return self._run(None, None, log_a, log_b, h0)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        h_tilde = _g(k_h) if self.candidate == "g" else k_h
        return self._run(f / (f + i), i / (f + i) * h_tilde, None, None, h0)


KINDS = {"mingru": MinGRU, "minlstm": MinLSTM}


class _Stack(nn.Module):
    """Layers of one kind, each reading the outputs of the one below."""

    def __init__(self, kind, input_size, hidden_size, num_layers, mode, signed, seed):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"cell must be one of {tuple(KINDS)}, got {kind!r}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        extra = {"signed": signed} if signed else {}
        if signed and kind != "mingru":
            raise ValueError("signed applies only to cell='mingru'")
        base = 0 if seed is None else seed
        self.layers = nn.ModuleList(
            KINDS[kind](
                input_size if n == 0 else hidden_size,
                hidden_size,
                mode=mode,
                seed=None if seed is None else base + 1000 * n,
                **extra,
            )
            for n in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x, _ = layer(x)
        return x


def _readout(hidden_size: int, out: int, seed: int | None) -> nn.Linear:
    """nn.Linear(hidden_size, out), seeded with seed + 1 without moving the global generator."""
    if seed is None:
        return nn.Linear(hidden_size, out)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + 1)
        return nn.Linear(hidden_size, out)


class MinRegressor(nn.Module):
    """minGRU / minLSTM layers, then ``y = W_hy h_T + b_y`` from the last state.

    Like :class:`rnnbook.models.SequenceRegressor` (the adding problem): ``forward(x)`` with
    x (T, B, I) returns (B,) for ``output_size=1``, else (B, output_size).

    Parameters
    ----------
    cell : "mingru" or "minlstm"
    input_size, hidden_size : int
    output_size : int, default 1
    num_layers : int, default 1
    mode : "log", "scan" or "loop" (see :class:`MinGRU`)
    signed : minGRU with transitions in (-1, 1) (mode "scan" or "loop")
    seed : seeds the initial weights without touching torch's global generator
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        num_layers: int = 1,
        mode: str = "log",
        signed: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cell, self.input_size, self.output_size = cell, input_size, output_size
        self.rnn = _Stack(cell, input_size, hidden_size, num_layers, mode, signed, seed)
        self.readout = _readout(hidden_size, output_size, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.readout(self.rnn(_as_features(x, self.input_size))[-1])
        return y.squeeze(-1) if self.output_size == 1 else y

    def count_parameters(self) -> int:
        """Number of trainable scalar parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class MinTagger(nn.Module):
    """minGRU / minLSTM layers with a readout at every step: ``logits_t = W_hy h_t + b_y``.

    Like :class:`rnnbook.models.SequenceTagger` (the copy task, running parity): x (T, B, I)
    or (T, B) integer tokens (one-hot encoded) -> logits (T, B, n_classes).
    Parameters as :class:`MinRegressor`, with ``n_classes`` for ``output_size``.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        n_classes: int,
        num_layers: int = 1,
        mode: str = "log",
        signed: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cell, self.input_size, self.n_classes = cell, input_size, n_classes
        self.rnn = _Stack(cell, input_size, hidden_size, num_layers, mode, signed, seed)
        self.readout = _readout(hidden_size, n_classes, seed)

    def forward(self, x: torch.Tensor, return_states: bool = False):
        states = self.rnn(_as_features(x, self.input_size))
        logits = self.readout(states)
        return (logits, states) if return_states else logits

    def count_parameters(self) -> int:
        """Number of trainable scalar parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
