"""The site as readers see it: every page of the toc in headless Chromium.

Builds the site from the stored outputs (Sphinx warnings are errors), serves it on
loopback and opens each page in Debian's chromium through Playwright, with every request
that would leave the machine blocked and recorded: the site must work offline.

Without chromium these tests are skipped with a message saying how to install it.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import pytest
import setup_cells
import toc_notebooks
from site_fixtures import CHROMIUM  # the fixtures: see tests/conftest.py

PAGES = [entry + ".html" for entry in toc_notebooks.toc_files()]
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
MAX_PAGE_BYTES = 3 * 1024 * 1024

pytestmark = [
    pytest.mark.site,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="the site tests need Debian's chromium: apt-get install -y chromium",
    ),
]


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_without_console_errors(visit, path):
    v = visit(path)
    assert v.external == [], f"{path} requested resources from outside the site: {v.external}"
    assert v.errors == [], f"{path}: {v.errors}"


@pytest.mark.parametrize("path", PAGES)
def test_images_load_and_have_alt_text(visit, path):
    v = visit(path)
    images = v.page.evaluate(
        """() => [...document.querySelectorAll('main img')].map(img => ({
            src: img.getAttribute('src'),
            loaded: img.complete && img.naturalWidth > 0,
            alt: (img.getAttribute('alt') || '').trim(),
            caption: !!img.closest('figure')?.querySelector('figcaption'),
        }))"""
    )
    for img in images:
        assert img["loaded"], f"{path}: image {img['src']} did not load"
        alt_is_filename = img["alt"].lower().endswith((".png", ".jpg", ".svg"))
        assert (img["alt"] and not alt_is_filename) or img["caption"], (
            f"{path}: image {img['src']} has no alt text or caption (alt={img['alt']!r}); "
            'set the cell metadata {"mystnb": {"image": {"alt": "..."}}}'
        )


@pytest.mark.parametrize("path", PAGES)
def test_math_is_typeset(visit, path):
    v = visit(path)
    result = v.page.evaluate(
        """() => {
            const math = [...document.querySelectorAll('main .math')];
            const untypeset = math.filter(m => !m.querySelector('mjx-container'))
                                  .map(m => m.textContent.slice(0, 60));
            const article = document.querySelector('main article') || document.body;
            const clone = article.cloneNode(true);
            clone.querySelectorAll('pre, code, mjx-container, script, .highlight')
                 .forEach(e => e.remove());
            return {count: math.length, untypeset, text: clone.textContent};
        }"""
    )
    assert result["untypeset"] == [], f"{path}: MathJax left these formulas raw"
    for raw in ("$$", "\\(", "\\[", "\\begin{"):
        assert raw not in result["text"], f"{path}: raw TeX {raw!r} is visible in the text"


@pytest.mark.parametrize("path", CHAPTERS)
def test_launch_and_download_buttons(visit, path):
    v = visit(path)
    url, branch = setup_cells.repository()
    owner_repo = urllib.parse.urlparse(url).path.strip("/")
    notebook = path.replace(".html", ".ipynb")
    copy = "colab/" + notebook.rsplit("/", 1)[-1]  # the reader's copy (tools/render.py)
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{copy}"
    hrefs = v.page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
    assert colab in hrefs, f"{path}: no Colab launch button to {colab}"
    download = v.page.evaluate(
        "() => [...document.querySelectorAll('.dropdown-download-buttons a')]"
        ".map(a => a.href).filter(h => h.endsWith('.ipynb'))"
    )
    assert download, f"{path}: the download menu offers no .ipynb"
    body = v.page.evaluate("async (u) => (await fetch(u)).text()", download[0])
    assert "cells" in json.loads(body), f"{path}: the downloaded .ipynb is not a notebook"
    assert json.loads(body)["metadata"]["rnnbook"]["source"] == notebook, f"{path}: not the copy"


@pytest.mark.parametrize("path", CHAPTERS)
def test_solutions_are_folded_and_open_on_click(visit, path):
    v = visit(path)
    solutions = v.page.locator("main .solution.dropdown")
    n = solutions.count()
    assert n > 0, f"{path}: a chapter ends with exercises and their solutions"
    for k in range(n):
        solution = solutions.nth(k)
        body = solution.locator("section").first  # sphinx-exercise's solution content
        assert not body.is_visible(), f"{path}: solution {k + 1} is not folded by default"
        # sphinx-togglebutton's button (the title itself links to the exercise)
        solution.locator("button.toggle-button").first.click()
        body.wait_for(state="visible", timeout=5_000)


@pytest.mark.parametrize("path", PAGES)
def test_internal_links_and_anchors_resolve(visit, site, path):
    v = visit(path)
    links = v.page.evaluate(
        "() => [...document.querySelectorAll('main a[href], nav a[href]')]"
        ".map(a => a.getAttribute('href'))"
    )
    for href in sorted(set(links)):
        parsed = urllib.parse.urlparse(href)
        if parsed.scheme or href.startswith("mailto:"):
            continue
        target = (site / path).parent / urllib.parse.unquote(parsed.path) if parsed.path else None
        target = (target or site / path).resolve()
        assert target.exists(), f"{path}: broken link {href}"
        if parsed.fragment and target.suffix == ".html":
            html = target.read_text(errors="ignore")
            assert f'id="{parsed.fragment}"' in html, f"{path}: missing anchor {href}"


def test_search_finds_a_chapter_by_a_term_from_its_body(visit):
    terms = {"hidden state": "notebooks/01_naive_rnn.html"}
    if "notebooks/03_lstm.html" in PAGES:
        terms["forget gate"] = "notebooks/03_lstm.html"
    for term, page in terms.items():
        v = visit("search.html?q=" + urllib.parse.quote_plus(term))
        v.page.wait_for_selector("#search-results ul.search li", timeout=20_000)
        found = v.page.evaluate(
            "() => [...document.querySelectorAll('#search-results ul.search li a')]"
            ".map(a => a.getAttribute('href'))"
        )
        assert any(page in (href or "") for href in found), f"search {term!r} gave {found}"


@pytest.mark.parametrize("path", CHAPTERS)
def test_no_horizontal_scrolling_at_phone_width(visit, path):
    v = visit(path, width=390)
    widths = v.page.evaluate(
        """() => {
            const a = document.querySelector('main article') || document.body;
            return {page: document.documentElement.scrollWidth, view: window.innerWidth,
                    article: a.scrollWidth, articleClient: a.clientWidth};
        }"""
    )
    assert widths["page"] <= widths["view"] + 1, f"{path}: the page scrolls sideways: {widths}"
    assert widths["article"] <= widths["articleClient"] + 1, f"{path}: text column overflows"


def test_site_size(site):
    total = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    sizes = {}
    for page in CHAPTERS:
        html = (site / page).read_text()
        srcs = re.findall(r'<img[^>]+src="([^"]+)"', html)
        # an image inlined as a data: URI (an explorable figure's frames) is in the page
        images = {urllib.parse.unquote(src) for src in srcs if not src.startswith("data:")}
        files = [site / page] + [(site / page).parent / src for src in images]
        sizes[page] = sum(f.stat().st_size for f in files if f.exists())
    largest = max(sizes, key=sizes.get) if sizes else None
    print(f"\n_build/html: {total / 1e6:.1f} MB in all")
    if largest:
        print(f"largest chapter page with its images: {largest}, {sizes[largest] / 1e6:.2f} MB")
    for page, size in sizes.items():
        assert size <= MAX_PAGE_BYTES, f"{page} with its images is {size / 1e6:.1f} MB (> 3 MB)"


# The page a student reads (issue 17): what a chapter shows before any click.

_VISIBLE = "(e) => e.checkVisibility({visibilityProperty: true, opacityProperty: true})"


@pytest.mark.parametrize("path", CHAPTERS)
def test_code_solutions_are_folded_behind_show_solution(visit, path):
    """A code exercise's solution is folded, under a "Show solution" toggle, closed."""
    v = visit(path)
    found = v.page.evaluate(
        f"""() => {{
            const visible = {_VISIBLE};
            return [...document.querySelectorAll('main pre')]
                .filter(p => p.textContent.includes('BEGIN SOLUTION'))
                .map(p => ({{
                    shown: visible(p),
                    toggle: p.closest('details')?.querySelector('summary')?.innerText.trim(),
                    open: !!p.closest('details')?.open,
                }}));
        }}"""
    )
    assert found, f"{path}: a chapter ends with code exercises and their solutions"
    for k, solution in enumerate(found, 1):
        assert not solution["shown"] and not solution["open"], (
            f"{path}: code solution {k} is in plain view; tag its cell hide-input"
        )
        assert solution["toggle"] == "Show solution", (
            f"{path}: code solution {k}'s toggle reads {solution['toggle']!r}; set its cell "
            'metadata "mystnb": {"code_prompt_show": "Show solution", ...}'
        )
    v.page.locator("main details.hide summary", has_text="Show solution").first.click()
    v.page.wait_for_function(
        """() => [...document.querySelectorAll('main pre')]
            .some(p => p.textContent.includes('BEGIN SOLUTION') && p.checkVisibility())""",
        timeout=5_000,
    )


@pytest.mark.parametrize("path", CHAPTERS)
def test_no_build_leftovers_or_checks_in_view(visit, path):
    """No nbval markers, no placeholder of the build, no assert in a cell the reader sees."""
    v = visit(path)
    shown = v.page.evaluate(
        f"""() => {{
            const visible = {_VISIBLE};
            const main = document.querySelector('main');
            const code = [...main.querySelectorAll('div.cell_input pre')].filter(visible)
                .map(p => p.textContent);
            return {{text: main.innerText, code}};
        }}"""
    )
    for leftover in ("NBVAL", "setup cell: replaced"):
        assert leftover not in shown["text"], f"{path}: {leftover!r} is visible on the page"
    asserting = [c[:80] for c in shown["code"] if re.search(r"^\s*assert\b", c, re.M)]
    assert not asserting, (
        f"{path}: code cells in view assert (move the asserts to a hide-cell cell): {asserting}"
    )


def _overflowing_code(page) -> list[str]:
    return page.evaluate(
        f"""() => {{
            const visible = {_VISIBLE};
            return [...document.querySelectorAll('main pre')].filter(visible)
                .filter(p => p.scrollWidth > p.clientWidth + 1)
                .map(p => `${{p.scrollWidth}} > ${{p.clientWidth}} px: `
                          + p.textContent.split('\\n').reduce(
                                (a, b) => (b.length > a.length ? b : a), ''));
        }}"""
    )


@pytest.mark.parametrize("path", CHAPTERS)
def test_code_fits_its_column_at_1280px(visit, path):
    """No code block or printed output is wider than its column: nothing is cut off."""
    v = visit(path, width=1280)
    wide = _overflowing_code(v.page)
    assert not wide, (
        f"{path}: {len(wide)} code blocks are wider than their column at 1280 px "
        f"(the widest line of each; `ruff format notebooks/` formats to the column): {wide}"
    )
    v.page.evaluate("() => document.querySelectorAll('main details').forEach(d => d.open = true)")
    wide = _overflowing_code(v.page)
    assert not wide, f"{path}: folded code blocks, opened, are wider than the column: {wide}"


@pytest.mark.parametrize("path", CHAPTERS)
def test_display_equations_fit_a_phone_screen(visit, path):
    """At 390 px every display equation fits (split long ones with aligned)."""
    v = visit(path, width=390)
    wide = v.page.evaluate(
        """() => [...document.querySelectorAll('main mjx-container[display="true"]')]
            .filter(m => m.checkVisibility())
            .map(m => ({width: m.querySelector('mjx-math').getBoundingClientRect().width,
                        box: m.getBoundingClientRect().width,
                        left: m.getBoundingClientRect().left,
                        tex: (m.closest('.math')?.textContent || '').slice(0, 80)}))
            .filter(m => m.width > m.box + 1 || m.left + m.width > innerWidth + 1)"""
    )
    assert not wide, f"{path}: display equations wider than a 390 px screen: {wide}"


@pytest.mark.parametrize("path", CHAPTERS)
def test_output_figures_are_numbered_and_captioned(visit, path):
    """Every figure a cell draws has a numbered caption and can be referred to.

    An output figure is an image a cell displays, or an explorable figure (HTML whose
    frames are images, rnnbook.explorable): each sits in a figure with a numbered caption
    and a name (the cell metadata "mystnb": {"figure": {"caption": ..., "name": ...}}).
    """
    v = visit(path)
    result = v.page.evaluate(
        """() => {
            const outputs = [...document.querySelectorAll(
                'main div.cell_output img, main div.cell_output .rnnbook-explorable')]
                .map(e => e.closest('.rnnbook-explorable') || e);
            const missing = [], figures = new Set();
            for (const out of new Set(outputs)) {
                const fig = out.closest('figure');
                const cap = fig?.querySelector(':scope > figcaption');
                const ok = fig && fig.id && cap?.querySelector('.caption-number')
                           && cap.querySelector('.caption-text')?.innerText.trim();
                if (ok) figures.add(fig);
                else missing.push(out.getAttribute('src')?.slice(0, 60) || out.id);
            }
            return {missing, ids: [...figures].map(f => f.id)};
        }"""
    )
    assert not result["missing"], (
        f"{path}: output figures without a numbered caption: {result['missing']}; set the "
        'cell metadata "mystnb": {"figure": {"caption": "...", "name": "fig-NN-..."}}'
    )
    assert len(set(result["ids"])) == len(result["ids"]), f"{path}: figure names repeat"


@pytest.mark.parametrize("path", ["notebooks/01_naive_rnn.html"])
def test_one_search_box_and_a_favicon(visit, path):
    v = visit(path)
    boxes = v.page.evaluate(
        """() => [...document.querySelectorAll('.search-button-field, .search-button')]
            .filter(e => e.checkVisibility()).length"""
    )
    assert boxes == 1, f"{path}: {boxes} search boxes in view"
    icon = v.page.evaluate("() => document.querySelector('link[rel~=icon]')?.href || ''")
    assert icon, f"{path}: no favicon"
    status = v.page.evaluate("async (u) => (await fetch(u)).status", icon)
    assert status == 200, f"{path}: the favicon {icon} does not load"


def test_search_snippets_show_no_raw_tex(visit):
    """A search result's snippet shows formulas as text, not as TeX source."""
    v = visit("search.html?q=" + urllib.parse.quote_plus("hidden state"))
    v.page.wait_for_selector("#search-results ul.search li p.context", timeout=20_000)
    v.page.wait_for_timeout(2_000)  # the snippets arrive one page at a time
    snippets = v.page.evaluate(
        "() => [...document.querySelectorAll('#search-results ul.search li p.context')]"
        ".map(p => p.textContent)"
    )
    raw = [s[:120] for s in snippets if re.search(r"\\\(|\\\)|\\[a-zA-Z]+\{|_\{", s)]
    assert snippets and not raw, f"search snippets show raw TeX: {raw}"
