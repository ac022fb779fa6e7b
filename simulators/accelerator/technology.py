"""Technology numbers of the accelerator problem: energy per access and component areas (45 nm class).

Both accelerator backends use these numbers, so that the analytical model and
ZigZag score the same hardware: :mod:`archgym.simulators.accelerator.zigzag`
passes them to ZigZag as its per-access energies and unit costs.

Energy, from M. Horowitz, "Computing's energy problem (and what we can do about
it)", ISSCC 2014 (45 nm, 0.9 V):

* 8-bit integer multiply 0.2 pJ, 16-bit add 0.05 pJ (between the paper's 8-bit
  0.03 pJ and 32-bit 0.1 pJ adds): one MAC of 8-bit operands into a 16-bit
  partial sum is :data:`MAC_ENERGY_PJ` = 0.25 pJ.
* SRAM read of a 64-bit word: 10 pJ from 8 KB, 20 pJ from 32 KB, 100 pJ from
  1 MB, i.e. 1.25, 2.5 and 12.5 pJ per byte. Energy per byte grows with the
  square root of capacity (word and bit lines grow with the side of the
  array), ``e(S) = 1.25 pJ * sqrt(S / 8 KiB)``, which reproduces the three
  points within 13 %. The same law gives the per-PE register files (0.11 pJ
  per byte for 64 bytes, about half a MAC for a 16-bit partial sum, the ratio
  Eyeriss reports, Chen et al., ISCA 2016). Writes cost as much as reads.
* DRAM: 1.3-2.6 nJ per 64-bit access; we use the low end, 1.3 nJ / 8 B =
  :data:`DRAM_ENERGY_PJ_PER_BYTE` = 162.5 pJ per byte.

Area (45 nm; estimates, not layouts):

* MAC: 8-bit multiplier 282 um^2 plus a 16-bit adder of about 67 um^2
  (Horowitz 2014 gives 36 um^2 for 8-bit and 137 um^2 for 32-bit adds):
  :data:`MAC_AREA_MM2` = 350 um^2.
* SRAM: a 0.346 um^2 6T cell (Mistry et al., Intel 45 nm, IEDM 2007) at 50 %
  array efficiency, 0.69 um^2 per bit: :data:`SRAM_AREA_MM2_PER_BYTE`.
* Register files are built from latches and flip-flops, taken as eight times
  the SRAM bit: :data:`RF_AREA_MM2_PER_BYTE`.
* The on-chip network and the DRAM interface (PHY) grow with their
  bandwidth: 0.002 mm^2 and 0.05 mm^2 per byte per cycle (a 64-bit DDR PHY of
  about 0.4 mm^2 at 8 bytes per cycle).
"""

from __future__ import annotations

import numpy as np

MAC_ENERGY_PJ = 0.25
"""Energy of one 8-bit multiply with a 16-bit accumulate."""

SRAM_ENERGY_PJ_PER_BYTE_8KIB = 1.25
"""Read energy per byte of an 8 KiB SRAM (10 pJ per 64-bit word)."""

DRAM_ENERGY_PJ_PER_BYTE = 162.5
"""Off-chip access energy per byte (1.3 nJ per 64-bit access)."""

MAC_AREA_MM2 = 350e-6
"""Area of one MAC unit."""

SRAM_AREA_MM2_PER_BYTE = 8 * 0.69e-6
"""SRAM area per byte (0.69 um^2 per bit)."""

RF_AREA_MM2_PER_BYTE = 8 * SRAM_AREA_MM2_PER_BYTE
"""Register-file area per byte (eight SRAM bits per bit)."""

NOC_AREA_MM2_PER_BYTE_PER_CYCLE = 0.002
"""On-chip network area per byte per cycle of bandwidth."""

DRAM_PHY_AREA_MM2_PER_BYTE_PER_CYCLE = 0.05
"""DRAM interface area per byte per cycle of bandwidth."""

WEIGHT_BYTES = 1
"""Bytes per weight (8-bit)."""
INPUT_BYTES = 1
"""Bytes per input activation (8-bit)."""
PSUM_BYTES = 2
"""Bytes per partial sum (16-bit accumulation)."""
OUTPUT_BYTES = 1
"""Bytes per final output activation (re-quantised to 8 bits)."""


def sram_energy_pj_per_byte(capacity_bytes: float | np.ndarray) -> float | np.ndarray:
    """Access energy per byte of an on-chip memory of ``capacity_bytes``: ``1.25 pJ * sqrt(S / 8 KiB)``."""
    return SRAM_ENERGY_PJ_PER_BYTE_8KIB * np.sqrt(np.asarray(capacity_bytes, dtype=np.float64) / 8192.0)
