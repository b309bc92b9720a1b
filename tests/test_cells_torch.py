"""rnnbook.cells against PyTorch: forward within 1e-10 of nn.RNN / nn.LSTM / nn.GRU, every
backward within 1e-8 of torch.autograd (of the nn modules, or of rnnbook.reference, the
autograd twins of the variants PyTorch lacks), exact from_torch / to_torch round trips, deep
and bidirectional."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnbook import reference
from rnnbook.cells import Bidirectional, GRUCell, JordanRNN, LSTMCell, RNNCell, Stacked

torch.set_num_threads(1)
FWD, GRAD = 1e-10, 1e-8


def flat(s):
    if isinstance(s, tuple | list):
        return [a for e in s for a in flat(e)]
    return [s]


def like(s, rng):
    if isinstance(s, tuple | list):
        return type(s)(like(e, rng) for e in s)
    return rng.normal(size=s.shape)


def tt(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def close(a, b, tol, msg=""):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0, atol=tol, err_msg=msg)


def check_backward_against_autograd(cell, T, B, seed):
    """Our backward vs autograd of the reference, with random upstream gradients on the
    outputs and on the final state, random initial state."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, cell.input_size))
    state = like(cell.init_state(B), rng)
    out, final, cache = cell.forward(x, state)
    G, Gs = rng.normal(size=out.shape), like(final, rng)
    grads = cell.backward(G, cache, Gs)

    P = {n: tt(p, grad=True) for n, p in cell.params.items()}
    tx = tt(x, grad=True)
    tstate = (
        tuple(tt(s, grad=True) for s in state) if isinstance(state, tuple) else tt(state, grad=True)
    )
    tout, tfinal = reference.run(cell, P, tx, tstate)
    close(out, tout.detach(), FWD, "outputs")
    loss = (tout * tt(G)).sum() + sum(
        (a * tt(g)).sum() for a, g in zip(flat(tfinal), flat(Gs), strict=True)
    )
    loss.backward()
    close(grads["x"], tx.grad, GRAD, "x")
    for k, (ours, theirs) in enumerate(zip(flat(grads["state"]), flat(tstate), strict=True)):
        close(ours, theirs.grad, GRAD, f"state[{k}]")
    for n, p in P.items():
        close(grads[n], p.grad, GRAD, n)


# ------------------------------------------------------------------------------------------
# forward and backward against nn.RNN / nn.LSTM / nn.GRU (property tests)
# ------------------------------------------------------------------------------------------

sizes = st.tuples(st.integers(1, 5), st.integers(1, 6), st.integers(1, 7), st.integers(1, 4))


def torch_layer_and_cell(kind, I, H, seed, **kw):
    torch.manual_seed(seed)
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](I, H, dtype=torch.float64, **kw)
    cls = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[kind]
    return module, cls.from_torch(module)


def random_state(kind, B, H, rng):
    h = rng.normal(size=(B, H))
    return (h, rng.normal(size=(B, H))) if kind == "lstm" else h


def torch_state(state):
    """Our state (B, H) or (h, c) -> PyTorch's (num_layers=1, B, H) tensors, with grad."""
    if isinstance(state, tuple):
        return tuple(tt(s[None], grad=True) for s in state)
    return tt(state[None], grad=True)


CASES = [
    ("rnn", {"nonlinearity": "tanh"}),
    ("rnn", {"nonlinearity": "relu"}),
    ("lstm", {}),
    ("gru", {}),
]
CASES += [("rnn", {"bias": False}), ("lstm", {"bias": False}), ("gru", {"bias": False})]


@pytest.mark.parametrize(("kind", "kw"), CASES)
@given(shape=sizes, seed=st.integers(0, 2**16))
@settings(max_examples=8, deadline=None)
def test_forward_and_backward_equal_torch_modules(kind, kw, shape, seed):
    I, H, T, B = shape
    module, cell = torch_layer_and_cell(kind, I, H, seed, **kw)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, I))
    state = random_state(kind, B, H, rng)
    out, final, cache = cell.forward(x, state)

    tx, ts = tt(x, grad=True), torch_state(state)
    tout, tfinal = module(tx, ts)
    close(out, tout.detach(), FWD, "outputs")
    for ours, theirs in zip(flat(final), flat(tfinal), strict=True):
        close(ours, theirs.detach()[0], FWD, "final state")

    G, Gs = rng.normal(size=out.shape), like(final, rng)
    grads = cell.backward(G, cache, Gs)
    loss = (tout * tt(G)).sum() + sum(
        (a[0] * tt(g)).sum() for a, g in zip(flat(tfinal), flat(Gs), strict=True)
    )
    loss.backward()
    close(grads["x"], tx.grad, GRAD, "x")
    for ours, theirs in zip(flat(grads["state"]), flat(ts), strict=True):
        close(ours, theirs.grad[0], GRAD, "initial state")
    for name, p in module.named_parameters():
        close(grads[name.removesuffix("_l0")], p.grad, GRAD, name)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_step_equals_torch_cell_modules(kind):
    torch.manual_seed(0)
    module = {"rnn": nn.RNNCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}[kind](
        3, 5, dtype=torch.float64
    )
    cell = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[kind].from_torch(module)
    rng = np.random.default_rng(0)
    x, state = rng.normal(size=(2, 3)), random_state(kind, 2, 5, rng)
    out, new = cell.step(x, state)
    ts = tuple(tt(s) for s in state) if kind == "lstm" else tt(state)
    expected = module(tt(x), ts)
    close(out, (expected[0] if kind == "lstm" else expected).detach(), FWD)
    for ours, theirs in zip(flat(new), flat(expected), strict=True):
        close(ours, theirs.detach(), FWD)


# ------------------------------------------------------------------------------------------
# the variants PyTorch lacks: against the autograd twins of rnnbook.reference
# ------------------------------------------------------------------------------------------


def test_the_references_agree_with_pytorch():
    """The autograd twins of rnnbook.reference are right where PyTorch can judge them."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2, 3))
    for kind, kw, ref in [
        ("rnn", {"nonlinearity": "relu"}, reference.rnn),
        ("lstm", {}, reference.lstm),
        ("gru", {}, reference.gru),
    ]:
        module, cell = torch_layer_and_cell(kind, 3, 5, 0, **kw)
        P = {n.removesuffix("_l0"): p for n, p in module.named_parameters()}
        state = random_state(kind, 2, 5, rng)
        ts = tuple(tt(s) for s in state) if kind == "lstm" else tt(state)
        with torch.no_grad():
            ours = ref(cell, P, tt(x), ts)[0]
            theirs = module(tt(x), torch_state(state))[0]
        close(ours, theirs, 1e-12, kind)


VARIANTS = {
    "rnn-tanh": lambda: RNNCell(3, 4, seed=0),
    "rnn-relu": lambda: RNNCell(3, 4, "relu", seed=1),
    "rnn-linear": lambda: RNNCell(3, 4, "linear", seed=2),
    "rnn-linear-nobias": lambda: RNNCell(3, 4, "linear", bias=False, seed=3),
    "jordan": lambda: JordanRNN(3, 4, 2, seed=4),
    "jordan-relu-sigmoid": lambda: JordanRNN(3, 5, 3, "relu", "sigmoid", seed=5),
    "jordan-linear-nobias": lambda: JordanRNN(3, 4, 2, "linear", "tanh", bias=False, seed=6),
    "lstm-peephole": lambda: LSTMCell(3, 4, "peephole", seed=7),
    "lstm-cifg": lambda: LSTMCell(3, 4, "cifg", forget_bias=1.0, seed=8),
    "lstm-nfg": lambda: LSTMCell(3, 4, "nfg", seed=9),
    "lstm-noaf": lambda: LSTMCell(3, 4, "noaf", seed=10),
    "gru-before": lambda: GRUCell(3, 4, "before", seed=11),
    "gru-before-nobias": lambda: GRUCell(3, 4, "before", bias=False, seed=12),
}


@pytest.mark.parametrize("name", VARIANTS)
@given(T=st.integers(1, 6), B=st.integers(1, 3), seed=st.integers(0, 2**16))
@settings(max_examples=5, deadline=None)
def test_variant_backward_equals_autograd_reference(name, T, B, seed):
    check_backward_against_autograd(VARIANTS[name](), T, B, seed)


# ------------------------------------------------------------------------------------------
# from_torch / to_torch
# ------------------------------------------------------------------------------------------

MODULES = {
    "RNN": (lambda dt: nn.RNN(3, 4, dtype=dt), RNNCell, False),
    "RNN-relu-nobias": (
        lambda dt: nn.RNN(3, 4, nonlinearity="relu", bias=False, dtype=dt),
        RNNCell,
        False,
    ),
    "RNNCell": (lambda dt: nn.RNNCell(3, 4, dtype=dt), RNNCell, True),
    "LSTM": (lambda dt: nn.LSTM(3, 4, dtype=dt), LSTMCell, False),
    "LSTMCell": (lambda dt: nn.LSTMCell(3, 4, dtype=dt), LSTMCell, True),
    "GRU": (lambda dt: nn.GRU(3, 4, dtype=dt), GRUCell, False),
    "GRUCell-nobias": (lambda dt: nn.GRUCell(3, 4, bias=False, dtype=dt), GRUCell, True),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", MODULES)
def test_round_trips_are_exact(name, dtype):
    make, cls, is_cell = MODULES[name]
    torch.manual_seed(0)
    module = make(dtype)
    cell = cls.from_torch(module)
    assert cell.dtype == np.dtype(str(dtype).removeprefix("torch."))
    back = cell.to_torch(cell=is_cell)
    assert type(back) is type(module) and back.bias == module.bias
    sd, sd_back = module.state_dict(), back.state_dict()
    assert sd.keys() == sd_back.keys()
    for k in sd:
        assert sd_back[k].dtype == dtype and torch.equal(sd[k], sd_back[k]), k
    # and numpy -> torch -> numpy
    again = cls.from_torch(back)
    for n, p in cell.params.items():
        assert np.array_equal(again.params[n], p) and again.params[n].dtype == p.dtype
    # the arrays are copies, not views of torch's memory
    with torch.no_grad():
        next(module.parameters()).add_(1.0)
    assert not np.array_equal(cell.params["weight_ih"], next(module.parameters()).detach().numpy())
    with torch.no_grad():
        next(back.parameters()).add_(1.0)
    assert np.array_equal(cell.params["weight_ih"], again.params["weight_ih"])


def test_to_torch_does_not_move_torch_rng():
    cell = LSTMCell(3, 4, seed=0)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    cell.to_torch()
    assert torch.equal(torch.rand(3), expected)


def test_float32_from_torch_matches_torch_float32():
    torch.manual_seed(0)
    module = nn.LSTM(3, 8)
    cell = LSTMCell.from_torch(module)
    x = np.random.default_rng(0).normal(size=(6, 2, 3)).astype(np.float32)
    out, _, _ = cell.forward(x)
    assert out.dtype == np.float32
    close(out, module(torch.from_numpy(x))[0].detach(), 1e-5)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: RNNCell.from_torch(nn.RNN(3, 4, num_layers=2)),
            ValueError,
            r"num_layers=2 \(use Stacked",
        ),
        (
            lambda: LSTMCell.from_torch(nn.LSTM(3, 4, bidirectional=True)),
            ValueError,
            r"bidirectional=True",
        ),
        (
            lambda: GRUCell.from_torch(nn.GRU(3, 4, batch_first=True)),
            ValueError,
            r"batch_first=True",
        ),
        (lambda: LSTMCell.from_torch(nn.LSTM(3, 4, proj_size=2)), ValueError, r"proj_size=2"),
        (
            lambda: LSTMCell.from_torch(nn.GRU(3, 4)),
            TypeError,
            r"expected torch.nn.LSTM or torch.nn.LSTMCell, got GRU",
        ),
        (
            lambda: RNNCell.from_torch(nn.RNN(3, 4).half()),
            TypeError,
            r"dtype must be np.float32 or np.float64",
        ),
        (
            lambda: JordanRNN.from_torch(nn.RNN(3, 4)),
            TypeError,
            r"Jordan network has no PyTorch module",
        ),
        (lambda: JordanRNN(3, 4, 2).to_torch(), TypeError, r"Jordan network has no PyTorch module"),
        (lambda: RNNCell(3, 4, "linear").to_torch(), ValueError, r"PyTorch has no linear RNN"),
        (
            lambda: LSTMCell(3, 4, "peephole").to_torch(),
            ValueError,
            r"only the vanilla LSTM, not variant='peephole'",
        ),
        (lambda: GRUCell(3, 4, "before").to_torch(), ValueError, r"need reset='after'"),
    ],
)
def test_torch_conversion_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------------------
# Stacked and Bidirectional against multi-layer / bidirectional PyTorch modules
# ------------------------------------------------------------------------------------------


def build_numpy(kind, I, H, layers, bidirectional, module):
    cls = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}[kind]
    dirs = 2 if bidirectional else 1
    cells = []
    for k in range(layers):
        n_in = I if k == 0 else dirs * H
        cells.append(Bidirectional(cls(n_in, H), cls(n_in, H)) if bidirectional else cls(n_in, H))
    model = Stacked(cells)
    params = model.params
    assert sorted(params) == sorted(n for n, _ in module.named_parameters())
    for n, p in module.named_parameters():
        params[n][...] = p.detach().numpy()  # params are views: this loads the model
    return model


def to_ours(kind, parts, layers, dirs):
    """PyTorch's state arrays, each (layers*dirs, B, H) (two for the LSTM: h and c), ->
    our list of per-layer states (pairs (fwd, bwd) when bidirectional)."""

    def one(j):
        return tuple(p[j] for p in parts) if kind == "lstm" else parts[0][j]

    if dirs == 1:
        return [one(k) for k in range(layers)]
    return [(one(2 * k), one(2 * k + 1)) for k in range(layers)]


@pytest.mark.parametrize(
    ("kind", "layers", "bidirectional"),
    [("rnn", 2, False), ("rnn", 1, True), ("lstm", 2, True), ("gru", 2, True), ("gru", 3, False)],
)
def test_stacked_and_bidirectional_equal_torch(kind, layers, bidirectional):
    I, H, T, B = 3, 4, 5, 2
    dirs = 2 if bidirectional else 1
    torch.manual_seed(0)
    module = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind](
        I, H, num_layers=layers, bidirectional=bidirectional, dtype=torch.float64
    )
    model = build_numpy(kind, I, H, layers, bidirectional, module)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(T, B, I))
    t_parts = [
        tt(rng.normal(size=(layers * dirs, B, H)), grad=True) for _ in range(1 + (kind == "lstm"))
    ]
    state = to_ours(kind, [p.detach().numpy() for p in t_parts], layers, dirs)

    out, final, cache = model.forward(x, state)
    tx = tt(x, grad=True)
    tout, tfinal = module(tx, tuple(t_parts) if kind == "lstm" else t_parts[0])
    assert out.shape == (T, B, dirs * H)
    close(out, tout.detach(), FWD, "outputs")
    expected = to_ours(kind, [s.detach().numpy() for s in flat(tfinal)], layers, dirs)
    for a, b in zip(flat(final), flat(expected), strict=True):
        close(a, b, FWD, "final state")

    G = rng.normal(size=out.shape)
    Gs_t = [rng.normal(size=s.shape) for s in flat(tfinal)]
    grads = model.backward(G, cache, to_ours(kind, Gs_t, layers, dirs))
    loss = (tout * tt(G)).sum() + sum(
        (s * tt(g)).sum() for s, g in zip(flat(tfinal), Gs_t, strict=True)
    )
    loss.backward()
    close(grads["x"], tx.grad, GRAD, "x")
    d_state = to_ours(kind, [p.grad.numpy() for p in t_parts], layers, dirs)
    for a, b in zip(flat(grads["state"]), flat(d_state), strict=True):
        close(a, b, GRAD, "initial state")
    for n, p in module.named_parameters():
        close(grads[n], p.grad, GRAD, n)


def test_the_reference_reads_the_cells_gate_table_and_refuses_strangers():
    assert [reference.lstm_gates(v) for v in ("vanilla", "cifg", "nfg")] == ["ifgo", "fgo", "igo"]
    assert reference.lstm_gates("peephole") == LSTMCell(2, 3, "peephole").gates
    with pytest.raises(ValueError, match="variant must be one of"):
        reference.lstm_gates("gru")
    with pytest.raises(TypeError, match="no reference for Stacked"):
        reference.run(Stacked([RNNCell(2, 3)]), {}, None, None)


def test_the_reference_lstm_step_broadcasts_over_leading_axes():
    """variant_models.LSTMVariant runs several copies at once through reference.lstm_step."""
    torch.manual_seed(0)
    a = {g: torch.randn(5, 2, 3, dtype=torch.float64) for g in "ifgo"}
    c = torch.randn(5, 2, 3, dtype=torch.float64)
    h, c_new, a_out = reference.lstm_step("vanilla", a, c)
    expected = torch.sigmoid(a["f"]) * c + torch.sigmoid(a["i"]) * torch.tanh(a["g"])
    close(c_new, expected, 1e-15)
    close(h, torch.sigmoid(a["o"]) * torch.tanh(expected), 1e-15)
    assert a_out is not a and a_out.keys() == a.keys()
