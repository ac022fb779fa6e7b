"""``archgym proxy train``, ``eval``, ``info`` and ``convert``: proxy cost models learned from logged evaluations.

Proxies are saved as JSON and plain arrays, which load without running code.
Proxies pickled by earlier versions load only with ``--trust``; ``convert``
rewrites one in the plain format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from archgym.cli.common import (
    MemspecOption,
    PluginOption,
    backend_options,
    check_image_path,
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

TrustOption = Annotated[bool, typer.Option(
    "--trust", help="Also load a proxy pickled by an earlier version (model.joblib), which can run code when "
                    "loaded: only for proxies from a source you trust.")]

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
        check_image_path(plot, "--plot")


@app.command("train")
def train(
    data: Annotated[list[Path], typer.Option(
        help="Training rows: a dataset directory or .parquet file written by `archgym run`, or a .csv with one "
             "column per knob, a workload (or trace) column and metric columns (repeatable).")],
    out: Annotated[Path, typer.Option(
        help="Directory to save the proxy in: new, empty, or a proxy to replace (see --force).")],
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
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed of the split and the regressor.")] = 0,
    search: Annotated[int, typer.Option(
        min=0, help="Tune the regressor with a randomised search of this many settings (0: defaults).")] = 0,
    jobs: Annotated[int, typer.Option(min=1, max=1024, help="Parallel jobs for tree ensembles and the search.")] = 1,
    workload: Annotated[str | None, typer.Option(help="Workload of rows from files without a workload column.")] = None,
    plot: Annotated[Path | None, typer.Option(help="Write a predicted-vs-true PNG of the held-out designs.")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Save into --out even if it is a directory holding other files (a file is always refused).")]
    = False,
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
        proxies.check_save_path(out, force=force)
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
    except (ArchGymError, OSError) as error:
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
    trust: TrustOption = False,
    plugin: PluginOption = None,
) -> None:
    """Score a proxy on recorded results: RMSE, NRMSE, MAPE, R² and Spearman per target and workload."""
    from archgym import proxy as proxies

    try:
        load_plugins(plugin)
        _require_plots(plot)
        loaded = proxies.load_proxy(model, trust=trust)
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
    except (ArchGymError, OSError) as error:
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
    """Describe a saved proxy from its proxy.json alone: problem, targets, features, training data, accuracy.

    The model file is not read, so this is safe on a proxy of any origin.
    """
    import pandas as pd

    from archgym.proxy import PICKLED_MODEL_FILE, read_proxy_metadata
    from archgym.proxy.model import PICKLED_FORMAT_VERSION

    try:
        load_plugins(plugin)
        details = read_proxy_metadata(model)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    space = details["design_space"]
    encoding = details["encoding"]
    training = details.get("training") or {}
    console.print(f"[bold]{escape(str(model))}[/]: {escape(details['model'])} proxy for {escape(details['env'])} "
                  f"({escape(space['name'])} space, fingerprint {escape(space['fingerprint'])})")
    if details["format_version"] == PICKLED_FORMAT_VERSION:
        console.print(f"format: pickled by an earlier version ({PICKLED_MODEL_FILE}); it loads only with --trust, "
                      f"or convert it once with `archgym proxy convert {escape(str(model))} --trust`")
    console.print("targets: " + ", ".join(escape(f"{t['name']} ({t['transform']})") for t in details["targets"]))
    base = details.get("base")
    console.print(f"base backend: {escape(base['backend']) if base else 'none'}")
    features = len(encoding["feature_names"]) if "feature_names" in encoding else "?"
    console.print(f"features: {features}; workloads: {escape(', '.join(encoding['workloads']))}")
    if training:
        console.print(escape(f"trained on {training.get('train_rows')} of {training.get('rows')} rows from "
                             f"{training.get('source')} ({details.get('created', '?')})"))
    console.print(escape("versions: " + ", ".join(f"{k} {v}" for k, v in (details.get("versions") or {}).items())))
    if details.get("test_metrics"):
        console.print(_metrics_table(pd.DataFrame(details["test_metrics"]), "held-out accuracy"))


@app.command("convert")
def convert(
    model: Annotated[Path, typer.Argument(help="Proxy directory to convert.")],
    out: Annotated[Path | None, typer.Option(
        help="Write the converted proxy here instead of in place (in place, model.npz replaces model.joblib).")]
    = None,
    trust: TrustOption = False,
    plugin: PluginOption = None,
) -> None:
    """Rewrite a proxy pickled by an earlier version in the plain format, which loads without running code.

    Converting loads the pickle, which can run code: give --trust only for a
    proxy from a source you trust. Afterwards the proxy loads without --trust.
    """
    from archgym.proxy import check_save_path, convert_proxy, read_proxy_metadata
    from archgym.proxy.model import PICKLED_FORMAT_VERSION

    try:
        load_plugins(plugin)
        pickled = read_proxy_metadata(model)["format_version"] == PICKLED_FORMAT_VERSION
        if pickled and not trust:
            raise ConfigurationError(
                f"converting {model} loads its pickle ({model / 'model.joblib'}), which can run code; give --trust "
                "if you trust its source"
            )
        if not pickled and out is None:
            console.print(f"{model} is already in the plain format; nothing to convert")
            return
        if out is not None:
            check_save_path(out)
        written = convert_proxy(model, out)
    except (ArchGymError, OSError) as error:
        raise fail(error) from None
    console.print(f"converted {model} to the plain format in {written}")
