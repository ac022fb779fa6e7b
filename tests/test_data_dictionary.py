"""docs/data-dictionary.md describes exactly what real runs write, so it cannot drift from the code.

Small real searches of each bundled problem with a knob design space (DRAM,
DNN accelerator, SoC) write datasets; their part files' columns and types,
their Parquet run descriptions, their run records and a report on them are
compared with the page's tables and text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from archgym.dataset import RECORDS_DIR, read_part_metadata, read_run_metadata
from archgym.runner import ObjectiveSpec, RunSpec, execute

PAGE = Path(__file__).resolve().parents[1] / "docs" / "data-dictionary.md"
# A small synthetic trace keeps the DRAM run to a fraction of a second; the columns do not depend on the
# workload.
WORKLOADS = {"dram": "synthetic:n_requests=500,seed=1", "accelerator": None, "soc": None}
KNOB_PLACEHOLDER = "*one per knob*"
METRIC_PLACEHOLDER = "*one per metric*"


def _section(heading: str) -> str:
    """The text of the page under a ``##`` heading, up to the next heading of that level."""
    text = PAGE.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(heading)}\n(?P<body>.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"{PAGE.name} has no section '## {heading}'"
    return match.group("body")


def _tables(heading: str) -> list[tuple[str, list[dict[str, str]]]]:
    """The Markdown tables of a section: each with the ``###`` heading above it ("" if none), as rows of cells
    keyed by the header."""
    tables: list[tuple[str, list[dict[str, str]]]] = []
    lines = [line.strip() for line in _section(heading).splitlines()]
    subheading = ""
    for index, line in enumerate(lines):
        if line.startswith("### "):
            subheading = line[len("### "):]
        starts_table = line.startswith("|") and index + 1 < len(lines) and lines[index + 1].startswith("|---")
        if not starts_table or (index > 0 and lines[index - 1].startswith("|")):
            continue
        header = [cell.strip() for cell in line.strip("|").split("|")]
        rows = []
        for row in lines[index + 2:]:
            if not row.startswith("|"):
                break
            rows.append(dict(zip(header, (cell.strip() for cell in row.strip("|").split("|")), strict=True)))
        tables.append((subheading, rows))
    return tables


def _names(cell: str) -> list[str]:
    """The backticked names in a cell: "`a`, `b`" gives ["a", "b"]."""
    return re.findall(r"`([^`]+)`", cell)


def _documented_columns(problem: str) -> list[tuple[str, str]]:
    """The columns, with their types, that the page says a run of ``problem`` has, in order."""
    ((_, columns),) = _tables("Columns")
    ((_, knobs),) = _tables("Knob columns")
    metrics = [rows for subheading, rows in _tables("Metric columns") if f"(`{problem}`)" in subheading]
    assert len(metrics) == 1, f"{PAGE.name} needs one metric table under a heading naming `{problem}`"
    expected = []
    for row in columns:
        if row["column"] == KNOB_PLACEHOLDER:
            expected += [(_names(k["column"])[0], k["type"]) for k in knobs if k["problem"] == problem]
        elif row["column"] == METRIC_PLACEHOLDER:
            expected += [(_names(m["column"])[0], m["type"]) for m in metrics[0]]
        else:
            (name,) = _names(row["column"])
            expected.append((name, row["type"]))
    return expected


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One 5-evaluation random search of each problem, each in its own dataset directory."""
    out = {}
    for problem, workload in WORKLOADS.items():
        directory = tmp_path_factory.mktemp(problem)
        spec = RunSpec(problem=problem, backend="analytical", workload=workload,
                       objective=ObjectiveSpec("latency"), agent="random", budget=5, seed=0)
        outcome = execute(spec, directory)
        assert outcome.evaluations == 5
        out[problem] = directory
    return out


def _part(directory: Path) -> Path:
    (part,) = directory.glob("part-*.parquet")
    return part


@pytest.mark.parametrize("problem", list(WORKLOADS))
def test_the_dictionary_lists_exactly_the_columns_a_run_writes_with_their_types(datasets, problem):
    schema = pq.read_schema(_part(datasets[problem]))
    written = [(column.name, str(column.type)) for column in schema]
    assert written == _documented_columns(problem)


def test_every_knob_row_names_a_problem_whose_runs_have_that_knob(datasets):
    ((_, knobs),) = _tables("Knob columns")
    columns = {problem: pq.read_schema(_part(d)).names for problem, d in datasets.items()}
    for row in knobs:
        assert row["problem"] in columns, f"{row['column']}: no run of problem {row['problem']!r} is checked"
        assert _names(row["column"])[0] in columns[row["problem"]], row


def test_the_run_description_fields_are_exactly_those_a_run_writes(datasets):
    tables = _tables("The run description in each part file")
    documented = {name for _, rows in tables for row in rows for name in _names(row["field"])}
    for directory in datasets.values():
        description = read_part_metadata(_part(directory))
        assert set(description) == documented


def test_every_field_of_a_run_record_is_named_on_the_page(datasets):
    text = PAGE.read_text(encoding="utf-8")
    for directory in datasets.values():
        (record,) = read_run_metadata(directory)
        record_file = json.loads(next((directory / RECORDS_DIR).glob("*.json")).read_text(encoding="utf-8"))
        assert record == record_file
        missing = sorted(field for field in record if f"`{field}`" not in text)
        assert not missing, f"run record fields not on {PAGE.name}: {missing}"


def test_every_file_a_default_report_writes_is_named_on_the_page(datasets):
    pytest.importorskip("matplotlib")
    from archgym.report import write_report

    text = PAGE.read_text(encoding="utf-8")
    report = write_report(datasets["soc"], datasets["soc"] / "_report")
    names = sorted(path.name for path in report.files)
    assert "convergence.png" in names
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"report files not on {PAGE.name}: {missing}"
