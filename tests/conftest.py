"""Shared test settings: tests that need the DRAMSys reference data outside the project.

Tests marked ``shared_reference`` read ``../shared/reference/dram`` (measurements
of the real DRAMSys that live beside the project, not in it). Where that folder
is absent they are skipped with a reason that says so, unless
``ARCHGYM_REQUIRE_SHARED_REFERENCE`` is set (CI sets it): then they fail, so a
fidelity check never disappears silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "dram"
"""The shared DRAMSys reference data (DDR3-1600 measurements and the exact reference traces)."""

REQUIRE_VARIABLE = "ARCHGYM_REQUIRE_SHARED_REFERENCE"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"shared_reference: needs {SHARED_REFERENCE}; fails instead of skipping if {REQUIRE_VARIABLE} is set"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("shared_reference") is None or SHARED_REFERENCE.is_dir():
        return
    reason = (
        f"needs the shared DRAMSys reference data at {SHARED_REFERENCE} (real-simulator measurements kept "
        "beside the project, not in it)"
    )
    if os.environ.get(REQUIRE_VARIABLE):
        pytest.fail(f"{reason}; {REQUIRE_VARIABLE} is set, so these tests are required", pytrace=False)
    pytest.skip(reason)
