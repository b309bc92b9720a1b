"""Small PyTorch models for the book's experiments.

Plain :class:`torch.nn.Module` subclasses around one-layer ``nn.RNN``, ``nn.LSTM`` or
``nn.GRU``, time-major like the rest of the library: a batch of sequences is
``(T, B, input_size)``; integer token sequences ``(T, B)`` are one-hot encoded (or
embedded, in :class:`Seq2Seq`).

- :class:`SequenceRegressor` reads the last hidden state (the adding problem).
- :class:`SequenceTagger` gives logits at every step (the copy task, running parity, sine).
- :class:`Seq2Seq` is an encoder-decoder with optional attention (reversing digits; with a
  bidirectional encoder and its own source vocabulary, grapheme to phoneme in chapter 8).

The LSTM variants in PyTorch (chapter 4's comparison) are in :mod:`rnnbook.variant_models`.

Every model has ``count_parameters()``; :func:`count_parameters` works on any module (for
example ``nn.RNN``, to compare with the book's count). Pass ``seed=`` to a constructor to
initialise its weights reproducibly without touching the global random state.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "CELLS",
    "ATTENTION_METHODS",
    "count_parameters",
    "make_rnn",
    "SequenceRegressor",
    "SequenceTagger",
    "Seq2Seq",
]

CELLS = ("rnn", "lstm", "gru")
ATTENTION_METHODS = ("dot", "general", "concat", "scaled_dot")


def count_parameters(module: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters of ``module`` (only those with ``requires_grad`` by default).

    For a one-layer ``nn.RNN`` with input size I and hidden size H this is
    ``H*I + H*H + 2*H``; ``nn.LSTM`` has four times that and ``nn.GRU`` three times.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"count_parameters expects a torch.nn.Module, got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


@contextlib.contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Run the block with ``torch.manual_seed(seed)`` and restore the global CPU RNG after."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def make_rnn(
    cell: str,
    input_size: int,
    hidden_size: int,
    nonlinearity: str = "tanh",
    forget_bias: float | None = None,
    identity_init: bool = False,
) -> nn.Module:
    """One-layer, unidirectional, time-major ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU``.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    input_size, hidden_size : int
    nonlinearity : "tanh" or "relu"
        Only for ``cell="rnn"``.
    forget_bias : float, optional
        Only for ``cell="lstm"``: set the forget-gate bias (rows ``H:2H``, gate order
        i, f, g, o) so that ``b_if + b_hf = forget_bias`` (Gers et al. 2000; Jozefowicz
        et al. 2015 recommend 1).
    identity_init : bool
        Only for ``cell="rnn"``: recurrent weights = identity, biases = 0 (the IRNN of
        Le, Jaitly and Hinton 2015, used with ``nonlinearity="relu"``).
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if cell != "rnn" and nonlinearity != "tanh":
        raise ValueError(f"nonlinearity applies only to cell='rnn', got cell={cell!r}")
    if forget_bias is not None and cell != "lstm":
        raise ValueError(f"forget_bias applies only to cell='lstm', got cell={cell!r}")
    if identity_init and cell != "rnn":
        raise ValueError(f"identity_init applies only to cell='rnn', got cell={cell!r}")
    if cell == "rnn":
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        rnn: nn.Module = nn.RNN(input_size, hidden_size, nonlinearity=nonlinearity)
    elif cell == "lstm":
        rnn = nn.LSTM(input_size, hidden_size)
    else:
        rnn = nn.GRU(input_size, hidden_size)
    with torch.no_grad():
        if forget_bias is not None:
            H = hidden_size
            rnn.bias_ih_l0[H : 2 * H] = float(forget_bias)
            rnn.bias_hh_l0[H : 2 * H] = 0.0
        if identity_init:
            rnn.weight_hh_l0.copy_(torch.eye(hidden_size))
            rnn.bias_ih_l0.zero_()
            rnn.bias_hh_l0.zero_()
    return rnn


def _as_features(x: torch.Tensor, input_size: int) -> torch.Tensor:
    """(T, B, I) floats pass through; (T, B) integer tokens become one-hot (T, B, I)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        if x.dim() != 2:
            raise ValueError(f"integer inputs must be (T, B) tokens, got shape {tuple(x.shape)}")
        return F.one_hot(x.long(), input_size).float()
    if x.dim() != 3 or x.shape[-1] != input_size:
        raise ValueError(f"inputs must be (T, B, {input_size}), got shape {tuple(x.shape)}")
    return x


class _CountMixin:
    def count_parameters(self) -> int:
        """Number of trainable scalar parameters."""
        return count_parameters(self)  # type: ignore[arg-type]


class SequenceRegressor(_CountMixin, nn.Module):
    """An RNN that reads a whole sequence and regresses from its last hidden state.

    ``h_t = cell(x_t, h_{t-1})`` for ``t = 1 .. T``, then ``y = W_hy h_T + b_y``.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    input_size, hidden_size : int
    output_size : int, default 1
    forget_bias, nonlinearity, identity_init, seed : see :func:`make_rnn`.

    Shapes
    ------
    ``forward(x)`` with ``x`` (T, B, input_size) returns (B,) if ``output_size == 1``
    (matching the adding problem's targets) and (B, output_size) otherwise. With
    ``return_states=True`` it also returns the hidden states (T, B, hidden_size).
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int = 1,
        forget_bias: float | None = None,
        nonlinearity: str = "tanh",
        identity_init: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cell, self.input_size, self.output_size = cell, input_size, output_size
        with _seeded(seed):
            self.rnn = make_rnn(
                cell, input_size, hidden_size, nonlinearity, forget_bias, identity_init
            )
            self.readout = nn.Linear(hidden_size, output_size)

    def forward(
        self, x: torch.Tensor, return_states: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        states, _ = self.rnn(_as_features(x, self.input_size))
        y = self.readout(states[-1])
        if self.output_size == 1:
            y = y.squeeze(-1)
        return (y, states) if return_states else y


class SequenceTagger(_CountMixin, nn.Module):
    """An RNN that predicts a class at every step: ``logits_t = W_hy h_t + b_y``.

    Parameters
    ----------
    cell : "rnn", "lstm" or "gru"
    input_size : int
        Features per step, or the vocabulary size when the inputs are integer tokens
        (T, B), which are one-hot encoded.
    hidden_size : int
    n_classes : int
        Number of outputs per step (use 1 with MSE for per-step regression, e.g. the sine).
    forget_bias, nonlinearity, identity_init, seed : see :func:`make_rnn`.

    Shapes
    ------
    ``forward(x)`` with ``x`` (T, B, input_size) or (T, B) ints returns logits
    (T, B, n_classes); with ``return_states=True`` also the hidden states (T, B, hidden_size).
    Train with :func:`rnnbook.train.sequence_cross_entropy`.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        n_classes: int,
        forget_bias: float | None = None,
        nonlinearity: str = "tanh",
        identity_init: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.cell, self.input_size, self.n_classes = cell, input_size, n_classes
        with _seeded(seed):
            self.rnn = make_rnn(
                cell, input_size, hidden_size, nonlinearity, forget_bias, identity_init
            )
            self.readout = nn.Linear(hidden_size, n_classes)

    def forward(
        self, x: torch.Tensor, return_states: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        states, _ = self.rnn(_as_features(x, self.input_size))
        logits = self.readout(states)
        return (logits, states) if return_states else logits


class Seq2Seq(_CountMixin, nn.Module):
    """Encoder-decoder RNN with optional attention (Luong, Pham and Manning 2015 style).

    The encoder reads the embedded source; its final state starts the decoder, which reads
    the embedded previous target token (a start token ``BOS = vocab_size`` at step 0).
    With ``attention=None`` the logits come from the decoder state ``s_t``. With attention,
    each ``s_t`` scores every encoder output ``h_j``:

    - dot:        ``score(s, h) = s . h``
    - scaled_dot: ``score(s, h) = s . h / sqrt(d)``
    - general:    ``score(s, h) = s^T W h``
    - concat:     ``score(s, h) = v^T tanh(W_a s + W_b h)`` (additive; Bahdanau et al. 2015)
    - location:   ``scores = W_a s``, one per source position, whatever the ``h_j`` (Luong's
      location-based function, eq. 8; ``W_a`` is (max_src_len, H), its first S rows serve
      a source of length S)

    the first four with the same formulas, parameter names and shapes as
    :func:`rnnbook.attention.score` (``model.attn["W"]`` etc.; :meth:`attention_params`
    exports them); then ``alpha_t = softmax_j(score(s_t, h_j))``, ``c_t = sum_j alpha_tj h_j``,
    ``s~_t = tanh(W_c [c_t; s_t])`` and ``logits_t = W_out s~_t``.

    Parameters
    ----------
    vocab_size : int
        Target tokens ``0 .. vocab_size - 1`` (and source tokens, unless ``src_vocab_size``).
    hidden_size : int
    cell : "rnn", "lstm" or "gru" (default "gru")
    attention : None, "dot", "general", "concat", "scaled_dot" or "location"
    embed_size : int, optional (default hidden_size)
    attn_size : int, optional
        Width of the concat (additive) scorer (default hidden_size).
    seed : int, optional
    src_vocab_size : int, optional
        Source tokens ``0 .. src_vocab_size - 1``, when the source has its own vocabulary.
    bidirectional : bool, default False
        A bidirectional encoder (Bahdanau et al. 2015) of ``hidden_size // 2`` units each
        way: its outputs ``h_j = [forward_j; backward_j]`` and the decoder's first state
        (the two final states joined) have ``hidden_size`` units. Needs an even hidden_size.
    max_src_len : int, optional
        Longest source the "location" score serves (required by it, unused otherwise).

    Shapes
    ------
    ``forward(src, tgt=None, max_len=None)``: ``src`` (S, B) ints. With ``tgt`` (T, B)
    ints the decoder is teacher-forced (reads ``BOS, tgt[0], .., tgt[T-2]``); without it,
    it decodes greedily for ``max_len`` steps (default S). Returns ``(logits, weights)``:
    logits (T, B, vocab_size) and attention weights (T, B, S) (``weights[t, b, j]`` is the
    weight output step t puts on source step j), or ``None`` without attention.
    The two halves are :meth:`encode` and :meth:`decode`, which step-by-step decoders
    (greedy, beam search: :mod:`rnnbook.decoding`) call one step at a time.
    """

    def __init__(
        self,
        vocab_size: int,
        hidden_size: int,
        cell: str = "gru",
        attention: str | None = None,
        embed_size: int | None = None,
        attn_size: int | None = None,
        seed: int | None = None,
        src_vocab_size: int | None = None,
        bidirectional: bool = False,
        max_src_len: int | None = None,
    ) -> None:
        super().__init__()
        if attention is not None and attention not in (*ATTENTION_METHODS, "location"):
            raise ValueError(
                f"attention must be None or one of {(*ATTENTION_METHODS, 'location')}, "
                f"got {attention!r}"
            )
        for name, value in (("vocab_size", vocab_size), ("src_vocab_size", src_vocab_size)):
            if value is None and name == "src_vocab_size":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(f"{name} must be an int >= 2, got {value!r}")
        if bidirectional and hidden_size % 2:
            raise ValueError(f"bidirectional needs an even hidden_size, got {hidden_size}")
        if attention == "location" and (
            isinstance(max_src_len, bool) or not isinstance(max_src_len, int) or max_src_len < 1
        ):
            raise ValueError(f"attention='location' needs max_src_len >= 1, got {max_src_len!r}")
        E = embed_size or hidden_size
        H = hidden_size
        A = attn_size or hidden_size
        self.vocab_size, self.hidden_size, self.cell, self.attention = (
            vocab_size,
            H,
            cell,
            attention,
        )
        self.bos, self.bidirectional, self.max_src_len = vocab_size, bidirectional, max_src_len
        with _seeded(seed):
            self.src_embed = nn.Embedding(src_vocab_size or vocab_size, E)
            self.tgt_embed = nn.Embedding(vocab_size + 1, E)  # + BOS
            if bidirectional:
                rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
                self.encoder = rnn(E, H // 2, bidirectional=True)
            else:
                self.encoder = make_rnn(cell, E, H)
            self.decoder = make_rnn(cell, E, H)
            # the scorer's parameters, named and shaped as in rnnbook.attention.init_params,
            # uniform in +-1/sqrt(fan in)
            shapes = {"general": {"W": (H, H)}, "concat": {"W_a": (A, H), "W_b": (A, H), "v": (A,)}}
            if attention == "location":
                shapes["location"] = {"W_a": (max_src_len, H)}
            self.attn = nn.ParameterDict(
                {
                    name: nn.Parameter((2 * torch.rand(shape) - 1) / math.sqrt(shape[-1]))
                    for name, shape in shapes.get(attention or "", {}).items()
                }
            )
            if attention is not None:
                self.W_c = nn.Linear(2 * H, H)
            self.out = nn.Linear(H, vocab_size)

    def score(self, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Attention scores: queries (T, B, H), keys (S, B, H) -> (T, B, S)."""
        method = self.attention
        if method in ("dot", "scaled_dot"):
            s = torch.einsum("tbh,sbh->tbs", queries, keys)
            return s / math.sqrt(keys.shape[-1]) if method == "scaled_dot" else s
        if method == "general":  # s^T W h
            return torch.einsum("tbh,hk,sbk->tbs", queries, self.attn["W"], keys)
        if method == "concat":  # v^T tanh(W_a s + W_b h)
            q = (queries @ self.attn["W_a"].T).permute(1, 0, 2)[:, :, None, :]  # (B, T, 1, A)
            k = (keys @ self.attn["W_b"].T).permute(1, 0, 2)[:, None, :, :]  # (B, 1, S, A)
            return torch.tanh(q + k).matmul(self.attn["v"]).permute(1, 0, 2)  # (T, B, S)
        if method == "location":  # W_a s: the keys' content is not used, only their number
            if keys.shape[0] > self.max_src_len:
                raise ValueError(f"source of length {keys.shape[0]} > max_src_len")
            return queries @ self.attn["W_a"][: keys.shape[0]].T
        raise ValueError("this model has no attention")

    def attention_params(self) -> dict[str, np.ndarray]:
        """The scorer's parameters as NumPy arrays, ready for :func:`rnnbook.attention.score`
        (``{}`` for dot and scaled_dot, ``W`` for general, ``W_a``, ``W_b``, ``v`` for concat)."""
        return {name: p.detach().double().numpy().copy() for name, p in self.attn.items()}

    def _readout(
        self, dec: torch.Tensor, enc: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.attention is None:
            return self.out(dec), None
        weights = torch.softmax(self.score(dec, enc), dim=-1)  # (T, B, S)
        context = torch.einsum("tbs,sbh->tbh", weights, enc)
        combined = torch.tanh(self.W_c(torch.cat([context, dec], dim=-1)))
        return self.out(combined), weights

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, object]:
        """Encoder outputs (S, B, H) and the decoder's first state, for ``src`` (S, B) ints."""
        if not isinstance(src, torch.Tensor) or torch.is_floating_point(src) or src.dim() != 2:
            raise ValueError("src must be a (S, B) tensor of integer tokens")
        enc, state = self.encoder(self.src_embed(src))
        if self.bidirectional:  # (2, B, H/2) forward and backward -> (1, B, H)
            states = state if isinstance(state, tuple) else (state,)
            joined = tuple(torch.cat([s[0], s[1]], dim=-1)[None] for s in states)
            state = joined if isinstance(state, tuple) else joined[0]
        return enc, state

    def decode(
        self, tokens: torch.Tensor, state: object, enc: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None, object]:
        """Read ``tokens`` (T, B) from ``state``: logits (T, B, V), weights, the new state."""
        dec, state = self.decoder(self.tgt_embed(tokens), state)
        logits, weights = self._readout(dec, enc)
        return logits, weights, state

    def forward(
        self, src: torch.Tensor, tgt: torch.Tensor | None = None, max_len: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        enc, state = self.encode(src)
        B = src.shape[1]
        bos = torch.full((1, B), self.bos, dtype=torch.long, device=src.device)
        if tgt is not None:
            if torch.is_floating_point(tgt) or tgt.dim() != 2 or tgt.shape[1] != B:
                raise ValueError(f"tgt must be (T, {B}) integer tokens, got {tuple(tgt.shape)}")
            dec_in = torch.cat([bos, tgt[:-1].long()], dim=0)
            logits, weights, _ = self.decode(dec_in, state, enc)
            return logits, weights
        steps = src.shape[0] if max_len is None else max_len
        token, logits, weights = bos, [], []
        for _ in range(steps):
            step_logits, step_weights, state = self.decode(token, state, enc)
            logits.append(step_logits)
            weights.append(step_weights)
            token = step_logits.argmax(-1)
        all_weights = None if self.attention is None else torch.cat(weights, dim=0)
        return torch.cat(logits, dim=0), all_weights
