"""rnnbook.explorable: frames for every grid point, the HTML bundle, the kernel's widgets."""

from __future__ import annotations

import base64
import json
import re

import ipywidgets
import numpy as np
import pytest
from matplotlib.figure import Figure

from rnnbook import explorable, plots, widgets

CALLS: list[dict] = []


def draw(a, b="x"):
    """A tiny figure whose pixels depend on both values."""
    CALLS.append({"a": a, "b": b})
    fig = Figure(figsize=(1.2, 0.8), dpi=50)
    ax = fig.add_subplot()
    ax.bar([0, 1], [a, 2.0 if b == "x" else 0.5], color=plots.PALETTE[0])
    ax.set_ylim(0, 3)
    ax.set_title(f"{a} {b}", fontsize=6)
    return fig


def make(**kwargs):
    CALLS.clear()
    args = dict(name="t", alt="bars", show=False)
    args.update(kwargs)
    grid = args.pop("grid", {"a": [0.5, 1.0, 2.5], "b": ["x", "y"]})
    return explorable.figure(args.pop("draw", draw), grid, **args)


def payload(html: str) -> dict:
    block = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)
    return json.loads(block.group(1).replace("<\\/", "</"))


def test_a_frame_for_every_grid_point_row_major():
    e = make()
    grid = [{"a": a, "b": b} for a in (0.5, 1.0, 2.5) for b in ("x", "y")]
    assert CALLS[:6] == grid  # then the kernel version draws its first figure
    assert e.shape == (3, 2) and len(e.frames) == 6 and len(set(e.frames)) == 6
    assert all(f.startswith(b"\x89PNG") for f in e.frames)
    assert e.frame(a=2.5, b="x") == e.frames[4] == e.frames[e.index((2, 0))]
    assert e.kinds == ["slider", "select"]
    assert e.alts[1] == "bars (a = 0.5, b = y)"


def test_the_frames_are_what_draw_draws_for_that_value():
    e = make()
    again = explorable._png(draw(1.0, "y"), None, 64)
    assert e.frame(a=1.0, b="y") == again


def test_the_html_bundle_holds_every_frame_labels_and_controls():
    e = make(start={"a": 1.0, "b": "y"})
    html = e.html()
    data = payload(html)
    assert data["shape"] == [3, 2] and data["names"] == ["a", "b"]
    assert data["labels"] == [["0.5", "1", "2.5"], ["x", "y"]]
    frames = [base64.b64decode(u.split(",", 1)[1]) for u in data["frames"]]
    assert frames == e.frames
    assert e.start == (1, 1) and 'data-frame="3"' in html
    assert '<label for="rnnbook-explore-t-a">a</label>' in html
    assert 'type="range"' in html and 'max="2"' in html and 'value="1"' in html
    assert 'aria-valuetext="a = 1"' in html
    assert '<option value="1" selected>y</option>' in html
    assert "<script>" + explorable.SCRIPT + "</script>" in html
    assert "http" not in html.replace(explorable.SCRIPT, "")  # nothing loaded from outside


def test_mimebundle_has_the_widget_view_the_html_and_a_png():
    e = make()
    bundle = e.mimebundle()
    assert set(bundle) == {
        "application/vnd.jupyter.widget-view+json",
        "text/html",
        "image/png",
        "text/plain",
    }
    assert base64.b64decode(bundle["image/png"]) == e.frames[0]
    assert bundle["text/plain"] == "<explorable t: 6 frames over a (3) x b (2)>"


def test_kernel_version_redraws_any_value_from_the_live_controls():
    e = make()
    image, box = e.box.children
    assert isinstance(image, ipywidgets.Image) and box is e.live.box
    assert bytes(image.value) == e.live.image.data and e.live.values() == {"a": 0.5, "b": "x"}
    slider = e.live.controls["a"]
    assert isinstance(slider, ipywidgets.SelectionSlider)
    before = bytes(image.value)
    slider.value = 2.5
    assert e.live.values() == {"a": 2.5, "b": "x"} and CALLS[-1] == {"a": 2.5, "b": "x"}
    assert bytes(image.value) == e.live.image.data != before


def test_an_interactive_figure_gives_draw_and_its_own_controls():
    live = widgets.interactive_figure(
        draw,
        {
            "a": ipywidgets.FloatSlider(value=1.0, min=0, max=3),
            "b": ipywidgets.Dropdown(options=["x", "y"], value="y"),
        },
        show=False,
    )
    e = explorable.figure(live, {"a": [0.5, 1.0]}, name="live", alt="bars", show=False)
    assert e.live is live and e.shape == (2,) and e.start == (1,)
    assert e.frames[1] == explorable._png(draw(1.0, "y"), None, 64)  # b held at its value
    live.controls["a"].value = 2.9  # a value off the grid: the kernel draws it
    assert e.box.children[0].value == live.image.data


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(grid={}), ValueError, "grid must be a non-empty dict"),
        (dict(grid={"a": [1.0]}), ValueError, r"grid\['a'\] needs at least 2 values"),
        (dict(grid={"a": 3}), TypeError, r"grid\['a'\] must be a list of values"),
        (dict(grid={"a": [1, 1]}), ValueError, "repeated values"),
        (dict(grid={"not a name": [1, 2]}), ValueError, "argument names"),
        (dict(draw=3), TypeError, "draw must be a function"),
        (dict(draw=lambda a, b: 1), TypeError, "draw must return a matplotlib Figure"),
        (dict(name="Bad Name"), ValueError, "name must be lower-case"),
        (dict(alt=""), TypeError, "alt must be a non-empty string"),
        (dict(kinds={"a": "knob"}), ValueError, "must be 'slider' or 'select'"),
        (dict(start={"a": 7.0}), ValueError, r"start\['a'\] = 7.0 is not in grid"),
        (dict(colors=1), ValueError, "colors must be an int from 2 to 256"),
        (dict(max_bytes=2000), ValueError, "more than max_bytes = 2,000: use fewer grid values"),
    ],
)
def test_bad_input_is_refused_with_a_message(kwargs, error, message):
    with pytest.raises(error, match=message):
        make(**kwargs)


def test_size_limit_counts_the_whole_bundle():
    e = make()
    size = len(e.html().encode())
    make(max_bytes=size)  # exactly at the limit: accepted
    with pytest.raises(ValueError, match="stores"):
        make(max_bytes=size - 1)


def test_a_displayed_interactive_figure_is_refused():
    live = widgets.interactive_figure(
        draw, {"a": ipywidgets.FloatSlider(value=1.0, min=0, max=3)}, show=False
    )
    live.handle = object()  # as after show()
    with pytest.raises(ValueError, match="make it with show=False"):
        explorable.figure(live, {"a": [0.5, 1.0]}, name="x", alt="a", show=False)


def test_the_frames_are_small_palette_pngs():
    import io

    from PIL import Image

    e = make(grid={"a": list(np.linspace(0.5, 2.5, 5)), "b": ["x", "y"]})
    for f in e.frames:
        image = Image.open(io.BytesIO(f))
        assert image.mode == "P" and image.size == (60, 40)  # fixed size: no page jumps
    assert max(map(len, e.frames)) < 3000
