"""Plots of sweep results: convergence curves, the hyperparameter lottery and Pareto fronts.

Every function takes tidy tables (built by :mod:`archgym.report`) and writes
one PNG with matplotlib's object-oriented API (no pyplot state, so plots can
be drawn from worker threads). matplotlib is the ``plots`` extra:
``pip install 'archgym[plots]'``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from archgym.errors import ConfigurationError

__all__ = ["plot_convergence", "plot_lottery", "plot_pareto", "require_matplotlib"]

_DPI = 130


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


def _save(figure: Any, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=_DPI)
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
            axis.set_title(f"{workload} / {objective}", fontsize=9)
            if row == len(workloads) - 1:
                axis.set_xlabel("evaluations")
            if column == 0:
                axis.set_ylabel("regret of best so far (%)")
    axes[0, -1].legend(fontsize=7, loc="upper right")
    if title:
        figure.suptitle(title)
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
    if title:
        figure.suptitle(title)
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
        axis.set_title(str(workload), fontsize=9)
        axis.set_xlabel(x)
        axis.set_ylabel(y)
        axis.grid(alpha=0.3, lw=0.5)
    for index in range(len(workloads), rows * columns):
        axes[index // columns, index % columns].set_visible(False)
    axes[0, 0].legend(fontsize=7)
    if title:
        figure.suptitle(title)
    return _save(figure, path)
