"""Local Sphinx extension: the reference list is labelled author-year, like the citations.

The chapters cite with sphinxcontrib-bibtex's ``author_year`` style ("Cho et al. (2014)"),
but its default bibliography style labels entries alpha-style (``[CvMerrienboerG+14]``).
This registers a pybtex label style giving "Cho et al., 2014" (one author: "Elman, 1990";
two: "Bahdanau and Cho, 2015"; a, b, ... when two entries share a label) and a formatting
style ``rnnbook`` (pybtex's ``unsrt`` with those labels), which _config.yml selects with
``bibtex_default_style: rnnbook``.
"""

from __future__ import annotations

from collections import Counter

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
    """The citation's own text; two entries that would share it get a, b, ... (Sphinx needs
    distinct labels): Cho et al.'s EMNLP paper and its arXiv v1 are "Cho et al., 2014a/b"."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year(e) for e in entries]
        counts, seen = Counter(labels), Counter()
        for label in labels:
            if counts[label] > 1:
                seen[label] += 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class Style(UnsrtStyle):
    default_label_style = "rnnbook_author_year"


def register() -> None:
    """Make the styles known to pybtex (the site build, and tools/render.py for the copies)."""
    register_plugin("pybtex.style.labels", "rnnbook_author_year", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", "rnnbook", Style, force=True)


def setup(app: Sphinx) -> dict:
    register()
    return {"parallel_read_safe": True, "parallel_write_safe": True}
