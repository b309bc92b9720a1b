r"""Recurrent cells in NumPy with backpropagation through time written by hand.

The cells are the book's reference implementation: each family writes a forward step and a
backward step that are its chapter's equations (``step_forward``, ``step_backward``), and
one sequence loop (:mod:`rnnbook.cells.base`) runs them, so a reader can put the chapter's
derivation beside the step and tick it off line by line.

=====================================  ===================================================
:mod:`~rnnbook.cells.elman`            :class:`RNNCell` (Elman), :class:`JordanRNN`; ch. 1
:mod:`~rnnbook.cells.lstm`             :class:`LSTMCell`; ch. 3 and 4
:mod:`~rnnbook.cells.lstm_variants`    peephole, cifg, nfg, noaf, as subclasses; ch. 4
:mod:`~rnnbook.cells.gru`              :class:`GRUCell`, reset after or before; ch. 5
:mod:`~rnnbook.cells.wrappers`         :class:`Stacked`, :class:`Bidirectional`,
                                       :func:`pin_gates`
:mod:`rnnbook.reference`               the same cells in PyTorch autograd, for the tests
=====================================  ===================================================

Conventions
-----------
Math vs code
    The chapters write column vectors, :math:`h_t = \tanh(W_{hh} h_{t-1} + W_{xh} x_t + b)`
    (names of ``book/notation.md``: :math:`W_{xi}`, :math:`\tilde c`, :math:`\tilde h`...).
    The code keeps a *batch of row vectors* with PyTorch's layout, so the same equation reads
    ``h = tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)``.
Shapes
    Sequences are time-major: ``x`` is ``(T, B, input_size)`` and ``outputs`` is
    ``(T, B, hidden_size)`` (``(T, B, output_size)`` for :class:`JordanRNN`). One step is
    ``(B, input_size)``. A state is one array ``(B, hidden_size)``, or the pair ``(h, c)``
    for the LSTM.
Parameters
    ``cell.params`` maps PyTorch's names to arrays in PyTorch's layout: ``weight_ih`` of
    shape ``(G*H, I)`` (the :math:`W_{x\cdot}` blocks), ``weight_hh`` ``(G*H, H)`` (the
    :math:`W_{h\cdot}`), ``bias_ih`` and ``bias_hh`` ``(G*H,)``, where the ``G`` gate blocks
    are stacked in PyTorch's order (LSTM :math:`i, f, \tilde c, o`, which PyTorch calls
    ``i, f, g, o``; GRU :math:`r, z, \tilde h`, PyTorch's ``r, z, n``). Extra parameters get
    their own names (``weight_ci`` for a peephole...). Initialisation is PyTorch's: every
    entry uniform in :math:`(-1/\sqrt{H}, 1/\sqrt{H})`, drawn from
    ``np.random.default_rng(seed)``. :meth:`from_torch` / :meth:`to_torch` copy the arrays
    bit for bit.
Speed
    The input projection of the whole sequence, for all gates, is one matmul hoisted out of
    the time loop; each step does one hidden matmul for all gates (GRU ``reset="before"``
    needs two) and one sigmoid over the contiguous gate blocks. The backward pass stacks
    the pre-activation gradients of every step and computes each weight gradient with one
    matmul over all steps.
forward / backward
    ``forward(x, state=None)`` returns ``(outputs, final_state, cache)``; a missing state
    means zeros. ``backward(d_outputs, cache, d_state=None)`` takes the gradient of the loss
    with respect to every output and (optionally) to the final state, and returns a dict
    with ``"x"`` ``(T, B, I)``, ``"state"`` (same structure as the initial state) and one
    entry per parameter name. ``backward`` uses the parameters as they are when it is
    called, so do not update them between ``forward`` and ``backward``. An LSTM state is
    the complete pair ``(h, c)`` (or None for zeros). The cache remembers the cell whose
    ``forward`` made it, and another cell's ``backward`` refuses it (a dict written by hand
    must hold every array ``forward`` stores, in the shapes it stores them).
dtype
    Parameters are float64 by default; pass ``dtype=np.float32`` for float32. Inputs
    (``x``, states, upstream gradients) must be real floating-point arrays (lists of floats
    are fine); they are cast to the cell's dtype, so a float32 cell computes in float32 even
    when fed float64 (float16 is computed in float32). Integer, boolean and complex inputs
    raise ``TypeError``: write ``np.array([[1.0, 1.0]])``, not ``np.array([[1, 1]])``. The
    parameters must have the cell's dtype.
Errors
    Wrong rank, wrong feature size, an empty axis, a batch that differs between ``x`` and the
    state, NaN or inf, and unknown options raise ``ValueError`` naming the expected shape or
    the valid choices; wrong dtypes raise ``TypeError``. ``forward`` and ``backward`` check
    ``params`` too (names, shapes, dtype, finite values), once per call and never inside the
    time loop. Past that, the arithmetic is IEEE's, as in PyTorch: a network that explodes
    (chapter 2) overflows to inf with NumPy's warning.
"""

from rnnbook.cells.base import _Cell
from rnnbook.cells.elman import JordanRNN, RNNCell
from rnnbook.cells.gru import GRUCell, ResetBeforeGRUCell
from rnnbook.cells.lstm import LSTM_VARIANTS, LSTMCell
from rnnbook.cells.lstm_variants import CIFGLSTMCell, NFGLSTMCell, NoAFLSTMCell, PeepholeLSTMCell
from rnnbook.cells.wrappers import PIN_LOGIT, Bidirectional, Stacked, _layer_name, pin_gates

__all__ = [
    "RNNCell",
    "JordanRNN",
    "LSTMCell",
    "LSTM_VARIANTS",
    "PeepholeLSTMCell",
    "CIFGLSTMCell",
    "NFGLSTMCell",
    "NoAFLSTMCell",
    "GRUCell",
    "ResetBeforeGRUCell",
    "Stacked",
    "Bidirectional",
    "pin_gates",
    "PIN_LOGIT",
    "source_of",
]
_ = (_Cell, _layer_name)  # used by the tests


def source_of(function) -> str:
    """The source of a cell's method as the chapters print it: without its decorators and
    docstring, dedented, so that a reader can tick it off against the equations.

    >>> print(source_of(RNNCell.step_forward).splitlines()[0])
    def step_forward(self, a_x: np.ndarray, h_prev: np.ndarray):
    """
    import ast
    import inspect
    import textwrap

    lines = textwrap.dedent(inspect.getsource(inspect.unwrap(function))).splitlines()
    node = ast.parse("\n".join(lines)).body[0]
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        raise TypeError(f"source_of needs a function or method, got {type(function).__name__}")
    first_line = node.lineno - 1  # after the decorators
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        keep = lines[first_line : body[0].lineno - 1] + lines[body[0].end_lineno :]
    else:
        keep = lines[first_line:]
    return "\n".join(keep)
