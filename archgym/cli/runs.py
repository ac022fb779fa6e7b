"""``archgym runs DIR``: the runs of a dataset directory, what each searched and how far it got.

A run's status comes from its record (``_runs/<run_id>.json``) and from its
journal. A run's record says ``running`` from its start until it completes,
also after its process died; a process logging a run holds a lock on the
run's journal (``_journal-<run_id>.jsonl``) for as long as it logs. So a
``running`` record whose journal no process holds is an *interrupted* run,
which ``archgym run --out DIR --resume --run-id ID`` continues. The lock is
read from ``/proc/locks`` where there is one, so listing never gets in the way
of a run that is starting; elsewhere a shared lock is tried and let go at once.
"""

from __future__ import annotations

import datetime as _dt
import glob
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Column, Table

from archgym.cli.common import JsonOption, console, fail
from archgym.errors import ArchGymError, ConfigurationError, UnknownNameError

try:  # journal locks are POSIX advisory locks
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

app = typer.Typer()

STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
STATUS_INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunListing:
    """One run of a dataset directory, as ``archgym runs`` shows it.

    Args:
        run_id: The run's id.
        agent: The agent or trainer that searched (for a confirming run, the one whose designs it confirmed).
        problem: The design problem.
        backend: The backend's full name.
        workload: The workload ("" for the backend's default).
        status: ``running``, ``complete`` or ``interrupted`` (see the module docstring).
        rows: Evaluations the dataset holds for the run.
        budget: Evaluations the run is to make (a confirming run: the designs it re-evaluates).
        started: ISO time the run (or its latest resumption) started.
        sweep: The sweep it belongs to ("" if none).
        confirms: The run whose best designs it re-evaluated ("" for a search).
    """

    run_id: str
    agent: str
    problem: str
    backend: str
    workload: str
    status: str
    rows: int
    budget: int
    started: str
    sweep: str = ""
    confirms: str = ""


def list_runs(out: str | os.PathLike[str]) -> list[RunListing]:
    """Every run recorded in the dataset directory ``out``, oldest start first.

    Raises:
        DatasetError: ``out`` is not a dataset directory, or a record or row file is unreadable.
    """
    from archgym.dataset import read_run_metadata
    from archgym.runner import RunRecord

    raw = read_run_metadata(out)
    records = [(RunRecord.from_json(r), r) for r in raw]
    rows = _row_counts(out, [record for record, _ in records])
    listings = []
    for record, fields in records:
        spec = record.spec
        budget = int(fields.get("top") or 0) if record.confirms else spec.budget
        backend = spec.backend if "/" in spec.backend else f"{spec.problem}/{spec.backend}"
        listings.append(RunListing(
            run_id=record.run_id, agent=spec.agent, problem=spec.problem, backend=backend,
            workload=str(spec.workload or ""), status=_status(out, record, rows[record.run_id], budget),
            rows=rows[record.run_id], budget=budget, started=_started(record), sweep=spec.sweep,
            confirms=record.confirms,
        ))
    return sorted(listings, key=lambda listing: (listing.started, listing.run_id))


def resume_record(out: str | os.PathLike[str], run_id: str) -> Any:
    """The record of the search ``run_id`` in ``out``, to resume it (a :class:`archgym.runner.RunRecord`).

    Raises:
        UnknownNameError: ``out`` has no such run; the message lists its runs.
        ConfigurationError: the run only re-evaluated another run's best designs.
        DatasetError: ``out`` is not a dataset directory, or a record is unreadable.
    """
    from archgym.runner import read_records

    records = read_records(out)
    for record in records:
        if record.run_id == run_id:
            if record.confirms:
                raise ConfigurationError(
                    f"run {run_id} re-evaluated the best designs of run {record.confirms} (--confirm-top) and is "
                    f"not a search to resume; resume {record.confirms} instead"
                )
            return record
    searches = [r.run_id for r in records if not r.confirms]
    raise UnknownNameError(
        f"no run {run_id!r} in {out}; its runs are {', '.join(searches)}" if searches else
        f"no run {run_id!r} in {out}, which holds no runs"
    )


@app.command("runs")
def runs(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory of archgym run, sweep or marl train.")],
    json_output: JsonOption = False,
) -> None:
    """List the runs of a dataset directory: id, agent, problem, backend, workload, status, rows, budget, start.

    A run is running while a process logs it, complete once it finished, and
    interrupted when its process ended before; resume one with
    `archgym run --out DIR --resume --run-id ID`.
    """
    try:
        listings = list_runs(dataset)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    if json_output:
        console.print_json(json.dumps([asdict(listing) for listing in listings]))
        return
    if not listings:
        console.print(f"no runs in {escape(str(dataset))}")
        return
    # Each run's backend and workload on a second line, under its id, so that a row fits 80 columns.
    table = Table(Column("run id\n[dim]backend, workload", overflow="fold"), Column("agent", no_wrap=True),
                  Column("status", no_wrap=True), Column("rows/\nbudget", justify="right", no_wrap=True),
                  Column("started", no_wrap=True), title=f"runs in {escape(str(dataset))}", title_justify="left",
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for listing in listings:
        agent = "confirm" if listing.confirms else listing.agent
        where = f"{listing.backend}, {listing.workload or 'default workload'}"
        table.add_row(f"{escape(listing.run_id)}\n[dim]{escape(where)}", escape(agent), _STATUS_STYLE[listing.status],
                      f"{listing.rows:,}/{listing.budget:,}", _short_time(listing.started))
    console.print(table)
    counts = {status: sum(listing.status == status for listing in listings) for status in _STATUS_STYLE}
    console.print(", ".join(f"{count} {status}" for status, count in counts.items()))


_STATUS_STYLE = {
    STATUS_RUNNING: "[green]running[/]", STATUS_INTERRUPTED: "[yellow]interrupted[/]", STATUS_COMPLETE: "complete",
}


def _row_counts(out: str | os.PathLike[str], records: Sequence[Any]) -> dict[str, int]:
    """Rows of each run: a complete search's record says; the others' rows are read."""
    from archgym.dataset import load_run_rows

    counts = {}
    for record in records:
        if record.complete:
            counts[record.run_id] = record.evaluations
        else:
            counts[record.run_id] = sum(len(load_run_rows(out, logged)) for logged in _logged_ids(out, record.run_id))
    return counts


def _logged_ids(out: str | os.PathLike[str], run_id: str) -> list[str]:
    """The run ids ``run_id``'s rows are logged under: its own, and its trainer's env runners' ``<run_id>-runner<i>``."""
    runner = re.compile(rf"^(?:part-|_?journal-)({re.escape(run_id)}-runner\d+)(?:-\d+\.parquet|\.jsonl)$")
    runners = {match[1] for path in Path(out).glob(f"*{glob.escape(run_id)}-runner*")
               if (match := runner.match(path.name))}
    return [run_id, *sorted(runners)]


def _status(out: str | os.PathLike[str], record: Any, rows: int, budget: int) -> str:
    """``running`` while a process holds one of the run's journals; else complete or interrupted."""
    if record.status == STATUS_COMPLETE:
        return STATUS_COMPLETE
    directory = Path(out)
    journals = [directory / f"{prefix}{logged}.jsonl" for logged in _logged_ids(out, record.run_id)
                for prefix in ("_journal-", "journal-")]
    if any(_locked(path) for path in journals):
        return STATUS_RUNNING
    # Records of the earlier kind (and of confirming runs) have no status: their rows tell.
    if not record.status and budget and rows >= budget:
        return STATUS_COMPLETE
    return STATUS_INTERRUPTED


def _locked(path: Path) -> bool:
    """Whether a process holds a lock on the file at ``path``."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return False
    locks = Path("/proc/locks")
    if locks.exists():
        return (os.major(stat.st_dev), os.minor(stat.st_dev), stat.st_ino) in _proc_locks(locks)
    if fcntl is None:  # pragma: no cover - Windows: no locks to read
        return False
    try:
        with open(path, "rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


def _proc_locks(locks: Path) -> set[tuple[int, int, int]]:
    """(device major, device minor, inode) of every file locked, from a ``/proc/locks`` listing.

    A line reads ``1: FLOCK  ADVISORY  WRITE 4242 00:2f:123456 0 EOF`` (a
    process waiting for the lock adds ``->`` after the number); the device
    numbers are hexadecimal, the inode decimal.
    """
    held = set()
    for line in locks.read_text(encoding="ascii", errors="replace").splitlines():
        for field in line.split():
            parts = field.split(":")
            if len(parts) == 3 and all(parts):
                try:
                    held.add((int(parts[0], 16), int(parts[1], 16), int(parts[2])))
                except ValueError:
                    continue
                break
    return held


def _started(record: Any) -> str:
    """When the run (or its latest resumption) started: its record is written then, and again when it completes."""
    written = record.written_at
    if not (record.complete and record.wall_time_s is not None and written):
        return written
    try:
        end = _dt.datetime.fromisoformat(written)
    except ValueError:
        return written
    return (end - _dt.timedelta(seconds=record.wall_time_s)).isoformat()


def _short_time(iso: str) -> str:
    """An ISO time as local ``MM-DD HH:MM`` (``--json`` gives the full time); as given if unreadable."""
    try:
        return _dt.datetime.fromisoformat(iso).astimezone().strftime("%m-%d %H:%M")
    except ValueError:
        return iso

