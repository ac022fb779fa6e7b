"""``archgym version``, ``envs`` and ``agents``: what is installed and registered."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from archgym import __version__
from archgym.cli.common import PluginOption, console, fail, load_plugins
from archgym.cost_model import BackendInfo, list_backends
from archgym.errors import ArchGymError
from archgym.problem import Problem, get_problem, list_problems

app = typer.Typer()


@app.command()
def version() -> None:
    """Print the package version."""
    console.print(__version__)


def _print_problem(problem: Problem, backends: list[BackendInfo]) -> None:
    console.rule(f"[bold]{problem.name}[/]  gymnasium id {problem.env_id}")
    if problem.description:
        console.print(problem.description)
    served = [b for b in backends if b.problem == problem.name]
    if served:
        table = Table("backend", "status", "description", title="backends", title_justify="left")
        for info in served:
            reason = info.unavailable_reason()
            status = "[green]available[/]" if reason is None else f"[yellow]unavailable[/]: {escape(reason)}"
            table.add_row(info.name, status, escape(info.description))
        console.print(table)
    if problem.design_space is None:
        if problem.cli:
            console.print(f"[bold]commands[/]: archgym {problem.name} --help")
        return
    console.print(f"[bold]workloads[/]: {', '.join(problem.workloads)} (or a workload file; see the README)")
    metrics = Table(title="metrics", title_justify="left")
    for column in ("metric", "unit", "goal"):
        metrics.add_column(column, no_wrap=True)
    metrics.add_column("description")
    for m in problem.metrics:
        metrics.add_row(m.name, m.unit, m.goal, m.description)
    console.print(metrics)
    knobs = Table(title=f"knobs ({problem.design_space.size:,} designs)", title_justify="left")
    knobs.add_column("knob", no_wrap=True)
    knobs.add_column("kind")
    knobs.add_column("values")
    knobs.add_column("description")
    for p in problem.design_space:
        knobs.add_row(p.name, p.kind.value, p.allowed(), p.description)
    console.print(knobs)
    for listing in problem.listings():
        extra = Table(*listing.columns, title=listing.title, title_justify="left")
        for row in listing.rows:
            extra.add_row(*(escape(cell) for cell in row))
        console.print(extra)
    console.print(_objectives_table(problem))
    console.print("or give a spec string (target:..., weighted:..., see the README)")


def _objectives_table(problem: Problem) -> Table:
    """The problem's objective presets, each with what it scores, the default one marked."""
    from archgym.objective import ObjectivePreset

    table = Table("objective", "scores", title="objectives", title_justify="left")
    for name, preset in problem.objective_presets.items():
        scores = preset.description or preset.spec if isinstance(preset, ObjectivePreset) else preset
        label = f"{name} (default)" if name == problem.objective else name
        table.add_row(label, escape(scores))
    return table


@app.command()
def envs(
    problem: Annotated[str | None, typer.Option("--problem", "--env", help="Only this problem (e.g. dram).")] = None,
    plugin: PluginOption = None,
) -> None:
    """List problems, their backends, workloads and knobs."""
    from archgym.agent import list_agents

    try:
        load_plugins(plugin)
        problems = [get_problem(problem)] if problem is not None else [get_problem(n) for n in list_problems()]
        backends = list_backends()
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    for entry in problems:
        _print_problem(entry, backends)
    console.print(f"[bold]agents[/]: {', '.join(list_agents())} (settings: archgym agents)")


@app.command()
def agents(plugin: PluginOption = None) -> None:
    """List the search agents, what they do and their settings with defaults."""
    from archgym.agent import agent_class, get_trainer, list_agents, list_trainers

    try:
        load_plugins(plugin)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    table = Table("agent", "description", "settings (defaults)", box=box.SIMPLE, title_justify="left")
    for name in list_agents():
        try:
            cls = agent_class(name)
        except (ArchGymError, OSError) as error:
            table.add_row(name, f"[dim]unavailable: {escape(str(error))}[/]", "")
            continue
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        settings = ", ".join(f"{key}={value!r}" for key, value in cls.defaults.items())
        table.add_row(name, escape(summary), escape(settings) or "-")
    console.print(table)
    console.print("set with: archgym run --agent NAME --agent-config key=value ...")
    for name in list_trainers():
        console.print(f"{name}: {escape(get_trainer(name).description)} (trains on its own environment: "
                      f"`archgym {name} train`, or `name: {name}` in a sweep spec)")
