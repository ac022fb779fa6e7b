"""The ``archgym`` command line: list problems, run searches, evaluate designs.

One module per command group, each command a thin layer that parses its
options, calls a library function and renders the result:

- :mod:`~archgym.cli.catalog`: ``version``, ``envs``, ``agents``;
- :mod:`~archgym.cli.evaluate`: ``evaluate``, ``optimum``;
- :mod:`~archgym.cli.run`: ``run``, ``sweep``, ``report`` and the ``marl`` group;
- :mod:`~archgym.cli.runs`: ``runs``;
- :mod:`~archgym.cli.validate`: ``validate``;
- :mod:`~archgym.cli.proxy`: the ``proxy`` group;
- :mod:`~archgym.cli.dataset`: the ``dataset`` group (``upgrade``);
- :mod:`~archgym.cli.common`: what they share (errors, options, backends, formatting).

Each registered problem's own commands are mounted as ``archgym <problem> ...``.
"""

from __future__ import annotations

import importlib
import logging
from typing import Annotated

import typer

from archgym import __version__
from archgym.cli import catalog, dataset, evaluate, proxy, run, runs, validate
from archgym.cli.common import console, mount_problem_clis, progress_bars

__all__ = ["app"]

app = typer.Typer(
    name="archgym",
    help="Gymnasium environments and search agents for hardware design-space exploration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        console.print(__version__)
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show log messages.")] = False,
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the package version and exit.")] = False,
) -> None:
    """Gymnasium environments and search agents for hardware design-space exploration."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Held by the command's context until the command ends, so long library work shows its progress. (A context
    # manager entered and dropped would be closed at once, taking the listener with it.)
    ctx.with_resource(progress_bars())


for group in (catalog.app, evaluate.app, run.app, runs.app, validate.app):
    app.add_typer(group)
app.add_typer(proxy.app, name="proxy")
app.add_typer(dataset.app, name="dataset")
mount_problem_clis(app)
# `archgym trace ...`, the name user docs use, is the same app as `archgym dram trace ...` (imported by name: layering).
app.add_typer(importlib.import_module("archgym.simulators.dram.cli").trace_app, name="trace")
