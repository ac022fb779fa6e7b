"""Read user task graphs from YAML or CSV files.

YAML: one workload per file. Budgets and the period are optional::

    name: my-pipeline
    power_budget_mw: 10
    area_budget_mm2: 15
    period_ms: 33
    applications:
      - name: vision
        latency_budget_ms: 33
        tasks:
          - {name: capture}                       # no work: a sensor / DMA source
          - {name: blur, kernel: filter, work: 250000, loops: 40}
          - {name: detect, work: 1.5e6}           # kernel defaults to control
          - {name: fuse, kernel: matrix, work: 2e5, speedup: 12}  # one accelerator lane is 12x one core
        edges:
          - {from: capture, to: blur, bytes: 307200}
          - {from: blur, to: detect, bytes: 307200}

A file with ``tasks`` and ``edges`` at the top level (and optionally
``latency_budget_ms``) holds a single application named after the workload.

CSV: one record per row, with the header
``type,application,name,kernel,work,loops,from,to,bytes,value`` (and
optionally ``speedup``):

* ``task`` rows set ``application``, ``name``, optionally ``kernel``, ``work``, ``loops``, ``speedup``;
* ``edge`` rows set ``application``, ``from``, ``to``, ``bytes``;
* ``budget`` rows set ``name`` (``latency_ms`` with an ``application``,
  ``power_mw``, ``area_mm2`` or ``period_ms``) and ``value``.

Errors name the file, the line and the field.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from archgym.errors import WorkloadError
from archgym.simulators.soc.taskgraph import Application, Edge, Task, Workload

CSV_COLUMNS = ("type", "application", "name", "kernel", "work", "loops", "from", "to", "bytes", "value")
"""Header of a CSV task-graph file."""

_LINE = "__line__"


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader that records the line of every mapping under ``__line__``."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        mapping[_LINE] = node.start_mark.line + 1
        return mapping


def load_workload_file(path: str | Path) -> Workload:
    """Read a workload from a ``.yaml`` / ``.yml`` or ``.csv`` file.

    Raises:
        WorkloadError: the file is missing, of an unknown type, or malformed;
            the message names the file, line and field.
    """
    path = Path(path)
    if not path.is_file():
        raise WorkloadError(f"no such task-graph file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return _from_yaml(path)
    if suffix == ".csv":
        return _from_csv(path)
    raise WorkloadError(f"{path}: task-graph files are .yaml, .yml or .csv, not {suffix or 'extensionless'}")


# -- YAML ---------------------------------------------------------------------------------------


def _from_yaml(path: Path) -> Workload:
    try:
        data = yaml.load(path.read_text(), Loader=_LineLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise WorkloadError(f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if not isinstance(data, Mapping):
        raise WorkloadError(f"{path}: a task-graph file is a mapping with 'applications' or 'tasks'")
    where = _where(path, data)
    name = str(data.get("name") or path.stem)
    if "applications" in data:
        entries = data["applications"]
        if not isinstance(entries, list) or not entries:
            raise WorkloadError(f"{where}, field 'applications': expected a non-empty list")
        applications = tuple(_yaml_application(path, entry, i) for i, entry in enumerate(entries))
    elif "tasks" in data:
        single = {k: data[k] for k in ("tasks", "edges", "latency_budget_ms", _LINE) if k in data}
        applications = (_yaml_application(path, {**single, "name": name}, 0),)
    else:
        raise WorkloadError(f"{where}: a task-graph file needs 'applications' or 'tasks'")
    _check_keys(path, data, {"name", "applications", "tasks", "edges", "latency_budget_ms", "power_budget_mw",
                             "area_budget_mm2", "period_ms", "description"})
    try:
        return Workload(
            name=name,
            applications=applications,
            power_budget_mw=_optional_number(path, data, "power_budget_mw"),
            area_budget_mm2=_optional_number(path, data, "area_budget_mm2"),
            period_ms=_optional_number(path, data, "period_ms"),
            description=str(data.get("description", "")),
        )
    except WorkloadError as error:
        raise WorkloadError(f"{where}: {error}") from None


def _yaml_application(path: Path, entry: Any, position: int) -> Application:
    if not isinstance(entry, Mapping):
        raise WorkloadError(f"{path}: application #{position + 1} must be a mapping")
    where = _where(path, entry)
    _check_keys(path, entry, {"name", "tasks", "edges", "latency_budget_ms"})
    tasks_data = entry.get("tasks")
    if not isinstance(tasks_data, list) or not tasks_data:
        raise WorkloadError(f"{where}, field 'tasks': expected a non-empty list of tasks")
    tasks = []
    for item in tasks_data:
        if not isinstance(item, Mapping):
            raise WorkloadError(f"{where}, field 'tasks': every task is a mapping with a 'name'")
        _check_keys(path, item, {"name", "kernel", "work", "loops", "speedup"})
        if "name" not in item:
            raise WorkloadError(f"{_where(path, item)}, field 'name': every task needs a name")
        tasks.append(Task(
            name=str(item["name"]),
            work=_number(path, item, "work", 0.0),
            loops=_integer(path, item, "loops", 1),
            kernel=str(item.get("kernel", "control")),
            speedup=_optional_number(path, item, "speedup"),
        ))
    edges = []
    edges_data = entry.get("edges") or []
    if not isinstance(edges_data, list):
        raise WorkloadError(f"{where}, field 'edges': expected a list of edges")
    for item in edges_data:
        if not isinstance(item, Mapping):
            raise WorkloadError(f"{where}, field 'edges': every edge is a mapping with 'from', 'to' and 'bytes'")
        _check_keys(path, item, {"from", "to", "bytes"})
        for key in ("from", "to"):
            if key not in item:
                raise WorkloadError(f"{_where(path, item)}, field {key!r}: every edge needs 'from' and 'to'")
        edges.append(Edge(str(item["from"]), str(item["to"]), _number(path, item, "bytes", 0.0)))
    try:
        return Application(
            name=str(entry.get("name") or f"app{position}"),
            tasks=tuple(tasks),
            edges=tuple(edges),
            latency_budget_ms=_optional_number(path, entry, "latency_budget_ms"),
        )
    except WorkloadError as error:
        raise WorkloadError(f"{where}: {error}") from None


def _where(path: Path, data: Mapping[str, Any]) -> str:
    line = data.get(_LINE)
    return f"{path} line {line}" if line else str(path)


def _check_keys(path: Path, data: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = [k for k in data if k != _LINE and k not in allowed]
    if unknown:
        raise WorkloadError(
            f"{_where(path, data)}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _non_negative(value: Any, where: str, key: str) -> float:
    """``value`` as a finite number >= 0; errors name ``where`` (file and line) and the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise WorkloadError(f"{where}, field {key!r}: expected a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise WorkloadError(f"{where}, field {key!r}: expected a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise WorkloadError(f"{where}, field {key!r}: expected a finite number >= 0, got {value!r}")
    return number


def _count(value: Any, where: str, key: str) -> int:
    """``value`` as an integer >= 1; errors as :func:`_non_negative`."""
    number = _non_negative(value, where, key)
    if not number.is_integer() or number < 1:
        raise WorkloadError(f"{where}, field {key!r}: expected an integer >= 1, got {value!r}")
    return int(number)


def _number(path: Path, data: Mapping[str, Any], key: str, default: float) -> float:
    return _non_negative(data.get(key, default), _where(path, data), key)


def _optional_number(path: Path, data: Mapping[str, Any], key: str) -> float | None:
    return _number(path, data, key, 0.0) if data.get(key) is not None else None


def _integer(path: Path, data: Mapping[str, Any], key: str, default: int) -> int:
    return _count(data.get(key, default), _where(path, data), key)


# -- CSV ----------------------------------------------------------------------------------------


def _from_csv(path: Path) -> Workload:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in ("type", "application", "name") if c not in header]
        if missing:
            raise WorkloadError(
                f"{path} line 1: missing column(s) {', '.join(missing)}; columns are {', '.join(CSV_COLUMNS)}"
            )
        tasks: dict[str, list[Task]] = {}
        edges: dict[str, list[Edge]] = {}
        latency: dict[str, float] = {}
        globals_: dict[str, float] = {}
        for row in reader:
            line = reader.line_num
            row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
            kind = row.get("type", "").lower()
            app = row.get("application", "")
            if kind == "task":
                if not app or not row.get("name"):
                    raise WorkloadError(f"{path} line {line}, field 'application'/'name': a task row needs both")
                tasks.setdefault(app, []).append(Task(
                    name=row["name"],
                    work=_csv_number(path, line, row, "work", 0.0),
                    loops=_csv_integer(path, line, row, "loops"),
                    kernel=row.get("kernel") or "control",
                    speedup=_csv_number(path, line, row, "speedup", 0.0) if row.get("speedup") else None,
                ))
            elif kind == "edge":
                for key in ("application", "from", "to"):
                    if not row.get(key):
                        raise WorkloadError(f"{path} line {line}, field {key!r}: an edge row needs it")
                edges.setdefault(app, []).append(
                    Edge(row["from"], row["to"], _csv_number(path, line, row, "bytes", 0.0))
                )
            elif kind == "budget":
                metric = row.get("name", "")
                value = _csv_number(path, line, row, "value", math.nan)
                if metric == "latency_ms":
                    if not app:
                        raise WorkloadError(f"{path} line {line}, field 'application': a latency budget names it")
                    latency[app] = value
                elif metric in ("power_mw", "area_mm2", "period_ms"):
                    globals_[metric] = value
                else:
                    raise WorkloadError(
                        f"{path} line {line}, field 'name': unknown budget {metric!r}; "
                        "budgets are latency_ms, power_mw, area_mm2, period_ms"
                    )
            else:
                raise WorkloadError(
                    f"{path} line {line}, field 'type': expected task, edge or budget, got {row.get('type')!r}"
                )
    if not tasks:
        raise WorkloadError(f"{path}: no task rows")
    unknown = sorted((set(edges) | set(latency)) - set(tasks))
    if unknown:
        raise WorkloadError(f"{path}: edges or budgets name application(s) without tasks: {', '.join(unknown)}")
    try:
        applications = tuple(
            Application(app, tuple(app_tasks), tuple(edges.get(app, ())), latency.get(app))
            for app, app_tasks in tasks.items()
        )
        return Workload(
            name=path.stem,
            applications=applications,
            power_budget_mw=globals_.get("power_mw"),
            area_budget_mm2=globals_.get("area_mm2"),
            period_ms=globals_.get("period_ms"),
        )
    except WorkloadError as error:
        raise WorkloadError(f"{path}: {error}") from None


def _csv_number(path: Path, line: int, row: Mapping[str, str], key: str, default: float) -> float:
    text = row.get(key, "")
    if not text:
        if math.isnan(default):
            raise WorkloadError(f"{path} line {line}, field {key!r}: a number is required")
        return default
    return _non_negative(text, f"{path} line {line}", key)


def _csv_integer(path: Path, line: int, row: Mapping[str, str], key: str) -> int:
    text = row.get(key, "")
    return _count(text, f"{path} line {line}", key) if text else 1
