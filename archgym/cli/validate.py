"""``archgym validate``: how well a cost model agrees with a reference backend or recorded results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table

from archgym.agent import MAX_SEED
from archgym.cli.common import (
    BackendOptionsOption,
    MemspecOption,
    PluginOption,
    ProblemOption,
    ProxyOption,
    SimTimeoutOption,
    TrustOption,
    backend_options,
    build_backend,
    check_image_path,
    check_output_file,
    check_problem,
    console,
    correlation,
    fail,
    load_plugins,
    parse_assignments,
    percent,
    shared_options,
    trusted,
)
from archgym.cost_model import CostModel
from archgym.errors import ArchGymError, ConfigurationError, UnknownNameError
from archgym.problem import DEFAULT_PROBLEM

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer()


def _reference_backend(
    problem: str, against: str, model_options: dict[str, Any], overrides: dict[str, Any]
) -> CostModel:
    """The backend named by --against, with the model's options it takes, overridden by --against-option."""
    try:
        options = {**shared_options(problem, against, model_options), **overrides}
        return build_backend(problem, against, options)
    except UnknownNameError as error:
        raise UnknownNameError(
            f"{error}; --against also takes a dataset directory, a .parquet or .jsonl file or a .csv "
            f"file, and no file or directory {against!r} exists"
        ) from None


def _statistics_table(statistics: pd.DataFrame, group: str) -> Table:
    from archgym.validate import OVERALL, WORKLOAD_COLUMN

    title = "all workloads" if group == OVERALL else f"workload {group}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)
    table.add_column("metric", no_wrap=True)
    for header in ("n", "excluded", "Spearman", "Kendall", "median\n|err|", "p90\n|err|", "bias"):
        table.add_column(header, justify="right")
    for row in statistics[statistics[WORKLOAD_COLUMN] == group].itertuples(index=False):
        table.add_row(
            row.metric, str(row.n), str(row.excluded), correlation(row.spearman), correlation(row.kendall),
            percent(row.median_ape_pct), percent(row.p90_ape_pct), percent(row.bias_pct, signed=True),
        )
    return table


@app.command()
def validate(
    against: Annotated[str, typer.Option(
        help="Reference: a backend (e.g. dramsys), a dataset directory or .parquet file written by "
             "`archgym run`, or a .csv of recorded results (one column per knob, a workload or trace "
             "column, metric columns; avg_bw_gbps in Gb/s becomes bandwidth_gbps = avg_bw_gbps / 8).",
    )],
    problem: ProblemOption = DEFAULT_PROBLEM,
    backend: Annotated[str, typer.Option(help="Cost model to validate.")] = "analytical",
    designs: Annotated[int | None, typer.Option(
        min=1, max=10_000_000, help="Designs to sample from the design space (default 200); with a reference file, a random "
             "subset of its designs (default all).",
    )] = None,
    workload: Annotated[list[str] | None, typer.Option(
        help="Workload name or trace file (repeatable); with a reference file, only its rows of these workloads.",
    )] = None,
    seed: Annotated[int, typer.Option(
        min=0, max=MAX_SEED, help="Random seed for sampling designs, 0 to 2**63-1 (same seed, same designs).")] = 0,
    backend_option: BackendOptionsOption = None,
    memspec: MemspecOption = None,
    proxy: ProxyOption = None,
    sim_timeout: SimTimeoutOption = None,
    trust: TrustOption = False,
    against_option: Annotated[list[str] | None, typer.Option(
        "--against-option",
        help="Option key=value of the reference backend (repeatable); it also takes those of --backend-option "
             "(and --memspec) that it accepts.",
    )] = None,
    against_memspec: Annotated[str | None, typer.Option(
        help="Memspec of the reference backend (default: --memspec): short for --against-option memspec=MEMSPEC.",
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
    plugin: PluginOption = None,
) -> None:
    """Compare a cost model with a reference backend or recorded results.

    Prints, per workload and overall, each metric's rank agreement (Spearman,
    Kendall tau) and the median and 90th-percentile absolute percentage error
    and bias (median signed error) of --backend relative to --against.
    Infeasible evaluations on either side are excluded and counted.
    """
    from archgym import validate as val

    models: list[CostModel] = []
    try:
        if csv is not None:
            check_output_file(csv, "--csv")
        if plot is not None:
            check_image_path(plot, "--plot")
        load_plugins(plugin)
        check_problem(problem)
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
        options = backend_options(backend_option, memspec=memspec, proxy=proxy, timeout_s=sim_timeout)
        overrides = parse_assignments(against_option or [], "--against-option", "memspec=ddr4-2400")
        if against_memspec is not None:
            if overrides.get("memspec", against_memspec) != against_memspec:
                raise ConfigurationError(
                    f"--against-memspec {against_memspec} and --against-option memspec={overrides['memspec']} "
                    "give memspec two values; give one of them"
                )
            overrides["memspec"] = against_memspec
        model = build_backend(problem, backend, trusted(options, trust))
        models.append(model)
        label = None
        if val.is_reference_file(against):
            if overrides:
                raise ConfigurationError(
                    "--against-option and --against-memspec apply only when --against names a backend, not a file"
                )
            reference: CostModel | Path = Path(against)
        else:
            reference = _reference_backend(problem, against, options, overrides)
            models.append(reference)
            if overrides:
                label = f"{reference.name} ({', '.join(str(v) for v in overrides.values())})"
        # validate_model reports its progress as library tasks, which the CLI shows (a bar, or log lines).
        result = val.validate_model(
            model, reference, designs=designs, workloads=workload, seed=seed, metrics=requested,
            trace_dir=trace_dir, reference_label=label,
        )
        if csv is not None:
            result.save_pairs(csv)
        if plot is not None:
            result.plot(plot)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    finally:
        for m in models:
            m.close()

    groups = result.workloads
    console.print(
        f"[bold]{result.model}[/] vs [bold]{result.reference}[/] (reference): {result.designs} designs, "
        f"{len(groups)} workload{'s' if len(groups) != 1 else ''}, {len(result.pairs)} pairs"
        + (f", seed {result.seed}" if result.seed is not None else "")
    )
    for group in groups + ([val.OVERALL] if len(groups) > 1 else []):
        console.print(_statistics_table(result.statistics, group))
    notes = list(result.notes)
    if csv is not None:
        notes.append(f"paired values: {csv}")
    if plot is not None:
        notes.append(f"plot: {plot}")
    for note in notes:
        console.print(note)
