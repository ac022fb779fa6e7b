"""The figures page shows what ``archgym report`` draws, made afresh by every build.

``docs/figures/index.md`` holds, in ``bash`` blocks, the commands of a tiny
sweep and its report (about 10 s on 2 cores). This hook runs those blocks, as
written, in a temporary folder holding a copy of the repository's
``experiments/`` (where the sweep's spec is), adds the PNGs the page shows to
the site next to the page, and replaces the page's ``<!-- report-headlines -->``
line with the headlines of the report's ``summary.md``. So the page's commands
are the ones that made its figures, and a change that breaks them breaks the
build.

The commands start with the build and run while the other pages render; the
build waits for them before it copies files and writes pages.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import markdown
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.figures")

PAGE = "figures/index.md"
CLONE_FOLDERS = ("experiments",)
"""Folders of the repository copied into the folder the commands run in, as a reader's clone has them."""
REPORT_FOLDER = "report"
HEADLINES_MARKER = "<!-- report-headlines -->"
BASH_BLOCK = re.compile(r"^```bash\n(?P<code>.*?)^```\s*$", re.MULTILINE | re.DOTALL)
PICTURE = re.compile(r"!\[[^\]]*\]\((?P<name>[^)\s/]+\.png)\)")
TIME_LIMIT_S = 300


@dataclass
class _Report:
    """The page's commands running, or run, in a temporary folder."""

    folder: tempfile.TemporaryDirectory[str]
    process: subprocess.Popen[str]
    started: float = field(default_factory=time.perf_counter)
    finished: bool = False

    @property
    def path(self) -> Path:
        return Path(self.folder.name) / REPORT_FOLDER

    def wait(self) -> Path:
        """The report folder, once the commands have written it."""
        if not self.finished:
            try:
                output, _ = self.process.communicate(timeout=TIME_LIMIT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise PluginError(f"the commands of docs/{PAGE} took more than {TIME_LIMIT_S} s") from None
            if self.process.returncode != 0:
                raise PluginError(f"the commands of docs/{PAGE} failed (exit {self.process.returncode}): "
                                  f"{output.strip()[-2000:]}")
            if not self.path.is_dir():
                raise PluginError(f"the commands of docs/{PAGE} wrote no {REPORT_FOLDER}/ folder")
            log.info("made the report of docs/%s in %.1f s", PAGE, time.perf_counter() - self.started)
            self.finished = True
        return self.path


# Reports of this process by the hash of the commands, so `mkdocs serve` reruns them only when they change.
_reports: dict[str, _Report] = {}
_current: list[_Report] = []


def _page_text(config: Any) -> str:
    return (Path(config["docs_dir"]) / PAGE).read_text(encoding="utf-8")


def on_pre_build(config: Any) -> None:
    """Start the page's commands in a new temporary folder (unless they already ran in this process)."""
    commands = "".join(m.group("code") for m in BASH_BLOCK.finditer(_page_text(config)))
    if not commands:
        raise PluginError(f"docs/{PAGE} has no bash block to make its figures with")
    key = hashlib.sha256(commands.encode()).hexdigest()
    earlier = _reports.get(key)
    failed = earlier is not None and not earlier.finished and earlier.process.poll() not in (None, 0)
    if earlier is None or failed:
        root = Path(config["config_file_path"]).parent
        folder = tempfile.TemporaryDirectory(prefix="archgym-docs-figures-")
        for name in CLONE_FOLDERS:
            shutil.copytree(root / name, Path(folder.name) / name)
        # The build may run without the environment's scripts on PATH (python -m mkdocs); `archgym` lives
        # beside the interpreter.
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        process = subprocess.Popen(["bash", "-e", "-c", commands], cwd=folder.name,
                                   env={**os.environ, "PATH": path}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        _reports[key] = _Report(folder, process)
    _current[:] = [_reports[key]]


def on_files(files: Any, config: Any) -> Any:
    """Add the PNGs the page shows to the site beside it, from the report folder the commands write."""
    folder = PAGE.rpartition("/")[0]
    for name in sorted({m.group("name") for m in PICTURE.finditer(_page_text(config))}):
        files.append(File.generated(config, f"{folder}/{name}", abs_src_path=str(_current[0].path / name)))
    return files


def on_env(env: Any, config: Any, files: Any) -> Any:
    """Wait for the report before the build copies its PNGs; every PNG the page shows must be there."""
    report = _current[0].wait()
    shown = {m.group("name") for m in PICTURE.finditer(_page_text(config))}
    missing = sorted(name for name in shown if not (report / name).is_file())
    if missing:
        raise PluginError(f"docs/{PAGE} shows {', '.join(missing)}, which the report does not draw "
                          f"(it drew {', '.join(sorted(p.name for p in report.glob('*.png'))) or 'no PNG'})")
    return env


def on_post_page(output: str, page: Any, config: Any) -> str:
    """Put the report's headlines where the figures page asks for them."""
    if page.file.src_uri != PAGE or HEADLINES_MARKER not in output:
        return output
    summary = (_current[0].wait() / "summary.md").read_text(encoding="utf-8")
    headlines = "\n".join(line for line in summary.splitlines() if line.startswith("- "))
    return output.replace(HEADLINES_MARKER, markdown.markdown(headlines), 1)


def on_build_error(error: Exception) -> None:
    """Stop commands still running when the build fails."""
    for report in _current:
        if report.process.poll() is None:
            report.process.kill()
            report.process.wait()
