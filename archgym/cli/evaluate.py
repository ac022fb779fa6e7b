"""``archgym evaluate`` and ``optimum``: score one design, or find the best design of a whole space."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from archgym.cli.common import (
    BackendOption,
    BackendOptionsOption,
    JsonOption,
    MemspecOption,
    PluginOption,
    ProblemOption,
    ProxyOption,
    SimTimeoutOption,
    TargetOption,
    TrustOption,
    WorkloadOption,
    backend_options,
    build_backend,
    check_problem,
    console,
    error_console,
    fail,
    format_value,
    load_plugins,
    parse_assignments,
    trusted,
)
from archgym.cost_model import CostModel, MetricSpec
from archgym.errors import ArchGymError, ConfigurationError
from archgym.problem import DEFAULT_PROBLEM, get_problem

app = typer.Typer()

OBJECTIVE_HELP = ("Objective name or spec (see `archgym envs`); default: the problem's default objective, "
                  "marked (default) in `archgym envs` (for dram: latency, the run's total time).")
"""Help of every command's --objective: the default depends on the problem, so that a run and its optimum agree."""

ObjectiveOption = Annotated[str | None, typer.Option(help=OBJECTIVE_HELP)]


def default_objective(problem: str, objective: str | None) -> str:
    """``objective``, or the problem's default objective when it is None.

    Raises:
        ConfigurationError: none is given and the problem has no objective presets.
    """
    if objective is not None:
        return objective
    chosen = get_problem(problem).objective
    if chosen is None:
        raise ConfigurationError(f"problem {problem!r} has no objective presets; give --objective as a spec string")
    return chosen


def _parse_design(text: str) -> dict[str, Any]:
    """The ``--design`` JSON object.

    Raises:
        ConfigurationError: it is not JSON, nests too deeply to parse, or is not an object.
    """
    shown = text if len(text) <= 80 else f"{text[:77]}..."
    try:
        given = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"--design is not valid JSON ({error.msg} at column {error.colno}): {shown}") from None
    except RecursionError:
        raise ConfigurationError(
            f"--design nests lists or objects too deeply to parse; a design is a flat JSON object mapping knob "
            f"names to values: {shown}"
        ) from None
    if not isinstance(given, dict):
        raise ConfigurationError("--design must be a JSON object mapping knob names to values")
    return given


def _design_table(design: dict[str, Any], title: str, bold: tuple[str, ...] = ()) -> Table:
    table = Table("knob", "value", title=title, title_justify="left")
    for name, value in design.items():
        table.add_row(name, str(value), style="bold" if name in bold else None)
    return table


def _metrics_table(specs: tuple[MetricSpec, ...], values: Mapping[str, float], title: str) -> Table:
    table = Table("metric", "value", "unit", title=title, title_justify="left")
    for spec in specs:
        table.add_row(spec.name, format_value(values.get(spec.name, math.nan)), spec.unit)
    return table


@app.command()
def evaluate(
    design: Annotated[str, typer.Option(help="Design as JSON; knobs left out take their default values.")] = "{}",
    problem: ProblemOption = DEFAULT_PROBLEM,
    backend: BackendOption = "analytical",
    workload: WorkloadOption = None,
    backend_option: BackendOptionsOption = None,
    memspec: MemspecOption = None,
    proxy: ProxyOption = None,
    sim_timeout: SimTimeoutOption = None,
    trust: TrustOption = False,
    objective: Annotated[str | None, typer.Option(help="Also print this objective's reward.")] = None,
    as_json: JsonOption = False,
    plugin: PluginOption = None,
) -> None:
    """Evaluate one design and print its metrics."""
    from archgym.evaluate import evaluate_design

    try:
        load_plugins(plugin)
        check_problem(problem)
        options = backend_options(backend_option, memspec=memspec, proxy=proxy, timeout_s=sim_timeout)
        model = build_backend(problem, backend, trusted(options, trust))
        score = evaluate_design(model, _parse_design(design), workload, objective)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    result = score.evaluation
    if as_json:
        payload: dict[str, Any] = {"design": score.design, "metrics": dict(result.metrics), "feasible": result.feasible}
        if result.reason:
            payload["reason"] = result.reason
        if score.reward is not None:
            payload["reward"] = score.reward
        console.print_json(json.dumps(payload))
        return
    console.print(_design_table(score.design, "design", bold=score.given))
    console.print(_metrics_table(model.metrics, result.metrics, f"{model.name} on {score.workload}"))
    if not result.feasible:
        console.print(f"[yellow]infeasible[/]: {escape(result.reason)}")
    if score.reward is not None:
        console.print(f"reward ({objective}): {score.reward:.6g}")


@app.command()
def optimum(
    problem: ProblemOption = DEFAULT_PROBLEM,
    workload: WorkloadOption = None,
    objective: ObjectiveOption = None,
    target: TargetOption = None,
    backend: Annotated[str, typer.Option(help="Cost model backend (it must score batches fast).")] = "analytical",
    backend_option: BackendOptionsOption = None,
    memspec: MemspecOption = None,
    proxy: ProxyOption = None,
    trust: TrustOption = False,
    top: Annotated[int, typer.Option(min=1, help="Also list this many of the best designs.")] = 1,
    as_json: JsonOption = False,
    plugin: PluginOption = None,
) -> None:
    """Find the exact best design by evaluating every design (agents are scored by regret against it)."""
    from archgym.objective import make_objective
    from archgym.optimum import distinct_outcomes, find_optimum

    try:
        load_plugins(plugin)
        check_problem(problem)
        model: CostModel = build_backend(problem, backend,
                                         trusted(backend_options(backend_option, memspec=memspec, proxy=proxy), trust))
        workload = workload if workload is not None else model.default_workload
        goal = make_objective(default_objective(problem, objective), metrics=model.metrics,
                              presets=model.objective_presets,
                              **parse_assignments(target or [], "--target", "target_latency_ns=60000"))
        size = model.design_space.size
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=error_console, transient=True,
        ) as progress:
            task = progress.add_task(f"preparing {workload}", total=size if math.isfinite(size) else None)
            model.prepare(workload)
            progress.update(task, description=f"enumerating {problem}/{workload}")
            best = find_optimum(model, goal, workload, callback=lambda done, total: progress.update(task, completed=done))
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    outcomes = distinct_outcomes(best, model, top, workload)
    if as_json:
        console.print_json(json.dumps({
            "env": problem, "backend": model.name, "workload": str(workload), "objective": goal.describe(),
            "design": best.design, "reward": best.reward, "metrics": best.metrics,
            "designs_evaluated": best.designs_evaluated, "wall_time_s": best.wall_time_s,
            "within_1pct_share": best.share_within(0.01),
            "top": [{"design": o.design, "reward": o.reward, "metrics": o.metrics, "equivalent_designs": o.equivalent,
                     "differing_knobs": list(o.differing_knobs)} for o in outcomes],
        }, default=str))
        return
    console.print(_design_table(best.design, f"best of {best.designs_evaluated:,} designs"))
    console.print(_metrics_table(model.metrics, best.metrics, f"its metrics ({model.name}, {workload})"))
    if top > 1:
        # One column per outcome keeps the table narrow whatever the number of knobs.
        ranking = Table("", *(f"#{rank}" for rank in range(1, len(outcomes) + 1)),
                        title=f"top {top} distinct outcomes (designs with identical metrics shown once)",
                        title_justify="left")
        ranking.add_row("reward", *(f"{o.reward:.6g}" for o in outcomes))
        for name in model.design_space.names:
            ranking.add_row(name, *(str(o.design[name]) for o in outcomes))
        ranking.add_row("equivalent designs", *(f"{o.equivalent:,}" for o in outcomes), style="dim")
        console.print(ranking)
        for rank, outcome in enumerate(outcomes, start=1):
            if outcome.equivalent:
                console.print(f"#{rank} {outcome.describe_equivalents()}")
    console.print(
        f"reward ({goal.describe()}): {best.reward:.6g}; {best.share_within(0.01):.2%} of designs are within 1 % "
        f"of it; enumeration took {best.wall_time_s:.1f} s"
    )
