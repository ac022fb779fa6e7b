"""The SoC hardware library: cores, accelerators, memories and the interconnect.

Every number is a documented default that a :class:`HardwareLibrary` can
override. Where FARSI's database has the number, it is FARSI's (the
``Project_FARSI`` checkout behind ArchGym's SoC environment, also in the
public ArchGym repository: ``specs/database_data/parsing/*.csv``, with the
technology factors ArchGym's FARSI setup applies: 0.064 for the energy and
0.0374 / 0.07 for the area of logic / memory other than the A53); the rest
are approximate figures for a mobile SoC of the same class:

* **Core** (:class:`CoreSpec`): an Arm Cortex-A53-class in-order core, with
  the numbers of FARSI's block library (``Project_FARSI``,
  ``specs/database_data/parsing/misc_database - Block Characteristics.csv``):
  1 GHz, Dhrystone IPC 2, 47.0e9 instructions per joule (21.3 pJ per
  instruction) and 0.65 mm². Other frequencies use approximate DVFS operating
  points (0.75 V at 500 MHz, 0.9 V at 1 GHz, 1.05 V at 1.5 GHz) and scale the
  energy per instruction with the square of the supply voltage.
* **Accelerators** (:class:`AcceleratorSpec`), one per kernel class
  (:data:`KERNELS`): fixed-function blocks. A lane is one copy of the
  datapath (FARSI's loop unrolling of an IP): lanes multiply throughput
  and area, not the energy per operation, and a task uses at most one lane
  per loop iteration. A task may carry its own speedup (the bundled
  workloads carry FARSI's, see :mod:`~archgym.simulators.soc.workloads`);
  the class's speedup applies to the others: fft 6x, filter 8x, matrix 5x,
  elementwise 10x one core, of the order of FARSI's IPs (median 13x over
  the bundled tasks). Energy per operation: 1 % of the core's, between
  the gains reported for generated accelerators by Shao et al., "Aladdin"
  (ISCA 2014) and the 500x of an H.264 ASIC in Hameed et al.,
  "Understanding Sources of Inefficiency in General-Purpose Chips" (ISCA
  2010); FARSI's IP energies (``Task PE Energy.csv`` read as fJ, times its
  technology factor 0.064) are below 1e-7 of the core's and count as
  nothing there. Area per lane: FARSI's IP areas (``Task PE
  Area.csv``, µm², times its technology factor for logic, 0.0374), the
  median over the bundled tasks of the class: fft 0.0002, filter 0.0029,
  matrix 0.0031, elementwise 0.0006 mm².
* **SRAM** (:data:`DEFAULT_SRAM`): an on-chip scratchpad with FARSI's
  ``LMEM_2`` port (16 bytes at 800 MHz: 12.8 GB/s). Energy and area are
  FARSI's: CACTI 6.5 (``ram``, ``itrs-lop`` cells, as FARSI runs it) times
  FARSI's technology factors (0.064 for energy, 0.07 for memory area),
  measured from FARSI's runs of the audio decoder and edge detection with
  1-8 MiB of SRAM: about 0.45 pJ per byte and 1.5e-4 mm² per KiB (0.15 mm²
  per MiB).
* **DRAM** (:data:`DEFAULT_DRAM`): LPDDR4-3200 x16 channels of 6.4 GB/s
  (FARSI's ``GMEM_1`` at 800 MHz has the same). Energy per byte, 15 pJ,
  is FARSI's (CACTI ``main memory`` times 0.064, 12-17 pJ per byte in its
  runs; Micron's LPDDR4 system-power calculator gives the same order), 1.5
  mW standby per channel in power-down, and 0.8 mm² of on-chip controller
  and PHY per channel (approximate). The DRAM devices themselves are
  off-chip and count no area (FARSI counts CACTI's area of the DRAM cells
  that hold buffers, as if stacked on the die).
* **Interconnect** (:data:`DEFAULT_BUS`): one shared bus; its bandwidth is
  width times frequency, a transfer crosses it with a latency of
  ``hop_latency_cycles`` = 1 bus cycle per hop (FARSI's ``hop_latency``),
  two hops per buffer (producer to memory, memory to consumer), about
  0.3 pJ per byte moved and 0.002 mm² per bit of width (approximate; FARSI
  counts neither energy nor area for its interconnect).
* **Static power**: every on-chip block leaks ``leakage_mw_per_mm2``
  (0.1 mW/mm², a low-power process without power gating) for the whole
  period of the workload.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KERNELS: tuple[str, ...] = ("fft", "filter", "matrix", "elementwise")
"""Kernel classes an accelerator can serve; a task of any other class (``"control"``) runs on cores only."""

CONTROL_KERNEL = "control"
"""Kernel class of tasks no accelerator serves (control code, reductions, bookkeeping)."""


@dataclass(frozen=True)
class CoreSpec:
    """A general-purpose core.

    Args:
        ipc: Instructions per cycle.
        energy_pj_per_instruction: Dynamic energy per instruction at ``nominal_freq_mhz``.
        area_mm2: Area of one core.
        nominal_freq_mhz: Frequency of the nominal operating point.
        voltage_by_freq_mhz: Supply voltage of each supported frequency; the
            energy per instruction scales with the voltage squared.
    """

    ipc: float = 2.0
    energy_pj_per_instruction: float = 1e12 / 47.0e9
    area_mm2: float = 0.65
    nominal_freq_mhz: float = 1000.0
    voltage_by_freq_mhz: dict[float, float] = field(
        default_factory=lambda: {500.0: 0.75, 1000.0: 0.9, 1500.0: 1.05}
    )

    def instructions_per_s(self, freq_mhz: float) -> float:
        """Throughput of one core at ``freq_mhz``."""
        return self.ipc * freq_mhz * 1e6

    def energy_pj(self, freq_mhz: float) -> float:
        """Energy per instruction at ``freq_mhz`` (voltage-squared scaling from the nominal point)."""
        volts = self.voltage_by_freq_mhz
        return self.energy_pj_per_instruction * (volts[freq_mhz] / volts[self.nominal_freq_mhz]) ** 2


@dataclass(frozen=True)
class AcceleratorSpec:
    """A fixed-function accelerator for one kernel class.

    Work is counted in the reference core's instructions, so one accelerator
    lane runs a task ``speedup`` times faster than one core at the nominal
    frequency would.

    Args:
        speedup: Throughput of one lane relative to one core at the nominal frequency.
        energy_ratio: Energy per unit of work relative to the core's nominal energy per instruction.
        area_mm2_per_lane: Area of one lane.
    """

    speedup: float
    energy_ratio: float
    area_mm2_per_lane: float


@dataclass(frozen=True)
class MemorySpec:
    """A memory: bandwidth, energy per byte and area.

    Args:
        bandwidth_gbps: Bandwidth of one instance (an SRAM array, a DRAM channel) in GB/s.
        energy_pj_per_byte: Dynamic energy per byte read or written.
        area_mm2_per_kib: On-chip area per KiB of capacity (0 for off-chip DRAM).
        area_mm2_per_instance: On-chip area per instance (a DRAM channel's controller and PHY).
        standby_mw_per_instance: Standby power per instance beyond leakage (DRAM power-down).
    """

    bandwidth_gbps: float
    energy_pj_per_byte: float
    area_mm2_per_kib: float = 0.0
    area_mm2_per_instance: float = 0.0
    standby_mw_per_instance: float = 0.0


@dataclass(frozen=True)
class BusSpec:
    """The shared on-chip bus.

    Args:
        energy_pj_per_byte: Dynamic energy per byte crossing the bus.
        area_mm2_per_bit: Area per bit of bus width.
        hop_latency_cycles: Bus cycles per hop of a transfer (FARSI's ``hop_latency``).
        hops_per_transfer: Hops a buffer crosses from producer to consumer
            (producer to memory, memory to consumer).
    """

    energy_pj_per_byte: float = 0.3
    area_mm2_per_bit: float = 0.002
    hop_latency_cycles: float = 1.0
    hops_per_transfer: int = 2

    def bandwidth_gbps(self, width_bits: int, freq_mhz: float) -> float:
        """Bandwidth in GB/s of a bus ``width_bits`` wide at ``freq_mhz``."""
        return width_bits / 8 * freq_mhz / 1e3

    def transfer_latency_ms(self, freq_mhz: float) -> float:
        """Latency in ms from a producer finishing to its data reaching the consumer."""
        return self.hops_per_transfer * self.hop_latency_cycles / (freq_mhz * 1e3)


DEFAULT_CORE = CoreSpec()
"""Cortex-A53-class core with FARSI's numbers (see the module docstring)."""

DEFAULT_ACCELERATORS: dict[str, AcceleratorSpec] = {
    # Areas: the median over our workloads' tasks of the class of FARSI's IP areas ("<workload>_database -
    # Task PE Area.csv", um^2) times its technology factor for logic (0.0374).
    "fft": AcceleratorSpec(speedup=6.0, energy_ratio=0.01, area_mm2_per_lane=0.0002),
    "filter": AcceleratorSpec(speedup=8.0, energy_ratio=0.01, area_mm2_per_lane=0.0029),
    "matrix": AcceleratorSpec(speedup=5.0, energy_ratio=0.01, area_mm2_per_lane=0.0031),
    "elementwise": AcceleratorSpec(speedup=10.0, energy_ratio=0.01, area_mm2_per_lane=0.0006),
}
"""One accelerator design per kernel class (approximate; see the module docstring)."""

DEFAULT_SRAM = MemorySpec(bandwidth_gbps=12.8, energy_pj_per_byte=0.45, area_mm2_per_kib=1.5e-4)
"""On-chip SRAM scratchpad: FARSI's ``LMEM_2`` at 800 MHz, CACTI figures scaled as FARSI scales them."""

DEFAULT_DRAM = MemorySpec(
    bandwidth_gbps=6.4, energy_pj_per_byte=15.0, area_mm2_per_instance=0.8, standby_mw_per_instance=1.5
)
"""One LPDDR4-3200 x16 channel; area is the on-chip controller and PHY."""

DEFAULT_BUS = BusSpec()
"""The shared bus."""


@dataclass(frozen=True)
class HardwareLibrary:
    """Every component the SoC model can instantiate, with its numbers.

    Args:
        core: The general-purpose core.
        accelerators: One accelerator per kernel class of :data:`KERNELS`.
        sram: The on-chip SRAM.
        dram: One DRAM channel.
        bus: The shared bus.
        leakage_mw_per_mm2: Static power per mm² of on-chip area.
    """

    core: CoreSpec = DEFAULT_CORE
    accelerators: dict[str, AcceleratorSpec] = field(default_factory=lambda: dict(DEFAULT_ACCELERATORS))
    sram: MemorySpec = DEFAULT_SRAM
    dram: MemorySpec = DEFAULT_DRAM
    bus: BusSpec = DEFAULT_BUS
    leakage_mw_per_mm2: float = 0.1

    def __post_init__(self) -> None:
        missing = [k for k in KERNELS if k not in self.accelerators]
        if missing:
            raise ValueError(f"the hardware library needs an accelerator for every kernel class; missing {missing}")
