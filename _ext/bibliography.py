"""Local Sphinx extension: the reference list is labelled author-year, like the citations.

The chapters cite with sphinxcontrib-bibtex's ``author_year`` style ("Cho et al. (2014)"),
but its default bibliography style labels entries alpha-style (``[CvMerrienboerG+14]``).
This registers a pybtex label style giving "Cho et al., 2014" (one author: "Elman, 1990";
two: "Bahdanau and Cho, 2015") and a formatting
style ``rnnbook`` (pybtex's ``unsrt`` with those labels), which _config.yml selects with
``bibtex_default_style: rnnbook``.
"""

from __future__ import annotations

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx


def _last(person) -> str:
    return Text.from_latex(" ".join(person.prelast_names + person.last_names)).render_as("text")


def author_year(entry) -> str:
    persons = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_last(p) for p in persons]
    if not names:
        who = entry.fields.get("organization") or entry.fields.get("title", entry.key)
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabels(BaseLabelStyle):
    """The citation's own text, so list and text agree: two entries may share a label
    (Cho et al.'s arXiv v1 and EMNLP paper are both "Cho et al., 2014"); each citation
    links to its own entry."""

    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year(entry)


class Style(UnsrtStyle):
    default_label_style = "rnnbook_author_year"


def register() -> None:
    """Make the styles known to pybtex (the site build, and tools/render.py for the copies)."""
    register_plugin("pybtex.style.labels", "rnnbook_author_year", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", "rnnbook", Style, force=True)


def setup(app: Sphinx) -> dict:
    register()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
