"""A griffe extension: the docstrings' Sphinx cross-references become links of the API reference.

The package's docstrings refer to other objects the Sphinx way
(``:func:`load_dataset```, ``:class:`~archgym.objective.Objective```,
``:mod:`.instances```), which mkdocstrings would show as written. This
extension rewrites each into an optional cross-reference: a link to the
object's entry when the site documents it, else just its name as code. A short
name is resolved where the docstring stands (its module's names and imports);
``~`` shows only the last part of the name, as in Sphinx.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|attr|data|exc|obj|const|term):`(?P<body>[^`]+)`"
)
EXPLICIT_TITLE = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^>]+)>$")


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


class SphinxRoles(griffe.Extension):
    """Turn Sphinx cross-reference roles in docstrings into optional mkdocstrings cross-references."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Rewrite every docstring of a loaded package, once all its modules are known."""
        self._rewrite(pkg, seen=set())

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(lambda m: reference(obj, m.group("body")), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member, seen)  # type: ignore[arg-type]
