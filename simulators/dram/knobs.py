"""The DRAM memory-controller design space: ten DRAMSys controller knobs.

Defined once here and shared by every DRAM backend, environment and agent.
Names and values follow DRAMSys 4's ``mcconfig`` options, so a design maps
one-to-one onto a DRAMSys controller configuration. Memories that can refresh
one bank at a time (LPDDR4, HBM2) add ``PerBank`` to ``RefreshPolicy``
(:func:`dram_design_space`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archgym.space import DesignSpace, Parameter, ParameterKind

if TYPE_CHECKING:
    from archgym.simulators.dram.memspec import MemSpec

_POWERS_OF_TWO_1_128 = (1, 2, 4, 8, 16, 32, 64, 128)
_POWERS_OF_TWO_1_8 = (1, 2, 4, 8)

DRAM_KNOBS: tuple[Parameter, ...] = (
    Parameter(
        "PagePolicy",
        ("Open", "OpenAdaptive", "Closed", "ClosedAdaptive"),
        ParameterKind.CATEGORICAL,
        "when a bank's open row is closed: never, unless a conflict is queued, "
        "after every access, or unless a hit is queued",
    ),
    Parameter(
        "Scheduler",
        ("Fifo", "FrFcfsGrp", "FrFcfs"),
        ParameterKind.CATEGORICAL,
        "request order: arrival order, first-ready FCFS grouping reads and writes, first-ready FCFS",
    ),
    Parameter(
        "SchedulerBuffer",
        ("Bankwise", "ReadWrite", "Shared"),
        ParameterKind.CATEGORICAL,
        "scheduler buffer organisation: one per bank, one per direction, or one shared",
    ),
    Parameter(
        "RequestBufferSize",
        _POWERS_OF_TWO_1_128,
        ParameterKind.ORDINAL,
        "entries in each scheduler buffer",
    ),
    Parameter(
        "RespQueue",
        ("Fifo", "Reorder"),
        ParameterKind.CATEGORICAL,
        "response queue: completion order, or reordered to request order",
    ),
    Parameter(
        "RefreshPolicy",
        ("NoRefresh", "AllBank"),
        ParameterKind.CATEGORICAL,
        "refresh: none, or all-bank refresh every tREFI",
    ),
    Parameter(
        "RefreshMaxPostponed",
        _POWERS_OF_TWO_1_8,
        ParameterKind.ORDINAL,
        "refreshes that may be postponed while requests are pending",
    ),
    Parameter(
        "RefreshMaxPulledin",
        _POWERS_OF_TWO_1_8,
        ParameterKind.ORDINAL,
        "refreshes that may be pulled in while the controller is idle",
    ),
    Parameter(
        "Arbiter",
        ("Simple", "Fifo", "Reorder"),
        ParameterKind.CATEGORICAL,
        "front-end arbiter: pass-through, FIFO, or FIFO with in-order responses",
    ),
    Parameter(
        "MaxActiveTransactions",
        _POWERS_OF_TWO_1_128,
        ParameterKind.ORDINAL,
        "transactions the Fifo and Reorder arbiters keep in flight per initiator",
    ),
)

DRAM_DESIGN_SPACE = DesignSpace(DRAM_KNOBS, name="dram")
"""The 442,368-design memory-controller space."""

DEFAULT_DRAM_DESIGN: dict[str, object] = {
    "PagePolicy": "Open",
    "Scheduler": "FrFcfs",
    "SchedulerBuffer": "Bankwise",
    "RequestBufferSize": 8,
    "RespQueue": "Fifo",
    "RefreshPolicy": "AllBank",
    "RefreshMaxPostponed": 8,
    "RefreshMaxPulledin": 8,
    "Arbiter": "Simple",
    "MaxActiveTransactions": 128,
}
"""DRAMSys's example DDR3 controller configuration, a sensible starting point."""

_PER_BANK_REFRESH = Parameter(
    "RefreshPolicy",
    ("NoRefresh", "AllBank", "PerBank"),
    ParameterKind.CATEGORICAL,
    "refresh: none, all banks every tREFI, or one bank every tREFIpb",
)

DRAM_PER_BANK_DESIGN_SPACE = DesignSpace(
    tuple(_PER_BANK_REFRESH if p.name == "RefreshPolicy" else p for p in DRAM_KNOBS), name="dram-per-bank"
)
"""The space of memories with per-bank refresh (663,552 designs): ``RefreshPolicy`` adds ``PerBank``."""


def dram_design_space(memspec: MemSpec) -> DesignSpace:
    """The controller design space for a memory: :data:`DRAM_DESIGN_SPACE`, with
    ``PerBank`` refresh where the standard has it (DRAMSys refuses it for DDR3 and DDR4)."""
    return DRAM_PER_BANK_DESIGN_SPACE if memspec.per_bank_refresh is not None else DRAM_DESIGN_SPACE
