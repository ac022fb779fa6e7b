"""``archgym dataset``: look after dataset directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from archgym.cli.common import console, fail
from archgym.errors import ArchGymError

app = typer.Typer(help="Look after dataset directories (run directories of archgym run and sweep).",
                  no_args_is_help=True)


@app.command()
def upgrade(
    directory: Annotated[Path, typer.Argument(help="Dataset directory written before run records moved to _runs/.")],
) -> None:
    """Move a dataset of the earlier layout into the current one, so plain Parquet readers open it.

    Run records move from runs/ to _runs/, journal rows into part files and the
    default report from report/ to _report/; no row is lost or duplicated.
    """
    from archgym.dataset import upgrade_dataset

    try:
        result = upgrade_dataset(directory)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    if result.changed:
        steps = []
        if result.records_moved:
            steps.append(f"moved {_count(result.records_moved, 'run record')} to _runs/")
        if result.journals_folded:
            steps.append(f"turned {_count(result.journals_folded, 'journal')} into part files "
                         f"({_count(result.rows_recovered, 'row')} not yet in a part)")
        if result.report_moved:
            steps.append("moved report/ to _report/")
        console.print(f"upgraded {escape(str(directory))}: {'; '.join(steps)}")
    else:
        console.print(f"{escape(str(directory))} is already in the current layout")
    if result.left:
        console.print(f"[yellow]still in the way of plain Parquet readers[/]: {escape(', '.join(result.left))} "
                      "(not written by ArchGym; move them out or rename them to start with _)")
    else:
        console.print(f"plain readers open it now: pandas.read_parquet('{escape(str(directory))}'), "
                      f"polars.read_parquet('{escape(str(directory))}/*.parquet')")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
