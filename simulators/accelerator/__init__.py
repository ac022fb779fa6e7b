"""The DNN accelerator problem: workloads, knobs, the analytical model and the ZigZag wrapper."""

from archgym.cost_model import register_backend
from archgym.simulators.accelerator.analytical import AcceleratorAnalyticalModel
from archgym.simulators.accelerator.knobs import (
    ACCELERATOR_DESIGN_SPACE,
    ACCELERATOR_KNOBS,
    DEFAULT_ACCELERATOR_DESIGN,
)
from archgym.simulators.accelerator.workloads import ZOO, Layer, Network, resolve_workload
from archgym.simulators.accelerator.zigzag import ZigZagModel, zigzag_unavailable_reason

register_backend(
    "accelerator/analytical",
    AcceleratorAnalyticalModel,
    "bundled analytical DNN accelerator model (tiling, roofline per memory level, 45 nm energies), "
    "microseconds per design in batches",
)
register_backend(
    "accelerator/zigzag",
    ZigZagModel,
    "ZigZag DNN accelerator DSE tool (the accelerator extra: pip install zigzag-dse six), seconds per layer",
    availability=zigzag_unavailable_reason,
)

__all__ = [
    "ACCELERATOR_DESIGN_SPACE",
    "ACCELERATOR_KNOBS",
    "DEFAULT_ACCELERATOR_DESIGN",
    "ZOO",
    "AcceleratorAnalyticalModel",
    "Layer",
    "Network",
    "ZigZagModel",
    "resolve_workload",
]
