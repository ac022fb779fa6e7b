"""How a long command shows that it advances: a bar on a terminal, periodic log lines otherwise.

A bar redraws itself in place, which only a terminal shows; written to a
file or a pipe, rich draws it once, when the command ends. So when stdout or
stderr is not a terminal, a command logs one line every
:data:`LOG_INTERVAL_S` seconds instead (and one when it starts and one when
it ends), such as ``bo on dram/random: 120/300 evaluations, best reward
-0.7794, 2.9 evaluations/s, 41 s elapsed``, whether or not the work advanced
since the last line, so a redirected command shows that it is alive.

Library tasks (:func:`archgym.progress.task`: reading a trace, training a
proxy, validating a model) are shown by :func:`periodic_log` the same way
when stderr is not a terminal, except that a task quicker than
:data:`LOG_INTERVAL_S` logs nothing: it would only add two lines to every
command's output.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from archgym.cli.common import console, error_console

__all__ = ["LOG_INTERVAL_S", "Update", "live_progress", "periodic_log"]

LOG_INTERVAL_S = 5.0
"""Seconds between two log lines when stdout or stderr is not a terminal."""

Update = Callable[[int, str], None]
"""Reports the units done so far and a short detail, e.g. ``"best reward -0.78"``."""


@contextmanager
def live_progress(description: str, total: int, unit: str, *, rate: bool = True) -> Iterator[Update]:
    """Show the progress of the work inside the block; yields the function that reports it.

    Args:
        description: What is being done, e.g. ``"bo on dram/random"``.
        total: Units of work in all.
        unit: Their name in the plural, e.g. ``"evaluations"``.
        rate: Whether log lines give the units done per second.
    """
    if console.is_terminal and error_console.is_terminal:
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=error_console,
        ) as bar:  # fmt: skip
            task = bar.add_task(escape(description), total=total, detail="")
            yield lambda done, detail: bar.update(task, completed=done, detail=escape(detail))
        return
    # Where the output goes to a file, so do the lines: stderr, or stdout when only stdout is redirected.
    target = error_console if not error_console.is_terminal else console
    log = _PeriodicLog(target, description, total, unit, rate=rate, announce=True)
    log.start()
    try:
        yield log.update
    finally:
        log.stop()


@contextmanager
def periodic_log(
    target: Console, description: str, total: float | None, unit: str
) -> Iterator[Callable[[float], None]]:
    """Log where a library task stands on ``target`` every :data:`LOG_INTERVAL_S` seconds while it lasts.

    Nothing is logged for a task that ends within the first interval; a task
    that logged a line logs a last one when it ends.

    Args:
        target: Where the lines go.
        description: What is being done, e.g. ``"reading trace.stl"``.
        total: Units of work in all; None if unknown.
        unit: Their name in the plural (``"B"`` for bytes, shown as kB, MB, ...).

    Yields:
        The function that reports the units done so far.
    """
    log = _PeriodicLog(target, description, total, unit, rate=False, announce=False)
    log.start()
    try:
        yield lambda done: log.update(done, "")
    finally:
        log.stop()


class _PeriodicLog:
    """Prints where the work stands now, every :data:`LOG_INTERVAL_S` seconds, from a thread of its own.

    With ``announce``, also when the work starts and when it ends; without,
    the first line comes after one interval, and the last only if one came before.
    """

    def __init__(
        self, target: Console, description: str, total: float | None, unit: str, *, rate: bool, announce: bool
    ) -> None:
        self._target = target
        self._description = description
        self._total = total
        self._unit = unit
        self._rate = rate
        self._announce = announce
        self._printed = False
        self._done = 0.0
        self._detail = ""
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="archgym-progress-log", daemon=True)
        self._start = time.perf_counter()

    def start(self) -> None:
        self._start = time.perf_counter()
        if self._announce:
            self._print()
        self._thread.start()

    def update(self, done: float, detail: str) -> None:
        with self._lock:
            self._done, self._detail = done, detail

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        if self._announce or self._printed:
            self._print()

    def _run(self) -> None:
        while not self._stopped.wait(LOG_INTERVAL_S):
            self._print()

    def _print(self) -> None:
        with self._lock:
            done, detail = self._done, self._detail
        elapsed = time.perf_counter() - self._start
        parts = [f"{self._description}: {_amount(done, self._total, self._unit)}"]
        if detail:
            parts.append(detail)
        if self._rate:
            parts.append(f"{_rate(done, elapsed)} {self._unit}/s")
        parts.append(f"{elapsed:,.0f} s elapsed")
        # soft_wrap: one line however long, as a log line should be in a file.
        self._target.print(escape(", ".join(parts)), soft_wrap=True, highlight=False)
        self._printed = True


def _amount(done: float, total: float | None, unit: str) -> str:
    """``"120/300 evaluations"``, ``"1.2 MB/4.0 MB"``, or the done part alone when the total is unknown."""
    if unit == "B":
        return decimal(int(done)) + ("" if total is None else f"/{decimal(int(total))}")
    amount = f"{done:,.0f}" if total is None else f"{done:,.0f}/{total:,.0f}"
    return f"{amount} {unit}" if unit else amount


def _rate(done: float, elapsed: float) -> str:
    """Units per second, to three significant digits below 100 and whole above."""
    rate = done / elapsed if elapsed > 0 else 0.0
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"
