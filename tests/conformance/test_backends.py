"""Every registered backend keeps the CostModel contract (archgym.testing.check_cost_model).

Backends that cannot run here are skipped with the reason their registration
gives. Proxy backends serve a tiny proxy trained here on the problem's
analytical backend; slow external simulators are checked on a small workload
with two probe designs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from archgym.cost_model import list_backends, make_backend
from archgym.proxy import train_proxy
from archgym.simulators.accelerator.workloads import Layer, Network
from archgym.testing import check_cost_model

PROXY_TRAINING_DESIGNS = 40

# One small layer keeps each ZigZag run short.
SMALL_NETWORK = Network("small", (Layer("pointwise", "conv", 1, 32, 32, 8, 8, 1, 1),))
SLOW_BACKENDS = ("dram/dramsys", "accelerator/zigzag", "soc/farsi")
"""External simulators: two probe designs instead of eight."""

BACKENDS = [info.name for info in list_backends()]
BACKEND_PARAMS = [
    pytest.param(name, marks=pytest.mark.slow) if name in SLOW_BACKENDS else name for name in BACKENDS
]


def _train_tiny_proxy(problem: str, directory: Path) -> Path:
    """A proxy of ``problem`` learned from its analytical backend on a few random designs."""
    analytical = make_backend(f"{problem}/analytical")
    try:
        space = analytical.design_space
        indices = space.sample_indices(PROXY_TRAINING_DESIGNS, np.random.default_rng(0))
        batch = analytical.evaluate_batch(indices)
        frame = pd.DataFrame([space.decode(row) for row in indices])
        frame["workload"] = str(analytical.default_workload)
        for name, values in batch.metrics.items():
            frame[name] = values
        frame = frame[batch.feasible]
        proxy = train_proxy(frame, problem, targets=list(analytical.metric_names), test_fraction=0.0, seed=0)
    finally:
        analytical.close()
    return proxy.save(directory / problem)


@pytest.fixture(scope="session")
def tiny_proxy(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The directory of a tiny proxy of a problem, trained on first request."""
    directory = tmp_path_factory.mktemp("proxies")
    trained: dict[str, Path] = {}

    def proxy_of(problem: str) -> Path:
        if problem not in trained:
            trained[problem] = _train_tiny_proxy(problem, directory)
        return trained[problem]

    return proxy_of


def test_every_bundled_backend_is_registered():
    assert {"dram/analytical", "dram/proxy", "accelerator/analytical", "soc/analytical"} <= set(BACKENDS)


@pytest.mark.parametrize("name", BACKEND_PARAMS)
def test_backend_conformance(name: str, tiny_proxy: Callable[[str], Path]) -> None:
    info = next(info for info in list_backends() if info.name == name)
    reason = info.unavailable_reason()
    if reason:
        pytest.skip(f"backend {name} is unavailable here: {reason}")
    options: dict[str, Any] = {}
    workload = None
    if name.endswith("/proxy"):
        options["proxy"] = tiny_proxy(name.split("/", 1)[0])
    n_designs = 2 if name in SLOW_BACKENDS else 8
    if name == "accelerator/zigzag":
        workload = SMALL_NETWORK
        options["default_workload"] = workload
        n_designs = 1  # seconds per evaluation; its own tests cover more designs
    model = make_backend(name, **options)
    try:
        check_cost_model(model, workload, n_designs=n_designs)
    finally:
        model.close()
