"""Every shell and Python block of README.md and docs/**/*.md runs as written.

Each ```` ```bash ````, ```` ```console ```` and ```` ```python ```` block of
README.md and of every Markdown page under docs/ (found by glob, so new pages
are covered without listing them) is one test item, named by its document and
the line of its opening fence.

A document runs like a reader's session: its blocks run in order in one fresh
Python process, in one fresh working directory holding what a clone holds
where the documents need it (``experiments/``, ``data/``, and the files of
``docs/examples/`` at the top, as the guides' readers copy them), so a block
may use what earlier blocks of the same document created. Python blocks share
one namespace per document; the working directory is on ``sys.path``, as in an
interactive session started there. Shell lines (``\\`` continuations joined,
comments dropped, ``&&`` chains split, ``$ `` prompts of console blocks) run
through the real ``archgym`` command line in that process (a local Ray
instance a command started is stopped when it returns, as its own process
would end); ``export NAME=VALUE`` and ``NAME=VALUE`` prefixes set the
environment, ``python FILE`` runs the file as a script, and any other program
runs through ``bash``. Blocks marked ``needs`` or ``xfail`` (below) run
``archgym`` in a process of its own, since their errors are what is judged.
Blocks that do not pass are reported with the document, the line and the
command.

What the test changes, uniformly, to keep the documents' examples fast:

- budgets are capped: ``--budget N`` and ``budget=N`` become at most 40,
  ``--designs N`` and ``n_designs=N`` at most 20, ``--time-limit N`` and
  ``time_limit=N`` at most 5 seconds, and ``budget: N`` in the copied
  ``experiments/*.yaml`` specs at most 40;
- ``pip install ...`` is not run (the package and its extras are installed),
  nor are ``ruff check``, ``mypy`` and ``pytest`` (the checks and the test
  suite itself, run by CI on their own).

Markers, an HTML comment on the line before a block:

- ``<!-- docs-test: needs NAME -->``: the block needs something a clone lacks,
  an environment variable (``ARCHGYM_DRAMSYS``) or a path in the working
  directory (``minimalloc/benchmarks/challenging``). With it present the block
  runs as usual; without it the block still runs and must end with a clean
  one-line error: a non-zero exit code, no traceback, and a message that
  names NAME.
- ``<!-- docs-test: skip REASON -->``: not runnable in CI at all; the item is
  skipped with REASON. The documents use it for none of their blocks today.
- ``<!-- docs-test: xfail REASON -->``: fails because of a known bug;
  expected to fail (not strictly).
- ``<!-- example: PATH -->``: the block is the file PATH in full (checked by
  tests/test_docs.py); it is written to the working directory under the
  file's name, as a reader saves it, instead of being run.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import runpy
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from archgym.cli import app

ROOT = Path(__file__).resolve().parents[1]
RUN_LANGUAGES = ("bash", "console", "python")
CLONE_FOLDERS = ("experiments", "data")
"""Folders of the repository copied into each document's working directory."""

BUDGET_CAPS = {"budget": 40, "designs": 20, "n_designs": 20, "time-limit": 5, "time_limit": 5}
"""Largest value the test lets a documented run use, by option or keyword name."""

DOCUMENT_TIMEOUT_S = 600
_CHECKS = "ruff check, mypy and pytest are the project's checks and the test suite itself, run by CI on their own"
NOT_RUN = {
    "pip": "pip install is not run: the test environment has the package and its extras installed",
    "ruff": _CHECKS,
    "mypy": _CHECKS,
    "pytest": _CHECKS,
}
"""Programs the documents show that the test does not run, and why."""

_FENCE = re.compile(r"^```(?P<language>[\w-]*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<kind>needs|skip|xfail)\s+(?P<argument>.+?)\s*-->$")
_EXAMPLE = re.compile(r"^<!--\s*example:\s*(?P<path>\S+)\s*-->$")
_SNIPPET = re.compile(r'^--8<--\s+"(?P<path>[^"]+)"\s*$')
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


@dataclass(frozen=True)
class Block:
    """One runnable block of a document."""

    document: str
    """Path of the document, relative to the repository root."""
    line: int
    """Line of the opening fence (1-based)."""
    language: str
    code: str
    marker: str = ""
    """``needs``, ``skip`` or ``xfail`` from a ``docs-test`` comment, or empty."""
    marker_argument: str = ""
    example_path: str = ""
    """For a block shown as a file in full, that file's path."""

    @property
    def label(self) -> str:
        return f"{self.document}:{self.line}"


def documents() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]


def blocks_of(document: Path) -> list[Block]:
    """The bash, console and python blocks of a document, in order."""
    name = document.relative_to(ROOT).as_posix()
    lines = document.read_text(encoding="utf-8").splitlines()
    found = []
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence:
            index += 1
            continue
        end = index + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        language = fence.group("language")
        if language in RUN_LANGUAGES:
            before = next((lines[i].strip() for i in range(index - 1, -1, -1) if lines[i].strip()), "")
            marker = _MARKER.match(before)
            example = _EXAMPLE.match(before)
            found.append(Block(
                document=name,
                line=index + 1,
                language=language,
                code="".join(_expand_snippet(line) for line in lines[index + 1 : end]),
                marker=marker.group("kind") if marker else "",
                marker_argument=marker.group("argument") if marker else "",
                example_path=example.group("path") if example else "",
            ))
        index = end + 1
    return found


def _expand_snippet(line: str) -> str:
    """A line of a block as the built site shows it: a ``--8<-- "PATH"`` line becomes the file PATH."""
    snippet = _SNIPPET.match(line.strip())
    if snippet:
        return (ROOT / snippet.group("path")).read_text(encoding="utf-8")
    return line + "\n"


# -- running one document (in a process of its own) ----------------------------------------------------


def cap_budgets_in_words(words: list[str]) -> list[str]:
    """``--budget N`` (and the other capped options) with N lowered to its cap."""
    capped = list(words)
    for position, word in enumerate(capped):
        option, equals, value = word.partition("=")
        name = option.removeprefix("--")
        if not option.startswith("--") or name not in BUDGET_CAPS:
            continue
        if equals:
            capped[position] = f"{option}={_capped(name, value)}"
        elif position + 1 < len(capped):
            capped[position + 1] = _capped(name, capped[position + 1])
    return capped


def cap_budgets_in_code(code: str) -> str:
    """``budget=N`` (and the other capped keywords) in Python code, N lowered to its cap."""
    keywords = "|".join(re.escape(name) for name in BUDGET_CAPS if "-" not in name)
    return re.sub(
        rf"\b(?P<name>{keywords})=(?P<value>\d+(?:\.\d+)?)\b",
        lambda match: f"{match['name']}={_capped(match['name'], match['value'])}",
        code,
    )


def cap_budgets_in_spec(text: str) -> str:
    """``budget: N`` in a sweep spec, N lowered to the budget cap."""
    return re.sub(
        r"^(?P<key>\s*budget:\s*)(?P<value>\d+)\s*$",
        lambda match: f"{match['key']}{_capped('budget', match['value'])}",
        text,
        flags=re.MULTILINE,
    )


def _capped(name: str, value: str) -> str:
    try:
        number = float(value)
    except ValueError:
        return value
    cap = BUDGET_CAPS[name]
    return value if number <= cap else str(cap)


def shell_commands(block: Block) -> list[str]:
    """The block's commands as lines: continuations joined, console prompts stripped, output lines dropped."""
    commands = []
    pending = ""
    for raw in block.code.splitlines():
        if block.language == "console" and not pending:
            if not raw.startswith("$ "):
                continue
            raw = raw[2:]
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = (pending + raw).strip()
        pending = ""
        if line and not line.startswith("#"):
            commands.append(line)
    return commands


def split_chain(command: str) -> list[list[str]]:
    """A command line as the word lists of its ``&&`` parts, comments dropped."""
    parts: list[list[str]] = [[]]
    for word in shlex.split(command, comments=True):
        if word == "&&":
            parts.append([])
        else:
            parts[-1].append(word)
    return [part for part in parts if part]


class CommandFailed(Exception):
    """A documented command exited with an error."""

    def __init__(self, command: str, exit_code: int, output: str) -> None:
        super().__init__(f"`{command}` exited with code {exit_code}:\n{output[-3000:]}")
        self.command = command
        self.exit_code = exit_code
        self.output = output


@dataclass
class BlockResult:
    """What running a block gave: ``passed``, ``failed`` or ``skipped``, and why."""

    line: int
    status: str
    message: str = ""
    seconds: float = 0.0


class DocumentSession:
    """Runs a document's blocks in order in the current directory, like a reader at a terminal."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__"}

    def run(self, block: Block) -> BlockResult:
        started = time.perf_counter()
        result = self._run(block)
        result.seconds = round(time.perf_counter() - started, 2)
        return result

    def _run(self, block: Block) -> BlockResult:
        if block.marker == "skip":
            return BlockResult(block.line, "skipped", block.marker_argument)
        if block.example_path:
            Path(Path(block.example_path).name).write_text(block.code, encoding="utf-8")
            return BlockResult(block.line, "passed", f"wrote {Path(block.example_path).name}")
        try:
            notes = self._run_python(block) if block.language == "python" else self._run_shell(block)
        except CommandFailed as failure:
            if block.marker == "needs" and not self.requirement_present(block.marker_argument):
                return self._judge_missing_requirement(block, failure)
            return BlockResult(block.line, "failed", f"{block.label}: {failure}")
        except Exception:  # noqa: BLE001 - a documented snippet may raise anything; report it with its line
            return BlockResult(block.line, "failed", f"{block.label}: the block raised\n{traceback.format_exc()}")
        if block.marker == "needs" and not self.requirement_present(block.marker_argument):
            return BlockResult(block.line, "failed", (
                f"{block.label}: without {block.marker_argument} the block should end with an error naming it, "
                "but it ran"
            ))
        if not any(note.startswith("ran") for note in notes):
            reasons = dict.fromkeys(note.removeprefix("not run: ") for note in notes)
            return BlockResult(block.line, "skipped", "; ".join(reasons) or "the block holds no command")
        return BlockResult(block.line, "passed", "; ".join(notes))

    @staticmethod
    def requirement_present(requirement: str) -> bool:
        """An environment variable that is set, or a path that exists in the working directory."""
        if re.fullmatch(r"[A-Z][A-Z0-9_]*", requirement):
            return bool(os.environ.get(requirement))
        return Path(requirement).exists()

    @staticmethod
    def _judge_missing_requirement(block: Block, failure: CommandFailed) -> BlockResult:
        output = failure.output.strip()
        lines = output.splitlines()
        # What the command printed before failing (a sweep's summary, say) is not part of its error.
        starts = [i for i, line in enumerate(lines) if line.lower().startswith("error:")]
        error = "\n".join(lines[starts[-1]:]) if starts else output
        problems = []
        if "Traceback" in output:
            problems.append("it printed a traceback")
        if len(error.splitlines()) != 1:
            problems.append(f"its error is {len(error.splitlines())} lines, not one")
        if block.marker_argument not in error:
            problems.append(f"its error does not name {block.marker_argument}")
        if problems:
            return BlockResult(block.line, "failed", (
                f"{block.label}: without {block.marker_argument}, `{failure.command}` should end with a clean "
                f"one-line error, but {', and '.join(problems)}:\n{output[-3000:]}"
            ))
        return BlockResult(block.line, "passed", f"without {block.marker_argument}: {output}")

    def _run_python(self, block: Block) -> list[str]:
        # Leading newlines keep the document's line numbers in tracebacks.
        source = "\n" * block.line + cap_budgets_in_code(block.code)
        defined_before = {name: value for name, value in self.namespace.items() if name.startswith("test_")}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, block.document, "exec"), self.namespace)  # noqa: S102 - the document's own code
            # Test functions a block shows are run, as the reader's test runner would.
            ran = []
            for name, function in list(self.namespace.items()):
                if name.startswith("test_") and callable(function) and defined_before.get(name) is not function:
                    function(**self._test_arguments(function, name))
                    ran.append(name)
        return ["ran the block", *(f"ran {name}" for name in ran)]

    @staticmethod
    def _test_arguments(function: Any, name: str) -> dict[str, Path]:
        """``tmp_path``, the one fixture the documents' tests take, as a fresh folder."""
        parameters = function.__code__.co_varnames[: function.__code__.co_argcount]
        if not parameters:
            return {}
        folder = Path(tempfile.mkdtemp(prefix=f"{name}-", dir="."))
        return {"tmp_path": folder}

    def _run_shell(self, block: Block) -> list[str]:
        notes = []
        for command in shell_commands(block):
            chain = split_chain(command)
            if all(_program(words) in IN_PROCESS for words in chain):
                for words in chain:
                    notes.extend(self._run_words(words, separate_process=block.marker in ("needs", "xfail")))
            else:  # another program, or shell syntax the in-process runner does not speak
                _run_in_bash(command)
                notes.append(f"ran {command}")
        return notes

    def _run_words(self, words: list[str], separate_process: bool) -> list[str]:
        """Run one command.

        ``separate_process`` runs ``archgym`` in a process of its own, as the reader's shell does, where the
        block's error is what is judged: state an earlier command left in this process (a Ray instance
        started by a sweep, say) must not hide it.
        """
        command = shlex.join(words)
        if words[0] == "export":
            for assignment in words[1:]:
                name, _, value = assignment.partition("=")
                os.environ[name] = os.path.expandvars(value)
            return [f"ran {command}"]
        environment = {}
        while words and _ASSIGNMENT.fullmatch(words[0]):
            name, _, value = words.pop(0).partition("=")
            environment[name] = os.path.expandvars(value)
        words = [os.path.expandvars(word) for word in words]
        if _program(words) in NOT_RUN:
            return [f"not run: {NOT_RUN[_program(words)]}"]
        started = time.perf_counter()
        with _environment(environment):
            if words[0] == "archgym" and separate_process:
                _run_in_bash(shlex.join([sys.executable, "-m", "archgym.cli", *cap_budgets_in_words(words[1:])]), command)
            elif words[0] == "archgym":
                self._run_archgym(command, cap_budgets_in_words(words[1:]))
            else:
                self._run_script(command, words[1:])
        return [f"ran {command} ({time.perf_counter() - started:.1f} s)"]

    @staticmethod
    def _run_archgym(command: str, arguments: list[str]) -> None:
        try:
            result = CliRunner().invoke(app, arguments)
        finally:
            _end_of_command()
        if result.exit_code != 0:
            output = result.output
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                output += "".join(traceback.format_exception(result.exception))
            raise CommandFailed(command, result.exit_code, output)

    @staticmethod
    def _run_script(command: str, arguments: list[str]) -> None:
        saved_argv = sys.argv
        sys.argv = list(arguments)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                runpy.run_path(arguments[0], run_name="__main__")
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                raise CommandFailed(command, 1, str(exit_.code)) from None
        finally:
            sys.argv = saved_argv


def _end_of_command() -> None:
    """Stop what a command's process would stop when it ends: a local Ray instance it started.

    Left running, it would answer a later ``--address auto`` that a reader's shell sends to no cluster.
    """
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


IN_PROCESS = ("archgym", "python-script", "export", *NOT_RUN)
"""Programs the test runs in its own process; any other goes to bash."""


def _program(words: list[str]) -> str:
    """The program a command's words run, past ``NAME=VALUE`` prefixes; ``python FILE.py`` is a script."""
    rest = list(words)
    while rest and _ASSIGNMENT.fullmatch(rest[0]):
        rest.pop(0)
    if not rest:
        return ""
    if rest[0] == "python":
        if rest[1:3] == ["-m", "pytest"]:
            return "pytest"
        return "python-script" if len(rest) > 1 and rest[1].endswith(".py") else "python"
    return rest[0]


def _run_in_bash(command: str, shown: str | None = None) -> None:
    """Run ``command`` in bash; a failure names the command as the document shows it (``shown``)."""
    finished = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise CommandFailed(shown or command, finished.returncode, finished.stdout + finished.stderr)


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def prepare_working_directory(folder: Path) -> None:
    """Fill ``folder`` with what a clone holds where the documents need it, budgets capped in the specs."""
    for name in CLONE_FOLDERS:
        shutil.copytree(ROOT / name, folder / name)
    for spec in (folder / "experiments").glob("*.yaml"):
        spec.write_text(cap_budgets_in_spec(spec.read_text(encoding="utf-8")), encoding="utf-8")
    for example in (ROOT / "docs" / "examples").glob("*.py"):
        shutil.copy(example, folder / example.name)


def run_document(document: Path, results_path: Path) -> None:
    """Run every block of ``document`` in the current directory; write the results after each block."""
    session = DocumentSession()
    results = []
    for block in blocks_of(document):
        results.append(asdict(session.run(block)))
        results_path.write_text(json.dumps(results), encoding="utf-8")


# -- the pytest side ----------------------------------------------------------------------------------


def _parameters() -> list[Any]:
    parameters = []
    for document in documents():
        for block in blocks_of(document):
            marks = []
            if block.marker == "skip":
                marks.append(pytest.mark.skip(reason=block.marker_argument))
            elif block.marker == "xfail":
                marks.append(pytest.mark.xfail(reason=block.marker_argument, strict=False))
            parameters.append(pytest.param(block, id=f"{block.label}-{block.language}", marks=marks))
    return parameters


class DocumentRuns:
    """Each document's process, started once for the session, two at a time (two cores)."""

    def __init__(self, folder_root: Path, wanted: list[str]) -> None:
        self.folder_root = folder_root
        self.pool = ThreadPoolExecutor(max_workers=2)
        self.runs: dict[str, Future[tuple[list[dict[str, Any]], str]]] = {}
        for document in wanted:
            self.runs[document] = self.pool.submit(self._run, document)

    def results(self, document: str) -> tuple[list[dict[str, Any]], str]:
        if document not in self.runs:
            self.runs[document] = self.pool.submit(self._run, document)
        return self.runs[document].result()

    def _run(self, document: str) -> tuple[list[dict[str, Any]], str]:
        folder = self.folder_root / re.sub(r"\W", "_", document)
        folder.mkdir()
        workdir = folder / "work"
        workdir.mkdir()
        prepare_working_directory(workdir)
        results_path = folder / "results.json"
        # -c puts the working directory first on sys.path, as an interactive session started there does.
        launcher = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
        # A wide terminal keeps each error message on one line; PWD is the reader's working directory.
        environment = {**os.environ, "COLUMNS": "1000", "OMP_NUM_THREADS": "1", "PWD": str(workdir)}
        try:
            finished = subprocess.run(
                [sys.executable, "-c", launcher, __file__, str(ROOT / document), str(results_path)],
                cwd=workdir, env=environment, capture_output=True, text=True, timeout=DOCUMENT_TIMEOUT_S, check=False,
            )
            output = (finished.stdout + finished.stderr)[-3000:]
        except subprocess.TimeoutExpired:
            output = f"the document's run was stopped after {DOCUMENT_TIMEOUT_S} s"
        results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.exists() else []
        return results, output

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def document_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DocumentRuns]:
    wanted = []
    for item in request.session.items:
        block = getattr(item, "callspec", None) and item.callspec.params.get("block")
        if isinstance(block, Block) and block.document not in wanted and block.marker != "skip":
            wanted.append(block.document)
    runs = DocumentRuns(tmp_path_factory.mktemp("documents"), wanted)
    yield runs
    runs.close()


@pytest.mark.parametrize("block", _parameters())
def test_documented_block_runs(block: Block, document_runs: DocumentRuns) -> None:
    results, process_output = document_runs.results(block.document)
    result = next((r for r in results if r["line"] == block.line), None)
    assert result is not None, f"{block.label}: the document's run stopped before this block:\n{process_output}"
    if result["status"] == "skipped":
        pytest.skip(f"{block.label}: {result['message']}")
    assert result["status"] == "passed", result["message"]


def test_every_marker_comment_is_understood_and_precedes_a_runnable_block() -> None:
    for document in documents():
        lines = document.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if "docs-test:" not in line:
                continue
            where = f"{document.relative_to(ROOT)}:{number}"
            assert _MARKER.match(line.strip()), f"{where}: a marker is docs-test: needs|skip|xfail ARGUMENT, not {line}"
            following = next((later.strip() for later in lines[number:] if later.strip()), "")
            fence = _FENCE.match(following)
            assert fence and fence.group("language") in RUN_LANGUAGES, (
                f"{where}: the marker is not right before a {', '.join(RUN_LANGUAGES)} block"
            )


def test_budgets_are_capped_the_same_way_everywhere() -> None:
    assert cap_budgets_in_words(["run", "--budget", "500", "--designs=100", "--seed", "3", "--time-limit", "2"]) == [
        "run", "--budget", "40", "--designs=20", "--seed", "3", "--time-limit", "2"]
    assert cap_budgets_in_code("run_search(a, m, o, budget=500)\ntrain(budget=12, n_designs=64)") == (
        "run_search(a, m, o, budget=40)\ntrain(budget=12, n_designs=20)")
    assert cap_budgets_in_spec("seeds: 2\nbudget: 100\nout: runs/x\n") == "seeds: 2\nbudget: 40\nout: runs/x\n"


def test_shell_lines_are_read_as_a_shell_reads_them() -> None:
    bash = Block("doc.md", 1, "bash", "# a comment\narchgym run --budget 5 \\\n    --out runs/a   # note\n\n"
                 "pip install -e . && archgym envs\n")
    assert shell_commands(bash) == ["archgym run --budget 5      --out runs/a   # note", "pip install -e . && archgym envs"]
    assert split_chain(shell_commands(bash)[0]) == [["archgym", "run", "--budget", "5", "--out", "runs/a"]]
    assert split_chain(shell_commands(bash)[1]) == [["pip", "install", "-e", "."], ["archgym", "envs"]]
    console = Block("doc.md", 1, "console", "$ archgym agents \\\n  --plugin x.py\nhill-climb  a local search\n")
    assert shell_commands(console) == ["archgym agents    --plugin x.py"]


def test_a_block_needing_what_is_missing_passes_only_when_it_stops_with_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.delenv("ARCHGYM_DRAMSYS", raising=False)
    session = DocumentSession()
    needs_dramsys = Block("doc.md", 3, "bash", "archgym run --backend dramsys --budget 2 --out runs/real\n",
                          marker="needs", marker_argument="ARCHGYM_DRAMSYS")
    passed = session.run(needs_dramsys)
    assert passed.status == "passed" and "ARCHGYM_DRAMSYS is not set" in passed.message
    runs_anyway = Block("doc.md", 9, "bash", "archgym --version\n", marker="needs", marker_argument="ARCHGYM_DRAMSYS")
    failed = session.run(runs_anyway)
    assert failed.status == "failed" and failed.message.startswith("doc.md:9: without ARCHGYM_DRAMSYS")
    wrong_error = Block("doc.md", 12, "bash", "archgym trace info absent.stl\n", marker="needs",
                        marker_argument="ARCHGYM_DRAMSYS")
    failed = session.run(wrong_error)
    assert failed.status == "failed" and "does not name ARCHGYM_DRAMSYS" in failed.message


def test_a_failing_block_names_its_document_line_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    session = DocumentSession()
    result = session.run(Block("README.md", 40, "bash", "archgym --version\narchgym trace info my_trace.stl.gz\n"))
    assert result.status == "failed"
    assert result.message.startswith("README.md:40: `archgym trace info my_trace.stl.gz` exited with code")
    result = session.run(Block("README.md", 50, "python", "x = 1\ny = undefined_name\n"))
    assert result.status == "failed" and 'File "README.md", line 52' in result.message
    assert session.run(Block("README.md", 60, "python", "assert x == 1\n")).status == "passed"


if __name__ == "__main__":
    run_document(Path(sys.argv[1]), Path(sys.argv[2]))
