"""The SoC design space: processing elements, memories, interconnect and task mapping.

Defined once here and shared by every SoC backend, environment and agent. The
knobs do not depend on the workload: accelerators and mapping are chosen per
kernel class (:data:`~archgym.simulators.soc.hardware.KERNELS`), and every
task of that class in any application follows its class's choice.

* ``cores``, ``core_freq_mhz``: how many general-purpose cores, and their
  operating point.
* ``acc_<kernel>``: lanes of the accelerator for that kernel class
  (0: no accelerator).
* ``map_<kernel>``: where tasks of that class run: on the cores, or on the
  class's accelerator. Mapping to an absent accelerator is an infeasible design.
* ``sram_kib``: on-chip SRAM for the buffers between tasks; ``dram_channels``:
  LPDDR4 channels for the buffers that do not fit (0: no DRAM, so every
  buffer must fit in SRAM, else the design is infeasible).
* ``bus_width_bits``, ``bus_freq_mhz``: the shared bus.
"""

from __future__ import annotations

from archgym.simulators.soc.hardware import KERNELS
from archgym.space import DesignSpace, Parameter, ParameterKind

ACCELERATOR_LANES = (0, 1, 2, 4)
"""Allowed lanes of an accelerator; 0 means the SoC has none for that kernel class."""

MAPPING_TARGETS = ("core", "accelerator")
"""Where tasks of a kernel class run."""

SOC_KNOBS: tuple[Parameter, ...] = (
    Parameter("cores", (1, 2, 3, 4), ParameterKind.ORDINAL, "general-purpose cores (Cortex-A53 class)"),
    Parameter("core_freq_mhz", (500, 1000, 1500), ParameterKind.ORDINAL, "core operating point (DVFS)"),
    *(
        Parameter(
            f"acc_{kernel}", ACCELERATOR_LANES, ParameterKind.ORDINAL,
            f"lanes of the {kernel} accelerator (0: none)",
        )
        for kernel in KERNELS
    ),
    *(
        Parameter(
            f"map_{kernel}", MAPPING_TARGETS, ParameterKind.CATEGORICAL,
            f"where {kernel} tasks run: on the cores or on the {kernel} accelerator",
        )
        for kernel in KERNELS
    ),
    Parameter("sram_kib", (0, 128, 256, 512, 1024, 2048, 4096, 8192), ParameterKind.ORDINAL, "on-chip SRAM for task buffers (KiB)"),
    Parameter("dram_channels", (0, 1, 2), ParameterKind.ORDINAL, "LPDDR4 channels (0: no DRAM)"),
    Parameter("bus_width_bits", (32, 64, 128, 256), ParameterKind.ORDINAL, "shared bus width (bits)"),
    Parameter("bus_freq_mhz", (100, 200, 400, 800), ParameterKind.ORDINAL, "shared bus frequency (MHz)"),
)

SOC_DESIGN_SPACE = DesignSpace(SOC_KNOBS, name="soc")
"""The 18,874,368-design SoC space."""

DEFAULT_SOC_DESIGN: dict[str, object] = {
    "cores": 2,
    "core_freq_mhz": 1000,
    **{f"acc_{kernel}": 0 for kernel in KERNELS},
    **{f"map_{kernel}": "core" for kernel in KERNELS},
    "sram_kib": 0,
    "dram_channels": 1,
    "bus_width_bits": 64,
    "bus_freq_mhz": 200,
}
"""A software-only starting point: two cores, one DRAM channel, no SRAM, no accelerators."""
