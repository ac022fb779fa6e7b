"""The ``archgym`` command line: list problems, run searches, evaluate designs."""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table

from archgym import __version__
from archgym.cost_model import CostModel, list_backends, make_backend
from archgym.errors import ArchGymError, ConfigurationError, DatasetError, UnknownNameError
from archgym.problem import get_problem, list_problems, problem_clis

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
    error_console.print(f"[bold red]error:[/] {escape(str(error))}")
    return typer.Exit(code=2)


def _backend(env: str, backend: str, memspec: str | None, proxy: Path | None = None) -> CostModel:
    kwargs: dict[str, Any] = {}
    if memspec is not None:
        kwargs["memspec"] = memspec
    if proxy is not None:
        if backend.split("/")[-1] != "proxy":
            raise ConfigurationError(f"--proxy applies to --backend proxy, not {backend!r}")
        kwargs["proxy"] = proxy
    return make_backend(backend, env, **kwargs)


def _parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    from archgym.agent import parse_agent_config

    try:
        return parse_agent_config(items)
    except ArchGymError as error:
        raise ConfigurationError(f"{what}: {error}") from None


def _load_plugins(plugins: list[str]) -> None:
    """Import modules or Python files that register agents or backends."""
    import importlib
    import importlib.util

    for plugin in plugins:
        path = Path(plugin)
        try:
            if path.suffix == ".py":
                if not path.is_file():
                    raise ConfigurationError(f"--plugin: no such file {plugin!r}")
                spec = importlib.util.spec_from_file_location(f"archgym_plugin_{path.stem}", path)
                module = importlib.util.module_from_spec(spec)
                # In sys.modules like any imported module: dataclasses and pickling look the module up there.
                sys.modules[spec.name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(spec.name, None)
                    raise
            else:
                importlib.import_module(plugin)
        except (ImportError, SyntaxError) as error:
            raise ConfigurationError(f"--plugin {plugin!r} could not be imported: {error}") from None


def _check_env(env: str) -> None:
    problems = [name for name in list_problems() if get_problem(name).is_design_problem]
    if env not in problems:
        raise ConfigurationError(f"unknown env {env!r}; available envs are {', '.join(problems)}")


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
    env: Annotated[str | None, typer.Option("--problem", "--env", help="Only this problem (e.g. dram).")] = None,
    plugin: Annotated[list[str] | None, typer.Option(
        help="Module or .py file to import first, e.g. one that registers your problem (repeatable).")] = None,
) -> None:
    """List problems, their backends, workloads and knobs."""
    from archgym.agent import list_agents

    try:
        _load_plugins(plugin or [])
        names = [get_problem(env).name] if env is not None else list(list_problems())
        backends = list_backends()
    except ArchGymError as error:
        raise _fail(error) from None
    for name in names:
        problem = get_problem(name)
        console.rule(f"[bold]{name}[/]  gymnasium id {problem.env_id}")
        if problem.description:
            console.print(problem.description)
        served = [b for b in backends if b.problem == name]
        if served:
            table = Table("backend", "status", "description", title="backends", title_justify="left")
            for info in served:
                reason = info.unavailable_reason()
                status = "[green]available[/]" if reason is None else f"[yellow]unavailable[/]: {escape(reason)}"
                table.add_row(info.name, status, escape(info.description))
            console.print(table)
        if problem.design_space is None:
            if problem.cli:
                console.print(f"[bold]commands[/]: archgym {name} --help")
            continue
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
        console.print(f"[bold]objectives[/]: {', '.join(problem.objective_presets)}, or a spec string "
                      "(target:..., weighted:..., see the README)")
    console.print(f"[bold]agents[/]: {', '.join(list_agents())} (settings: archgym agents)")


@app.command()
def agents(
    plugin: Annotated[list[str] | None, typer.Option(
        help="Module or .py file to import first, e.g. one that registers your agent (repeatable).")] = None,
) -> None:
    """List the search agents, what they do and their settings with defaults."""
    from archgym.agent import agent_class, list_agents

    try:
        _load_plugins(plugin or [])
    except ArchGymError as error:
        raise _fail(error) from None
    table = Table("agent", "description", "settings (defaults)", box=box.SIMPLE, title_justify="left")
    for name in list_agents():
        try:
            cls = agent_class(name)
        except ArchGymError as error:
            table.add_row(name, f"[dim]unavailable: {escape(str(error))}[/]", "")
            continue
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        settings = ", ".join(f"{key}={value!r}" for key, value in cls.defaults.items())
        table.add_row(name, escape(summary), escape(settings) or "-")
    console.print(table)
    console.print("set with: archgym run --agent NAME --agent-config key=value ...")
    from archgym.agent import get_trainer, list_trainers

    for name in list_trainers():
        console.print(f"{name}: {escape(get_trainer(name).description)} (trains on its own environment: "
                      f"`archgym {name} train`, or `name: {name}` in a sweep spec)")


@app.command()
def evaluate(
    design: Annotated[str, typer.Option(help="Design as JSON; knobs left out take their default values.")] = "{}",
    env: Annotated[str, typer.Option(help="Problem.")] = "dram",
    backend: Annotated[str, typer.Option(help="Cost model backend.")] = "analytical",
    workload: Annotated[str | None, typer.Option(help="Workload name or trace file.")] = None,
    memspec: Annotated[str | None, typer.Option(help="DRAM memspec preset or JSON file.")] = None,
    proxy: Annotated[Path | None, typer.Option(help="Trained proxy directory, with --backend proxy.")] = None,
    objective: Annotated[str | None, typer.Option(help="Also print this objective's reward.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Evaluate one design and print its metrics."""
    from archgym.objective import make_objective

    try:
        _check_env(env)
        model = _backend(env, backend, memspec, proxy)
        try:
            given = json.loads(design)
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"--design is not valid JSON ({error.msg} at column {error.colno}): {design}") from None
        if not isinstance(given, dict):
            raise ConfigurationError("--design must be a JSON object mapping knob names to values")
        for name in given:
            model.design_space[name]  # names an unknown knob clearly
        defaults = getattr(model, "default_design", dict)()
        full = model.design_space.complete(given, defaults)
        model.prepare(workload)
        result = model.evaluate(full, workload)
        reward = (make_objective(objective, metrics=model.metrics, presets=model.objective_presets)(result)
                  if objective else None)
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
        console.print(f"[yellow]infeasible[/]: {escape(result.reason)}")
    if reward is not None:
        console.print(f"reward ({objective}): {reward:.6g}")


@app.command()
def run(
    env: Annotated[str, typer.Option(help="Problem.")] = "dram",
    workload: Annotated[str | None, typer.Option(help="Workload name or trace file.")] = None,
    agent: Annotated[str, typer.Option(help="Search agent.")] = "random",
    budget: Annotated[int, typer.Option(min=1, help="Evaluations to spend.")] = 200,
    objective: Annotated[str, typer.Option(help="Objective name or spec (see `archgym envs`).")] = "latency",
    target: Annotated[list[str] | None, typer.Option(help="Objective target, e.g. target_latency_ns=60000 (repeatable).")] = None,
    out: Annotated[Path, typer.Option(help="Run directory for the dataset.")] = Path("runs/latest"),
    backend: Annotated[str, typer.Option(help="Cost model backend.")] = "analytical",
    memspec: Annotated[str | None, typer.Option(help="DRAM memspec preset or JSON file.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    agent_config: Annotated[list[str] | None, typer.Option(help="Agent hyperparameter key=value (repeatable).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Designs asked for and evaluated at once.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue the last run in --out instead of starting a new one.")] = False,
    plugin: Annotated[list[str] | None, typer.Option(
        help="Module or .py file to import first, e.g. one that registers your agent (repeatable).")] = None,
    proxy: Annotated[Path | None, typer.Option(help="Trained proxy directory, with --backend proxy.")] = None,
    confirm_top: Annotated[int, typer.Option(
        min=0, help="After the search, re-evaluate its best N distinct designs with --confirm-backend.")] = 0,
    confirm_backend: Annotated[str, typer.Option(
        help="Backend that confirms the best designs (with --confirm-top).")] = "analytical",
) -> None:
    """Search the design space with an agent and log every evaluation.

    With --confirm-top N the best N designs are then re-evaluated with
    --confirm-backend (search on a fast proxy, confirm on a faithful model)
    and logged to the same dataset as a run of their own.
    """
    from archgym.agent import make_agent
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
        _load_plugins(plugin or [])
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
            proxy = Path(last["proxy"]) if last.get("proxy") else proxy
            budget = max(budget, int(last.get("budget", budget)))
            targets = dict(last.get("targets") or {})
            batch_size = int(last.get("batch_size", batch_size))
        else:
            run_id = new_run_id(agent)
            config = _parse_assignments(agent_config or [], "--agent-config")
            targets = _parse_assignments(target or [], "--target")
        model = _backend(env, backend, memspec, proxy)
        workload = workload if workload is not None else model.default_workload
        model.prepare(workload)
        goal = make_objective(objective, metrics=model.metrics, presets=model.objective_presets, **targets)
        confirmer = _confirming_backend(env, confirm_backend, memspec, model, workload, goal) if confirm_top else None
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
                "memspec": memspec, "proxy": str(proxy.resolve()) if proxy is not None else None,
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
    if confirmer is not None:
        _confirm(result, confirm_top, confirmer, goal, workload, out, context)


@app.command()
def optimum(
    env: Annotated[str, typer.Option(help="Problem.")] = "dram",
    workload: Annotated[str | None, typer.Option(help="Workload name or trace file.")] = None,
    objective: Annotated[str, typer.Option(help="Objective name or spec (see `archgym envs`).")] = "time",
    target: Annotated[list[str] | None, typer.Option(help="Objective target, e.g. target_latency_ns=60000 (repeatable).")] = None,
    backend: Annotated[str, typer.Option(help="Cost model backend (it must score batches fast).")] = "analytical",
    memspec: Annotated[str | None, typer.Option(help="DRAM memspec preset or JSON file.")] = None,
    proxy: Annotated[Path | None, typer.Option(help="Trained proxy directory, with --backend proxy.")] = None,
    top: Annotated[int, typer.Option(min=1, help="Also list this many of the best designs.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Find the exact best design by evaluating every design (agents are scored by regret against it)."""
    import numpy as np

    from archgym.objective import make_objective
    from archgym.optimum import find_optimum

    try:
        _check_env(env)
        model = _backend(env, backend, memspec, proxy)
        workload = workload if workload is not None else model.default_workload
        goal = make_objective(objective, metrics=model.metrics, presets=model.objective_presets,
                              **_parse_assignments(target or [], "--target"))
        size = model.design_space.size
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=error_console, transient=True,
        ) as progress:
            task = progress.add_task(f"preparing {workload}", total=size if math.isfinite(size) else None)
            model.prepare(workload)
            progress.update(task, description=f"enumerating {env}/{workload}")
            best = find_optimum(model, goal, workload, callback=lambda done, total: progress.update(task, completed=done))
    except ArchGymError as error:
        raise _fail(error) from None
    order = np.argsort(-np.nan_to_num(best.rewards, nan=-np.inf), kind="stable")[:top]
    indices = model.design_space.all_indices()
    leaders = [model.design_space.decode(indices[i]) for i in order]
    if as_json:
        console.print_json(json.dumps({
            "env": env, "backend": model.name, "workload": str(workload), "objective": goal.describe(),
            "design": best.design, "reward": best.reward, "metrics": best.metrics,
            "designs_evaluated": best.designs_evaluated, "wall_time_s": best.wall_time_s,
            "within_1pct_share": best.share_within(0.01),
            "top": [{"design": d, "reward": float(best.rewards[i])} for d, i in zip(leaders, order)],
        }, default=str))
        return
    table = Table("knob", "value", title=f"best of {best.designs_evaluated:,} designs", title_justify="left")
    for name, value in best.design.items():
        table.add_row(name, str(value))
    console.print(table)
    metrics = Table("metric", "value", "unit", title=f"its metrics ({model.name}, {workload})", title_justify="left")
    for spec in model.metrics:
        metrics.add_row(spec.name, _format(best.metrics.get(spec.name, math.nan)), spec.unit)
    console.print(metrics)
    if top > 1:
        # One column per design keeps the table narrow whatever the number of knobs.
        ranking = Table("", *(f"#{rank}" for rank in range(1, len(order) + 1)), title=f"top {top}", title_justify="left")
        ranking.add_row("reward", *(f"{best.rewards[i]:.6g}" for i in order))
        for name in model.design_space.names:
            ranking.add_row(name, *(str(design[name]) for design in leaders))
        console.print(ranking)
    console.print(
        f"reward ({goal.describe()}): {best.reward:.6g}; {best.share_within(0.01):.2%} of designs are within 1 % "
        f"of it; enumeration took {best.wall_time_s:.1f} s"
    )


def _confirming_backend(env: str, name: str, memspec: str | None, searched: CostModel, workload: Any,
                        objective: Any) -> CostModel:
    """The backend of --confirm-backend, checked against the searched one before the search starts."""
    confirmer = _backend(env, name, memspec)
    try:
        if confirmer.design_space.fingerprint() != searched.design_space.fingerprint():
            raise ConfigurationError(
                f"--confirm-backend {confirmer.name} has a different design space from {searched.name}"
            )
        missing = [m for m in objective.metric_names if m not in confirmer.metric_names]
        if missing:
            raise ConfigurationError(
                f"--confirm-backend {confirmer.name} does not report {', '.join(missing)}, which the objective reads"
            )
        confirmer.prepare(workload)
    except ArchGymError:
        confirmer.close()
        raise
    return confirmer


def _confirm(result: Any, top: int, confirmer: CostModel, goal: Any, workload: Any, out: Path, context: Any) -> None:
    """Re-evaluate the search's best designs with the confirming backend, log them and print a comparison."""
    import dataclasses

    from archgym.dataset import EvaluationLogger, write_run_metadata
    from archgym.search import confirm_best

    confirm_context = dataclasses.replace(context, run_id=f"{context.run_id}-confirm", backend=confirmer.name)
    try:
        write_run_metadata(out, confirm_context, {"confirms": context.run_id, "top": top})
        with EvaluationLogger(out, confirm_context, confirmer.design_space, confirmer.metric_names) as logger:
            confirmations = confirm_best(result.trials, top, confirmer, goal, workload, logger=logger)
    except ArchGymError as error:
        raise _fail(error) from None
    finally:
        confirmer.close()
    table = Table("rank", "searched reward", "confirmed reward", "difference",
                  *[f"{m} (confirmed)" for m in goal.metric_names], title=f"best {len(confirmations)} designs of the search, confirmed on {confirmer.name}",
                  title_justify="left")
    for c in confirmations:
        searched, confirmed = c.searched.reward, c.confirmed.reward
        error = abs(searched - confirmed) / abs(confirmed) if confirmed and math.isfinite(confirmed) else math.nan
        cells = [_format(c.confirmed.evaluation.metrics.get(m, math.nan)) for m in goal.metric_names]
        table.add_row(str(c.rank), f"{searched:.6g}", f"{confirmed:.6g}", _percent(100 * error), *cells)
    console.print(table)
    best = max(confirmations, key=lambda c: -math.inf if math.isnan(c.confirmed.reward) else c.confirmed.reward)
    console.print(
        f"best confirmed: rank {best.rank} of the search, reward {best.confirmed.reward:.6g} on {confirmer.name}; "
        f"logged as run {confirm_context.run_id}"
    )


_REFERENCE_SUFFIXES = (".csv", ".parquet", ".jsonl")


def _percent(value: float, signed: bool = False, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:+.{digits}f} %" if signed else f"{value:.{digits}f} %"


def _correlation(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


@app.command()
def validate(
    against: Annotated[str, typer.Option(
        help="Reference: a backend (e.g. dramsys), a dataset directory or .parquet file written by "
             "`archgym run`, or a .csv of recorded results (one column per knob, a workload or trace "
             "column, metric columns; avg_bw_gbps in Gb/s becomes bandwidth_gbps = avg_bw_gbps / 8).",
    )],
    env: Annotated[str, typer.Option(help="Problem.")] = "dram",
    backend: Annotated[str, typer.Option(help="Cost model to validate.")] = "analytical",
    designs: Annotated[int | None, typer.Option(
        help="Designs to sample from the design space (default 200); with a reference file, a random "
             "subset of its designs (default all).",
    )] = None,
    workload: Annotated[list[str] | None, typer.Option(
        help="Workload name or trace file (repeatable); with a reference file, only its rows of these workloads.",
    )] = None,
    seed: Annotated[int, typer.Option(help="Random seed for sampling designs (same seed, same designs).")] = 0,
    memspec: Annotated[str | None, typer.Option(help="DRAM memspec preset or JSON file.")] = None,
    proxy: Annotated[Path | None, typer.Option(help="Trained proxy directory, with --backend proxy.")] = None,
    against_memspec: Annotated[str | None, typer.Option(
        help="Memspec of the reference backend (default: --memspec).",
    )] = None,
    trace_dir: Annotated[Path | None, typer.Option(
        help="Read each workload name as the trace file DIR/<name>.stl.",
    )] = None,
    metrics: Annotated[str | None, typer.Option(
        help="Comma-separated metrics to compare (default: every metric on both sides).",
    )] = None,
    plot: Annotated[Path | None, typer.Option(
        help="Write a log-log scatter plot (PNG) of predicted vs reference values.",
    )] = None,
    csv: Annotated[Path | None, typer.Option(
        help="Write the paired values (one row per design and workload) as CSV.",
    )] = None,
) -> None:
    """Compare a cost model with a reference backend or recorded results.

    Prints, per workload and overall, each metric's rank agreement (Spearman,
    Kendall tau) and the median and 90th-percentile absolute percentage error
    and bias (median signed error) of --backend relative to --against.
    Infeasible evaluations on either side are excluded and counted.
    """
    import pandas as pd

    from archgym import validate as val

    models: list[CostModel] = []
    try:
        _check_env(env)
        if designs is not None and designs < 2:
            raise ConfigurationError(
                f"--designs must be at least 2 (rank correlations need two designs), got {designs}"
            )
        requested = [m.strip() for m in metrics.split(",") if m.strip()] if metrics is not None else None
        if requested is not None and not requested:
            raise ConfigurationError(
                "--metrics names no metric; give a comma-separated list such as total_time_ns,energy_pj"
            )
        if plot is not None:
            val.require_matplotlib()
        model = _backend(env, backend, memspec, proxy)
        models.append(model)
        reference_path = Path(against)
        from_file = reference_path.exists() or reference_path.suffix.lower() in _REFERENCE_SUFFIXES
        notes: list[str] = []
        if from_file:
            if against_memspec is not None:
                raise ConfigurationError("--against-memspec applies only when --against names a backend, not a file")
            reference = val.load_reference(reference_path, model.design_space, trace_dir)
            if workload:
                recorded = list(pd.unique(reference[val.WORKLOAD_COLUMN]))
                unknown = [w for w in workload if w not in recorded]
                if unknown:
                    raise ConfigurationError(
                        f"--workload {', '.join(map(repr, unknown))} not recorded in {reference_path}; "
                        f"its workloads are {', '.join(recorded)}"
                    )
                reference = reference[reference[val.WORKLOAD_COLUMN].isin(workload)]
            failed = int((~reference["feasible"]).sum())
            if failed:
                notes.append(f"dropped {failed} reference rows recorded as failed")
            reference = reference[reference["feasible"]]
            if reference.empty:
                raise DatasetError(f"{reference_path} has no successful rows to compare with")
            reference = val.select_designs(reference, model.design_space, designs, seed)
            metric_names = val.common_metrics(model, list(reference.columns), requested, str(reference_path))
            workloads = list(pd.unique(reference[val.SOURCE_COLUMN]))
            reference_label = reference_path.name
            n_designs = int(reference.groupby(list(model.design_space.names), sort=False).ngroups)
            total = len(reference)
        else:
            try:
                reference_memspec = against_memspec if against_memspec is not None else memspec
                reference_model = _backend(env, against, reference_memspec)
            except UnknownNameError as error:
                raise UnknownNameError(
                    f"{error}; --against also takes a dataset directory, a .parquet or .jsonl file or a .csv "
                    f"file, and no file or directory {against!r} exists"
                ) from None
            models.append(reference_model)
            metric_names = val.common_metrics(model, reference_model.metric_names, requested, reference_model.name)
            n_designs = designs if designs is not None else 200
            sample = val.sample_designs(model.design_space, n_designs, seed)
            if workload:
                workloads = [val.workload_source(w, trace_dir) for w in workload]
            else:
                workloads = [model.default_workload]
            reference_label = reference_model.name
            if against_memspec is not None:
                reference_label += f" ({against_memspec})"
            total = 2 * n_designs * len(workloads)
    except ArchGymError as error:
        for m in models:
            m.close()
        raise _fail(error) from None

    try:
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TimeRemainingColumn(), console=error_console, transient=True,
        ) as progress:
            task = progress.add_task("preparing workloads", total=total)
            for w in workloads:
                for m in models:
                    m.prepare(w)
            progress.update(task, description=f"evaluating {n_designs} designs")

            def advance(count: int) -> None:
                progress.advance(task, count)

            if from_file:
                pairs = val.validate_against_reference(model, reference, metric_names, progress=advance)
            else:
                pairs = val.validate_backends(model, models[1], sample, workloads, metric_names, progress=advance)
        if requested is None:  # leave out metrics one side never reports (DRAMSys has no latency)
            for m in list(metric_names):
                for side, label in (("predicted", model.name), ("reference", reference_label)):
                    if len(metric_names) > 1 and m in metric_names and pairs[f"{m}_{side}"].isna().all():
                        metric_names.remove(m)
                        notes.append(f"left out {m}: {label} reported no values")
        stats = val.compare_pairs(pairs, metric_names)
        if csv is not None:
            csv.parent.mkdir(parents=True, exist_ok=True)
            pairs.to_csv(csv, index=False)
        if plot is not None:
            units = {m: model.metric(m).unit for m in metric_names}
            val.scatter_plot(pairs, metric_names, plot, model.name, reference_label, units)
    except ArchGymError as error:
        raise _fail(error) from None
    finally:
        for m in models:
            m.close()

    groups = [g for g in pd.unique(stats[val.WORKLOAD_COLUMN]) if g != val.OVERALL]
    console.print(
        f"[bold]{model.name}[/] vs [bold]{reference_label}[/] (reference): {n_designs} designs, "
        f"{len(groups)} workload{'s' if len(groups) != 1 else ''}, {len(pairs)} pairs"
        + (f", seed {seed}" if not from_file or designs is not None else "")
    )
    for group in groups + ([val.OVERALL] if len(groups) > 1 else []):
        title = "all workloads" if group == val.OVERALL else f"workload {group}"
        table = Table(
            title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
            collapse_padding=True,
        )
        table.add_column("metric", no_wrap=True)
        for header in ("n", "excluded", "Spearman", "Kendall", "median\n|err|", "p90\n|err|", "bias"):
            table.add_column(header, justify="right")
        for row in stats[stats[val.WORKLOAD_COLUMN] == group].itertuples(index=False):
            table.add_row(
                row.metric, str(row.n), str(row.excluded), _correlation(row.spearman), _correlation(row.kendall),
                _percent(row.median_ape_pct), _percent(row.p90_ape_pct), _percent(row.bias_pct, signed=True),
            )
        console.print(table)
    for side, label in (("predicted", model.name), ("reference", reference_label)):
        infeasible = ~pairs[f"feasible_{side}"].to_numpy(dtype=bool)
        if infeasible.any():
            reason = next((str(r) for r in pairs.loc[infeasible, f"reason_{side}"] if r), "no reason given")
            reason = reason.strip().splitlines()[0][:200] if reason.strip() else "no reason given"
            notes.append(
                f"{int(infeasible.sum())} evaluations infeasible on {label}, excluded from the statistics "
                f"(e.g. {reason})"
            )
    if csv is not None:
        notes.append(f"paired values: {csv}")
    if plot is not None:
        notes.append(f"plot: {plot}")
    for note in notes:
        console.print(note)


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (YAML), e.g. experiments/smoke_dram.yaml.")],
    executor: Annotated[str, typer.Option(help="Where runs go: local (worker processes) or ray.")] = "local",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, or CPUs of a Ray instance started here.")] = 2,
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (auto or HOST:PORT); default: start Ray on this machine.")] = None,
    out: Annotated[Path | None, typer.Option(help="Dataset directory (default: the spec's out).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the runs without running them.")] = False,
) -> None:
    """Run a sweep: agents x settings x workloads x objectives x seeds, into one dataset.

    Rerunning a sweep skips its completed runs and resumes interrupted ones,
    so the dataset ends with exactly one row per evaluation.
    """
    import statistics
    import time

    from archgym.sweep import load_spec as load_sweep_spec
    from archgym.sweep import run_sweep

    try:
        if address is not None and executor != "ray":
            raise ConfigurationError("--address applies to --executor ray")
        with error_console.status("checking the spec"):
            parsed = load_sweep_spec(spec, out)
        runs = parsed.runs()
    except ArchGymError as error:
        raise _fail(error) from None
    settings = {(r.agent, r.setting) for r in runs}
    console.print(
        f"sweep [bold]{parsed.name}[/]: {len(runs)} runs ({len(settings)} agent settings x "
        f"{len(parsed.envs) * len(parsed.workloads)} workloads x {len(parsed.objectives)} objectives x "
        f"{len(parsed.seeds)} seeds), {parsed.budget} evaluations each, into {parsed.out}"
    )
    if dry_run:
        table = Table("run id", "agent", "setting", "workload", "objective", "seed", title="runs", title_justify="left")
        for r in runs:
            table.add_row(r.run_id, r.agent, r.setting, r.workload, r.objective.name, str(r.seed))
        console.print(table)
        return
    start = time.perf_counter()
    evaluations = 0
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=error_console,
    ) as progress:
        task = progress.add_task("runs", total=len(runs), rate="")

        def advance(result: Any) -> None:
            nonlocal evaluations
            if not result.skipped:
                evaluations += result.evaluations
            rate = evaluations / max(time.perf_counter() - start, 1e-9)
            progress.update(task, advance=1, rate=f"{rate:,.0f} evaluations/s")

        try:
            results = run_sweep(parsed, executor=executor, workers=workers, address=address, on_result=advance)
        except ArchGymError as error:
            raise _fail(error) from None
    skipped = sum(r.skipped for r in results)
    table = Table("agent", "setting", "runs", "median best reward", title="best reward per setting (median over runs)",
                  title_justify="left")
    for agent, setting in sorted(settings):
        rewards = [r.best_reward for r in results if (r.agent, r.setting) == (agent, setting)]
        table.add_row(agent, setting, str(len(rewards)), f"{statistics.median(rewards):.6g}")
    console.print(table)
    console.print(
        f"{len(results) - skipped} runs done, {skipped} already complete, in {time.perf_counter() - start:.1f} s; "
        f"dataset: {parsed.out}; tables and plots: archgym report {parsed.out}"
    )


@app.command()
def report(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory of a sweep (its out) or of any runs.")],
    out: Annotated[Path | None, typer.Option(help="Directory for the tables and plots (default: DATASET/report).")]
    = None,
    tolerance: Annotated[float, typer.Option(
        min=0.0, max=0.99,
        help="A run without a success_reward succeeds within this relative regret of the reference.")] = 0.01,
    optimum: Annotated[bool, typer.Option(
        "--optimum", help="Measure regret against each problem's exact optimum (enumerates the design space) "
                          "instead of the best reward any run found.")] = False,
    pareto: Annotated[str | None, typer.Option(
        help="Two metrics for the Pareto fronts, X,Y (append :max to maximise one); default: the cost model's "
             "choice.")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Draw the PNGs (needs matplotlib).")] = True,
) -> None:
    """Summarise a sweep: per-setting tables, the hyperparameter lottery, convergence curves, Pareto fronts."""
    from archgym.report import write_report

    target = out if out is not None else dataset / "report"
    pair: tuple[str, str] | None = None
    maximise: list[str] = []
    try:
        if pareto is not None:
            names = [item.strip() for item in pareto.split(",") if item.strip()]
            if len(names) != 2:
                raise ConfigurationError(f"--pareto takes two metrics, X,Y; got {pareto!r}")
            parsed = []
            for name in names:
                metric, _, goal = name.partition(":")
                if goal not in ("", "min", "max"):
                    raise ConfigurationError(f"--pareto metric {name!r}: the goal after ':' is min or max")
                if goal == "max":
                    maximise.append(metric)
                parsed.append(metric)
            pair = (parsed[0], parsed[1])
        with error_console.status("reading the dataset") as status:
            result = write_report(dataset, target, tolerance=tolerance, optimum=optimum, pareto=pair,
                                  maximise=maximise, plots=plots, progress=lambda text: status.update(text))
    except ArchGymError as error:
        raise _fail(error) from None
    table = Table("agent", "settings", Column("best setting", overflow="fold"), "success\nbest", "success\nmedian", "success\nworst",
                  title="hyperparameter lottery: success rate over problems and seeds, per setting",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for row in result.agents.itertuples(index=False):
        table.add_row(row.agent, str(row.settings), row.best_setting, f"{row.best_success_rate:.0%}",
                      f"{row.median_success_rate:.0%}", f"{row.worst_success_rate:.0%}")
    console.print(table)
    for line in result.headlines:
        console.print(f"- {escape(line)}")
    for note in result.notes:
        error_console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(f"wrote {len(result.files)} files to {target}: {', '.join(p.name for p in result.files)}")


marl_app = typer.Typer(help="Multi-agent reinforcement learning: one agent per knob, trained with Ray RLlib.",
                       no_args_is_help=True)
app.add_typer(marl_app, name="marl")


@marl_app.command("train")
def marl_train(
    env: Annotated[str, typer.Option(help="Problem.")] = "dram",
    workload: Annotated[str | None, typer.Option(help="Workload name or trace file.")] = None,
    objective: Annotated[str, typer.Option(help="Objective name or spec.")] = "latency",
    target: Annotated[list[str] | None, typer.Option(
        help="Objective target, e.g. target_power_mw=1000 (repeatable).")] = None,
    iterations: Annotated[int | None, typer.Option(
        min=1, help="Training iterations of train_batch_size designs each.")] = None,
    budget: Annotated[int | None, typer.Option(
        min=1, help="Evaluations to spend instead of --iterations (default 640).")] = None,
    backend: Annotated[str, typer.Option(help="Cost model backend.")] = "analytical",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same result).")] = 0,
    agent_config: Annotated[list[str] | None, typer.Option(
        help="Setting key=value (repeatable), e.g. shared_policy=true, train_batch_size=128.")] = None,
    out: Annotated[Path, typer.Option(help="Dataset directory for the evaluations.")] = Path("runs/marl"),
    checkpoint: Annotated[Path | None, typer.Option(help="Save the trained policies in this directory.")] = None,
) -> None:
    """Train multi-agent PPO (one policy per knob, or one shared) and print the best design found."""
    from archgym.dataset import RunContext, new_run_id, write_run_metadata

    try:
        _check_env(env)
        if iterations is not None and budget is not None:
            raise ConfigurationError("give --iterations or --budget, not both")
        settings = _parse_assignments(agent_config or [], "--agent-config")
        targets = _parse_assignments(target or [], "--target")
        from archgym.agent import get_trainer

        trainer = get_trainer("marl")
        trainer.check_settings(settings)
    except ArchGymError as error:
        raise _fail(error) from None
    if iterations is None and budget is None:
        budget = 640
    run_id = new_run_id("marl")
    with Progress(TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("mean reward {task.fields[reward]}"), TimeElapsedColumn(), console=error_console) as bar:
        task = bar.add_task("iterations", total=iterations, reward="-")

        def advance(done: int, total: int, reward: float) -> None:
            bar.update(task, completed=done, total=total, reward=f"{reward:.4g}")

        try:
            result = trainer.train(env, backend=backend, workload=workload, objective=objective, targets=targets,
                                budget=budget, iterations=iterations, seed=seed, settings=settings, out=out,
                                run_id=run_id, checkpoint_dir=checkpoint, progress=advance)
        except ArchGymError as error:
            raise _fail(error) from None
    write_run_metadata(out, RunContext(run_id=run_id, env=env, backend=backend, workload=str(workload or ""),
                                       agent="marl", agent_config=settings, seed=seed, objective=objective),
                       {"status": "complete", "evaluations": result.evaluations, "iterations": result.iterations,
                        "history": result.history, "wall_time_s": result.wall_time_s})
    table = Table("knob", "value", title=f"best design (reward {result.best_reward:.6g})", title_justify="left",
                  box=box.SIMPLE)
    for knob, value in result.best_design.items():
        table.add_row(knob, _format(value))
    console.print(table)
    console.print(f"{result.evaluations} evaluations in {result.iterations} iterations, {result.wall_time_s:.1f} s; "
                  f"dataset: {out} (run {run_id})" + (f"; checkpoint: {result.checkpoint}" if result.checkpoint else ""))


proxy_app = typer.Typer(
    help="Train, evaluate and inspect proxy cost models learned from logged evaluations.",
    no_args_is_help=True,
)
app.add_typer(proxy_app, name="proxy")


def _mount_problem_clis() -> None:
    """Add each registered problem's own commands as ``archgym <problem> ...``."""
    import importlib

    for name, target in problem_clis().items():
        module, attr = target.split(":")
        app.add_typer(getattr(importlib.import_module(module), attr), name=name)


_mount_problem_clis()


def _metrics_table(metrics: Any, title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)
    for header in ("target", "workload", "n", "RMSE", "NRMSE", "MAPE", "median\nAPE", "p90\nAPE", "R²", "Spearman"):
        table.add_column(header, justify="left" if header in ("target", "workload") else "right",
                         no_wrap=header == "target")
    for row in metrics.itertuples(index=False):
        table.add_row(
            row.target, row.workload, str(row.n), f"{row.rmse:.3g}", _percent(row.nrmse_pct, digits=2),
            _percent(row.mape_pct, digits=2), _percent(row.mdape_pct, digits=2), _percent(row.p90_ape_pct, digits=2),
            _correlation(row.r2), _correlation(row.spearman),
        )
    return table


@proxy_app.command("train")
def proxy_train(
    data: Annotated[list[Path], typer.Option(
        help="Training rows: a dataset directory or .parquet file written by `archgym run`, or a .csv with one "
             "column per knob, a workload (or trace) column and metric columns (repeatable).")],
    out: Annotated[Path, typer.Option(help="Directory to save the proxy in.")],
    env: Annotated[str, typer.Option(help="Problem the rows belong to.")] = "dram",
    targets: Annotated[str | None, typer.Option(
        help="Comma-separated metric columns to learn (default: every metric of the problem in the data).")] = None,
    model: Annotated[str, typer.Option(help="Regressor: et, rf, gbm, hgb, mlp or xgboost.")] = "et",
    base: Annotated[str | None, typer.Option(
        help="Learn the correction of this backend (e.g. analytical), whose metrics become features.")] = None,
    memspec: Annotated[str | None, typer.Option(help="DRAM memspec preset or JSON file of the base backend.")] = None,
    test_fraction: Annotated[float, typer.Option(
        min=0.0, max=0.95, help="Share of the designs held out to measure accuracy.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the split and the regressor.")] = 0,
    search: Annotated[int, typer.Option(
        min=0, help="Tune the regressor with a randomised search of this many settings (0: defaults).")] = 0,
    jobs: Annotated[int, typer.Option(min=1, help="Parallel jobs for tree ensembles and the search.")] = 1,
    workload: Annotated[str | None, typer.Option(help="Workload of rows from files without a workload column.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a predicted-vs-true PNG of the held-out designs.")] = None,
) -> None:
    """Train a proxy cost model on logged evaluations and save it.

    Rows are split by design (a design measured on several workloads stays on
    one side) and the held-out designs' accuracy is printed and saved with the
    proxy. Use it with `--backend proxy --proxy DIR`.
    """
    from archgym import proxy as proxies

    trained = None
    try:
        _check_env(env)
        if plot is not None:
            from archgym.plots import require_matplotlib

            require_matplotlib()
            if test_fraction == 0:
                raise ConfigurationError("--plot shows the held-out designs; it needs --test-fraction > 0")
        names = [t.strip() for t in targets.split(",") if t.strip()] if targets is not None else None
        with error_console.status("training") as status:
            trained = proxies.train_proxy(
                data, env=env, targets=names, model=model, base=base,
                base_options={"memspec": memspec} if memspec is not None else None,
                test_fraction=test_fraction, seed=seed, search_iterations=search, n_jobs=jobs, workload=workload,
                progress=lambda message: status.update(message),
            )
        trained.save(out)
        if plot is not None:
            proxies.plot_predictions(trained.held_out, trained.target_names, plot)
    except ArchGymError as error:
        raise _fail(error) from None
    finally:
        if trained is not None:
            trained.close()
    import pandas as pd

    training = trained.info["training"]
    console.print(
        f"trained {model} on {training['train_rows']} rows ({training['train_designs']} designs, workloads "
        f"{', '.join(trained.workloads)}) in {trained.info['fit_seconds']:.1f} s"
        + (f"; correcting {trained.base['backend']}" if trained.base else "")
    )
    if trained.info["test_metrics"]:
        metrics = pd.DataFrame(trained.info["test_metrics"])
        console.print(_metrics_table(metrics, f"held-out designs ({trained.info['test_rows']} rows)"))
    console.print(f"saved to {out}" + (f"; plot: {plot}" if plot is not None else ""))


@proxy_app.command("eval")
def proxy_eval(
    model: Annotated[Path, typer.Option(help="Trained proxy directory.")],
    data: Annotated[list[Path], typer.Option(
        help="Rows to score the proxy on: a dataset directory, .parquet or .csv file (repeatable).")],
    workload: Annotated[str | None, typer.Option(help="Workload of rows from files without a workload column.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a predicted-vs-true PNG.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the rows with their predictions as CSV.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
) -> None:
    """Score a proxy on recorded results: RMSE, NRMSE, MAPE, R² and Spearman per target and workload."""
    from archgym import proxy as proxies

    try:
        if plot is not None:
            from archgym.plots import require_matplotlib

            require_matplotlib()
        loaded = proxies.Proxy.load(model)
        try:
            rows = proxies.load_training_data(data, loaded.design_space, workload)
            missing = [t for t in loaded.target_names if t not in rows.columns]
            if missing:
                raise DatasetError(f"the data has no column for target(s) {', '.join(missing)} of the proxy")
            unknown = sorted(set(rows["workload"].astype(str)) - set(loaded.workloads))
            if unknown:
                raise ConfigurationError(
                    f"the data has rows of workload(s) {', '.join(unknown)}, which the proxy was not trained on "
                    f"(it knows {', '.join(loaded.workloads)})"
                )
            scored = loaded.predict_frame(rows)
        finally:
            loaded.close()
        metrics = proxies.prediction_metrics(scored, loaded.target_names)
        if plot is not None:
            proxies.plot_predictions(scored, loaded.target_names, plot)
        if csv is not None:
            csv.parent.mkdir(parents=True, exist_ok=True)
            scored.to_csv(csv, index=False)
    except ArchGymError as error:
        raise _fail(error) from None
    if as_json:
        console.print_json(json.dumps(metrics.to_dict(orient="records"), default=float))
        return
    console.print(_metrics_table(metrics, f"{model} on {len(scored)} rows"))
    for label, path in (("plot", plot), ("predictions", csv)):
        if path is not None:
            console.print(f"{label}: {path}")


@proxy_app.command("info")
def proxy_info(
    model: Annotated[Path, typer.Option(help="Trained proxy directory.")],
) -> None:
    """Describe a saved proxy: problem, targets, features, training data, accuracy, versions."""
    import pandas as pd

    from archgym.proxy import Proxy

    try:
        loaded = Proxy.load(model)
    except ArchGymError as error:
        raise _fail(error) from None
    info = loaded.info
    training = info.get("training", {})
    console.print(f"[bold]{model}[/]: {loaded.model_kind} proxy for {loaded.env} ({loaded.design_space.name} space, "
                  f"fingerprint {loaded.design_space.fingerprint()})")
    console.print("targets: " + ", ".join(f"{t.name} ({t.transform})" for t in loaded.targets))
    console.print(f"base backend: {loaded.base['backend'] if loaded.base else 'none'}")
    console.print(f"features: {len(loaded.encoding.feature_names)}; workloads: {', '.join(loaded.workloads)}")
    if training:
        console.print(f"trained on {training.get('train_rows')} of {training.get('rows')} rows from "
                      f"{training.get('source')} ({info.get('created', '?')})")
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()))
    if info.get("test_metrics"):
        console.print(_metrics_table(pd.DataFrame(info["test_metrics"]), "held-out accuracy"))


if __name__ == "__main__":
    app()
