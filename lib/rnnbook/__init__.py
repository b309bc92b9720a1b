"""rnnbook: the library behind the open textbook on recurrent neural networks.

One module per idea, each small enough to read beside its chapter:

- :mod:`rnnbook.functional`  stable sigmoid, tanh, softmax (with masks) and their derivatives
- :mod:`rnnbook.cells`       RNN, Jordan, LSTM and GRU cells in NumPy with hand-written BPTT
- :mod:`rnnbook.attention`   score functions (dot, general, concat, scaled dot), weights, context
- :mod:`rnnbook.gradcheck`   finite-difference gradient checks with a readable report
- :mod:`rnnbook.gradients`   exploding and vanishing gradients: Jacobians, the w-chain, clipping
- :mod:`rnnbook.tasks`       the book's generated data sets
- :mod:`rnnbook.models`, :mod:`rnnbook.train`  PyTorch models and one training loop
- :mod:`rnnbook.plots`, :mod:`rnnbook.widgets`  shared figures and interactive widgets
- :mod:`rnnbook.exercises`   checks that give a student a friendly verdict
"""

__version__ = "0.1.0"
