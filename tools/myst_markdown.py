"""MyST as plain notebook markdown, the way the site shows it (used by tools/render.py).

`Book` reads every page of the toc once, in toc order, to number what Sphinx numbers and to
record what roles point at; `Doc` then converts one page's markdown cells:

- ``{exercise}`` becomes a heading "Exercise N (Title)" one level below the last heading,
  ``{solution}`` a ``<details><summary>Solution</summary>`` block (folded in Jupyter and
  Colab), an admonition a quoted block under its title, ``{math}`` and ``$$ ... $$ (label)``
  display math numbered with ``\\tag{N}``; ``(label)=`` targets are dropped;
- ``{cite}`` becomes sphinxcontrib-bibtex's own author-year text, linked to the references
  page; ``{eq}`` the equation's number; ``{ref}``, ``{numref}``, ``{doc}`` and relative
  links to pages links to the site.

Numbers follow Sphinx for a toc without ``numbered``: equations, figures and exercises are
counted across the whole book, in toc order (sphinx.environment.collectors.toctree).
What it cannot convert raises `RenderError` naming the page, so nothing raw slips through.
"""

from __future__ import annotations

import codecs
import posixpath
import re
from collections import Counter
from dataclasses import dataclass

import latexcodec  # noqa: F401  (registers the "ulatex" codec)
import yaml
from docutils.nodes import fully_normalize_name, make_id
from markdown_it.renderer import RendererHTML
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.mdit import create_md_parser
from pybtex.database import BibliographyData
from pybtex.plugin import find_plugin
from pybtex.richtext import BaseMultipartText, HRef, String, Symbol, Tag
from sphinxcontrib.bibtex.citation_target import parse_citation_targets
from sphinxcontrib.bibtex.richtext import BaseReferenceText
from sphinxcontrib.bibtex.style.referencing import format_references
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo

COPIES = "colab"  # where the copies live: relative links are rewritten as seen from there
ADMONITIONS = {
    "note": "Note",
    "warning": "Warning",
    "tip": "Tip",
    "important": "Important",
    "hint": "Hint",
    "caution": "Caution",
    "attention": "Attention",
    "danger": "Danger",
    "error": "Error",
    "seealso": "See also",
    "admonition": "",
    "margin": "",
    "sidebar": "",
    "topic": "",
    "epigraph": "",
    "dropdown": "",
}
NUMREF_FORMATS = {"figure": "Fig. %s", "table": "Table %s", "code-block": "Listing %s"}
NUMREF_FORMATS["exercise"] = "Exercise %s"
INLINE = re.compile(
    r"\{(?P<role>[A-Za-z][\w:+-]*)\}(?P<ticks>`+)(?P<content>.+?)(?P=ticks)(?!`)"
    r"|(?P<code>(?P<cticks>`+).+?(?P=cticks)(?!`))"
    r"|(?P<math>\$\$?[^$]+?\$\$?)"
    r"|(?P<link>!?\[(?P<text>[^\]]*)\]\((?P<url>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\))",
    re.S,
)
OPTION = re.compile(r"^:([\w-]+):(?:\s+(.*))?$")


class RenderError(ValueError):
    """MyST that the renderer cannot turn into notebook markdown (says where and why)."""


@dataclass
class Target:
    """Something a role can point at: where it is on the site, its number and title."""

    kind: str  # section, equation, figure, exercise, table, code-block, target
    doc: str  # docname, e.g. "notebooks/05_gru"
    anchor: str
    number: int | None = None
    title: str = ""  # MyST, converted where it is used


def site_url(conf: dict) -> str:
    url = (conf.get("html") or {}).get("baseurl") or ""
    if not url.startswith(("https://", "http://")):
        raise RenderError("_config.yml: set html.baseurl to the site's URL (links point there)")
    return url.rstrip("/") + "/"


def parser(extensions):
    return create_md_parser(MdParserConfig(enable_extensions=set(extensions)), RendererHTML)


class Book:
    """Every page of the toc, read once: titles, labels and the book-wide numbering."""

    def __init__(
        self,
        docs: dict[str, list],
        *,
        site: str,
        bib: BibliographyData,
        md=None,
        bib_style: str = "alpha",
    ):
        self.docs, self.site, self.bib = docs, site, bib
        self.md = md or parser(["colon_fence", "dollarmath", "amsmath"])
        self.cite_style = AuthorYearReferenceStyle()
        # sphinxcontrib-bibtex lists the keys of one {cite} in the bibliography's order
        style = find_plugin("pybtex.style.formatting", bib_style)()
        self.bib_order = {e.key: k for k, e in enumerate(style.sort(bib.entries.values()))}
        self.targets: dict[str, Target] = {}
        self.titles: dict[str, str] = {}
        self.start: dict[str, Counter] = {}
        self.references = next(
            (d for d, cells in docs.items() if any("{bibliography}" in c.source for c in cells)),
            "book/references",
        )
        counters: Counter = Counter()
        for name, cells in docs.items():  # toc order, as Sphinx walks the toctree
            self.start[name] = Counter(counters)
            Doc(self, name, scan=True, counters=counters).cells(cells)

    def url(self, doc: str, anchor: str = "") -> str:
        return f"{self.site}{doc}.html" + (f"#{anchor}" if anchor else "")


class Doc:
    """One page, converted cell by cell (``scan`` only numbers and records targets)."""

    def __init__(self, book: Book, name: str, *, scan: bool, counters: Counter | None = None):
        self.book, self.name, self.scan = book, name, scan
        self.counters = counters if counters is not None else Counter(book.start[name])
        self.level = 1  # of the last heading: an exercise's heading goes one below
        self.pending: list[str] = []  # (label)= targets waiting for the next block
        self.serial = 0

    # --- numbering and targets -------------------------------------------------------
    def number(self, kind: str, label: str, anchor: str, title: str = "") -> int:
        self.counters[kind] += 1
        n = self.counters[kind]
        self.register(label, Target(kind, self.name, anchor, n, title))
        known = self.book.targets.get(fully_normalize_name(label))
        if not self.scan and known and known.doc == self.name and known.number != n:
            raise self.where(f"{label!r} is number {n} here but {known.number} in the scan")
        return n

    def register(self, label: str, target: Target) -> None:
        if self.scan and label:
            self.book.targets.setdefault(fully_normalize_name(label), target)

    def flush_targets(self, title: str | None = None) -> None:
        for label in self.pending:
            kind = "target" if title is None else "section"
            self.register(label, Target(kind, self.name, make_id(label), None, title or ""))
        self.pending = []

    def where(self, message: str) -> RenderError:
        return RenderError(f"{self.name}: {message}")

    # --- cells -----------------------------------------------------------------------
    def cells(self, cells) -> None:
        """Scan a page: markdown converted (and dropped), figures counted."""
        for cell in cells:
            if cell.cell_type == "markdown":
                self.convert(cell.source)
            elif cell.cell_type == "code":
                self.flush_targets()
                self.figures(cell)
        self.flush_targets()

    def figures(self, cell) -> list[str]:
        """The captions of a code cell's figures, numbered as myst-nb and Sphinx do."""
        options = cell.metadata.get("mystnb", {}).get("figure") or {}
        caption, name = options.get("caption"), options.get("name")
        if not caption:
            return []
        displays = [o for o in cell.get("outputs", []) if "data" in o]
        lines = []
        for _ in displays:
            if name:
                anchor = make_id(fully_normalize_name(name))
                n = self.number("figure", name, anchor, caption)
                lines.append(f"**Fig. {n}** {self.inline(caption)}")
            else:
                lines.append(f"*{self.inline(caption)}*")
        return lines

    # --- blocks ----------------------------------------------------------------------
    def convert(self, text: str) -> str:
        lines = text.split("\n")
        out: list[str] = []
        cursor = 0
        for start, end, indent, kind, token in self.blocks(text):
            out += self.prose(lines[cursor:start])
            body = [line[len(indent) :] for line in lines[start:end]]
            out += [indent + line if line else line for line in self.block(kind, token, body)]
            cursor = end
        out += self.prose(lines[cursor:])
        return "\n".join(out)

    def blocks(self, text: str):
        """The blocks that are not prose, in order: (start, end, indent, kind, token)."""
        tokens = self.book.md.parse(text)
        quoted = 0
        for i, token in enumerate(tokens):
            if token.type == "blockquote_open":
                quoted += 1
            elif token.type == "blockquote_close":
                quoted -= 1
            if token.map is None:
                continue
            start, end = token.map
            kind = None
            if token.type in ("fence", "colon_fence") and token.info.strip().startswith("{"):
                kind = "directive"
            elif token.type == "math_block_label":
                kind = "math"
            elif token.type in ("myst_target", "myst_line_comment", "myst_block_break"):
                kind = token.type
            elif token.type == "front_matter":
                kind = "drop"
            elif token.type == "heading_open" and token.level == 0:
                kind, token = "heading", (token, tokens[i + 1])
            elif token.type in ("fence", "colon_fence", "code_block", "html_block"):
                kind = "verbatim"
            elif token.type in ("math_block", "amsmath"):
                kind = "verbatim"  # unnumbered display math: Jupyter's MathJax reads it as is
            if kind is None:
                continue
            if quoted and kind not in ("verbatim",):
                raise self.where(f"MyST inside a quoted block is not rendered: line {start + 1}")
            indent = re.match(r"[ \t]*", text.split("\n")[start]).group(0)
            yield start, end, indent, kind, token

    def block(self, kind: str, token, lines: list[str]) -> list[str]:
        if kind == "verbatim":
            self.flush_targets()
            return lines
        if kind in ("drop", "myst_line_comment", "myst_block_break"):
            return []
        if kind == "myst_target":
            self.pending.append(token.content.strip())
            return []
        if kind == "heading":
            opener, inline = token
            self.level = int(opener.tag[1])
            self.flush_targets(inline.content)
            if self.scan:
                self.book.titles.setdefault(self.name, inline.content)
            return [f"{'#' * self.level} {self.inline(inline.content)}"]
        self.flush_targets()
        if kind == "math":
            label = token.info.strip() if token.type == "math_block_label" else ""
            return self.display_math(token.content, label)
        name, _, argument = token.info.strip()[1:].partition("}")
        options, body = self.options(token.content)
        return self.directive(name.strip(), argument.strip(), options, body)

    @staticmethod
    def options(content: str) -> tuple[dict[str, str], str]:
        """A directive's ``:key: value`` lines (or a ``---`` YAML block) and its body."""
        lines = content.split("\n")
        if lines and lines[0].strip() == "---" and "---" in (x.strip() for x in lines[1:]):
            end = 1 + [x.strip() for x in lines[1:]].index("---")
            options = yaml.safe_load("\n".join(lines[1:end])) or {}
            return {k: "" if v is None else str(v) for k, v in options.items()}, "\n".join(
                lines[end + 1 :]
            )
        options = {}
        while lines and (match := OPTION.match(lines[0].strip())):
            options[match.group(1)] = (match.group(2) or "").strip()
            lines.pop(0)
        return options, "\n".join(lines)

    def directive(self, name: str, argument: str, options: dict, body: str) -> list[str]:
        if name == "exercise":
            self.serial += 1
            label = options.get("label") or f"{self.name}-exercise-{self.serial}"
            number = None
            if "nonumber" not in options:
                number = self.number("exercise", label, label, argument)
            else:
                self.register(label, Target("exercise", self.name, label, None, argument))
            title = "Exercise" + (f" {number}" if number else "")
            title += f" ({self.inline(argument)})" if argument else ""
            return [f"{'#' * min(self.level + 1, 6)} {title}", "", *self.lines(body)]
        if name == "solution":
            return self.details("Solution", self.lines(body))
        if name == "math":
            label = options.get("label") or options.get("name") or ""
            content = f"{argument}\n{body}" if argument else body
            return self.display_math(content, label, nowrap="nowrap" in options)
        if name in ADMONITIONS:
            title = argument if not ADMONITIONS[name] else ADMONITIONS[name]
            if ADMONITIONS[name] and argument:
                body = f"{argument}\n{body}"
            inner = self.lines(body)
            if name == "dropdown" or "dropdown" in options.get("class", "").split():
                return self.details(self.inline(title) or "Details", inner)
            head = [f"> **{self.inline(title)}**", ">"] if title else []
            return head + [f"> {line}" if line.strip() else ">" for line in inner]
        if name in ("code-block", "code", "sourcecode"):
            lines = [f"```{argument}", *body.split("\n"), "```"]
            if options.get("caption") and options.get("name"):
                n = self.number("code-block", options["name"], make_id(options["name"]))
                lines = [f"**Listing {n}** {self.inline(options['caption'])}", "", *lines]
            return lines
        if name in ("figure", "image"):
            return self.figure(name, argument, options, body)
        if self.scan:
            return []  # e.g. {bibliography} or {include} on a prose page: nothing to number
        raise self.where(f"the directive {{{name}}} is not rendered yet: add it to tools/render.py")

    def lines(self, body: str) -> list[str]:
        return self.convert(body).strip("\n").split("\n")

    @staticmethod
    def details(summary: str, inner: list[str]) -> list[str]:
        return ["<details>", f"<summary>{summary}</summary>", "", *inner, "", "</details>"]

    def figure(self, name: str, path: str, options: dict, body: str) -> list[str]:
        if not re.match(r"[a-z]+://", path):
            here = posixpath.dirname(self.name)
            path = posixpath.relpath(posixpath.normpath(posixpath.join(here, path)), COPIES)
        alt = options.get("alt", "")
        lines = [f"![{alt}]({path})"]
        caption = body.strip().split("\n\n")[0] if name == "figure" else ""
        if caption and options.get("name"):
            anchor = make_id(fully_normalize_name(options["name"]))
            n = self.number("figure", options["name"], anchor, caption)
            lines += ["", f"**Fig. {n}** {self.inline(caption)}"]
        elif caption:
            lines += ["", f"*{self.inline(caption)}*"]
        return lines

    def display_math(self, content: str, label: str, nowrap: bool = False) -> list[str]:
        """Display math as Sphinx's MathJax output has it, numbered with ``\\tag``."""
        parts = [part.strip("\n") for part in content.split("\n\n") if part.strip()]
        if not nowrap:
            parts = [rf"\begin{{split}}{p}\end{{split}}" if r"\\" in p else p for p in parts]
        tex = "\n".join(parts) if len(parts) < 2 else "\\\\\n".join(parts)
        if len(parts) > 1 and not nowrap:
            tex = rf"\begin{{aligned}}{tex}\end{{aligned}}"
        if label:
            n = self.number("equation", label, make_id(f"equation-{label}"))
            tex += rf" \tag{{{n}}}"
        return ["$$", tex, "$$"]

    # --- inline ----------------------------------------------------------------------
    def prose(self, lines: list[str]) -> list[str]:
        if self.pending and any(line.strip() for line in lines):
            self.flush_targets()
        return self.inline("\n".join(lines)).split("\n") if lines else []

    def inline(self, text: str) -> str:
        return INLINE.sub(self.role, text)

    def role(self, match: re.Match) -> str:
        if match.group("link") is not None:
            return self.markdown_link(match)
        if match.group("role") is None:
            return match.group(0)  # a code span or math: left as it is
        name, content = match.group("role"), match.group("content")
        if self.scan:
            return content
        if name == "cite" or name.startswith("cite:"):
            return self.cite(name.partition(":")[2] or "p", content)
        if name == "eq":
            return self.eq(content.strip())
        if name in ("ref", "numref", "doc"):
            return self.link(name, content)
        if name == "math":
            return f"${content}$"
        if name in ("code", "literal"):
            return f"`{content}`"
        if name in ("sub", "sup", "kbd"):
            return f"<{name}>{content}</{name}>"
        if name == "abbr":
            return re.sub(r"\s*\(.*\)\s*$", "", content)
        raise self.where(f"the role {{{name}}} is not rendered yet: add it to tools/render.py")

    def markdown_link(self, match: re.Match) -> str:
        """A link to a page of the book goes to the site; one to a file, to the repository's
        file seen from colab/ (images); a link with a scheme stays as it is."""
        url = match.group("url")
        text = self.inline(match.group("text"))
        if re.match(r"[A-Za-z][\w+.-]*:|//", url):
            return match.group(0).replace(match.group("text"), text, 1)
        path, _, anchor = url.partition("#")
        here = posixpath.dirname(self.name)
        resolved = posixpath.normpath(posixpath.join(here, path)) if path else self.name
        doc = re.sub(r"\.(md|ipynb)$", "", resolved)
        if doc in self.book.docs:
            url = self.book.url(doc, anchor)
        else:
            url = posixpath.relpath(resolved, COPIES) + (f"#{anchor}" if anchor else "")
        bang = "!" if match.group(0).startswith("!") else ""
        return f"{bang}[{text}]({url}{match.group('title') or ''})"

    def cite(self, style: str, content: str) -> str:
        references = []
        targets = list(parse_citation_targets(content))
        for target in targets:
            if target.key not in self.book.bib.entries:
                raise self.where(f"{{cite}} key {target.key!r} is not in the bibliography")
        for target in sorted(targets, key=lambda t: self.book.bib_order[t.key]):
            info = SphinxReferenceInfo(
                None, self.name, self.book.references, "", None, target.pre, target.post
            )
            references.append((self.book.bib.entries[target.key], None, info))
        text = format_references(self.book.cite_style, style, references)
        return _markdown(text, self.book.url(self.book.references))

    def eq(self, label: str) -> str:
        target = self.book.targets.get(fully_normalize_name(label))
        if target is None or target.kind != "equation":
            raise self.where(f"{{eq}} names {label!r}, which is no numbered equation")
        if target.doc == self.name:
            return f"({target.number})"
        return f"[({target.number})]({self.book.url(target.doc, target.anchor)})"

    def link(self, role: str, content: str) -> str:
        explicit = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content.strip())
        text, key = (explicit.group(1), explicit.group(2)) if explicit else (None, content.strip())
        if role == "doc":
            doc = key if key.startswith("/") else posixpath.join(posixpath.dirname(self.name), key)
            doc = re.sub(r"\.(md|ipynb)$", "", posixpath.normpath(doc).lstrip("/"))
            if doc not in self.book.titles:
                raise self.where(f"{{doc}} names {key!r}, which is no page of the toc")
            text = text if text is not None else self.book.titles[doc]
            return f"[{_escape(self.inline(text))}]({self.book.url(doc)})"
        target = self.book.targets.get(fully_normalize_name(key))
        if target is None:
            raise self.where(
                f"{{{role}}} names {key!r}, which is no label of the book "
                "(a figure's label exists once its cell has an output)"
            )
        numbered = role == "numref" or (target.kind == "exercise" and text is None)
        if numbered:
            if target.number is None:
                raise self.where(f"{{{role}}} names {key!r}, which has no number")
            form = text or NUMREF_FORMATS.get(target.kind, "%s")
            title = self.inline(target.title)
            text = form.replace("%s", str(target.number)).replace("{number}", str(target.number))
            text = text.replace("{name}", title)
        elif text is None:
            if not target.title:
                raise self.where(f"{{ref}} to {key!r} needs an explicit text")
            text = self.inline(target.title)
        else:
            text = self.inline(text)
        return f"[{_escape(text)}]({self.book.url(target.doc, target.anchor)})"


def _escape(text: str) -> str:
    return text.replace("[", r"\[").replace("]", r"\]")


def _markdown(text, url: str) -> str:
    """pybtex rich text (sphinxcontrib-bibtex's citation) as markdown with links to url."""
    if isinstance(text, str):
        return _escape(codecs.decode(text, "ulatex").replace("{", "").replace("}", ""))
    if isinstance(text, String):
        return _markdown(text.value, url)
    if isinstance(text, Symbol):
        return {"nbsp": "&nbsp;", "ndash": "–", "newblock": " "}.get(text.name, " ")
    inner = "".join(_markdown(part, url) for part in getattr(text, "parts", []))
    if isinstance(text, BaseReferenceText):
        return f"[{inner}]({url})"
    if isinstance(text, HRef):
        return f"[{inner}]({text.url})"
    if isinstance(text, Tag):
        return {"em": f"*{inner}*", "strong": f"**{inner}**", "b": f"**{inner}**"}.get(
            text.name, f"*{inner}*" if text.name == "i" else inner
        )
    if isinstance(text, BaseMultipartText):
        return inner
    raise TypeError(f"text: unexpected rich text {type(text).__name__}")
