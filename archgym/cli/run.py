"""``archgym run``, ``sweep``, ``report`` and ``marl``: search design spaces and summarise the searches."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Column, Table

from archgym.agent import MAX_SEED
from archgym.cli.common import (
    BackendOption,
    BackendOptionsOption,
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
    check_output_dir,
    check_problem,
    console,
    error_console,
    fail,
    format_value,
    load_plugins,
    parse_assignments,
    percent,
    shared_options,
    trusted,
)
from archgym.cli.evaluate import ObjectiveOption, default_objective
from archgym.cli.live_progress import live_progress
from archgym.cost_model import CostModel, backend_info
from archgym.errors import ArchGymError, ConfigurationError
from archgym.multifidelity import MultiFidelitySpec, screen_options
from archgym.problem import DEFAULT_PROBLEM
from archgym.runner import MAX_BUDGET

DEFAULT_BUDGET = 200
"""Evaluations of a new ``archgym run`` when --budget is not given."""

DEFAULT_SCREEN_BUDGET = 2000
"""Designs a multi-fidelity ``archgym run`` (--sim-budget) screens at most when --budget is not given."""

DRY_RUN_LISTED = 50
"""Runs ``archgym sweep --dry-run`` lists; it counts the rest."""

DEFAULT_MARL_BUDGET = 640
"""Evaluations of ``archgym marl train`` when neither --budget nor --iterations is given."""

app = typer.Typer()
marl_app = typer.Typer(help="Multi-agent reinforcement learning: one agent per knob, trained with Ray RLlib.",
                       no_args_is_help=True)
app.add_typer(marl_app, name="marl")


@app.command()
def run(
    problem: ProblemOption = DEFAULT_PROBLEM,
    workload: WorkloadOption = None,
    agent: Annotated[str, typer.Option(help="Search agent.")] = "random",
    budget: Annotated[int | None, typer.Option(
        min=1, help=f"Evaluations to spend [default: {DEFAULT_BUDGET}; with --resume, the run's own]; at most "
                    f"{MAX_BUDGET:,} without --allow-large-budget.")] = None,
    allow_large_budget: Annotated[bool, typer.Option(
        "--allow-large-budget", help=f"Accept a --budget above {MAX_BUDGET:,} evaluations (a run keeps every "
                                     "evaluation in memory).")] = False,
    objective: ObjectiveOption = None,
    target: TargetOption = None,
    out: Annotated[Path, typer.Option(help="Run directory for the dataset.")] = Path("runs/latest"),
    backend: BackendOption = "analytical",
    backend_option: BackendOptionsOption = None,
    memspec: MemspecOption = None,
    seed: Annotated[int, typer.Option(
        min=0, max=MAX_SEED, help="Random seed, 0 to 2**63-1 (same seed, same result).")] = 0,
    agent_config: Annotated[list[str] | None, typer.Option(help="Agent hyperparameter key=value (repeatable).")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Designs asked for and evaluated at once.")] = 1,
    resume: Annotated[bool, typer.Option(help="Continue the last run in --out instead of starting a new one.")] = False,
    resume_run_id: Annotated[str | None, typer.Option(
        "--run-id", help="With --resume, the run to continue (see `archgym runs DIR`) instead of the newest "
                         "unfinished one.")] = None,
    plugin: PluginOption = None,
    proxy: ProxyOption = None,
    sim_timeout: SimTimeoutOption = None,
    trust: TrustOption = False,
    confirm_top: Annotated[int, typer.Option(
        min=0, help="After the search, re-evaluate its best N distinct designs with --confirm-backend.")] = 0,
    confirm_backend: Annotated[str, typer.Option(
        help="Backend that confirms the best designs (with --confirm-top); it takes the backend options "
             "it has.")] = "analytical",
    sim_budget: Annotated[str | None, typer.Option(
        help="Multi-fidelity search: simulator time to spend on --backend (e.g. 120s, 2m, 1h); the agent screens "
             "on --screen, the most promising designs are confirmed on --backend, and --budget counts screened "
             "designs.")] = None,
    screen: Annotated[str, typer.Option(
        help="With --sim-budget, the cheap backend designs are screened on.")] = "analytical",
    confirm_policy: Annotated[str, typer.Option(
        help="With --sim-budget, which screened designs to confirm: ei (expected improvement under the learned "
             "residual's uncertainty) or top-k.")] = "ei",
    policy_option: Annotated[list[str] | None, typer.Option(
        help="With --sim-budget, a setting of the policy key=value (repeatable), e.g. k=2.")] = None,
    screen_per_round: Annotated[int, typer.Option(
        min=1, max=100_000, help="With --sim-budget, designs screened between two rounds of confirmations.")] = 32,
) -> None:
    """Search the design space with an agent and log every evaluation.

    With --resume, the newest unfinished run in --out (or the run --run-id
    names) continues where it stopped (else the newest run, which --budget
    can extend), with the settings it was started with. With --confirm-top N the best N designs are
    then re-evaluated with --confirm-backend (search on a fast proxy, confirm
    on a faithful model) and logged to the same dataset as a run of their own.
    With --sim-budget the search is multi-fidelity: it screens on --screen and
    confirms on --backend until the simulator time is spent; every row says
    its fidelity and cost.
    """
    import dataclasses

    from archgym.cli.runs import resume_record
    from archgym.dataset import RunContext, new_run_id
    from archgym.objective import make_objective
    from archgym.runner import ObjectiveSpec, RunSpec, check_budget, execute, latest_record, load_run_plugins

    try:
        check_output_dir(out, "--out")
        if budget is not None:
            check_budget(budget, allow_large=allow_large_budget, what="--budget", override="--allow-large-budget")
        loaded = load_plugins(plugin)
        if resume and trust:
            raise ConfigurationError("--trust does not apply to --resume, whose proxy a run record names; convert "
                                     "the proxy with `archgym proxy convert DIR --trust` and resume without --trust")
        if resume_run_id is not None and not resume:
            raise ConfigurationError("--run-id applies to --resume; a new run gets an id of its own")
        if sim_budget is None and (screen != "analytical" or confirm_policy != "ei" or policy_option
                                   or screen_per_round != 32):
            raise ConfigurationError("--screen, --confirm-policy, --policy-option and --screen-per-round apply to "
                                     "a multi-fidelity search: give --sim-budget too")
        if sim_budget is not None and (resume or confirm_top):
            raise ConfigurationError("--sim-budget starts a new multi-fidelity search, which can be neither "
                                     "resumed nor followed by --confirm-top (it confirms as it goes)")
        if resume:
            record = latest_record(out) if resume_run_id is None else resume_record(out, resume_run_id)
            spec, run_id = record.spec, record.run_id
            # The run's own plug-ins first, then any given now that it did not have.
            load_run_plugins(spec, run_id)
            spec = dataclasses.replace(spec, plugins=tuple(dict.fromkeys((*spec.plugins, *loaded))))
            if budget is not None:
                spec = dataclasses.replace(spec, budget=budget)
            if sim_timeout is not None:
                spec = dataclasses.replace(spec, backend_options={**spec.backend_options, "timeout_s": sim_timeout})
        else:
            check_problem(problem)
            options = backend_options(backend_option, memspec=memspec, proxy=proxy, timeout_s=sim_timeout)
            fidelity = None if sim_budget is None else MultiFidelitySpec(
                screen=screen, sim_budget_s=sim_budget, policy=confirm_policy,  # type: ignore[arg-type]
                policy_options=parse_assignments(policy_option or [], "--policy-option", "k=2"),
                screen_per_round=screen_per_round)
            if fidelity is not None and budget is None:
                budget = DEFAULT_SCREEN_BUDGET
            spec = RunSpec(
                problem=problem, backend=backend, workload=workload,
                objective=ObjectiveSpec(default_objective(problem, objective),
                                        parse_assignments(target or [], "--target", "target_latency_ns=60000")),
                agent=agent, budget=DEFAULT_BUDGET if budget is None else budget, seed=seed,
                config=parse_assignments(agent_config or [], "--agent-config"), backend_options=options,
                batch_size=batch_size, plugins=loaded, multifidelity=fidelity,
            )
            run_id = new_run_id(agent)
        if spec.multifidelity is not None:
            _run_multifidelity(spec, out, run_id)
            return
        # Trust is the caller's decision each time, never part of the recorded spec.
        model = build_backend(spec.problem, spec.backend, trusted(spec.backend_options, trust))
        workload = spec.workload if spec.workload is not None else model.default_workload
        model.prepare(workload)
        goal = make_objective(spec.objective.name, metrics=model.metrics, presets=model.objective_presets,
                              problem=spec.problem, **dict(spec.objective.targets))
        confirmer = (_confirming_backend(spec.problem, confirm_backend, dict(spec.backend_options), model, workload,
                                         goal) if confirm_top else None)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None

    with live_progress(f"{spec.agent} on {spec.problem}/{workload}", spec.budget, "evaluations") as show:

        def update(state: Any) -> None:
            show(state.evaluations, "" if math.isnan(state.best_reward) else f"best reward {state.best_reward:.4g}")

        try:
            outcome = execute(spec, out, run_id=run_id, callback=update, model=model)
        except (ArchGymError, OSError) as error:
            if confirmer is not None:
                confirmer.close()
            raise fail(error) from None
        finally:
            model.close()
    result = outcome.details
    if outcome.skipped or result is None:
        console.print(f"run {run_id} in {out} is complete ({outcome.evaluations} evaluations, best reward "
                      f"{outcome.best_reward:.6g}); give a larger --budget to extend it")
        return
    if result.best is None:
        console.print("no evaluations were run")
        return
    best = result.best
    table = Table("knob", "value", title=f"best design after {result.evaluations} evaluations", title_justify="left")
    for name, value in best.design.items():
        table.add_row(name, str(value))
    console.print(table)
    metrics = Table("metric", "value", "unit", title=f"its metrics ({model.name}, {workload})", title_justify="left")
    for metric in model.metrics:
        metrics.add_row(metric.name, format_value(best.evaluation.metrics.get(metric.name, math.nan)), metric.unit)
    console.print(metrics)
    resumed = f", resumed after {outcome.resumed_from} evaluations" if resume else ""
    console.print(
        f"reward ({goal.describe()}): {best.reward:.6g} at evaluation {best.step}\n"
        f"dataset: {out} (run {run_id}{resumed}); load it with archgym.dataset.load_dataset('{out}')"
    )
    if confirmer is not None:
        context = RunContext(run_id=run_id, env=spec.problem, backend=model.name, workload=str(workload),
                             agent=spec.agent, agent_config=dict(spec.config), seed=spec.seed,
                             objective=spec.objective.name, objective_spec=goal.to_dict(),
                             backend_options=dict(spec.backend_options))
        _confirm(result, confirm_top, confirmer, goal, workload, out, context)


def _run_multifidelity(spec: Any, out: Path, run_id: str) -> None:
    """Run a multi-fidelity search and print its best confirmed design and what each fidelity cost."""
    from archgym.runner import execute

    fidelity = spec.multifidelity
    # A missing simulator is said at once, before any progress is shown.
    try:
        backend_info(spec.backend, spec.problem).check_available(**spec.backend_options)
        backend_info(fidelity.screen, spec.problem).check_available(
            **screen_options(spec.problem, fidelity.screen, spec.backend_options))
    except ArchGymError as error:
        raise fail(error) from None
    with live_progress(f"{spec.agent} on {spec.problem}/{spec.workload or 'default'}, screening on "
                       f"{fidelity.screen}", math.ceil(fidelity.sim_budget_s), "simulator seconds", rate=False) as show:

        def update(state: Any) -> None:
            best = "" if math.isnan(state.best_reward) else f", best confirmed reward {state.best_reward:.4g}"
            show(min(math.floor(state.sim_time_s), math.ceil(state.sim_budget_s)),
                 f"{state.screened} screened, {state.confirmed} confirmed{best}")

        try:
            outcome = execute(spec, out, run_id=run_id, callback=update)
        except (ArchGymError, OSError) as error:
            raise fail(error) from None
    result = outcome.details
    if result.best is None:
        console.print(f"no design was confirmed ({len(result.screened)} screened); give a larger --sim-budget")
        return
    best = result.best
    table = Table("knob", "value", title=f"best confirmed design ({len(result.confirmed)} confirmed of "
                                         f"{len(result.screened)} screened)", title_justify="left")
    for name, value in best.design.items():
        table.add_row(name, str(value))
    console.print(table)
    metrics = Table("metric", "value", title=f"its metrics ({spec.backend})", title_justify="left")
    for name, value in best.evaluation.metrics.items():
        metrics.add_row(name, format_value(value))
    console.print(metrics)
    console.print(
        f"reward: {best.reward:.6g}, confirmed at row {best.step}; simulator time {result.sim_time_s:.3g} s of "
        f"{fidelity.sim_budget_s:.3g} s, run time {result.wall_time_s:.3g} s\n"
        f"dataset: {out} (run {run_id}; column fidelity says screen or confirm)"
    )


def _confirming_backend(problem: str, name: str, options: dict[str, Any], searched: CostModel, workload: Any,
                        objective: Any) -> CostModel:
    """The backend of --confirm-backend, checked against the searched one before the search starts."""
    confirmer = build_backend(problem, name, shared_options(problem, name, options))
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

    # The confirming backend inherits the search's options it takes, as _confirming_backend built it.
    confirm_options = shared_options(context.env, confirmer.name, dict(context.backend_options))
    confirm_context = dataclasses.replace(context, run_id=f"{context.run_id}-confirm", backend=confirmer.name,
                                          backend_options=confirm_options)
    try:
        write_run_metadata(out, confirm_context, {"confirms": context.run_id, "top": top})
        with EvaluationLogger(out, confirm_context, confirmer.design_space, confirmer.metric_names) as logger:
            confirmations = confirm_best(result.trials, top, confirmer, goal, workload, logger=logger)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    finally:
        confirmer.close()
    table = Table("rank", "searched reward", "confirmed reward", "difference",
                  *[f"{m} (confirmed)" for m in goal.metric_names], title=f"best {len(confirmations)} designs of the search, confirmed on {confirmer.name}",
                  title_justify="left")
    for c in confirmations:
        searched, confirmed = c.searched.reward, c.confirmed.reward
        gap = abs(searched - confirmed) / abs(confirmed) if confirmed and math.isfinite(confirmed) else math.nan
        cells = [format_value(c.confirmed.evaluation.metrics.get(m, math.nan)) for m in goal.metric_names]
        table.add_row(str(c.rank), f"{searched:.6g}", f"{confirmed:.6g}", percent(100 * gap), *cells)
    console.print(table)
    best = max(confirmations, key=lambda c: -math.inf if math.isnan(c.confirmed.reward) else c.confirmed.reward)
    console.print(
        f"best confirmed: rank {best.rank} of the search, reward {best.confirmed.reward:.6g} on {confirmer.name}; "
        f"logged as run {confirm_context.run_id}"
    )


@app.command()
def sweep(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (YAML), e.g. experiments/smoke_dram.yaml.")],
    executor: Annotated[str, typer.Option(help="Where runs go: local (worker processes) or ray.")] = "local",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, or CPUs of a Ray instance started here.")] = 2,
    address: Annotated[str | None, typer.Option(
        help="Ray cluster address (auto or HOST:PORT); default: start Ray on this machine.")] = None,
    out: Annotated[Path | None, typer.Option(help="Dataset directory (default: the spec's out).")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help=f"Count the runs and list the first {DRY_RUN_LISTED} without running them.")] = False,
    yes: Annotated[bool, typer.Option(
        "--yes", help="Run a sweep of more than archgym.sweep.MAX_RUNS (10,000) runs.")] = False,
    plugin: PluginOption = None,
    sim_timeout: SimTimeoutOption = None,
) -> None:
    """Run a sweep: agents x settings x workloads x objectives x seeds, into one dataset.

    Rerunning a sweep skips its completed runs and resumes interrupted ones,
    so the dataset ends with exactly one row per evaluation. One sweep at a
    time writes to a dataset directory.
    """
    import itertools
    import shlex
    import statistics
    import time

    from archgym.sweep import MAX_RUNS, run_sweep
    from archgym.sweep import load_spec as load_sweep_spec

    try:
        if address is not None and executor != "ray":
            raise ConfigurationError("--address applies to --executor ray")
        if out is not None:
            check_output_dir(out, "--out")
        with error_console.status("checking the spec"):
            # A dry run only counts and lists, so it shows a large sweep too.
            parsed = load_sweep_spec(spec, out, plugins=plugin or [],
                                     backend_options=None if sim_timeout is None else {"timeout_s": sim_timeout},
                                     allow_large=yes or dry_run)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    count = parsed.run_count
    console.print(
        f"sweep [bold]{parsed.name}[/]: {count:,} runs ({sum(a.setting_count for a in parsed.agents):,} agent "
        f"settings x {len(parsed.envs) * len(parsed.workloads)} workloads x {len(parsed.objectives)} objectives x "
        f"{len(parsed.seeds):,} seeds), {parsed.budget} evaluations each, into {parsed.out}"
    )
    if dry_run:
        table = Table("run id", "agent", "setting", "workload", "objective", "seed", title="runs", title_justify="left")
        for r in itertools.islice(parsed.iter_runs(), DRY_RUN_LISTED):
            table.add_row(r.run_id, r.agent, r.setting, r.workload, r.objective.name, str(r.seed))
        console.print(table)
        if count > DRY_RUN_LISTED:
            console.print(f"... and {count - DRY_RUN_LISTED:,} more")
        if count > MAX_RUNS:
            # The estimate visits every run (to skip completed ones), which a sweep this large makes slow.
            console.print(f"no time estimate for more than {MAX_RUNS:,} runs"
                          + ("" if yes else f"; running more than {MAX_RUNS:,} runs needs --yes"))
        else:
            _print_sweep_estimate(parsed, workers)
        return
    start = time.perf_counter()
    evaluations = 0
    with live_progress(f"sweep {parsed.name}", count, "runs", rate=False) as show:
        done = 0

        def advance(result: Any) -> None:
            nonlocal done, evaluations
            done += 1
            if not result.skipped:
                evaluations += result.evaluations
            rate = evaluations / max(time.perf_counter() - start, 1e-9)
            show(done, f"{evaluations:,} evaluations, {rate:,.0f} evaluations/s")

        try:
            results = run_sweep(parsed, executor=executor, workers=workers, address=address, on_result=advance)
        except (ArchGymError, OSError) as error:
            failure: ArchGymError | OSError | None = error
        else:
            failure = None
    if failure is not None:  # after the progress display's last line, so the error is the last word
        raise fail(failure) from None
    skipped = sum(r.skipped for r in results)
    settings = {(r.agent, r.setting) for r in results}
    table = Table("agent", "setting", "runs", "median best reward", title="best reward per setting (median over runs)",
                  title_justify="left")
    for agent, setting in sorted(settings):
        rewards = [r.best_reward for r in results if (r.agent, r.setting) == (agent, setting)]
        table.add_row(agent, setting, str(len(rewards)), f"{statistics.median(rewards):.6g}")
    console.print(table)
    # The report needs the sweep's plug-ins to know its problems and backends.
    report_command = shlex.join(["archgym", "report", str(parsed.out),
                                 *(arg for name in parsed.plugins for arg in ("--plugin", name))])
    console.print(
        f"{len(results) - skipped} runs done, {skipped} already complete, in {time.perf_counter() - start:.1f} s; "
        f"dataset: {parsed.out}; tables and plots: {escape(report_command)}"
    )


def _print_sweep_estimate(parsed: Any, workers: int) -> None:
    """Time the sweep's cost models and print the estimate of the sweep's time with its basis."""
    from archgym.estimate import OVERHEAD_EVALUATIONS, estimate_sweep, format_duration

    try:
        estimate = estimate_sweep(parsed.iter_runs(), workers, parsed.out)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    basis = Table(Column("backend", no_wrap=True), Column("workload", overflow="fold", min_width=8),
                  *(Column(header, no_wrap=True) for header in ("batch", "prepare", "per eval", "timed", "runs",
                                                               "to do")),
                  box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  title="estimate basis: the default design timed on each workload, evaluations to do",
                  title_justify="left")
    for t in estimate.timings:
        basis.add_row(t.backend, t.workload, str(t.batch_size), format_duration(t.preparation_s),
                      format_duration(t.evaluation_s), str(t.timed), f"{t.runs:,}", f"{t.evaluations:,}")
    console.print(basis)
    workers_used = estimate.parallel_workers
    overhead = (f" + {format_duration(estimate.overhead_s)} per evaluation besides the cost model (a logged random "
                f"run of {OVERHEAD_EVALUATIONS} evaluations)") if estimate.overhead_s else ""
    console.print(
        f"estimate: {estimate.remaining:,} of {estimate.evaluations:,} evaluations to do x the time per evaluation "
        f"above{overhead} = {format_duration(estimate.runs_s)} on one worker, about {format_duration(estimate.wall_s)} "
        f"with {workers_used} worker{'s' if workers_used != 1 else ''}; preparing the workloads took "
        f"{format_duration(estimate.preparation_s)} here (once per worker process, less once cached); the agents' "
        "own work (model fits, training) and starting the workers come on top"
    )


@app.command()
def report(
    dataset: Annotated[Path, typer.Argument(help="Dataset directory of a sweep (its out) or of any runs.")],
    out: Annotated[Path | None, typer.Option(help="Directory for the tables and plots (default: DATASET/_report).")]
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
    plugin: PluginOption = None,
) -> None:
    """Summarise a sweep: per-setting tables, the hyperparameter lottery, convergence curves, Pareto fronts."""
    from archgym.report import parse_pareto_spec, write_report

    # A name starting with "_", which Parquet readers skip, keeps the dataset directory readable as Parquet.
    target = out if out is not None else dataset / "_report"
    try:
        check_output_dir(target, "--out" if out is not None else "the report directory")
        load_plugins(plugin)
        pair, maximise = parse_pareto_spec(pareto) if pareto is not None else (None, [])
        with error_console.status("reading the dataset") as status:
            result = write_report(dataset, target, tolerance=tolerance, optimum=optimum, pareto=pair,
                                  maximise=maximise, plots=plots, progress=lambda text: status.update(text))
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    table = Table("agent", "settings", Column("best setting", overflow="fold"), "success\nbest", "success\nmedian",
                  "success\nworst", title="hyperparameter lottery: success rate over problems and seeds, per setting",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for row in result.agents.itertuples(index=False):
        table.add_row(str(row.agent), str(row.settings), str(row.best_setting), f"{row.best_success_rate:.0%}",
                      f"{row.median_success_rate:.0%}", f"{row.worst_success_rate:.0%}")
    console.print(table)
    for line in result.headlines:
        console.print(f"- {escape(line)}")
    for note in result.notes:
        error_console.print(f"[yellow]note:[/] {escape(note)}")
    console.print(f"wrote {len(result.files)} files to {target}: {', '.join(p.name for p in result.files)}")


@marl_app.command("train")
def marl_train(
    problem: ProblemOption = DEFAULT_PROBLEM,
    workload: WorkloadOption = None,
    objective: ObjectiveOption = None,
    target: Annotated[list[str] | None, typer.Option(
        help="Objective target, e.g. target_power_mw=1000 (repeatable).")] = None,
    iterations: Annotated[int | None, typer.Option(
        min=1, help="Training iterations of train_batch_size designs each.")] = None,
    budget: Annotated[int | None, typer.Option(
        min=1, help=f"Evaluations to spend instead of --iterations (default {DEFAULT_MARL_BUDGET}).")] = None,
    backend: BackendOption = "analytical",
    backend_option: BackendOptionsOption = None,
    memspec: MemspecOption = None,
    proxy: ProxyOption = None,
    seed: Annotated[int, typer.Option(
        min=0, max=MAX_SEED, help="Random seed, 0 to 2**63-1 (same seed, same result).")] = 0,
    agent_config: Annotated[list[str] | None, typer.Option(
        help="Setting key=value (repeatable), e.g. shared_policy=true, train_batch_size=128.")] = None,
    out: Annotated[Path, typer.Option(help="Dataset directory for the evaluations.")] = Path("runs/marl"),
    checkpoint: Annotated[Path | None, typer.Option(help="Save the trained policies in this directory.")] = None,
    plugin: PluginOption = None,
) -> None:
    """Train multi-agent PPO (one policy per knob, or one shared) and print the best design found."""
    from archgym.agent import get_trainer
    from archgym.dataset import new_run_id
    from archgym.runner import ObjectiveSpec, RunSpec, check_budget, execute

    try:
        load_plugins(plugin)
        check_problem(problem)
        check_output_dir(out, "--out")
        if checkpoint is not None:
            check_output_dir(checkpoint, "--checkpoint")
        if iterations is not None and budget is not None:
            raise ConfigurationError("give --iterations or --budget, not both")
        settings = parse_assignments(agent_config or [], "--agent-config")
        targets = parse_assignments(target or [], "--target", "target_power_mw=1000")
        options = backend_options(backend_option, memspec=memspec, proxy=proxy)
        full = get_trainer("marl").check_settings(settings)
        # An iteration samples train_batch_size designs, so a number of iterations is that budget.
        evaluations = (budget if budget is not None else
                       iterations * int(full["train_batch_size"]) if iterations is not None else DEFAULT_MARL_BUDGET)
        check_budget(evaluations, what="--budget" if budget is not None else "--iterations x train_batch_size",
                     override="a smaller budget (multi-agent training has no override)")
        spec = RunSpec(problem=problem, backend=backend, workload=workload,
                       objective=ObjectiveSpec(default_objective(problem, objective), targets), agent="marl",
                       budget=evaluations, seed=seed,
                       config=settings, backend_options=options)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    run_id = new_run_id("marl")
    # A bar on a terminal, a log line every few seconds otherwise (training takes minutes).
    planned = iterations if iterations is not None else -(-evaluations // int(full["train_batch_size"]))
    with live_progress(f"marl training on {problem}", planned, "iterations", rate=False) as show:

        def advance(done: int, total: int, reward: float) -> None:
            show(done, f"mean reward {reward:.4g}")

        try:
            outcome = execute(spec, out, run_id=run_id, callback=advance,
                              trainer_options={"checkpoint_dir": checkpoint})
        except (ArchGymError, OSError) as error:
            raise fail(error) from None
    result = outcome.details
    try:
        _print_best_of_training(spec, out, run_id, result)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    console.print(f"{result.evaluations} evaluations in {result.iterations} iterations, {result.wall_time_s:.1f} s; "
                  f"dataset: {out} (run {run_id})" + (f"; checkpoint: {result.checkpoint}" if result.checkpoint else ""))


def _print_best_of_training(spec: Any, out: Path, run_id: str, result: Any) -> None:
    """The best design a trainer evaluated, its metrics and reward, as ``archgym run`` prints a search's best."""
    from archgym.dataset import load_dataset
    from archgym.objective import make_objective
    from archgym.problem import get_problem

    problem = get_problem(spec.problem)
    rows = load_dataset(out)
    # A trainer's env runners log as <run id>-runner<i>.
    rows = rows[(rows["run_id"] == run_id) | rows["run_id"].str.startswith(f"{run_id}-runner")]
    best = rows.loc[rows["reward"].idxmax()]
    table = Table("knob", "value", title=f"best design after {result.evaluations} evaluations", title_justify="left")
    for knob, value in result.best_design.items():
        table.add_row(knob, format_value(value))
    console.print(table)
    workload = best["workload"] or problem.default_workload
    metrics = Table("metric", "value", "unit", title=f"its metrics ({best['backend']}, {workload})",
                    title_justify="left")
    for metric in problem.metrics:
        metrics.add_row(metric.name, format_value(float(best.get(metric.name, math.nan))), metric.unit)
    console.print(metrics)
    goal = make_objective(spec.objective.name, problem=spec.problem, **dict(spec.objective.targets))
    console.print(f"reward ({goal.describe()}): {result.best_reward:.6g} at evaluation {int(best['step'])} "
                  f"of run {best['run_id']}")
