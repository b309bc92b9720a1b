"""Local Sphinx extension: every page loads without a console error.

The cause of Jupyter Book 1's console error "Identifier 'THEBE_JS_URL' has already been
declared": sphinx-thebe adds an inline script (``const THEBE_JS_URL = ...``) with
``app.add_js_file(None, body=...)`` from an ``env-before-read-docs`` handler, that is,
after the HTML builder exists. Sphinx 7.4 then holds that script twice: the builder
stores it with ``filename=None``, and ``StandaloneHTMLBuilder.prepare_writing`` re-adds
everything in the registry with ``filename or ''``. ``None != ''``, so its duplicate check
misses, and each page declares the ``const`` twice (sphinx-togglebutton's inline
``var togglebuttonSelector`` is doubled the same way, harmlessly).

The fix: drop exact duplicates from each page's script list, treating ``None`` and ``''``
as the same file name.

A second console error, "Got invalid theme mode: . Resetting to auto.", comes from the
pydata theme when its ``default_mode`` option is empty, as Jupyter Book 1 leaves it; the
book sets it to "light" in each page's context (its figures are drawn on white).
"""

from __future__ import annotations

from sphinx.application import Sphinx


def _dedupe_scripts(app: Sphinx, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files") or []
    seen: set[tuple] = set()
    kept = []
    for script in scripts:
        attributes = tuple(sorted(getattr(script, "attributes", {}).items()))
        key = (getattr(script, "filename", str(script)) or "", attributes)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept
    context["default_mode"] = context.get("default_mode") or "light"


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _dedupe_scripts, priority=1000)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
