"""Local Sphinx extension: a chapter's launch and download buttons open its rendered copy.

A chapter is stored as MyST in notebooks/; Colab, Binder and JupyterLab would show that
source as it is (fenced directives, raw roles, every solution open). tools/render.py writes
a reader's copy of each chapter into colab/ (plain notebook markdown, folded solutions, a
pinned setup cell). sphinx-book-theme builds the launch URLs from the repository and the
page's path (``.../blob/<branch>/notebooks/05_gru.ipynb``); this extension runs after the
theme's ``html-page-context`` handlers and points them at ``colab/05_gru.ipynb``, and points
the download button at a copy of that file served with the site (``<site>/colab/``).

A page whose copy does not exist keeps the theme's links, so a new chapter still builds
before its copy is rendered (and tests/test_render.py fails until it is); a page is written
again when its copy is newer than the page's last reading.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import quote

from sphinx.application import Sphinx

COPIES = "colab"


def copy_name(app: Sphinx, pagename: str) -> str | None:
    """``colab/<name>.ipynb`` if the page is a notebook with a rendered copy, else None."""
    name = f"{COPIES}/{pagename.rsplit('/', 1)[-1]}.ipynb"
    source = Path(app.env.doc2path(pagename))
    if source.suffix != ".ipynb" or not (Path(app.srcdir) / name).exists():
        return None
    return name


def retarget(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    name = copy_name(app, pagename)
    if name is None:
        return
    relpath = app.config.html_theme_options.get("path_to_docs", "").strip("/")
    prefix = f"{relpath}/" if relpath else ""
    old, new = f"{prefix}{pagename}.ipynb", f"{prefix}{name}"
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []):
            url = button.get("url")
            if not url:  # e.g. the print button, which runs JavaScript
                continue
            if group.get("label") == "launch-buttons":
                url = url.replace(old, new).replace(quote(old, safe=""), quote(new, safe=""))
            elif group.get("label") == "download-buttons" and url.endswith(".ipynb"):
                url = context["pathto"](name, 1)
                button["tooltip"] = "Download the notebook"
            button["url"] = url


def outdated(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Chapters whose copy was rendered after the page was read: their buttons change."""
    stale = []
    for docname, read_at in env.all_docs.items():  # read_at: microseconds since the epoch
        name = copy_name(app, docname)
        if name and (Path(app.srcdir) / name).stat().st_mtime_ns // 1_000 > read_at:
            stale.append(docname)
    return stale


def publish(app: Sphinx, exception) -> None:
    """Serve every rendered copy with the site, for the download button."""
    source = Path(app.srcdir) / COPIES
    if exception is not None or app.builder.format != "html" or not source.is_dir():
        return
    target = Path(app.outdir) / COPIES
    target.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.ipynb"):
        shutil.copyfile(path, target / path.name)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", retarget, priority=600)  # after the theme's (501)
    app.connect("env-get-outdated", outdated)
    app.connect("build-finished", publish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
