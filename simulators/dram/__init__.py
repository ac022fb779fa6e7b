"""The DRAM memory-controller problem: knobs, memspecs, workloads and cost models."""

from archgym.simulators.dram.knobs import DEFAULT_DRAM_DESIGN, DRAM_DESIGN_SPACE, DRAM_KNOBS

__all__ = ["DEFAULT_DRAM_DESIGN", "DRAM_DESIGN_SPACE", "DRAM_KNOBS"]
