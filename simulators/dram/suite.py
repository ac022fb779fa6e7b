"""The DRAM fidelity suite: traces that span the traffic real programs send to memory.

Sixteen deterministic traces of 10,000 requests (64 bytes, cycles at 800 MHz),
each a workload spec of :mod:`~archgym.simulators.dram.workloads` or
:mod:`~archgym.simulators.dram.patterns`, and each usable by name as a
workload (``archgym validate --workload copy``). Together they span

* read fraction 0 % (``write-stream``) to 100 % (``pointer-chase``, ``bursts-seq``);
* intensity from one request per cycle to one per 50 cycles;
* sequential, random, strided (one bank, or a new bank each request) and
  hot-row locality, and mixed sequential and random streams;
* steady, Poisson and bursty arrival with idle time;
* program-like patterns: copy, stencil, tiled GEMM, pointer chasing, a mix.

Half the traces (``split == "calibration"``) may be used to fit the
analytical model's constants; the other half (``"held-out"``) only to judge
it, so its figures say how the model does on traffic it was never fitted to.
The DRAMSys results on this suite are bundled under ``data/dram/``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SuiteTrace:
    """One trace of the suite.

    Attributes:
        name: Workload name (usable wherever a workload is accepted).
        spec: The generator spec that produces it.
        split: ``"calibration"`` or ``"held-out"``.
        description: What program behaviour it stands for.
    """

    name: str
    spec: str
    split: str
    description: str


FIDELITY_SUITE: tuple[SuiteTrace, ...] = (
    SuiteTrace("rand-w30", "synthetic:read_fraction=0.7,seed=11", "calibration",
               "random addresses, 30 % writes, back to back"),
    SuiteTrace("hot16-w50", "hot_rows:rows=16,read_fraction=0.5,seed=12", "calibration",
               "16 hot rows, 50 % writes"),
    SuiteTrace("copy", "copy:seed=13", "calibration", "copy loop: read a[i], write b[i]"),
    SuiteTrace("write-stream", "synthetic:read_fraction=0,locality=1,seed=14", "calibration",
               "sequential writes only"),
    SuiteTrace("rand-gap12", "pointer_chase:arrival_interval=12,seed=15", "calibration",
               "random reads, one every 12 cycles"),
    SuiteTrace("bursts-seq", "bursts:burst=64,idle=500,seed=16", "calibration",
               "bursts of 64 sequential reads, 500 idle cycles between"),
    SuiteTrace("stride-bank-w20",
               "synthetic:read_fraction=0.8,locality=1,stride=65536,arrival_interval=2,seed=17",
               "calibration", "64 KiB stride (every request a new row of one bank), 20 % writes, Poisson"),
    SuiteTrace("stencil", "stencil:seed=18", "calibration", "three-point 2-D stencil, one write per three reads"),
    SuiteTrace("rand-w50-gap4", "synthetic:read_fraction=0.5,arrival_interval=4,seed=21", "held-out",
               "random addresses, 50 % writes, Poisson arrivals every 4 cycles"),
    SuiteTrace("hot64-w20", "hot_rows:rows=64,read_fraction=0.8,arrival_interval=2,poisson=true,seed=22",
               "held-out", "64 hot rows, 20 % writes, Poisson arrivals every 2 cycles"),
    SuiteTrace("gemm", "tiled_gemm:matrix_lines=128,tile=8,seed=23", "held-out", "tiled matrix multiply, tile write-back"),
    SuiteTrace("pointer-chase", "pointer_chase:arrival_interval=50,seed=24", "held-out",
               "dependent random loads, one every 50 cycles"),
    SuiteTrace("mix", "mix:seed=25", "held-out",
               "sequential reads, sequential writes and random reads interleaved"),
    SuiteTrace("seq-rand-w30", "synthetic:read_fraction=0.7,locality=0.5,seed=26", "held-out",
               "half the steps sequential, 30 % writes"),
    SuiteTrace("bursts-rand-w30", "bursts:burst=32,idle=1000,sequential=false,read_fraction=0.7,seed=27",
               "held-out", "bursts of 32 random requests (30 % writes), 1000 idle cycles between"),
    SuiteTrace("stride-8k-w25",
               "synthetic:read_fraction=0.75,locality=1,stride=8192,arrival_interval=3,seed=28",
               "held-out", "8 KiB stride (a new bank each request), 25 % writes, Poisson every 3 cycles"),
)  # fmt: skip
"""The suite, calibration traces first."""

SUITE_SPECS: dict[str, str] = {trace.name: trace.spec for trace in FIDELITY_SUITE}
"""Workload spec of each suite trace, by name."""


def suite_traces(split: str | None = None) -> tuple[SuiteTrace, ...]:
    """The suite's traces, all or those of one split (``"calibration"`` or ``"held-out"``)."""
    if split is None:
        return FIDELITY_SUITE
    if split not in ("calibration", "held-out"):
        raise ValueError(f"split must be 'calibration' or 'held-out', got {split!r}")
    return tuple(trace for trace in FIDELITY_SUITE if trace.split == split)
