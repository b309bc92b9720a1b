"""Tests for rnnbook.diagrams: each diagram draws what its docstring says, and renders."""

import matplotlib.pyplot as plt
import pytest

from rnnbook import diagrams, scan


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def renders(fig):
    return fig._repr_png_().startswith(b"\x89PNG") and fig.dpi == 100


def test_gru_cell_diagram_names_both_gates_the_candidate_and_one_state():
    fig = diagrams.gru_cell_diagram()
    assert "GRU" in fig.axes[0].get_title()
    drawn = " ".join(texts(fig))
    for name in ("$h_{t-1}$", "$h_t$", "$x_t$", "$z_t$", "$1 - z_t$", "$r_t$", "tilde h_t"):
        assert name in drawn, name
    assert "c_t" not in drawn and "o_t" not in drawn  # no cell state, no output gate
    assert renders(fig)
    assert diagrams.gru_cell_diagram(title="mine").axes[0].get_title() == "mine"


@pytest.mark.parametrize("T", [2, 3, 5])
def test_elman_jordan_diagram_feeds_back_hidden_values_or_outputs(T):
    fig = diagrams.elman_jordan_diagram(T)
    drawn = texts(fig)
    # one recurrent weight label per step after the first, in each network
    assert drawn.count("$W_{hh}$") == T - 1 and drawn.count("$W_{yh}$") == T - 1
    assert drawn.count(f"$y_{T}$") == 2 and drawn.count("$x_1$") == 2
    assert any("self-connections" in t for t in drawn)  # Jordan's state units, noted
    assert renders(fig)


@pytest.mark.parametrize("bad", [1, 6, 2.0, True])
def test_elman_jordan_diagram_rejects_bad_T(bad):
    with pytest.raises(ValueError, match="T must be"):
        diagrams.elman_jordan_diagram(bad)


@pytest.mark.parametrize("T", [2, 4])
def test_deep_bidirectional_diagram_draws_both_networks(T):
    fig = diagrams.deep_bidirectional_diagram(T)
    assert len(fig.axes) == 2
    drawn = texts(fig)
    assert drawn.count(f"$h^{{(2)}}_{T}$") == 1 and drawn.count(f"$y_{T}$") == 1
    assert f"$\\overleftarrow{{h}}_{T}$" in drawn and "$\\overrightarrow{h}_1$" in drawn
    right = fig.axes[1]
    dashed = [p for p in right.patches if p.get_linestyle() == "--"]
    assert len(dashed) == T - 1  # one backward (dashed) arrow between neighbouring steps
    assert renders(fig)
    with pytest.raises(ValueError, match="T must be"):
        diagrams.deep_bidirectional_diagram(5)


@pytest.mark.parametrize("T", [1, 4, 8])
def test_unrolled_graph(T):
    fig = diagrams.unrolled_graph(T)
    drawn = texts(fig)
    for t in range(1, T + 1):
        assert f"$x_{t}$" in drawn and f"$h_{t}$" in drawn and f"$y_{t}$" in drawn
    assert "$h_0$" in drawn
    # one weight label per arrow: shared matrices appear T times each
    assert drawn.count("$W_{xh}$") == T and drawn.count("$W_{hh}$") == T
    assert drawn.count("$W_{hy}$") == T
    assert renders(fig)


def test_unrolled_graph_options():
    drawn = texts(diagrams.unrolled_graph(3, show_outputs=False, show_initial=False))
    assert "$y_1$" not in drawn and "$h_0$" not in drawn
    assert drawn.count("$W_{hh}$") == 2
    with pytest.raises(ValueError, match="T must be"):
        diagrams.unrolled_graph(0)


def test_lstm_cell_diagram_has_a_title_and_names_the_states():
    fig = diagrams.lstm_cell_diagram()
    assert "LSTM" in fig.axes[0].get_title()
    drawn = set(texts(fig))
    for name in ("$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$h_t$", "$x_t$", "$f_t$", "$o_t$"):
        assert name in drawn, name
    assert renders(fig)


def test_lstm_gradient_paths_draws_six_numbered_paths():
    fig = diagrams.lstm_gradient_paths()
    assert "paths" in fig.axes[0].get_title()
    drawn = " ".join(texts(fig))
    for k in range(1, 7):
        assert f"({k})" in drawn
    assert diagrams.lstm_gradient_paths(title="mine").axes[0].get_title() == "mine"


def test_encoder_decoder_diagram_draws_every_step():
    fig = diagrams.encoder_decoder_diagram("box", ("B", "AA", "K", "S"))
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    for token in ("b", "o", "x", "<s>", "</s>", "$h_3$", "$s_5$", "$\\tilde s_5$", "$c$"):
        assert token in texts, token
    assert "teacher forcing" in ax.get_title() and "with attention" in ax.get_title()
    free = diagrams.encoder_decoder_diagram(attention=False, teacher_forcing=False).axes[0]
    texts = [t.get_text() for t in free.texts]
    assert "$\\hat y_4$" in texts and "$c$" not in texts and "$\\tilde s_1$" not in texts
    assert "free running" in free.get_title()
    assert fig._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="source"):
        diagrams.encoder_decoder_diagram("toolong")
    with pytest.raises(ValueError, match="attend_step"):
        diagrams.encoder_decoder_diagram(attend_step=9)


def test_scan_diagram_draws_one_arrow_per_combine():
    fig = diagrams.scan_diagram(T=8)
    axes = fig.axes
    assert len(axes) == 3
    for ax, method in zip(axes, ("loop", "hillis_steele", "blelloch"), strict=True):
        cost = scan.scan_cost(method, 8)
        assert len(ax.texts) == cost.work  # annotate() arrows are texts
        assert f"depth {cost.depth}, work {cost.work}" in ax.get_title()
    assert fig._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="T must be"):
        diagrams.scan_diagram(T=100)
    with pytest.raises(ValueError, match="methods"):
        diagrams.scan_diagram(methods=("tree",))


def test_encoder_decoder_diagram_one_way_without_end_token():
    fig = diagrams.encoder_decoder_diagram(
        "3141", ("1", "4", "1", "3"), bidirectional=False, end_token=False, attend_step=3
    )
    drawn = texts(fig)
    assert "$s_0 = h_4$" in drawn and "encoder" in drawn and "encoder (bidirectional)" not in drawn
    assert "</s>" not in drawn and "$s_4$" in drawn and "$s_5$" not in drawn
    with pytest.raises(ValueError, match="attend_step"):
        diagrams.encoder_decoder_diagram("ab", ("x",), end_token=False, attend_step=1)
