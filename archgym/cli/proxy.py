"""``archgym proxy train``, ``eval`` and ``info``: proxy cost models learned from logged evaluations."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from archgym.cli.common import (
    MemspecOption,
    PluginOption,
    backend_options,
    check_problem,
    console,
    correlation,
    error_console,
    fail,
    load_plugins,
    percent,
)
from archgym.errors import ArchGymError, ConfigurationError
from archgym.problem import DEFAULT_PROBLEM

app = typer.Typer(
    help="Train, evaluate and inspect proxy cost models learned from logged evaluations.",
    no_args_is_help=True,
)


def _metrics_table(metrics: Any, title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)
    for header in ("target", "workload", "n", "RMSE", "NRMSE", "MAPE", "median\nAPE", "p90\nAPE", "R²", "Spearman"):
        table.add_column(header, justify="left" if header in ("target", "workload") else "right",
                         no_wrap=header == "target")
    for row in metrics.itertuples(index=False):
        table.add_row(
            row.target, row.workload, str(row.n), f"{row.rmse:.3g}", percent(row.nrmse_pct, digits=2),
            percent(row.mape_pct, digits=2), percent(row.mdape_pct, digits=2), percent(row.p90_ape_pct, digits=2),
            correlation(row.r2), correlation(row.spearman),
        )
    return table


def _require_plots(plot: Path | None) -> None:
    if plot is not None:
        from archgym.plots import require_matplotlib

        require_matplotlib()


@app.command("train")
def train(
    data: Annotated[list[Path], typer.Option(
        help="Training rows: a dataset directory or .parquet file written by `archgym run`, or a .csv with one "
             "column per knob, a workload (or trace) column and metric columns (repeatable).")],
    out: Annotated[Path, typer.Option(help="Directory to save the proxy in.")],
    problem: Annotated[str, typer.Option("--problem", "--env", help="Problem the rows belong to.")] = DEFAULT_PROBLEM,
    targets: Annotated[str | None, typer.Option(
        help="Comma-separated metric columns to learn (default: every metric of the problem in the data).")] = None,
    model: Annotated[str, typer.Option(help="Regressor: et, rf, gbm, hgb, mlp or xgboost.")] = "et",
    base: Annotated[str | None, typer.Option(
        help="Learn the correction of this backend (e.g. analytical), whose metrics become features.")] = None,
    backend_option: Annotated[list[str] | None, typer.Option(
        "--backend-option", help="Option key=value of the base backend (repeatable), e.g. memspec=ddr4-2400.")]
    = None,
    memspec: MemspecOption = None,
    test_fraction: Annotated[float, typer.Option(
        min=0.0, max=0.95, help="Share of the designs held out to measure accuracy.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the split and the regressor.")] = 0,
    search: Annotated[int, typer.Option(
        min=0, help="Tune the regressor with a randomised search of this many settings (0: defaults).")] = 0,
    jobs: Annotated[int, typer.Option(min=1, help="Parallel jobs for tree ensembles and the search.")] = 1,
    workload: Annotated[str | None, typer.Option(help="Workload of rows from files without a workload column.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a predicted-vs-true PNG of the held-out designs.")] = None,
    plugin: PluginOption = None,
) -> None:
    """Train a proxy cost model on logged evaluations and save it.

    Rows are split by design (a design measured on several workloads stays on
    one side) and the held-out designs' accuracy is printed and saved with the
    proxy. Use it with `--backend proxy --proxy DIR`.
    """
    import pandas as pd

    from archgym import proxy as proxies

    trained = None
    try:
        load_plugins(plugin)
        check_problem(problem)
        _require_plots(plot)
        if plot is not None and test_fraction == 0:
            raise ConfigurationError("--plot shows the held-out designs; it needs --test-fraction > 0")
        names = [t.strip() for t in targets.split(",") if t.strip()] if targets is not None else None
        options = backend_options(backend_option, memspec=memspec)
        with error_console.status("training") as status:
            trained = proxies.train_proxy(
                data, problem=problem, targets=names, model=model, base=base, base_options=options or None,
                test_fraction=test_fraction, seed=seed, search_iterations=search, n_jobs=jobs, workload=workload,
                progress=lambda message: status.update(message),
            )
        trained.save(out)
        if plot is not None and trained.held_out is not None:
            proxies.plot_predictions(trained.held_out, trained.target_names, plot,
                                     title=f"proxy {out.name} ({model}) on its held-out designs "
                                           f"({len(trained.held_out)} rows)")
    except ArchGymError as error:
        raise fail(error) from None
    finally:
        if trained is not None:
            trained.close()
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


@app.command("eval")
def evaluate(
    model: Annotated[Path, typer.Option(help="Trained proxy directory.")],
    data: Annotated[list[Path], typer.Option(
        help="Rows to score the proxy on: a dataset directory, .parquet or .csv file (repeatable).")],
    workload: Annotated[str | None, typer.Option(help="Workload of rows from files without a workload column.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a predicted-vs-true PNG.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the rows with their predictions as CSV.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON.")] = False,
    plugin: PluginOption = None,
) -> None:
    """Score a proxy on recorded results: RMSE, NRMSE, MAPE, R² and Spearman per target and workload."""
    from archgym import proxy as proxies

    try:
        load_plugins(plugin)
        _require_plots(plot)
        loaded = proxies.Proxy.load(model)
        try:
            score = proxies.score_proxy(loaded, data, workload)
        finally:
            loaded.close()
        if plot is not None:
            proxies.plot_predictions(score.rows, loaded.target_names, plot,
                                     title=f"proxy {model.name} on {', '.join(path.name for path in data)} "
                                           f"({len(score.rows)} rows)")
        if csv is not None:
            csv.parent.mkdir(parents=True, exist_ok=True)
            score.rows.to_csv(csv, index=False)
    except ArchGymError as error:
        raise fail(error) from None
    if as_json:
        console.print_json(json.dumps(score.metrics.to_dict(orient="records"), default=float))
        return
    console.print(_metrics_table(score.metrics, f"{model} on {len(score.rows)} rows"))
    for label, path in (("plot", plot), ("predictions", csv)):
        if path is not None:
            console.print(f"{label}: {path}")


@app.command("info")
def info(
    model: Annotated[Path, typer.Option(help="Trained proxy directory.")],
    plugin: PluginOption = None,
) -> None:
    """Describe a saved proxy: problem, targets, features, training data, accuracy, versions."""
    import pandas as pd

    from archgym.proxy import Proxy

    try:
        load_plugins(plugin)
        loaded = Proxy.load(model)
    except ArchGymError as error:
        raise fail(error) from None
    details = loaded.info
    training = details.get("training", {})
    console.print(f"[bold]{model}[/]: {loaded.model_kind} proxy for {loaded.env} ({loaded.design_space.name} space, "
                  f"fingerprint {loaded.design_space.fingerprint()})")
    console.print("targets: " + ", ".join(f"{t.name} ({t.transform})" for t in loaded.targets))
    console.print(f"base backend: {loaded.base['backend'] if loaded.base else 'none'}")
    console.print(f"features: {len(loaded.encoding.feature_names)}; workloads: {', '.join(loaded.workloads)}")
    if training:
        console.print(f"trained on {training.get('train_rows')} of {training.get('rows')} rows from "
                      f"{training.get('source')} ({details.get('created', '?')})")
    console.print("versions: " + ", ".join(f"{k} {v}" for k, v in details.get("versions", {}).items()))
    if details.get("test_metrics"):
        console.print(_metrics_table(pd.DataFrame(details["test_metrics"]), "held-out accuracy"))
