"""Figures a reader can move on the static site, with no kernel.

A widget of :mod:`rnnbook.widgets` needs a running kernel; the book's site has none. An
explorable figure (:func:`figure`) is drawn for every point of a small grid of control
values when the notebook executes, and all the frames are stored in the cell's output with a
few lines of script that swap them when the reader moves a control. One function, two renderings:

- in a notebook with a kernel (JupyterLab, Notebook, VS Code, Colab) the output is the
  ipywidgets version: the figure and its controls, redrawn by the kernel for any value
  (:func:`rnnbook.widgets.interactive_figure`);
- on the site (and in any viewer without a widget manager) the output is a small
  self-contained HTML bundle: labelled controls (a range slider for numbers, a drop-down
  list for words), the figure on a light card, the frames as compressed PNG data URIs in
  a JSON block, and an inline script of about 1 kB. It loads nothing from anywhere.

Both renderings are in one display output (a MIME bundle with
``application/vnd.jupyter.widget-view+json``, ``text/html``, ``image/png`` and
``text/plain``); a frontend shows the richest it can. The book's Sphinx configuration
ranks ``text/html`` above the widget view (``nb_mime_priority_overrides`` in
``_config.yml``), so the site shows the bundle; the PNG (the initial frame) is for PDF.

nbval compares ``text/html`` outputs; the frames' bytes change with the last bits of a
training result on another CPU, so ``tools/nbval_sanitize.cfg`` replaces every PNG data
URI by a placeholder (as nbval already ignores ``image/png`` outputs): the controls, their
values, labels, the frame count and the alt texts are still compared.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = ["Explorable", "figure", "MAX_BYTES", "SCRIPT"]

MAX_BYTES = 1_500_000
"""The largest stored bundle :func:`figure` accepts, in bytes (about 1.5 MB)."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")

SCRIPT = """(function () {
  var root = document.currentScript.parentNode;
  if (root.getAttribute("data-ready")) return;
  var d = JSON.parse(root.querySelector("script.rnnbook-explorable-data").textContent);
  var img = root.querySelector("img.rnnbook-explorable-frame");
  var inputs = root.querySelectorAll("[data-axis]");
  function update() {
    var k = 0;
    for (var a = 0; a < inputs.length; a++) {
      var el = inputs[a], i = parseInt(el.value, 10), label = d.labels[a][i];
      k = k * d.shape[a] + i;
      var out = root.querySelector('output[for="' + el.id + '"]');
      if (out) out.textContent = label;
      if (el.type === "range") el.setAttribute("aria-valuetext", d.names[a] + " = " + label);
    }
    img.src = d.frames[k];
    img.alt = d.alts[k];
    img.setAttribute("data-frame", k);
  }
  for (var a = 0; a < inputs.length; a++) {
    inputs[a].addEventListener("input", update);
    inputs[a].addEventListener("change", update);
  }
  update();
  root.setAttribute("data-ready", "1");
})();"""
"""The inline script of every bundle: reads the controls, shows frame ``k`` (row-major)."""

_STYLE = """.rnnbook-explorable{margin:.5rem 0 1rem;max-width:100%}
.rnnbook-explorable-controls{display:flex;flex-wrap:wrap;gap:.4rem 1.4rem;margin:0 0 .5rem}
.rnnbook-explorable-control{display:flex;align-items:center;gap:.45rem;flex-wrap:wrap}
.rnnbook-explorable-control label{font-weight:600}
.rnnbook-explorable-control input[type=range]{width:12rem;max-width:60vw}
.rnnbook-explorable-control output{font-family:monospace;min-width:3.5em}
.rnnbook-explorable-card{background:#fff;border-radius:.3rem;padding:.3rem;
border:1px solid #d0d0d0;display:inline-block;max-width:100%;box-sizing:border-box}
.rnnbook-explorable-card img{display:block;max-width:100%;height:auto;margin:0}"""


def _label(value: Any) -> str:
    """How a grid value is shown beside its control: numbers without trailing zeros."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    return f"{float(value):.6g}"


def _axes(grid: Mapping[str, Any]) -> list[tuple[str, list[str], list[Any]]]:
    """Check ``grid``; return (name, labels, values) per control."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(
            "grid must be a non-empty dict: control name -> list of values "
            "(or dict label -> value), e.g. {'w': [0.9, 1.0, 1.1]}"
        )
    axes = []
    for name, spec in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid keys must be the draw function's argument names, got {name!r}")
        if isinstance(spec, Mapping):
            labels, values = [str(k) for k in spec], list(spec.values())
        elif isinstance(spec, (str, bytes)) or not isinstance(spec, (Sequence, np.ndarray)):
            raise TypeError(
                f"grid[{name!r}] must be a list of values or a dict label -> value, "
                f"got {type(spec).__name__}"
            )
        else:
            values = list(spec)
            labels = [_label(v) for v in values]
        if len(values) < 2:
            raise ValueError(f"grid[{name!r}] needs at least 2 values to move, got {len(values)}")
        if len(set(labels)) != len(labels):
            raise ValueError(f"grid[{name!r}] has repeated values or labels: {labels}")
        axes.append((name, labels, values))
    return axes


def _png(fig: Figure, dpi: float | None, colors: int) -> bytes:
    """One frame: the figure as a palette PNG of at most ``colors`` colours (then closed)."""
    from PIL import Image

    if not isinstance(fig, Figure):
        raise TypeError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, metadata={"Software": None})
    buf.seek(0)
    image = Image.open(buf).convert("RGB")
    palette = image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=0)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


@dataclass
class Explorable:
    """A figure drawn for every point of a grid of control values, in two renderings.

    Attributes
    ----------
    name : str
        The id of the bundle in the page (``rnnbook-explore-<name>``).
    names : list of str
        The controls, in grid order.
    labels, values : list of lists
        Per control, the labels shown and the values passed to ``draw``.
    kinds : list of str
        Per control, ``"slider"`` or ``"select"``.
    frames : list of bytes
        The PNG of every grid point, row-major over the controls (the last varies fastest):
        frame ``k`` of the indices ``(i_1, ..., i_n)`` is ``k = (..(i_1 n_2 + i_2)..) n_n + i_n``.
    alts : list of str
        The alt text of every frame.
    start : tuple of int
        The indices of the initial frame.
    live : rnnbook.widgets.InteractiveFigure
        The kernel's version: its controls redraw the figure for any value.
    box : ipywidgets.VBox
        The live figure (an ipywidgets.Image) above the live controls.
    """

    name: str
    names: list[str]
    labels: list[list[str]]
    values: list[list[Any]]
    kinds: list[str]
    frames: list[bytes]
    alts: list[str]
    start: tuple[int, ...]
    live: Any = field(repr=False)
    box: Any = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    def index(self, indices: Sequence[int]) -> int:
        """The frame number of the control indices ``indices`` (row-major)."""
        if len(indices) != len(self.shape):
            raise ValueError(f"indices must give one index per control {self.names}")
        k = 0
        for i, n in zip(indices, self.shape, strict=True):
            if not 0 <= i < n:
                raise ValueError(f"index {i} out of range for a control with {n} values")
            k = k * n + i
        return k

    def frame(self, **values: Any) -> bytes:
        """The stored PNG for one value of every control, e.g. ``frame(w=1.0, T=100)``."""
        if set(values) != set(self.names):
            raise ValueError(f"give one value for each control {self.names}, got {sorted(values)}")
        indices = []
        for name, options in zip(self.names, self.values, strict=True):
            hits = [i for i, v in enumerate(options) if _same(v, values[name])]
            if not hits:
                raise ValueError(f"{name}={values[name]!r} is not in the grid {options}")
            indices.append(hits[0])
        return self.frames[self.index(indices)]

    def html(self) -> str:
        """The self-contained bundle the site shows: controls, figure, frames, script."""
        uid = f"rnnbook-explore-{self.name}"
        controls = []
        for a, (name, labels, kind) in enumerate(
            zip(self.names, self.labels, self.kinds, strict=True)
        ):
            cid, start = f"{uid}-{name}", self.start[a]
            label = f'<label for="{cid}">{html.escape(name)}</label>'
            if kind == "slider":
                widget = (
                    f'<input type="range" id="{cid}" data-axis="{a}" min="0" '
                    f'max="{len(labels) - 1}" step="1" value="{start}" '
                    f'aria-valuetext="{html.escape(name)} = {html.escape(labels[start])}">'
                    f'<output for="{cid}" aria-hidden="true">{html.escape(labels[start])}</output>'
                )
            else:
                options = "".join(
                    f'<option value="{i}"{" selected" if i == start else ""}>'
                    f"{html.escape(text)}</option>"
                    for i, text in enumerate(labels)
                )
                widget = f'<select id="{cid}" data-axis="{a}">{options}</select>'
            controls.append(f'<div class="rnnbook-explorable-control">{label}{widget}</div>')
        k = self.index(self.start)
        data = {
            "names": self.names,
            "shape": list(self.shape),
            "labels": self.labels,
            "alts": self.alts,
            "frames": [_uri(f) for f in self.frames],
        }
        payload = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
        payload = payload.replace("</", "<\\/")  # never closes the script element early
        return (
            f'<div class="rnnbook-explorable" id="{uid}" data-frames="{len(self.frames)}">'
            f"<style>{_STYLE}</style>"
            f'<div class="rnnbook-explorable-controls" role="group" '
            f'aria-label="Controls of the figure: {html.escape(", ".join(self.names))}">'
            f"{''.join(controls)}</div>"
            f'<div class="rnnbook-explorable-card"><img class="rnnbook-explorable-frame" '
            f'src="{_uri(self.frames[k])}" alt="{html.escape(self.alts[k])}" '
            f'data-frame="{k}"></div>'
            f'<script type="application/json" class="rnnbook-explorable-data">{payload}</script>'
            f"<script>{SCRIPT}</script></div>"
        )

    def text(self) -> str:
        shape = " x ".join(f"{n} ({len(v)})" for n, v in zip(self.names, self.values, strict=True))
        return f"<explorable {self.name}: {len(self.frames)} frames over {shape}>"

    def mimebundle(self) -> dict[str, Any]:
        """The display output: the widget view (kernel), the HTML bundle (site), a PNG."""
        bundle: dict[str, Any] = {}
        if self.box is not None:
            view = self.box._repr_mimebundle_() or {}
            key = "application/vnd.jupyter.widget-view+json"
            if key in view:
                bundle[key] = view[key]
        bundle["text/html"] = self.html()
        bundle["image/png"] = base64.b64encode(self.frames[self.index(self.start)]).decode()
        bundle["text/plain"] = self.text()
        return bundle

    def show(self) -> None:
        """Display both renderings as one output."""
        from IPython.display import display

        display(self.mimebundle(), raw=True)

    def _ipython_display_(self) -> None:
        """Displayed once when created; showing the returned object again adds nothing."""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def _live_controls(axes: list, kinds: list[str], start: tuple[int, ...]) -> dict[str, Any]:
    """Default kernel controls: a SelectionSlider or a Dropdown over each grid axis."""
    import ipywidgets

    controls = {}
    for (name, labels, values), kind, i in zip(axes, kinds, start, strict=True):
        options = list(zip(labels, values, strict=True))
        cls = ipywidgets.SelectionSlider if kind == "slider" else ipywidgets.Dropdown
        extra = {"continuous_update": False} if kind == "slider" else {}
        controls[name] = cls(options=options, value=values[i], description=name, **extra)
    return controls


def figure(
    draw: Callable[..., Figure] | Any,
    grid: Mapping[str, Any],
    *,
    name: str,
    alt: str | Callable[..., str],
    kinds: Mapping[str, str] | None = None,
    start: Mapping[str, Any] | None = None,
    dpi: float | None = None,
    colors: int = 64,
    max_bytes: int = MAX_BYTES,
    show: bool = True,
) -> Explorable:
    """Draw a figure for every point of ``grid``; show it movable in a kernel and on the site.

    Parameters
    ----------
    draw : callable (**values) -> matplotlib Figure, or a widgets.InteractiveFigure
        Called once per grid point with one keyword argument per control. An
        :class:`rnnbook.widgets.InteractiveFigure` made with ``show=False`` (for example
        ``widgets.lstm_gates(show=False)``) gives its ``draw`` and its own controls, which
        are then the kernel's version; otherwise the kernel gets a slider or drop-down list
        over each grid axis (:func:`rnnbook.widgets.interactive_figure`).
    grid : dict name -> list of values, or name -> dict label -> value
        The values the site offers, per control (at least 2 each). The frames are every
        combination: keep the product small (a frame is 10-40 kB).
    name : str
        Lower-case letters, digits and hyphens, unique on the page: the bundle's id.
    alt : str or callable (**values) -> str
        The alt text of the figure; a string gets the values appended, e.g.
        ``"... (w = 1.01, T = 100)"``.
    kinds : dict name -> "slider" or "select", optional
        Default: a slider for numbers, a drop-down list otherwise.
    start : dict name -> value, optional
        The initial frame (values in the grid). Default: the live controls' values where
        they are in the grid, else each axis's first value.
    dpi : float, optional
        Resolution of the frames (default the figure's own, 100).
    colors : int
        The frames are quantized to this many colours (2..256) and PNG-compressed.
    max_bytes : int
        The largest stored HTML accepted (default :data:`MAX_BYTES`).
    show : bool
        Display at once (default). With False, call ``.show()`` later.

    Returns
    -------
    Explorable
        ``frames`` holds the PNG of every grid point; ``html()`` is the site's bundle.

    Raises
    ------
    ValueError
        An empty grid, an axis with fewer than 2 values, a start value outside the grid,
        an unknown kind, or a bundle larger than ``max_bytes``.
    TypeError
        ``draw`` not callable or not returning a Figure; a grid axis that is not a list.
    """
    from rnnbook import widgets

    live = draw if isinstance(draw, widgets.InteractiveFigure) else None
    if live is not None:
        if live.handle is not None:
            raise ValueError(
                "draw is an InteractiveFigure that is already displayed: make it with show=False"
            )
        draw = live.draw
    if not callable(draw):
        raise TypeError(
            f"draw must be a function (**values) -> Figure or an InteractiveFigure, "
            f"got {type(draw).__name__}"
        )
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must be lower-case letters, digits and hyphens, got {name!r}")
    if not (isinstance(alt, str) and alt.strip()) and not callable(alt):
        raise TypeError("alt must be a non-empty string or a function (**values) -> str")
    if isinstance(colors, bool) or not isinstance(colors, int) or not 2 <= colors <= 256:
        raise ValueError(f"colors must be an int from 2 to 256, got {colors!r}")
    axes = _axes(grid)
    names = [a[0] for a in axes]
    if live is not None and set(names) - set(live.controls):
        raise ValueError(
            f"grid names {sorted(set(names) - set(live.controls))} are not controls of the "
            f"InteractiveFigure {sorted(live.controls)}"
        )
    kinds = dict(kinds or {})
    if set(kinds) - set(names):
        raise ValueError(f"kinds names {sorted(set(kinds) - set(names))} are not in the grid")
    kind_list = []
    for n, _, values in axes:
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
        kind = kinds.get(n, "slider" if numeric else "select")
        if kind not in ("slider", "select"):
            raise ValueError(f"kinds[{n!r}] must be 'slider' or 'select', got {kind!r}")
        kind_list.append(kind)

    wanted = dict(start or {})
    if set(wanted) - set(names):
        raise ValueError(f"start names {sorted(set(wanted) - set(names))} are not in the grid")
    if live is not None:
        for n in names:
            wanted.setdefault(n, live.controls[n].value)
    start_idx = []
    for n, _, values in axes:
        hits = [i for i, v in enumerate(values) if n in wanted and _same(v, wanted[n])]
        if n in (start or {}) and not hits:
            raise ValueError(f"start[{n!r}] = {wanted[n]!r} is not in grid[{n!r}] = {values}")
        start_idx.append(hits[0] if hits else 0)
    start_t = tuple(start_idx)

    fixed: dict[str, Any] = {}
    if live is not None:  # controls of the live figure that the grid does not move
        fixed = {n: w.value for n, w in live.controls.items() if n not in names}

    frames, alts = [], []
    for combo in itertools.product(*(range(len(a[2])) for a in axes)):
        values = {n: axes[a][2][i] for a, (n, i) in enumerate(zip(names, combo, strict=True))}
        frames.append(_png(draw(**fixed, **values), dpi, colors))
        if callable(alt):
            alts.append(str(alt(**values)))
        else:
            state = ", ".join(
                f"{n} = {axes[a][1][i]}" for a, (n, i) in enumerate(zip(names, combo, strict=True))
            )
            alts.append(f"{alt} ({state})")

    result = Explorable(
        name=name,
        names=names,
        labels=[a[1] for a in axes],
        values=[a[2] for a in axes],
        kinds=kind_list,
        frames=frames,
        alts=alts,
        start=start_t,
        live=None,
        box=None,
    )
    size = len(result.html().encode())
    if size > max_bytes:
        raise ValueError(
            f"the explorable {name!r} stores {size:,} bytes, more than max_bytes = {max_bytes:,}: "
            f"use fewer grid values ({len(frames)} frames now), a lower dpi or fewer colors"
        )
    result.live, result.box = _live(live, draw, axes, kind_list, start_t, result)
    if show:
        result.show()
    return result


def _live(live: Any, draw: Callable, axes: list, kinds: list, start: tuple, result: Explorable):
    """The kernel's version: an ipywidgets.Image above the controls, redrawn by the kernel."""
    import ipywidgets

    from rnnbook import widgets

    if live is None:
        live = widgets.interactive_figure(draw, _live_controls(axes, kinds, start), show=False)
    else:
        for (n, _, values), i in zip(axes, start, strict=True):
            control = live.controls[n]
            if not _same(control.value, values[i]):
                control.value = values[i]  # redraws the live figure at the start values
    image = ipywidgets.Image(value=live.image.data, format="png", layout={"max_width": "100%"})

    def copy(change: object = None) -> None:
        image.value = live.image.data  # after live.redraw (observers run in order)

    for control in live.controls.values():
        control.observe(copy, names="value")
    return live, ipywidgets.VBox([image, live.box])
