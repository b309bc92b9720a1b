"""The explorables (rnnbook.explorable) on the built site, in Chromium, on every chapter page.

A reader moves a figure with no kernel and no network: each chapter page holds at least one
explorable; operating each control (mouse-free: the keyboard, and a drop-down selection)
changes its figure; the figure shown for a control value is the frame the notebook stored
for that value; nothing is requested from outside the site; the figure fits a 390 px
column and sits on a light card in the theme's dark mode.

Uses the fixtures of tests/site_fixtures.py (the built site served on loopback, Chromium with
every outside request blocked and recorded). ``RNNBOOK_SITE=/path/to/_build/html`` tests
a site built elsewhere (``jupyter-book build . --path-output DIR``) instead of building
``_build/html``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from site_fixtures import CHROMIUM, ROOT
from test_site import CHAPTERS

pytestmark = [
    pytest.mark.site,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="the site tests need Debian's chromium: apt-get install -y chromium",
    ),
]

_DATA = re.compile(
    r'<script type="application/json" class="rnnbook-explorable-data">(.*?)</script>'
)


def stored(page: str) -> dict[str, dict]:
    """The explorables stored in the chapter's notebook: bundle id -> its data."""
    nb = json.loads((ROOT / page.replace(".html", ".ipynb")).read_text())
    found = {}
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", ""))
            if "rnnbook-explorable" not in html:
                continue
            uid = re.search(r'class="rnnbook-explorable" id="([^"]+)"', html).group(1)
            found[uid] = json.loads(_DATA.search(html).group(1).replace("<\\/", "</"))
    return found


def shown(v, uid: str) -> dict:
    """What the reader sees of one explorable: its frame number, image and controls."""
    return v.page.evaluate(
        """(uid) => {
            const root = document.getElementById(uid);
            const img = root.querySelector('img.rnnbook-explorable-frame');
            return {
                ready: root.getAttribute('data-ready'),
                frame: Number(img.getAttribute('data-frame')),
                src: img.getAttribute('src'), alt: img.getAttribute('alt'),
                loaded: img.complete && img.naturalWidth > 0,
                values: [...root.querySelectorAll('[data-axis]')].map(e => Number(e.value)),
            };
        }""",
        uid,
    )


def frame_of(data: dict, indices: list[int]) -> int:
    k = 0
    for i, n in zip(indices, data["shape"], strict=True):
        k = k * n + i
    return k


@pytest.mark.parametrize("path", CHAPTERS)
def test_every_chapter_has_a_working_explorable(visit, path):
    bundles = stored(path)
    assert bundles, f"{path}: the notebook stores no explorable (rnnbook.explorable)"
    v = visit(path)
    on_page = v.page.evaluate(
        "() => [...document.querySelectorAll('.rnnbook-explorable')].map(e => e.id)"
    )
    assert sorted(on_page) == sorted(bundles), f"{path}: page shows {on_page}"
    for uid in bundles:
        s = shown(v, uid)
        assert s["ready"] == "1", f"{path}: the script of {uid} did not run"
        assert s["loaded"] and s["src"].startswith("data:image/png;base64,")
        labels = v.page.evaluate(
            """(uid) => [...document.getElementById(uid).querySelectorAll('[data-axis]')]
                .map(e => (document.querySelector(`label[for="${e.id}"]`) || {}).textContent)""",
            uid,
        )
        assert labels == bundles[uid]["names"], f"{path}: {uid}'s controls need visible labels"
    assert v.external == [], f"{path} requested from outside the site: {v.external}"
    assert v.errors == [], f"{path}: {v.errors}"


@pytest.mark.parametrize("path", CHAPTERS)
def test_each_control_shows_the_stored_frame_for_its_value(visit, path):
    """Set every control to every value (others at their start): the stored frame shows."""
    v = visit(path)
    for uid, data in stored(path).items():
        start = shown(v, uid)["values"]
        assert shown(v, uid)["src"] == data["frames"][frame_of(data, start)]
        for axis, n in enumerate(data["shape"]):
            control = v.page.locator(f"#{uid} [data-axis='{axis}']")
            for i in [*range(n), start[axis]]:
                if control.evaluate("e => e.tagName") == "SELECT":
                    control.select_option(str(i))
                else:  # a range input: set it as a drag would, with an input event
                    control.evaluate(
                        "(e, i) => { e.value = i; e.dispatchEvent(new Event('input')); }", i
                    )
                want = list(start)
                want[axis] = i
                s = shown(v, uid)
                k = frame_of(data, want)
                assert s["values"] == want and s["frame"] == k, f"{path} {uid}: {s['values']}"
                assert s["src"] == data["frames"][k], f"{path} {uid}: wrong frame for {want}"
                assert s["alt"] == data["alts"][k]
            seen = {
                data["frames"][frame_of(data, [*start[:axis], i, *start[axis + 1 :]])]
                for i in range(n)
            }
            assert len(seen) > 1, f"{path} {uid}: moving {data['names'][axis]} changes nothing"
    assert v.external == [] and v.errors == [], (v.external, v.errors)


@pytest.mark.parametrize("path", CHAPTERS)
def test_the_keyboard_moves_every_control(visit, path):
    v = visit(path)
    for uid, data in stored(path).items():
        for axis in range(len(data["shape"])):
            control = v.page.locator(f"#{uid} [data-axis='{axis}']")
            control.focus()
            v.page.keyboard.press("Home")
            first = shown(v, uid)
            assert first["values"][axis] == 0, f"{path} {uid}: Home does not select the first"
            v.page.keyboard.press("ArrowRight" if control.get_attribute("type") else "ArrowDown")
            after = shown(v, uid)
            assert after["values"][axis] == 1, f"{path} {uid}: an arrow key does not move it"
            assert after["src"] == data["frames"][frame_of(data, after["values"])]
            assert after["src"] != first["src"] or len(set(data["frames"])) == 1
            if control.get_attribute("type") == "range":
                valuetext = control.get_attribute("aria-valuetext")
                assert valuetext == f"{data['names'][axis]} = {data['labels'][axis][1]}"


@pytest.mark.parametrize("path", CHAPTERS)
def test_explorables_fit_a_phone_and_stay_readable_in_dark_mode(visit, path):
    v = visit(path, width=390)
    v.page.evaluate("() => { document.documentElement.dataset.theme = 'dark'; }")
    for uid in stored(path):
        box = v.page.evaluate(
            """(uid) => {
                const root = document.getElementById(uid);
                const img = root.querySelector('img'), card = img.parentElement;
                const r = img.getBoundingClientRect(), c = root.getBoundingClientRect();
                return {img: [r.left, r.right], root: [c.left, c.right],
                        view: window.innerWidth, scroll: root.scrollWidth,
                        client: root.clientWidth,
                        card: getComputedStyle(card).backgroundColor,
                        label: getComputedStyle(root.querySelector('label')).color,
                        page: getComputedStyle(document.body).backgroundColor};
            }""",
            uid,
        )
        assert box["img"][0] >= 0 and box["img"][1] <= box["view"], f"{path} {uid}: {box}"
        assert box["scroll"] <= box["client"] + 1, f"{path} {uid} overflows its column: {box}"
        assert box["card"] == "rgb(255, 255, 255)", f"{path} {uid}: figure not on a light card"
        assert box["label"] != box["page"], f"{path} {uid}: labels invisible in dark mode"
