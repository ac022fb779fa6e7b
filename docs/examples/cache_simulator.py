"""A backend that runs an external program: a cache simulator for the ``cache`` problem.

Importing this module registers the backend ``cache/sim``. It runs the
program named by the ``CACHE_SIM`` environment variable (or given as
``binary=``) once per design, in a private temporary directory, under a
timeout. Here the "simulator" is a small Python script that
:func:`write_simulator` writes; run ``python cache_simulator.py`` to try it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from cache_problem import CACHE_PROBLEM, locality

from archgym.cost_model import make_backend, register_backend
from archgym.external import ExternalSimulator, SimulatorOutputError, SimulatorRun
from archgym.testing import check_cost_model

SIMULATOR_SCRIPT = '''\
"""Stand-in cache simulator: cachesim CONFIG.json prints the miss rate and the area."""
import json
import math
import sys

config = json.load(open(sys.argv[1]))
size_kib, ways = config["size_kib"], config["ways"]
sets = size_kib * 1024 // (64 * ways)
if sets < 32:
    sys.exit(f"error: {sets} sets; the index needs at least 32")  # status 1, message on stderr
miss_rate = config["locality"] / math.sqrt(size_kib) * (1.0 + 0.5 / ways)
miss_rate = min(1.0, miss_rate * (1.1 if config["policy"] == "random" else 1.0))
print(f"miss rate: {miss_rate:.9f}")
print(f"area: {12000.0 * size_kib * (1.0 + 0.04 * ways):.3f} um2")
'''

_AREA_UNITS = {"um2": 1e-6, "mm2": 1.0}
_MISS_RATE = re.compile(r"^miss rate:\s*(\S+)$", re.MULTILINE)
_AREA = re.compile(r"^area:\s*(\S+)\s+(\S+)$", re.MULTILINE)


class CacheSimulator(ExternalSimulator):
    """Runs the cache simulator once per design (arguments as in :class:`ExternalSimulator`)."""

    name = "cache/sim"
    problem = CACHE_PROBLEM
    tool: ClassVar[str] = "cachesim"
    binary_variable: ClassVar[str | None] = "CACHE_SIM"
    binary_description: ClassVar[str] = "the cache simulator (write one with write_simulator(path))"

    def workload_inputs(self, workload: Any) -> float:
        return locality(workload)  # once per batch; an unknown workload raises here, not in a run

    def prepare(self, workload: Any = None) -> None:
        self.workload_inputs(workload)

    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: float) -> None:
        (folder / "config.json").write_text(json.dumps({**design, "locality": inputs}))

    def command(self, folder: Path, design: Mapping[str, Any], inputs: float) -> Sequence[str]:
        # A compiled simulator would be [self.binary, "config.json"]; this one is a Python script.
        return [sys.executable, str(self.binary), "config.json"]

    def parse_outputs(self, run: SimulatorRun, design: Mapping[str, Any], inputs: float) -> dict[str, float]:
        miss_rate, area = _MISS_RATE.search(run.stdout), _AREA.search(run.stdout)
        if miss_rate is None or area is None or area.group(2) not in _AREA_UNITS:
            raise SimulatorOutputError("expected 'miss rate: <number>' and 'area: <number> um2|mm2' lines")
        area_mm2 = float(area.group(1)) * _AREA_UNITS[area.group(2)]  # units converted explicitly
        return {"miss_rate": float(miss_rate.group(1)), "area_mm2": area_mm2}


register_backend(
    "cache/sim",
    CacheSimulator,
    "the cache simulator named by CACHE_SIM, tens of milliseconds per design",
    availability=CacheSimulator.unavailable_reason,
)


def write_simulator(path: str | Path) -> Path:
    """Write the stand-in simulator to ``path`` as an executable file, and return its path."""
    path = Path(path)
    path.write_text(SIMULATOR_SCRIPT)
    path.chmod(0o755)
    return path


def main(folder: str | Path = ".") -> dict[str, float]:
    """Write the simulator into ``folder``, score the default design with it, and check the backend."""
    simulator = write_simulator(Path(folder) / "cachesim.py")
    model = make_backend("cache/sim", binary=simulator, timeout_s=10.0)
    evaluation = model.evaluate(CACHE_PROBLEM.default_design, "random")
    print(f"default design on 'random': {dict(evaluation.metrics)} in {evaluation.wall_time_s:.2f} s")
    report = check_cost_model(model, n_designs=3)
    print(f"{report.subject}: {len(report.passed)} checks passed")
    model.close()
    return dict(evaluation.metrics)


if __name__ == "__main__":
    main()
