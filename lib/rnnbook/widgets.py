"""Interactive figures that also leave a static figure behind.

A book page is a stored notebook: its widgets need a live kernel, and the web page does
not have one. So every widget here first draws its figure for the controls' initial
values and displays it as an ordinary PNG output. **That static figure is what the web
page shows**, and what nbval sees. Below it come the controls and an
:class:`ipywidgets.Output`; in a running notebook (JupyterLab, Notebook, VS Code, Colab),
changing a control redraws the figure in place (the PNG output is updated through its
display id), and anything the drawing prints, or an error such as a typo in a text box,
appears in the Output area.

- :func:`interactive_figure` is the general helper: a ``draw(**values) -> Figure``
  function and a dict of controls.
- :func:`rnn_stepper` steps an RNN cell through an input sequence the reader types, and
  shows the inputs and hidden state at every step.
- :func:`w_chain_explorer` moves the recurrent weight w and the length T of the w-chain
  (chapter 2) and shows :math:`y_T = w^{T-1}` and its derivative over w.
- :func:`attention_explorer` picks a score function and moves a 2-D query over five keys,
  showing the attention weights (chapter 7).
- :func:`gru_gates` pins a GRU's gates z and r with two sliders and draws the state's
  path beside the limiting cases (naive RNN, copy, per-step MLP).
- :func:`lstm_gates` pins an LSTM's gates i, f and o with three sliders and draws its
  cell state c_t and hidden state h_t over time (chapter 3).

Give sliders ``continuous_update=False`` so a figure is redrawn once per move, not at
every pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import DisplayHandle, Image, display
from matplotlib.figure import Figure

from rnnbook import plots, plots_attention, plots_gates, plots_rnn

__all__ = [
    "InteractiveFigure",
    "interactive_figure",
    "parse_sequence",
    "rnn_stepper",
    "gru_gate_example",
    "gru_gates",
    "w_chain_explorer",
    "lstm_gate_example",
    "lstm_gates",
    "ATTENTION_KEYS",
    "attention_explorer",
]


def _png(fig: Figure) -> Image:
    """Render ``fig`` to a PNG image output and close it (so it is not shown twice)."""
    if not isinstance(fig, Figure):
        raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
    data = plots.png_bytes(fig)
    plt.close(fig)
    return Image(data=data, format="png")


@dataclass
class InteractiveFigure:
    """A figure drawn by ``draw(**values)`` for the current values of ``controls``.

    Attributes
    ----------
    draw : callable (**values) -> Figure
    controls : dict name -> widget (each has a ``.value``)
    output : ipywidgets.Output
        Where messages and errors of a redraw appear.
    box : ipywidgets.VBox
        The controls and the Output, as displayed.
    handle : DisplayHandle or None
        The display of the static PNG, updated in place by :meth:`redraw`.
    image : IPython.display.Image
        The latest PNG.
    draws : int
        How many times ``draw`` has been called.
    errors : list of str
        Messages of the redraws that failed (the latest is shown in :attr:`output`).
    """

    draw: Callable[..., Figure]
    controls: dict[str, Any]
    output: Any
    box: Any
    image: Image | None = None
    handle: DisplayHandle | None = None
    draws: int = 0
    errors: list[str] = field(default_factory=list)
    _message_shown: bool = field(default=False, repr=False)

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: w.value for name, w in self.controls.items()}

    def render(self) -> Image:
        """Call ``draw`` with the current values and return the PNG (no display)."""
        self.draws += 1
        self.image = _png(self.draw(**self.values()))
        return self.image

    def show(self) -> None:
        """Display the static PNG, then the controls and the Output."""
        if self.image is None:
            self.render()
        self.handle = display(self.image, display_id=True)
        display(self.box)

    def redraw(self, change: object = None) -> None:
        """Redraw for the current values (called when a control changes).

        A failure (for example an input the draw function rejects) keeps the last figure
        and shows the message in :attr:`output`.
        """
        if self._message_shown:
            self.output.clear_output()
            self._message_shown = False
        try:
            image = self.render()
        except Exception as exc:  # shown to the reader, who may just have mistyped
            self.errors.append(f"{type(exc).__name__}: {exc}")
            with self.output:
                print(self.errors[-1])
            self._message_shown = True
            return
        if self.handle is not None:
            self.handle.update(image)

    def _ipython_display_(self) -> None:
        """Displayed once when created; showing the returned object again adds nothing."""


def interactive_figure(
    draw: Callable[..., Figure],
    controls: Mapping[str, Any],
    show: bool = True,
) -> InteractiveFigure:
    """Display ``draw(**values)`` as a static PNG, then controls that redraw it.

    Parameters
    ----------
    draw : callable
        Called with one keyword argument per control (its ``.value``); returns a
        matplotlib Figure (for example one of :mod:`rnnbook.plots`), which is rendered to
        PNG and closed.
    controls : dict name -> ipywidgets widget
        E.g. ``{"w": FloatSlider(value=1.01, min=0.9, max=1.1, continuous_update=False)}``.
    show : bool
        Display at once (default). With False, call ``.show()`` later.

    Returns
    -------
    InteractiveFigure
        Its ``draws`` counts calls of ``draw``; ``redraw()`` is what a control change runs.

    Example
    -------
    >>> def draw(w, T):                                                  # doctest: +SKIP
    ...     t = np.arange(1, T + 1)
    ...     return plots.line_log(t, {f"w = {w}": w ** (t - 1)}, title="w chain")
    >>> interactive_figure(draw, {"w": FloatSlider(value=1.01, min=0.9, max=1.1),
    ...                           "T": IntSlider(value=100, min=2, max=1000)})
    """
    if not callable(draw):
        raise TypeError(f"draw must be callable, got {type(draw).__name__}")
    if not isinstance(controls, Mapping) or not controls:
        raise ValueError("controls must be a non-empty dict of name -> ipywidgets widget")
    for name, w in controls.items():
        if not isinstance(w, ipywidgets.Widget) or not hasattr(w, "value"):
            raise TypeError(f"controls[{name!r}] must be an ipywidgets widget with a .value")
    output = ipywidgets.Output()
    box = ipywidgets.VBox([*controls.values(), output])
    fig = InteractiveFigure(draw=draw, controls=dict(controls), output=output, box=box)
    fig.render()
    for w in controls.values():
        w.observe(fig.redraw, names="value")
    if show:
        fig.show()
    return fig


def parse_sequence(text: str, input_size: int | None = None) -> np.ndarray:
    """Parse ``"1,1; 1,1; 2,2"`` (steps separated by ``;``, features by ``,``) into (T, 1, I).

    Parameters
    ----------
    text : str
        At least one step; every step must have the same number of numbers.
    input_size : int, optional
        If given, every step must have this many numbers.

    Returns
    -------
    ndarray, shape (T, 1, I), float64 (a batch of one sequence, time-major)
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string like '1,1; 1,1; 2,2', got {type(text).__name__}")
    steps = [s.strip() for s in text.strip().strip(";").split(";")]
    if not steps or steps == [""]:
        raise ValueError("the sequence is empty: type steps like '1,1; 1,1; 2,2'")
    rows = []
    for t, step in enumerate(steps, start=1):
        try:
            rows.append([float(v) for v in step.split(",")])
        except ValueError:
            raise ValueError(
                f"step {t} ({step!r}) is not a list of numbers: type steps like '1,1; 1,1; 2,2'"
            ) from None
    sizes = {len(r) for r in rows}
    if len(sizes) != 1:
        raise ValueError(f"every step needs the same number of values, got sizes {sorted(sizes)}")
    size = sizes.pop()
    if input_size is not None and size != input_size:
        raise ValueError(f"each step needs {input_size} values (the input size), got {size}")
    x = np.array(rows)[:, None, :]
    if not np.all(np.isfinite(x)):
        raise ValueError("the sequence contains inf or nan")
    return x


def _memory_example_cell() -> Any:
    """The Elman network of the memory example: 2 inputs, 2 linear units, weights 1, no bias."""
    from rnnbook.cells import RNNCell

    cell = RNNCell(2, 2, nonlinearity="linear", bias=False)
    for name in ("weight_ih", "weight_hh"):
        cell.params[name][...] = 1.0
    return cell


def rnn_stepper(
    cell: Any = None,
    sequence: str = "1,1; 1,1; 2,2",
    title: str | None = None,
    show: bool = True,
    readout: Callable[[np.ndarray], np.ndarray] | None = None,
) -> InteractiveFigure:
    """Step an RNN through a sequence the reader types; show the state at every step.

    The figure is :func:`rnnbook.plots_rnn.hidden_state_trajectory`: the inputs ``x_t`` above,
    the outputs of ``cell.forward`` (the hidden states ``h_t``) below.

    Parameters
    ----------
    cell : an :mod:`rnnbook.cells` cell, optional
        Anything with ``input_size`` and ``forward(x) -> (outputs (T, B, H), ...)``. Default:
        the memory example's Elman network (weights 1, no bias, linear), which turns
        ``1,1; 1,1; 2,2`` into the hidden states ``[2, 2], [6, 6], [16, 16]``.
    sequence : str
        The initial input sequence, steps separated by ``;``, values by ``,``.
    title : str, optional
    show : bool
        Display at once (see :func:`interactive_figure`).
    readout : callable, optional
        Maps the hidden states (T, H) of the sequence to outputs (T, O), for example a
        trained network's probabilities; they are drawn as a third panel, ``y_t``.
    """
    cell = _memory_example_cell() if cell is None else cell
    if not hasattr(cell, "forward") or not hasattr(cell, "input_size"):
        raise TypeError("cell must have .input_size and .forward(x), like the rnnbook.cells cells")

    def draw(sequence: str) -> Figure:
        x = parse_sequence(sequence, cell.input_size)
        outputs = np.asarray(cell.forward(x)[0])
        extra = {} if readout is None else {"outputs": readout(outputs[:, 0])}
        return plots_rnn.hidden_state_trajectory(
            outputs[:, 0],
            x[:, 0],
            title=title or f"{type(cell).__name__}: state at every step",
            **extra,
        )

    text = ipywidgets.Text(
        value=sequence,
        description="inputs",
        placeholder="1,1; 1,1; 2,2",
        continuous_update=False,
        layout=ipywidgets.Layout(width="28em"),
    )
    return interactive_figure(draw, {"sequence": text}, show=show)


def gru_gate_example(seed: int = 5, T: int = 24) -> tuple[Any, np.ndarray, np.ndarray]:
    """The small GRU of the GRU chapter's widget: 1 input, 2 units, a sine wave as input.

    Returns
    -------
    cell : GRUCell(1, 2, seed=seed), reset "after"
    x : array (T, 1, 1), :math:`x_t = \\sin(2 \\pi t / 12)` for t = 1..T
    h0 : array (1, 2), the initial state [0.8, -0.6]
    """
    from rnnbook.cells import GRUCell

    cell = GRUCell(1, 2, seed=seed)
    cell.params["weight_ih"] *= 4.0  # a clear response to the input
    cell.params["weight_hh"] *= 3.0  # and a visible dependence on the past
    t = np.arange(1, T + 1)
    x = np.sin(2 * np.pi * t / 12)[:, None, None]
    return cell, x, np.array([[0.8, -0.6]])


def gru_gates(
    cell: Any = None,
    x: np.ndarray | None = None,
    h0: np.ndarray | None = None,
    z: float = 0.5,
    r: float = 0.5,
    show: bool = True,
) -> InteractiveFigure:
    """Sliders for the GRU's update gate z and reset gate r; the state's path for each setting.

    Both gates are pinned to constants with :func:`rnnbook.cells.pin_gates`, and the
    figure (:func:`rnnbook.plots_gates.gate_trajectories`) draws the state for the sliders'
    values (thick) beside the three limiting cases (dashed): z = 0 and r = 1 (a naive RNN),
    z = 1 (the state is copied, the input ignored), z = 0 and r = 0 (a per-step MLP of the
    input).

    Parameters
    ----------
    cell : GRUCell with hidden_size >= 2, optional (default: :func:`gru_gate_example`)
    x : array (T, 1, I), one input sequence (default: the example's sine wave)
    h0 : array (1, H), the initial state (default: the example's [0.8, -0.6])
    z, r : the sliders' initial values, in [0, 1]
    show : display at once (see :func:`interactive_figure`)
    """
    from rnnbook.cells import GRUCell, pin_gates

    example = gru_gate_example()
    cell = example[0] if cell is None else cell
    x = example[1] if x is None else np.asarray(x, dtype=float)
    h0 = example[2] if h0 is None else np.asarray(h0, dtype=float)
    if not isinstance(cell, GRUCell) or cell.hidden_size < 2:
        raise TypeError("cell must be a GRUCell with hidden_size >= 2")
    if x.ndim != 3 or x.shape[1] != 1 or x.shape[2] != cell.input_size:
        raise ValueError(f"x must be one sequence (T, 1, {cell.input_size}), got {x.shape}")
    for name, v in (("z", z), ("r", r)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {v!r}")

    def run(**gates: float) -> np.ndarray:
        return pin_gates(cell, **gates).forward(x, h0)[0][:, 0]

    limits = {
        "z=0, r=1: naive RNN": run(z=0.0, r=1.0),
        "z=1: state copied": run(z=1.0),
        "z=0, r=0: per-step MLP": run(z=0.0, r=0.0),
    }

    def draw(z: float, r: float) -> Figure:
        label = f"z={z:.2f}, r={r:.2f}"
        runs = {**limits, label: run(z=z, r=r)}
        return plots_gates.gate_trajectories(
            runs, h0=h0[0], highlight=label, title="GRU with pinned gates: the state's path"
        )

    def slider(name: str, value: float) -> Any:
        return ipywidgets.FloatSlider(
            value=value, min=0.0, max=1.0, step=0.05, description=name, continuous_update=False
        )

    return interactive_figure(draw, {"z": slider("z", z), "r": slider("r", r)}, show=show)


def w_chain_explorer(w: float = 1.01, T: int = 1000, show: bool = True) -> InteractiveFigure:
    """Sliders for the w-chain's weight w and length T; :func:`rnnbook.plots_rnn.w_chain` redrawn.

    The one-unit linear RNN :math:`h_t = w h_{t-1} + x_t` reads 1 and then ``T - 1`` zeros,
    so :math:`y_T = w^{T-1}` and :math:`dy_T/dw = (T-1) w^{T-2}` (chapter 2). The figure
    draws both over ``w`` in [0.9, 1.1] on a log scale and marks the slider's w; its title
    gives the two values there.

    Parameters
    ----------
    w : initial weight, in [0.9, 1.1]
    T : initial length, in 2 .. 2000
    show : display at once (see :func:`interactive_figure`)
    """
    if not 0.9 <= w <= 1.1:
        raise ValueError(f"w must be in [0.9, 1.1], got {w!r}")
    if isinstance(T, bool) or not isinstance(T, int) or not 2 <= T <= 2000:
        raise ValueError(f"T must be an int from 2 to 2000, got {T!r}")
    ws = np.linspace(0.9, 1.1, 401)

    def draw(w: float, T: int) -> Figure:
        y, dy = ws ** (T - 1.0), (T - 1.0) * ws ** (T - 2.0)
        y_w, dy_w = w ** (T - 1.0), (T - 1.0) * w ** (T - 2.0)
        title = f"T = {T}, w = {w:.3f}: $y_T$ = {y_w:.4g}, $dy_T/dw$ = {dy_w:.4g}"
        return plots_rnn.w_chain(ws, y, dy, T, marks={f"w = {w:.3f}": w}, title=title)

    controls = {
        "w": ipywidgets.FloatSlider(
            value=w,
            min=0.9,
            max=1.1,
            step=0.001,
            readout_format=".3f",
            description="w",
            continuous_update=False,
        ),
        "T": ipywidgets.IntSlider(
            value=T, min=2, max=2000, step=1, description="T", continuous_update=False
        ),
    }
    return interactive_figure(draw, controls, show=show)


# --------------------------------------------------------------------------- chapter 3: LSTM gates


def lstm_gate_example(T: int = 40) -> tuple[Any, np.ndarray]:
    """The one-unit LSTM of the LSTM chapter's widget, and its input: three pulses.

    The candidate reads the input alone, :math:`\\tilde c_t = \\tanh(3 x_t)` (every other
    weight and bias of the candidate is 0), so with the gates pinned to constants
    (:func:`rnnbook.cells.pin_gates`) the cell state changes only at a pulse, by
    :math:`i \\tilde c_t`, and otherwise decays by the factor f each step.

    Returns
    -------
    cell : LSTMCell(1, 1)
    x : array (T, 1, 1): +1 at step 3, -0.6 at step 15, +0.8 at step 28 (1-based), else 0
    """
    from rnnbook.cells import LSTMCell

    if isinstance(T, bool) or not isinstance(T, int) or T < 28:
        raise ValueError(f"T must be an int >= 28 (the last pulse is at step 28), got {T!r}")
    cell = LSTMCell(1, 1, seed=0)
    for name in cell.params:
        cell.params[name][...] = 0.0
    cell.params["weight_ih"][2] = 3.0  # block g (order i, f, g, o): c~_t = tanh(3 x_t)
    x = np.zeros((T, 1, 1))
    for step, value in ((3, 1.0), (15, -0.6), (28, 0.8)):
        x[step - 1, 0, 0] = value
    return cell, x


def lstm_gates(
    cell: Any = None,
    x: np.ndarray | None = None,
    i: float = 1.0,
    f: float = 0.9,
    o: float = 1.0,
    show: bool = True,
) -> InteractiveFigure:
    """Sliders for an LSTM's input, forget and output gates; the cell and hidden state over time.

    The three gates are pinned to the sliders' values with :func:`rnnbook.cells.pin_gates`
    and the figure is :func:`rnnbook.plots_gates.lstm_trace` of the first unit: f sets how long
    the cell remembers (a pulse decays as :math:`f^t`), i how much of each candidate is
    written, o how much of :math:`\\tanh(c_t)` is shown as :math:`h_t`. The title gives
    :math:`c_T`, :math:`h_T` and the largest :math:`|c_t|`.

    Parameters
    ----------
    cell : LSTMCell (variant "vanilla" or "peephole"), optional
        Default: :func:`lstm_gate_example`.
    x : array (T, 1, I), one input sequence (default: the example's three pulses)
    i, f, o : the sliders' initial values, in [0, 1]
    show : display at once (see :func:`interactive_figure`)
    """
    from rnnbook.cells import LSTMCell, pin_gates

    example = lstm_gate_example()
    cell = example[0] if cell is None else cell
    x = example[1] if x is None else np.asarray(x, dtype=float)
    if not isinstance(cell, LSTMCell) or cell.gates != "ifgo":
        raise TypeError("cell must be an LSTMCell with the gates i, f, o (vanilla or peephole)")
    if x.ndim != 3 or x.shape[1] != 1 or x.shape[2] != cell.input_size:
        raise ValueError(f"x must be one sequence (T, 1, {cell.input_size}), got {x.shape}")
    for name, value in (("i", i), ("f", f), ("o", o)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value!r}")

    def draw(i: float, f: float, o: float) -> Figure:
        _, _, cache = pin_gates(cell, i=i, f=f, o=o).forward(x)
        c, h = cache["c"][:, 0, 0], cache["h"][:, 0, 0]
        title = (
            f"i = {i:.2f}, f = {f:.2f}, o = {o:.2f}: $c_T$ = {c[-1]:.3f}, "
            f"$h_T$ = {h[-1]:.3f}, max $|c_t|$ = {np.abs(c).max():.3f}"
        )
        return plots_gates.lstm_trace(cache, input_labels=["$x_t$"], title=title)

    def slider(name: str, value: float) -> Any:
        return ipywidgets.FloatSlider(
            value=value, min=0.0, max=1.0, step=0.01, description=name, continuous_update=False
        )

    controls = {"i": slider("i", i), "f": slider("f", f), "o": slider("o", o)}
    return interactive_figure(draw, controls, show=show)


# --------------------------------------------------------------------------- chapter 7: attention

ATTENTION_KEYS = np.array([[1.5, 0.2], [0.4, 1.2], [-1.0, 0.6], [-0.6, -1.1], [0.9, -0.8]])
"""The five 2-D keys of :func:`attention_explorer`."""


def attention_explorer(
    method: str = "dot",
    angle: float = 30.0,
    length: float = 1.5,
    keys: np.ndarray | None = None,
    seed: int = 0,
    show: bool = True,
) -> InteractiveFigure:
    """Pick a score function and move a 2-D query; redraws
    :func:`rnnbook.plots_attention.attention_2d`.

    The query is :math:`h_a = r(\\cos\\theta, \\sin\\theta)` (``length`` r, ``angle``
    :math:`\\theta` in degrees); the weights are :math:`\\alpha = \\mathrm{softmax}(S(h_a, k_j))`
    over the keys, computed by :func:`rnnbook.attention.attend` (chapter 7, eq.
    ``eq-07-softmax``).
    ``general`` and ``concat`` use fixed parameters from
    :func:`rnnbook.attention.init_params` with ``seed`` (``d_attn = 4`` for concat). The
    figure's title gives the method, the query and the largest weight.

    Parameters
    ----------
    method : one of :data:`rnnbook.attention.METHODS`
    angle : initial angle of the query in degrees, in [0, 360]
    length : initial length of the query, in [0, 4]
    keys : (T, 2), default :data:`ATTENTION_KEYS`
    seed : seed of the general and concat parameters
    show : display at once (see :func:`interactive_figure`)
    """
    from rnnbook import attention

    if method not in attention.METHODS:
        raise ValueError(f"method must be one of {attention.METHODS}, got {method!r}")
    if not 0.0 <= angle <= 360.0:
        raise ValueError(f"angle must be in [0, 360] degrees, got {angle!r}")
    if not 0.0 <= length <= 4.0:
        raise ValueError(f"length must be in [0, 4], got {length!r}")
    k = ATTENTION_KEYS if keys is None else np.asarray(keys, dtype=float)
    if k.ndim != 2 or k.shape[1] != 2 or k.shape[0] < 1:
        raise ValueError(f"keys must have shape (T, 2), got {k.shape}")
    params = {m: attention.init_params(m, 2, 2, d_attn=4, seed=seed) for m in attention.METHODS}

    def draw(method: str, angle: float, length: float) -> Figure:
        theta = np.deg2rad(angle)
        q = length * np.array([np.cos(theta), np.sin(theta)])
        _, w = attention.attend(q, k, k, method, params[method])
        title = (
            f"{method}: query = ({q[0]:.2f}, {q[1]:.2f}), "
            f"largest weight {w.max():.2f} on k{int(w.argmax()) + 1}"
        )
        return plots_attention.attention_2d(q, k, w, title=title)

    controls = {
        "method": ipywidgets.Dropdown(
            options=list(attention.METHODS), value=method, description="score"
        ),
        "angle": ipywidgets.FloatSlider(
            value=angle, min=0.0, max=360.0, step=5.0, description="angle", continuous_update=False
        ),
        "length": ipywidgets.FloatSlider(
            value=length, min=0.0, max=4.0, step=0.1, description="length", continuous_update=False
        ),
    }
    return interactive_figure(draw, controls, show=show)
