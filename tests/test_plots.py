"""Plots: titles that fit their figure, and predicted-vs-true panels on log or linear axes."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archgym.plots import plot_convergence, plot_predictions

pytest.importorskip("matplotlib", reason="plots need the optional matplotlib dependency (archgym[plots])")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels, from the PNG header."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_a_long_title_is_wrapped_to_the_figure_not_cut_or_widening_it(tmp_path: Path) -> None:
    evaluations = np.arange(1, 31)
    curves = pd.DataFrame({
        "workload": "stream", "objective": "time", "agent": "ga", "evaluation": evaluations,
        "median": np.linspace(40.0, 0.0, len(evaluations)),
    })
    curves["q25"], curves["q75"] = 0.8 * curves["median"], 1.2 * curves["median"]
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
