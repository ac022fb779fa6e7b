"""Every module of the core package is in the API reference, the ones no page names on a page of their own.

The API pages name modules with ``::: archgym.<module>`` lines. The page
``docs/api/other-modules.md`` holds the line ``<!-- modules on no other page -->``;
this hook replaces it with a ``:::`` line for each module of ``archgym/`` that
no other API page names, found from the files at build time, so a new module
is documented (and its docstrings checked by the strict build) without anyone
editing the pages. The command line (``archgym.cli``) is left out: its
reference is ``archgym --help``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from source_links import api_pages

PAGE = "api/other-modules.md"
MARKER = "<!-- modules on no other page -->"
PACKAGE = "archgym"
LEFT_OUT = ("archgym.cli",)


def package_modules(root: Path) -> list[str]:
    """The dotted names of the modules and packages under ``root / PACKAGE``, in name order."""
    names = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if parts[-1] == "__main__" or any(name == out or name.startswith(out + ".") for out in LEFT_OUT):
            continue
        names.append(name)
    return names


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Fill the marker of the page of other modules with the modules no other API page names."""
    if page.file.src_uri != PAGE:
        return markdown
    docs_dir = Path(config["docs_dir"])
    root = Path(config["config_file_path"]).parent
    named = {module for module, where in api_pages(docs_dir).items() if where != PAGE}
    modules = [module for module in package_modules(root) if module not in named and module != PACKAGE]
    return markdown.replace(MARKER, "\n\n".join(f"::: {module}" for module in modules))
