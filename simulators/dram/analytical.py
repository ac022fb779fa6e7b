"""Analytical DRAM memory-controller model (backend ``dram/analytical``).

The model scores a controller configuration (the ten knobs of
:mod:`archgym.simulators.dram.knobs`) on a memory trace in microseconds,
instead of the tens of milliseconds a cycle-accurate run of DRAMSys takes.
It has two stages:

1. **Structural timings**, once per workload. The trace is decoded to banks
   and rows with the address mapping (:class:`TraceProfile`), and every
   structural configuration (page policy, scheduler, buffer organisation,
   buffer size, response queue, arbiter, MaxActiveTransactions: 13,824
   combinations, 9,504 distinct ones since the Simple arbiter ignores the last
   two) is run through the request-level model of DRAMSys 4's controller in
   :mod:`archgym.simulators.dram.controller`: its front end, scheduler
   buffers, bank machines, page policies, command multiplexer and the timing
   constraints of DDR3, DDR4, LPDDR4 and HBM2 (one controller per channel,
   behind one arbiter), request by request, without a clock. That gives each
   configuration's total time, activations, mean latency and the cycles the
   controller had work, cached as a table (1-4 ms per configuration and core
   on a 10,000-request trace).
2. **Per design**, refresh and energy in closed form, so a single evaluation
   is a table lookup plus a few multiplications.

Refresh (AllBank; PerBank, on LPDDR4 and HBM2, see
:meth:`DramAnalyticalModel.per_bank_refresh_stall`): one refresh is due every ``tREFI``; while requests are
pending DRAMSys postpones up to RefreshMaxPostponed of them. Each refresh
stalls the device for ``tRP + tRFC``, plus ``tRCD`` to reopen the row for the
share of requests that would have hit it, but a stall delays the end of the
run only where the controller cannot catch up: the controller model reports
the exposed span ``T_exp``, the longest tail of the run whose due refreshes
stall longer than the controller then waits idle for the trace (the whole run
when it never waits), and ``max(0, floor(T_exp / tREFI) -
RefreshMaxPostponed)`` stalls are added. Refreshes pulled in during idle gaps (up to
RefreshMaxPulledin) cost energy but no time.

Energy follows DRAMPower (Chandrasekar et al., "Improved Power Modeling of
DDR SDRAMs", DSD 2011) with the IDD currents of the memspec, per device times
the devices on the DIMM:

* background ``VDD * (f_act * IDD3N + (1 - f_act) * IDD2N) * T``, with
  ``f_act`` the fraction of time a row is open (1 under the open policies);
* per activate/precharge pair ``VDD * (IDD0 * tRC - IDD3N * tRAS - IDD2N * tRP)``;
* per read (write) burst ``VDD * (IDD4R - IDD3N) * tBURST`` (IDD4W);
* per refresh ``VDD * (IDD5 - IDD3N) * tRFC``;
* for DDR4, the word-line supply adds ``VPP * IPP0 * tRC`` to each
  activation (as DRAMSys's DRAMPower charges it: no VPP standby term).

Average power is energy over total time. Average latency is the mean, over
requests, of the time from the request's issue cycle to its completion.

The controller's three ``k_*`` constants
(:class:`~archgym.simulators.dram.controller.ControllerConstants`) are the
only fitted values; ``benchmarks/dram_calibrate.py`` fits them on the even
design ids of the calibration traces of the DRAM fidelity suite (DRAMSys
results bundled under ``data/dram/``), and ``benchmarks/dram_fidelity.py``
checks the held-out traces and the odd design ids.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from archgym import progress
from archgym.cache import load_arrays, source_version, store_arrays
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation
from archgym.errors import ConfigurationError
from archgym.simulators.dram import controller, sampling
from archgym.simulators.dram.controller import ControllerConstants
from archgym.simulators.dram.knobs import dram_design_space
from archgym.simulators.dram.memspec import AddressMapping, MemSpec, default_address_mapping, load_memspec
from archgym.simulators.dram.problem import DRAM_PROBLEM
from archgym.simulators.dram.sampling import SampledProfile, TraceSample, sample_trace, sampled_timings
from archgym.simulators.dram.trace import Trace
from archgym.simulators.dram.trace_stream import TraceChunk, TraceReader
from archgym.simulators.dram.workloads import resolve_workload, workload_file

FULL_TABLE_REQUESTS = 20_000
"""Longest trace whose table of every configuration :meth:`DramAnalyticalModel.prepare` builds at
once (about half a minute on two cores); on longer traces a full table would take far longer than
the searches that use it, so configurations are computed as they are evaluated."""

_log = logging.getLogger(__name__)

_TABLE_CACHE: dict[tuple[Any, ...], _CoreTable] = {}
"""Structural tables shared by model instances with the same memory and constants."""

SAMPLE_ABOVE_REQUESTS = 500_000
"""Longest trace simulated request by request by default; longer ones are sampled (see
:mod:`archgym.simulators.dram.sampling`), so their first evaluation takes a fraction of a second."""

_CACHE_NAMESPACE = "dram-tables"
"""Folder of the full structural tables in the on-disk cache (:mod:`archgym.cache`)."""

_SAMPLE_NAMESPACE = "dram-samples"
"""Folder of the samples of long trace files in the on-disk cache."""


def _model_version() -> str:
    """Hash of the code that computes a table, so a changed model never reads an old cached one."""
    return source_version((sys.modules[__name__], controller, sampling))

# Knob order of the structural table; the refresh knobs are applied per design.
_STRUCTURAL_KNOBS = (
    "PagePolicy",
    "Scheduler",
    "SchedulerBuffer",
    "RequestBufferSize",
    "RespQueue",
    "Arbiter",
    "MaxActiveTransactions",
)
_REFRESH_KNOBS = ("RefreshPolicy", "RefreshMaxPostponed", "RefreshMaxPulledin")
_ALL_BANK, _PER_BANK = 1, 2  # RefreshPolicy value indices (NoRefresh, AllBank[, PerBank])
# Load of the busiest bank (its share of time in row cycles) from which a per-bank refresh costs its
# full bank time: chosen on the even design ids of the calibration traces of the LPDDR4 and HBM2
# fidelity suites (0.3-0.8 do about as well).
_BANK_LOAD_SATURATION = 0.5


class TraceProfile:
    """A trace decoded for one memory: what the controller model needs of it.

    Args:
        trace: The requests.
        memspec: The memory the trace runs on.
        mapping: How addresses map to banks, rows and columns.
    """

    def __init__(self, trace: Trace, memspec: MemSpec, mapping: AddressMapping):
        bank, row, _ = mapping.decode(np.asarray(trace.addresses))
        self.n = trace.n_requests
        self.n_banks = memspec.banks * memspec.ranks * memspec.channels
        self.banks_per_group = memspec.banks_per_group
        # Banks are numbered over ranks, then channels: each channel's controller has banks of its own.
        self.bank = bank.astype(np.int64) % self.n_banks
        self.row = row.astype(np.int64)
        self.is_write = np.asarray(trace.is_write, dtype=bool)
        self.request_bytes = trace.request_bytes
        # Traces count cycles of their own clock (800 MHz for the standard ones).
        cycles = np.asarray(trace.cycles, dtype=np.float64) * (memspec.clock_mhz / trace.clock_mhz)
        self.arrivals = cycles - cycles[0]
        self.writes = float(self.is_write.sum())
        self.reads = float(self.n - self.writes)
        self.idle_cycles = float(np.maximum(np.diff(cycles) - 1, 0).sum())


@dataclass(frozen=True)
class _CoreTable:
    """Timing results of every structural configuration on one workload."""

    cycles: np.ndarray  # total cycles without refresh
    activations: np.ndarray
    hits: np.ndarray
    latency_cycles: np.ndarray  # mean issue-to-completion time without refresh
    exposed_cycles: np.ndarray  # cycles over which due refreshes delay the end (see controller.simulate)
    reads: float
    writes: float
    n_requests: int
    request_bytes: int
    idle_cycles: float
    busiest_bank_share: float  # share of the requests that go to the most used bank
    profile: TraceProfile | SampledProfile | None = None  # kept to fill a lazily built table
    disk_key: str | None = None  # where the complete table is cached on disk, for tables worth caching

    @property
    def rows(self) -> list[tuple[float, float, float, float]]:
        """(cycles, activations, hits, latency) per configuration as plain floats, for single evaluations."""
        rows = self.__dict__.get("_rows")
        if rows is None:
            rows = list(
                zip(
                    self.cycles.tolist(),
                    self.activations.tolist(),
                    self.hits.tolist(),
                    self.latency_cycles.tolist(),
                    self.exposed_cycles.tolist(),
                )
            )
            object.__setattr__(self, "_rows", rows)
        return rows


class _ScalarOps:
    """The few NumPy functions :meth:`DramAnalyticalModel._finish` needs, for plain floats."""

    floor = staticmethod(math.floor)
    maximum = staticmethod(max)
    minimum = staticmethod(min)

    @staticmethod
    def where(condition: bool, a: float, b: float) -> float:
        return a if condition else b


_SCALAR_OPS = _ScalarOps()


class DramProblem(CostModel):
    """What every DRAM backend shares: the problem's knobs, metrics, standard workloads and objectives."""

    problem = DRAM_PROBLEM


class DramAnalyticalModel(DramProblem):
    """The bundled analytical DRAM model (see the module docstring for equations).

    Args:
        memspec: Memspec preset name (see
            :func:`~archgym.simulators.dram.memspec.list_memspecs`), path to a
            DRAMSys memspec JSON (DDR3, DDR4, LPDDR4 or HBM2, any number of
            channels), or a :class:`MemSpec`.
        address_mapping: Address mapping; defaults to row-bank-column for the memspec.
        constants: Fitted constants; defaults to the DDR3-1600 calibration.
        default_workload: Workload used when ``evaluate`` gets none.
        full_tables: Build each workload's table of all 13,824 structural
            configurations at once (seconds on a 10,000-request trace), after which
            every evaluation is a lookup. False computes only the configurations
            evaluated, as they come (milliseconds each on 10,000 requests, time
            linear in the trace's length): for scoring a few hundred designs on many
            workloads, as a fidelity check does, or on long traces. None (the
            default) builds the full table of a trace of up to
            :data:`FULL_TABLE_REQUESTS` requests when :meth:`prepare` is called (as
            every run does) or finds it in the disk cache, and otherwise computes
            configurations as they are evaluated, so a first evaluation is fast.
        sampling: Simulate a systematic sample of each long trace instead of every
            request (:mod:`archgym.simulators.dram.sampling`): True always, False
            never (the exact pass, time and memory linear in the trace's length),
            None (the default) for traces of more than
            :data:`SAMPLE_ABOVE_REQUESTS` requests.
    """

    name = "dram/analytical"

    def __init__(
        self,
        memspec: str | MemSpec = "ddr3-1600",
        address_mapping: AddressMapping | None = None,
        constants: ControllerConstants | None = None,
        default_workload: Any = "stream",
        full_tables: bool | None = None,
        sampling: bool | None = None,
    ) -> None:
        self.full_tables = None if full_tables is None else bool(full_tables)
        self.sampling = None if sampling is None else bool(sampling)
        self.memspec = memspec if isinstance(memspec, MemSpec) else load_memspec(memspec)
        if self.memspec.ranks > 1 and self.memspec.memory_type == "LPDDR4":
            # DDR ranks share a data bus with rank-switch gaps, HBM2's pseudo channels each have one;
            # the multi-cycle commands of LPDDR4 across ranks are not modelled.
            raise ConfigurationError(
                f"memspec {self.memspec.name!r} has {self.memspec.ranks} ranks; the analytical model covers "
                "one rank per channel of LPDDR4 (and any number of DDR3 and DDR4 ranks and HBM2 pseudo channels)"
            )
        self.mapping = address_mapping or default_address_mapping(self.memspec)
        self.mapping.check(self.memspec)
        self.design_space = dram_design_space(self.memspec)
        self.constants = constants or ControllerConstants()
        self.default_workload = default_workload
        self._tables: dict[Any, _CoreTable] = {}
        # What besides the trace determines a table, for the cache shared across instances.
        self._cache_identity = (
            repr(self.memspec), repr(self.mapping), self.constants, self.full_tables, self.sampling
        )  # fmt: skip
        self._knob_lookup = [
            {value: i for i, value in enumerate(self.design_space[name].values)}
            for name in self.design_space.names
        ]
        self._radix = np.array([len(self.design_space[k].values) for k in _STRUCTURAL_KNOBS], dtype=np.int64)
        self._structural_positions = [self.design_space.names.index(k) for k in _STRUCTURAL_KNOBS]
        self._refresh_positions = [self.design_space.names.index(k) for k in _REFRESH_KNOBS]
        self._postponed_values = np.array(self.design_space["RefreshMaxPostponed"].values, dtype=np.float64)
        self._pulledin_values = np.array(self.design_space["RefreshMaxPulledin"].values, dtype=np.float64)
        self._postponed_list = self._postponed_values.tolist()
        self._pulledin_list = self._pulledin_values.tolist()
        # PagePolicy is the leading structural knob; Closed and ClosedAdaptive come last.
        assert self.design_space["PagePolicy"].values[2:] == ("Closed", "ClosedAdaptive")
        self._closed_from = 2 * int(np.prod(self._radix[1:]))
        self._energy_constants()

    # -- energy ---------------------------------------------------------------------
    def _energy_constants(self) -> None:
        spec, t = self.memspec, self.memspec.timings
        burst = spec.burst_cycles
        self._controller_timings = controller.controller_timings(spec)
        self._refresh_stall = float(controller.refresh_stall(self._controller_timings, 0.0))
        self._rcd = float(self._controller_timings[controller.TIMING_NAMES.index("RCD")])
        self._ras = t["RAS"]
        self._refi = t["REFI"]
        self._tRC = float(self._controller_timings[controller.TIMING_NAMES.index("RC")])
        per_bank = spec.per_bank_refresh
        # A REFpb takes one bank out of use for tRP + tRFCpb; as a share of its rank's banks, the
        # time it costs a run bound by bank time (see _finish).
        self._refi_pb = float(per_bank[1]) if per_bank else math.inf
        self._pb_stall = (per_bank[0] + t["RP"]) / spec.banks if per_bank else 0.0
        if spec.vdd is None or not spec.has_power:
            # No currents (DRAMSys's HBM2 memspec has none): time is modelled, energy is not.
            self.unreported_metrics = ("energy_pj", "power_mw")
            self._e_act = self._e_read = self._e_write = self._e_refresh = self._e_refresh_pb = math.nan
            self._p_active = self._p_precharged = math.nan
            return
        self._e_act = self._e_read = self._e_write = self._e_refresh = 0.0
        self._p_active = self._p_precharged = 0.0  # pJ per cycle with a row open, and with none
        # Each core supply on its own (LPDDR4's VDD2 currents carry a trailing 2), summed.
        supplies = [(spec.vdd, "")] + ([(spec.vdd2, "2")] if spec.vdd2 is not None else [])
        for volts, suffix in supplies:
            i = {name: spec.currents[name + suffix] for name in ("idd0", "idd2n", "idd3n", "idd4r", "idd4w", "idd5")}
            # mA * V * ns = pJ, per device, times the devices of a rank: an access uses one rank of one
            # channel, while every rank of every channel stands by and refreshes.
            scale = volts * spec.tck_ns * spec.devices
            standby = scale * spec.ranks * spec.channels
            self._e_act += scale * (i["idd0"] * t["RC"] - i["idd3n"] * t["RAS"] - i["idd2n"] * (t["RC"] - t["RAS"]))
            self._e_read += scale * (i["idd4r"] - i["idd3n"]) * burst
            self._e_write += scale * (i["idd4w"] - i["idd3n"]) * burst
            self._e_refresh += standby * (i["idd5"] - i["idd3n"]) * t["RFC"]
            self._p_active += standby * i["idd3n"]
            self._p_precharged += standby * i["idd2n"]
        if spec.vpp is not None:
            # DDR4's word-line supply as DRAMSys's DRAMPower charges it: IPP0 over each activation's
            # tRC, and no standby draw (fitted to DRAMSys's energies on the DDR4 fidelity suite, this
            # is what the residuals show: 1.79 times the IDD-only activation energy, 50 pJ a cycle less
            # background than with an IPP3N standby term).
            self._e_act += spec.vpp * spec.tck_ns * spec.devices * spec.currents.get("ipp0", 0.0) * t["RC"]
        # Memspecs give no per-bank refresh current: a REFpb refreshes one bank's share of the rows an
        # all-bank refresh does, with the same energy per row. Due REFpbs are counted per rank, in
        # every channel.
        self._e_refresh_pb = self._e_refresh / (spec.banks * spec.ranks)

    # -- the structural table ---------------------------------
    def _table(self, workload: Any) -> _CoreTable:
        # Names and paths key this model's own cache directly, so repeat calls skip resolving.
        key = workload if isinstance(workload, (str, os.PathLike)) else None
        if key is not None and key in self._tables:
            return self._tables[key]
        path = workload_file(workload)
        table = self._file_table(path) if path is not None else self._trace_table(resolve_workload(workload))
        if key is not None:
            self._tables[key] = table
        return table

    def _samples(self, n_requests: int) -> bool:
        return n_requests > SAMPLE_ABOVE_REQUESTS if self.sampling is None else self.sampling

    def _trace_table(self, trace: Trace) -> _CoreTable:
        fingerprint = (trace.fingerprint(), *self._cache_identity)
        table = _TABLE_CACHE.get(fingerprint)
        if table is None:
            if self._samples(trace.n_requests):
                sample = sample_trace([(trace.cycles, trace.is_write, trace.addresses)], self._clock_ratio(trace.clock_mhz))
                _log_sample(trace.name or "trace", sample)
                profile: TraceProfile | SampledProfile = SampledProfile(
                    sample, self.memspec, self.mapping, trace.clock_mhz, trace.request_bytes
                )
            else:
                profile = TraceProfile(trace, self.memspec, self.mapping)
            table = self._build_table(profile, fingerprint)
            _TABLE_CACHE[fingerprint] = table
        return table

    def _clock_ratio(self, trace_clock_mhz: float) -> float:
        return self.memspec.clock_mhz / trace_clock_mhz

    def _file_table(self, path: Any) -> _CoreTable:
        """The table of a trace file, read in chunks: whole if short, else sampled as it streams by."""
        reader = TraceReader(path)
        fingerprint = ("file", reader.digest(), *self._cache_identity)
        table = _TABLE_CACHE.get(fingerprint)
        if table is not None:
            return table
        key = hashlib.sha256(repr((fingerprint, _model_version())).encode()).hexdigest()[:32]
        stored = load_arrays(_SAMPLE_NAMESPACE, key) if self.sampling is not False else None
        if stored is not None:
            sample = TraceSample.from_arrays(stored)
        else:
            kept: list[TraceChunk] = []

            def keep_short(chunks):
                # Chunks are kept while the trace may still be short enough to simulate whole.
                for chunk in chunks:
                    if not self._samples(chunk.first_request + len(chunk)):
                        kept.append(chunk)
                    else:
                        kept.clear()
                    yield chunk.cycles, chunk.is_write, chunk.addresses

            with progress.task(f"preparing {reader.name}", total=reader.size_bytes, unit="B") as report:
                chunks = reader.chunks(progress=lambda done, total: report(done))
                sample = sample_trace(keep_short(chunks), self._clock_ratio(reader.clock_mhz))
            if not self._samples(sample.n_requests):
                table = self._trace_table(reader.trace(kept))
                _TABLE_CACHE[fingerprint] = table
                return table
            store_arrays(_SAMPLE_NAMESPACE, key, sample.arrays())
        _log_sample(reader.name, sample)
        profile = SampledProfile(sample, self.memspec, self.mapping, reader.clock_mhz, reader.request_bytes)
        table = self._build_table(profile, fingerprint)
        _TABLE_CACHE[fingerprint] = table
        return table

    def _build_table(self, profile: TraceProfile | SampledProfile, fingerprint: tuple[Any, ...]) -> _CoreTable:
        exact_and_short = isinstance(profile, TraceProfile) and profile.n <= FULL_TABLE_REQUESTS
        full = exact_and_short if self.full_tables is None else self.full_tables
        size = int(np.prod(self._radix))
        key = None
        complete = False
        results = np.full((size, 5), np.nan)
        if full:
            # A full table costs seconds; the disk cache shares it across processes and runs. Unless
            # asked for, it is built by prepare(): a first evaluation computes only its own design.
            key = hashlib.sha256(repr((fingerprint, _model_version())).encode()).hexdigest()[:32]
            stored = load_arrays(_CACHE_NAMESPACE, key)
            if stored is not None and stored["results"].shape == (size, 5):
                results, complete = stored["results"], True
            elif self.full_tables:
                results, complete = self.structural_timings(profile, self._configurations(np.arange(size))), True
                store_arrays(_CACHE_NAMESPACE, key, {"results": results})
        return _CoreTable(
            cycles=results[:, 0],
            activations=results[:, 1],
            hits=results[:, 2],
            latency_cycles=results[:, 3],
            exposed_cycles=results[:, 4],
            reads=profile.reads,
            writes=profile.writes,
            n_requests=profile.n,
            request_bytes=profile.request_bytes,
            idle_cycles=profile.idle_cycles,
            busiest_bank_share=float(np.bincount(profile.bank).max() / max(len(profile.bank), 1)),
            profile=None if complete else profile,
            disk_key=key,
        )

    def _complete(self, table: _CoreTable) -> _CoreTable:
        """A lazily built table with every configuration computed, stored in the disk cache."""
        self._fill(table, np.arange(table.cycles.shape[0]))
        columns = (table.cycles, table.activations, table.hits, table.latency_cycles, table.exposed_cycles)
        if table.disk_key is not None:
            store_arrays(_CACHE_NAMESPACE, table.disk_key, {"results": np.column_stack(columns)})
        return replace(table, profile=None)

    def _fill(self, table: _CoreTable, flat: np.ndarray) -> None:
        """Compute the table entries at ``flat`` that a lazily built table lacks."""
        if table.profile is None:
            return
        # Unique in first-seen order without np.unique, whose first call imports a NumPy submodule (16 ms).
        missing = np.array(list(dict.fromkeys(flat[np.isnan(table.cycles[flat])].tolist())), dtype=np.int64)
        if not len(missing):
            return
        results = self.structural_timings(table.profile, self._configurations(missing))
        for column, array in enumerate(
            (table.cycles, table.activations, table.hits, table.latency_cycles, table.exposed_cycles)
        ):
            array[missing] = results[:, column]

    def _configurations(self, flat: np.ndarray) -> list[tuple[Any, ...]]:
        """Structural knob values of the table rows ``flat``."""
        knob_indices = np.unravel_index(flat, tuple(int(r) for r in self._radix))
        values = [self.design_space[name].values for name in _STRUCTURAL_KNOBS]
        return [tuple(v[i] for v, i in zip(values, row)) for row in zip(*(k.tolist() for k in knob_indices))]

    def structural_timings(
        self, profile: TraceProfile | SampledProfile, configurations: Sequence[Sequence[Any]]
    ) -> np.ndarray:
        """Timing of structural configurations, before refresh.

        Args:
            profile: The decoded workload, whole or sampled.
            configurations: Values of the structural knobs (:data:`_STRUCTURAL_KNOBS`
                order) of each configuration.

        Returns:
            ``(configurations, 5)``: total cycles, activations, row hits, mean
            issue-to-completion latency, and the cycles over which refresh stalls delay
            the end.
        """
        # Behind the Simple arbiter, MaxActiveTransactions and the response queue change nothing.
        canonical = [
            (*c[:4], "Fifo", c[5], 1) if c[5] == "Simple" else tuple(c) for c in map(tuple, configurations)
        ]
        unique = list(dict.fromkeys(canonical))
        codes = np.array(
            [
                (
                    controller.POLICIES.index(policy),
                    controller.SCHEDULERS.index(scheduler),
                    controller.ORGANISATIONS.index(organisation),
                    int(size),
                    controller.ARBITERS.index(arbiter),
                    int(max_active),
                    int(resp_queue == "Reorder"),
                )
                for policy, scheduler, organisation, size, resp_queue, arbiter, max_active in unique
            ],
            dtype=np.int64,
        ).reshape(-1, 7)
        cycles, activations, latency, exposed = self._simulate(profile, codes).T
        results = np.column_stack([cycles, activations, profile.n - activations, latency, exposed])
        position = {configuration: i for i, configuration in enumerate(unique)}
        return results[[position[c] for c in canonical]]

    def _simulate(self, profile: TraceProfile | SampledProfile, codes: np.ndarray) -> np.ndarray:
        """``(configurations, 4)`` timings of one channel's controller (see :meth:`structural_timings`)."""
        if isinstance(profile, SampledProfile):
            return sampled_timings(profile, codes, self._controller_timings, self.constants)[:, :4]
        return controller.simulate(
            profile.arrivals,
            profile.bank,
            profile.row,
            profile.is_write,
            profile.n_banks,
            profile.banks_per_group,
            codes,
            self._controller_timings,
            self.constants,
        )[:, :4]

    # -- evaluation -------------------------------------------------------------------
    def _design_indices(self, design: Mapping[str, Any]) -> list[int]:
        try:
            if len(design) == len(self._knob_lookup):
                return [lookup[design[name]] for lookup, name in zip(self._knob_lookup, self.design_space.names)]
        except (KeyError, TypeError):
            pass
        # Slow path: canonicalise spellings ("8" for 8) or raise a clear error.
        valid = self.design_space.validate(design)
        return [lookup[valid[name]] for lookup, name in zip(self._knob_lookup, self.design_space.names)]

    def _finish(
        self, core, acts, hits, latency, exposed, table: _CoreTable, closed_policy, all_bank, per_bank, postponed,
        pulled_in, ops
    ):
        """Apply refresh and energy to structural timings.

        Written once for scalars and arrays: ``ops`` is :data:`_SCALAR_OPS`
        for one design (plain floats are several times faster than NumPy
        scalars) or the ``numpy`` module for batches.
        """
        stalling = self.refreshes_due(exposed, all_bank, postponed, ops)
        cycles = core + stalling * self.refresh_stall(hits / table.n_requests)
        cycles = cycles + self.per_bank_refresh_stall(core, acts, exposed, table, per_bank, postponed, ops)
        # Every refresh that comes due costs energy, stalling or not, and so do those
        # pulled in during idle gaps.
        issued = self.refreshes_due(cycles, all_bank, postponed, ops)
        idle_refreshes = ops.where(all_bank, ops.minimum(self._idle_refreshes(table), pulled_in), 0.0)
        issued_pb = ops.where(per_bank, ops.floor(cycles / self._refi_pb) * self.memspec.ranks, 0.0)
        # Open policies keep a row open between accesses; closed ones only from ACT to auto-precharge.
        open_share = (acts * self._ras + hits * self.memspec.burst_cycles) / cycles
        active_share = ops.where(closed_policy, ops.minimum(open_share, 1.0), 1.0)
        background = cycles * (active_share * self._p_active + (1 - active_share) * self._p_precharged)
        energy = (
            background
            + acts * self._e_act
            + table.reads * self._e_read
            + table.writes * self._e_write
            + (issued + idle_refreshes) * self._e_refresh
            + issued_pb * self._e_refresh_pb
        )
        time_ns = cycles * self.memspec.tck_ns
        latency_ns = (latency + (cycles - core) / 2) * self.memspec.tck_ns
        return energy, time_ns, latency_ns

    def per_bank_refresh_stall(self, core, acts, exposed, table: _CoreTable, per_bank, postponed, ops=np):
        """Cycles per-bank refresh adds to a run.

        Each rank refreshes one bank every tREFIpb, preferring a bank with
        nothing queued and postponing up to RefreshMaxPostponed refreshes per
        bank while every bank is busy. A REFpb takes ``tRP + tRFCpb`` of one
        bank's time, so over the span where refresh is exposed each due REFpb
        costs that share of the rank's banks, in proportion to how busy the
        busiest bank is (``tRC`` per activation on the bank with the most
        requests), in full once it is busy half the time: banks with slack
        absorb refreshes, a bottleneck bank does not.
        """
        banks = self.memspec.banks
        due = ops.maximum(ops.floor(exposed / self._refi_pb) - postponed * banks, 0.0) * self.memspec.ranks
        load = acts * self._tRC * table.busiest_bank_share / ops.maximum(core, 1.0)
        return ops.where(per_bank, due * self._pb_stall * ops.minimum(load / _BANK_LOAD_SATURATION, 1.0), 0.0)

    def refreshes_due(self, cycles, refresh_on, postponed, ops=np):
        """Refreshes issued over ``cycles``: one is due every tREFI, and up to
        RefreshMaxPostponed are postponed while requests are pending and never come due
        before the run ends.

        Over the span where refresh stalls are exposed (see the module docstring),
        these are the refreshes that delay the end (each by :meth:`refresh_stall`);
        the idle time after the others absorbs them.
        """
        due = ops.floor(cycles / self._refi)
        return ops.where(refresh_on, ops.maximum(due - postponed, 0.0), 0.0)

    def refresh_stall(self, hit_share):
        """Cycles one refresh stalls the device: ``tRP + tRFC``, plus ``tRCD`` to reopen
        the row for the share ``hit_share`` of requests that would have hit it."""
        return self._refresh_stall + self._rcd * hit_share

    def refresh_stall_cycles(self, exposed_cycles, refresh_on, postponed, hit_share):
        """Cycles refresh adds to runs whose stalls are exposed over ``exposed_cycles`` (arrays)."""
        return self.refreshes_due(exposed_cycles, refresh_on, postponed) * self.refresh_stall(hit_share)

    def _idle_refreshes(self, table: _CoreTable) -> float:
        return float(math.floor(table.idle_cycles / self._refi))

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Evaluate one design (see the module docstring for the model)."""
        start = time.perf_counter()
        table = self._table(self.default_workload if workload is None else workload)
        idx = self._design_indices(design)
        flat = 0
        for position, radix in zip(self._structural_positions, self._radix):
            flat = flat * int(radix) + idx[position]
        refresh_policy = idx[self._refresh_positions[0]]
        postponed = self._postponed_list[idx[self._refresh_positions[1]]]
        pulled_in = self._pulledin_list[idx[self._refresh_positions[2]]]
        if table.profile is None:
            rows = table.rows[flat]
        else:
            self._fill(table, np.array([flat]))
            rows = tuple(
                array[flat]
                for array in (table.cycles, table.activations, table.hits, table.latency_cycles, table.exposed_cycles)
            )
        energy, time_ns, latency_ns = self._finish(
            *rows, table, flat >= self._closed_from, refresh_policy == _ALL_BANK, refresh_policy == _PER_BANK,
            postponed, pulled_in, _SCALAR_OPS
        )
        return Evaluation(_metrics(energy, time_ns, latency_ns, table), True, "", time.perf_counter() - start)

    def evaluate_batch(self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None) -> BatchEvaluation:
        """Evaluate many designs at once, given as design dicts or an ``(n, 10)`` index array."""
        start = time.perf_counter()
        if isinstance(designs, np.ndarray):
            indices = self.design_space.validate_indices(designs)
        else:
            indices = np.array([self._design_indices(d) for d in designs], dtype=np.int64).reshape(-1, 10)
        return self._evaluate_indices(indices, workload, start)

    def _evaluate_indices(self, indices: np.ndarray, workload: Any, start: float) -> BatchEvaluation:
        table = self._table(self.default_workload if workload is None else workload)
        structural = indices[:, self._structural_positions]
        flat = np.ravel_multi_index(tuple(structural.T), tuple(int(r) for r in self._radix))
        self._fill(table, flat)
        refresh = indices[:, self._refresh_positions]
        energy, time_ns, latency_ns = self._finish(
            table.cycles[flat],
            table.activations[flat],
            table.hits[flat],
            table.latency_cycles[flat],
            table.exposed_cycles[flat],
            table,
            flat >= self._closed_from,
            refresh[:, 0] == _ALL_BANK,
            refresh[:, 0] == _PER_BANK,
            self._postponed_values[refresh[:, 1]],
            self._pulledin_values[refresh[:, 2]],
            np,
        )
        n = len(indices)
        return BatchEvaluation(
            metrics=_metrics(energy, time_ns, latency_ns, table),
            feasible=np.ones(n, dtype=bool),
            reasons=[""] * n,
            wall_time_s=time.perf_counter() - start,
        )

    def describe(self) -> str:
        """One line naming the memory and address mapping."""
        return f"analytical DRAM model on {self.memspec.name} ({self.memspec.memory_type})"

    def check_workload(self, workload: Any = None) -> None:
        """Resolve the workload (read or generate its trace and profile it), as a first evaluation does."""
        self._table(self.default_workload if workload is None else workload)

    def prepare(self, workload: Any = None) -> None:
        """Resolve the workload and, for a short trace, build its table of every configuration now.

        Evaluations without it compute each configuration when first asked for
        (milliseconds on a short trace), so a first evaluation is fast; after it
        every evaluation is a lookup, and the table is cached on disk for later
        runs. Long traces are computed as evaluated either way.
        """
        workload = self.default_workload if workload is None else workload
        table = self._table(workload)
        if table.profile is not None and table.disk_key is not None:
            complete = self._complete(table)
            for cache in (_TABLE_CACHE, self._tables):
                for key, value in list(cache.items()):
                    if value is table:
                        cache[key] = complete  # type: ignore[index]


def _metrics(energy_pj, time_ns, latency_ns, table: _CoreTable) -> dict[str, Any]:
    """The metric dict of one design (floats) or a batch (arrays); pJ / ns = mW and B / ns = GB/s."""
    return {
        "energy_pj": energy_pj,
        "power_mw": energy_pj / time_ns,
        "total_time_ns": time_ns,
        "avg_latency_ns": latency_ns,
        "bandwidth_gbps": table.n_requests * table.request_bytes / time_ns,
    }


def _log_sample(name: str, sample: TraceSample) -> None:
    _log.info(
        "%s: %s requests, sampled in %d windows of up to %d requests (%.1f %% simulated; "
        "benchmarks/dram_sampling.py measures the error; sampling=False forces the exact pass)",
        name, f"{sample.n_requests:,}", len(sample.starts), int(np.diff(sample.bounds).max()),
        100 * sample.sampled_requests / sample.n_requests,
    )  # fmt: skip
