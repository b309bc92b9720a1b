"""Local Sphinx extension: the role ``{source}`path``` links a file of the repository.

A page that names a file of the repository which is not a page of the book (a benchmark
script, a tool) writes ``{source}`benchmarks/pinning.py``` and gets the path in code style,
linked to the file on the repository's site at the book's branch. The repository URL and
branch are read from _config.yml (``repository.url``, ``repository.branch``), which Jupyter
Book passes to the theme, so they still live in one place.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx


def source_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    config = inliner.document.settings.env.config
    theme = config.html_theme_options or {}
    url = (theme.get("repository_url") or "").rstrip("/")
    branch = theme.get("repository_branch") or "main"
    path = text.strip().lstrip("/")
    literal = nodes.literal(path, path)
    if not url:
        return [literal], []
    return [nodes.reference(rawtext, "", literal, refuri=f"{url}/blob/{branch}/{path}")], []


def setup(app: Sphinx) -> dict:
    app.add_role("source", source_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
