"""Tests for rnnbook.lm and rnnbook.lm_eval: the character language model, its batches, loss,
training, evaluation and sampling."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnbook import experiments, gradients, lm, lm_eval, text
from rnnbook.text import BOUNDARY, PAD

V = 8  # a small vocabulary: PAD, BOUNDARY and six characters


def words(n=40, seed=0, low=2, high=V):
    rng = np.random.default_rng(seed)
    return [np.append(rng.integers(low, high, size=rng.integers(1, 7)), BOUNDARY) for _ in range(n)]


# ----------------------------------------------------------------------------- the model


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("embed", [5, None])
@pytest.mark.parametrize("layers", [1, 2])
def test_charlm_shapes_and_parameter_count(cell, embed, layers):
    model = lm.CharLM(cell, V, 6, num_layers=layers, embed_size=embed, seed=0)
    tokens = torch.randint(0, V, (5, 3))
    logits, state = model(tokens)
    assert logits.shape == (5, 3, V)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (layers, 3, 6)
    assert model.count_parameters() == lm.count_parameters(cell, V, 6, layers, embed)


def test_charlm_seed_is_reproducible_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = lm.CharLM("lstm", V, 6, seed=3)
    after = torch.rand(1)
    b = lm.CharLM("lstm", V, 6, seed=3)
    assert torch.equal(before, after)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_dropout_only_in_training_and_on_the_right_connections():
    model = lm.CharLM("lstm", V, 6, num_layers=2, dropout=0.5, seed=0)
    assert model.rnn.dropout == 0.5  # between the layers
    tokens = torch.randint(0, V, (4, 2))
    model.eval()
    assert torch.equal(model(tokens)[0], model(tokens)[0])
    model.train()
    torch.manual_seed(0)
    first = model(tokens)[0]
    assert not torch.equal(first, model(tokens)[0])
    one_layer = lm.CharLM("gru", V, 6, num_layers=1, dropout=0.5)
    assert one_layer.rnn.dropout == 0.0 and one_layer.drop.p == 0.5  # input and output only


def test_forget_bias():
    model = lm.CharLM("lstm", V, 4, num_layers=2, forget_bias=1.0, seed=0)
    for k in range(2):
        b = getattr(model.rnn, f"bias_ih_l{k}") + getattr(model.rnn, f"bias_hh_l{k}")
        assert torch.allclose(b[4:8], torch.ones(4))


def test_charlm_errors():
    with pytest.raises(ValueError, match="cell must be one of"):
        lm.CharLM("transformer", V, 4)
    with pytest.raises(ValueError, match="hidden_size"):
        lm.CharLM("rnn", V, 0)
    with pytest.raises(ValueError, match="dropout"):
        lm.CharLM("rnn", V, 4, dropout=1.0)
    with pytest.raises(ValueError, match="forget_bias"):
        lm.CharLM("gru", V, 4, forget_bias=1.0)
    with pytest.raises(ValueError, match="num_layers"):
        lm.CharLM("gru", V, 4, num_layers=0)
    with pytest.raises(ValueError, match="tokens must be"):
        lm.CharLM("gru", V, 4)(torch.zeros(3, 2))


def test_count_parameters_and_hidden_size_for():
    # nn.LSTM(32, 128): 4 (128*32 + 128*128 + 2*128); embedding 29*32; readout 29*128 + 29
    assert (
        lm.count_parameters("lstm", 29, 128) == 4 * (128 * 32 + 128**2 + 256) + 29 * 32 + 29 * 129
    )
    budget = lm.count_parameters("lstm", 29, 64)
    h = lm.hidden_size_for("gru", budget, 29)
    counts = [abs(lm.count_parameters("gru", 29, x) - budget) for x in (h - 1, h, h + 1)]
    assert counts[1] == min(counts)
    with pytest.raises(ValueError, match="budget"):
        lm.hidden_size_for("gru", 0, 29)


# ----------------------------------------------------------------------------- batches and loss


def test_word_batch_layout():
    cat, a = np.array([5, 3, 7, BOUNDARY]), np.array([3, BOUNDARY])
    batch = lm.word_batch([cat, a])
    assert batch.inputs.tolist() == [[BOUNDARY, BOUNDARY], [5, 3], [3, PAD], [7, PAD]]
    assert batch.targets.tolist() == [[5, 3], [3, BOUNDARY], [7, PAD], [BOUNDARY, PAD]]
    assert batch.lengths.tolist() == [4, 2]
    with pytest.raises(ValueError, match="at least one word"):
        lm.word_batch([])


def test_length_mask():
    mask = lm.length_mask(torch.tensor([3, 1]), 4)
    assert mask.tolist() == [[True, True], [True, False], [True, False], [False, False]]
    with pytest.raises(ValueError, match="1-D"):
        lm.length_mask(torch.ones(2, 2), 3)


def test_masked_cross_entropy_counts_each_real_symbol_once():
    batch = lm.word_batch(words(6))
    logits = torch.randn(*batch.targets.shape, V, generator=torch.Generator().manual_seed(0))
    got = lm.masked_cross_entropy(logits, batch.targets, batch.lengths)
    want = F.cross_entropy(logits.reshape(-1, V), batch.targets.reshape(-1), ignore_index=PAD)
    assert torch.allclose(got, want)
    total = lm.masked_cross_entropy(logits, batch.targets, batch.lengths, reduction="sum")
    assert torch.allclose(total, got * batch.lengths.sum())
    everything = lm.masked_cross_entropy(logits, batch.targets)
    assert torch.allclose(
        everything, F.cross_entropy(logits.reshape(-1, V), batch.targets.reshape(-1))
    )
    with pytest.raises(ValueError, match="expected logits"):
        lm.masked_cross_entropy(logits[0], batch.targets)
    with pytest.raises(ValueError, match="reduction"):
        lm.masked_cross_entropy(logits, batch.targets, reduction="max")


def test_packed_and_padded_logits_agree_where_real_and_final_states_differ():
    model = lm.CharLM("lstm", V, 5, seed=1).eval()
    batch = lm.word_batch(words(5, seed=2))
    with torch.no_grad():
        padded, (h_pad, _) = model(batch.inputs)
        packed, (h_pack, _) = model(batch.inputs, batch.lengths)
        alone = torch.stack(
            [model(batch.inputs[:n, b : b + 1])[1][0][0, 0] for b, n in enumerate(batch.lengths)]
        )
    real = lm.length_mask(batch.lengths, batch.inputs.shape[0])
    assert (padded - packed)[real].abs().max() < 1e-6
    assert (h_pack[0] - alone).abs().max() < 1e-6
    assert (h_pad[0] - alone).abs().max() > 1e-3


def test_word_batches_serve_every_word_once_per_epoch_and_bucket():
    targets = words(64, seed=3)
    rng = np.random.default_rng(0)
    draw = lm.word_batches(targets, 8)
    served = []
    for step in range(8):  # one epoch
        b = draw(step, rng)
        served += [tuple(b.targets[:n, i].tolist()) for i, n in enumerate(b.lengths.tolist())]
    assert sorted(served) == sorted(tuple(t.tolist()) for t in targets)
    plain = lm.word_batches(targets, 8, bucket=False)
    pad = {}
    for name, d in (("bucket", lm.word_batches(targets, 8)), ("plain", plain)):
        sizes = [(int(b.lengths.sum()), b.targets.numel()) for b in (d(i, rng) for i in range(8))]
        pad[name] = 1 - sum(s for s, _ in sizes) / sum(n for _, n in sizes)
    assert pad["bucket"] < pad["plain"]
    with pytest.raises(ValueError, match="batch_size"):
        lm.word_batches(targets, 0)
    with pytest.raises(ValueError, match="at least batch_size"):
        lm.word_batches(targets[:3], 8)


def test_stream_batches_continue_each_row():
    ids = np.arange(1000) % 50
    draw = lm.stream_batches(ids, batch_size=4, k=10)
    row = 999 // 4
    assert draw.segments == row // 10
    first, second = draw(0), draw(1)
    assert first.inputs.shape == (10, 4) and first.reset and not second.reset
    assert first.inputs[:, 1].tolist() == ids[row : row + 10].tolist()
    assert first.targets[:, 1].tolist() == ids[row + 1 : row + 11].tolist()
    assert second.inputs[0, 1] == first.targets[-1, 1]
    assert draw(draw.segments).reset  # after the last segment it starts again
    with pytest.raises(ValueError, match="too short"):
        lm.stream_batches(ids[:20], 4, 10)
    with pytest.raises(ValueError, match="integer"):
        lm.stream_batches(ids.astype(float), 4, 10)


# ----------------------------------------------------------------------------- training


def test_fit_learns_and_is_repeatable(monkeypatch):
    monkeypatch.delenv("RNNBOOK_PERTURB", raising=False)
    targets = words(64, seed=4)
    calls = []

    def run():
        model = lm.CharLM("gru", V, 16, seed=0)

        def evaluate(m):
            calls.append(m.training)
            return {"val": lm_eval.evaluate_words(m, targets)}

        return lm.fit(
            model, lm.word_batches(targets, 16), 60, 1e-2, evaluate=evaluate, eval_every=20
        )

    h = run()
    assert h.eval_steps.tolist() == [0, 20, 40, 60] and not any(calls)  # eval mode
    assert h.final() < h.evals["val"][0] - 0.3 and h.best() <= h.final()
    assert np.array_equal(run().loss, h.loss)
    assert h.meta["parameters"] == lm.count_parameters("gru", V, 16)
    with pytest.raises(KeyError, match="no evaluation"):
        h.final("test")


def test_fit_perturbed_starts_elsewhere(monkeypatch):
    targets = words(32, seed=5)

    def first_loss():
        model = lm.CharLM("lstm", V, 8, seed=0)
        return lm.fit(model, lm.word_batches(targets, 8), 3, 1e-2).loss

    monkeypatch.delenv("RNNBOOK_PERTURB", raising=False)
    plain = first_loss()
    monkeypatch.setenv("RNNBOOK_PERTURB", "1")
    assert not np.array_equal(first_loss(), plain)


def test_fit_stateful_carries_the_state(monkeypatch):
    seen = []

    class Spy(lm.CharLM):
        def forward(self, tokens, lengths=None, state=None):
            seen.append(state is None)
            return super().forward(tokens, lengths, state)

    ids = np.arange(400) % V
    draw = lm.stream_batches(ids, 4, 10)  # 9 segments
    lm.fit(Spy("lstm", V, 4, seed=0), draw, 12, 1e-2, stateful=True)
    assert seen == [True] + [False] * 8 + [True] + [False] * 2  # reset after a pass
    seen.clear()
    lm.fit(Spy("lstm", V, 4, seed=0), draw, 3, 1e-2)
    assert seen == [True, True, True]


def test_fit_errors():
    model = lm.CharLM("rnn", V, 4)
    draw = lm.word_batches(words(8), 4)
    with pytest.raises(TypeError, match="CharLM"):
        lm.fit(torch.nn.Linear(2, 2), draw, 1, 1e-2)
    with pytest.raises(ValueError, match="steps"):
        lm.fit(model, draw, 0, 1e-2)
    with pytest.raises(ValueError, match="lr"):
        lm.fit(model, draw, 1, 0.0)
    with pytest.raises(ValueError, match="clip"):
        lm.fit(model, draw, 1, 1e-2, clip=0)


def test_fit_runs_in_workers_gives_the_same_results():
    targets = words(32, seed=6)

    def job(seed):
        return lambda: (
            lm.fit(
                lm.CharLM("rnn", V, 8, seed=seed), lm.word_batches(targets, 8), 5, 1e-2, seed=seed
            ).loss
        )

    jobs = [job(s) for s in range(3)]
    serial = experiments.run_jobs(jobs, workers=1)
    parallel = experiments.run_jobs(jobs, workers=2)
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel, strict=True))
    with pytest.raises(TypeError, match="functions"):
        experiments.run_jobs([1])
    with pytest.raises(ValueError, match="workers"):
        experiments.run_jobs(jobs, workers=0)


# ----------------------------------------------------------------------------- evaluation


def test_evaluate_words_is_the_mean_over_symbols():
    model = lm.CharLM("lstm", V, 6, seed=2)
    targets = words(30, seed=7)
    batch = lm.word_batch(targets)
    with torch.no_grad():
        want = lm.masked_cross_entropy(model(batch.inputs)[0], batch.targets, batch.lengths)
    assert lm_eval.evaluate_words(model, targets, batch_size=7) == pytest.approx(
        want.item(), rel=1e-5
    )
    assert model.training  # the mode is restored


def test_evaluate_stream_and_context_curve():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, V, size=3000)
    model = lm.CharLM("gru", V, 6, seed=0)
    carried = lm_eval.evaluate_stream(model, ids, 20, batch_size=4)
    per_pos = lm_eval.evaluate_stream(model, ids, 20, batch_size=4, carry=False, per_position=True)
    reset = lm_eval.evaluate_stream(model, ids, 20, batch_size=4, carry=False)
    assert per_pos.shape == (20,) and per_pos.mean() == pytest.approx(reset, rel=1e-6)
    assert carried != pytest.approx(reset)
    curve = lm_eval.context_curve(model, ids, 16, stride=8, warmup=4)
    assert curve.shape == (16,) and np.all(curve > 0)
    with pytest.raises(ValueError, match="at least"):
        lm_eval.context_curve(model, ids[:10], 16)
    with pytest.raises(ValueError, match="warmup"):
        lm_eval.context_curve(model, ids, 16, warmup=-1)


def test_context_curve_reads_the_window_after_the_warmup():
    # an RNN without recurrence predicts from the last character only: the text read
    # before the window cannot change its curve; with recurrence it does
    ids = np.random.default_rng(1).integers(0, V, size=800)
    model = lm.CharLM("rnn", V, 6, seed=0)
    with_memory = [lm_eval.context_curve(model, ids, 10, stride=4, warmup=w) for w in (0, 5)]
    assert np.abs(with_memory[0] - with_memory[1]).max() > 1e-4
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()
    curves = [
        lm_eval.context_curve(model, ids, 10, stride=4, warmup=w, seed=s)
        for w, s in ((0, 0), (5, 0), (5, 1))
    ]
    assert all(np.allclose(c, curves[0], atol=1e-6) for c in curves)
    # and entry t - 1 is the loss of predicting window[t] from window[t - 1]
    starts = np.arange(0, len(ids) - 10, 4)
    x = torch.from_numpy(ids[starts + 2][None].astype(np.int64))
    with torch.no_grad():
        nll = F.cross_entropy(model(x)[0][0], torch.from_numpy(ids[starts + 3]))
    assert curves[0][2] == pytest.approx(nll.item(), rel=1e-6)


# ----------------------------------------------------------------------------- sampling


def trained_model():
    # words are 'ab' or 'ba' (ids 2, 3): a model that learns them is easy to check
    targets = [np.array([2, 3, BOUNDARY]), np.array([3, 2, BOUNDARY])] * 16
    model = lm.CharLM("lstm", V, 16, seed=0)
    lm.fit(model, lm.word_batches(targets, 8), 150, 3e-2)
    return model


@pytest.fixture(scope="module")
def ab_model():
    return trained_model()


def test_next_distribution(ab_model):
    p = lm_eval.next_distribution(ab_model, [])
    assert p.shape == (V,) and p[PAD] == 0 and p.sum() == pytest.approx(1.0)
    assert p[2] + p[3] > 0.9
    after_a = lm_eval.next_distribution(ab_model, [2])
    assert after_a[3] > 0.9
    greedy = lm_eval.next_distribution(ab_model, [2], temperature=0)
    assert greedy[3] == 1.0 and greedy.sum() == 1.0
    hot = lm_eval.next_distribution(ab_model, [2], temperature=100)
    assert hot.max() < 0.2  # nearly uniform over the 7 symbols
    with pytest.raises(ValueError, match="temperature"):
        lm_eval.next_distribution(ab_model, [], temperature=-1)


def test_sample_words(ab_model):
    drawn = lm_eval.sample_words(ab_model, 200, 1.0, seed=0)
    spelt = {tuple(w.tolist()) for w in drawn}
    assert spelt <= {(2, 3), (3, 2)} or len(spelt - {(2, 3), (3, 2)}) < 5
    both = sum(tuple(w.tolist()) == (2, 3) for w in drawn)
    assert 50 < both < 150  # both words, about equally often
    again = lm_eval.sample_words(ab_model, 200, 1.0, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(drawn, again, strict=True))
    prefixed = lm_eval.sample_words(ab_model, 20, 0.5, prefix=[3], seed=1)
    assert all(w[0] == 3 for w in prefixed)
    greedy = lm_eval.sample_words(ab_model, 5, 0, seed=2)
    assert len({tuple(w.tolist()) for w in greedy}) == 1
    short = lm_eval.sample_words(lm.CharLM("rnn", V, 4, seed=0), 10, 3.0, max_length=4)
    assert all(len(w) <= 4 and BOUNDARY not in w and PAD not in w for w in short)
    with pytest.raises(ValueError, match="n must be"):
        lm_eval.sample_words(ab_model, 0)


def test_greedy_accuracy(ab_model):
    targets = [np.array([2, 3, BOUNDARY]), np.array([3, 2, BOUNDARY]), np.array([2, BOUNDARY])]
    tf = lm_eval.greedy_accuracy(ab_model, targets)
    assert tf.shape == (3,)
    assert tf[1] == pytest.approx(2 / 3)  # 'ab', 'ba' right; after 'a' of the 1-letter word: b
    free = lm_eval.greedy_accuracy(ab_model, targets, free_after=1)
    assert np.allclose(free[:2], tf[:2])
    free0 = lm_eval.greedy_accuracy(ab_model, targets, free_after=0)
    assert free0[0] == tf[0]
    with pytest.raises(ValueError, match="free_after"):
        lm_eval.greedy_accuracy(ab_model, targets, free_after=-1)


# ----------------------------------------------------------------------------- cost and reach


def test_saved_bytes_grow_linearly_with_the_segment():
    model = lm.CharLM("lstm", V, 64, seed=0)
    ids = np.arange(5000) % V
    sizes = [lm_eval.saved_bytes(model, lm.stream_batches(ids, 8, k)(0)) for k in (20, 40, 80)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[2] - sizes[1] == pytest.approx(2 * (sizes[1] - sizes[0]), rel=0.05)
    assert sizes[1] - sizes[0] > 20 * 8 * 64 * 4 * 4  # at least the 4 gates, float32


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_numpy_cell_reproduces_the_torch_layer(cell):
    model = lm.CharLM(cell, V, 6, seed=0).eval()
    tokens = torch.randint(0, V, (7, 3), generator=torch.Generator().manual_seed(0))
    np_cell, features = lm_eval.numpy_cell(model)
    out = np_cell.forward(features(tokens.numpy()))[0]
    with torch.no_grad():
        twin = model.double()
        want = twin.rnn(twin.features(tokens))[0].numpy()
    assert np.abs(out - want).max() < 1e-10
    norms = gradients.state_grad_norms(np_cell, features(tokens.numpy()), [1, 3, 7])
    assert norms.shape == (3,) and np.all(norms > 0)
    with pytest.raises(ValueError, match="one-layer"):
        lm_eval.numpy_cell(lm.CharLM(cell, V, 6, num_layers=2))


def test_vocab_ids_feed_the_model():
    vocab = text.word_vocab()
    model = lm.CharLM("gru", len(vocab), 8, seed=0)
    batch = lm.word_batch(vocab.words_targets(["cat", "a"]))
    assert model(batch.inputs)[0].shape == (4, 2, len(vocab))
