"""Chapter 4 (the LSTM's derivative): the PyTorch LSTM variants, the Jacobian exercise check
and the gradient-paths figure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnbook import exercises as ex
from rnnbook import exercises_lstm
from rnnbook.cells import LSTMCell
from rnnbook.functional import sigmoid
from rnnbook.train import sequence_cross_entropy
from rnnbook.variant_models import LSTM_VARIANTS, LSTMVariant, LSTMVariantTagger, copies_loss


def _random_inputs(T=5, B=2, I=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, I))
    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    return x, h0, c0, rng.standard_normal((T, B, H))


@pytest.mark.parametrize("variant", LSTM_VARIANTS)
def test_lstm_variant_matches_the_numpy_cell_forward_and_backward(variant):
    forget_bias = 0.0 if variant == "nfg" else 0.7
    cell = LSTMCell(3, 4, variant=variant, forget_bias=forget_bias, seed=1)
    layer = LSTMVariant.from_cell(cell)
    x, h0, c0, d_out = _random_inputs()
    outputs, (h_T, c_T), cache = cell.forward(x, (h0, c0))
    grads = cell.backward(d_out, cache)

    xt, h0t, c0t = (torch.tensor(a, requires_grad=True) for a in (x, h0, c0))
    out, (h_Tt, c_Tt) = layer(xt, (h0t, c0t))
    (out * torch.from_numpy(d_out)).sum().backward()

    np.testing.assert_allclose(out.detach().numpy(), outputs, atol=1e-12)
    np.testing.assert_allclose(c_Tt.detach().numpy(), c_T, atol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), grads["x"], atol=1e-12)
    np.testing.assert_allclose(h0t.grad.numpy(), grads["state"][0], atol=1e-12)
    np.testing.assert_allclose(c0t.grad.numpy(), grads["state"][1], atol=1e-12)
    names = {name for name, _ in layer.named_parameters()}
    assert names == set(cell.params)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name], atol=1e-12, err_msg=name)


def test_variants_differ_from_each_other():
    x = torch.from_numpy(_random_inputs()[0])
    outs = {}
    for variant in LSTM_VARIANTS:
        layer = LSTMVariant(3, 4, variant, seed=0, dtype=torch.float64)
        outs[variant] = layer(x)[0].detach().numpy()
    for a in LSTM_VARIANTS:
        for b in LSTM_VARIANTS:
            if a < b:
                assert not np.allclose(outs[a], outs[b]), (a, b)


def test_trace_exposes_the_gradient_of_every_cell_state():
    cell = LSTMCell(2, 3, seed=2)
    layer = LSTMVariant.from_cell(cell)
    x, _, _, d_out = _random_inputs(T=4, B=1, I=2, H=3, seed=3)
    trace = {}
    out, _ = layer(torch.from_numpy(x), trace=trace)
    assert len(trace["c"]) == len(trace["h"]) == len(trace["a"]) == 4
    assert set(trace["a"][0]) == set("ifgo")
    for c in trace["c"]:
        c.retain_grad()
    (out * torch.from_numpy(d_out)).sum().backward()
    # dL/dc_1 from the library: the backward from (h_1, c_1) plus the path through h_1
    _, _, first = cell.forward(x[:1])
    _, _, rest = cell.forward(x[1:], (first["h"][0], first["c"][0]))
    dh, dc = cell.backward(d_out[1:], rest)["state"]
    dc_1 = dc + (d_out[0] + dh) * first["o"][0] * (1 - np.tanh(first["c"][0]) ** 2)
    np.testing.assert_allclose(trace["c"][0].grad.numpy(), dc_1, atol=1e-12)


def test_forget_bias_shifts_only_the_forget_block():
    plain = LSTMVariant(2, 3, seed=5)
    biased = LSTMVariant(2, 3, forget_bias=2.0, seed=5)
    diff = (biased.bias_ih - plain.bias_ih).detach().numpy()
    np.testing.assert_allclose(diff, np.r_[np.zeros(3), 2 * np.ones(3), np.zeros(6)], atol=1e-6)
    cifg = LSTMVariant(2, 3, "cifg", forget_bias=1.0, copies=2, seed=5)
    plain_cifg = LSTMVariant(2, 3, "cifg", copies=2, seed=5)
    diff = (cifg.bias_ih - plain_cifg.bias_ih).detach().numpy()  # blocks f, g, o
    np.testing.assert_allclose(diff[:, :3], 1.0, atol=1e-6)
    np.testing.assert_allclose(diff[:, 3:], 0.0, atol=1e-6)


def test_seed_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    a = LSTMVariant(2, 3, seed=7)
    assert torch.rand(1) == expected
    b = LSTMVariant(2, 3, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize("variant", ["vanilla", "peephole", "nfg"])
def test_copies_are_independent_networks(variant):
    n = 3
    model = LSTMVariantTagger(variant, 1, 4, 2, copies=n, seed=0).double()
    x = torch.from_numpy(np.random.default_rng(0).integers(0, 2, (6, 5, 1)).astype(np.float64))
    y = torch.from_numpy(np.random.default_rng(1).integers(0, 2, (6, 5)))
    logits = model(x)
    assert logits.shape == (n, 6, 5, 2)
    copies_loss(sequence_cross_entropy)(logits, y).backward()
    for k in range(n):  # copy k alone, as a model of its own, gives the same output and grads
        single = LSTMVariantTagger(variant, 1, 4, 2, seed=1).double()
        with torch.no_grad():
            for p, q in zip(single.parameters(), model.parameters(), strict=True):
                p.copy_(q[k])
        out = single(x)
        torch.testing.assert_close(out, logits[k].detach())
        sequence_cross_entropy(out, y).backward()
        for (name, p), (_, q) in zip(
            single.named_parameters(), model.named_parameters(), strict=True
        ):
            torch.testing.assert_close(p.grad, q.grad[k], msg=name)


def test_tagger_shapes_and_parameter_count():
    model = LSTMVariantTagger("cifg", 2, 5, 3, seed=0)
    assert model(torch.zeros(7, 4, 2)).shape == (7, 4, 3)
    assert model(torch.zeros(7, 4, dtype=torch.long)).shape == (7, 4, 3)  # tokens, one-hot
    H, I, C = 5, 2, 3
    assert model.count_parameters() == 3 * (H * I + H * H + 2 * H) + C * H + C


def test_copies_loss_is_the_sum_of_the_copies_losses():
    pred = torch.randn(3, 4)
    target = torch.randn(4)
    loss = copies_loss(torch.nn.functional.mse_loss)(pred, target)
    expected = sum(torch.nn.functional.mse_loss(p, target) for p in pred)
    torch.testing.assert_close(loss, expected)
    with pytest.raises(ValueError, match="copies axis"):
        copies_loss(torch.nn.functional.mse_loss)(torch.tensor(1.0), target)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="variant must be one of"):
        LSTMVariant(2, 3, "gru")
    with pytest.raises(ValueError, match="hidden_size"):
        LSTMVariant(2, 0)
    with pytest.raises(ValueError, match="forget gate"):
        LSTMVariant(2, 3, "nfg", forget_bias=1.0)
    with pytest.raises(ValueError, match="copies"):
        LSTMVariant(2, 3, copies=0)
    with pytest.raises(TypeError, match="copies"):
        LSTMVariant(2, 3, copies=2.0)
    with pytest.raises(ValueError, match=r"\(T, B, 2\)"):
        LSTMVariant(2, 3)(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="biases"):
        LSTMVariant.from_cell(LSTMCell(2, 3, bias=False))


# --------------------------------------------------------------------------------------------
# The Jacobian exercise


def lstm_cell_jacobian(x, c, o, W_ih, W_hh, b_ih, b_hh):
    """A correct answer, written independently of the library (closed form)."""
    H = c.shape[1]
    tanh_c = np.tanh(c)
    a_i, a_f, a_g, _ = np.split(x @ W_ih.T + b_ih + (o * tanh_c) @ W_hh.T + b_hh, 4, axis=1)
    i, f, g = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g)
    W_hi, W_hf, W_hg = W_hh[:H], W_hh[H : 2 * H], W_hh[2 * H : 3 * H]
    bracket = (
        (g * i * (1 - i))[:, :, None] * W_hi
        + (c * f * (1 - f))[:, :, None] * W_hf
        + (i * (1 - g**2))[:, :, None] * W_hg
    )
    return f[:, :, None] * np.eye(H) + bracket * (o * (1 - tanh_c**2))[:, None, :]


def test_jacobian_reference_matches_torch_autograd():
    cell = LSTMCell(3, 4, seed=0)
    p = cell.params
    rng = np.random.default_rng(0)
    x, c = rng.standard_normal((1, 3)), rng.standard_normal((1, 4))
    o = rng.uniform(0, 1, (1, 4))
    layer = LSTMVariant.from_cell(cell)

    def c_new(c_old):
        h = torch.from_numpy(o[0]) * torch.tanh(c_old)
        return layer(torch.from_numpy(x)[None], (h[None], c_old[None]))[1][1][0]

    J = torch.autograd.functional.jacobian(c_new, torch.from_numpy(c[0])).numpy()
    args = (x, c, o, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"])
    np.testing.assert_allclose(exercises_lstm._lstm_cell_jacobian(*args)[0], J, atol=1e-12)
    np.testing.assert_allclose(lstm_cell_jacobian(*args)[0], J, atol=1e-12)


def test_check_lstm_cell_jacobian_accepts_a_correct_answer():
    verdict = ex.check_lstm_cell_jacobian(lstm_cell_jacobian)
    assert verdict.ok, str(verdict)


def _carousel_only(x, c, o, W_ih, W_hh, b_ih, b_hh):
    H = c.shape[1]
    h = o * np.tanh(c)
    f = sigmoid((x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)[:, H : 2 * H])
    return f[:, :, None] * np.eye(H)


@pytest.mark.parametrize(
    ("answer", "hint"),
    [
        (_carousel_only, "only the carousel"),
        (lambda *a: lstm_cell_jacobian(*a).transpose(0, 2, 1), "transposed"),
        (lambda *a: lstm_cell_jacobian(*a)[:, 0], ""),
        (lambda *a: lstm_cell_jacobian(*a) + 0.01, "diag(f)"),
    ],
)
def test_check_lstm_cell_jacobian_rejects_wrong_answers(answer, hint):
    verdict = ex.check_lstm_cell_jacobian(answer)
    assert not verdict.ok
    assert hint in verdict.hint or hint in verdict.message


def test_check_lstm_cell_jacobian_template_and_errors():
    def template(*args):
        raise NotImplementedError()

    assert "not answered yet" in ex.check_lstm_cell_jacobian(template).title
    assert "raised" in ex.check_lstm_cell_jacobian(lambda *a: 1 / 0).title


# --------------------------------------------------------------------------------------------
# The figure
