"""Progress of long work: library code reports it, whoever listens shows it.

Library code never prints. Work that can take seconds (reading and preparing
a long trace) opens a :func:`task` and reports how far it has come; by default
nobody listens and reporting costs nothing. The CLI listens (:func:`listening`)
and draws a progress bar on the terminal; a notebook or a service may install
its own listener.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

__all__ = ["Listener", "listening", "task"]

Update = Callable[[float], None]
"""Reports the work done so far, in the task's unit."""

Listener = Callable[[str, "float | None", str], AbstractContextManager[Update]]
"""Opens the display of a task, given its description, total (None if unknown) and unit."""

_listener: ContextVar[Listener | None] = ContextVar("archgym_progress_listener", default=None)


def _ignore(done: float) -> None:
    del done


@contextmanager
def task(description: str, total: float | None = None, unit: str = "") -> Iterator[Update]:
    """A unit of long work; yields the function that reports how much of ``total`` is done."""
    listener = _listener.get()
    if listener is None:
        yield _ignore
        return
    with listener(description, total, unit) as update:
        yield update


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Show the progress of the tasks opened inside this block with ``listener``."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)
