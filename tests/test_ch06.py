"""Tests for chapter 6's figures, widget, sample measures and exercise checks
(rnnbook.plots_lm, rnnbook.text.describe_samples, rnnbook.exercises_lm)."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from rnnbook import exercises_lm, lm, text
from rnnbook import plots_lm as figs
from rnnbook.functional import log_softmax

PNG = "iVBORw0KGgo"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def history(vals, train=None):
    evals = {"val": np.asarray(vals, dtype=float)}
    if train is not None:
        evals["train"] = np.asarray(train, dtype=float)
    steps = np.arange(len(vals)) * 10
    return lm.LMHistory(np.ones(steps[-1]), steps, evals, np.ones(steps[-1]))


# ----------------------------------------------------------------------------- figures


def test_corpus_overview():
    fig = figs.corpus_overview(
        {"a": np.array([1, 2, 2, 3]), "b": np.array([2, 3])}, {"e": 5, "a": 3, "q": 1}, title="T"
    )
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), [25, 50, 25])
    assert [t.get_text() for t in right.get_xticklabels()] == ["e", "a", "q"]
    assert fig._suptitle.get_text() == "T" and fig._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="lengths"):
        figs.corpus_overview({}, {"a": 1})


def test_perplexity_curves_draw_perplexities_and_baselines():
    fig = figs.perplexity_curves({"lstm": history([3.0, 2.5, 2.2])}, {"trigram": 2.3})
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.exp([2.5, 2.2]))  # step 0 left out
    np.testing.assert_allclose(ax.lines[1].get_ydata(), np.exp([2.3, 2.3]))
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="no evaluation"):
        figs.perplexity_curves({"lstm": history([3.0, 2.5])}, {}, name="test")


def test_train_val_curves():
    runs = {
        "a": [history([3, 2], [3, 1]), history([3, 2.5], [3, 1.5])],
        "b": history([3, 2], [3, 2]),
    }
    fig = figs.train_val_curves(runs)
    ax = fig.axes[0]
    assert len(ax.lines) == 6
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["a: validation", "a: training words", "b: validation", "b: training words"]
    with pytest.raises(ValueError, match="'train' and 'val'"):
        figs.train_val_curves({"a": history([3, 2])})


def test_accuracy_by_position():
    fig = figs.accuracy_by_position(
        {"tf": np.array([0.1, 0.5]), "fr": np.array([0.1, 0.2])}, counts=np.array([10, 8])
    )
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), [10, 20])
    assert len(fig.axes) == 2  # the bars of counts on a twin axis
    with pytest.raises(ValueError, match="shape"):
        figs.accuracy_by_position({"tf": np.zeros(2), "fr": np.zeros(3)})


def test_temperature_effect():
    t = [0.5, 1.0]
    fig = figs.temperature_effect(
        t, {"m": np.array([0.4, 0.2])}, {"m": np.array([3.0, 3.5])}, reference_bits=2.9
    )
    left, right = fig.axes
    np.testing.assert_allclose(left.lines[0].get_ydata(), [40, 20])
    np.testing.assert_allclose(right.lines[0].get_ydata(), [3.0, 3.5])
    assert right.lines[-1].get_ydata()[0] == 2.9
    with pytest.raises(ValueError, match="same models"):
        figs.temperature_effect(t, {"m": np.zeros(2)}, {"n": np.zeros(2)})
    with pytest.raises(ValueError, match="shape"):
        figs.temperature_effect(t, {"m": np.zeros(3)}, {"m": np.zeros(3)})


def test_gradient_reach_and_context_use():
    d = np.array([1, 2, 4, 8])
    fig = figs.gradient_reach(d, {"a": np.array([1, 0.5, 0.1, 0.0])}, k=2)
    ax = fig.axes[0]
    assert np.isnan(ax.lines[0].get_ydata()[-1])  # a zero cannot be drawn on a log axis
    assert ax.lines[1].get_xdata()[0] == 2 and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="shape of distance"):
        figs.gradient_reach(d, {"a": np.ones(3)})
    curve = np.log(2) * np.linspace(5, 2, 16)
    fig = figs.context_use({"m": curve}, {"m": np.log(2) * 2.0}, positions=[1, 2, 4, 16, 99])
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), [1, 2, 4, 16])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.linspace(5, 2, 16)[[0, 1, 3, 15]])
    assert ax.lines[1].get_ydata()[0] == pytest.approx(2.0)


def test_next_symbol_bars():
    vocab = text.word_vocab()
    p = np.zeros(len(vocab))
    p[vocab.encode("s")[0]], p[1] = 0.7, 0.3
    fig = figs.next_symbol_bars(p, vocab.symbols, "pre", 0.8, ["press", "pre"], top=3)
    ax, side = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:2] == ["s", "end"]
    assert [t.get_text() for t in side.texts] == ["press", "pre"]
    assert ax.get_title() == 'After "pre", T = 0.8'
    with pytest.raises(ValueError, match="probs"):
        figs.next_symbol_bars(p[:5], vocab.symbols)


def test_sampler_widget_shows_a_png_and_redraws():
    InteractiveShell.instance()
    vocab = text.word_vocab()
    model = lm.CharLM("gru", len(vocab), 8, seed=0)
    with capture_output() as captured:
        w = figs.sampler(model, vocab, temperature=0.5, prefix="ca", n=4)
    assert captured.outputs[0].data["image/png"].startswith(PNG)
    assert isinstance(w.controls["temperature"], ipywidgets.FloatSlider)
    assert w.draws == 1
    w.controls["prefix"].value = "do"
    w.controls["temperature"].value = 0.0
    assert w.draws == 3 and not w.errors
    w.controls["prefix"].value = "Do!"  # not in the vocabulary: reported, not raised
    assert w.errors and "not in the vocabulary" in w.errors[-1]
    with pytest.raises(ValueError, match="temperature"):
        figs.sampler(model, vocab, temperature=4.0, show=False)
    with pytest.raises(ValueError, match="vocabulary"):
        figs.sampler(model, vocab, prefix="X", show=False)


# ----------------------------------------------------------------------------- describe_samples


def test_describe_samples():
    vocab = text.word_vocab()
    samples = [vocab.encode(w) for w in ("cat", "cat", "dog", "xqzt", "catalog")]
    judge = text.NGramModel(2, len(vocab)).fit(vocab.words_targets(["cat", "dog", "catalog"]))
    got = text.describe_samples(
        samples, vocab, {"cat", "dog", "catalog"}, {"cat"}, judge, np.array([3, 3, 7, 7])
    )
    assert got["real"] == pytest.approx(4 / 5) and got["new real"] == pytest.approx(2 / 5)
    assert got["distinct"] == pytest.approx(4 / 5) and got["short"] == pytest.approx(3 / 5)
    # lengths 3, 3, 3, 4, 7 against 3, 3, 7, 7: |0.6-0.5| + |0.2-0| + |0.2-0.5| over 2
    assert got["length distance"] == pytest.approx(0.3)
    scored = [np.append(s, text.BOUNDARY) for s in samples]
    assert got["bits"] == pytest.approx(text.bits(judge.cross_entropy(scored)))
    with pytest.raises(ValueError, match="empty"):
        text.describe_samples([], vocab, set(), set(), judge, [3])


# ----------------------------------------------------------------------------- exercise checks


def perplexity(log_probs):
    return float(np.exp(-np.mean(log_probs)))


def masked_ce(logits, targets, lengths):
    logp = log_softmax(logits, axis=-1)
    nll = -np.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    real = np.arange(targets.shape[0])[:, None] < lengths[None, :]
    return float((nll * real).sum() / real.sum())


def bigram(words, vocab_size):
    counts = np.zeros((vocab_size, vocab_size))
    for w in words:
        np.add.at(counts, (w[:-1], w[1:]), 1)
    return (counts + 1) / (counts + 1).sum(axis=1, keepdims=True)


def test_checks_accept_right_answers():
    assert exercises_lm.check_perplexity(perplexity).ok
    assert exercises_lm.check_masked_cross_entropy(masked_ce).ok
    assert exercises_lm.check_add_one_bigram(bigram).ok


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lp: float(np.exp(-np.sum(lp))), "mean over the symbols"),
        (lambda lp: float(np.exp(np.mean(lp))), "A sign"),
        (lambda lp: float(2.0 ** (-np.mean(lp))), "natural logs"),
        (lambda lp: float(np.mean(np.exp(-lp))), "arithmetic mean"),
        (lambda lp: float(-np.mean(lp)), "cross-entropy in nats"),
    ],
)
def test_check_perplexity_diagnoses(wrong, hint):
    verdict = exercises_lm.check_perplexity(wrong)
    assert not verdict.ok and hint in verdict.hint


def _nll(logits, targets):
    return -np.take_along_axis(log_softmax(logits, axis=-1), targets[..., None], -1)[..., 0]


def _mask(targets, lengths, shift=0):
    return np.arange(targets.shape[0])[:, None] < lengths[None, :] + shift


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lo, t, n: float(_nll(lo, t).mean()), "padding included"),
        (lambda lo, t, n: float(((_nll(lo, t) * _mask(t, n)).sum(0) / n).mean()), "weighs as much"),
        (
            lambda lo, t, n: float((_nll(lo, t) * _mask(t, n, 1)).sum() / _mask(t, n, 1).sum()),
            "one position too many",
        ),
        (lambda lo, t, n: float((_nll(lo, t) * _mask(t, n)).sum()), "That is the sum"),
        (
            lambda lo, t, n: float(
                (-np.take_along_axis(lo, t[..., None], -1)[..., 0] * _mask(t, n)).sum()
                / _mask(t, n).sum()
            ),
            "log_softmax",
        ),
        (lambda lo, t, n: float((_nll(lo, t) * _mask(t, n)).sum() / lo.shape[1]), "batch size"),
    ],
)
def test_check_masked_cross_entropy_diagnoses(wrong, hint):
    verdict = exercises_lm.check_masked_cross_entropy(wrong)
    assert not verdict.ok and hint in verdict.hint, verdict


def _counts(words, V):
    c = np.zeros((V, V))
    for w in words:
        np.add.at(c, (w[:-1], w[1:]), 1)
    return c


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda w, V: (_counts(w, V) + 1) / (_counts(w, V).sum(1, keepdims=True) + 1), "add V"),
        (lambda w, V: bigram(w, V).T, "Transposed"),
        (
            lambda w, V: ((_counts(w, V) + 1) / (_counts(w, V).sum(0, keepdims=True) + V)).T,
            "not each column",
        ),
        (lambda w, V: bigram([[i for x in w for i in x]], V), "inside each word"),
    ],
)
def test_check_add_one_bigram_diagnoses(wrong, hint):
    verdict = exercises_lm.check_add_one_bigram(wrong)
    assert not verdict.ok and hint in verdict.hint, verdict


def test_check_add_one_bigram_without_smoothing():
    def mle(words, V):
        c = _counts(words, V)
        with np.errstate(invalid="ignore", divide="ignore"):
            return c / c.sum(1, keepdims=True)

    verdict = exercises_lm.check_add_one_bigram(mle)
    assert not verdict.ok and verdict.title.endswith("NaN or inf")
    assert "smoothing" in verdict.hint


def test_checks_report_wrong_types_and_unanswered():
    def unanswered(*args):
        raise NotImplementedError()

    assert "not answered" in exercises_lm.check_perplexity(unanswered).title
    verdict = exercises_lm.check_add_one_bigram(lambda w, V: np.zeros((V, V - 1)))
    assert not verdict.ok and "wrong shape" in verdict.title
    verdict = exercises_lm.check_masked_cross_entropy(lambda lo, t, n: "3.2")
    assert not verdict.ok and "wrong type" in verdict.title
