"""Read and write pure allocation instances in MiniMalloc's CSV format.

MiniMalloc (Moffitt, "MiniMalloc: A Lightweight Memory Allocator for
Hardware-Accelerated Machine Learning", ASPLOS 2023) stores one buffer per
line as ``id,lower,upper,size``: the buffer is live over the half-open
interval ``[lower, upper)`` and needs ``size`` bytes. The header line is
required; an optional fifth column ``offset`` (written by solvers) is
ignored on reading. The capacity is not part of the file and is given
separately.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from archgym.errors import WorkloadError
from archgym.simulators.malloc.instances import Instance

__all__ = [
    "CSV_FIELDS", "EXAMPLES", "capacity_in_name", "example_path", "format_csv", "load_suite", "parse_csv", "read_csv",
    "write_csv",
]

CSV_FIELDS: tuple[str, ...] = ("id", "lower", "upper", "size")
_LARGEST = 2**62
"""Times and sizes must be below this, so sums of them stay within 64-bit integers."""
"""The required columns, in order."""

EXAMPLES: dict[str, int] = {"tiny": 12, "zero-slack-100": 4096}
"""Bundled example files (``examples/NAME.csv`` in this package) and their capacities in bytes.

``tiny`` is the five-buffer example of MiniMalloc's documentation; ``zero-slack-100`` was written by
``zero_slack_instance(100, capacity=4096, seed=0)``.
"""


def example_path(name: str) -> Path:
    """Path of a bundled example (see :data:`EXAMPLES`)."""
    return Path(__file__).resolve().parent / "examples" / f"{name}.csv"


def parse_csv(text: str, capacity: int, name: str = "instance", alignment: int = 1) -> Instance:
    """Parse MiniMalloc CSV text into an :class:`Instance`.

    Args:
        text: The file's contents.
        capacity: Fast-memory capacity in bytes.
        name: The instance's label (used in error messages).
        alignment: Offset alignment in bytes.

    Raises:
        WorkloadError: a missing or wrong header, a line with the wrong number
            of fields, a field that is not an integer, a negative or zero
            size, an empty live range (``upper <= lower``), a repeated id, a
            value of 2**62 or more, or a buffer larger than ``capacity``; the
            message gives the line number and the field.
    """
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise WorkloadError(f"{name}: empty file; expected a header line {','.join(CSV_FIELDS)}")
    header = [cell.strip().lower() for cell in rows[0]]
    if tuple(header[:4]) != CSV_FIELDS or len(header) > 5:
        raise WorkloadError(
            f"{name}, line 1: header is {','.join(rows[0])!r}; expected {','.join(CSV_FIELDS)} "
            "(optionally followed by offset)"
        )
    ids: list[str] = []
    values: list[tuple[int, int, int]] = []
    seen: dict[str, int] = {}
    for line_number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) not in (4, len(header)):
            raise WorkloadError(
                f"{name}, line {line_number}: expected {len(header)} comma-separated fields "
                f"({','.join(header)}), got {len(row)}"
            )
        buffer_id = row[0].strip()
        if not buffer_id:
            raise WorkloadError(f"{name}, line {line_number}, field id: empty buffer id")
        if buffer_id in seen:
            raise WorkloadError(
                f"{name}, line {line_number}, field id: buffer id {buffer_id!r} already used on line "
                f"{seen[buffer_id]}"
            )
        seen[buffer_id] = line_number
        numbers = []
        for field_name, cell in zip(CSV_FIELDS[1:], row[1:4], strict=True):
            try:
                numbers.append(int(cell.strip()))
            except ValueError:
                raise WorkloadError(
                    f"{name}, line {line_number}, field {field_name}: {cell.strip()!r} is not an integer"
                ) from None
        for field_name, number in zip(CSV_FIELDS[1:], numbers, strict=True):
            if number >= _LARGEST:
                raise WorkloadError(
                    f"{name}, line {line_number}, field {field_name}: {number} is too large; "
                    f"values must be below 2**62 ({_LARGEST})"
                )
        lower, upper, size = numbers
        if lower < 0:
            raise WorkloadError(f"{name}, line {line_number}, field lower: {lower} is negative; must be >= 0")
        if upper <= lower:
            raise WorkloadError(
                f"{name}, line {line_number}, field upper: {upper} must be greater than lower ({lower}); "
                "live ranges are half-open [lower, upper)"
            )
        if size <= 0:
            raise WorkloadError(f"{name}, line {line_number}, field size: {size} must be a positive number of bytes")
        if size > capacity:
            raise WorkloadError(
                f"{name}, line {line_number}, field size: buffer {buffer_id!r} needs {size} bytes, more than "
                f"the capacity {capacity} bytes"
            )
        ids.append(buffer_id)
        values.append((lower, upper, size))
    if not ids:
        raise WorkloadError(f"{name}: no buffers after the header")
    array = np.asarray(values, dtype=np.int64)
    return Instance(name, tuple(ids), array[:, 0], array[:, 1], array[:, 2], capacity, alignment)


def read_csv(path: str | Path, capacity: int, alignment: int = 1) -> Instance:
    """Read a MiniMalloc CSV file; see :func:`parse_csv`.

    Raises:
        WorkloadError: the file does not exist or is malformed.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise WorkloadError(f"cannot read instance file {str(path)!r}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise WorkloadError(
            f"instance file {str(path)!r} is not a text CSV file: byte {error.object[error.start]:#04x} at offset "
            f"{error.start} is not UTF-8; expected lines of {','.join(CSV_FIELDS)}"
        ) from None
    return parse_csv(text, capacity, name=path.stem, alignment=alignment)


def format_csv(instance: Instance, offsets: Sequence[int] | np.ndarray | None = None) -> str:
    """MiniMalloc CSV text of an instance, with an ``offset`` column if ``offsets`` is given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*CSV_FIELDS, "offset") if offsets is not None else CSV_FIELDS)
    for i, buffer_id in enumerate(instance.ids):
        row = [buffer_id, int(instance.starts[i]), int(instance.ends[i]), int(instance.sizes[i])]
        if offsets is not None:
            row.append(int(offsets[i]))
        writer.writerow(row)
    return out.getvalue()


def write_csv(instance: Instance, path: str | Path, offsets: Sequence[int] | np.ndarray | None = None) -> None:
    """Write an instance (and optionally a solution's offsets) as MiniMalloc CSV."""
    Path(path).write_text(format_csv(instance, offsets))


_CAPACITY_IN_NAME = re.compile(r"\.(\d+)\.csv$")


def capacity_in_name(path: str | Path) -> int | None:
    """The capacity in a file name like MiniMalloc's benchmarks, ``NAME.CAPACITY.csv``; None if there is none."""
    match = _CAPACITY_IN_NAME.search(Path(path).name)
    return int(match.group(1)) if match else None


def load_suite(folder: str | Path, capacity: int | None = None) -> list[Instance]:
    """Every MiniMalloc CSV file in ``folder``, sorted by name.

    A file named like MiniMalloc's benchmarks, ``NAME.CAPACITY.csv`` (e.g.
    ``A.1048576.csv``), carries its capacity; ``capacity`` applies to the others.

    Raises:
        WorkloadError: ``folder`` is not a folder, holds no CSV file, holds
            one without a capacity in its name when ``capacity`` is None, or
            holds a malformed one.
    """
    path = Path(folder)
    if not path.is_dir():
        raise WorkloadError(f"{str(folder)!r} is not a folder of MiniMalloc CSV files")
    files = sorted(path.glob("*.csv"))
    if not files:
        raise WorkloadError(f"{str(folder)!r} holds no .csv file")
    instances = []
    for file in files:
        size = capacity_in_name(file.name) or capacity
        if size is None:
            raise WorkloadError(f"{file.name}: no capacity in the name (NAME.CAPACITY.csv, as in MiniMalloc's "
                                "benchmarks); give the capacity (--capacity)")
        instances.append(read_csv(file, size))
    return instances
