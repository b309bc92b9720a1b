r"""Using and measuring a trained character language model (chapter 6).

The model, its batches and its training are in :mod:`rnnbook.lm`; this module holds what is
done with a trained :class:`~rnnbook.lm.CharLM`.

=======================  =================================================================
name                     what
=======================  =================================================================
evaluate_words           nats per symbol on a list of words
evaluate_stream          nats per character on a running text, state carried or reset
context_curve            nats per character after reading only t characters of context
next_distribution        the next-symbol distribution after a prefix, at a temperature
sample_words             words drawn from the model at a temperature, after a prefix
greedy_accuracy          next-symbol accuracy under teacher forcing or free running
saved_bytes              memory autograd keeps for the backward pass of one loss
numpy_cell               the trained layer as an :mod:`rnnbook.cells` cell, float64
=======================  =================================================================

Every function runs the model in eval mode without gradients (``saved_bytes`` excepted) and
leaves its mode as it found it. Shapes are time-major: tokens ``(T, B)``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnbook import repro
from rnnbook.lm import Batch, CharLM, length_mask, masked_cross_entropy, stream_batches, word_batch
from rnnbook.text import BOUNDARY, PAD

__all__ = [
    "evaluate_words",
    "evaluate_stream",
    "context_curve",
    "next_distribution",
    "sample_words",
    "greedy_accuracy",
    "saved_bytes",
    "numpy_cell",
]


# ----------------------------------------------------------------------------- evaluation


def _eval_mode(model: nn.Module):
    """Context: the model in eval mode without gradients, its mode restored after."""

    class _Ctx:
        def __enter__(self):
            self.was_training = model.training
            model.eval()
            self.grad = torch.no_grad()
            self.grad.__enter__()

        def __exit__(self, *exc):
            self.grad.__exit__(*exc)
            model.train(self.was_training)

    return _Ctx()


def evaluate_words(model: CharLM, targets: Sequence[np.ndarray], batch_size: int = 2048) -> float:
    """Mean cross-entropy in nats per predicted symbol (characters and ends) over words.

    Every symbol of every word counts once (the words are sorted by length and batched, so
    little is padded). Eval mode: no dropout.
    """
    if len(targets) == 0:
        raise ValueError("targets must not be empty")
    order = np.argsort([len(t) for t in targets], kind="stable")
    total, count = 0.0, 0
    with _eval_mode(model):
        for start in range(0, len(order), batch_size):
            batch = word_batch([targets[i] for i in order[start : start + batch_size]])
            logits, _ = model(batch.inputs)
            total += float(masked_cross_entropy(logits, batch.targets, batch.lengths, "sum"))
            count += int(batch.lengths.sum())
    return total / count


def evaluate_stream(
    model: CharLM,
    ids: np.ndarray,
    k: int,
    batch_size: int = 16,
    carry: bool = True,
    per_position: bool = False,
) -> float | np.ndarray:
    """Cross-entropy in nats per character on a running text, read in segments of ``k``.

    With ``carry=True`` the state is carried from each segment to the next (the model has
    read everything before); with ``carry=False`` every segment starts from the zero state,
    so the character at position t of a segment is predicted from t characters of context.

    Returns
    -------
    float, the mean over all characters; or with ``per_position=True`` an array (k,), the
    mean at each position of a segment
    """
    batches = stream_batches(ids, batch_size, k)
    total = torch.zeros(k, dtype=torch.float64)
    count, state = 0, None
    with _eval_mode(model):
        for i in range(batches.segments):
            batch = batches(i)
            logits, state = model(batch.inputs, None, state if carry else None)
            nll = F.cross_entropy(logits.permute(0, 2, 1), batch.targets, reduction="none")
            total += nll.double().sum(dim=1)
            count += batch.targets.shape[1]
    if per_position:
        return (total / count).numpy()
    return float(total.sum() / (count * k))


def context_curve(
    model: CharLM, ids: np.ndarray, width: int, stride: int = 16, warmup: int = 32, seed: int = 0
) -> np.ndarray:
    """Nats per character when the model has read only t characters of the true context.

    Windows of ``width + 1`` characters start at every ``stride``-th position of ``ids``.
    Before each window the model reads ``warmup`` characters taken from a random other place
    in ``ids`` (so its state is that of a model in the middle of some text, not the zero
    state), then the window; entry t - 1 of the result is the mean loss of the prediction it
    makes after reading t characters of the window. Where the curve has flattened, more
    context no longer helps.

    Returns
    -------
    ndarray (width,)
    """
    ids = np.asarray(ids)
    for name, v in (("width", width), ("stride", stride)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    if ids.ndim != 1 or len(ids) < width + warmup + 1:
        raise ValueError(f"ids must be a 1-D array of at least {width + warmup + 1} ids")
    starts = np.arange(0, len(ids) - width, stride)
    rng = np.random.default_rng(repro.data_seed(seed))
    elsewhere = rng.integers(0, len(ids) - warmup + 1, size=len(starts))
    window = ids[starts[None, :] + np.arange(width + 1)[:, None]]
    foreign = ids[elsewhere[None, :] + np.arange(warmup)[:, None]]
    tokens = torch.from_numpy(np.concatenate([foreign, window]).astype(np.int64))
    with _eval_mode(model):
        logits, _ = model(tokens[:-1])
        nll = F.cross_entropy(logits.permute(0, 2, 1), tokens[1:], reduction="none")
    return nll[warmup:].double().mean(dim=1).numpy()


# ----------------------------------------------------------------------------- sampling


def _check_temperature(temperature: float) -> float:
    if not isinstance(temperature, int | float) or not temperature >= 0:
        raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
    return float(temperature)


def _tempered(logits: torch.Tensor, temperature: float) -> np.ndarray:
    """Probabilities softmax(logits / T) with PAD excluded; T = 0 puts all mass on the argmax."""
    z = logits.double().clone()
    z[..., PAD] = -math.inf
    if temperature == 0:
        p = torch.zeros_like(z)
        p.scatter_(-1, z.argmax(-1, keepdim=True), 1.0)
        return p.numpy()
    return torch.softmax(z / temperature, dim=-1).numpy()


def next_distribution(model: CharLM, prefix: Sequence[int], temperature: float = 1.0) -> np.ndarray:
    """The model's next-symbol distribution after the boundary and ``prefix``, (V,).

    ``softmax(logits / temperature)`` with the padding symbol excluded; ``temperature = 0``
    gives all the probability to the most likely symbol.
    """
    temperature = _check_temperature(temperature)
    tokens = torch.tensor([BOUNDARY, *[int(i) for i in prefix]], dtype=torch.long)[:, None]
    with _eval_mode(model):
        logits, _ = model(tokens)
    return _tempered(logits[-1, 0], temperature)


def sample_words(
    model: CharLM,
    n: int,
    temperature: float = 1.0,
    prefix: Sequence[int] = (),
    seed: int = 0,
    max_length: int = 30,
) -> list[np.ndarray]:
    """Draw ``n`` words from the model: free running, each symbol fed back as the next input.

    The model reads the boundary and ``prefix``, then draws each next symbol from
    ``softmax(logits / temperature)`` (``temperature = 0``: the most likely symbol), until
    it draws the boundary (the end of the word) or has drawn ``max_length`` symbols. The
    generator is seeded through :func:`rnnbook.repro.data_seed`.

    Returns
    -------
    list of n arrays: the prefix and the drawn symbols, without the end
    """
    temperature = _check_temperature(temperature)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    rng = np.random.default_rng(repro.data_seed(seed))
    prefix = [int(i) for i in prefix]
    start = torch.tensor([BOUNDARY, *prefix], dtype=torch.long)[:, None].expand(-1, n)
    drawn = np.zeros((n, max_length), dtype=np.int64)
    lengths = np.full(n, max_length)
    done = np.zeros(n, dtype=bool)
    with _eval_mode(model):
        logits, state = model(start.contiguous())
        for t in range(max_length):
            p = _tempered(logits[-1], temperature)
            u = rng.random((n, 1))
            symbol = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), p.shape[1] - 1)
            ended = ~done & (symbol == BOUNDARY)
            lengths[ended] = t
            done |= ended
            drawn[:, t] = symbol
            if done.all():
                break
            logits, state = model(torch.from_numpy(symbol)[None], None, state)
    return [np.array(prefix + list(drawn[i, : lengths[i]]), dtype=np.int64) for i in range(n)]


def greedy_accuracy(
    model: CharLM, targets: Sequence[np.ndarray], free_after: int | None = None
) -> np.ndarray:
    """How often the most likely next symbol is the right one, at each position of a word.

    With teacher forcing (``free_after=None``) the model reads the true word: at position t
    it predicts symbol t from the true symbols before it, as in training. With
    ``free_after=k`` it reads the boundary and the first k true symbols, then runs free: it
    reads its own most likely symbol as the next input, as when it generates, so from
    position k on it predicts from its own guesses. Positions before k are the same in both.

    Returns
    -------
    ndarray (T,), the accuracy at each position over the words that long (NaN where none)
    """
    batch = word_batch(targets)
    T, B = batch.targets.shape
    if free_after is not None and (not isinstance(free_after, int) or free_after < 0):
        raise ValueError(f"free_after must be None or an int >= 0, got {free_after!r}")
    mask = length_mask(batch.lengths, T).numpy()
    with _eval_mode(model):
        logits, state = model(
            batch.inputs if free_after is None else batch.inputs[: free_after + 1]
        )
        z = logits.clone()
        z[..., PAD] = -math.inf
        guess = np.zeros((T, B), dtype=np.int64)
        known = z.argmax(-1).numpy()
        guess[: len(known)] = known[:T]
        if free_after is not None:
            for t in range(free_after + 1, T):
                logits, state = model(torch.from_numpy(guess[t - 1])[None], None, state)
                z = logits[-1].clone()
                z[:, PAD] = -math.inf
                guess[t] = z.argmax(-1).numpy()
    right = (guess == batch.targets.numpy()) & mask
    count = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, right.sum(axis=1) / np.maximum(count, 1), np.nan)


# ----------------------------------------------------------------------------- cost and reach


def saved_bytes(model: CharLM, batch: Batch) -> int:
    """Bytes of tensors autograd saves for the backward pass of one batch's loss.

    This is the memory back-propagation through time needs beyond the forward pass: it
    grows with the number of steps the gradient is taken through.
    """
    total = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits, _ = model(batch.inputs, batch.lengths)
        masked_cross_entropy(logits, batch.targets, batch.lengths)
    return total


def numpy_cell(model: CharLM):
    """The model's recurrent layer as a float64 :mod:`rnnbook.cells` cell (one layer only).

    Returns ``(cell, features)``: the cell (``RNNCell``, ``LSTMCell`` or ``GRUCell`` with the
    trained weights) and a function ``features(tokens (T, B)) -> (T, B, E)`` float64 array of
    its inputs, so that ``cell.forward(features(tokens))`` reproduces the torch layer.
    """
    from rnnbook.cells import GRUCell, LSTMCell, RNNCell

    if model.num_layers != 1:
        raise ValueError(f"numpy_cell converts a one-layer model, got {model.num_layers} layers")
    twin = copy.deepcopy(model).double()
    cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[model.cell].from_torch(twin.rnn)

    def features(tokens: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        with torch.no_grad():
            return twin.features(t).double().numpy()

    return cell, features
