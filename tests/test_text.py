"""Tests for rnnbook.text: the corpora, the vocabulary and the n-gram baselines."""

import math
import re
from collections import Counter, defaultdict

import numpy as np
import pytest

from rnnbook import text
from rnnbook.text import BOUNDARY, PAD, NGramModel, Vocab


@pytest.fixture(scope="module")
def words():
    return text.dictionary_words()


# ----------------------------------------------------------------------------- vocabulary


def test_vocab_round_trip_and_layout():
    v = text.word_vocab()
    assert len(v) == 29 and v.symbols[:3] == ["<pad>", "$", "'"] and v.offset == 2
    ids = v.encode("don't")
    assert ids.dtype == np.int64 and list(ids) == [6, 17, 16, 2, 22]
    assert v.decode(ids) == "don't"
    assert v.decode([PAD, BOUNDARY, *ids, BOUNDARY]) == "don't"  # specials are left out
    assert list(v.word_targets("ab")) == [3, 4, BOUNDARY]
    many = v.words_targets(["ab", "c", "don't"])
    assert [list(a) for a in many] == [[3, 4, 1], [5, 1], [*ids, 1]]


def test_vocab_without_specials():
    v = Vocab("ab\n", specials=False)
    assert len(v) == 3 and v.offset == 0 and list(v.encode("ba\n")) == [1, 0, 2]
    with pytest.raises(ValueError, match="specials"):
        v.word_targets("ab")


def test_vocab_errors():
    v = text.word_vocab()
    with pytest.raises(ValueError, match="'A' is not in the vocabulary"):
        v.encode("cAt")
    with pytest.raises(ValueError, match="'é' is not in the vocabulary"):
        v.encode("café")
    with pytest.raises(TypeError, match="str"):
        v.encode(3)
    with pytest.raises(ValueError, match="outside"):
        v.decode([29])
    with pytest.raises(ValueError, match="repeat"):
        Vocab("aa")
    with pytest.raises(ValueError, match="boundary"):
        Vocab("a$")
    with pytest.raises(TypeError, match="non-empty str"):
        v.words_targets(["a", ""])


# ----------------------------------------------------------------------------- corpora


def test_dictionary_words(words):
    assert len(words) > 120_000
    assert words == sorted(set(words))
    assert all(re.fullmatch(r"[a-z']+", w) for w in words[:: len(words) // 500])
    assert {"cat", "language", "don't"} <= set(words)
    assert "a." not in words  # abbreviations are left out


def test_split_is_seeded_and_partitions(words, monkeypatch):
    monkeypatch.delenv("RNNBOOK_PERTURB", raising=False)
    a = text.split(words, seed=0)
    assert [len(p) for p in a] == [99941, 12492, 12493]
    assert sum(len(p) for p in a) == len(words)
    assert set(a[0]).isdisjoint(a[1]) and set(a[1]).isdisjoint(a[2])
    assert text.split(words, seed=0) == a
    assert text.split(words, seed=1)[1] != a[1]
    monkeypatch.setenv("RNNBOOK_PERTURB", "1")  # another split, the same sizes
    b = text.split(words, seed=0)
    assert [len(p) for p in b] == [len(p) for p in a] and b[1] != a[1]
    with pytest.raises(ValueError, match="sum to 1"):
        text.split(words, (0.5, 0.4))
    with pytest.raises(ValueError, match="positive"):
        text.split(words, (1.2, -0.2))


def test_python_help_prose():
    prose = text.python_help_prose()
    assert len(prose) > 50 and list(prose) == sorted(prose)
    body = "".join(prose.values())
    assert len(body) > 100_000
    assert set(body) <= set(text.PROSE_CHARS)
    assert ">>>" not in body and "::=" not in body  # no code, no grammar rules
    assert all(len(line) >= 40 for line in body.splitlines())
    assert "exception" in prose["exceptions"]
    one = text.python_help_prose(["exceptions"])
    assert one == {"exceptions": prose["exceptions"]}
    with pytest.raises(ValueError, match="unknown help topics"):
        text.python_help_prose(["no-such-topic"])
    ids = text.prose_vocab().encode(body)
    assert ids.min() >= 0


def test_perplexity_and_bits():
    assert text.perplexity(math.log(28)) == pytest.approx(28)
    assert text.bits(math.log(2)) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- n-gram models


TOY = [np.array(s) for s in ([2, 3, 1], [3, 2, 3, 1], [2, 2, 1], [4, 1])]


def kneser_ney_reference(seqs, order, V, start=BOUNDARY):
    """Interpolated Kneser-Ney written out with dictionaries (slow, plain)."""
    grams = [Counter() for _ in range(order + 1)]  # grams[k][tuple of length k]
    for s in seqs:
        padded = [start] * (order - 1) + list(s)
        for i in range(order - 1, len(padded)):
            for k in range(1, order + 1):
                grams[k][tuple(padded[i - k + 1 : i + 1])] += 1
    cont = [Counter() for _ in range(order + 1)]  # continuation counts for k < order
    for k in range(1, order):
        for g in grams[k + 1]:
            cont[k][g[1:]] += 1

    def counts(k):
        return grams[k] if k == order else cont[k]

    def discount(k):
        c = Counter(counts(k).values())
        return c[1] / (c[1] + 2 * c[2]) if c[1] + c[2] else 0.5

    def p(history, w):
        prob = 1.0 / V
        for k in range(1, order + 1):
            h = tuple(history[len(history) - k + 1 :]) if k > 1 else ()
            table = counts(k)
            following = {g[-1]: c for g, c in table.items() if g[:-1] == h}
            total = sum(following.values())
            if total == 0:
                continue
            D = discount(k)
            prob = max(following.get(w, 0) - D, 0) / total + D * len(following) / total * prob
        return prob

    return p


@pytest.mark.parametrize("order", [1, 2, 3])
def test_kneser_ney_matches_the_written_out_formula(order):
    V = 5
    model = NGramModel(order, V, "kneser-ney").fit(TOY)
    ref = kneser_ney_reference(TOY, order, V)
    rng = np.random.default_rng(0)
    histories = rng.integers(1, V, size=(30, order - 1))
    histories[:3] = BOUNDARY
    got = model.distribution(histories)
    want = np.array([[ref(list(h), w) for w in range(V)] for h in histories])
    np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("smoothing", ["kneser-ney", "add-one"])
@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_distributions_sum_to_one(smoothing, order, words):
    v = text.word_vocab()
    model = NGramModel(order, len(v), smoothing).fit(v.words_targets(words[:3000]))
    rng = np.random.default_rng(order)
    histories = rng.integers(1, len(v), size=(40, order - 1))
    p = model.distribution(histories)
    assert p.shape == (40, len(v)) and np.all(p > 0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-12)


def test_add_one_by_hand():
    model = NGramModel(2, 5, "add-one").fit(TOY)
    # after the boundary: 2 twice, 3 once, 4 once, out of 4 words
    np.testing.assert_allclose(
        model.distribution([[BOUNDARY]])[0], np.array([1, 1, 3, 2, 2]) / (4 + 5)
    )
    # after 2: 3 twice, 1 once, 2 once
    np.testing.assert_allclose(model.distribution([[2]])[0], np.array([1, 2, 2, 3, 1]) / (4 + 5))
    # a symbol never seen as a history: uniform
    np.testing.assert_allclose(model.distribution([[0]])[0], np.full(5, 0.2))
    unigram = NGramModel(1, 5, "add-one").fit(TOY)
    counts = np.bincount(np.concatenate(TOY), minlength=5)
    np.testing.assert_allclose(
        unigram.distribution(np.zeros((1, 0), int))[0], (counts + 1) / (12 + 5)
    )


def test_log_probs_cross_entropy_and_discounts():
    model = NGramModel(3, 5).fit(TOY)
    lp = model.log_probs(TOY)
    assert lp.shape == (sum(len(s) for s in TOY),) and np.all(lp < 0)
    assert model.cross_entropy(TOY) == pytest.approx(-lp.mean())
    assert len(model.discounts) == 3 and all(0 < d < 1 for d in model.discounts)
    fixed = NGramModel(3, 5, discount=0.3).fit(TOY)
    assert fixed.discounts == [0.3, 0.3, 0.3]


def test_higher_orders_fit_the_training_words_better(words):
    v = text.word_vocab()
    train, val, _ = text.split(words, (0.16, 0.02, 0.82), seed=3)
    train, val = v.words_targets(train), v.words_targets(val)
    kn = [NGramModel(n, len(v)).fit(train) for n in (1, 2, 3, 4)]
    on_train = [m.cross_entropy(train) for m in kn]
    assert on_train == sorted(on_train, reverse=True)
    assert kn[2].cross_entropy(val) < kn[1].cross_entropy(val) < kn[0].cross_entropy(val)
    add_one = NGramModel(3, len(v), "add-one").fit(train)
    assert kn[2].cross_entropy(val) < add_one.cross_entropy(val)


def test_sample(words):
    v = text.word_vocab()
    model = NGramModel(3, len(v)).fit(v.words_targets(words[:5000]))
    drawn = model.sample(200, seed=0, max_length=12)
    assert len(drawn) == 200 and all(len(s) <= 12 for s in drawn)
    assert all(PAD not in s and BOUNDARY not in s for s in drawn)
    again = model.sample(200, seed=0, max_length=12)
    assert all(np.array_equal(a, b) for a, b in zip(drawn, again, strict=True))
    cold = model.sample(50, seed=1, temperature=0.05)
    assert len({v.decode(s) for s in cold}) < 5  # nearly greedy: nearly one word
    with pytest.raises(ValueError, match="temperature"):
        model.sample(5, temperature=0)


def test_counts_a_word_once_per_position():
    model = NGramModel(2, 5, "add-one").fit([np.array([2, 2, 2, 1])])
    # history 2 was followed by 2 twice and by the boundary once
    np.testing.assert_allclose(model.distribution([[2]])[0], np.array([1, 2, 3, 1, 1]) / 8)


def test_ngram_errors():
    with pytest.raises(ValueError, match="order"):
        NGramModel(0, 5)
    with pytest.raises(ValueError, match="vocab_size"):
        NGramModel(2, 1)
    with pytest.raises(ValueError, match="smoothing"):
        NGramModel(2, 5, "witten-bell")
    with pytest.raises(ValueError, match="start"):
        NGramModel(2, 5, start=7)
    with pytest.raises(ValueError, match="discount"):
        NGramModel(2, 5, discount=1.5)
    model = NGramModel(2, 5)
    with pytest.raises(ValueError, match="not fitted"):
        model.cross_entropy(TOY)
    with pytest.raises(ValueError, match="ids must lie"):
        model.fit([np.array([1, 9])])
    with pytest.raises(ValueError, match="integer ids"):
        model.fit([np.array([1.0, 2.0])])
    with pytest.raises(ValueError, match="must not be empty"):
        model.fit([])
    model.fit(TOY)
    with pytest.raises(ValueError, match="histories must have shape"):
        model.distribution([[1, 2]])
    with pytest.raises(ValueError, match="windows"):
        model.prob(np.zeros((3, 3), int))


def test_trigram_counts_match_a_direct_tally():
    seqs = [np.array([2, 3, 4, 1]), np.array([3, 1])]
    model = NGramModel(3, 5, "add-one").fit(seqs)
    tally = defaultdict(Counter)
    for s in seqs:
        padded = [1, 1, *s]
        for i in range(2, len(padded)):
            tally[tuple(padded[i - 2 : i])][padded[i]] += 1
    for h, following in tally.items():
        total = sum(following.values())
        want = [(following[w] + 1) / (total + 5) for w in range(5)]
        np.testing.assert_allclose(model.distribution([list(h)])[0], want)
