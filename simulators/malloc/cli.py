"""``archgym malloc``: solve and benchmark memory-mapping instances from the command line."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table

from archgym.cli.common import check_output_file, fail
from archgym.errors import ArchGymError, ConfigurationError
from archgym.simulators.malloc.cp_sat import available as cp_sat_available
from archgym.simulators.malloc.generator import dnn_instance
from archgym.simulators.malloc.graphs import GRAPHS
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.minimalloc import (
    EXAMPLES,
    capacity_in_name,
    example_path,
    load_suite,
    read_csv,
    write_csv,
)
from archgym.simulators.malloc.minimalloc_binary import BINARY_VARIABLE, MiniMallocBinary
from archgym.simulators.malloc.placement import peak_address
from archgym.simulators.malloc.solve import METHODS, Solution, minimize_capacity, solve

__all__ = ["load_instance", "malloc_app"]

malloc_app = typer.Typer(
    help="Memory mapping (mallocGame): place tensor buffers in fast on-chip memory.",
    no_args_is_help=True,
)
console = Console()
error_console = Console(stderr=True)

DEFAULT_BENCH = ("transformer", "mobilenetv2", "resnet50", "tiny", "zero-slack-100")
"""Instances ``archgym malloc bench`` runs when none is given."""

_INSTANCE_HELP = (
    f"A MiniMalloc CSV file (id,lower,upper,size; give --capacity), a bundled example "
    f"({', '.join(EXAMPLES)}) or a DNN ({', '.join(GRAPHS)})."
)


def load_instance(spec: str, capacity: int | None = None, layers: int | None = None,
                  capacity_fraction: float = 0.25, alignment: int = 1) -> Instance:
    """Load an instance named on the command line (see ``_INSTANCE_HELP``).

    Raises:
        ConfigurationError: a CSV file without ``capacity``, or an unknown name.
        WorkloadError: a malformed CSV file.
    """
    if spec in GRAPHS:
        instance = dnn_instance(spec, layers=layers, capacity_fraction=capacity_fraction)
        return instance if capacity is None else instance.with_capacity(capacity)
    if spec in EXAMPLES:
        return read_csv(example_path(spec), capacity or EXAMPLES[spec], alignment)
    if spec.endswith(".csv") or Path(spec).exists():
        if capacity is None:
            capacity = capacity_in_name(spec)
        if capacity is None:
            raise ConfigurationError(f"--capacity is required for the instance file {spec!r} (bytes of fast memory)")
        return read_csv(spec, capacity, alignment)
    raise ConfigurationError(f"unknown instance {spec!r}: {_INSTANCE_HELP}")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigurationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")




def _proof(solution: Solution) -> str:
    if solution.optimal is None:
        return ""
    if solution.speedup is None:
        return "; proven" if solution.optimal else "; not proven either way"
    return "; proven optimal" if solution.optimal else "; not proven optimal"


@malloc_app.command("solve")
def malloc_solve(
    instance: Annotated[str, typer.Option(help=_INSTANCE_HELP)],
    capacity: Annotated[int | None, typer.Option(
        help="Fast-memory capacity in bytes (CSV files named NAME.CAPACITY.csv carry their own).")] = None,
    method: Annotated[str, typer.Option(help=f"One of {', '.join(METHODS)}.")] = "best",
    time_limit: Annotated[float, typer.Option(help="Seconds for exact, agent and best.")] = 10.0,
    alignment: Annotated[int, typer.Option(min=1, max=2**40, help="Offset alignment in bytes (CSV files).")] = 1,
    layers: Annotated[int | None, typer.Option(help="Consecutive layers of a DNN to keep (all by default).")] = None,
    capacity_fraction: Annotated[float, typer.Option(
        help="DNN instances: capacity as a fraction of the peak live bytes.")] = 0.25,
    minimize_capacity_: Annotated[bool, typer.Option(
        "--minimize-capacity", help="Find the smallest capacity that holds every buffer (with proof, or the best "
        "bound found within the time limit); --capacity is then not needed.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the placement as CSV (with an offset column).")] = None,
) -> None:
    """Place the buffers of one instance and report whether they fit, the peak address and the speedup."""
    try:
        if out is not None:
            check_output_file(out, "--out")
        _check_method(method)
        if minimize_capacity_ and capacity is None and capacity_in_name(instance) is None and (
                instance.endswith(".csv") or Path(instance).exists()):
            capacity = _total_size(instance)
        problem = load_instance(instance, capacity, layers, capacity_fraction, alignment)
        if minimize_capacity_:
            _minimize(problem, time_limit, out)
            return
        with error_console.status(f"solving {problem.name} with {method}"):
            solution = solve(problem, method, time_limit=time_limit)
    except (ArchGymError, ImportError, OSError) as error:
        raise fail(error) from None
    inside = (solution.offsets >= 0) & (solution.offsets + problem.sizes <= problem.capacity)
    console.print(f"[bold]{escape(problem.name)}[/]: {len(problem)} buffers, capacity {problem.capacity:,} bytes, "
                  f"peak live {problem.peak_live_bytes():,} bytes")
    console.print(f"method {method}: {'fits' if solution.fits else 'does not fit'}{_proof(solution)}")
    console.print(f"{int(inside.sum())}/{len(problem)} buffers in fast memory; peak address {solution.peak:,} "
                  f"bytes; {solution.wall_time_s:.2f} s")
    if solution.speedup is not None:
        console.print(f"speedup {solution.speedup:.4f} over all-slow (time {solution.time_s * 1e6:,.2f} us)")
    if out is not None:
        _write_placement(problem, out, solution.offsets)


def _total_size(path: str) -> int:
    """Bytes of every buffer of a CSV file: a capacity that holds them all, to read it before minimising."""
    problem = read_csv(path, 2**62 - 1)
    return int(problem.sizes.sum())


def _minimize(problem: Instance, time_limit: float, out: Path | None) -> None:
    with error_console.status(f"minimising the capacity of {problem.name}"):
        result = minimize_capacity(problem, time_limit=time_limit)
    console.print(f"[bold]{escape(problem.name)}[/]: {len(problem)} buffers, peak live "
                  f"{problem.peak_live_bytes():,} bytes")
    if result.proven:
        console.print(f"smallest capacity {result.capacity:,} bytes, proven optimal")
    else:
        gap = result.capacity / result.lower_bound - 1
        console.print(f"smallest capacity found {result.capacity:,} bytes, not proven optimal: no placement fits "
                      f"below {result.lower_bound:,} bytes (gap {gap:.2%})")
    console.print(f"{result.probes} capacities searched; {result.wall_time_s:.2f} s")
    if out is not None:
        _write_placement(problem.with_capacity(result.capacity), out, result.offsets)


def _write_placement(problem: Instance, out: Path, offsets: np.ndarray) -> None:
    """Write a placement as MiniMalloc CSV to ``out`` (checked before solving; its folders are created)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(problem, out, offsets)
    console.print(f"wrote {out}")


_SUITE_COLUMNS = ("instance", "buffers", "capacity", "method", "result", "proven", "peak", "seconds")


@malloc_app.command("bench")
def malloc_bench(
    instance: Annotated[list[str] | None, typer.Option(help=f"{_INSTANCE_HELP} Repeatable.")] = None,
    suite: Annotated[Path | None, typer.Option(
        help="A folder of MiniMalloc CSV files (NAME.CAPACITY.csv, e.g. MiniMalloc's benchmarks/challenging); "
        "by default only best runs on them (and MiniMalloc, see --minimalloc).")] = None,
    capacity: Annotated[int | None, typer.Option(help="Capacity for CSV files, in bytes.")] = None,
    method: Annotated[list[str] | None, typer.Option(
        help="Methods to compare (repeatable; default: every method but agent, and cp-sat only on pure "
        "allocation instances with OR-Tools installed).")] = None,
    time_limit: Annotated[float, typer.Option(help="Seconds per run of exact, best and MiniMalloc.")] = 10.0,
    minimalloc: Annotated[str | None, typer.Option(
        help=f"A MiniMalloc binary to run beside the methods on pure allocation instances (default: "
        f"${BINARY_VARIABLE}, if set).")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the table as CSV.")] = None,
) -> None:
    """Compare methods on instances: speedup, or for pure allocation whether the buffers fit and the peak."""
    # By default cp-sat runs where it applies: on pure allocation instances, with OR-Tools installed.
    default_methods = ["best"] if suite is not None else [
        m for m in METHODS if m != "agent" and (m != "cp-sat" or cp_sat_available())]
    methods = method or default_methods
    try:
        if out is not None:
            check_output_file(out, "--out")
        for name in methods:
            _check_method(name)
        problems = [load_instance(spec, capacity) for spec in (instance or ([] if suite else DEFAULT_BENCH))]
        if suite is not None:
            problems += load_suite(suite, capacity)
        reference = MiniMallocBinary(minimalloc) if minimalloc or _minimalloc_set() else None
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    runs = [(problem, name) for problem in problems for name in methods
            if not (name == "cp-sat" and method is None and problem.has_costs)]
    runs += [(problem, "minimalloc") for problem in problems if reference is not None and not problem.has_costs]
    runs.sort(key=lambda run: problems.index(run[0]))
    rows: list[dict[str, str]] = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=error_console, transient=True) as bar:
        task = bar.add_task("malloc bench", total=len(runs))
        for problem, name in runs:
            bar.update(task, description=f"{problem.name}: {name}")
            rows.append(_bench_row(problem, name, time_limit, reference))
            bar.advance(task)
    table = Table(*(Column(c, justify="right" if c in ("buffers", "capacity", "peak", "seconds") else "left",
                           no_wrap=True) for c in _SUITE_COLUMNS),
                  title="speedup over all-slow, or whether the buffers fit (pure allocation); proven: optimal, or "
                  "fits / does not fit with proof", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    previous = None
    for row in rows:
        if previous is not None and row["instance"] != previous:
            table.add_section()
        previous = row["instance"]
        table.add_row(*(escape(row[c]) for c in _SUITE_COLUMNS))
    console.print(table)
    for name in dict.fromkeys(row["method"] for row in rows):
        mine = [row for row in rows if row["method"] == name and row["seconds"]]
        pure = [row for row in mine if row["result"] in ("fits", "does not fit", "not settled")]
        if pure:
            seconds = [float(row["seconds"]) for row in pure]
            console.print(f"{name}: {sum(r['result'] == 'fits' for r in pure)}/{len(pure)} fit, "
                          f"{sum(r['proven'] == 'yes' for r in pure)}/{len(pure)} proven; "
                          f"{sum(seconds):.2f} s in all, at most {max(seconds):.2f} s")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=_SUITE_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        console.print(f"wrote {out}")


def _minimalloc_set() -> bool:
    return bool(os.environ.get(BINARY_VARIABLE))


def _bench_row(problem: Instance, name: str, time_limit: float, reference: MiniMallocBinary | None) -> dict[str, str]:
    row = {"instance": problem.name, "buffers": str(len(problem)), "capacity": f"{problem.capacity:,}",
           "method": name, "result": "", "proven": "", "peak": "", "seconds": ""}
    try:
        if name == "minimalloc" and reference is not None:
            solution = reference.solve(problem, time_limit=time_limit)
        else:
            solution = solve(problem, name, time_limit=time_limit)
    except (ArchGymError, ImportError, OSError) as error:
        row["result"] = f"error: {error}"
        return row
    if solution.speedup is not None:
        row["result"] = f"{solution.speedup:.4f}"
        row["proven"] = "yes" if solution.optimal else ""
    else:
        settled = solution.fits or solution.optimal is not False
        row["result"] = "fits" if solution.fits else ("does not fit" if settled else "not settled")
        row["proven"] = "yes" if solution.optimal else ("no" if solution.optimal is False else "")
    placed = solution.offsets >= 0
    row["peak"] = f"{peak_address(problem, solution.offsets):,}" if placed.any() else ""
    row["seconds"] = f"{solution.wall_time_s:.2f}"
    return row
