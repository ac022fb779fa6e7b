"""Plots: text that fits its figure (titles, panel titles, axis labels), tick labels apart, and honest numbers."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from archgym.plots import (
    convergence_figure,
    lottery_figure,
    pareto_figure,
    plot_convergence,
    plot_predictions,
    predictions_figure,
    scatter_figure,
)

pytest.importorskip("matplotlib", reason="plots need the optional matplotlib dependency (archgym[plots])")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDE_TITLE = "WWWW MMMM " * 8 + "(a title of the widest letters, far longer than any figure is wide)"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels, from the PNG header."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def drawn(figure: Any) -> Any:
    """Draw ``figure`` and return its renderer."""
    figure.canvas.draw()
    return figure.canvas.get_renderer()


def assert_inside_figure(figure: Any) -> None:
    """Everything drawn, and the figure title in particular, lies within the figure."""
    renderer = drawn(figure)
    bounds = figure.bbox.padded(0.5)
    everything = figure.get_tightbbox(renderer).transformed(figure.dpi_scale_trans)
    assert bounds.x0 <= everything.x0 and everything.x1 <= bounds.x1, (everything, bounds)
    assert bounds.y0 <= everything.y0 and everything.y1 <= bounds.y1, (everything, bounds)
    for text in figure.texts:
        box = text.get_window_extent(renderer)
        assert bounds.x0 <= box.x0 and box.x1 <= bounds.x1 and bounds.y0 <= box.y0 and box.y1 <= bounds.y1, (
            text.get_text(), box, bounds)


def assert_panel_text_fits(figure: Any) -> None:
    """Every panel title and x label is no wider than its panel; every y label no taller."""
    renderer = drawn(figure)
    for axis in figure.axes:
        if not axis.get_visible():
            continue
        panel = axis.get_window_extent(renderer)
        for text in (axis.title, axis.xaxis.label):
            if text.get_text():
                assert text.get_window_extent(renderer).width <= panel.width + 0.5, text.get_text()
        if axis.yaxis.label.get_text():
            assert axis.yaxis.label.get_window_extent(renderer).height <= panel.height + 0.5


def overlapping_tick_labels(figure: Any) -> list[tuple[str, str]]:
    """Pairs of drawn tick labels (on one axis of one panel) whose boxes overlap."""
    renderer = drawn(figure)
    clashes = []
    for axis in figure.axes:
        if not axis.get_visible():
            continue
        for side in (axis.xaxis, axis.yaxis):
            low, high = sorted(side.get_view_interval())
            slack = 1e-9 * (abs(low) + abs(high))
            boxes = [
                (tick.label1.get_text(), tick.label1.get_window_extent(renderer))
                for tick in side.get_major_ticks()
                if low - slack <= tick.get_loc() <= high + slack and tick.label1.get_text()
            ]
            clashes += [(a, b) for i, (a, box_a) in enumerate(boxes) for b, box_b in boxes[i + 1:]
                        if box_a.overlaps(box_b)]
    return clashes


def convergence_curves(workload: str = "stream") -> pd.DataFrame:
    evaluations = np.arange(1, 31)
    curves = pd.DataFrame({
        "workload": workload, "objective": "time", "agent": "ga", "evaluation": evaluations,
        "median": np.linspace(40.0, 0.0, len(evaluations)),
    })
    curves["q25"], curves["q75"] = 0.8 * curves["median"], 1.2 * curves["median"]
    return curves


def settings_table(agents: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "agent": agents, "setting": "defaults", "success_rate": np.linspace(0.2, 0.9, len(agents)),
        "median_evaluations_to_target": [10.0 * (index + 1) for index in range(len(agents) - 1)] + [np.inf],
    })


def pareto_points(workload: str = "random") -> pd.DataFrame:
    """Two agents' fronts with total times around 1e5 ns, like the DRAM problem's."""
    time = np.linspace(7.2e4, 4.4e5, 12)
    return pd.DataFrame({
        "env": "dram", "workload": workload, "agent": np.repeat(["ga", "random"], 12),
        "x": np.tile(time, 2), "y": np.tile(3.2e3 * 7.2e4 / time, 2) + np.repeat([0.0, 50.0], 12),
        "global_front": np.repeat([True, False], 12),
    })


def predictions(low: float, high: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    true = np.exp(rng.uniform(np.log(low), np.log(high), 60))
    return pd.DataFrame({"workload": "stream", "time": true, "time_predicted": true * rng.uniform(0.9, 1.1, 60)})


def validation_pairs() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    reference = rng.uniform(2e4, 9e5, 30)
    return pd.DataFrame({
        "workload": "stream", "time_predicted": reference * rng.uniform(0.8, 1.2, 30), "feasible_predicted": True,
        "time_reference": reference, "feasible_reference": True,
    })


FIGURES: dict[str, Callable[[str], Any]] = {
    "convergence": lambda title: convergence_figure(convergence_curves(), title=title),
    "lottery": lambda title: lottery_figure(settings_table(["ga", "random"]), budget=100, title=title),
    "pareto": lambda title: pareto_figure(pareto_points(), "total_time_ns", "power_mw", title=title),
    "predictions": lambda title: predictions_figure(predictions(3e4, 3e5), ["time"], title=title),
    "scatter": lambda title: scatter_figure(validation_pairs(), ["time"], "analytical", "dramsys", title=title),
}


@pytest.mark.parametrize("kind", sorted(FIGURES))
def test_a_title_wider_than_the_figure_is_wrapped_inside_it(kind: str) -> None:
    figure = FIGURES[kind](WIDE_TITLE)
    assert_inside_figure(figure)
    (title,) = [text for text in figure.texts if "WWWW" in text.get_text()]
    assert title.get_text().count("\n") >= 1
    assert " ".join(title.get_text().split()) == " ".join(WIDE_TITLE.split())  # wrapped, no word lost


@pytest.mark.parametrize("kind", sorted(FIGURES))
def test_no_tick_labels_overlap(kind: str) -> None:
    assert overlapping_tick_labels(FIGURES[kind]("")) == []


def test_the_pareto_plot_of_large_values_has_short_tick_labels_apart() -> None:
    figure = pareto_figure(pareto_points(), "total_time_ns", "power_mw")
    assert overlapping_tick_labels(figure) == []
    side = figure.axes[0].xaxis
    low, high = side.get_view_interval()
    labels = [tick.label1.get_text() for tick in side.get_major_ticks() if low <= tick.get_loc() <= high]
    assert len(labels) >= 3 and all(label.endswith("k") and len(label) <= 5 for label in labels)  # 100k, not 100000


@pytest.mark.parametrize("low, high", [(950, 1050), (0.3, 3), (30, 3000), (1e-3, 1e9), (123456, 987654),
                                       (1.5e-3, 2e-3), (5, 5e6)])
def test_predicted_against_true_tick_labels_stay_apart_at_any_range(low: float, high: float) -> None:
    figure = predictions_figure(predictions(low, high), ["time"])
    assert overlapping_tick_labels(figure) == []
    assert_inside_figure(figure)


def test_long_category_labels_are_kept_and_stay_apart() -> None:
    agents = ["reinforcement_learning_agent", "bayesian_optimisation", "genetic_algorithm", "random"]
    figure = lottery_figure(settings_table(agents), budget=100)
    assert overlapping_tick_labels(figure) == []
    assert_inside_figure(figure)
    shown = ["".join(label.get_text().split("\n")) for label in figure.axes[0].get_xticklabels()]
    assert shown == agents


def test_panel_titles_and_axis_labels_fit_their_panel() -> None:
    trace = "traces/" + "very_long_directory_name/" * 4 + "cloud-1.stl"
    assert_panel_text_fits(convergence_figure(convergence_curves(trace)))
    figure = pareto_figure(pareto_points(trace), "total_time_ns", "average_power_of_the_memory_in_milliwatts")
    assert_panel_text_fits(figure)
    assert_inside_figure(figure)


def test_figures_keep_their_text_sizes_whatever_the_global_settings() -> None:
    """Importing ZigZag sets 20-point axis labels globally; figures drawn afterwards still fit."""
    import matplotlib

    trace = "traces/" + "very_long_directory_name/" * 4 + "cloud-1.stl"
    with matplotlib.rc_context({"axes.labelsize": 20.0, "axes.titlesize": 14.0, "xtick.labelsize": 12.0,
                                "ytick.labelsize": 12.0, "figure.titlesize": 16.0}):
        figure = convergence_figure(convergence_curves(trace))
        assert_panel_text_fits(figure)
        assert figure.axes[0].xaxis.label.get_fontsize() == pytest.approx(10.0)


def test_pareto_panels_say_they_are_workloads_and_the_legend_names_agents() -> None:
    figure = pareto_figure(pareto_points("random"), "total_time_ns", "power_mw")
    assert figure.axes[0].get_title() == "workload random"
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert legend == ["agent ga", "agent random", "front of all agents"]


def test_small_errors_keep_their_digits_and_tiny_ones_print_as_a_bound() -> None:
    frame = predictions(3e4, 3e5)
    frame["exact"] = frame["time"]
    frame["exact_predicted"] = frame["time"] * (1 + 1e-14)
    frame["close"] = frame["time"]
    frame["close_predicted"] = frame["time"] * 1.0003
    titles = [" ".join(axis.get_title().split()) for axis in predictions_figure(frame, ["exact", "close"]).axes[:2]]
    assert titles[0].endswith("median |error| <0.01 %")
    assert titles[1].endswith("median |error| 0.03 %")


def test_a_long_title_is_wrapped_to_the_figure_not_cut_or_widening_it(tmp_path: Path) -> None:
    curves = convergence_curves()
    short = plot_convergence(curves, tmp_path / "short.png", title="dram")
    long = plot_convergence(
        curves, tmp_path / "long.png",
        title="dram: regret against the best reward found by any run of the sweep (median, quartiles)",
    )
    # Unwrapped, the title would run past both edges (and "tight" saving would double the width).
    assert png_size(long) == png_size(short)


def test_prediction_plot_draws_positive_and_signed_targets(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    true = rng.uniform(1e3, 1e6, 40)
    frame = pd.DataFrame({
        "workload": np.repeat(["stream", "random"], 20),
        "time": true, "time_predicted": true * rng.uniform(0.9, 1.1, 40),
        "slack": true - 5e5, "slack_predicted": true - 5e5 + rng.normal(0, 1e4, 40),
    })
    path = plot_predictions(frame, ["time", "slack"], tmp_path / "plots" / "pred.png")
    width, height = png_size(path)
    assert width > height > 0
