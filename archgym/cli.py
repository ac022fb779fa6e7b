"""The ``archgym`` command line: list problems, run searches, evaluate designs."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from archgym import __version__
from archgym.cost_model import CostModel, list_backends, make_backend
from archgym.envs import ENV_ID_BY_PROBLEM
from archgym.errors import ArchGymError, ConfigurationError

app = typer.Typer(
    name="archgym",
    help="Gymnasium environments and search agents for hardware design-space exploration.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
error_console = Console(stderr=True)

def _fail(error: Exception) -> typer.Exit:
    error_console.print(f"[bold red]error:[/] {error}")
    return typer.Exit(code=2)


def _backend(env: str, backend: str, memspec: Optional[str]) -> CostModel:
    kwargs: dict[str, Any] = {}
    if memspec is not None:
        kwargs["memspec"] = memspec
    return make_backend(backend, env=env, **kwargs)


def _parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    from archgym.agents.base import parse_agent_config

    try:
        return parse_agent_config(items)
    except ArchGymError as error:
        raise ConfigurationError(f"{what}: {error}") from None


def _check_env(env: str) -> None:
    envs = sorted({b.env for b in list_backends()})
    if env not in envs:
        raise ConfigurationError(f"unknown env {env!r}; available envs are {', '.join(envs)}")


def _format(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show log messages.")] = False,
) -> None:
    """Gymnasium environments and search agents for hardware design-space exploration."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def version() -> None:
    """Print the package version."""
    console.print(__version__)


@app.command()
def envs(
    env: Annotated[Optional[str], typer.Option(help="Only this problem (e.g. dram).")] = None,
) -> None:
    """List problems, their backends, workloads and knobs."""
    from archgym.agents.base import list_agents
    from archgym.objective import list_objectives

    try:
        if env is not None:
            _check_env(env)
        backends = list_backends(env)
    except ArchGymError as error:
        raise _fail(error) from None
    for problem in sorted({b.env for b in backends}):
        console.rule(f"[bold]{problem}[/]  gymnasium id {ENV_ID_BY_PROBLEM.get(problem, '-')}")
        table = Table("backend", "status", "description", title="backends", title_justify="left")
        available = None
        for info in (b for b in backends if b.env == problem):
            reason = info.unavailable_reason()
            table.add_row(info.name, "[green]available[/]" if reason is None else f"[yellow]unavailable[/]: {reason}", info.description)
            if reason is None and available is None:
                available = info
        console.print(table)
        if available is None:
            continue
        model = available.factory()
        console.print(f"[bold]workloads[/]: {', '.join(model.workloads())} (or a path to a trace file)")
        metrics = Table(title="metrics", title_justify="left")
        for column in ("metric", "unit", "goal"):
            metrics.add_column(column, no_wrap=True)
        metrics.add_column("description")
        for m in model.metrics:
            metrics.add_row(m.name, m.unit, m.goal, m.description)
        console.print(metrics)
        knobs = Table(title=f"knobs ({model.design_space.size:,} designs)", title_justify="left")
        knobs.add_column("knob", no_wrap=True)
        knobs.add_column("kind")
        knobs.add_column("values")
        knobs.add_column("description")
        for p in model.design_space:
            knobs.add_row(p.name, p.kind.value, p.allowed(), p.description)
        console.print(knobs)
    console.print(f"[bold]agents[/]: {', '.join(list_agents())}")
    console.print(f"[bold]objectives[/]: {', '.join(list_objectives())}")


@app.command()
def evaluate(
    design: Annotated[str, typer.Option(help="Design as JSON; knobs left out take their default values.")] = "{}",
    env: Annotated[str, typer.Option(help="Problem.")] = "dram",
    backend: Annotated[str, typer.Option(help="Cost model backend.")] = "analytical",
    workload: Annotated[Optional[str], typer.Option(help="Workload name or trace file.")] = None,
    memspec: Annotated[Optional[str], typer.Option(help="DRAM memspec preset or JSON file.")] = None,
    objective: Annotated[Optional[str], typer.Option(help="Also print this objective's reward.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Evaluate one design and print its metrics."""
    from archgym.objective import make_objective

    try:
        _check_env(env)
        model = _backend(env, backend, memspec)
        try:
            given = json.loads(design)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"--design is not valid JSON ({error.msg} at column {error.colno}): {design}") from None
        if not isinstance(given, dict):
            raise ConfigurationError("--design must be a JSON object mapping knob names to values")
        for name in given:
            model.design_space[name]  # names an unknown knob clearly
        defaults = getattr(model, "default_design", lambda: {})()
        full = model.design_space.complete(given, defaults)
        model.prepare(workload)
        result = model.evaluate(full, workload)
        reward = make_objective(objective, metrics=model.metrics)(result) if objective else None
    except ArchGymError as error:
        raise _fail(error) from None
    if as_json:
        payload: dict[str, Any] = {"design": full, "metrics": dict(result.metrics), "feasible": result.feasible}
        if result.reason:
            payload["reason"] = result.reason
        if reward is not None:
            payload["reward"] = reward
        console.print_json(json.dumps(payload))
        return
    table = Table("knob", "value", title="design", title_justify="left")
    for name, value in full.items():
        table.add_row(name, str(value), style="bold" if name in given else None)
    console.print(table)
    metrics = Table("metric", "value", "unit", title=f"{model.name} on {workload or model.default_workload}", title_justify="left")
    for spec in model.metrics:
        metrics.add_row(spec.name, _format(result.metrics.get(spec.name, math.nan)), spec.unit)
    console.print(metrics)
    if not result.feasible:
        console.print(f"[yellow]infeasible[/]: {result.reason}")
    if reward is not None:
        console.print(f"reward ({objective}): {reward:.6g}")


@app.command()
def run(
    env: Annotated[str, typer.Option(help="Problem.")] = "dram",
    workload: Annotated[Optional[str], typer.Option(help="Workload name or trace file.")] = None,
    agent: Annotated[str, typer.Option(help="Search agent.")] = "random",
    budget: Annotated[int, typer.Option(min=1, help="Evaluations to spend.")] = 200,
    objective: Annotated[str, typer.Option(help="Objective name or spec (see `archgym envs`).")] = "latency",
    target: Annotated[Optional[list[str]], typer.Option(help="Objective target, e.g. target_latency_ns=60000 (repeatable).")] = None,
    out: Annotated[Path, typer.Option(help="Run directory for the dataset.")] = Path("runs/latest"),
    backend: Annotated[str, typer.Option(help="Cost model backend.")] = "analytical",
    memspec: Annotated[Optional[str], typer.Option(help="DRAM memspec preset or JSON file.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    agent_config: Annotated[Optional[list[str]], typer.Option(help="Agent hyperparameter key=value (repeatable).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Designs asked for and evaluated at once.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue the last run in --out instead of starting a new one.")] = False,
) -> None:
    """Search the design space with an agent and log every evaluation."""
    from archgym.agents.base import make_agent
    from archgym.dataset import (
        EvaluationLogger,
        RunContext,
        load_run_rows,
        new_run_id,
        read_run_metadata,
        write_run_metadata,
    )
    from archgym.objective import make_objective
    from archgym.search import run_search

    try:
        _check_env(env)
        if resume:
            previous = read_run_metadata(out)
            if not previous:
                raise ConfigurationError(f"--resume: no run to resume in {out}")
            last = previous[-1]
            run_id, seed, agent = last["run_id"], last["seed"], last["agent"]
            config = dict(last.get("agent_config") or {})
            workload, objective = last["workload"], last["objective"]
            backend, memspec = last["backend"], last.get("memspec")
            budget = max(budget, int(last.get("budget", budget)))
            targets = dict(last.get("targets") or {})
            batch_size = int(last.get("batch_size", batch_size))
        else:
            run_id = new_run_id(agent)
            config = _parse_assignments(agent_config or [], "--agent-config")
            targets = _parse_assignments(target or [], "--target")
        model = _backend(env, backend, memspec)
        workload = workload if workload is not None else model.default_workload
        model.prepare(workload)
        goal = make_objective(objective, metrics=model.metrics, **targets)
        searcher = make_agent(agent, model.design_space, seed=seed, **config)
        context = RunContext(
            run_id=run_id, env=env, backend=model.name, workload=str(workload), agent=agent,
            agent_config=config, seed=seed, objective=objective,
        )
        out.mkdir(parents=True, exist_ok=True)
        resume_rows = load_run_rows(out, run_id) if resume else None
        if not resume:
            write_run_metadata(out, context, {
                "budget": budget, "targets": targets, "batch_size": batch_size,
                "memspec": memspec,
            })
        logger = EvaluationLogger(out, context, model.design_space, model.metric_names)
    except ArchGymError as error:
        raise _fail(error) from None

    done = 0 if resume_rows is None else len(resume_rows)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("best reward {task.fields[best]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=error_console, transient=False,
    ) as progress:
        task = progress.add_task(f"{agent} on {env}/{workload}", total=budget, completed=0, best="-")

        def update(state: Any) -> None:
            best = "-" if math.isnan(state.best_reward) else f"{state.best_reward:.4g}"
            progress.update(task, completed=state.evaluations, best=best)

        try:
            result = run_search(
                searcher, model, goal, budget, workload=workload, batch_size=batch_size,
                logger=logger, resume_rows=resume_rows, callback=update,
            )
        except ArchGymError as error:
            logger.close()
            raise _fail(error) from None
        finally:
            logger.close()
    if result.best is None:
        console.print("no evaluations were run")
        return
    best = result.best
    table = Table("knob", "value", title=f"best design after {result.evaluations} evaluations", title_justify="left")
    for name, value in best.design.items():
        table.add_row(name, str(value))
    console.print(table)
    metrics = Table("metric", "value", "unit", title=f"its metrics ({model.name}, {workload})", title_justify="left")
    for spec in model.metrics:
        metrics.add_row(spec.name, _format(best.evaluation.metrics.get(spec.name, math.nan)), spec.unit)
    console.print(metrics)
    console.print(
        f"reward ({goal.describe()}): {best.reward:.6g} at evaluation {best.step}\n"
        f"dataset: {out} (run {run_id}{', resumed after ' + str(done) + ' evaluations' if resume else ''}); "
        f"load it with archgym.dataset.load_dataset('{out}')"
    )


if __name__ == "__main__":
    app()
