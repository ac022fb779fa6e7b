"""The site's home page is the project README, with its links pointed into the site.

``docs/index.md`` holds the line ``--8<-- "README.md"``; this hook puts the
README there. The README is written for the repository root, so its links to
``docs/...`` become links to the pages, and its links to other files of the
repository are made relative to ``docs/`` for :mod:`source_links` to resolve.
Anchors within the README (``#fidelity-and-speed``) need no change: the site
makes the same heading ids as GitHub.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

INCLUDE_LINE = re.compile(r'^--8<-- "(?P<path>[^"]+)"\s*$', re.MULTILINE)
# An inline Markdown link or image target: ](target) or ](target "title").
LINK_TARGET = re.compile(r"\]\((?P<target>[^)\s]+)(?P<title>\s+\"[^\"]*\")?\)")
# Targets that are not paths in the repository.
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|#|/)")


def _relative_to_docs(target: str, docs_prefix: str) -> str:
    """A link target written from the repository root, rewritten from ``docs/``."""
    if EXTERNAL.match(target):
        return target
    if target.startswith(docs_prefix):
        return target[len(docs_prefix):]
    return "../" + target


def rewrite_links(markdown: str, docs_prefix: str = "docs/") -> str:
    """Rewrite the relative link targets of root-level Markdown for a page at the root of ``docs/``.

    Fenced code blocks are left as they are.
    """
    pieces = re.split(r"(^```.*?^```[^\n]*$)", markdown, flags=re.MULTILINE | re.DOTALL)
    for index in range(0, len(pieces), 2):  # even pieces lie outside code fences
        pieces[index] = LINK_TARGET.sub(
            lambda m: f"]({_relative_to_docs(m.group('target'), docs_prefix)}{m.group('title') or ''})",
            pieces[index],
        )
    return "".join(pieces)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Replace each ``--8<-- "FILE"`` line of the home page with that file of the repository root."""
    if page.file.src_uri != "index.md":
        return markdown
    root = Path(config["config_file_path"]).parent
    docs_prefix = Path(config["docs_dir"]).relative_to(root).as_posix() + "/"

    def include(match: re.Match[str]) -> str:
        path = root / match.group("path")
        if not path.is_file():
            raise PluginError(f"docs/index.md includes {match.group('path')}, which is not a file in {root}")
        return rewrite_links(path.read_text(encoding="utf-8"), docs_prefix)

    return INCLUDE_LINE.sub(include, markdown)
