"""Every check of the book's code exercises, in chapter order: one entry point.

Each ``check_*`` calls the student's function on a few seeded inputs, compares what comes
back with rnnbook's own implementation, and returns a :class:`Verdict`: correct, or what was
expected, what came back, for which input, and a hint (the engine is :mod:`rnnbook.grading`).
It never raises because of the student's code. In a notebook, show the verdict, or in an
nbgrader test cell make it fail the cell::

    from rnnbook import exercises
    exercises.check_lstm_step(lstm_step)               # displays the verdict
    exercises.check_lstm_step(lstm_step).assert_ok()   # AssertionError with its text if wrong

The student functions take plain NumPy arrays with the library's layout: a batch of row
vectors, PyTorch's weight shapes and gate orders (LSTM i, f, g, o; GRU r, z, n). The checks,
each written in the module of its chapter::

    ch.  check                          the student's function              module
    1    check_memory_example(fn)       fn(x (T, B, 2)) -> y (T, B, 2)     exercises_rnn
    1    check_rnn_step(fn)             fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new
    2    check_one_unit_bptt(fn)        fn(w, T) -> (y_T, dy_T/dw)
    2    check_jacobian_bptt(fn)        fn(W_hh, hs, delta_T) -> delta_0
    3    check_lstm_step(fn)            fn(x, h, c, W_ih, W_hh, b_ih, b_hh) exercises_lstm
                                        -> (h_new, c_new)
    3    check_lstm_num_parameters(fn)  fn(input_size, hidden_size, variant) -> int
    4    check_lstm_step_backward(fn)   fn(dh_new, dc_new, cache) -> {"x", "h", "c", "W_ih", ...}
    4    check_lstm_cell_jacobian(fn)   fn(x, c, o, W_ih, W_hh, b_ih, b_hh) -> dc_new/dc (B, H, H)
    5    check_gru_step(fn)             fn(x, h, W_ih, W_hh, b_ih, b_hh) -> h_new   exercises_gru
    5    check_rnn_to_gru(fn)           fn(W_ih, W_hh, b_ih, b_hh) -> the GRU's four weights
    6    check_perplexity(fn)           fn(log_probs (N,)) -> perplexity    exercises_lm
    6    check_masked_cross_entropy(fn) fn(logits (T, B, V), targets (T, B), lengths (B,)) -> nats
    6    check_add_one_bigram(fn)       fn(words, vocab_size) -> P (V, V)
    7    check_score(fn, method)        fn(query (d_q,), keys (T, d_k), params) -> scores (T,)
                                                                            exercises_attention
    7    check_softmax(fn)              fn(x) -> softmax over the last axis
    8    check_edit_distance(fn)        fn(a, b) -> int                     exercises_seq2seq
    8    check_beam_step(fn)            fn(scores (K,), log_probs (K, V), k)
                                        -> (new_scores, origins, tokens)
    9    check_combine(fn)              fn(first, second) -> (a, b)         exercises_parallel
    9    check_min_gru_step(fn)         fn(x, h, W, b) -> h_new
    10   check_matched_hidden_size(fn)  fn(cell, budget, input_size, output_size) -> int
                                                                            exercises_compare
    10   check_copy_baseline(fn)        fn(T, n_symbols, length) -> float

Each also takes ``time_limit=`` (seconds per call, default 5). A new chapter writes its
checks in a module ``exercises_<topic>`` with :func:`check_function`, adds them here, and
its notebook calls them as ``exercises.check_<name>``.
"""

from __future__ import annotations

from rnnbook.exercises_attention import check_score, check_softmax
from rnnbook.exercises_compare import check_copy_baseline, check_matched_hidden_size
from rnnbook.exercises_gru import check_gru_step, check_rnn_to_gru
from rnnbook.exercises_lm import check_add_one_bigram, check_masked_cross_entropy, check_perplexity
from rnnbook.exercises_lstm import (
    check_lstm_cell_jacobian,
    check_lstm_num_parameters,
    check_lstm_step,
    check_lstm_step_backward,
    lstm_step_cache,
)
from rnnbook.exercises_parallel import check_combine, check_min_gru_step
from rnnbook.exercises_rnn import (
    check_jacobian_bptt,
    check_memory_example,
    check_one_unit_bptt,
    check_rnn_step,
)
from rnnbook.exercises_seq2seq import check_beam_step, check_edit_distance
from rnnbook.grading import TIME_LIMIT, Verdict, check_function

__all__ = [
    "TIME_LIMIT",
    "Verdict",
    "check_function",
    # chapter 1
    "check_memory_example",
    "check_rnn_step",
    # chapter 2
    "check_one_unit_bptt",
    "check_jacobian_bptt",
    # chapter 3
    "check_lstm_step",
    "check_lstm_num_parameters",
    # chapter 4
    "check_lstm_step_backward",
    "lstm_step_cache",
    "check_lstm_cell_jacobian",
    # chapter 5
    "check_gru_step",
    "check_rnn_to_gru",
    # chapter 6
    "check_perplexity",
    "check_masked_cross_entropy",
    "check_add_one_bigram",
    # chapter 7
    "check_score",
    "check_softmax",
    # chapter 8
    "check_edit_distance",
    "check_beam_step",
    # chapter 9
    "check_combine",
    "check_min_gru_step",
    # chapter 10
    "check_matched_hidden_size",
    "check_copy_baseline",
]
