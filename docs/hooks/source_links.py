"""Links from the guides to source files of the repository become links into the site.

The guides are written to be read in the repository too, so they link to
source files such as ``../archgym/external.py``. The site has no copy of the
sources; instead:

- a link to a Python module of the package (``archgym/``, ``simulators/``,
  ``agents/``) goes to the API reference page that documents that module (a
  page under ``docs/api/`` with a ``::: archgym.<module>`` line);
- a link to any other file or folder outside ``docs/`` (a benchmark, a data
  file, a module no API page covers), or to a folder of ``docs/`` without an
  ``index.md`` (``examples/``), goes to the file on the repository host
  when ``repo_url`` is configured, and otherwise keeps its text as code, unlinked.

Links within ``docs/`` and to other sites are left alone, and so is anything
inside fenced code blocks.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
from pathlib import Path
from typing import Any

log = logging.getLogger("mkdocs.hooks.source_links")

# An inline Markdown link: [text](target) or [text](target "title"); images are left alone.
LINK = re.compile(
    r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?(?P<title>\s+\"[^\"]*\")?\)"
)
FENCE = re.compile(r"(^```.*?^```[^\n]*$)", re.MULTILINE | re.DOTALL)
DIRECTIVE = re.compile(r"^::: (?P<module>[\w.]+)\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|/)")
# Where the installed package's modules live in the repository (see pyproject.toml's package-dir).
PACKAGE_DIRS = {"archgym": "archgym", "simulators": "archgym.simulators", "agents": "archgym.agents"}


def module_of(path: str) -> str | None:
    """The dotted module name of a repository path such as ``simulators/dram/dramsys.py``, if it is one."""
    parts = path.split("/")
    if parts[0] not in PACKAGE_DIRS or not path.endswith(".py"):
        return None
    names = [PACKAGE_DIRS[parts[0]], *parts[1:]]
    names[-1] = names[-1][: -len(".py")]
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def api_pages(docs_dir: Path) -> dict[str, str]:
    """Which page (a path relative to ``docs_dir``) documents each module, from the ``:::`` lines."""
    pages: dict[str, str] = {}
    for page in sorted((docs_dir / "api").glob("*.md")):
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            pages.setdefault(match.group("module"), page.relative_to(docs_dir).as_posix())
    return pages


def _in_site(path: Path, docs_dir: Path) -> bool:
    """Whether a link to ``path`` is a link to a page or file of the site (a folder needs an index page)."""
    if path != docs_dir and docs_dir not in path.parents:
        return False
    return not path.is_dir() or (path / "index.md").is_file()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Point the page's links to repository files at API pages, the repository host, or nowhere."""
    docs_dir = Path(config["docs_dir"]).resolve()
    root = Path(config["config_file_path"]).resolve().parent
    page_dir = posixpath.dirname(page.file.src_uri)
    modules = api_pages(docs_dir)
    repo_url = (config.get("repo_url") or "").rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        target = match.group("target")
        if EXTERNAL.match(target):
            return match.group(0)
        resolved = Path(os.path.normpath(docs_dir / page_dir / target))
        if root not in resolved.parents or _in_site(resolved, docs_dir):
            return match.group(0)
        in_repository = resolved.relative_to(root).as_posix()
        text = match.group("text")
        module = module_of(in_repository)
        if module in modules:
            link = posixpath.relpath(modules[module], page_dir or ".")
            return f"[{text}]({link}#{module})"
        if repo_url:
            return f"[{text}]({repo_url}/blob/main/{in_repository})"
        log.info("%s: %s is not part of the site; its link is shown as text", page.file.src_uri, target)
        return text if text.startswith("`") else f"`{text}`"

    pieces = FENCE.split(markdown)
    for index in range(0, len(pieces), 2):  # even pieces lie outside code fences
        pieces[index] = LINK.sub(rewrite, pieces[index])
    return "".join(pieces)
