"""The fixtures of the site tests (tests/test_site.py, tests/test_site_explorables.py): the
built site, a loopback server and one Chromium for the whole session. They live here, and
tests/conftest.py imports them, so that both files share one browser (Playwright's sync API
can run only one at a time in a process).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import screenshot

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def site() -> Path:
    """The built site: `jupyter-book build` (incremental: seconds when nothing changed).

    RNNBOOK_SITE_OUT=/tmp/me builds into /tmp/me/_build/html instead of _build/ (for a
    helper who must not touch the shared build); RNNBOOK_SITE=/tmp/me/_build/html tests
    a site built before, without building.
    """
    if os.environ.get("RNNBOOK_SITE"):
        return Path(os.environ["RNNBOOK_SITE"])
    book = ROOT / ".venv" / "bin" / "jupyter-book"
    out = os.environ.get("RNNBOOK_SITE_OUT")
    extra = ["--path-output", out] if out else []
    result = subprocess.run(
        [str(book), "build", str(ROOT), "-W", "-n", "--keep-going", *extra],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        "the site build failed:\n" + result.stdout[-3000:] + result.stderr[-3000:]
    )
    return Path(out) / "_build" / "html" if out else HTML


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
