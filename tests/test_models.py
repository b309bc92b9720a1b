"""Tests for rnnbook.models: shapes, parameter counts, initialisation options, attention."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from rnnbook import models

torch.set_num_threads(1)  # 2 shared cores: more threads only contend


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_count_parameters_formula(cell, gates):
    I, H, O = 3, 5, 2
    rnn_params = gates * (H * I + H * H + 2 * H)
    torch_rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](I, H)
    assert models.count_parameters(torch_rnn) == rnn_params
    reg = models.SequenceRegressor(cell, I, H, output_size=O)
    assert reg.count_parameters() == rnn_params + H * O + O
    tag = models.SequenceTagger(cell, I, H, n_classes=O)
    assert tag.count_parameters() == rnn_params + H * O + O


def test_count_parameters_trainable_only():
    lin = nn.Linear(3, 2)
    lin.bias.requires_grad_(False)
    assert models.count_parameters(lin) == 6
    assert models.count_parameters(lin, trainable_only=False) == 8
    with pytest.raises(TypeError, match="nn.Module"):
        models.count_parameters("not a model")


@pytest.mark.parametrize("cell", models.CELLS)
def test_regressor_shapes(cell):
    model = models.SequenceRegressor(cell, 2, 8, seed=0)
    x = torch.randn(7, 4, 2)
    assert model(x).shape == (4,)
    y, states = model(x, return_states=True)
    assert states.shape == (7, 4, 8)
    torch.testing.assert_close(y, model.readout(states[-1]).squeeze(-1))
    assert models.SequenceRegressor(cell, 2, 8, output_size=3)(x).shape == (4, 3)


def test_regressor_reads_only_the_last_state():
    model = models.SequenceRegressor("gru", 1, 4, seed=0)
    x = torch.randn(6, 2, 1)
    full = model(x)
    # the last state summarises the whole sequence: changing an early input changes y
    x2 = x.clone()
    x2[0] += 1.0
    assert not torch.allclose(full, model(x2))


@pytest.mark.parametrize("cell", models.CELLS)
def test_tagger_shapes_and_tokens(cell):
    model = models.SequenceTagger(cell, 10, 8, 10, seed=0)
    tokens = torch.randint(0, 10, (5, 3))
    logits = model(tokens)
    assert logits.shape == (5, 3, 10)
    one_hot = nn.functional.one_hot(tokens, 10).float()
    torch.testing.assert_close(logits, model(one_hot))
    _, states = model(tokens, return_states=True)
    assert states.shape == (5, 3, 8)


def test_tagger_is_causal():
    model = models.SequenceTagger("lstm", 1, 6, 2, seed=0)
    x = torch.randn(8, 2, 1)
    x2 = x.clone()
    x2[5:] = 0.0
    torch.testing.assert_close(model(x)[:5], model(x2)[:5])


def test_forget_bias():
    model = models.SequenceTagger("lstm", 2, 4, 2, forget_bias=1.0, seed=0)
    b = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0
    torch.testing.assert_close(b[4:8], torch.ones(4))
    assert not torch.allclose(b[:4], torch.ones(4))


def test_identity_init_relu():
    model = models.SequenceRegressor("rnn", 2, 4, nonlinearity="relu", identity_init=True)
    torch.testing.assert_close(model.rnn.weight_hh_l0, torch.eye(4))
    assert model.rnn.nonlinearity == "relu"
    assert torch.all(model.rnn.bias_hh_l0 == 0) and torch.all(model.rnn.bias_ih_l0 == 0)


def test_seed_reproducible_and_global_rng_untouched():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    a = models.SequenceTagger("gru", 3, 5, 2, seed=7)
    after = torch.rand(1)
    b = models.SequenceTagger("gru", 3, 5, 2, seed=7)
    c = models.SequenceTagger("gru", 3, 5, 2, seed=8)
    torch.testing.assert_close(after, expected)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb)
    assert not torch.allclose(a.readout.weight, c.readout.weight)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"cell": "transformer"}, "cell must be one of"),
        ({"cell": "gru", "forget_bias": 1.0}, "forget_bias"),
        ({"cell": "lstm", "identity_init": True}, "identity_init"),
        ({"cell": "lstm", "nonlinearity": "relu"}, "nonlinearity"),
        ({"cell": "rnn", "nonlinearity": "sigmoid"}, "nonlinearity"),
        ({"cell": "rnn", "hidden_size": 0}, "hidden_size"),
    ],
)
def test_bad_model_arguments(kwargs, match):
    args = {"cell": "rnn", "input_size": 2, "hidden_size": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        models.SequenceRegressor(**args)


def test_bad_inputs():
    model = models.SequenceTagger("rnn", 3, 4, 2)
    with pytest.raises(ValueError, match=r"\(T, B, 3\)"):
        model(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match="tokens"):
        model(torch.zeros(5, 2, 1, dtype=torch.long))
    with pytest.raises(TypeError, match="Tensor"):
        model([[1.0, 2.0, 3.0]])


# --------------------------------------------------------------------------- Seq2Seq


@pytest.mark.parametrize("attention", [None, *models.ATTENTION_METHODS])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_seq2seq_shapes(attention, cell):
    model = models.Seq2Seq(7, 8, cell=cell, attention=attention, seed=0)
    src = torch.randint(0, 7, (5, 3))
    tgt = torch.randint(0, 7, (4, 3))
    logits, weights = model(src, tgt)
    assert logits.shape == (4, 3, 7)
    if attention is None:
        assert weights is None
    else:
        assert weights.shape == (4, 3, 5)
        torch.testing.assert_close(weights.sum(-1), torch.ones(4, 3))
    logits, _ = model(src, max_len=6)
    assert logits.shape == (6, 3, 7)


@pytest.mark.parametrize("attention", [None, "dot", "concat"])
def test_greedy_decoding_matches_teacher_forcing_on_its_own_output(attention):
    model = models.Seq2Seq(6, 8, attention=attention, seed=1)
    src = torch.randint(0, 6, (5, 4))
    with torch.no_grad():
        greedy, w_greedy = model(src)
        forced, w_forced = model(src, greedy.argmax(-1))
    torch.testing.assert_close(greedy, forced)
    if attention is not None:
        torch.testing.assert_close(w_greedy, w_forced)


def test_teacher_forcing_is_shifted_and_causal():
    model = models.Seq2Seq(6, 8, attention="general", seed=0)
    src = torch.randint(0, 6, (5, 2))
    tgt = torch.randint(0, 6, (5, 2))
    tgt2 = tgt.clone()
    tgt2[-1] = (tgt[-1] + 1) % 6  # the last target token is never read
    tgt2[3] = (tgt[3] + 1) % 6  # changes only the outputs from step 4 on
    a, _ = model(src, tgt)
    b, _ = model(src, tgt2)
    torch.testing.assert_close(a[:4], b[:4])
    assert not torch.allclose(a[4], b[4])


@torch.no_grad()
def test_attention_scores_formulas():
    torch.manual_seed(0)
    q, k = torch.randn(3, 2, 4), torch.randn(5, 2, 4)
    t, b, j = 2, 1, 3
    m = models.Seq2Seq(5, 4, attention="dot")
    assert m.score(q, k)[t, b, j] == pytest.approx(float(q[t, b] @ k[j, b]), rel=1e-5)
    m = models.Seq2Seq(5, 4, attention="scaled_dot")
    expected = float(q[t, b] @ k[j, b]) / math.sqrt(4)
    assert m.score(q, k)[t, b, j] == pytest.approx(expected, rel=1e-5)
    m = models.Seq2Seq(5, 4, attention="general")
    expected = float(q[t, b] @ m.attn["W"] @ k[j, b])
    assert m.score(q, k)[t, b, j].item() == pytest.approx(expected, rel=1e-5)
    m = models.Seq2Seq(5, 4, attention="concat", attn_size=3)
    p = m.attn
    expected = float(p["v"] @ torch.tanh(p["W_a"] @ q[t, b] + p["W_b"] @ k[j, b]))
    assert m.score(q, k)[t, b, j].item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="no attention"):
        models.Seq2Seq(5, 4).score(q, k)


@torch.no_grad()
@pytest.mark.parametrize("method", models.ATTENTION_METHODS)
def test_attention_matches_numpy_library(method):
    attention = pytest.importorskip("rnnbook.attention")
    m = models.Seq2Seq(5, 4, attention=method, attn_size=3, seed=0)
    q, k = torch.randn(3, 2, 4, dtype=torch.float64), torch.randn(6, 2, 4, dtype=torch.float64)
    m.double()
    ours = m.score(q, k).numpy()  # (T, B, S)
    params = m.attention_params()
    assert set(params) == set(attention.PARAM_NAMES[method])
    keys = k.permute(1, 0, 2).numpy()  # (B, S, d)
    for t in range(3):
        ref = attention.score(q[t].numpy(), keys, method, params or None)  # (B, S)
        np.testing.assert_allclose(ours[t], ref, rtol=1e-10)


def test_seq2seq_bad_arguments():
    with pytest.raises(ValueError, match="attention must be"):
        models.Seq2Seq(5, 4, attention="multihead")
    with pytest.raises(ValueError, match="vocab_size"):
        models.Seq2Seq(1, 4)
    model = models.Seq2Seq(5, 4)
    with pytest.raises(ValueError, match="src"):
        model(torch.randn(3, 2))
    with pytest.raises(ValueError, match="tgt"):
        model(torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, 5, dtype=torch.long))
