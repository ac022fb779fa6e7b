"""What every command group shares: consoles, error handling, option types and parsing, backends, formatting."""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.errors import LiveError
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from archgym import progress
from archgym.cost_model import PROXY_BACKEND, CostModel, backend_info, make_backend
from archgym.cost_model import backend_options as backend_option_names
from archgym.errors import ArchGymError, ConfigurationError
from archgym.problem import get_problem, list_problems, problem_clis

console = Console()
error_console = Console(stderr=True)

# -- options shared by several commands ---------------------------------------------------------------

ProblemOption = Annotated[str, typer.Option("--problem", "--env", help="Design problem (see `archgym envs`).")]
BackendOption = Annotated[str, typer.Option(help="Cost model backend of the problem.")]
BackendOptionsOption = Annotated[list[str] | None, typer.Option(
    "--backend-option",
    help="Backend option key=value, passed to the backend (repeatable), e.g. memspec=ddr4-2400 or "
         "timeout_s=120; values are read as JSON, numbers, booleans or text.")]
MemspecOption = Annotated[str | None, typer.Option(
    help="DRAM memspec preset or JSON file: short for --backend-option memspec=MEMSPEC.")]
ProxyOption = Annotated[Path | None, typer.Option(
    help="Trained proxy directory, with --backend proxy: short for --backend-option proxy=DIR.")]
WorkloadOption = Annotated[str | None, typer.Option(help="Workload name or trace file.")]
TargetOption = Annotated[list[str] | None, typer.Option(
    help="Objective target, e.g. target_latency_ns=60000 (repeatable).")]
PluginOption = Annotated[list[str] | None, typer.Option(
    help="Module or .py file to import first, e.g. one that registers your agent, backend or problem; a .py "
         "file can import the modules beside it (repeatable).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
SimTimeoutOption = Annotated[float | None, typer.Option(
    "--sim-timeout", help="Seconds one run of an external simulator may take: short for --backend-option "
                          "timeout_s=S.")]
TrustOption = Annotated[bool, typer.Option(
    "--trust", help="Also load a proxy pickled by an earlier version (model.joblib), which can run code: only for "
                    "proxies you trust. Not recorded with the run.")]

__all__ = [
    "backend_options",
    "build_backend",
    "check_image_path",
    "check_output_dir",
    "check_output_file",
    "check_problem",
    "console",
    "correlation",
    "error_console",
    "fail",
    "format_value",
    "load_plugins",
    "mount_problem_clis",
    "parse_assignments",
    "percent",
    "progress_bars",
    "run_script",
    "shared_options",
    "trusted",
]


@contextmanager
def _progress_bar(description: str, total: float | None, unit: str) -> Iterator[progress.Update]:
    """A library task's progress: a transient bar on a terminal's stderr, periodic log lines on any other stderr.

    Inside another live display (such as a run's bar) the bar joins it, or is
    left out where rich cannot nest displays.
    """
    if not error_console.is_terminal:
        # Imported here: live_progress imports this module's consoles.
        from archgym.cli.live_progress import periodic_log

        with periodic_log(error_console, description, total, unit) as report:
            yield report
        return
    amount = DownloadColumn() if unit == "B" else MofNCompleteColumn()
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), amount, TimeElapsedColumn(), TimeRemainingColumn(),
        console=error_console, transient=True,
    )  # fmt: skip
    try:
        bar.start()
    except LiveError:
        yield lambda done: None
        return
    try:
        task = bar.add_task(escape(description), total=total)
        yield lambda done: bar.update(task, completed=done)
    finally:
        bar.stop()


def progress_bars() -> AbstractContextManager[None]:
    """Show library progress (reading traces, training proxies, validating models) for the commands run inside.

    A bar on a terminal, log lines every few seconds otherwise (see :mod:`archgym.cli.live_progress`).
    """
    return progress.listening(_progress_bar)


def fail(error: Exception) -> typer.Exit:
    """Print ``error`` as the command's error message; raise the returned exit (code 2).

    An ``OSError`` (a path too long, a folder where a file belongs, no
    permission, a full disk) is a problem with what the user gave or with the
    machine, so it is told the same way, with its path.
    """
    message = str(error)
    if isinstance(error, OSError) and error.strerror:
        where = f" ({_shortened(str(error.filename))})" if error.filename is not None else ""
        message = f"{error.strerror}{where}"
    error_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=2)


def run_script(main: Callable[[], object]) -> None:
    """Run a script's ``main`` (the benchmarks'), telling an :class:`ArchGymError` in one line, exit code 2.

    A missing input, simulator or bad option is the user's to fix, so it is
    said without a traceback.
    """
    try:
        main()
    except ArchGymError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


def _shortened(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else f"{text[:limit // 2]}...{text[-limit // 2:]}"


# -- parsing ---------------------------------------------------------------------------------------------


def parse_assignments(items: Sequence[str], option: str, example: str = "population=20") -> dict[str, Any]:
    """Parse repeated ``key=value`` items of ``option`` into typed values (JSON, numbers, booleans, text).

    Raises:
        ConfigurationError: an item is not ``key=value``, or a key is repeated; the message names ``option``.
    """
    from archgym.agent import parse_agent_config

    keys: list[str] = []
    for item in items:
        key, sep, _ = str(item).partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{option} {item!r} is not of the form key=value (for example {example})")
        if key.strip() in keys:
            raise ConfigurationError(f"{option}: {key.strip()!r} is given more than once")
        keys.append(key.strip())
    return parse_agent_config(items)


def backend_options(
    items: Sequence[str] | None, *, memspec: str | None = None, proxy: Path | None = None,
    timeout_s: float | None = None,
) -> dict[str, Any]:
    """The backend's keyword arguments: the ``--backend-option`` items, plus the shortcuts.

    The shortcuts are ``--memspec``, ``--proxy`` and ``--sim-timeout``
    (``timeout_s``). ``trust`` is refused as an option: options are recorded
    with a run, and a record must never turn trust on for whoever resumes it.

    Raises:
        ConfigurationError: a malformed item, ``trust`` given as an item, or a shortcut and an item
            giving one key two values.
    """
    options = parse_assignments(items or [], "--backend-option", "memspec=ddr4-2400")
    if "trust" in options:
        raise ConfigurationError("trust is not a backend option; give --trust, which is not recorded with the run")
    shortcuts = (("memspec", memspec, "--memspec"), ("proxy", proxy, "--proxy"), ("timeout_s", timeout_s, "--sim-timeout"))
    for key, value, flag in shortcuts:
        if value is None:
            continue
        if key in options and str(options[key]) != str(value):
            raise ConfigurationError(
                f"{flag} {value} and --backend-option {key}={options[key]} give {key} two values; give one of them"
            )
        options[key] = value
    if "proxy" in options:
        # Absolute, so that a run recorded with it resumes from any working directory.
        options["proxy"] = str(Path(options["proxy"]).resolve())
    return options


def load_plugins(plugins: Sequence[str] | None) -> tuple[str, ...]:
    """Load the ``--plugin`` modules and ``.py`` files (see :mod:`archgym.plugins`); how to name them anywhere.

    Raises:
        PluginError: a file does not exist, or a plug-in fails to import.
    """
    from archgym.plugins import load_plugins as load

    return load(plugins or [])


def check_problem(problem: str) -> None:
    """Raise unless ``problem`` is a registered design problem (one searched with backends and agents).

    Raises:
        ConfigurationError: it is not; the message lists the design problems.
    """
    problems = [name for name in list_problems() if get_problem(name).is_design_problem]
    if problem not in problems:
        raise ConfigurationError(
            f"unknown problem {problem!r} for --problem (--env); the design problems are {', '.join(problems)}"
        )


# -- output paths ----------------------------------------------------------------------------------------


IMAGE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg", ".eps", ".webp", ".tif", ".tiff")
"""File name endings a plot can be written as."""


def check_image_path(path: Path, option: str) -> Path:
    """Raise unless ``path`` names an image file (by its ending) that can be written.

    Raises:
        ConfigurationError: another ending, or a path that cannot be written (see :func:`check_output_file`).
    """
    check_output_file(path, option)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise ConfigurationError(f"{option} {path}: name an image file ({', '.join(IMAGE_SUFFIXES)})")
    return path


def check_output_dir(path: Path, option: str) -> Path:
    """Raise unless ``path`` is a directory a command can write into, or one it can create.

    Called before a command starts its work, so a wrong path fails at once rather than after it.

    Args:
        path: The directory given.
        option: The option (or argument) that gave it, e.g. ``"--out"``, for the message.

    Raises:
        ConfigurationError: ``path`` is a file, lies under a file, or its nearest existing folder is
            not writable.
    """
    if path.exists() and not path.is_dir():
        raise ConfigurationError(f"{option} {path} is a file; give a directory (an existing one or a new one)")
    _check_writable_folder(path, path, option, "directory")
    return path


def check_output_file(path: Path, option: str) -> Path:
    """Raise unless ``path`` is a file a command can write (an existing one is replaced).

    Called before a command starts its work, so a wrong path fails at once rather than after it.

    Args:
        path: The file given.
        option: The option that gave it, e.g. ``"--csv"``, for the message.

    Raises:
        ConfigurationError: ``path`` is a directory, lies under a file, or its nearest existing folder
            is not writable.
    """
    if path.is_dir():
        raise ConfigurationError(f"{option} {path} is a directory; give a file name")
    _check_writable_folder(path, path.absolute().parent, option, "file")
    return path


def _check_writable_folder(path: Path, folder: Path, option: str, kind: str) -> None:
    """Raise unless ``folder``, or the nearest of its parents that exists, is a writable directory."""
    existing = folder if folder.exists() else next((p for p in folder.absolute().parents if p.exists()), Path("/"))
    if not existing.is_dir():
        raise ConfigurationError(f"{option} {path}: {existing} is a file, so the {kind} cannot be created there")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigurationError(f"{option} {path}: {existing} is not writable")


# -- backends --------------------------------------------------------------------------------------------


def shared_options(problem: str, backend: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The ``options`` that ``backend`` also takes (a reference or confirming backend inherits those)."""
    accepted = backend_option_names(backend_info(backend, problem))
    return {k: v for k, v in options.items() if accepted is None or k in accepted}


def trusted(options: Mapping[str, Any], trust: bool) -> dict[str, Any]:
    """``options`` with ``trust=True`` added when ``--trust`` was given (never recorded with a run)."""
    return {**options, "trust": True} if trust else dict(options)


def build_backend(problem: str, backend: str, options: Mapping[str, Any]) -> CostModel:
    """``make_backend(backend, problem, **options)``, with a clear error for an option the backend does not take.

    Raises:
        UnknownNameError: no such backend.
        ConfigurationError: an option the backend does not take.
        BackendUnavailableError: the backend cannot run here.
    """
    info = backend_info(backend, problem)
    for key in ("proxy", "trust"):
        if key in options and info.short_name != PROXY_BACKEND:
            raise ConfigurationError(f"--{key} applies to --backend proxy, not {backend!r}")
    try:
        return make_backend(info.name, **options)
    except TypeError as error:
        # A factory taking **kwargs (the proxy backend) finds unknown options only when called.
        if "unexpected keyword argument" not in str(error):
            raise
        raise ConfigurationError(f"backend {info.name}: {error}") from None


# -- formatting ------------------------------------------------------------------------------------------


def format_value(value: Any) -> str:
    """A metric or knob value for a table: 4 significant digits, thousands separated."""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def percent(value: float | None, signed: bool = False, digits: int = 1) -> str:
    """``12.3 %`` (``-`` for a missing value)."""
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.{digits}f} %" if signed else f"{value:.{digits}f} %"


def correlation(value: float | None) -> str:
    """A correlation to three decimals (``-`` for a missing value)."""
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


# -- problems' own commands ------------------------------------------------------------------------------


def mount_problem_clis(app: typer.Typer) -> None:
    """Add each registered problem's own commands to ``app`` as ``archgym <problem> ...``."""
    for name, target in problem_clis().items():
        module, attr = target.split(":")
        app.add_typer(getattr(importlib.import_module(module), attr), name=name)
