"""Every plot ArchGym draws: sweep results and the accuracy of cost models.

Sweep results (tidy tables built by :mod:`archgym.report`): convergence
curves (:func:`plot_convergence`), the hyperparameter lottery
(:func:`plot_lottery`) and Pareto fronts (:func:`plot_pareto`). Model
accuracy: a cost model against a reference (:func:`scatter_plot`, paired
values from :mod:`archgym.validate`) and a proxy's predictions against true
values (:func:`plot_predictions`, rows scored by :mod:`archgym.proxy`).

Every ``plot_*`` function writes one image; the matching ``*_figure``
function returns the finished matplotlib figure instead (for a notebook, or to
style it further). Before a figure is returned its text is measured as drawn:
titles and axis labels are wrapped to the width of their figure or panel,
and ticks are thinned (or category labels wrapped, or turned upright) until
no two tick labels overlap.

Figures use matplotlib's object-oriented API (no pyplot state, so plots can
be drawn from worker threads), and their own text sizes whatever the global
``rcParams`` say: other libraries change those on import (ZigZag sets
20-point axis labels), and the fitting above is laid out for these sizes.
matplotlib is the ``plots`` extra:
``pip install 'archgym[plots]'``.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import pandas as pd

from archgym.errors import ConfigurationError

__all__ = [
    "convergence_figure",
    "lottery_figure",
    "pareto_figure",
    "plot_convergence",
    "plot_lottery",
    "plot_pareto",
    "plot_predictions",
    "predictions_figure",
    "require_matplotlib",
    "scatter_figure",
    "scatter_plot",
]

_DPI = 130
_TEXT_SIZES: dict[Any, Any] = {
    "font.size": 10.0,
    "axes.titlesize": "large",
    "axes.labelsize": "medium",
    "xtick.labelsize": "medium",
    "ytick.labelsize": "medium",
    "legend.fontsize": "medium",
    "legend.title_fontsize": None,
    "figure.titlesize": "large",
}
"""matplotlib's default text sizes, which every figure is drawn with."""
_TITLE_POINTS = 12.0
"""Font size of figure titles (matplotlib's ``large``)."""
_PANEL_TITLE_POINTS = 9.0
"""Font size of panel titles."""
_TITLE_MARGIN_POINTS = 6.0
"""Space kept free on either side of a figure title."""
_TICK_GAP_POINTS = 4.0
"""Least space between neighbouring tick labels."""
_PANEL_ROOM = 0.95
"""Share of a panel's width (or height) its title and axis labels are wrapped to."""
_FIT_PASSES = 4
"""Layout passes at most: wrapping a title or thinning ticks moves the layout, which can change what fits."""
_LOG_SUBS = ((1.0, 2.0, 3.0, 5.0), (1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))
"""Multiples of powers of ten labelled on log axes, densest first."""
_LINEAR_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
"""Tick steps (times a power of ten) allowed on linear axes."""
_ENGINEERING_FROM = 1e4
"""Linear axes whose values reach this magnitude get engineering-prefix labels (``150k``, not ``150000``)."""
_SMALLEST_PERCENT = 0.01
"""Errors below this percentage print as ``<0.01 %`` rather than as digits of rounding noise."""
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


_Arguments = ParamSpec("_Arguments")
_Result = TypeVar("_Result")


def _own_text_sizes(function: Callable[_Arguments, _Result]) -> Callable[_Arguments, _Result]:
    """Run ``function`` with :data:`_TEXT_SIZES` in force (tick labels are made as late as drawing)."""

    @wraps(function)
    def with_sizes(*args: _Arguments.args, **kwargs: _Arguments.kwargs) -> _Result:
        require_matplotlib()
        import matplotlib

        with matplotlib.rc_context(_TEXT_SIZES):
            return function(*args, **kwargs)

    return with_sizes


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


# -- fitting text to the figure ---------------------------------------------------------------------


def _wrap(text: str, width: float, measure: Callable[[str], float], break_words: bool = True) -> str:
    """``text`` broken into lines no wider than ``width`` as ``measure`` draws them.

    Lines break after a space, ``_``, ``-`` or ``/``; a word wider than the
    whole line is broken between characters, with ``break_words``. Line
    breaks already in ``text`` are kept.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in re.split(r"(?<=[ _/-])", paragraph):
            if measure((line + word).rstrip()) <= width or not line and not break_words:
                line += word
                continue
            if line:
                lines.append(line.rstrip())
            line = word
            while break_words and measure(line.rstrip()) > width and len(line) > 1:
                cut = next(n for n in range(len(line) - 1, 0, -1) if measure(line[:n]) <= width or n == 1)
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line.rstrip())
    return "\n".join(lines)


def _fit_text(artist: Any, text: str, width: float, renderer: Any) -> bool:
    """Wrap ``text`` into ``artist`` to fit ``width`` pixels; whether the artist's text changed."""
    properties = artist.get_fontproperties()

    def measure(line: str) -> float:
        return float(renderer.get_text_width_height_descent(line, properties, ismath=False)[0])

    wrapped = _wrap(text, width, measure)
    if wrapped == artist.get_text():
        return False
    artist.set_text(wrapped)
    return True


def _drawn_tick_labels(side: Any, renderer: Any) -> list[Any]:
    """The major tick labels of an axis that are drawn: inside its view and not empty."""
    low, high = sorted(side.get_view_interval())
    slack = 1e-9 * (abs(low) + abs(high))
    locations = side.get_majorticklocs()
    return [
        tick.label1 for location, tick in zip(locations, side.get_major_ticks(len(locations)))
        if low - slack <= location <= high + slack and tick.label1.get_visible() and tick.label1.get_text()
    ]


def _labels_overlap(side: Any, labels: Sequence[Any], renderer: Any) -> bool:
    """Whether any two neighbouring ``labels`` of ``side`` come closer than the tick gap."""
    gap = _TICK_GAP_POINTS * renderer.points_to_pixels(1.0)
    horizontal = side.axis_name == "x"
    spans = sorted(
        (box.x0, box.x1) if horizontal else (box.y0, box.y1)
        for box in (label.get_window_extent(renderer) for label in labels)
    )
    return any(following[0] - previous[1] < gap for previous, following in itertools.pairwise(spans))


def _sparser_locator(side: Any, drawn: int) -> Any | None:
    """A locator that draws fewer than ``drawn`` (but at least two) ticks in the axis' view, or None."""
    from matplotlib.ticker import LogLocator, MaxNLocator

    low, high = sorted(side.get_view_interval())
    scale = side.get_scale()
    candidates: list[Any] = []
    if scale == "log":
        candidates += [LogLocator(subs=subs, numticks=drawn) for subs in _LOG_SUBS]
        candidates += [LogLocator(subs=(1.0,), numticks=count) for count in range(drawn - 1, 1, -1)]
    if scale in ("log", "linear"):
        candidates += [MaxNLocator(nbins=bins, steps=list(_LINEAR_STEPS)) for bins in range(drawn - 1, 0, -1)]
    for locator in candidates:
        ticks = locator.tick_values(low, high)
        if 2 <= sum(low <= t <= high for t in ticks) < drawn:
            return locator
    return None


def _fit_categories(side: Any, renderer: Any) -> bool:
    """Wrap category labels to the room each has, or turn them upright if a word alone is too wide.

    Returns whether anything changed.
    """
    labels = [label for label in side.get_ticklabels() if label.get_text()]
    if any(label.get_rotation() for label in labels):
        return False
    gap = _TICK_GAP_POINTS * renderer.points_to_pixels(1.0)
    room = side.axes.get_window_extent(renderer).width / len(labels) - gap
    properties = labels[0].get_fontproperties()

    def measure(line: str) -> float:
        return float(renderer.get_text_width_height_descent(line, properties, ismath=False)[0])

    texts = [label.get_text() for label in labels]
    wrapped = [_wrap(text, room, measure, break_words=False) for text in texts]
    if wrapped != texts and all(measure(line) <= room for text in wrapped for line in text.split("\n")):
        side.set_ticklabels(wrapped)
        return True
    # Upright labels are as tall as the widest is wide: the figure grows by that, not the panels shrink.
    figure = side.axes.get_figure(root=True)
    widest = max((label.get_window_extent(renderer) for label in labels), key=lambda box: box.width)
    figure.set_figheight(figure.get_figheight() + (widest.width - widest.height) / figure.dpi)
    for label in labels:
        label.set_rotation(90)
    return True


def _declutter(side: Any, renderer: Any) -> bool:
    """Make an axis' overlapping tick labels readable; whether anything changed.

    Numeric axes get fewer ticks; category labels (which must all stay) are
    wrapped, or turned upright when that is not enough.
    """
    from matplotlib.ticker import FixedLocator

    labels = _drawn_tick_labels(side, renderer)
    if len(labels) < 2 or not _labels_overlap(side, labels, renderer):
        return False
    if isinstance(side.get_major_locator(), FixedLocator):
        return side.axis_name == "x" and _fit_categories(side, renderer)
    locator = _sparser_locator(side, len(labels))
    if locator is None:
        return False
    side.set_major_locator(locator)
    return True


def _finish(figure: Any, title: str) -> Any:
    """Title ``figure`` and fit its text: titles and axis labels wrapped to their width, tick labels apart.

    Each pass lays the figure out, measures the text as drawn and changes
    what does not fit; passes repeat until nothing changes, since every change
    moves the layout.
    """
    # Each text with its own words and what bounds it: an axes' width or height, or (None) the figure's width.
    texts: list[tuple[Any, str, Any, str]] = []
    for axis in figure.axes:
        if axis.get_visible():
            for artist, along in ((axis.title, "width"), (axis.xaxis.label, "width"), (axis.yaxis.label, "height")):
                if artist.get_text():
                    texts.append((artist, artist.get_text(), axis, along))
    if title:
        texts.append((figure.suptitle(title, fontsize=_TITLE_POINTS), title, None, "width"))
    for _ in range(_FIT_PASSES):
        figure.draw_without_rendering()
        renderer = figure.canvas.get_renderer()
        changed = False
        for artist, text, axis, along in texts:
            if axis is None:
                room = figure.bbox.width - 2 * renderer.points_to_pixels(_TITLE_MARGIN_POINTS)
            else:
                # A little short of the panel: wrapping moves the layout, and the panel may then shrink a bit.
                room = _PANEL_ROOM * getattr(axis.get_window_extent(renderer), along)
            changed |= _fit_text(artist, text, room, renderer)
        for axis in figure.axes:
            if axis.get_visible():
                for side in (axis.xaxis, axis.yaxis):
                    changed |= _declutter(side, renderer)
        if not changed:
            break
    return figure


@_own_text_sizes
def _save(figure: Any, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # "tight" trims the margins the layout left; the text already fits inside the figure.
    figure.savefig(path, dpi=_DPI, bbox_inches="tight", pad_inches=0.05)
    return path


def _engineering_labels(side: Any) -> None:
    """Label a linear axis of large values with engineering prefixes (``150k``), which stay short."""
    from matplotlib.ticker import EngFormatter

    low, high = side.get_view_interval()
    if max(abs(low), abs(high)) >= _ENGINEERING_FROM:
        side.set_major_formatter(EngFormatter(sep=""))


# -- sweep results ----------------------------------------------------------------------------------


@_own_text_sizes
def convergence_figure(curves: pd.DataFrame, title: str = "") -> Any:
    """The figure of :func:`plot_convergence`, finished but not saved."""
    workloads = list(pd.unique(curves["workload"]))
    objectives = list(pd.unique(curves["objective"]))
    agents = list(pd.unique(curves["agent"]))
    colours = _colours(agents)
    figure, axes = _figure(len(workloads), len(objectives), 4.2, 3.0)
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
            axis.set_title(f"workload {workload}, objective {objective}", fontsize=_PANEL_TITLE_POINTS)
            if row == len(workloads) - 1:
                axis.set_xlabel("evaluations")
            if column == 0:
                axis.set_ylabel("regret (%)")
    axes[0, -1].legend(fontsize=7, loc="upper right", title="median, quartiles", title_fontsize=7)
    return _finish(figure, title)


def plot_convergence(curves: pd.DataFrame, path: str | os.PathLike[str], title: str = "") -> Path:
    """Regret of the best design found so far against evaluations, one panel per workload and objective.

    Each agent's line is the median over its runs, the band between the quartiles.

    Args:
        curves: Columns ``workload``, ``objective``, ``agent``, ``evaluation``
            (1-based), ``median``, ``q25`` and ``q75`` (regret in %), as from
            :func:`archgym.report.convergence_curves`.
        path: PNG to write.
        title: Figure title.

    Returns:
        The path written.
    """
    return _save(convergence_figure(curves, title), path)


@_own_text_sizes
def lottery_figure(settings: pd.DataFrame, budget: float | None = None, title: str = "") -> Any:
    """The figure of :func:`plot_lottery`, finished but not saved."""
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
    return _finish(figure, title)


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
    return _save(lottery_figure(settings, budget, title), path)


@_own_text_sizes
def pareto_figure(points: pd.DataFrame, x: str, y: str, title: str = "") -> Any:
    """The figure of :func:`plot_pareto`, finished but not saved."""
    problems = list(dict.fromkeys(zip(points["env"], points["workload"]))) if "env" in points.columns else [
        (None, workload) for workload in pd.unique(points["workload"])]
    several_envs = len({env for env, _ in problems}) > 1
    agents = sorted(pd.unique(points["agent"]))
    colours = _colours(agents)
    columns = min(len(problems), 2)
    rows = -(-len(problems) // columns)
    figure, axes = _figure(rows, columns, 4.2, 3.4)
    for index, (env, workload) in enumerate(problems):
        axis = axes[index // columns, index % columns]
        panel = points[points["workload"] == workload]
        if env is not None:
            panel = panel[panel["env"] == env]
        for rank, agent in enumerate(agents):
            front = panel[panel["agent"] == agent].sort_values("x")
            if not front.empty:
                axis.step(front["x"], front["y"], where="post", color=colours[agent], lw=1.0, alpha=0.8)
                # Earlier agents' dots are larger, so a point two agents share shows both colours.
                axis.scatter(front["x"], front["y"], s=10 + 14 * (len(agents) - 1 - rank), color=colours[agent],
                             label=f"agent {agent}", zorder=3 + rank)
        best = panel[panel["global_front"]].drop_duplicates(["x", "y"]).sort_values("x")
        axis.step(best["x"], best["y"], where="post", color="black", lw=1.6, ls="--", label="front of all agents")
        axis.set_title(f"{env}, workload {workload}" if several_envs else f"workload {workload}",
                       fontsize=_PANEL_TITLE_POINTS)
        axis.set_xlabel(x)
        axis.set_ylabel(y)
        axis.grid(alpha=0.3, lw=0.5)
        _engineering_labels(axis.xaxis)
        _engineering_labels(axis.yaxis)
    for index in range(len(problems), rows * columns):
        axes[index // columns, index % columns].set_visible(False)
    axes[0, 0].legend(fontsize=7)
    return _finish(figure, title)


def plot_pareto(points: pd.DataFrame, x: str, y: str, path: str | os.PathLike[str], title: str = "") -> Path:
    """Pareto fronts of two metrics, one panel per workload: each agent's front and the front of all agents.

    Args:
        points: Non-dominated points with columns ``workload``, ``agent``, ``x``,
            ``y`` and ``global_front`` (bool), and ``env`` when there is more
            than one problem, as from :func:`archgym.report.pareto_fronts`.
        x: Metric on the horizontal axis (for the label).
        y: Metric on the vertical axis (for the label).
        path: PNG to write.
        title: Figure title.

    Returns:
        The path written.
    """
    return _save(pareto_figure(points, x, y, title), path)


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
    axes start with fewer ticks per decade the more decades they span, and all
    ticks get engineering-prefix labels (``20k``, ``1.5M``); :func:`_finish`
    thins whatever still overlaps.
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
    """A percentage with the digits it needs: a small error does not print as zero, a tiny one as a bound."""
    if math.isnan(value):
        return "-"
    if value == 0 or abs(value) >= 1:
        return f"{value:.1f} %"
    return f"{value:.2g} %" if abs(value) >= _SMALLEST_PERCENT else f"<{_SMALLEST_PERCENT:g} %"


@_own_text_sizes
def scatter_figure(
    pairs: pd.DataFrame,
    metrics: Sequence[str] | None,
    predicted_label: str = "predicted",
    reference_label: str = "reference",
    units: Mapping[str, str] | None = None,
    title: str = "",
) -> Any:
    """The figure of :func:`scatter_plot`, finished but not saved."""
    # Imported here: archgym.validate re-exports scatter_plot, so it imports this module first.
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
    return _finish(figure, title or f"{predicted_label} against {reference_label}")


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
    return _save(scatter_figure(pairs, metrics, predicted_label, reference_label, units, title), path)


@_own_text_sizes
def predictions_figure(frame: pd.DataFrame, targets: Sequence[str], title: str = "") -> Any:
    """The figure of :func:`plot_predictions`, finished but not saved."""
    # Imported here: archgym.proxy re-exports plot_predictions, so it imports this module first.
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
    return _finish(figure, title or f"proxy predictions against true values ({len(frame)} rows)")


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
    return _save(predictions_figure(frame, targets, title), path)
