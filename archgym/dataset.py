"""Evaluation datasets: one row per evaluation, logged crash-safely to Parquet.

Every evaluation, whoever asked for it (an agent's search loop, an environment
step), becomes one row. :class:`EvaluationLogger` appends rows to a dataset
directory; :class:`LoggedCostModel` wraps any cost model so that logging needs
no agent code; :func:`load_dataset` reads a directory back as one DataFrame.

Dataset schema
--------------
One column each, in this order:

===================  ========================================================
``run_id``           str; unique per run (see :func:`new_run_id`)
``env``              str; the design problem, e.g. ``"dram"``
``backend``          str; the cost model, e.g. ``"dram/analytical"``
``backend_options``  str; the backend's keyword arguments (memspec, proxy,
                     timeout, ...) as JSON with sorted keys, ``"{}"`` if none
``workload``         str; workload name, path or spec string
``agent``            str; search agent name, ``""`` for manual or env use
``agent_config``     str; the agent's configuration as JSON with sorted keys
``seed``             nullable int (pandas ``Int64``)
``objective``        str; objective name, e.g. ``"latency"``
``objective_spec``   str; the objective the ``reward`` column was computed
                     with, as JSON (:meth:`archgym.objective.Objective.to_dict`:
                     its type, targets or weights, goals, infeasible reward;
                     :func:`archgym.objective.make_objective` rebuilds it),
                     ``"{}"`` if not recorded
``step``             int64; 0-based evaluation index within the run
*one per knob*       named exactly as the knob; int64, float64, bool or str
                     according to the knob's values (a knob whose values mix
                     types, such as ``("auto", 1, 2)``, is stored as ``str``)
*one per metric*     float64; NaN when the backend did not report it
``feasible``         bool
``reason``           str; why the design is infeasible, ``""`` when feasible
``reward``           float64; NaN when no reward was computed
``wall_time_s``      float64; backend seconds spent on this evaluation
``timestamp``        UTC timestamp (``datetime64[us, UTC]``) when it was logged
``archgym_version``  str; the package version that wrote the row
===================  ========================================================

Every part file also carries the run as Parquet key-value metadata: under the
key ``archgym`` (:data:`PARQUET_METADATA_KEY`), a JSON object with the run
context (the fields above that are the same on every row, with
``agent_config``, ``backend_options`` and ``objective_spec`` as objects),
``knobs`` and ``metrics`` (which columns are which), ``archgym_version`` and
whatever the writer adds (a run of :mod:`archgym.runner` adds its ``spec``,
``budget``, ``targets``, ``success_reward``, ``sweep`` and ``setting``).
:func:`read_part_metadata` reads it; so does
``json.loads(pyarrow.parquet.read_schema(path).metadata[b"archgym"])``.

Files in a dataset directory
----------------------------
``part-<run_id>-<seq>.parquet``
    Rows of one run, written every ``flush_every`` rows, at the first row
    logged ``flush_interval_s`` after the previous part, and on close. Each
    part is written under a hidden temporary name and renamed into place, so
    a part is either complete or absent.
``_journal-<run_id>.jsonl``
    A schema header line, then one JSON line per row not yet in a part. Each
    line is written and flushed as soon as the row is logged, so a killed
    process loses at most the row being written. The loader reads leftover
    journals; a logger resuming the run turns them into a part first.
``_runs/<run_id>.json``
    The run record written by :func:`write_run_metadata` (for runs of
    :mod:`archgym.runner` also its status, evaluations and wall time).

File names carry the run id, so any number of runs (in any number of
processes) can write into one directory. A run itself has one writer at a
time: a second logger for a run that is still open raises
:class:`~archgym.errors.DatasetError`. Rows survive a killed *process*; part
files are not fsync'ed, so a power loss may lose recently written parts.

Reading a dataset with other tools
----------------------------------
Only the part files are Parquet, and everything else starts with ``_`` or
``.``, which Arrow's dataset discovery skips, so a directory opens as it is::

    pandas.read_parquet("runs/latest")
    pyarrow.dataset.dataset("runs/latest").to_table()   # or pyarrow.parquet.read_table
    polars.read_parquet("runs/latest/*.parquet")         # or polars.scan_parquet("runs/latest/*.parquet")
    duckdb.sql("SELECT * FROM read_parquet('runs/latest/*.parquet')")

Polars needs the ``*.parquet`` glob: given the bare directory
(``polars.read_parquet("runs/latest")``, ``polars.scan_parquet("runs/latest/")``)
it lists every file below it, ``_`` and ``.`` names included, and refuses
the run records (``directory contained paths with different file
extensions``, in polars 2.1). No layout short of a directory holding
nothing but part files avoids that, and the run records and journals must
live somewhere, so the glob is the call to use. DuckDB reads the bare
directory too, but the glob works with every version.

These readers see the rows in part files. Rows of a run still being written
that are only in its journal (at most ``flush_every - 1`` rows, logged within
the last ``flush_interval_s``) and rows of a killed run that was not resumed
are seen by :func:`load_dataset` alone, which also drops the duplicates a
crash can leave and sorts by ``(run_id, step)``.

Runs of different problems (a sweep with several ``envs``, or runs of several
problems given the same directory) have different knob and metric columns.
Arrow (so pandas too) takes the columns of the first file and silently drops
the others', and polars and DuckDB refuse the mismatch, unless told to unite
them by name::

    duckdb.sql("SELECT * FROM read_parquet('DIR/*.parquet', union_by_name=true)")
    polars.concat([polars.read_parquet(f) for f in glob.glob("DIR/*.parquet")], how="diagonal_relaxed")
    pandas.read_parquet("DIR", schema=archgym.dataset.dataset_schema("DIR"))
    pyarrow.dataset.dataset("DIR", schema=pyarrow.unify_schemas(
        [pyarrow.parquet.read_schema(f) for f in glob.glob("DIR/*.parquet")]))

Columns a run does not have are null in its rows. :func:`load_dataset` does
this on its own.

Earlier layout
--------------
Datasets written before the journal and records moved under ``_`` names
(``journal-<run_id>.jsonl`` and ``runs/<run_id>.json``) load as before with
:func:`load_dataset`, :func:`read_run_metadata` and everything built on them,
and resume: a logger resuming such a run folds its ``journal-`` file into a
part, and :func:`write_run_metadata` moves the directory's ``runs/`` records
to ``_runs/``. Their rows lack the ``backend_options`` and ``objective_spec``
columns, and a resumed run keeps the columns it started with.

Plain Parquet readers fail on such a directory until it is written to again.
:func:`upgrade_dataset` (``archgym dataset upgrade DIR``) moves it into the
current layout at once: records to ``_runs/``, journal rows into part files,
the default ``report/`` to ``_report/``, without losing or duplicating a row.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import archgym
from archgym.agent import check_seed
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation
from archgym.errors import ConfigurationError, DatasetError, InvalidDesignError
from archgym.space import DesignSpace, Parameter, ParameterKind
from archgym.wrappers import CostModelWrapper

if TYPE_CHECKING:  # typing.Self needs Python 3.11
    from typing_extensions import Self

try:  # advisory locks keep two writers off one run; POSIX only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "PARQUET_METADATA_KEY",
    "EvaluationLogger",
    "LayoutUpgrade",
    "LoggedCostModel",
    "RunContext",
    "dataset_schema",
    "load_dataset",
    "load_run_rows",
    "new_run_id",
    "read_part_metadata",
    "read_run_metadata",
    "read_run_record",
    "upgrade_dataset",
    "write_run_metadata",
]

logger = logging.getLogger(__name__)

CONTEXT_COLUMNS: tuple[str, ...] = (
    "run_id",
    "env",
    "backend",
    "backend_options",
    "workload",
    "agent",
    "agent_config",
    "seed",
    "objective",
    "objective_spec",
)
"""Columns describing the run, identical on every row of a run."""
RESULT_COLUMNS: tuple[str, ...] = (
    "feasible", "reason", "reward", "wall_time_s", "timestamp", "archgym_version",
)
"""Columns after the knob and metric columns."""
RESERVED_COLUMNS: frozenset[str] = frozenset(CONTEXT_COLUMNS + ("step",) + RESULT_COLUMNS)
"""Names no knob or metric may take."""
LATER_CONTEXT_COLUMNS: tuple[str, ...] = ("backend_options", "objective_spec")
"""Context columns that datasets of the earlier layout do not have."""
PARQUET_METADATA_KEY = "archgym"
"""Key of the run's JSON description in every part file's Parquet key-value metadata."""
PARQUET_METADATA_FORMAT = 1
"""Version of that description (its ``format`` field)."""

_JOURNAL_FORMAT = 1
# Columns every part file has, of this layout and the earlier one; a .parquet file without them is another tool's.
_PART_COLUMNS = tuple(c for c in CONTEXT_COLUMNS if c not in LATER_CONTEXT_COLUMNS) + ("step",) + RESULT_COLUMNS
_TIMESTAMP = pa.timestamp("us", tz="UTC")
# Arrow types a column may have, by the name stored in journal headers.
_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "timestamp": _TIMESTAMP,
}
_TYPE_NAMES = {t: name for name, t in _TYPES.items()}
_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PART_RE = re.compile(r"^part-(?P<run>.+)-(?P<seq>\d+)\.parquet$")
# "journal-" and "runs/" are the earlier layout's names, still read (see the module docstring).
_JOURNAL_PREFIXES = ("_journal-", "journal-")
_JOURNAL_RE = re.compile(r"^_?journal-(?P<run>.+)\.jsonl$")
RECORDS_DIR = "_runs"
"""Folder of a dataset directory holding run records."""
_LEGACY_RECORDS_DIR = "runs"


# -- run context ------------------------------------------------------------------------


@dataclass(frozen=True)
class RunContext:
    """What every row of one run has in common.

    Args:
        run_id: Unique per run; :func:`new_run_id` makes one. Letters, digits,
            ``.``, ``_`` and ``-`` only, since it is part of file names.
        env: The design problem, e.g. ``"dram"``.
        backend: The cost model, e.g. ``"dram/analytical"``.
        workload: Workload name, path or spec string.
        agent: Search agent name; ``""`` for manual or environment use.
        agent_config: The agent's settings; stored as JSON with sorted keys.
        seed: The run's random seed, if any.
        objective: Objective name, e.g. ``"latency"``.
        backend_options: The backend's keyword arguments (``{"memspec": "ddr4-2400"}``).
        objective_spec: The objective rewards are computed with, as
            :meth:`~archgym.objective.Objective.to_dict` gives it (targets or
            weights included); empty if unknown.
    """

    run_id: str
    env: str
    backend: str
    workload: str
    agent: str = ""
    agent_config: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    objective: str = ""
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    objective_spec: Mapping[str, Any] = field(default_factory=dict)


def new_run_id(prefix: str = "run") -> str:
    """A fresh run id: ``<prefix>-<UTC timestamp>-<random hex>``.

    Characters of ``prefix`` that cannot appear in a file name (``/``, spaces)
    become ``-``, so ``new_run_id("dram/analytical")`` is safe to use.
    """
    clean = re.sub(r"[^A-Za-z0-9._-]+", "-", prefix).strip("-.") or "run"
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{clean}-{stamp}-{secrets.token_hex(4)}"


def _check_run_id(run_id: Any) -> str:
    if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
        raise DatasetError(
            f"invalid run id {run_id!r}: run ids are part of file names and may only contain "
            "letters, digits, '.', '_' and '-' (and must start with a letter or digit); "
            "new_run_id() makes valid ones"
        )
    return run_id


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)  # paths, enums, objects: keep something readable


def _context_row(context: RunContext) -> dict[str, Any]:
    seed = context.seed
    if seed is not None:
        try:
            seed = check_seed(seed, "RunContext.seed")
        except ConfigurationError as error:
            # Checked before a journal line is written: a seed the int64 column cannot hold would
            # leave a journal no loader can read.
            raise DatasetError(f"{error} (or None)") from None
    return {
        "run_id": _check_run_id(context.run_id),
        "env": str(context.env),
        "backend": str(context.backend),
        "backend_options": _json_text(context.backend_options),
        "workload": str(context.workload),
        "agent": str(context.agent),
        "agent_config": _json_text(context.agent_config),
        "seed": seed,
        "objective": str(context.objective),
        "objective_spec": _json_text(context.objective_spec),
    }


def _json_text(mapping: Mapping[str, Any]) -> str:
    return json.dumps(dict(mapping), sort_keys=True, default=_json_default)


# -- knob columns -------------------------------------------------------------------------


def _knob_type(parameter: Parameter) -> pa.DataType:
    """Arrow type of a knob's column, chosen from its allowed values."""
    if parameter.kind is ParameterKind.INTEGER:
        return pa.int64()
    if parameter.kind is ParameterKind.FLOAT:
        return pa.float64()
    values = parameter.values
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return pa.bool_()
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in values):
        return pa.int64()
    if all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))
           for v in values):
        return pa.float64()
    return pa.string()  # strings, or a mix of types: one column needs one type


_PY_TYPES: dict[pa.DataType, type] = {
    pa.int64(): int, pa.float64(): float, pa.bool_(): bool, pa.string(): str,
}


def _knob_converter(parameter: Parameter, arrow_type: pa.DataType) -> Callable[[Any], Any]:
    """A function turning a design value into the knob column's Python type."""
    py_type = _PY_TYPES[arrow_type]
    name = parameter.name

    def coerce(value: Any) -> Any:
        if py_type is str:
            return str(value)
        if py_type is bool:
            if isinstance(value, (bool, np.bool_)):
                return bool(value)
        elif not isinstance(value, (bool, np.bool_)):
            number = _as_float(value)
            if number is not None and (py_type is float or number.is_integer()):
                return number if py_type is float else int(number)
        raise DatasetError(
            f"cannot log knob {name!r}: value {value!r} does not fit its column "
            f"(type {_TYPE_NAMES[arrow_type]}; allowed values are {parameter.allowed()})"
        )

    def convert(value: Any) -> Any:
        if type(value) is py_type:  # the common case: already canonical
            return value
        try:
            value = parameter.canonical(value)
        except InvalidDesignError:
            # Out of the space but evaluated anyway (e.g. an infeasible probe):
            # keep the value if it fits the column rather than dropping the row.
            return coerce(value)
        return value if type(value) is py_type else coerce(value)

    return convert


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


# -- Arrow helpers ----------------------------------------------------------------------------


def _rows_to_table(rows: Sequence[Mapping[str, Any]], schema: pa.Schema,
                   static: Mapping[str, Any] | None = None) -> pa.Table:
    """Build a table from row dicts; ``static`` supplies columns shared by every row."""
    static = static or {}
    n = len(rows)
    arrays = []
    for f in schema:
        if f.name in static:
            values = [static[f.name]] * n
        else:
            values = [r.get(f.name) for r in rows]
        if f.type == _TIMESTAMP:  # stored as ISO strings in rows and journals
            arrays.append(pa.array(values, pa.string()).cast(_TIMESTAMP))
        else:
            arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _schema_to_json(schema: pa.Schema) -> list[list[str]]:
    return [[f.name, _TYPE_NAMES[f.type]] for f in schema]


def _schema_from_json(columns: Any, source: Path) -> pa.Schema:
    try:
        return pa.schema([(str(name), _TYPES[type_name]) for name, type_name in columns])
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"journal {source} has an unreadable schema header ({exc!r})") from None


def _same_columns(a: pa.Schema, b: pa.Schema) -> bool:
    return a.names == b.names and all(x.type == y.type for x, y in zip(a, b))


def _describe_schema_difference(old: pa.Schema, new: pa.Schema) -> str:
    old_cols = {f.name: f.type for f in old}
    new_cols = {f.name: f.type for f in new}
    notes = []
    if missing := [c for c in old_cols if c not in new_cols]:
        notes.append(f"columns no longer logged: {', '.join(missing)}")
    if added := [c for c in new_cols if c not in old_cols]:
        notes.append(f"new columns: {', '.join(added)}")
    if changed := [f"{c} ({old_cols[c]} -> {new_cols[c]})" for c in old_cols
                   if c in new_cols and old_cols[c] != new_cols[c]]:
        notes.append(f"changed types: {', '.join(changed)}")
    return "; ".join(notes) or "column order differs"


# -- reading files -------------------------------------------------------------------------------


def _read_part(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=list(columns) if columns else None)
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise DatasetError(
            f"part file {path} is corrupt or unreadable ({type(exc).__name__}: {exc}). "
            f"The other part files are intact: move this file aside (for example rename it to "
            f"{path.name}.corrupt) and load the dataset again."
        ) from exc


def _read_journal(path: Path) -> tuple[pa.Schema | None, list[dict[str, Any]]]:
    """Schema and rows of a journal; a torn final line is dropped with a warning."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # closed by its writer between listing and reading
        return None, []
    except OSError as exc:
        raise DatasetError(f"cannot read journal {path}: {exc}") from exc
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    parsed: list[Any] = []
    for i, line in enumerate(lines):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            if i == len(lines) - 1:
                # The writer was killed mid-line: only that row is lost.
                logger.warning("ignoring the truncated last line of journal %s (a write was cut off)", path)
                break
            raise DatasetError(
                f"journal {path} has an invalid line {i + 1} (not JSON). Rows before it are "
                f"intact; move the file aside to load the rest of its run."
            ) from None
    if not parsed:
        return None, []
    header = parsed[0]
    if not isinstance(header, dict) or header.get("archgym_journal") != _JOURNAL_FORMAT:
        raise DatasetError(f"{path} is not an ArchGym journal (its first line is not a journal header)")
    schema = _schema_from_json(header.get("columns"), path)
    rows = parsed[1:]
    if any(not isinstance(r, dict) for r in rows):
        raise DatasetError(f"journal {path} holds a line that is not a row object")
    return schema, rows


def _journal_table(path: Path) -> pa.Table | None:
    """A journal's rows as a table, or None when it holds none."""
    schema, rows = _read_journal(path)
    if not rows or schema is None:
        return None
    try:
        return _rows_to_table(rows, schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as exc:
        raise DatasetError(
            f"journal {path} {_unconvertible_value(rows, schema) or f'holds rows that do not match its header ({exc})'}"
            "; move it aside to load the rest of its run"
        ) from None


def _unconvertible_value(rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> str | None:
    """Where the first value of a journal's rows that its column cannot hold is, e.g. ``line 3: seed ...``."""
    for index, row in enumerate(rows):
        for f in schema:
            value = row.get(f.name)
            try:
                _rows_to_table([{f.name: value}], pa.schema([f]))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
                shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
                # Line 1 is the header, so row i is on line i + 2.
                return f"line {index + 2}: {f.name} {shown} does not fit its {_TYPE_NAMES.get(f.type, f.type)} column"
    return None


def _part_files(directory: Path, run_id: str | None = None) -> list[tuple[str, int, Path]]:
    """(run_id, seq, path) of part files, sorted by run and sequence number."""
    found = []
    pattern = f"part-{run_id}-*.parquet" if run_id is not None else "part-*.parquet"
    for path in directory.glob(pattern):
        match = _PART_RE.match(path.name)
        if not match:
            continue
        run, seq = match["run"], int(match["seq"])
        if run_id is not None and run != run_id:  # e.g. run "a" must not pick up run "a-1"
            continue
        found.append((run, seq, path))
    return sorted(found)


def _journal_files(directory: Path, run_id: str | None = None) -> list[tuple[str, Path]]:
    """(run_id, path) of journals, of this layout and the earlier one, sorted by run."""
    if run_id is not None:
        paths = [directory / f"{prefix}{run_id}.jsonl" for prefix in _JOURNAL_PREFIXES]
        return [(run_id, path) for path in paths if path.exists()]
    found = []
    for prefix in _JOURNAL_PREFIXES:
        for path in directory.glob(f"{prefix}*.jsonl"):
            match = _JOURNAL_RE.match(path.name)
            if match:
                found.append((match["run"], path))
    return sorted(found)


def _concat(tables: list[pa.Table], where: Path) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="default")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise DatasetError(
            f"runs in {where} store a column with conflicting types ({exc}); "
            "load them one at a time with load_dataset(path, run_id=...)"
        ) from exc


def _to_pandas(table: pa.Table) -> pd.DataFrame:
    """Convert to pandas keeping integer and bool columns exact even with nulls."""
    # Plain to_pandas turns int columns with nulls into float and bools into object.
    nullable = [
        f.name for f in table.schema
        if (pa.types.is_integer(f.type) and (f.name == "seed" or table.column(f.name).null_count))
        or (pa.types.is_boolean(f.type) and table.column(f.name).null_count)
    ]
    df = table.to_pandas()
    if nullable:
        mapper = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
        exact = table.select(nullable).to_pandas(types_mapper=mapper)
        for name in nullable:
            df[name] = exact[name]
    return df


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop_duplicates(subset=["run_id", "step"], keep="first")
    return df.sort_values(["run_id", "step"], kind="stable").reset_index(drop=True)


class _ForeignPartError(DatasetError):
    """A ``part-*.parquet`` file that another tool wrote: readable, but without an ArchGym part's columns."""


def _archgym_part(path: Path) -> pa.Table:
    """A part file's rows, after checking it has the columns every ArchGym part has.

    Raises:
        DatasetError: the file is unreadable, or it is not an ArchGym part (another tool wrote it).
    """
    table = _read_part(path)
    missing = [name for name in _PART_COLUMNS if name not in table.column_names]
    if missing:
        named = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise _ForeignPartError(
            f"{path} is not an ArchGym part file (it lacks the columns {named}); move it out of the dataset "
            "directory"
        )
    return table


def _make_dataset_dir(folder: Path, dataset: Path) -> None:
    """Create ``folder`` (part of the dataset directory ``dataset``) and its parents.

    Raises:
        DatasetError: it cannot be created (``dataset`` is a file, or lies where there is no write access).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DatasetError(f"dataset directory {dataset} cannot be created: it or a folder above it is a file; "
                           "give a directory") from None
    except OSError as error:
        raise DatasetError(f"dataset directory {dataset} cannot be created ({error.strerror})") from None


def _load_tables(directory: Path, run_id: str | None) -> tuple[list[pa.Table], list[str]]:
    """The tables of a directory's parts and journals (of one run, or of every run), and what was left out.

    Loading one run (``run_id``), any unreadable journal or foreign part of it is an error.
    Loading every run, a journal whose lines cannot be read and a ``part-*.parquet`` file that
    another tool wrote are skipped with a warning, so they never hide the other runs' rows; a
    part file that is corrupt is still an error (see :func:`load_dataset`).
    """
    # Journals are read before parts are listed: rows only leave a journal after
    # their part exists, so a concurrent flush cannot make rows vanish from view.
    journal_tables = []
    left_out: list[str] = []
    for run, path in _journal_files(directory, run_id):
        try:
            journal_tables.append(_journal_table(path))
        except DatasetError as error:
            if run_id is not None:
                raise
            left_out.append(str(error))
            logger.warning("left out the rows of run %s not yet in a part file: %s", run, error)
    part_tables = []
    for _, _, path in _part_files(directory, run_id):
        try:
            part_tables.append(_archgym_part(path))
        except _ForeignPartError as error:
            if run_id is not None:
                raise
            left_out.append(str(error))
            logger.warning("left out of the dataset: %s", error)
    # Parts first, so dropping duplicates keeps the part copy of a row.
    return part_tables + [t for t in journal_tables if t is not None], left_out


def read_part_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The run description a part file carries under :data:`PARQUET_METADATA_KEY`.

    Args:
        path: A ``.parquet`` part file.

    Returns:
        The JSON object (see the module docstring); empty for parts written
        before parts carried it.

    Raises:
        DatasetError: the file is missing, not Parquet, or its description is not a JSON object.
    """
    path = Path(path)
    try:
        metadata = pq.read_schema(path).metadata or {}
    except Exception as exc:  # pyarrow raises many types for missing or damaged files
        raise DatasetError(f"cannot read the metadata of part file {path} ({type(exc).__name__}: {exc})") from exc
    raw = metadata.get(PARQUET_METADATA_KEY.encode())
    if raw is None:
        return {}
    try:
        description = json.loads(raw)
    except ValueError:
        description = None
    if not isinstance(description, dict):
        raise DatasetError(f"part file {path} has a {PARQUET_METADATA_KEY!r} metadata entry that is not a JSON object")
    return description


def dataset_schema(path: str | os.PathLike) -> pa.Schema:
    """The columns of every part file of a directory united (by name, in order of first appearance).

    For readers that take a schema from one file: with it, pandas and pyarrow
    read a directory whose runs have different columns (runs of several
    problems) without dropping any, e.g.
    ``pandas.read_parquet(path, schema=dataset_schema(path))``; a run's
    missing columns read as null.

    Raises:
        DatasetError: ``path`` is not a directory, has no part files, or two
            parts give a column different types.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise DatasetError(f"dataset directory {directory} does not exist")
    parts = _part_files(directory)
    if not parts:
        raise DatasetError(f"no part files (part-*.parquet) in {directory}")
    try:
        schemas = [pq.read_schema(p).remove_metadata() for _, _, p in parts]
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise DatasetError(f"a part file in {directory} is unreadable ({type(exc).__name__}: {exc})") from exc
    try:
        return pa.unify_schemas(schemas)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DatasetError(
            f"runs in {directory} store a column with conflicting types ({exc}); "
            "load them with archgym.dataset.load_dataset, which converts them"
        ) from exc


def load_dataset(path: str | os.PathLike, run_id: str | None = None) -> pd.DataFrame:
    """Load a dataset directory (or a single part file) as one DataFrame.

    Reads every part file and any leftover journal, drops rows duplicated by a
    crash between writing a part and clearing the journal (keeping the first
    copy), sorts by ``(run_id, step)`` and restores column dtypes (see the
    module docstring for the schema).

    One run's damaged files never hide the other runs' rows: loading a whole
    directory, a journal that cannot be read (a line that is not JSON, or a
    value its column cannot hold, such as an integer beyond int64) is left
    out with a logged warning, and so is a ``part-*.parquet`` file that
    another tool wrote (one without the columns of an ArchGym part). Loading
    that run alone (``run_id``, or the file itself) raises a
    :class:`~archgym.errors.DatasetError` naming the file and, for a journal,
    the line. A corrupt part file is an error either way: it holds rows that
    were complete, which a loader must not drop silently.

    Args:
        path: A dataset directory, a ``.parquet`` part file or a ``.jsonl`` journal.
        run_id: Only load this run.

    Returns:
        One row per evaluation, indexed 0..n-1.

    Raises:
        DatasetError: ``path`` does not exist, holds no rows (of ``run_id``),
            a part file is corrupt (the message names the file), or a file of
            ``run_id`` (or the file ``path``) cannot be read.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset path {path} does not exist")
    left_out: list[str] = []
    if path.is_dir():
        if run_id is not None:
            _check_run_id(run_id)
        tables, left_out = _load_tables(path, run_id)
    elif path.suffix == ".parquet":
        tables = [_archgym_part(path)]
    elif path.suffix == ".jsonl":
        table = _journal_table(path)
        tables = [table] if table is not None else []
    else:
        raise DatasetError(f"{path} is not a dataset directory, a .parquet part file or a .jsonl journal")
    tables = [t for t in tables if t.num_rows]
    if not tables:
        which = f" of run {run_id!r}" if run_id is not None else ""
        if left_out:
            raise DatasetError(f"no evaluation rows{which} found in {path}: {left_out[0]}")
        raise DatasetError(f"no evaluation rows{which} found in {path}")
    df = _to_pandas(_concat(tables, path))
    if run_id is not None and not path.is_dir():
        df = df[df["run_id"] == run_id]
        if df.empty:
            raise DatasetError(f"no evaluation rows of run {run_id!r} found in {path}")
    return _finish(df)


def load_run_rows(out_dir: str | os.PathLike, run_id: str) -> pd.DataFrame:
    """Rows of one run sorted by step, for resuming it.

    Unlike :func:`load_dataset`, a run with no rows yet (or a directory that
    does not exist yet) gives an empty DataFrame rather than an error.

    Raises:
        DatasetError: a file of the run is corrupt.
    """
    directory = Path(out_dir)
    _check_run_id(run_id)
    if not directory.is_dir():
        return pd.DataFrame()
    tables = [t for t in _load_tables(directory, run_id)[0] if t.num_rows]
    if not tables:
        return pd.DataFrame()
    return _finish(_to_pandas(_concat(tables, directory)))


# -- run metadata -----------------------------------------------------------------------------


def discard_run(out_dir: str | os.PathLike, run_id: str) -> int:
    """Delete every row of one run (its part files and journal); return how many part files went.

    For a run that must start over rather than resume (a trainer that cannot
    replay its trajectory), so that the dataset keeps one row per evaluation.
    """
    directory = Path(out_dir)
    parts = _part_files(directory, _check_run_id(run_id))
    for _, _, path in parts:
        path.unlink(missing_ok=True)
    for _, path in _journal_files(directory, run_id):
        path.unlink(missing_ok=True)
    return len(parts)


def write_run_metadata(out_dir: str | os.PathLike, context: RunContext,
                       extra: Mapping[str, Any] | None = None) -> Path:
    """Write ``<out_dir>/_runs/<run_id>.json`` describing a run (replacing an older copy).

    Records in the earlier layout's ``runs/`` folder move to ``_runs/`` first,
    so that the directory's only non-hidden files are Parquet parts.

    Args:
        out_dir: The dataset directory.
        context: The run.
        extra: More JSON-friendly fields (design space, objective settings,
            status), stored at the top level next to the context fields.

    Returns:
        The path written.

    Raises:
        DatasetError: an ``extra`` key clashes with a context field.
    """
    run_id = _check_run_id(context.run_id)
    record: dict[str, Any] = asdict(context)
    record["agent_config"] = dict(context.agent_config)
    record["backend_options"] = dict(context.backend_options)
    record["objective_spec"] = dict(context.objective_spec)
    record["archgym_version"] = archgym.__version__
    record["written_at"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
    for key, value in (extra or {}).items():
        if key in record:
            raise DatasetError(
                f"run metadata key {key!r} clashes with a built-in field; built-in fields are "
                f"{', '.join(record)}"
            )
        record[key] = value
    runs_dir = Path(out_dir) / RECORDS_DIR
    _make_dataset_dir(runs_dir, Path(out_dir))
    _move_legacy_records(Path(out_dir))
    target = runs_dir / f"{run_id}.json"
    tmp = runs_dir / f".{run_id}.json.tmp-{os.getpid()}"
    text = json.dumps(record, indent=2, sort_keys=True, default=_json_default) + "\n"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def _move_legacy_records(directory: Path) -> None:
    """Move run records of the earlier layout (``runs/*.json``) to ``_runs/``, keeping newer copies."""
    legacy = directory / _LEGACY_RECORDS_DIR
    if not legacy.is_dir():
        return
    for path in legacy.glob("*.json"):
        target = directory / RECORDS_DIR / path.name
        try:
            if target.exists():
                path.unlink()
            else:
                os.replace(path, target)
        except FileNotFoundError:  # another process moved it first
            continue
    try:
        legacy.rmdir()
    except OSError:  # it holds other files, or is already gone: leave it
        pass


def _read_record(path: Path) -> dict[str, Any] | None:
    """A record file's object; None if the file vanished (moved by a writer) meanwhile."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DatasetError(f"run metadata file {path} is unreadable ({exc}); move it aside") from exc
    if not isinstance(record, dict):
        raise DatasetError(f"run metadata file {path} does not hold a JSON object")
    return record


def read_run_metadata(out_dir: str | os.PathLike) -> list[dict]:
    """All run metadata records of a dataset directory, sorted by run id.

    Reads ``_runs/`` and the earlier layout's ``runs/``; a run recorded in
    both gets its ``_runs/`` record. Returns an empty list when no metadata
    was written.

    Raises:
        DatasetError: ``out_dir`` does not exist or a metadata file is not valid JSON.
    """
    directory = Path(out_dir)
    if not directory.is_dir():
        raise DatasetError(f"dataset directory {directory} does not exist")
    by_name: dict[str, dict[str, Any]] = {}
    # The earlier folder first: a record moved between the two listings is then seen twice, not missed.
    for folder in (_LEGACY_RECORDS_DIR, RECORDS_DIR):
        for path in sorted((directory / folder).glob("*.json")):
            record = _read_record(path)
            if record is not None:
                by_name[path.name] = record
    return sorted(by_name.values(), key=lambda r: str(r.get("run_id", "")))


def read_run_record(out_dir: str | os.PathLike, run_id: str) -> dict[str, Any] | None:
    """The metadata record of one run (of either layout), or None if it has none.

    Raises:
        DatasetError: the record file is not valid JSON.
    """
    directory = Path(out_dir)
    name = f"{_check_run_id(run_id)}.json"
    for folder in (RECORDS_DIR, _LEGACY_RECORDS_DIR):
        record = _read_record(directory / folder / name)
        if record is not None:
            return record
    # Moved from the earlier folder between the two reads.
    return _read_record(directory / RECORDS_DIR / name)


# -- upgrading the earlier layout ------------------------------------------------------------------

_LEGACY_REPORT_DIR = "report"
_REPORT_DIR = "_report"


@dataclass(frozen=True)
class LayoutUpgrade:
    """What :func:`upgrade_dataset` changed in a dataset directory.

    Args:
        records_moved: Run records moved from ``runs/`` to ``_runs/``.
        journals_folded: Journals of the earlier layout (``journal-<run_id>.jsonl``) turned into part files.
        rows_recovered: Rows those journals held that no part file had; they are in parts now.
        report_moved: Whether the default report folder moved from ``report/`` to ``_report/``.
        left: Names still in the way of plain Parquet readers (neither parts nor ``_``/``.`` names).
    """

    records_moved: int = 0
    journals_folded: int = 0
    rows_recovered: int = 0
    report_moved: bool = False
    left: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        """Whether anything moved."""
        return bool(self.records_moved or self.journals_folded or self.report_moved)


def upgrade_dataset(path: str | os.PathLike) -> LayoutUpgrade:
    """Move a dataset directory of the earlier layout into the current one, keeping every row.

    The earlier layout kept run records in ``runs/``, journals as
    ``journal-<run_id>.jsonl`` and the default report in ``report/``, beside
    the part files, so plain Parquet readers tripped over them. Each step is
    atomic and the order keeps rows safe: a journal's rows that no part holds
    are written as a new part (under a temporary name, then renamed) before
    the journal is removed, so an interrupted upgrade loses nothing and can
    simply be run again. :func:`load_dataset` gives the same rows before and
    after. A directory already in the current layout is left as it is.

    Args:
        path: The dataset directory.

    Returns:
        What moved, and any names still in the way of plain readers.

    Raises:
        DatasetError: ``path`` is not a directory, a journal is unreadable, or a
            run of the earlier layout is still being written (its journal is locked).
    """
    directory = Path(path)
    if not directory.is_dir():
        raise DatasetError(f"dataset directory {directory} does not exist")
    legacy_records = directory / _LEGACY_RECORDS_DIR
    records = len(list(legacy_records.glob("*.json"))) if legacy_records.is_dir() else 0
    if records:
        (directory / RECORDS_DIR).mkdir(exist_ok=True)
        _move_legacy_records(directory)
    journals = 0
    recovered = 0
    for journal in sorted(directory.glob("journal-*.jsonl")):
        match = _JOURNAL_RE.match(journal.name)
        if match is None:
            continue
        recovered += _fold_legacy_journal(directory, match["run"], journal)
        journals += 1
    report_moved = False
    legacy_report = directory / _LEGACY_REPORT_DIR
    if legacy_report.is_dir() and not (directory / _REPORT_DIR).exists() and any(legacy_report.glob("summary.*")):
        os.replace(legacy_report, directory / _REPORT_DIR)
        report_moved = True
    left = tuple(sorted(entry.name for entry in directory.iterdir()
                        if not entry.name.startswith(("_", ".")) and not _PART_RE.match(entry.name)))
    return LayoutUpgrade(records, journals, recovered, report_moved, left)


def _fold_legacy_journal(directory: Path, run_id: str, journal: Path) -> int:
    """Write a journal's rows that no part of its run holds as a new part, then remove it; return how many."""
    handle = open(journal, "rb")  # noqa: SIM115 - held, locked, while its rows move
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise DatasetError(
                    f"run {run_id!r} in {directory} is still being logged (its journal {journal.name} is locked); "
                    "upgrade the directory when the run has ended"
                ) from None
        schema, rows = _read_journal(journal)
        parts = _part_files(directory, run_id)
        steps: set[Any] = set()
        for _, _, part in parts:
            steps.update(_read_part(part, ["step"]).column("step").to_pylist())
        pending: dict[Any, dict[str, Any]] = {}
        for row in rows:
            if row.get("step") not in steps:
                pending.setdefault(row.get("step"), row)
        if pending and schema is not None:
            seq = parts[-1][1] + 1 if parts else 0
            target = directory / f"part-{run_id}-{seq:05d}.parquet"
            tmp = directory / f".part-{run_id}-{seq:05d}.tmp-{os.getpid()}"
            try:
                pq.write_table(_rows_to_table(list(pending.values()), schema), tmp)
                os.replace(tmp, target)  # the rows are in a part before the journal goes
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        journal.unlink()
    finally:
        handle.close()
    return len(pending)


# -- logger --------------------------------------------------------------------------------------


class EvaluationLogger:
    """Appends one row per evaluation to a dataset directory.

    Rows are journaled immediately (one flushed JSON line each) and written to
    a new Parquet part file every ``flush_every`` rows, at the first row logged
    ``flush_interval_s`` after the previous part (so that readers of the part
    files alone stay close behind a slow run), and on :meth:`flush` /
    :meth:`close`. Constructing a logger for a run that already has rows in
    ``out_dir`` resumes it: a leftover journal becomes a part file, and
    numbering continues after the last logged step.

    Args:
        out_dir: Dataset directory (created if missing).
        context: The run every row belongs to.
        design_space: The knobs; each becomes a column.
        metric_names: The metrics; each becomes a float64 column. Metrics an
            evaluation reports beyond these are not stored.
        flush_every: Rows per part file.
        start_step: Step of the first row, unless the run already has rows
            at or beyond it (then logging continues after them).
        flush_interval_s: Seconds after which the next row logged writes a
            part even if fewer than ``flush_every`` rows are buffered; None
            writes parts by row count only.
        run_metadata: More JSON-friendly fields describing the run (its spec,
            budget, targets), stored with the context in every part's
            :data:`PARQUET_METADATA_KEY` metadata.
        extra_columns: More columns, after ``archgym_version``: name to type
            (``"string"``, ``"float64"``, ``"int64"`` or ``"bool"``). Rows give
            their values through the ``extra`` argument of :meth:`log` and
            :meth:`log_batch`; a value not given is null. A multi-fidelity run
            (:mod:`archgym.multifidelity`) logs its ``fidelity`` and costs so.

    Raises:
        DatasetError: a knob or metric name clashes with another column, a
            ``run_metadata`` key with a built-in field, the run is open in
            another logger, or the run's existing rows have different columns.
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        context: RunContext,
        design_space: DesignSpace,
        metric_names: Sequence[str],
        flush_every: int = 256,
        start_step: int = 0,
        flush_interval_s: float | None = 60.0,
        run_metadata: Mapping[str, Any] | None = None,
        extra_columns: Mapping[str, str] | None = None,
    ) -> None:
        if int(flush_every) < 1:
            raise DatasetError(f"flush_every must be at least 1, got {flush_every!r}")
        if flush_interval_s is not None and not float(flush_interval_s) > 0:
            raise DatasetError(f"flush_interval_s must be positive or None, got {flush_interval_s!r}")
        if int(start_step) < 0:
            raise DatasetError(f"start_step must be non-negative, got {start_step!r}")
        self.out_dir = Path(out_dir)
        self.context = context
        self.design_space = design_space
        self.metric_names: tuple[str, ...] = tuple(str(m) for m in metric_names)
        self.extra_columns: dict[str, str] = dict(extra_columns or {})
        self.flush_every = int(flush_every)
        self.flush_interval_s = None if flush_interval_s is None else float(flush_interval_s)
        self._static = _context_row(context)
        self._static["archgym_version"] = archgym.__version__
        self.run_id: str = self._static["run_id"]
        self.schema = self._build_schema()
        self._knobs = [
            (p.name, _knob_converter(p, self.schema.field(p.name).type)) for p in design_space.parameters
        ]
        self._knob_names = frozenset(design_space.names)
        self._file_metadata = self._describe(run_metadata or {})
        # The journal line for a row is this prefix plus the row's varying fields.
        self._static_json = json.dumps(self._static)[:-1] + ", "
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._rows_logged = 0
        self._closed = False
        self._last_part_time = time.monotonic()
        self._journal_path = self.out_dir / f"_journal-{self.run_id}.jsonl"
        _make_dataset_dir(self.out_dir, self.out_dir)
        self._journal = self._open_locked_journal()
        try:
            self._next_step, self._next_seq = self._recover(int(start_step))
        except BaseException:
            self._journal.close()
            raise

    # -- setup -----------------------------------------------------------------------------
    def _describe(self, extra: Mapping[str, Any]) -> dict[bytes, bytes]:
        """The Parquet key-value metadata every part of the run carries."""
        context = self.context
        description: dict[str, Any] = {
            "format": PARQUET_METADATA_FORMAT,
            **asdict(context),
            "agent_config": dict(context.agent_config),
            "backend_options": dict(context.backend_options),
            "objective_spec": dict(context.objective_spec),
            "archgym_version": archgym.__version__,
            "knobs": list(self.design_space.names),
            "metrics": list(self.metric_names),
        }
        for key, value in extra.items():
            if key in description:
                raise DatasetError(
                    f"run metadata key {key!r} clashes with a built-in field; built-in fields are "
                    f"{', '.join(description)}"
                )
            description[key] = value
        text = json.dumps(description, sort_keys=True, default=_json_default)
        return {PARQUET_METADATA_KEY.encode(): text.encode()}

    def _build_schema(self) -> pa.Schema:
        fields: list[tuple[str, pa.DataType]] = [
            ("run_id", pa.string()), ("env", pa.string()), ("backend", pa.string()),
            ("backend_options", pa.string()), ("workload", pa.string()), ("agent", pa.string()),
            ("agent_config", pa.string()), ("seed", pa.int64()), ("objective", pa.string()),
            ("objective_spec", pa.string()), ("step", pa.int64()),
        ]
        seen: dict[str, str] = {}
        for p in self.design_space.parameters:
            if p.name in RESERVED_COLUMNS:
                raise DatasetError(
                    f"knob {p.name!r} has the name of a built-in dataset column; rename the knob "
                    f"(built-in columns: {', '.join(sorted(RESERVED_COLUMNS))})"
                )
            seen[p.name] = "knob"
            fields.append((p.name, _knob_type(p)))
        for m in self.metric_names:
            if m in RESERVED_COLUMNS or m in seen:
                what = "a built-in dataset column" if m in RESERVED_COLUMNS else f"a {seen[m]}"
                raise DatasetError(
                    f"metric {m!r} has the same name as {what}; every column needs its own name"
                )
            seen[m] = "metric"
            fields.append((m, pa.float64()))
        fields += [
            ("feasible", pa.bool_()), ("reason", pa.string()), ("reward", pa.float64()),
            ("wall_time_s", pa.float64()), ("timestamp", _TIMESTAMP), ("archgym_version", pa.string()),
        ]
        for name, type_name in self.extra_columns.items():
            if name in RESERVED_COLUMNS or name in seen:
                what = "a built-in dataset column" if name in RESERVED_COLUMNS else f"a {seen[name]}"
                raise DatasetError(f"extra column {name!r} has the same name as {what}; every column needs its own "
                                   "name")
            if type_name not in ("string", "float64", "int64", "bool"):
                raise DatasetError(f"extra column {name!r} has type {type_name!r}; the types are string, float64, "
                                   "int64 and bool")
            seen[name] = "extra column"
            fields.append((name, _TYPES[type_name]))
        return pa.schema(fields)

    def _open_locked_journal(self, path: Path | None = None) -> Any:
        """Open the run's journal (or ``path``) for appending and hold an exclusive lock on it."""
        path = path or self._journal_path
        while True:
            handle = open(path, "a+b")  # noqa: SIM115 - kept open for the logger's life
            if fcntl is None:
                return handle
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise DatasetError(
                    f"run {self.run_id!r} is already being logged to {self.out_dir} by another "
                    "logger (its journal is locked); give each run its own run id, or wait for that process to finish"
                ) from None
            try:
                same = os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return handle
            # The previous owner closed and removed the file while we opened it.
            handle.close()

    def _read_legacy_journal(self) -> tuple[pa.Schema | None, list[dict[str, Any]], Path | None]:
        """Schema and rows of the run's journal of the earlier layout, if it has one, and its path."""
        path = self.out_dir / f"journal-{self.run_id}.jsonl"
        if not path.exists():
            return None, [], None
        handle = self._open_locked_journal(path)  # refuses if a writer of that layout still has it open
        try:
            schema, rows = _read_journal(path)
        finally:
            handle.close()
        return schema, rows, path

    def _recover(self, start_step: int) -> tuple[int, int]:
        """Fold leftovers of an earlier run with this id into parts; return (next step, next seq)."""
        for stale in self.out_dir.glob(f".part-{self.run_id}-*.tmp-*"):
            stale.unlink(missing_ok=True)  # a part write cut off by a crash; its rows are in the journal
        parts = _part_files(self.out_dir, self.run_id)
        steps: set[int] = set()
        old_schema: pa.Schema | None = None
        for _, _, path in parts:
            table = _read_part(path, ["step"])
            steps.update(table.column("step").to_pylist())
            if old_schema is None:
                old_schema = pq.read_schema(path).remove_metadata()
        legacy_schema, legacy_rows, legacy_path = self._read_legacy_journal()
        journal_schema, journal_rows = _read_journal(self._journal_path)
        journal_schema = journal_schema or legacy_schema
        old_schema = old_schema or journal_schema
        if old_schema is not None and not _same_columns(old_schema, self.schema):
            earlier = pa.schema([f for f in self.schema if f.name not in LATER_CONTEXT_COLUMNS])
            if not _same_columns(old_schema, earlier):
                raise DatasetError(
                    f"run {self.run_id!r} in {self.out_dir} was logged with different columns "
                    f"({_describe_schema_difference(old_schema, self.schema)}); resume it with the same "
                    "design space and metrics, or use a new run id"
                )
            self.schema = earlier  # a run of the earlier layout keeps its columns
        next_seq = parts[-1][1] + 1 if parts else 0
        pending: dict[Any, dict[str, Any]] = {}
        for row in legacy_rows + journal_rows:
            if row.get("step") not in steps:
                pending.setdefault(row.get("step"), row)
        if pending and journal_schema is not None:
            self._write_part(_rows_to_table(list(pending.values()), journal_schema), next_seq)
            next_seq += 1
            steps.update(int(step) for step in pending)
            logger.info("recovered %d journaled rows of run %s into a part file", len(pending), self.run_id)
        if legacy_path is not None:
            legacy_path.unlink(missing_ok=True)  # its rows are in parts now
        self._reset_journal()
        next_step = start_step
        if steps:
            last = max(s for s in steps if s is not None)
            if last >= start_step:
                next_step = last + 1
            logger.info("resuming run %s at step %d", self.run_id, next_step)
        return next_step, next_seq

    # -- writing -------------------------------------------------------------------------------
    def _reset_journal(self) -> None:
        """Leave only the schema header in the journal (its rows are all in parts)."""
        header = {
            "archgym_journal": _JOURNAL_FORMAT,
            "run_id": self.run_id,
            "columns": _schema_to_json(self.schema),
        }
        self._journal.truncate(0)
        self._journal.write(json.dumps(header).encode() + b"\n")
        self._journal.flush()

    def _write_part(self, table: pa.Table, seq: int) -> Path:
        target = self.out_dir / f"part-{self.run_id}-{seq:05d}.parquet"
        tmp = self.out_dir / f".part-{self.run_id}-{seq:05d}.tmp-{os.getpid()}"
        try:
            pq.write_table(table.replace_schema_metadata(self._file_metadata), tmp)
            os.replace(tmp, target)  # atomic: readers see the whole part or none of it
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return target

    def _row(self, design: Mapping[str, Any]) -> dict[str, Any]:
        """The knob fields of a row, checked against the design space."""
        try:
            row = {name: convert(design[name]) for name, convert in self._knobs}
        except KeyError as exc:
            raise DatasetError(
                f"cannot log a design without knob {exc.args[0]!r}; every row needs all of "
                f"{', '.join(self.design_space.names)}"
            ) from None
        except TypeError:
            raise DatasetError(
                f"a design must be a mapping of knob name to value, got {type(design).__name__}"
            ) from None
        if len(design) != len(row):
            unknown = [k for k in design if k not in self._knob_names]
            raise DatasetError(
                f"cannot log unknown knob(s) {', '.join(map(repr, unknown))}; knobs are "
                f"{', '.join(self.design_space.names)}"
            )
        return row

    def _append(self, rows: list[dict[str, Any]]) -> int:
        """Journal and buffer complete varying-field rows; return the first step."""
        with self._lock:
            if self._closed:
                raise DatasetError(f"the logger of run {self.run_id!r} is closed")
            first = self._next_step
            chunks = []
            for offset, row in enumerate(rows):
                row["step"] = first + offset
                chunks.append(self._static_json + json.dumps(row)[1:] + "\n")
            self._journal.write("".join(chunks).encode())
            self._journal.flush()  # the OS now has the rows: a killed process keeps them
            self._buffer.extend(rows)
            self._next_step = first + len(rows)
            self._rows_logged += len(rows)
            if len(self._buffer) >= self.flush_every or (
                    self.flush_interval_s is not None
                    and time.monotonic() - self._last_part_time >= self.flush_interval_s):
                self._flush_locked()
            return first

    def log(self, design: Mapping[str, Any], evaluation: Evaluation, reward: float = math.nan,
            extra: Mapping[str, Any] | None = None) -> int:
        """Log one evaluation.

        Args:
            design: The design evaluated (every knob of the design space).
            evaluation: Its result.
            reward: The reward it earned, NaN if none.
            extra: Values of the logger's ``extra_columns`` (null where not given).

        Returns:
            The row's step index.

        Raises:
            DatasetError: the design lacks a knob or has an unknown one, or the
                logger is closed.
        """
        row = self._row(design)
        metrics = evaluation.metrics
        for m in self.metric_names:
            row[m] = _float(metrics.get(m))
        row["feasible"] = bool(evaluation.feasible)
        row["reason"] = str(evaluation.reason or "")
        row["reward"] = _float(reward)
        row["wall_time_s"] = _float(evaluation.wall_time_s)
        row["timestamp"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
        row.update(self._extra_values(extra or {}, 0, None))
        return self._append([row])

    def _extra_values(self, extra: Mapping[str, Any], index: int, n: int | None) -> dict[str, Any]:
        """The extra-column fields of one row: ``extra[name]``, or ``extra[name][index]`` in a batch of ``n``."""
        unknown = [name for name in extra if name not in self.extra_columns]
        if unknown:
            raise DatasetError(f"cannot log unknown column(s) {', '.join(map(repr, unknown))}; the logger's extra "
                               f"columns are {', '.join(self.extra_columns) or '(none)'}")
        values = {}
        for name, value in extra.items():
            if n is not None:
                if len(value) != n:
                    raise DatasetError(f"log_batch got {n} designs but {len(value)} values of column {name!r}")
                value = value[index]
            value = value.item() if isinstance(value, np.generic) else value
            values[name] = _as_float(value) if self.extra_columns[name] == "float64" else value
        return values

    def log_batch(self, designs: Sequence[Mapping[str, Any]], batch: BatchEvaluation,
                  rewards: Sequence[float] | np.ndarray | None = None,
                  extra: Mapping[str, Sequence[Any] | np.ndarray] | None = None) -> None:
        """Log a batch of evaluations, one row per design, in order.

        Each row's ``wall_time_s`` is the batch's wall time divided evenly.
        ``extra`` maps extra columns to one value per design.

        Raises:
            DatasetError: ``designs``, ``batch``, ``rewards`` and ``extra``'s values
                differ in length, or a design is malformed.
        """
        self._log_batch(designs, batch, rewards, extra)

    def _log_batch(self, designs: Sequence[Mapping[str, Any]], batch: BatchEvaluation,
                   rewards: Sequence[float] | np.ndarray | None,
                   extra: Mapping[str, Sequence[Any] | np.ndarray] | None = None) -> list[int]:
        n = len(designs)
        if len(batch) != n:
            raise DatasetError(f"log_batch got {n} designs but a batch of {len(batch)} evaluations")
        if rewards is None:
            reward_list = [math.nan] * n
        else:
            reward_list = [_float(r) for r in np.asarray(rewards, dtype=np.float64).reshape(-1).tolist()]
            if len(reward_list) != n:
                raise DatasetError(f"log_batch got {n} designs but {len(reward_list)} rewards")
        if n == 0:
            return []
        columns: dict[str, list[float]] = {}
        for m in self.metric_names:
            values = batch.metrics.get(m)
            columns[m] = (np.asarray(values, dtype=np.float64).tolist() if values is not None
                          else [math.nan] * n)
        feasible = np.asarray(batch.feasible, dtype=bool).tolist()
        reasons = [str(r or "") for r in batch.reasons] if batch.reasons else [""] * n
        wall = _float(batch.wall_time_s) / n
        stamp = _dt.datetime.now(_dt.timezone.utc).isoformat()
        rows = []
        for i, design in enumerate(designs):
            row = self._row(design)
            for m, column in columns.items():
                row[m] = column[i]
            row["feasible"] = feasible[i]
            row["reason"] = reasons[i]
            row["reward"] = reward_list[i]
            row["wall_time_s"] = wall
            row["timestamp"] = stamp
            row.update(self._extra_values(extra or {}, i, n))
            rows.append(row)
        first = self._append(rows)
        return list(range(first, first + n))

    def _flush_locked(self) -> None:
        if not self._buffer:
            return
        table = _rows_to_table(self._buffer, self.schema, self._static)
        self._write_part(table, self._next_seq)
        self._next_seq += 1
        self._last_part_time = time.monotonic()
        self._buffer.clear()
        # Only now may the journal forget the rows; a crash just before this
        # line leaves them in both places, which load_dataset deduplicates.
        self._reset_journal()

    def flush(self) -> None:
        """Write buffered rows to a new Parquet part file (nothing if none are buffered)."""
        with self._lock:
            if not self._closed:
                self._flush_locked()

    def close(self) -> None:
        """Flush, remove the journal and release the run. Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_locked()
                self._journal_path.unlink(missing_ok=True)
            finally:
                self._closed = True
                self._journal.close()  # releases the lock

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def rows_logged(self) -> int:
        """Rows logged by this logger (not counting rows of a resumed run's earlier sessions)."""
        return self._rows_logged

    @property
    def next_step(self) -> int:
        """Step index the next logged row will get."""
        return self._next_step

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __repr__(self) -> str:
        return f"EvaluationLogger({str(self.out_dir)!r}, run_id={self.run_id!r}, next_step={self._next_step})"


# -- cost model wrapper -------------------------------------------------------------------------


class LoggedCostModel(CostModelWrapper):
    """Wraps a cost model so every evaluation is logged.

    Logging is a wrapper, not agent code: whatever calls :meth:`evaluate` or
    :meth:`evaluate_batch` (a search loop, an environment step) gets one row
    per design. The ``workload`` column comes from the logger's run context.
    Everything else is the wrapped model's (see :class:`~archgym.wrappers.CostModelWrapper`).

    Args:
        model: The cost model doing the work.
        logger: Where rows go.
        reward_fn: Reward of one evaluation; rows get NaN rewards without it.
        reward_batch_fn: Rewards of a batch (one per design); used by
            :meth:`evaluate_batch` instead of calling ``reward_fn`` per design.

    Attributes:
        last_steps: Step indices assigned by the most recent evaluate or
            evaluate_batch call.
    """

    def __init__(
        self,
        model: CostModel,
        logger: EvaluationLogger,
        reward_fn: Callable[[Evaluation], float] | None = None,
        reward_batch_fn: Callable[[BatchEvaluation], np.ndarray] | None = None,
    ) -> None:
        super().__init__(model)
        self.logger = logger
        self.reward_fn = reward_fn
        self.reward_batch_fn = reward_batch_fn
        self.last_steps: list[int] = []

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Evaluate with the wrapped model, then log the row."""
        evaluation = self.model.evaluate(design, workload)
        reward = self.reward_fn(evaluation) if self.reward_fn is not None else math.nan
        self.last_steps = [self.logger.log(design, evaluation, reward)]
        return evaluation

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray,
                       workload: Any = None) -> BatchEvaluation:
        """Evaluate a batch with the wrapped model, then log one row per design."""
        batch = self.model.evaluate_batch(designs, workload)
        if isinstance(designs, np.ndarray):
            space = self.model.design_space
            designs = [space.decode(row) for row in space.validate_indices(designs)]
        rewards: Sequence[float] | np.ndarray | None
        if self.reward_batch_fn is not None:
            rewards = self.reward_batch_fn(batch)
        elif self.reward_fn is not None:
            rewards = [self.reward_fn(e) for e in batch]
        else:
            rewards = None
        self.last_steps = self.logger._log_batch(designs, batch, rewards)
        return batch

    def close(self) -> None:
        """Close the logger (writing its last part), then the wrapped model."""
        try:
            self.logger.close()
        finally:
            self.model.close()

    def __repr__(self) -> str:
        return f"LoggedCostModel({self.model!r}, run_id={self.logger.run_id!r})"

