"""MiniMalloc itself, as a bring-your-own reference solver.

Point ``ARCHGYM_MINIMALLOC`` (or ``binary=``) at a ``minimalloc`` binary
built from `google/minimalloc <https://github.com/google/minimalloc>`_ and
:class:`MiniMallocBinary` solves pure allocation instances with it, so that
``archgym malloc bench`` can show it beside this project's methods. Each run
gets its own temporary directory (the instance as CSV in, MiniMalloc's
placement out) and a timeout; the placement it writes is read back and
checked for overlaps and capacity before it is reported.

MiniMalloc's command line (its ``src/main.cc``) exits with status 0 after
writing a placement, and with status 1 after logging the failed status:
``NOT_FOUND`` when its search finished without a placement (the buffers
provably do not fit) and ``DEADLINE_EXCEEDED`` when its ``--timeout`` ran out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from archgym.errors import BackendUnavailableError, ConfigurationError, InvalidDesignError
from archgym.external import (
    SimulatorOutputError,
    locate_binary,
    make_scratch_directory,
    remove_scratch_directory,
    run_program,
)
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.minimalloc import format_csv
from archgym.simulators.malloc.placement import check_placement
from archgym.simulators.malloc.solve import Solution, evaluate

__all__ = ["BINARY_VARIABLE", "MiniMallocBinary", "unavailable_reason"]

BINARY_VARIABLE = "ARCHGYM_MINIMALLOC"
"""Environment variable naming the ``minimalloc`` binary."""

_GRACE_S = 5.0
"""Seconds past its own ``--timeout`` before MiniMalloc's process group is killed."""


def _locate(binary: str | os.PathLike[str] | None) -> tuple[str | None, str | None]:
    return locate_binary("MiniMalloc", BINARY_VARIABLE, "a minimalloc binary (built from github.com/google/minimalloc)",
                         binary)


def unavailable_reason(binary: str | os.PathLike[str] | None = None) -> str | None:
    """None if MiniMalloc can run here (``binary``, else ``ARCHGYM_MINIMALLOC``), else why not."""
    return _locate(binary)[1]


def _csv_for_minimalloc(instance: Instance) -> str:
    """The instance as MiniMalloc reads it (with its per-buffer ``alignment`` column where needed)."""
    text = format_csv(instance)
    if instance.alignment == 1:
        return text
    lines = text.splitlines()
    return "\n".join([lines[0] + ",alignment", *(f"{line},{instance.alignment}" for line in lines[1:])]) + "\n"


class MiniMallocBinary:
    """Runs a MiniMalloc binary on pure allocation instances.

    Args:
        binary: Path (or name on PATH) of ``minimalloc``; by default the value
            of ``ARCHGYM_MINIMALLOC``.

    Raises:
        BackendUnavailableError: No executable binary was found (the message
            says what was tried and which variable to set).
    """

    method = "minimalloc"
    """The name its solutions carry."""

    def __init__(self, binary: str | os.PathLike[str] | None = None) -> None:
        path, reason = _locate(binary)
        if path is None:
            raise BackendUnavailableError(f"MiniMalloc is unavailable: {reason}")
        self.binary = path

    def solve(self, instance: Instance, time_limit: float = 20.0) -> Solution:
        """Place every buffer within the capacity, or prove that they do not fit.

        Args:
            instance: A pure allocation instance (costs, if any, are ignored).
            time_limit: MiniMalloc's ``--timeout`` in seconds; its process
                group is killed a few seconds later if it is still running.

        Returns:
            A :class:`Solution` with method ``"minimalloc"``: ``fits`` and
            ``optimal`` True for a placement, ``fits`` False and ``optimal``
            True when MiniMalloc proved that none exists, ``optimal`` False
            when it ran out of time. ``wall_time_s`` is the process's time.

        Raises:
            ConfigurationError: A non-positive time limit.
            SimulatorOutputError: MiniMalloc crashed, failed for another
                reason, or wrote a placement that is unreadable, places
                buffers over each other or beyond the capacity (the message
                holds the end of its output).
        """
        if not time_limit > 0:
            raise ConfigurationError(f"time_limit must be positive, got {time_limit!r}")
        folder = make_scratch_directory("MiniMalloc")
        try:
            source, placed = folder / "instance.csv", folder / "placement.csv"
            source.write_text(_csv_for_minimalloc(instance))
            command = [self.binary, f"--capacity={instance.capacity}", f"--input={source}", f"--output={placed}",
                       f"--timeout={time_limit:g}s"]
            start = time.perf_counter()
            run, reason = run_program(command, folder, time_limit + _GRACE_S, "MiniMalloc")
            wall = time.perf_counter() - start
            if run is None:
                raise SimulatorOutputError(reason)
            if reason or (run.returncode != 0 and "DEADLINE_EXCEEDED" in run.stderr):
                return Solution(self.method, np.full(len(instance), -1, np.int64), False, 0, None, None, wall,
                                False)
            if run.returncode != 0:
                if "NOT_FOUND" in run.stderr and "required column" not in run.stderr:
                    return Solution(self.method, np.full(len(instance), -1, np.int64), False, 0, None, None, wall,
                                    True)
                raise SimulatorOutputError(
                    f"MiniMalloc exited with return code {run.returncode} on {instance.name}; {run.output_tails()}")
            offsets = self._read_offsets(instance, placed, run.output_tails())
        finally:
            remove_scratch_directory(folder)
        try:
            check_placement(instance, offsets)
        except InvalidDesignError as error:
            raise SimulatorOutputError(f"MiniMalloc's placement of {instance.name} is illegal: {error}") from None
        return evaluate(instance, offsets, self.method, wall, True)

    @staticmethod
    def _read_offsets(instance: Instance, path: Path, tails: str) -> np.ndarray:
        """The offsets MiniMalloc wrote, in the instance's buffer order."""
        try:
            text = path.read_text()
        except OSError as error:
            raise SimulatorOutputError(f"MiniMalloc exited with status 0 but wrote no placement ({error}); "
                                       f"{tails}") from None
        header = text.split("\n", 1)[0].strip().split(",")
        if "offset" not in header:
            raise SimulatorOutputError(f"MiniMalloc's placement has no offset column (header {header}); {tails}")
        column = header.index("offset")
        by_id: dict[str, int] = {}
        for line_number, line in enumerate(text.splitlines()[1:], start=2):
            fields = line.strip().split(",")
            if len(fields) != len(header):
                if line.strip():
                    raise SimulatorOutputError(f"MiniMalloc's placement, line {line_number}: {line!r}")
                continue
            try:
                by_id[fields[0]] = int(fields[column])
            except ValueError:
                raise SimulatorOutputError(
                    f"MiniMalloc's placement, line {line_number}: offset {fields[column]!r} is not an integer"
                ) from None
        missing = [i for i in instance.ids if i not in by_id]
        if missing:
            raise SimulatorOutputError(f"MiniMalloc's placement lacks {len(missing)} buffers (first: {missing[0]!r})")
        return np.array([by_id[i] for i in instance.ids], dtype=np.int64)

