"""The site as readers see it: every page of the toc in headless Chromium.

Builds the site from the stored outputs (Sphinx warnings are errors), serves it on
loopback and opens each page in Debian's chromium through Playwright, with every request
that would leave the machine blocked and recorded: the site must work offline.

Without chromium these tests are skipped with a message saying how to install it.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest
import screenshot
import setup_cells
import toc_notebooks

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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


@pytest.fixture(scope="session")
def site() -> Path:
    """The built site: `jupyter-book build` (incremental: seconds when nothing changed)."""
    book = ROOT / ".venv" / "bin" / "jupyter-book"
    result = subprocess.run(
        [str(book), "build", str(ROOT), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        "the site build failed:\n" + result.stdout[-3000:] + result.stderr[-3000:]
    )
    return HTML


@pytest.fixture(scope="session")
def server(site):
    """Serve the built site on an ephemeral loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=screenshot.ARGS)
        yield browser
        browser.close()


class Visit:
    """One page load: console errors, failed and external requests are recorded."""

    def __init__(self, browser, server: str, path: str, width: int = 1280):
        self.server = server
        self.errors: list[str] = []
        self.external: list[str] = []
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.goto(server + path, wait_until="load")
        self.page.wait_for_function(
            "() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise"
            " && window.MathJax.startup.document)",
            timeout=20_000,
        )
        self.page.evaluate("() => window.MathJax && window.MathJax.startup.promise")

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.server) or url.startswith("data:"):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def _console(self, msg):
        if msg.type == "error":
            self.errors.append(f"console error: {msg.text}")

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server):
    visits = []

    def _visit(path: str, width: int = 1280) -> Visit:
        v = Visit(browser, server, path, width)
        visits.append(v)
        return v

    yield _visit
    for v in visits:
        v.close()


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
        images = {urllib.parse.unquote(src) for src in re.findall(r'<img[^>]+src="([^"]+)"', html)}
        files = [site / page] + [(site / page).parent / src for src in images]
        sizes[page] = sum(f.stat().st_size for f in files if f.exists())
    largest = max(sizes, key=sizes.get) if sizes else None
    print(f"\n_build/html: {total / 1e6:.1f} MB in all")
    if largest:
        print(f"largest chapter page with its images: {largest}, {sizes[largest] / 1e6:.2f} MB")
    for page, size in sizes.items():
        assert size <= MAX_PAGE_BYTES, f"{page} with its images is {size / 1e6:.1f} MB (> 3 MB)"
