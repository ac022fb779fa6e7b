"""The DRAM memory-controller problem: knobs, memspecs, workloads and cost models."""

from archgym.cost_model import register_backend
from archgym.simulators.dram.analytical import DramAnalyticalModel
from archgym.simulators.dram.dramsys import DramSysModel, dramsys_unavailable_reason
from archgym.simulators.dram.knobs import DEFAULT_DRAM_DESIGN, DRAM_DESIGN_SPACE, DRAM_KNOBS

register_backend(
    "dram/analytical",
    DramAnalyticalModel,
    "bundled analytical controller model (queueing and DRAMPower equations), microseconds per design",
)
register_backend(
    "dram/dramsys",
    DramSysModel,
    "cycle-accurate DRAMSys 4 simulator (binary from ARCHGYM_DRAMSYS), tens of milliseconds per design",
    availability=dramsys_unavailable_reason,
)

__all__ = ["DEFAULT_DRAM_DESIGN", "DRAM_DESIGN_SPACE", "DRAM_KNOBS", "DramAnalyticalModel", "DramSysModel"]
