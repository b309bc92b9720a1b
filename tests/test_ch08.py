"""Tests for chapter 8's library code: the Seq2Seq options, the task's evaluation helpers,
training runs that keep their weights, the figures and the exercise checks."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from rnnbook import decoding, exercises_seq2seq, experiments, g2p, models, plots_seq2seq
from rnnbook import train as tr

torch.set_num_threads(1)

WORDS = {
    "box": ("B", "AA", "K", "S"),
    "axe": ("AE", "K", "S"),
    "knit": ("N", "IH", "T"),
    "lamb": ("L", "AE", "M"),
    "knave": ("N", "EY", "V"),
}


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def g2p_model(attention="dot", seed=0, cell="gru"):
    return models.Seq2Seq(
        g2p.EOS + 1,
        8,
        cell=cell,
        attention=attention,
        embed_size=6,
        src_vocab_size=len(g2p.LETTERS),
        bidirectional=True,
        max_src_len=15,
        seed=seed,
    )


# ------------------------------------------------------------------------- Seq2Seq options


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("attention", [None, "dot", "general", "concat", "location"])
def test_bidirectional_seq2seq_with_its_own_source_vocabulary(cell, attention):
    model = g2p_model(attention, cell=cell)
    src, tgt, _ = g2p.batch(["box", "axe"], [WORDS["box"], WORDS["axe"]])
    logits, weights = model(src, tgt)
    assert logits.shape == (5, 2, g2p.EOS + 1)
    assert model.src_embed.num_embeddings == 26 and model.tgt_embed.num_embeddings == 41
    enc, state = model.encode(src)
    assert enc.shape == (3, 2, 8)  # 4 units each way, joined
    h = state[0] if cell == "lstm" else state
    assert h.shape == (1, 2, 8)
    # the decoder starts from [forward final state; backward final state]
    _, raw = model.encoder(model.src_embed(src))
    raw_h = raw[0] if cell == "lstm" else raw
    torch.testing.assert_close(h[0], torch.cat([raw_h[0], raw_h[1]], dim=-1))
    torch.testing.assert_close(enc[-1, :, :4], raw_h[0])  # the forward half ends last
    torch.testing.assert_close(enc[0, :, 4:], raw_h[1])  # the backward half ends first
    if attention is None:
        assert weights is None
    else:
        torch.testing.assert_close(weights.sum(-1), torch.ones(5, 2))
    with torch.no_grad():  # step by step equals teacher forcing on the same tokens
        step_logits, _, state = model.decode(torch.full((1, 2), model.bos), state, enc)
    torch.testing.assert_close(step_logits[0], logits[0])


def test_location_scores_ignore_the_keys_content():
    model = g2p_model("location")
    q, k = torch.randn(3, 2, 8), torch.randn(5, 2, 8)
    s = model.score(q, k)
    torch.testing.assert_close(s, q @ model.attn["W_a"][:5].T)
    torch.testing.assert_close(model.score(q, torch.randn(5, 2, 8)), s)  # other keys, same
    assert model.attn["W_a"].shape == (15, 8)
    with pytest.raises(ValueError, match="max_src_len"):
        model.score(q, torch.randn(16, 2, 8))


def test_seq2seq_options_are_checked():
    with pytest.raises(ValueError, match="even hidden_size"):
        models.Seq2Seq(5, 7, bidirectional=True)
    with pytest.raises(ValueError, match="max_src_len"):
        models.Seq2Seq(5, 8, attention="location")
    with pytest.raises(ValueError, match="src_vocab_size"):
        models.Seq2Seq(5, 8, src_vocab_size=1)


def test_default_seq2seq_is_unchanged_by_the_options():
    a = models.Seq2Seq(7, 8, attention="general", seed=3)
    b = models.Seq2Seq(7, 8, attention="general", seed=3, src_vocab_size=None)
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb)
    assert not a.bidirectional and a.encoder.bidirectional is False


# ------------------------------------------------------------------------- the task helpers


def test_predict_evaluate_and_rates_by_length():
    model = g2p_model("dot")
    out = g2p.predict(model, WORDS)
    assert set(out) == set(WORDS) and all(isinstance(h, decoding.Hypothesis) for h in out.values())
    one = decoding.greedy(model, g2p.batch(["box"], [WORDS["box"]])[0], g2p.EOS, 3 + 8)[0]
    assert out["box"].tokens == one.tokens
    beam = g2p.predict(model, WORDS, beam_size=1)
    assert all(beam[w].tokens == out[w].tokens for w in WORDS)
    r = g2p.evaluate(out, WORDS)
    hyps = [g2p.decode_pron(out[w].tokens) for w in WORDS]
    assert r == decoding.error_rates(hyps, list(WORDS.values()))
    rates = g2p.by_length_rates(out, WORDS)
    assert list(rates) == [3, 4, 5]
    assert sum(x.edits for x in rates.values()) == r.edits
    exact = {w: (*g2p.encode_pron(p),) for w, p in WORDS.items()}
    assert g2p.evaluate(exact, WORDS).per == 0.0  # token sequences are accepted too
    with pytest.raises(ValueError, match="no output"):
        g2p.evaluate({}, WORDS)


def test_teacher_forced_predictions_and_loss():
    model = g2p_model("general", seed=1)
    forced, loss = g2p.teacher_forced(model, WORDS)
    src, tgt, target = g2p.batch(["box"], [WORDS["box"]])
    with torch.no_grad():
        logits, _ = model(src, tgt)
    assert forced["box"] == tuple(logits.argmax(-1)[:, 0].tolist())
    assert all(len(forced[w]) == len(p) + 1 for w, p in WORDS.items())
    manual = []
    for w, p in WORDS.items():
        s, t, y = g2p.batch([w], [p])
        with torch.no_grad():
            manual.append(
                torch.nn.functional.cross_entropy(model(s, t)[0][:, 0], y[:, 0], reduction="sum")
            )
    n = sum(len(p) + 1 for p in WORDS.values())
    assert loss == pytest.approx(float(sum(manual)) / n, rel=1e-5)


def test_silent_final_e():
    lexicon = {**WORDS, "recipe": ("R", "EH", "S", "AH", "P", "IY"), "free": ("F", "R", "IY")}
    assert list(g2p.silent_final_e(lexicon)) == ["axe", "knave"]  # not "recipe", "free"


def test_after_first_mistake():
    E = 9
    ref = [1, 2, 3, 4, E]
    assert decoding.after_first_mistake(ref, ref, ref) == (0, 0, 0)
    # a substitution at position 1, then the free run goes on right: 0 errors after it
    assert decoding.after_first_mistake([1, 7, 3, 4, E], ref, ref) == (0, 0, 3)
    # after the first mistake the free run errs twice more; teacher-forced once
    assert decoding.after_first_mistake([1, 7, 5, 4, 6, E], [1, 7, 3, 0, E], ref) == (2, 1, 3)
    # an early end: the rest is missing
    assert decoding.after_first_mistake([1, 2, E], ref, ref) == (2, 0, 2)
    # never ended: every position matched, but the end token is missing
    assert decoding.after_first_mistake([1, 2, 3, 4], ref, ref) == (0, 0, 0)
    with pytest.raises(ValueError, match="one prediction per reference position"):
        decoding.after_first_mistake(ref, ref[:2], ref)


# ------------------------------------------------------------------------- training runs


def test_train_runs_can_keep_the_trained_weights():
    def build(label, seed):
        return g2p_model(None if label == "none" else label, seed=seed)

    make_batch = g2p.batches(WORDS, batch_size=4)
    loss = tr.sequence_cross_entropy
    kept = experiments.train_runs(
        build, ["none", "dot"], [0], make_batch, loss, 3, 1e-2, keep_weights=True
    )
    plain = experiments.train_runs(build, ["none", "dot"], [0], make_batch, loss, 3, 1e-2)
    assert "state_dict" not in plain["dot"][0].meta
    np.testing.assert_array_equal(kept["dot"][0].loss, plain["dot"][0].loss)
    alone = build("dot", 0)
    tr.train(alone, make_batch, loss, 3, 1e-2, seed=0, progress=False)
    restored = build("dot", 0)
    restored.load_state_dict(kept["dot"][0].meta["state_dict"])
    for (n, a), (_, b) in zip(
        alone.state_dict().items(), restored.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), n
    forked = experiments.train_runs(build, ["dot"], [0, 1], make_batch, loss, 3, 1e-2, workers=2,
                           keep_weights=True)  # fmt: skip
    for n, p in forked["dot"][0].meta["state_dict"].items():
        assert torch.equal(p, restored.state_dict()[n]), n


# ------------------------------------------------------------------------- figures


def test_length_distributions_and_error_by_length():
    fig = plots_seq2seq.length_distributions([3, 3, 4], [4, 3, 3])
    bars = fig.axes[0].patches
    np.testing.assert_allclose([b.get_height() for b in bars[:4]], [0, 0, 2 / 3, 1 / 3])
    fig = plots_seq2seq.error_by_length([3, 4], {"a": [0.1, 0.2], "b": [0.1, 0.1]}, counts=[5, 6])
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [10, 20])
    assert ax.lines[0].get_linestyle() != ax.lines[1].get_linestyle()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["3\n(5)", "4\n(6)"]
    with pytest.raises(ValueError, match="shape"):
        plots_seq2seq.error_by_length([3, 4], {"a": [0.1]})
    with pytest.raises(ValueError, match="one length"):
        plots_seq2seq.length_distributions([3], [3, 4])


def test_alignment_grid():
    w = [np.eye(3), np.full((2, 4), 0.25)]
    fig = plots_seq2seq.alignment_grid(
        w, ["abc", "abcd"], [["A", "B", "C"], ["X", "Y"]], ["1", "2"]
    )
    axes = [a for a in fig.axes if a.images]
    assert len(axes) == 2 and axes[0].get_title() == "1"
    np.testing.assert_allclose(axes[1].images[0].get_array(), w[1])
    assert axes[0].images[0].get_clim() == (0.0, 1.0)
    with pytest.raises(ValueError, match="labels"):
        plots_seq2seq.alignment_grid(w, ["ab", "abcd"], [["A", "B", "C"], ["X", "Y"]], ["1", "2"])


# ------------------------------------------------------------------------- exercise checks


def test_edit_distance_check_accepts_a_solution_and_diagnoses_mistakes():
    assert exercises_seq2seq.check_edit_distance(decoding.edit_distance).ok

    def hamming(a, b):
        return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))

    verdict = exercises_seq2seq.check_edit_distance(hamming)
    assert not verdict.ok and "realign" in verdict.hint

    def no_return(a, b):
        pass

    verdict = exercises_seq2seq.check_edit_distance(no_return)
    assert not verdict.ok and "return" in verdict.hint


def test_beam_step_check_accepts_a_solution_and_diagnoses_mistakes():
    def solution(scores, log_probs, k):
        total = (scores[:, None] + log_probs).ravel()
        order = np.argsort(-total)[:k]
        return total[order], order // log_probs.shape[1], order % log_probs.shape[1]

    assert exercises_seq2seq.check_beam_step(solution).ok

    def forgets_scores(scores, log_probs, k):
        return solution(np.zeros_like(scores), log_probs, k)

    verdict = exercises_seq2seq.check_beam_step(forgets_scores)
    assert not verdict.ok and "scores[i] + log_probs[i, v]" in verdict.hint

    def one_per_prefix(scores, log_probs, k):
        total = scores[:, None] + log_probs
        tokens = total.argmax(1)
        best = total.max(1)
        order = np.argsort(-best)[:k]
        return best[order], order, tokens[order]

    verdict = exercises_seq2seq.check_beam_step(one_per_prefix)
    assert not verdict.ok and "K * V" in verdict.hint
