"""The figures page shows what ``archgym report`` draws, made afresh by every build.

``docs/figures/index.md`` holds, in ``bash`` blocks, the commands of a tiny
sweep and its report (about 10 s on 2 cores). This hook runs those blocks, as
written, in a temporary folder holding a copy of the repository's
``experiments/`` (where the sweep's spec is), adds the PNGs of the report folder to the site
next to the page, and replaces the page's ``<!-- report-headlines -->`` line
with the headlines of the report's ``summary.md``. So the page's commands are
the ones that made its figures, and a change that breaks them breaks the build.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.figures")

PAGE = "figures/index.md"
CLONE_FOLDERS = ("experiments",)
"""Folders of the repository copied into the folder the commands run in, as a reader's clone has them."""
REPORT_FOLDER = "report"
HEADLINES_MARKER = "<!-- report-headlines -->"
BASH_BLOCK = re.compile(r"^```bash\n(?P<code>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
TIME_LIMIT_S = 300

# Reports already made in this process, by the hash of the commands, so `mkdocs serve` reruns them only when
# they change. The temporary folders live as long as the process.
_made: dict[str, Path] = {}
_folders: list[tempfile.TemporaryDirectory[str]] = []


def _make_report(commands: str, root: Path) -> Path:
    """Run the page's commands in a new temporary folder; the report folder they wrote."""
    key = hashlib.sha256(commands.encode()).hexdigest()
    if key in _made:
        return _made[key]
    folder = tempfile.TemporaryDirectory(prefix="archgym-docs-figures-")
    _folders.append(folder)
    for name in CLONE_FOLDERS:
        shutil.copytree(root / name, Path(folder.name) / name)
    # The build may run without the environment's scripts on PATH (python -m mkdocs); `archgym` lives beside
    # the interpreter.
    environment = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    started = time.perf_counter()
    try:
        subprocess.run(["bash", "-e", "-c", commands], cwd=folder.name, env=environment, check=True,
                       capture_output=True, text=True, timeout=TIME_LIMIT_S)
    except subprocess.CalledProcessError as error:
        raise PluginError(f"the commands of docs/{PAGE} failed (exit {error.returncode}): "
                          f"{(error.stderr or error.stdout).strip()[-2000:]}") from None
    except subprocess.TimeoutExpired:
        raise PluginError(f"the commands of docs/{PAGE} took more than {TIME_LIMIT_S} s") from None
    report = Path(folder.name) / REPORT_FOLDER
    if not report.is_dir():
        raise PluginError(f"the commands of docs/{PAGE} wrote no {REPORT_FOLDER}/ folder")
    log.info("made the report of docs/%s in %.1f s", PAGE, time.perf_counter() - started)
    _made[key] = report
    return report


def _report_of(config: Any) -> Path:
    page = Path(config["docs_dir"]) / PAGE
    blocks = [m.group("code") for m in BASH_BLOCK.finditer(page.read_text(encoding="utf-8"))]
    if not blocks:
        raise PluginError(f"docs/{PAGE} has no bash block to make its figures with")
    return _make_report("".join(blocks), Path(config["config_file_path"]).parent)


def on_files(files: Any, config: Any) -> Any:
    """Add the report's PNGs to the site beside the figures page."""
    report = _report_of(config)
    pictures = sorted(report.glob("*.png"))
    if not pictures:
        raise PluginError(f"the commands of docs/{PAGE} drew no PNG in {REPORT_FOLDER}/ (is matplotlib installed?)")
    folder = PAGE.rpartition("/")[0]
    for picture in pictures:
        files.append(File.generated(config, f"{folder}/{picture.name}", abs_src_path=str(picture)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Put the report's headlines where the figures page asks for them."""
    if page.file.src_uri != PAGE or HEADLINES_MARKER not in markdown:
        return markdown
    summary = (_report_of(config) / "summary.md").read_text(encoding="utf-8")
    headlines = "\n".join(line for line in summary.splitlines() if line.startswith("- "))
    return markdown.replace(HEADLINES_MARKER, headlines)
