"""Every plot ArchGym draws: sweep results and the accuracy of cost models.

Sweep results (tidy tables built by :mod:`archgym.report`): convergence
curves (:func:`plot_convergence`), the hyperparameter lottery
(:func:`plot_lottery`) and Pareto fronts (:func:`plot_pareto`). Model
accuracy: a cost model against a reference (:func:`scatter_plot`, paired
values from :mod:`archgym.validate`) and a proxy's predictions against true
values (:func:`plot_predictions`, rows scored by :mod:`archgym.proxy`).

Every function writes one image with matplotlib's object-oriented API (no
pyplot state, so plots can be drawn from worker threads). matplotlib is the
``plots`` extra: ``pip install 'archgym[plots]'``.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from archgym.errors import ConfigurationError

__all__ = [
    "plot_convergence",
    "plot_lottery",
    "plot_pareto",
    "plot_predictions",
    "require_matplotlib",
    "scatter_plot",
]

_DPI = 130
_TITLE_POINTS = 12.0
"""Font size of figure titles (matplotlib's ``large``)."""
_CHARACTER_WIDTH = 0.6
"""Average width of a character as a share of its font size, to wrap titles to the figure."""
_WORKLOAD_COLUMN = "workload"
"""The column that labels each row's workload in paired values and scored rows."""


def require_matplotlib() -> None:
    """Check that matplotlib (the ``plots`` extra) is installed.

    Raises:
        ConfigurationError: it is not; the message says how to install it.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "plots need matplotlib, which is not installed; install it with pip install 'archgym[plots]'"
        ) from None


def _figure(rows: int, columns: int, width: float, height: float) -> tuple[Any, np.ndarray]:
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * columns, height * rows), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    return figure, axes


def _colours(names: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {name: palette(index % 10) for index, name in enumerate(names)}


def _wrap(text: str, width_inches: float, points: float) -> str:
    """``text`` broken into lines that fit ``width_inches`` at font size ``points``."""
    characters = max(12, int(width_inches * 72 / (_CHARACTER_WIDTH * points)))
    return "\n".join(textwrap.fill(line, characters) for line in text.splitlines())


def _title(figure: Any, title: str) -> None:
    """Set the figure title, wrapped to the figure's width so that no end is cut off."""
    if title:
        figure.suptitle(_wrap(title, figure.get_figwidth(), _TITLE_POINTS), fontsize=_TITLE_POINTS)


def _save(figure: Any, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # "tight" grows the canvas to hold any text the layout could not fit, rather than cropping it.
    figure.savefig(path, dpi=_DPI, bbox_inches="tight", pad_inches=0.05)
    return path


def plot_convergence(curves: pd.DataFrame, path: str | os.PathLike[str], title: str = "") -> Path:
    """Regret of the best design found so far against evaluations, one panel per problem.

    Args:
        curves: Columns ``workload``, ``objective``, ``agent``, ``evaluation``
            (1-based), ``median``, ``q25`` and ``q75`` (regret in %), as from
            :func:`archgym.report.convergence_curves`.
        path: PNG to write.
        title: Figure title.

    Returns:
        The path written.
    """
    workloads = list(pd.unique(curves["workload"]))
    objectives = list(pd.unique(curves["objective"]))
    agents = list(pd.unique(curves["agent"]))
    colours = _colours(agents)
    figure, axes = _figure(len(workloads), len(objectives), 3.6, 2.6)
    for row, workload in enumerate(workloads):
        for column, objective in enumerate(objectives):
            axis = axes[row, column]
            panel = curves[(curves["workload"] == workload) & (curves["objective"] == objective)]
            for agent in agents:
                line = panel[panel["agent"] == agent]
                if line.empty:
                    continue
                axis.plot(line["evaluation"], line["median"], color=colours[agent], lw=1.4, label=agent)
                axis.fill_between(line["evaluation"], line["q25"], line["q75"], color=colours[agent], alpha=0.15,
                                  lw=0)
            # Regret reaches exactly 0 at the optimum, so a log axis needs a linear stretch near it.
            axis.set_yscale("symlog", linthresh=0.1)
            axis.set_ylim(bottom=0)
            axis.grid(alpha=0.3, which="both", lw=0.5)
            axis.set_title(_wrap(f"{workload} / {objective}", 3.4, 9), fontsize=9)
            if row == len(workloads) - 1:
                axis.set_xlabel("evaluations")
            if column == 0:
                axis.set_ylabel("regret of best so far (%)")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    _title(figure, title)
    return _save(figure, path)


def plot_lottery(settings: pd.DataFrame, path: str | os.PathLike[str], budget: float | None = None,
                 title: str = "") -> Path:
    """The hyperparameter lottery: how each agent's outcome spreads over its settings.

    Left: success rate per setting (share of runs, over problems and seeds,
    that reached their target); right: median evaluations the setting's runs
    needed to reach it. Each dot is one hyperparameter setting, the box their
    spread.

    Args:
        settings: One row per agent setting with columns ``agent``, ``setting``,
            ``success_rate`` (0-1) and ``median_evaluations_to_target``
            (infinite when most runs missed), as from
            :func:`archgym.report.summarise_settings`.
        path: PNG to write.
        budget: Evaluations per run; settings that mostly missed are drawn just above it.
        title: Figure title.

    Returns:
        The path written.
    """
    agents = list(pd.unique(settings["agent"]))
    colours = _colours(agents)
    figure, axes = _figure(1, 2, max(3.2, 0.9 * len(agents) + 1.5), 3.4)
    rng = np.random.default_rng(0)  # jitter only; fixed so the picture is reproducible
    evaluations = settings["median_evaluations_to_target"].to_numpy(dtype=float)
    finite = evaluations[np.isfinite(evaluations)]
    ceiling = 1.05 * (budget if budget else (finite.max() if len(finite) else 1.0))
    panels = (("success_rate", "success rate over problems and seeds (%)"),
              ("median_evaluations_to_target", "median evaluations to target"))
    for axis, (column, label) in zip(axes[0], panels):
        groups = []
        for agent in agents:
            values = settings.loc[settings["agent"] == agent, column].to_numpy(dtype=float)
            groups.append(100.0 * values if column == "success_rate" else np.minimum(values, ceiling))
        positions = np.arange(1, len(agents) + 1)
        axis.boxplot(groups, positions=positions, widths=0.55, showfliers=False,
                     medianprops={"color": "black"}, boxprops={"color": "0.4"}, whiskerprops={"color": "0.4"},
                     capprops={"color": "0.4"})
        for position, agent, values in zip(positions, agents, groups):
            jitter = rng.uniform(-0.18, 0.18, size=len(values))
            axis.scatter(position + jitter, values, s=18, color=colours[agent], alpha=0.8, zorder=3)
        axis.set_xticks(positions, agents)
        axis.set_ylabel(label)
        axis.grid(alpha=0.3, axis="y", lw=0.5)
        if column == "success_rate":
            axis.set_ylim(-3, 103)
        else:
            axis.axhline(ceiling, color="0.5", ls=":", lw=1)
            axis.text(0.5, ceiling, " mostly not reached", va="bottom", fontsize=7, color="0.4")
            axis.set_ylim(0, ceiling * 1.08)
    _title(figure, title)
    return _save(figure, path)


def plot_pareto(points: pd.DataFrame, x: str, y: str, path: str | os.PathLike[str], title: str = "") -> Path:
    """Pareto fronts of two metrics per workload: each agent's front and the front of all agents.

    Args:
        points: Non-dominated points with columns ``workload``, ``agent``, ``x``,
            ``y`` and ``global_front`` (bool), as from :func:`archgym.report.pareto_fronts`.
        x: Metric on the horizontal axis (for the label).
        y: Metric on the vertical axis (for the label).
        path: PNG to write.
        title: Figure title.

    Returns:
        The path written.
    """
    workloads = list(pd.unique(points["workload"]))
    agents = sorted(pd.unique(points["agent"]))
    colours = _colours(agents)
    columns = min(len(workloads), 2)
    rows = -(-len(workloads) // columns)
    figure, axes = _figure(rows, columns, 4.2, 3.4)
    for index, workload in enumerate(workloads):
        axis = axes[index // columns, index % columns]
        panel = points[points["workload"] == workload]
        for agent in agents:
            front = panel[panel["agent"] == agent].sort_values("x")
            if not front.empty:
                axis.step(front["x"], front["y"], where="post", color=colours[agent], lw=1.0, alpha=0.8)
                axis.scatter(front["x"], front["y"], s=12, color=colours[agent], label=agent, zorder=3)
        best = panel[panel["global_front"]].drop_duplicates(["x", "y"]).sort_values("x")
        axis.step(best["x"], best["y"], where="post", color="black", lw=1.6, ls="--", label="all agents")
        axis.set_title(_wrap(str(workload), 4.0, 9), fontsize=9)
        axis.set_xlabel(x)
        axis.set_ylabel(y)
        axis.grid(alpha=0.3, lw=0.5)
    for index in range(len(workloads), rows * columns):
        axes[index // columns, index % columns].set_visible(False)
    axes[0, 0].legend(fontsize=7)
    _title(figure, title)
    return _save(figure, path)


# -- accuracy of cost models ------------------------------------------------------------------------


def _log_tick_subs(low: float, high: float) -> tuple[float, ...] | None:
    """Multiples of powers of ten to label on a log axis from ``low`` to ``high``.

    Wide ranges get fewer labels per decade; None when fewer than two of the
    candidates fall in the range (then evenly spaced ticks are used).
    """
    ratio = high / low
    subs = (1.0,) if ratio >= 100 else (1.0, 2.0, 5.0) if ratio >= 20 else (1.0, 2.0, 3.0, 5.0)
    ticks = [
        s * 10.0**k for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1) for s in subs
    ]
    return subs if sum(low <= t <= high for t in ticks) >= 2 else None


def _identity_panel(
    axis: Any, x: np.ndarray, y: np.ndarray, labels: np.ndarray | None, line_style: str = "--"
) -> None:
    """Scatter of ``y`` against ``x`` on equal axes with a ``y = x`` line, coloured by ``labels``.

    Finite pairs are drawn, on log axes when every value is positive. Log
    axes get few enough ticks per decade, and all ticks engineering-prefix
    labels (``20k``, ``1.5M``), so that tick labels never overlap.
    """
    from matplotlib.ticker import EngFormatter, LogLocator, MaxNLocator, NullFormatter

    drawn = np.isfinite(x) & np.isfinite(y)
    if not drawn.any():
        axis.text(0.5, 0.5, "no pairs with values on both sides", ha="center", va="center",
                  transform=axis.transAxes)
        return
    groups = list(pd.unique(labels[drawn])) if labels is not None else [None]
    for group in groups:
        mask = drawn if group is None else drawn & (labels == group)
        axis.scatter(x[mask], y[mask], s=10, alpha=0.6, label=None if group is None else str(group))
    low = float(min(x[drawn].min(), y[drawn].min()))
    high = float(max(x[drawn].max(), y[drawn].max()))
    log = low > 0
    if log:
        low, high = low / 1.1, high * 1.1
    else:
        margin = 0.05 * (high - low) or 1.0
        low, high = low - margin, high + margin
    axis.plot([low, high], [low, high], color="black", linestyle=line_style, linewidth=1, label="y = x")
    if log:
        axis.set_xscale("log")
        axis.set_yscale("log")
    axis.set_xlim(low, high)
    axis.set_ylim(low, high)
    axis.set_aspect("equal", adjustable="box")
    subs = _log_tick_subs(low, high) if log else None
    for side in (axis.xaxis, axis.yaxis):
        side.set_major_locator(LogLocator(subs=subs) if subs else MaxNLocator(nbins=4))
        side.set_major_formatter(EngFormatter(sep=""))
        side.set_minor_formatter(NullFormatter())
    axis.grid(True, which="major", alpha=0.3)
    if len(groups) > 1:
        axis.legend(fontsize=7, loc="upper left")


def _panel_grid(panels: int) -> tuple[Any, np.ndarray]:
    """A figure of square panels, at most three per row; unused cells are hidden."""
    columns = min(3, max(panels, 1))
    rows = -(-max(panels, 1) // columns)
    figure, axes = _figure(rows, columns, 4.2, 4.0)
    flat = axes.ravel()
    for axis in flat[panels:]:
        axis.set_visible(False)
    return figure, flat


def _percent(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f} %"


def scatter_plot(
    pairs: pd.DataFrame,
    metrics: Sequence[str] | None,
    path: str | os.PathLike[str],
    predicted_label: str = "predicted",
    reference_label: str = "reference",
    units: Mapping[str, str] | None = None,
    title: str = "",
) -> Path:
    """Log-log scatter of predicted against reference values, one panel per metric.

    Each panel has a ``y = x`` line and is titled with the metric's Spearman
    correlation and median absolute percentage error. Points are coloured by
    workload. Only feasible pairs with positive values on both sides are drawn.

    Args:
        pairs: Paired values (see :mod:`archgym.validate`).
        metrics: Metrics to draw; by default every paired metric.
        path: Image file to write (the format follows the suffix, e.g. ``.png``).
        predicted_label: Axis label of the predicted values (the model name).
        reference_label: Axis label of the reference values.
        units: Metric name to unit, for the axis labels.
        title: Figure title; by default ``<predicted_label> against <reference_label>``.

    Returns:
        The path written.

    Raises:
        ConfigurationError: matplotlib is not installed, or a metric is not paired.
    """
    # Imported here: archgym.validate re-exports this function, so it imports this module first.
    from archgym.validate import compare_pairs, pair_metrics, split_pairs

    require_matplotlib()
    metrics = pair_metrics(pairs) if metrics is None else list(metrics)
    stats = compare_pairs(pairs, metrics, by=None).set_index("metric")
    predicted, reference = split_pairs(pairs, metrics)
    usable = predicted["feasible"].fillna(False).to_numpy(dtype=bool) & reference["feasible"].fillna(
        False).to_numpy(dtype=bool)
    labels = pairs[_WORKLOAD_COLUMN].astype(str).to_numpy() if _WORKLOAD_COLUMN in pairs.columns else None
    units = units or {}

    figure, axes = _panel_grid(len(metrics))
    for axis, m in zip(axes, metrics):
        x = pd.to_numeric(reference[m], errors="coerce").to_numpy(dtype=np.float64)
        y = pd.to_numeric(predicted[m], errors="coerce").to_numpy(dtype=np.float64)
        positive = usable & (x > 0) & (y > 0)
        _identity_panel(axis, np.where(positive, x, np.nan), np.where(positive, y, np.nan), labels)
        unit = f" [{units[m]}]" if units.get(m) else ""
        axis.set_xlabel(f"{reference_label}{unit}")
        axis.set_ylabel(f"{predicted_label}{unit}")
        rho, median = stats.loc[m, "spearman"], stats.loc[m, "median_ape_pct"]
        rho_text = "-" if math.isnan(rho) else f"{rho:.3f}"
        axis.set_title(f"{m}\nSpearman {rho_text}, median |error| {_percent(median)}", fontsize=10)
    _title(figure, title or f"{predicted_label} against {reference_label}")
    return _save(figure, path)


def plot_predictions(
    frame: pd.DataFrame, targets: Sequence[str], path: str | os.PathLike[str], title: str = ""
) -> Path:
    """Log-log scatter of a proxy's predictions against true values, one panel per target, coloured by workload.

    Each panel has a ``y = x`` line and is titled with the target's
    normalised RMSE and median absolute percentage error over all rows.

    Args:
        frame: Rows with ``<target>`` (true) and ``<target>_predicted``
            columns and a ``workload`` column, as from
            :meth:`archgym.proxy.Proxy.predict_frame` or ``Proxy.held_out``.
        targets: The targets to draw.
        path: Image file to write (the format follows the suffix, e.g. ``.png``).
        title: Figure title; by default it names the number of rows.

    Returns:
        The path written.

    Raises:
        ConfigurationError: matplotlib is not installed.
    """
    # Imported here: archgym.proxy re-exports this function, so it imports this module first.
    from archgym.proxy.metrics import prediction_metrics

    require_matplotlib()
    scores = prediction_metrics(frame, targets)
    overall = scores[scores["workload"] == "all"].set_index("target")
    labels = frame[_WORKLOAD_COLUMN].astype(str).to_numpy() if _WORKLOAD_COLUMN in frame.columns else None
    figure, axes = _panel_grid(len(targets))
    for axis, target in zip(axes, targets):
        true = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=np.float64)
        predicted = pd.to_numeric(frame[f"{target}_predicted"], errors="coerce").to_numpy(dtype=np.float64)
        _identity_panel(axis, true, predicted, labels, line_style="-")
        axis.set_xlabel(f"true {target}")
        axis.set_ylabel(f"predicted {target}")
        nrmse = float(overall.loc[target].get("nrmse_pct", math.nan))
        median = float(overall.loc[target].get("mdape_pct", math.nan))
        axis.set_title(f"{target}\nNRMSE {_percent(nrmse)}, median |error| {_percent(median)}", fontsize=10)
    _title(figure, title or f"proxy predictions against true values ({len(frame)} rows)")
    return _save(figure, path)
