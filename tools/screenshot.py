"""Screenshot pages of a built site in headless Chromium, to look at them.

    python tools/screenshot.py notebooks/01_naive_rnn.html /tmp/ch1.png [--site _build/html]
        [--width 1280] [--full]

Serves the site on loopback, waits for MathJax, and writes a PNG (the whole page with --full).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import threading
from pathlib import Path

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def screenshot(site: Path, page: str, out: Path, width: int = 1280, full: bool = False) -> None:
    from playwright.sync_api import sync_playwright

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site))
    )
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            tab = browser.new_page(viewport={"width": width, "height": 900})
            tab.route(
                "**/*", lambda r: r.continue_() if r.request.url.startswith(base) else r.abort()
            )
            tab.goto(base + page, wait_until="load")
            tab.evaluate("() => window.MathJax && window.MathJax.startup.promise")
            tab.wait_for_timeout(300)
            tab.screenshot(path=str(out), full_page=full)
            browser.close()
    finally:
        httpd.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("page")
    parser.add_argument("out", type=Path)
    parser.add_argument("--site", type=Path, default=Path("_build/html"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--full", action="store_true")
    a = parser.parse_args()
    screenshot(a.site, a.page, a.out, a.width, a.full)
