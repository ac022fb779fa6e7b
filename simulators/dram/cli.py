"""``archgym dram``: inspect memory traces and convert them between simulators' formats.

The trace commands are also mounted as ``archgym trace ...``. Both read traces
in chunks, so files of any length take bounded memory, and show a progress bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.filesize import decimal
from rich.markup import escape

from archgym.errors import ArchGymError
from archgym.simulators.dram.trace_formats import TRACE_FORMATS, convert_trace
from archgym.simulators.dram.trace_stats import trace_reader_stats
from archgym.simulators.dram.trace_stream import TraceReader

__all__ = ["dram_app", "trace_app"]

dram_app = typer.Typer(help="DRAM memory controller: tools for memory traces.", no_args_is_help=True)
trace_app = typer.Typer(
    help=f"Memory traces in DRAMSys STL, DRAMsim3 and Ramulator 2 formats ({', '.join(TRACE_FORMATS)}), "
    "plain, .gz or .zst.",
    no_args_is_help=True,
)
dram_app.add_typer(trace_app, name="trace")
console = Console()
error_console = Console(stderr=True)

_FORMAT_HELP = f"Trace format: {', '.join(TRACE_FORMATS)} (detected from the content by default)."
_CLOCK_HELP = "Clock in MHz at which the file's cycles are counted (no format records it)."


def _fail(error: Exception) -> typer.Exit:
    error_console.print(f"[bold red]error:[/] {escape(str(error))}")
    return typer.Exit(code=2)


@trace_app.command("info")
def trace_info(
    path: Annotated[Path, typer.Argument(help="The trace file.")],
    format: Annotated[str | None, typer.Option("--format", help=_FORMAT_HELP)] = None,
    clock_mhz: Annotated[float, typer.Option(min=1e-3, max=1e6, help=_CLOCK_HELP)] = 800.0,
) -> None:
    """Print what a trace holds: format, size, requests, read/write shares, span, intensity and row-buffer locality."""
    try:
        reader = TraceReader(path, format=format, clock_mhz=clock_mhz)
        stats = trace_reader_stats(reader)
    except (ArchGymError, OSError) as error:
        raise _fail(error) from None
    writes = 1.0 - stats.read_fraction
    console.print(f"[bold]{escape(reader.name)}[/]: {stats.n_requests:,} requests, "
                  f"{stats.read_fraction:.1%} reads, {writes:.1%} writes")
    console.print(f"file: {reader.format} format, {decimal(reader.size_bytes)} on disk")
    console.print(f"span: {stats.span_cycles:,} cycles ({stats.span_ns:,.1f} ns at {reader.clock_mhz:g} MHz)")
    console.print(f"intensity: {stats.requests_per_kcycle:,.1f} requests per kcycle")
    console.print(f"row-buffer locality: {stats.row_hit_share:.1%} of requests hit the row last used in their "
                  "bank (DDR3-1600 default row-bank-column mapping)")


@trace_app.command("convert")
def trace_convert(
    source: Annotated[Path, typer.Argument(help="The trace to read.")],
    destination: Annotated[Path, typer.Argument(
        help="The file to write; .gz or .zst compresses it, and its suffix (.stl, .dramsim3, .ramulator2, .ldst) "
        "names the format unless --to does.")],
    to: Annotated[str | None, typer.Option("--to", help=f"Output format: {', '.join(TRACE_FORMATS)}.")] = None,
    format: Annotated[str | None, typer.Option("--format", help=_FORMAT_HELP)] = None,
) -> None:
    """Convert a trace from one format to another (Ramulator 2 files carry no cycles: back to back).

    The trace is converted chunk by chunk; the output appears only once it is complete.
    """
    try:
        written, requests = convert_trace(source, destination, to=to, format=format)
    except (ArchGymError, OSError) as error:
        raise _fail(error) from None
    console.print(f"wrote {requests:,} requests to {escape(str(written))}")
