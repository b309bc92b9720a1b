"""rnnbook.mincells and rnnbook.minmodels: minGRU and minLSTM. NumPy loop = NumPy scan = torch
(three modes), the hand-written backward = torch autograd = finite differences, and the
models train."""

import numpy as np
import pytest
import torch

from rnnbook import gradcheck, mincells, minmodels, scan
from rnnbook.mincells import MinGRUCell, MinLSTMCell

torch.set_num_threads(1)

CONFIGS = [
    (MinGRUCell, {}),
    (MinGRUCell, {"signed": True}),
    (MinGRUCell, {"candidate": "linear"}),
    (MinLSTMCell, {}),
    (MinLSTMCell, {"candidate": "linear"}),
]
IDS = ["mingru", "mingru-signed", "mingru-linear", "minlstm", "minlstm-linear"]


def data(T=6, B=2, I=3, H=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, I)) * 2.0  # both branches of g
    h0 = rng.uniform(0.1, 1.0, size=(B, H))  # positive: the log mode needs it
    d = rng.normal(size=(T, B, H))
    ds = rng.normal(size=(B, H))
    return x, h0, d, ds


def modes(kw):
    positive = kw.get("candidate", "g") == "g" and not kw.get("signed")
    return ["scan", "loop"] + (["log"] if positive else [])


# ------------------------------------------------------------------------------ g


def test_g_is_positive_continuous_and_its_derivative():
    k = np.linspace(-30, 30, 2001)
    assert np.all(mincells.g(k) > 0)
    assert abs(mincells.g(np.array([-1e-12]))[0] - mincells.g(np.array([0.0]))[0]) < 1e-9
    eps = 1e-6
    k = np.array([-3.0, -0.5, 0.5, 2.0])
    num = (mincells.g(k + eps) - mincells.g(k - eps)) / (2 * eps)
    np.testing.assert_allclose(mincells.dg(k), num, rtol=1e-6)


# ------------------------------------------------------------------------------ NumPy cells


@pytest.mark.parametrize("Cell, kw", CONFIGS, ids=IDS)
def test_loop_and_scan_give_the_same_outputs_and_gradients(Cell, kw):
    cell = Cell(3, 4, seed=1, **kw)
    x, h0, d, ds = data()
    out_l, hT_l, cache_l = cell.forward(x, h0, method="loop")
    out_s, hT_s, cache_s = cell.forward(x, h0, method="scan")
    np.testing.assert_allclose(out_l, out_s, atol=1e-12)
    np.testing.assert_array_equal(hT_s, out_s[-1])
    g_l, g_s = cell.backward(d, cache_l, ds), cell.backward(d, cache_s, ds)
    assert g_l.keys() == g_s.keys() == {"x", "state", "weight_ih", "bias_ih"}
    for name in g_l:
        np.testing.assert_allclose(g_l[name], g_s[name], atol=1e-12, err_msg=name)


@pytest.mark.parametrize("Cell, kw", CONFIGS, ids=IDS)
def test_step_functions_are_the_cell(Cell, kw):
    cell = Cell(3, 4, seed=2, **kw)
    x, h0, _, _ = data(T=1)
    W, b = cell.params["weight_ih"], cell.params["bias_ih"]
    if Cell is MinGRUCell:
        h, _ = mincells.min_gru_step(x[0], h0, W, b, cell.candidate, cell.signed)
    else:
        h, _ = mincells.min_lstm_step(x[0], h0, W, b, cell.candidate)
    np.testing.assert_allclose(cell.step(x[0], h0), h)


def test_min_gru_step_is_the_paper_equation():
    cell = MinGRUCell(3, 4, seed=3)
    x, h0, _, _ = data(T=1)
    W, b = cell.params["weight_ih"], cell.params["bias_ih"]
    k = x[0] @ W.T + b
    z = 1 / (1 + np.exp(-k[:, :4]))
    h_tilde = np.where(k[:, 4:] >= 0, k[:, 4:] + 0.5, 1 / (1 + np.exp(-k[:, 4:])))
    np.testing.assert_allclose(cell.step(x[0], h0), (1 - z) * h0 + z * h_tilde)
    lstm = MinLSTMCell(3, 4, candidate="linear", seed=3)
    W, b = lstm.params["weight_ih"], lstm.params["bias_ih"]
    k = x[0] @ W.T + b
    f, i = 1 / (1 + np.exp(-k[:, :4])), 1 / (1 + np.exp(-k[:, 4:8]))
    np.testing.assert_allclose(lstm.step(x[0], h0), (f * h0 + i * k[:, 8:]) / (f + i))


@pytest.mark.parametrize("Cell, kw", CONFIGS, ids=IDS)
def test_backward_matches_torch_autograd_in_every_mode(Cell, kw):
    cell = Cell(3, 4, seed=4, **kw)
    x, h0, d, ds = data(seed=4)
    out, _, cache = cell.forward(x, h0)
    grads = cell.backward(d, cache, ds)
    for mode in modes(kw):
        layer = cell.torch_layer(mode)
        tx, th = torch.tensor(x, requires_grad=True), torch.tensor(h0, requires_grad=True)
        t_out, t_hT = layer(tx, th)
        ((t_out * torch.tensor(d)).sum() + (t_hT * torch.tensor(ds)).sum()).backward()
        np.testing.assert_allclose(t_out.detach().numpy(), out, atol=1e-12, err_msg=mode)
        np.testing.assert_allclose(tx.grad.numpy(), grads["x"], atol=1e-10, err_msg=mode)
        np.testing.assert_allclose(th.grad.numpy(), grads["state"], atol=1e-10, err_msg=mode)
        for name in ("weight_ih", "bias_ih"):
            got = getattr(layer, name).grad.numpy()
            np.testing.assert_allclose(got, grads[name], atol=1e-10, err_msg=f"{mode} {name}")


@pytest.mark.parametrize("Cell, kw", CONFIGS, ids=IDS)
def test_backward_matches_finite_differences(Cell, kw):
    cell = Cell(3, 4, seed=5, **kw)
    x, h0, d, ds = data(seed=5)
    _, _, cache = cell.forward(x, h0)
    g = cell.backward(d, cache, ds)

    def loss(x, h0, weight_ih, bias_ih):
        c = Cell(3, 4, **kw)
        c.params = {"weight_ih": weight_ih, "bias_ih": bias_ih}
        out, hT, _ = c.forward(x, h0)
        return (out * d).sum() + (hT * ds).sum()

    analytic = {"x": g["x"], "h0": g["state"], "weight_ih": g["weight_ih"], "bias_ih": g["bias_ih"]}
    report = gradcheck.check(loss, {"x": x, "h0": h0, **cell.params}, analytic=analytic)
    assert report.ok, str(report)


def test_min_lstm_is_a_min_gru_with_a_derived_gate():
    """minLSTM's i' = sigmoid(softplus(-k_f) - softplus(-k_i)) plays minGRU's z."""
    lstm = MinLSTMCell(3, 4, seed=6)
    x, h0, _, _ = data(seed=6)
    k = x @ lstm.params["weight_ih"].T + lstm.params["bias_ih"]
    k_f, k_i, k_h = np.split(k, 3, axis=-1)
    z = 1 / (1 + np.exp(-(np.logaddexp(0, -k_f) - np.logaddexp(0, -k_i))))
    h = scan.loop(1 - z, z * mincells.g(k_h), h0)
    np.testing.assert_allclose(lstm.forward(x, h0)[0], h, atol=1e-12)


def test_zero_state_float32_and_parameter_count():
    cell = MinGRUCell(3, 4, seed=7, dtype=np.float32)
    x, _, _, _ = data()
    out, _, _ = cell.forward(x)
    assert out.dtype == np.float32 and cell.num_parameters() == 2 * 4 * (3 + 1)
    assert MinLSTMCell(3, 4).num_parameters() == 3 * 4 * (3 + 1)
    np.testing.assert_allclose(out, cell.forward(x, np.zeros((2, 4)))[0])
    assert "signed=True" in repr(MinGRUCell(2, 3, signed=True))


def test_numpy_cells_reject_bad_input():
    cell = MinGRUCell(3, 4)
    x, h0, d, _ = data()
    with pytest.raises(ValueError, match=r"x must have shape \(T, B, 3\)"):
        cell.forward(x[..., :2])
    with pytest.raises(ValueError, match="state must have shape"):
        cell.forward(x, h0[:1])
    with pytest.raises(TypeError, match="floating-point"):
        cell.forward(x.astype(int))
    with pytest.raises(ValueError, match="NaN"):
        cell.forward(x * np.nan)
    with pytest.raises(ValueError, match="method"):
        cell.forward(x, method="tree")
    _, _, cache = cell.forward(x)
    with pytest.raises(ValueError, match="d_outputs must have shape"):
        cell.backward(d[:3], cache)
    with pytest.raises(TypeError, match="cache"):
        cell.backward(d, {"x": x})
    with pytest.raises(ValueError, match="candidate"):
        MinGRUCell(3, 4, candidate="tanh")
    with pytest.raises(ValueError, match="hidden_size"):
        MinLSTMCell(3, 0)
    with pytest.raises(TypeError, match="dtype"):
        MinGRUCell(3, 4, dtype=np.int64)


# ------------------------------------------------------------------------------ torch layers


def test_torch_modes_agree_in_float32_on_a_long_sequence():
    torch.manual_seed(0)
    x = torch.randn(300, 4, 3)
    for kind in (minmodels.MinGRU, minmodels.MinLSTM):
        outs = [kind(3, 8, mode=m, seed=0)(x)[0] for m in ("log", "scan", "loop")]
        for o in outs[1:]:
            torch.testing.assert_close(o, outs[0], rtol=1e-4, atol=1e-5)


def test_torch_layers_seed_and_reject_bad_options():
    a, b = minmodels.MinGRU(3, 4, seed=1), minmodels.MinGRU(3, 4, seed=1)
    torch.testing.assert_close(a.weight_ih, b.weight_ih)
    state = torch.random.get_rng_state()
    minmodels.MinLSTM(3, 4, seed=2)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator untouched
    with pytest.raises(ValueError, match="signed"):
        minmodels.MinGRU(3, 4, signed=True, mode="log")
    with pytest.raises(ValueError, match="positive candidate"):
        minmodels.MinGRU(3, 4, candidate="linear", mode="log")
    with pytest.raises(ValueError, match="mode"):
        minmodels.MinLSTM(3, 4, mode="fast")
    with pytest.raises(ValueError, match=r"\(T, B, 3\)"):
        a(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match="h0 must be"):
        a(torch.randn(5, 2, 3), torch.ones(3, 4))
    with pytest.raises(ValueError, match="positive h0"):
        a(torch.randn(5, 2, 3), -torch.ones(2, 4))


def test_models_shapes_layers_and_counts():
    reg = minmodels.MinRegressor("mingru", 2, 8, num_layers=2, mode="scan", seed=0)
    assert reg(torch.randn(10, 5, 2)).shape == (5,)
    assert reg.count_parameters() == 2 * 8 * 3 + 2 * 8 * 9 + 9
    tag = minmodels.MinTagger("minlstm", 10, 8, 10, seed=0)
    logits, states = tag(torch.randint(0, 10, (7, 3)), return_states=True)
    assert logits.shape == (7, 3, 10) and states.shape == (7, 3, 8)
    signed = minmodels.MinTagger("mingru", 1, 4, 2, mode="scan", signed=True, seed=0)
    assert signed.rnn.layers[0].signed
    with pytest.raises(ValueError, match="cell must be"):
        minmodels.MinRegressor("gru", 2, 8)
    with pytest.raises(ValueError, match="signed applies"):
        minmodels.MinTagger("minlstm", 1, 4, 2, mode="scan", signed=True)
    with pytest.raises(ValueError, match="num_layers"):
        minmodels.MinTagger("mingru", 1, 4, 2, num_layers=0)
    with pytest.raises(ValueError, match="integer inputs"):
        tag(torch.randint(0, 10, (7,)))


def test_a_min_gru_learns_to_remember_a_marked_value():
    """Trained by train.train: the output at the end is the value read at the marked step,
    which a gate that opens on the marker (and only there) can hold."""
    from rnnbook import train

    def batches(step, rng):
        values = rng.normal(size=(8, 32))
        marker = np.zeros((8, 32))
        marker[rng.integers(0, 8, 32), np.arange(32)] = 1.0
        x = np.stack([values, marker], axis=-1).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy((values * marker).sum(0).astype(np.float32))

    model = minmodels.MinRegressor("mingru", 2, 8, mode="scan", seed=0)
    h = train.train(model, batches, torch.nn.functional.mse_loss, 400, 1e-2, progress=False)
    assert h.final_loss() < 0.1 * h.loss[:10].mean()
