"""The SoC problem (FARSI style): task graphs, a hardware library, knobs and an analytical model."""

from archgym.cost_model import register_backend
from archgym.simulators.soc.analytical import SocAnalyticalModel, SocResult
from archgym.simulators.soc.farsi import FarsiModel, farsi_unavailable_reason
from archgym.simulators.soc.hardware import KERNELS, HardwareLibrary
from archgym.simulators.soc.knobs import DEFAULT_SOC_DESIGN, SOC_DESIGN_SPACE, SOC_KNOBS
from archgym.simulators.soc.taskgraph import Application, Edge, Task, Workload
from archgym.simulators.soc.workloads import BUNDLED_WORKLOADS, resolve_workload

register_backend(
    "soc/analytical",
    SocAnalyticalModel,
    "bundled analytical SoC model (exact fluid schedule of AR/VR task graphs), sub-millisecond per design",
)
register_backend(
    "soc/farsi",
    FarsiModel,
    "FARSI SoC simulator from a Project_FARSI checkout (ARCHGYM_FARSI; the farsi extra), tens of ms per design",
    availability=farsi_unavailable_reason,
)

__all__ = [
    "BUNDLED_WORKLOADS",
    "DEFAULT_SOC_DESIGN",
    "KERNELS",
    "SOC_DESIGN_SPACE",
    "SOC_KNOBS",
    "Application",
    "Edge",
    "FarsiModel",
    "HardwareLibrary",
    "SocAnalyticalModel",
    "SocResult",
    "Task",
    "Workload",
    "resolve_workload",
]
