"""A griffe extension: the docstrings' reStructuredText markup, as Markdown the API reference renders.

The package's docstrings are Google style, with some reStructuredText that
mkdocstrings would show as written. This extension rewrites, before rendering:

- Sphinx cross-references (``:func:`load_dataset```,
  ``:class:`~archgym.objective.Objective```, ``:mod:`.instances```) into
  optional cross-references: a link to the object's entry when the site
  documents it, else its name as code. A short name is resolved where the
  docstring stands (its module's names and imports); ``~`` shows only the
  last part of the name, as in Sphinx;
- simple tables (columns under ``====  ====`` borders) into Markdown tables;
- the ``::`` that opens a literal block into ``:`` (the indented block that
  follows is code in Markdown too);
- definition-list items whose term is a literal (a ````name```` line with
  an indented description below) into list items.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|term):`(?P<body>[^`]+)`")
EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^>]+)>$")
TABLE_BORDER = re.compile(r"^ *=+(?: +=+)+ *$")
LITERAL_TERM = re.compile(r"^``[^`]+``$")
UNDERLINE = re.compile(r"^([-=~^])\1{2,}$")  # under a section title
INDENT = "    "


def _resolve(obj: griffe.Object, name: str) -> str:
    """The full path of ``name`` as seen from ``obj``, or ``name`` when it cannot be resolved."""
    head, _, rest = name.lstrip(".").partition(".")
    try:
        resolved = obj.resolve(head)
    except griffe.NameResolutionError:
        return name.lstrip(".")
    return f"{resolved}.{rest}" if rest else resolved


def reference(obj: griffe.Object, body: str) -> str:
    """The HTML of an optional cross-reference for one Sphinx role's body, as seen from ``obj``."""
    explicit = EXPLICIT_TITLE.match(body)
    if explicit:
        title, target = explicit.group("title"), explicit.group("target").lstrip("~")
    else:
        target = body.lstrip("~")
        title = target.lstrip(".").rsplit(".", 1)[-1] if body.startswith("~") else target.lstrip(".")
    identifier = _resolve(obj, target)
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'


def _cells(line: str, starts: list[int]) -> list[str]:
    ends = [*starts[1:], None]
    return [line[start:end].strip().replace("|", "\\|") for start, end in zip(starts, ends, strict=True)]


def _table_rows(lines: list[str], starts: list[int]) -> list[list[str]]:
    """A simple table's rows; a line with an empty first column continues the row above."""
    rows: list[list[str]] = []
    for line in lines:
        if not line.strip():
            continue
        cells = _cells(line, starts)
        if rows and not cells[0]:
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cells) + " |"

    return [line(header), "|" + "---|" * len(header), *(line(row) for row in rows)]


def simple_tables(text: str) -> str:
    """reStructuredText simple tables (with or without a header) as Markdown tables."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        if not TABLE_BORDER.match(lines[index]):
            out.append(lines[index])
            index += 1
            continue
        borders = [i for i in range(index + 1, len(lines)) if TABLE_BORDER.match(lines[i])]
        if not borders:
            out.append(lines[index])
            index += 1
            continue
        starts = [match.start() for match in re.finditer(r"=+", lines[index])]
        second = borders[0]
        third = borders[1] if len(borders) > 1 else None
        has_header = third is not None and all(lines[i].strip() for i in range(second + 1, third))
        if has_header and third is not None:
            header_rows = _table_rows(lines[index + 1:second], starts)
            header = [" ".join(column) for column in zip(*header_rows, strict=True)]
            rows, end = _table_rows(lines[second + 1:third], starts), third
        else:
            header, rows, end = [""] * len(starts), _table_rows(lines[index + 1:second], starts), second
        out.extend(["", *_markdown_table(header, rows), ""])
        index = end + 1
    return "\n".join(out)


def literal_markers(text: str) -> str:
    """``text::`` becomes ``text:`` and a line of ``::`` alone goes, before an indented literal block."""
    out = []
    for line in text.splitlines():
        if line.strip() == "::":
            continue
        if line.endswith(" ::"):  # "text ::" drops the marker, as reStructuredText does
            line = line[: -len(" ::")]
        elif line.endswith("::") and not line.endswith(":::"):
            line = line[:-1]
        out.append(line)
    return "\n".join(out)


def literal_definitions(text: str) -> str:
    """Definition-list items with a literal term (````term```` over an indented description) as list items."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        previous = lines[index - 1].strip() if index else ""
        after_item = bool(out and out[-1].startswith("- "))
        starts_item = not previous or bool(UNDERLINE.match(previous)) or after_item
        described = index + 1 < len(lines) and lines[index + 1].startswith(INDENT)
        if LITERAL_TERM.match(line) and starts_item and described:
            description = []
            index += 1
            while index < len(lines) and lines[index].startswith(INDENT):
                description.append(lines[index].strip())
                index += 1
            out.append(f"- {line}: " + " ".join(description))
            continue
        out.append(line)
        index += 1
    return "\n".join(out)


def to_markdown(obj: griffe.Object, text: str) -> str:
    """One docstring's reStructuredText markup rewritten as Markdown."""
    text = ROLE.sub(lambda m: reference(obj, m.group("body")), text)
    return literal_definitions(literal_markers(simple_tables(text)))


class SphinxMarkup(griffe.Extension):
    """Rewrite the reStructuredText markup of docstrings as Markdown (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite every docstring of a loaded package, once all its modules are known."""
        self._rewrite(pkg, seen=set())

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj, obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member, seen)  # type: ignore[arg-type]
