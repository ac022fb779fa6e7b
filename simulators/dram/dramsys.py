"""DRAMSys 4 as a cost model (backend ``dram/dramsys``).

Runs a user-provided DRAMSys 4 binary, the cycle-accurate simulator behind
ArchGym's DRAM environment, on one controller design and one trace at a time.
The binary is found through the ``binary`` argument or the ``ARCHGYM_DRAMSYS``
environment variable; ArchGym's repository ships one at
``sims/DRAM/binary/DRAMSys/DRAMSys``.

Every evaluation writes a complete DRAMSys resources folder into its own
temporary directory and runs the binary there::

    <tmp>/simulation.json                    the run: which configs and which trace
    <tmp>/configs/memspecs/memspec.json      MemSpec.to_dramsys_json()
    <tmp>/configs/amconfigs/addressmapping.json
    <tmp>/configs/mcconfigs/mcconfig.json    the design (the ten knobs) plus fixed settings
    <tmp>/configs/simulator/simconfig.json
    <tmp>/configs/thermalsim/thermalconfig.json, powerInfo.json
    <tmp>/traces/workload.stl

and calls ``DRAMSys <tmp>/simulation.json <tmp>/`` with ``<tmp>`` as working
directory (DRAMSys writes any output files there), then deletes the folder. No
file is shared between evaluations, so any number of them can run at once, in
threads of one process (``workers``) or in separate processes. Finding the
binary, the folders, the timeout and process clean-up are those of every
external simulator (:class:`~archgym.external.ExternalSimulator`).

Controller settings outside the design space are fixed as in the DRAMSys
reference measurements: command multiplexer ``Oldest``, no power-down, power
analysis on, no database recording, no thermal simulation, no ECC.

DRAMSys 4's power model (DRAMPower) covers DDR3 and DDR4 only; DRAMSys stops
with "DRAMPower does not support LPDDR4" if asked for the power of another
standard. LPDDR4 runs therefore have power analysis off and report only
time and bandwidth: ``energy_pj`` and ``power_mw`` are NaN and listed in the
model's ``unreported_metrics``.

Metrics are parsed from DRAMSys's summary lines, with their units::

    DRAMSys.dram0  Total Energy:   354964950.00 pJ
    DRAMSys.dram0  Average Power:  1232.60 mW
    DRAMSys.controller0  Total Time:     287980 ns
    DRAMSys.controller0  AVG BW:         17.78 Gb/s (17.36 %)

Total time is printed in whatever SystemC time unit the run ends on (``ps``
or ``ns`` typically), so units are converted explicitly. ``AVG BW`` is in
gigabits per second; ``bandwidth_gbps`` is reported in gigabytes per second
(divided by 8), like the analytical model. With several channels, energies,
powers and bandwidths are summed and the total time is the latest one.

DRAMSys does not print the mean request latency, so ``avg_latency_ns`` is
always NaN here. The metric is kept so that datasets of this backend and of
``dram/analytical`` have the same columns.

A run that fails (non-zero exit, a crash, a timeout, output without the
summary lines) gives an infeasible :class:`~archgym.cost_model.Evaluation`
whose reason holds the return code and the end of DRAMSys's output; so does
output that cannot be physical (a negative energy or power, a total time
that is not positive: :func:`~archgym.external.check_physical`), with a
reason naming the metric and its value. Only bad input (an invalid design,
an unknown workload) raises. The timeout is the ``timeout_s`` backend option
(``--backend-option timeout_s=120``).
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from archgym.errors import WorkloadError
from archgym.external import (
    ExternalSimulator,
    SimulatorOutputError,
    SimulatorRun,
    make_scratch_directory,
    remove_scratch_directory,
)
from archgym.simulators.dram.analytical import DramProblem
from archgym.simulators.dram.knobs import DRAM_DESIGN_SPACE, dram_design_space
from archgym.simulators.dram.memspec import AddressMapping, MemSpec, default_address_mapping, load_memspec
from archgym.simulators.dram.trace import Trace, write_stl
from archgym.simulators.dram.workloads import resolve_workload, workload_name

ENV_VAR = "ARCHGYM_DRAMSYS"
"""Environment variable holding the path of the DRAMSys 4 binary."""

FIXED_CONTROLLER_SETTINGS: dict[str, str] = {"CmdMux": "Oldest", "PowerDownPolicy": "NoPowerDown"}
"""``mcconfig`` options that are not knobs, as in the DRAMSys reference measurements."""

# File names inside each evaluation's resources folder; DRAMSys looks them up by name.
_SIMULATION_FILE = "simulation.json"
_MEMSPEC_FILE = "memspec.json"
_MAPPING_FILE = "addressmapping.json"
_MCCONFIG_FILE = "mcconfig.json"
_SIMCONFIG_FILE = "simconfig.json"
_THERMAL_FILE = "thermalconfig.json"
_POWER_INFO_FILE = "powerInfo.json"
_TRACE_FILE = "workload.stl"

POWER_MODEL_TYPES = ("DDR3", "DDR4")
"""Memory standards whose energy and power DRAMSys 4 reports."""

_SIMCONFIG: dict[str, Any] = {
    "simconfig": {
        "AddressOffset": 0,
        "CheckTLM2Protocol": False,
        "DatabaseRecording": False,  # would write a database file per run
        "Debug": False,
        "ECCControllerMode": "Disabled",
        "EnableWindowing": False,
        "ErrorCSVFile": "",
        "ErrorChipSeed": 42,
        "PowerAnalysis": True,  # energy and power come from DRAMSys's power model
        "SimulationName": "archgym",
        "SimulationProgressBar": False,
        "StoreMode": "NoStorage",
        "ThermalSimulation": False,
        "UseMalloc": False,
        "WindowSize": 1000,
    }
}

# DRAMSys reads the thermal configuration (and the power-info file it names) even with
# ThermalSimulation off, so both are written although their values are unused.
_THERMAL_CONFIG: dict[str, Any] = {
    "thermalsimconfig": {
        "TemperatureScale": "Celsius",
        "StaticTemperatureDefaultValue": 89,
        "ThermalSimPeriod": 100,
        "ThermalSimUnit": "us",
        "PowerInfoFile": _POWER_INFO_FILE,
        "IceServerIp": "127.0.0.1",
        "IceServerPort": 11880,
        "SimPeriodAdjustFactor": 10,
        "NPowStableCyclesToIncreasePeriod": 5,
        "GenerateTemperatureMap": False,
        "GeneratePowerMap": False,
    }
}
_POWER_INFO: dict[str, Any] = {"powerInfo": {"dram_die_channel0": {"init_pow": 0, "threshold": 1.0}}}

# Exponents of ten from each unit to the reported one (ns, pJ, mW, Gb/s).
_TIME_UNITS = {"fs": -6, "ps": -3, "ns": 0, "us": 3, "\u00b5s": 3, "\u03bcs": 3, "ms": 6, "s": 9}
_ENERGY_UNITS = {"fJ": -3, "pJ": 0, "nJ": 3, "uJ": 6, "\u00b5J": 6, "\u03bcJ": 6, "mJ": 9, "J": 12}
_POWER_UNITS = {"nW": -6, "uW": -3, "\u00b5W": -3, "\u03bcW": -3, "mW": 0, "W": 3, "kW": 6}
_BANDWIDTH_UNITS = {"Kb/s": -6, "kb/s": -6, "Mb/s": -3, "Gb/s": 0, "Tb/s": 3}

_NUMBER = r"(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\w*)"


def _summary_line(label: str) -> re.Pattern[str]:
    # "<label>: <number> <unit>" on one line; [ \t] keeps a missing unit from matching the next line.
    return re.compile(rf"{re.escape(label)}:[ \t]*{_NUMBER}[ \t]*(?P<unit>\S+)", re.IGNORECASE)


_SUMMARY_LINES: dict[str, tuple[re.Pattern[str], dict[str, int]]] = {
    "Total Energy": (_summary_line("Total Energy"), _ENERGY_UNITS),
    "Average Power": (_summary_line("Average Power"), _POWER_UNITS),
    "Total Time": (_summary_line("Total Time"), _TIME_UNITS),
    # "AVG BW:" only: DRAMSys also prints "AVG BW\IDLE:" (bandwidth while busy).
    "AVG BW": (_summary_line("AVG BW"), _BANDWIDTH_UNITS),
}
_POWER_LINES = ("Total Energy", "Average Power")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

_TRACE_CACHE_SIZE = 16


class DramSysOutputError(SimulatorOutputError):
    """DRAMSys's output lacks a summary line or holds an unreadable value.

    :class:`DramSysModel` turns it into an infeasible evaluation; only
    :func:`parse_dramsys_output` raises it to callers.
    """


@dataclass(frozen=True)
class DramSysResult:
    """The summary of one DRAMSys run, in ArchGym's units.

    Args:
        energy_pj: Total DRAM energy.
        power_mw: Average DRAM power.
        total_time_ns: Simulated time until the trace finished.
        bandwidth_gbps: Average bandwidth in gigabytes per second.
    """

    energy_pj: float
    power_mw: float
    total_time_ns: float
    bandwidth_gbps: float

    def metrics(self) -> dict[str, float]:
        """The values under the metric names of :data:`DRAM_METRICS` (latency is NaN)."""
        return {
            "energy_pj": self.energy_pj,
            "power_mw": self.power_mw,
            "total_time_ns": self.total_time_ns,
            "avg_latency_ns": math.nan,  # DRAMSys does not report it
            "bandwidth_gbps": self.bandwidth_gbps,
        }


def _scaled(value: float, exponent: int) -> float:
    # Dividing by an exact power of ten keeps 51205000 ps -> 51205.0 ns exact.
    return value * 10**exponent if exponent >= 0 else value / 10**-exponent


def parse_dramsys_output(text: str, power: bool = True) -> DramSysResult:
    """Read the summary lines of DRAMSys's standard output.

    Args:
        text: Everything DRAMSys printed on standard output.
        power: Whether the run had power analysis on; without it energy and
            power are NaN and their lines are not looked for.

    Returns:
        Energy, power, total time and bandwidth in pJ, mW, ns and GB/s.

    Raises:
        DramSysOutputError: A summary line is missing, or a value is not a
            finite number or has an unknown unit.
    """
    text = _ANSI_ESCAPE.sub("", text)
    values: dict[str, list[float]] = {}
    for label, (pattern, units) in _SUMMARY_LINES.items():
        if not power and label in _POWER_LINES:
            values[label] = [math.nan]
            continue
        matches = list(pattern.finditer(text))
        if not matches:
            raise DramSysOutputError(f"no '{label}: <number> <unit>' line in the output")
        values[label] = []
        for match in matches:
            line = match.group(0).strip()
            try:
                value = float(match.group("value"))
            except ValueError:
                raise DramSysOutputError(f"unreadable number in {line!r}") from None
            if not math.isfinite(value):
                raise DramSysOutputError(f"non-finite value in {line!r}")
            unit = match.group("unit")
            if unit not in units:
                raise DramSysOutputError(
                    f"unknown unit {unit!r} in {line!r}; expected one of {', '.join(units)}"
                )
            values[label].append(_scaled(value, units[unit]))
    return DramSysResult(
        energy_pj=math.fsum(values["Total Energy"]),
        power_mw=math.fsum(values["Average Power"]),
        total_time_ns=max(values["Total Time"]),
        bandwidth_gbps=math.fsum(values["AVG BW"]) / 8.0,  # gigabits to gigabytes
    )


def _dump(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, indent=1).encode("utf-8")


class DramSysModel(DramProblem, ExternalSimulator):
    """Scores DRAM controller designs by running DRAMSys 4 (see the module docstring).

    Args:
        binary: Path of the DRAMSys 4 binary; by default the value of the
            ``ARCHGYM_DRAMSYS`` environment variable.
        memspec: Memspec preset name (see
            :func:`~archgym.simulators.dram.memspec.list_memspecs`), path to a
            DRAMSys memspec JSON, or a :class:`MemSpec`.
        address_mapping: Address mapping; defaults to row-bank-column for the memspec.
        timeout_s: Seconds one DRAMSys run may take before it is killed and
            the design reported infeasible.
        workers: DRAMSys processes :meth:`evaluate_batch` runs at once.
        keep_dirs: Keep each run's temporary folder (and log its path) for
            debugging, with DRAMSys's output saved in it, instead of deleting it.

    Raises:
        BackendUnavailableError: No binary is given and ``ARCHGYM_DRAMSYS`` is
            unset, or the binary is not an executable file.
        ConfigurationError: ``timeout_s`` or ``workers`` is out of range, or the
            address mapping does not fit the memspec.
    """

    name = "dram/dramsys"
    unreported_metrics = ("avg_latency_ns",)  # DRAMSys does not print it
    default_workload: Any = "stream"
    tool: ClassVar[str] = "DRAMSys"
    binary_variable: ClassVar[str | None] = ENV_VAR
    binary_description: ClassVar[str] = (
        "a DRAMSys 4 binary (e.g. the one shipped in the ArchGym repository at sims/DRAM/binary/DRAMSys/DRAMSys)"
    )

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        memspec: str | os.PathLike[str] | MemSpec = "ddr3-1600",
        address_mapping: AddressMapping | None = None,
        timeout_s: float = 60.0,
        workers: int = 1,
        keep_dirs: bool = False,
    ) -> None:
        super().__init__(binary=binary, timeout_s=timeout_s, workers=workers, keep_dirs=keep_dirs)
        self.memspec = memspec if isinstance(memspec, MemSpec) else load_memspec(memspec)
        self.mapping = address_mapping or default_address_mapping(self.memspec)
        self.mapping.check(self.memspec)
        self.design_space = dram_design_space(self.memspec)
        self.power_analysis = self.memspec.memory_type in POWER_MODEL_TYPES
        if not self.power_analysis:
            self.unreported_metrics = ("energy_pj", "power_mw", "avg_latency_ns")
        simconfig = copy.deepcopy(_SIMCONFIG)
        simconfig["simconfig"]["PowerAnalysis"] = self.power_analysis
        # Documents that are the same for every run, serialised once.
        self._fixed_files: dict[str, bytes] = {
            f"configs/memspecs/{_MEMSPEC_FILE}": _dump(self.memspec.to_dramsys_json()),
            f"configs/amconfigs/{_MAPPING_FILE}": _dump(self.mapping.to_dramsys_json()),
            f"configs/simulator/{_SIMCONFIG_FILE}": _dump(simconfig),
            f"configs/thermalsim/{_THERMAL_FILE}": _dump(_THERMAL_CONFIG),
            f"configs/thermalsim/{_POWER_INFO_FILE}": _dump(_POWER_INFO),
        }
        self._trace_text: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def describe(self) -> str:
        """One line naming the binary and the memory."""
        return f"DRAMSys ({self.binary}) on {self.memspec.name} ({self.memspec.memory_type})"

    def prepare(self, workload: Any = None) -> None:
        """Resolve the workload and render its trace file now (otherwise done on first use).

        Raises:
            UnknownNameError: No such workload.
            WorkloadError: The workload is malformed, or its request size is
                not one burst of the memory.
        """
        self.workload_inputs(workload)

    # -- inputs ------------------------------------------------------------------------------------
    def _trace(self, workload: Any) -> Trace:
        trace = resolve_workload(self.default_workload if workload is None else workload)
        if trace.request_bytes != self.memspec.bytes_per_burst:
            raise WorkloadError(
                f"workload {workload_name(trace)!r} has requests of {trace.request_bytes} bytes, but "
                f"DRAMSys serves one burst per request ({self.memspec.bytes_per_burst} bytes on "
                f"{self.memspec.name}); use a trace with request_bytes={self.memspec.bytes_per_burst}"
            )
        return trace

    def _trace_bytes(self, trace: Trace) -> bytes:
        key = trace.fingerprint()
        with self._lock:
            text = self._trace_text.get(key)
            if text is not None:
                self._trace_text.move_to_end(key)
                return text
        # Render outside the lock: a rare duplicate render is cheaper than serialising runs.
        scratch = make_scratch_directory("DRAMSys trace")
        try:
            text = write_stl(trace, scratch / _TRACE_FILE).read_bytes()
        finally:
            remove_scratch_directory(scratch)
        with self._lock:
            self._trace_text[key] = text
            while len(self._trace_text) > _TRACE_CACHE_SIZE:
                self._trace_text.popitem(last=False)
        return text

    def _simulation(self, trace: Trace) -> dict[str, Any]:
        clock = trace.clock_mhz
        return {
            "simulation": {
                "addressmapping": _MAPPING_FILE,
                "mcconfig": _MCCONFIG_FILE,
                "memspec": _MEMSPEC_FILE,
                "simconfig": _SIMCONFIG_FILE,
                "simulationid": "archgym",
                "thermalconfig": _THERMAL_FILE,
                "tracesetup": [
                    {"clkMhz": int(clock) if float(clock).is_integer() else clock, "name": _TRACE_FILE}
                ],
            }
        }

    @staticmethod
    def mcconfig(design: Mapping[str, Any]) -> dict[str, Any]:
        """The DRAMSys ``mcconfig`` document of a (validated) design."""
        knobs = {name: design[name] for name in DRAM_DESIGN_SPACE.names}
        return {"mcconfig": {**knobs, **FIXED_CONTROLLER_SETTINGS}}

    def workload_inputs(self, workload: Any) -> tuple[Trace, bytes]:
        """The workload's trace and the text of its trace file (rendered once, then cached).

        Raises:
            UnknownNameError: No such workload.
            WorkloadError: The workload is malformed, or its request size is
                not one burst of the memory.
        """
        trace = self._trace(workload)
        return trace, self._trace_bytes(trace)

    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: tuple[Trace, bytes]) -> None:
        """Write the complete DRAMSys resources folder of one run (see the module docstring)."""
        trace, trace_text = inputs
        files = dict(self._fixed_files)
        files[f"configs/mcconfigs/{_MCCONFIG_FILE}"] = _dump(self.mcconfig(design))
        files[f"traces/{_TRACE_FILE}"] = trace_text
        files[_SIMULATION_FILE] = _dump(self._simulation(trace))
        for relative, content in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)

    def command(self, folder: Path, design: Mapping[str, Any], inputs: tuple[Trace, bytes]) -> Sequence[str]:
        """``DRAMSys <folder>/simulation.json <folder>/``."""
        # DRAMSys appends "configs/..." to the resources folder as text, so it must end with a slash.
        return [str(self.binary), str(folder / _SIMULATION_FILE), str(folder) + "/"]

    def parse_outputs(
        self, run: SimulatorRun, design: Mapping[str, Any], inputs: tuple[Trace, bytes]
    ) -> dict[str, float]:
        """The metrics in DRAMSys's summary lines.

        Raises:
            DramSysOutputError: A summary line is missing or unreadable.
        """
        return parse_dramsys_output(run.stdout, power=self.power_analysis).metrics()


def dramsys_unavailable_reason(binary: str | os.PathLike[str] | None = None) -> str | None:
    """None if ``binary``, or else ``ARCHGYM_DRAMSYS``, names an executable file; otherwise what to do.

    This is the availability check of the registered ``dram/dramsys`` backend.
    """
    return DramSysModel.unavailable_reason(binary)
