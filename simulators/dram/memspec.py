"""DRAM device descriptions (memspecs) and address mappings.

A :class:`MemSpec` holds what a DRAM cost model needs to know about the
memory: organisation, timings in clock cycles and IDD currents. Memspecs are
stored in DRAMSys 4's JSON layout (a top-level ``"memspec"`` object with
``memoryId``, ``memoryType``, ``memarchitecturespec``, ``memtimingspec`` and
``mempowerspec``) plus a top-level ``"source"`` naming where the numbers come
from, so a DRAMSys backend can hand the files to DRAMSys unchanged.

Bundled presets (``memspecs/*.json`` in this package):

``ddr3-1600``
    Micron 1Gb DDR3-1600 x8 (MT41J128M8, die revision G), eight devices on a
    64-bit rank: the memory of the DRAMSys reference measurements. 800 MHz,
    CL-RCD-RP 10-10-10, 8 banks, 16384 rows, 1024 columns.
``ddr4-2400``
    Micron 8Gb DDR4-2400 x8 (MT40A1G8, speed grade -083E, die revision B),
    eight devices on a 64-bit rank. Timings from the JEDEC JESD79-4
    DDR4-2400R speed bin (16-16-16) and the 8Gb x8 parameters (tRFC1 350 ns,
    1 KB page tRRD_S 3.3 ns, tRRD_L 4.9 ns, tFAW 21 ns), rounded up to
    1200 MHz clock cycles; IDD/IPP currents from the Micron 8Gb DDR4 data
    sheet at DDR4-2400 (IDD0 48, IDD2N 34, IDD3N 43, IDD4R 135, IDD4W 123,
    IDD5B 250, IDD2P 25, IDD3P 37, IDD6N 30, IPP0 3, IPP3N 3 mA). 16 banks in
    4 bank groups, 65536 rows, 1024 columns.
``ddr4-2400-2r``
    Two such ranks sharing one channel: a dual-rank DIMM.
``lpddr4-3200``
    One 8Gb x16 channel of a dual-channel LPDDR4-3200 die. Timings from JEDEC JESD209-4
    (LPDDR4-3200, 8Gb per channel: tRFCab 280 ns, tRFCpb 140 ns), rounded up
    to 1600 MHz clock cycles; IDD currents on VDD1 and VDD2 as in DRAMSys's
    ``JEDEC_8Gb_LPDDR4-3200_16bit`` memspec. 8 banks, 65536 rows, 1024
    columns, BL16 (32-byte bursts).
``lpddr4-3200-2ch``
    Both channels of that die, each with its own controller; the default
    address mapping alternates pages between them.
``hbm2-2000``
    One HBM2 channel at 2 Gb/s per pin in pseudo-channel mode: two 64-bit
    pseudo channels (ranks), 16 banks in 4 bank groups each, 1 KB pages,
    BL4 (32-byte bursts). Timings as published from an HBM2 controller's
    registers (the values of DRAMSys's and gem5's HBM2 configurations). No
    currents: HBM2 IDD values are not public, so energy is not modelled.

An :class:`AddressMapping` says which address bits select the byte, column,
bank and row; it reads and writes DRAMSys's ``CONGEN`` address-mapping JSON.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from archgym.errors import ConfigurationError, UnknownNameError
from archgym.problem import Listing

SUPPORTED_MEMORY_TYPES = ("DDR3", "DDR4", "LPDDR4", "HBM2")
"""Memory standards this module can describe."""

_PRESET_FILES = {
    "ddr3-1600": "ddr3-1600.json",
    "ddr4-2400": "ddr4-2400.json",
    "ddr4-2400-2r": "ddr4-2400-2r.json",
    "lpddr4-3200": "lpddr4-3200.json",
    "lpddr4-3200-2ch": "lpddr4-3200-2ch.json",
    "hbm2-2000": "hbm2-2000.json",
}

_ARCHITECTURE_KEYS = {
    "nbrOfChannels": "channels",
    "nbrOfRanks": "ranks",
    "nbrOfBanks": "banks",
    "nbrOfRows": "rows",
    "nbrOfColumns": "columns",
    "width": "device_width",
    "nbrOfDevicesOnDIMM": "devices",
    "burstLength": "burst_length",
    "dataRate": "data_rate",
}

# The keys DRAMSys 4 requires for each standard (besides clkMhz).
_TIMING_KEYS_COMMON = (
    "AL", "CKE", "CKESR", "CL", "DQSCK", "FAW", "RAS", "RC", "RCD", "REFI", "RFC", "RL", "RP", "RTP",
    "WL", "WR", "XP", "XPDLL", "XS", "XSDLL", "ACTPDEN", "PRPDEN", "REFPDEN", "RTRS",
)  # fmt: skip
_TIMING_KEYS = {
    "DDR3": _TIMING_KEYS_COMMON + ("CCD", "RRD", "WTR"),
    "DDR4": _TIMING_KEYS_COMMON + ("CCD_S", "CCD_L", "RRD_S", "RRD_L", "WTR_S", "WTR_L", "REFM", "RPRE", "WPRE"),
    "LPDDR4": (
        "CCD", "CKE", "CMDCKE", "DQS2DQ", "DQSCK", "DQSS", "ESCKE", "FAW", "PPD", "RAS", "RCAB", "RCPB", "RCD",
        "REFI", "REFIPB", "RFCAB", "RFCPB", "RL", "RPAB", "RPPB", "RPST", "RRD", "RTP", "RTRS", "SR", "WL",
        "WPRE", "WR", "WTR", "XP", "XSR",
    ),
    "HBM2": (
        "CCDL", "CCDS", "CKE", "DQSCK", "FAW", "PL", "RAS", "RC", "RCDRD", "RCDWR", "REFI", "REFISB", "RFC",
        "RFCSB", "RL", "RP", "RRDL", "RRDS", "RREFD", "RTP", "RTW", "WL", "WR", "WTRL", "WTRS", "XP", "XS",
    ),
}
_CURRENT_KEYS_COMMON = (
    "idd0", "idd2n", "idd2p0", "idd2p1", "idd3n", "idd3p0", "idd3p1", "idd4r", "idd4w", "idd5", "idd6",
)  # fmt: skip
_CURRENT_KEYS = {
    "DDR3": _CURRENT_KEYS_COMMON,
    "DDR4": _CURRENT_KEYS_COMMON + ("idd02", "idd62"),
    # LPDDR4 has two core supplies: VDD1 currents carry the plain names, VDD2 currents a trailing 2.
    "LPDDR4": (
        "idd0", "idd02", "idd2n", "idd2n2", "idd3n", "idd3n2", "idd4r", "idd4r2", "idd4w", "idd4w2", "idd5",
        "idd52", "idd6", "idd62",
    ),
}  # fmt: skip
_CURRENT_KEYS["HBM2"] = ("idd0", "idd2n", "idd3n", "idd4r", "idd4w", "idd5")
_VOLTAGE_KEYS = {"DDR3": ("vdd",), "DDR4": ("vdd", "vdd2"), "LPDDR4": ("vdd", "vdd2"), "HBM2": ("vdd",)}

# DRAMSys names the VPP-domain currents of DDR4 after a second VDD; MemSpec uses JEDEC's names.
_DDR4_CURRENT_RENAMES = {"idd02": "ipp0", "idd62": "ipp6n"}

# DDR4 splits these timings by bank group; the plain key is the different-bank-group (short) value.
_DDR4_SHORT_TIMINGS = {"RRD": "RRD_S", "CCD": "CCD_S", "WTR": "WTR_S"}

# LPDDR4 splits precharge, row cycle and refresh into all-bank and per-bank values. The plain keys take
# what a bank's own commands wait for (per-bank precharge and row cycle) and the all-bank refresh.
_LPDDR4_PLAIN_TIMINGS = {"RP": "RPPB", "RC": "RCPB", "RFC": "RFCAB"}

# HBM2 names its read and write tRCD and its bank-group pairs its own way; the plain keys take the read
# tRCD and the different-bank-group (short) values.
_HBM2_PLAIN_TIMINGS = {"RCD": "RCDRD", "RRD": "RRDS", "CCD": "CCDS", "WTR": "WTRS"}

# Architecture keys DRAMSys does not require of every standard, with the value it assumes.
_OPTIONAL_ARCHITECTURE = {"LPDDR4": {"nbrOfDevicesOnDIMM": 1}, "HBM2": {"nbrOfDevicesOnDIMM": 1}}

# Standards whose memspecs may come without a power section (DRAMSys's own HBM2 memspec has none).
_POWER_OPTIONAL = ("HBM2",)


@dataclass(frozen=True)
class MemSpec:
    """One DRAM memory: organisation, timings and currents.

    Args:
        name: Preset name (``ddr3-1600``) or, for files, the memory id.
        memory_id: DRAMSys ``memoryId`` (for example ``MICRON_1Gb_DDR3-1600_8bit_G``).
        memory_type: ``"DDR3"``, ``"DDR4"``, ``"LPDDR4"`` or ``"HBM2"``.
        clock_mhz: Command clock frequency.
        banks: Banks per rank (all bank groups together).
        bank_groups: Bank groups per rank (1 for DDR3).
        ranks: Ranks per channel (pseudo channels for HBM2).
        rows: Rows per bank.
        columns: Columns per row (per device).
        device_width: Data bits per device.
        devices: Devices side by side on a rank.
        burst_length: Data beats per burst.
        data_rate: Beats per clock cycle (2 for DDR).
        channels: Independent channels.
        timings: Timing parameters in clock cycles, keyed by DRAMSys name (``CL``,
            ``RCD``, ``RP``, ``RAS``, ``RC``, ``RRD``, ``FAW``, ``CCD``, ``WL``,
            ``WR``, ``WTR``, ``RTP``, ``RFC``, ``REFI``, ...). DDR4 memspecs
            also hold the bank-group pairs (``RRD_S``/``RRD_L``,
            ``CCD_S``/``CCD_L``, ``WTR_S``/``WTR_L``) and give ``RRD``,
            ``CCD`` and ``WTR`` their short (different bank group) values.
            LPDDR4 memspecs hold the all-bank and per-bank pairs
            (``RPAB``/``RPPB``, ``RCAB``/``RCPB``, ``RFCAB``/``RFCPB``,
            ``REFI``/``REFIPB``) and give ``RP`` and ``RC`` their per-bank and
            ``RFC`` its all-bank value. HBM2 memspecs hold ``RCDRD``/``RCDWR``
            and the bank-group pairs ``RRDS``/``RRDL``, ``CCDS``/``CCDL``,
            ``WTRS``/``WTRL``; ``RCD``, ``RRD``, ``CCD`` and ``WTR`` take the
            read and the short values.
        currents: Currents in mA per device: ``idd0``, ``idd2n``, ``idd3n``,
            ``idd4r``, ``idd4w``, ``idd5``, ``idd6``, ``idd2p0``, ``idd2p1``,
            ``idd3p0``, ``idd3p1``, and for DDR4 ``ipp0``, ``ipp6n`` (and
            ``ipp3n`` where the source gives it). LPDDR4 has ``idd0``,
            ``idd2n``, ``idd3n``, ``idd4r``, ``idd4w``, ``idd5``, ``idd6`` on
            VDD1 and the same names with a trailing ``2`` on VDD2. Empty when
            the memspec has no power section (allowed for HBM2): the memory's
            energy is then unknown.
        vdd: Core supply voltage in volts (VDD1 for LPDDR4); None without a power section.
        vpp: Word-line supply voltage in volts (DDR4), else None.
        vdd2: Second core supply voltage in volts (LPDDR4's VDD2), else None.
        source: Where the numbers come from.
        document: The DRAMSys JSON document the memspec was read from.

    Raises:
        ConfigurationError: An unsupported memory type or inconsistent organisation.
    """

    name: str
    memory_id: str
    memory_type: str
    clock_mhz: float
    banks: int
    bank_groups: int
    ranks: int
    rows: int
    columns: int
    device_width: int
    devices: int
    burst_length: int
    data_rate: int
    channels: int
    timings: dict[str, int]
    currents: dict[str, float]
    vdd: float | None
    vpp: float | None = None
    vdd2: float | None = None
    source: str = ""
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.memory_type not in SUPPORTED_MEMORY_TYPES:
            raise ConfigurationError(
                f"memory type {self.memory_type!r} is not supported; supported types are "
                f"{', '.join(SUPPORTED_MEMORY_TYPES)}"
            )
        for attribute in _ARCHITECTURE_KEYS.values():
            value = getattr(self, attribute)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(
                    f"memspec {self.name!r}: {attribute} must be a positive integer, got {value!r}"
                )
        if (
            isinstance(self.bank_groups, bool)
            or not isinstance(self.bank_groups, int)
            or self.bank_groups < 1
        ):
            raise ConfigurationError(
                f"memspec {self.name!r}: bank_groups must be a positive integer, got {self.bank_groups!r}"
            )
        if self.banks % self.bank_groups:
            raise ConfigurationError(
                f"memspec {self.name!r}: {self.banks} banks do not divide into {self.bank_groups} bank groups"
            )
        if self.burst_length % self.data_rate:
            raise ConfigurationError(
                f"memspec {self.name!r}: burst length {self.burst_length} is not a whole number of "
                f"clock cycles at data rate {self.data_rate}"
            )
        if (self.device_width * self.devices) % 8:
            raise ConfigurationError(f"memspec {self.name!r}: the data bus is not a whole number of bytes")
        if not (math.isfinite(self.clock_mhz) and self.clock_mhz > 0):
            raise ConfigurationError(
                f"memspec {self.name!r}: clock_mhz must be positive, got {self.clock_mhz!r}"
            )

    def __hash__(self) -> int:
        return hash(repr(self))

    @property
    def per_bank_refresh(self) -> tuple[int, int] | None:
        """``(tRFCpb, tREFIpb)`` in cycles where the standard refreshes one bank at a time
        (LPDDR4's REFpb, HBM2's single-bank refresh), else None."""
        for rfc, refi in (("RFCPB", "REFIPB"), ("RFCSB", "REFISB")):
            if rfc in self.timings and refi in self.timings:
                return self.timings[rfc], self.timings[refi]
        return None

    @property
    def has_power(self) -> bool:
        """Whether the memspec gives currents and supplies, so its energy can be computed."""
        return self.vdd is not None and bool(self.currents)

    @property
    def tck_ns(self) -> float:
        """Clock period in nanoseconds."""
        return 1000.0 / self.clock_mhz

    @property
    def bus_bytes(self) -> int:
        """Width of a rank's data bus in bytes."""
        return self.device_width * self.devices // 8

    @property
    def burst_cycles(self) -> int:
        """Clock cycles one burst occupies the data bus."""
        return self.burst_length // self.data_rate

    @property
    def bytes_per_burst(self) -> int:
        """Bytes one burst moves (the natural request size)."""
        return self.bus_bytes * self.burst_length

    @property
    def page_bytes(self) -> int:
        """Bytes of one open row across a rank (the row-buffer size)."""
        return self.bus_bytes * self.columns

    @property
    def banks_per_group(self) -> int:
        """Banks in each bank group."""
        return self.banks // self.bank_groups

    @property
    def capacity_bytes(self) -> int:
        """Bytes of storage over all channels and ranks."""
        return self.page_bytes * self.rows * self.banks * self.ranks * self.channels

    def to_dramsys_json(self) -> dict[str, Any]:
        """A copy of the DRAMSys JSON document (``{"memspec": ..., "source": ...}``)."""
        return copy.deepcopy(self.document)

    @classmethod
    def from_dramsys_json(
        cls, document: Mapping[str, Any], name: str | None = None, origin: str = "memspec"
    ) -> MemSpec:
        """Build a memspec from a DRAMSys 4 memspec JSON document.

        Args:
            document: The parsed JSON (with a top-level ``"memspec"`` key).
            name: Name to give the memspec; defaults to its ``memoryId``.
            origin: Where the document comes from (a file path), for messages.

        Raises:
            ConfigurationError: A key is missing or has a wrong value; the
                message names ``origin`` and the key.
        """
        reader = _Reader(origin)
        spec = reader.section(document, "memspec", "")
        memory_id = reader.string(spec, "memoryId", "memspec")
        memory_type = reader.string(spec, "memoryType", "memspec").upper()
        if memory_type not in SUPPORTED_MEMORY_TYPES:
            raise ConfigurationError(
                f"{origin}: memspec.memoryType {memory_type!r} is not supported; supported types are "
                f"{', '.join(SUPPORTED_MEMORY_TYPES)}"
            )
        where = "memspec.memarchitecturespec"
        architecture = reader.section(spec, "memarchitecturespec", "memspec")
        optional = _OPTIONAL_ARCHITECTURE.get(memory_type, {})
        organisation = {
            attribute: reader.integer({**optional, **architecture}, key, where, low=1)
            for key, attribute in _ARCHITECTURE_KEYS.items()
        }
        if memory_type in ("DDR4", "HBM2"):
            organisation["bank_groups"] = reader.integer(architecture, "nbrOfBankGroups", where, low=1)
        else:
            organisation["bank_groups"] = 1

        where = "memspec.memtimingspec"
        timing_spec = reader.section(spec, "memtimingspec", "memspec")
        clock_mhz = reader.number(timing_spec, "clkMhz", where, positive=True)
        timings = {key: reader.integer(timing_spec, key, where, low=0) for key in _TIMING_KEYS[memory_type]}
        for key, value in timing_spec.items():  # keep any further integer timings
            if (
                key != "clkMhz"
                and key not in timings
                and isinstance(value, int)
                and not isinstance(value, bool)
            ):
                timings[key] = value
        if memory_type == "DDR4":
            if timings["REFM"] != 1:
                raise ConfigurationError(
                    f"{origin}: {where}.REFM is {timings['REFM']}; only the normal 1x refresh mode (REFM 1) "
                    "is supported"
                )
            for plain, short in _DDR4_SHORT_TIMINGS.items():
                timings.setdefault(plain, timings[short])
        elif memory_type == "LPDDR4":
            for plain, specific in _LPDDR4_PLAIN_TIMINGS.items():
                timings.setdefault(plain, timings[specific])
        elif memory_type == "HBM2":
            for plain, specific in _HBM2_PLAIN_TIMINGS.items():
                timings.setdefault(plain, timings[specific])

        where = "memspec.mempowerspec"
        power: Mapping[str, Any] = {}
        if memory_type in _POWER_OPTIONAL and "mempowerspec" not in spec:
            currents: dict[str, float] = {}
            voltages = {}  # no currents and no supply: the energy is unknown
        else:
            power = reader.section(spec, "mempowerspec", "memspec")
            currents = {key: reader.number(power, key, where) for key in _CURRENT_KEYS[memory_type]}
            voltages = {
                key: reader.number(power, key, where, positive=True) for key in _VOLTAGE_KEYS[memory_type]
            }
        for key, value in power.items():  # keep further currents (ipp3n and the like)
            if (
                key not in currents
                and key not in voltages
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                currents[key] = float(value)
        if memory_type == "DDR4":
            currents = {_DDR4_CURRENT_RENAMES.get(key, key): value for key, value in currents.items()}

        source = document.get("source", "")
        if not isinstance(source, str):
            raise ConfigurationError(f"{origin}: 'source' must be a string, got {type(source).__name__}")
        try:
            return cls(
                name=memory_id if name is None else name,
                memory_id=memory_id,
                memory_type=memory_type,
                clock_mhz=clock_mhz,
                timings=timings,
                currents=currents,
                vdd=voltages.get("vdd"),
                vpp=voltages["vdd2"] if memory_type == "DDR4" else None,
                vdd2=voltages["vdd2"] if memory_type == "LPDDR4" else None,
                source=source,
                document=copy.deepcopy(dict(document)),
                **organisation,
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{origin}: {exc}") from None


class _Reader:
    """Typed access to JSON values, with errors naming the file and the key."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def _get(self, mapping: Mapping[str, Any], key: str, where: str) -> Any:
        path = f"{where}.{key}" if where else key
        if not isinstance(mapping, Mapping) or key not in mapping:
            raise ConfigurationError(f"{self.origin}: missing key {path!r}")
        return mapping[key]

    def section(self, mapping: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        value = self._get(mapping, key, where)
        if not isinstance(value, Mapping):
            path = f"{where}.{key}" if where else key
            raise ConfigurationError(
                f"{self.origin}: {path!r} must be a JSON object, got {type(value).__name__}"
            )
        return value

    def string(self, mapping: Mapping[str, Any], key: str, where: str) -> str:
        value = self._get(mapping, key, where)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(
                f"{self.origin}: {where}.{key} must be a non-empty string, got {value!r}"
            )
        return value

    def integer(self, mapping: Mapping[str, Any], key: str, where: str, low: int) -> int:
        value = self._get(mapping, key, where)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigurationError(
                f"{self.origin}: {where}.{key} must be an integer >= {low} (as DRAMSys requires), got {value!r}"
            )
        return value

    def number(self, mapping: Mapping[str, Any], key: str, where: str, positive: bool = False) -> float:
        value = self._get(mapping, key, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigurationError(f"{self.origin}: {where}.{key} must be a number, got {value!r}")
        if value < 0 or (positive and value == 0):
            kind = "positive" if positive else "non-negative"
            raise ConfigurationError(f"{self.origin}: {where}.{key} must be {kind}, got {value!r}")
        return float(value)


def _parse_json(text: str, origin: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{origin}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(document, dict):
        raise ConfigurationError(
            f"{origin}: expected a JSON object at the top level, got {type(document).__name__}"
        )
    return document


def _read_json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{what} file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read {what} file {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{what} file {str(path)!r} is not UTF-8 text (byte at offset {exc.start}); "
                                 "expected a JSON file") from None
    return _parse_json(text, str(path))


@functools.cache
def _preset_document(name: str) -> dict[str, Any]:
    resource = importlib.resources.files(__package__).joinpath("memspecs", _PRESET_FILES[name])
    return _parse_json(resource.read_text(encoding="utf-8"), f"preset {name} ({_PRESET_FILES[name]})")


@functools.cache
def _preset(name: str) -> MemSpec:
    return MemSpec.from_dramsys_json(_preset_document(name), name=name, origin=f"memspec preset {name!r}")


@functools.lru_cache(maxsize=1)
def _preset_ids() -> dict[str, str]:
    return {_preset(name).memory_id.lower(): name for name in _PRESET_FILES}


def list_memspecs() -> tuple[str, ...]:
    """Names of the bundled memspec presets."""
    return tuple(_PRESET_FILES)


def preset_listing() -> list[Listing]:
    """The bundled memory presets as a table for ``archgym envs``: type, speed bin, organisation, the
    RefreshPolicy values besides NoRefresh, source."""
    rows = []
    for name in list_memspecs():
        spec = load_memspec(name)
        speed = f"{spec.memory_type}-{round(spec.clock_mhz * 2)}"
        groups = f" in {spec.bank_groups} groups" if spec.bank_groups > 1 else ""
        organisation = f"{spec.devices} x{spec.device_width} devices, {spec.banks} banks{groups}"
        if spec.ranks > 1:
            unit = "pseudo channels" if spec.memory_type == "HBM2" else "ranks"
            organisation = f"{spec.ranks} {unit} of {organisation}"
        if spec.channels > 1:
            organisation = f"{spec.channels} channels of {organisation}"
        refresh = "AllBank, PerBank" if spec.per_bank_refresh is not None else "AllBank"
        rows.append((name, spec.memory_type, speed, organisation, refresh, spec.source))
    columns = ("memspec", "type", "speed bin", "organisation", "refresh policies", "source")
    return [Listing("memory presets (--memspec NAME, or a DRAMSys memspec JSON file)", columns, tuple(rows))]


def load_memspec(name_or_path: str | os.PathLike[str] = "ddr3-1600") -> MemSpec:
    """A bundled preset or a DRAMSys memspec JSON file.

    Args:
        name_or_path: A preset name (``ddr3-1600``, ``ddr4-2400``,
            ``ddr4-2400-2r``, ``lpddr4-3200``, ``lpddr4-3200-2ch``, ``hbm2-2000``) or a
            preset's memory id, in any letter case; or a path to a DRAMSys 4
            memspec JSON file.

    Returns:
        The memspec. Presets are parsed once and cached; every call returns
        a fresh copy, so changing one does not change the next.

    Raises:
        UnknownNameError: Not a preset and not a ``.json`` path.
        ConfigurationError: The file is missing, not JSON, or lacks a key;
            the message names the file and the key.
    """
    if not isinstance(name_or_path, os.PathLike):
        if not isinstance(name_or_path, str):
            raise ConfigurationError(
                f"a memspec is a preset name or a path to a JSON file, got {type(name_or_path).__name__}"
            )
        key = name_or_path.strip().lower()
        preset = key if key in _PRESET_FILES else _preset_ids().get(key)
        if preset is not None:
            return copy.deepcopy(_preset(preset))
        if not key.endswith(".json") and not Path(name_or_path).is_file():
            raise UnknownNameError(
                f"unknown memspec {name_or_path!r}; presets are {', '.join(_PRESET_FILES)}. "
                "A path to a DRAMSys memspec JSON file is also accepted"
            )
    path = Path(name_or_path)
    return MemSpec.from_dramsys_json(_read_json_file(path, "memspec"), origin=str(path))


# -- address mapping ----------------------------------------------------------------
def _bit_tuple(bits: Sequence[int], what: str) -> tuple[int, ...]:
    try:
        values = tuple(bits)
    except TypeError:
        raise ConfigurationError(f"{what} must be a sequence of bit positions, got {bits!r}") from None
    for bit in values:
        if isinstance(bit, bool) or not isinstance(bit, (int, np.integer)) or not 0 <= bit < 64:
            raise ConfigurationError(f"{what}: bit position {bit!r} is not an integer in [0, 63]")
    return tuple(int(bit) for bit in values)


@dataclass(frozen=True)
class AddressMapping:
    """Which address bits select the byte, column, bank and row.

    Bits are listed least significant first: bit ``i`` of the decoded field is
    address bit ``field_bits[i]``. For DDR4 the bank bits include the bank
    group bits, so the decoded bank is the flat index over the rank
    (``bank_in_group + group * banks_per_group``, as in DRAMSys); the last
    ``n_bank_group_bits`` of ``bank_bits`` select the group. Rank bits (an
    HBM2 pseudo channel) extend the bank index the same way: the decoded
    bank is ``bank + rank * banks``, as DRAMSys numbers a channel's banks.
    Channel bits select one of the memory's independent channels and extend
    it once more (``+ channel * banks * ranks``).

    Args:
        byte_bits: Bits selecting the byte within a bus word.
        column_bits: Column bits.
        bank_bits: Bank bits, bank-group bits last.
        row_bits: Row bits.
        n_bank_group_bits: How many of the last ``bank_bits`` select the bank group.
        rank_bits: Rank (pseudo-channel) bits.
        channel_bits: Channel bits.

    Raises:
        ConfigurationError: A bit is out of range or used twice.
    """

    byte_bits: tuple[int, ...]
    column_bits: tuple[int, ...]
    bank_bits: tuple[int, ...]
    row_bits: tuple[int, ...]
    n_bank_group_bits: int = 0
    rank_bits: tuple[int, ...] = ()
    channel_bits: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        fields_ = {
            "byte_bits": self.byte_bits,
            "column_bits": self.column_bits,
            "bank_bits": self.bank_bits,
            "row_bits": self.row_bits,
            "rank_bits": self.rank_bits,
            "channel_bits": self.channel_bits,
        }
        seen: dict[int, str] = {}
        for what, bits in fields_.items():
            bits = _bit_tuple(bits, what)
            object.__setattr__(self, what, bits)
            for bit in bits:
                if bit in seen:
                    raise ConfigurationError(f"address bit {bit} is used twice: in {seen[bit]} and in {what}")
                seen[bit] = what
        count = self.n_bank_group_bits
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= len(self.bank_bits):
            raise ConfigurationError(
                f"n_bank_group_bits must be an integer in [0, {len(self.bank_bits)}] (the number of bank bits), "
                f"got {count!r}"
            )

    @property
    def bank_group_bits(self) -> tuple[int, ...]:
        """The bank bits that select the bank group."""
        return self.bank_bits[len(self.bank_bits) - self.n_bank_group_bits :]

    def decode(self, addresses: np.ndarray | Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bank (numbered over all ranks, then channels), row and column of each address, as int64 arrays
        (vectorised)."""
        values = np.asarray(addresses)
        if values.dtype.kind == "i" and (values < 0).any():
            raise ConfigurationError("addresses must be non-negative")
        if values.dtype.kind not in "iu":
            raise ConfigurationError(f"addresses must be integers, got dtype {values.dtype}")
        values = values.astype(np.uint64, copy=False)
        bank = _bits(values, self.bank_bits + self.rank_bits + self.channel_bits)
        return bank, _bits(values, self.row_bits), _bits(values, self.column_bits)

    def to_dramsys_json(self) -> dict[str, Any]:
        """The mapping in DRAMSys's ``CONGEN`` layout."""
        split = len(self.bank_bits) - self.n_bank_group_bits
        congen: dict[str, list[int]] = {}
        if self.channel_bits:
            congen["CHANNEL_BIT"] = list(self.channel_bits)
        if self.rank_bits:
            congen["RANK_BIT"] = list(self.rank_bits)
        if self.n_bank_group_bits:
            congen["BANKGROUP_BIT"] = list(self.bank_bits[split:])
        congen["BANK_BIT"] = list(self.bank_bits[:split])
        congen["BYTE_BIT"] = list(self.byte_bits)
        congen["COLUMN_BIT"] = list(self.column_bits)
        congen["ROW_BIT"] = list(self.row_bits)
        return {"CONGEN": congen}

    @classmethod
    def from_dramsys_json(
        cls, document: Mapping[str, Any], origin: str = "address mapping"
    ) -> AddressMapping:
        """Read DRAMSys's ``CONGEN`` layout (without XOR).

        Raises:
            ConfigurationError: The layout is missing, malformed or uses XOR,
                which is not supported.
        """
        congen = document.get("CONGEN") if isinstance(document, Mapping) else None
        if not isinstance(congen, Mapping):
            raise ConfigurationError(
                f"{origin}: missing top-level key 'CONGEN' (the DRAMSys address-mapping layout)"
            )
        if "SOLUTION" in congen:  # several candidate mappings; DRAMSys uses the one with ID 0
            chosen = [s for s in congen["SOLUTION"] if isinstance(s, Mapping) and s.get("ID") == 0]
            if not chosen:
                raise ConfigurationError(f"{origin}: CONGEN.SOLUTION has no mapping with ID 0")
            congen = chosen[0]
        if congen.get("XOR"):
            raise ConfigurationError(f"{origin}: CONGEN.XOR is not supported; only mappings without XOR can be read")

        def bits(key: str, required: bool = True) -> tuple[int, ...]:
            if key not in congen:
                if required:
                    raise ConfigurationError(f"{origin}: missing key 'CONGEN.{key}'")
                return ()
            value = congen[key]
            if not isinstance(value, list):
                raise ConfigurationError(
                    f"{origin}: CONGEN.{key} must be a list of bit positions, got {value!r}"
                )
            return _bit_tuple(value, f"{origin}: CONGEN.{key}")

        group_bits = bits("BANKGROUP_BIT", required=False)
        try:
            return cls(
                byte_bits=bits("BYTE_BIT"),
                column_bits=bits("COLUMN_BIT"),
                bank_bits=bits("BANK_BIT") + group_bits,
                row_bits=bits("ROW_BIT"),
                n_bank_group_bits=len(group_bits),
                rank_bits=bits("RANK_BIT", required=False),
                channel_bits=bits("CHANNEL_BIT", required=False),
            )
        except ConfigurationError as exc:
            raise ConfigurationError(f"{origin}: {exc}") from None

    def check(self, memspec: MemSpec) -> None:
        """Raise unless the mapping's fields have the sizes of ``memspec`` (as DRAMSys checks).

        Raises:
            ConfigurationError: Names the first field whose size differs.
        """
        expected = {
            "byte_bits": memspec.bus_bytes,
            "column_bits": memspec.columns,
            "bank_bits": memspec.banks,
            "row_bits": memspec.rows,
            "rank_bits": memspec.ranks,
            "channel_bits": memspec.channels,
        }
        for what, size in expected.items():
            bits = len(getattr(self, what))
            if 1 << bits != size:
                raise ConfigurationError(
                    f"address mapping has {bits} {what.replace('_', ' ')} ({1 << bits} values) but memspec "
                    f"{memspec.name!r} needs {size}"
                )
        if 1 << self.n_bank_group_bits != memspec.bank_groups:
            raise ConfigurationError(
                f"address mapping has {self.n_bank_group_bits} bank-group bits but memspec {memspec.name!r} "
                f"has {memspec.bank_groups} bank groups"
            )


def _bits(values: np.ndarray, bits: tuple[int, ...]) -> np.ndarray:
    if not bits:
        return np.zeros(values.shape, dtype=np.int64)
    low = bits[0]
    if bits == tuple(range(low, low + len(bits))):  # contiguous: one shift and mask
        mask = np.uint64((1 << len(bits)) - 1)
        return ((values >> np.uint64(low)) & mask).astype(np.int64)
    out = np.zeros(values.shape, dtype=np.uint64)
    for i, bit in enumerate(bits):
        out |= ((values >> np.uint64(bit)) & np.uint64(1)) << np.uint64(i)
    return out.astype(np.int64)


def _log2(value: int, what: str, memspec: MemSpec) -> int:
    if value & (value - 1):
        raise ConfigurationError(f"memspec {memspec.name!r}: {what} ({value}) is not a power of two")
    return value.bit_length() - 1


def default_address_mapping(memspec: MemSpec) -> AddressMapping:
    """Row-bank-column mapping: byte bits lowest, then column, channel, bank (with bank group), rank and row bits.

    For the DDR3-1600 preset this is DRAMSys's ``am_ddr3_8x1Gbx8_dimm_p1KB_rbc``:
    byte bits 0-2, column bits 3-12, bank bits 13-15 and row bits 16-29. The
    channels of a multi-channel memory come right above the columns, so
    consecutive pages alternate between channels; an HBM2 memory's pseudo
    channels (ranks) come right above the banks, so consecutive rows
    alternate between them.

    Raises:
        ConfigurationError: A size of the memspec is not a power of two.
    """
    widths = [
        _log2(memspec.bus_bytes, "bus width in bytes", memspec),
        _log2(memspec.columns, "columns", memspec),
        _log2(memspec.channels, "channels", memspec),
        _log2(memspec.banks, "banks", memspec),
        _log2(memspec.ranks, "ranks", memspec),
        _log2(memspec.rows, "rows", memspec),
    ]
    group_bits = _log2(memspec.bank_groups, "bank groups", memspec)
    byte, column, channel, bank, rank, row = [], [], [], [], [], []
    fields_: list[list[int]] = [byte, column, channel, bank, rank, row]
    low = 0
    for bits, width in zip(fields_, widths):
        bits.extend(range(low, low + width))
        low += width
    return AddressMapping(
        tuple(byte), tuple(column), tuple(bank), tuple(row), n_bank_group_bits=group_bits, rank_bits=tuple(rank),
        channel_bits=tuple(channel),
    )


def load_address_mapping(path: str | os.PathLike[str]) -> AddressMapping:
    """Read a DRAMSys ``CONGEN`` address-mapping JSON file.

    Raises:
        ConfigurationError: The file is missing, not JSON or not a supported mapping.
    """
    path = Path(path)
    return AddressMapping.from_dramsys_json(_read_json_file(path, "address mapping"), origin=str(path))
