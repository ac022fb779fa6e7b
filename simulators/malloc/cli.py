"""``archgym malloc``: solve and benchmark memory-mapping instances from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from archgym.errors import ArchGymError, ConfigurationError
from archgym.simulators.malloc.cp_sat import available as cp_sat_available
from archgym.simulators.malloc.generator import dnn_instance
from archgym.simulators.malloc.graphs import GRAPHS
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.minimalloc import EXAMPLES, example_path, read_csv, write_csv
from archgym.simulators.malloc.solve import METHODS, Solution, solve

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
            raise ConfigurationError(f"--capacity is required for the instance file {spec!r} (bytes of fast memory)")
        return read_csv(spec, capacity, alignment)
    raise ConfigurationError(f"unknown instance {spec!r}: {_INSTANCE_HELP}")


def _check_method(method: str) -> None:
    if method not in METHODS:
        raise ConfigurationError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _fail(error: Exception) -> typer.Exit:
    error_console.print(f"[bold red]error:[/] {escape(str(error))}")
    return typer.Exit(code=2)


def _proof(solution: Solution) -> str:
    if solution.optimal is None:
        return ""
    if solution.speedup is None:
        return "; proven" if solution.optimal else "; not proven either way"
    return "; proven optimal" if solution.optimal else "; not proven optimal"


@malloc_app.command("solve")
def malloc_solve(
    instance: Annotated[str, typer.Option(help=_INSTANCE_HELP)],
    capacity: Annotated[int | None, typer.Option(help="Fast-memory capacity in bytes.")] = None,
    method: Annotated[str, typer.Option(help=f"One of {', '.join(METHODS)}.")] = "best",
    time_limit: Annotated[float, typer.Option(help="Seconds for exact, agent and best.")] = 10.0,
    alignment: Annotated[int, typer.Option(help="Offset alignment in bytes (CSV files).")] = 1,
    layers: Annotated[int | None, typer.Option(help="Consecutive layers of a DNN to keep (all by default).")] = None,
    capacity_fraction: Annotated[float, typer.Option(
        help="DNN instances: capacity as a fraction of the peak live bytes.")] = 0.25,
    out: Annotated[Path | None, typer.Option(help="Write the placement as CSV (with an offset column).")] = None,
) -> None:
    """Place the buffers of one instance and report whether they fit, the peak address and the speedup."""
    try:
        _check_method(method)
        problem = load_instance(instance, capacity, layers, capacity_fraction, alignment)
        with error_console.status(f"solving {problem.name} with {method}"):
            solution = solve(problem, method, time_limit=time_limit)
    except (ArchGymError, ImportError) as error:
        raise _fail(error) from None
    inside = (solution.offsets >= 0) & (solution.offsets + problem.sizes <= problem.capacity)
    console.print(f"[bold]{escape(problem.name)}[/]: {len(problem)} buffers, capacity {problem.capacity:,} bytes, "
                  f"peak live {problem.peak_live_bytes():,} bytes")
    console.print(f"method {method}: {'fits' if solution.fits else 'does not fit'}{_proof(solution)}")
    console.print(f"{int(inside.sum())}/{len(problem)} buffers in fast memory; peak address {solution.peak:,} "
                  f"bytes; {solution.wall_time_s:.2f} s")
    if solution.speedup is not None:
        console.print(f"speedup {solution.speedup:.4f} over all-slow (time {solution.time_s * 1e6:,.2f} us)")
    if out is not None:
        write_csv(problem, out, solution.offsets)
        console.print(f"wrote {out}")


@malloc_app.command("bench")
def malloc_bench(
    instance: Annotated[list[str] | None, typer.Option(help=f"{_INSTANCE_HELP} Repeatable.")] = None,
    capacity: Annotated[int | None, typer.Option(help="Capacity for CSV files, in bytes.")] = None,
    method: Annotated[list[str] | None, typer.Option(
        help="Methods to compare (repeatable; default: every method but agent, and cp-sat only on pure "
        "allocation instances with OR-Tools installed).")] = None,
    time_limit: Annotated[float, typer.Option(help="Seconds per run of exact and best.")] = 10.0,
) -> None:
    """Compare methods on instances: speedup, or for pure allocation whether the buffers fit and the peak."""
    # By default cp-sat runs where it applies: on pure allocation instances, with OR-Tools installed.
    methods = method or [m for m in METHODS if m != "agent" and (m != "cp-sat" or cp_sat_available())]
    try:
        for name in methods:
            _check_method(name)
        problems = [load_instance(spec, capacity) for spec in (instance or DEFAULT_BENCH)]
    except ArchGymError as error:
        raise _fail(error) from None
    table = Table(Column("instance", no_wrap=True), Column("buffers", justify="right"), Column("method", no_wrap=True),
                  Column("result", no_wrap=True), Column("peak address", justify="right"),
                  Column("s", justify="right"), title="speedup over all-slow, or whether the buffers fit "
                  "(pure allocation); * proven optimal", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for problem in problems:
        for name in methods:
            if name == "cp-sat" and method is None and problem.has_costs:
                continue
            try:
                with error_console.status(f"{problem.name}: {name}"):
                    solution = solve(problem, name, time_limit=time_limit)
            except (ArchGymError, ImportError) as error:
                table.add_row(escape(problem.name), str(len(problem)), name, f"error: {escape(str(error))}", "", "")
                continue
            if solution.speedup is not None:
                result = f"{solution.speedup:.4f}"
            else:
                result = "fits" if solution.fits else "does not fit"
            if solution.optimal:
                result += " *"
            table.add_row(escape(problem.name), str(len(problem)), name, result, f"{solution.peak:,}",
                          f"{solution.wall_time_s:.2f}")
        table.add_section()
    console.print(table)
