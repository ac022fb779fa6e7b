"""The DNN accelerator design space: array, memories, bandwidths, dataflow and mapping.

Defined once here and shared by every accelerator backend, environment and
agent. The template is a spatial array of processing elements (PEs), each a
multiply-accumulate unit with a private register file, fed by a shared global
buffer over an on-chip network, with off-chip DRAM behind the buffer (the
Eyeriss / TPU template that Timeloop and MAESTRO describe).
"""

from __future__ import annotations

from archgym.space import DesignSpace, Parameter, ParameterKind

DATAFLOWS: dict[str, str] = {
    "WS": "weight stationary: input channels C on array rows, output channels K on columns (TPU-like)",
    "OS": "output stationary: output channels K on rows, output columns Q on columns (ShiDianNao-like)",
    "IS": "input stationary: input channels C on rows, output columns Q on columns",
    "RS": "row stationary: filter rows R (replicated over output channels K) on rows, output rows P on columns "
    "(Eyeriss-like)",
}
"""Dataflow names and how each maps loops onto the array."""

LOOP_ORDERS: dict[str, str] = {
    "auto": "the mapper picks the off-chip loop order with the least traffic",
    "weights": "weights stay in the global buffer while outputs rows stream (output rows innermost off-chip)",
    "inputs": "inputs stay in the global buffer while filters stream (output channels innermost off-chip)",
    "outputs": "partial sums stay in the global buffer until complete (input channels innermost off-chip)",
}
"""Off-chip (global buffer to DRAM) loop orders: which operand the buffer keeps resident."""

ACCELERATOR_KNOBS: tuple[Parameter, ...] = (
    Parameter("PERows", (4, 8, 16, 32, 64), ParameterKind.ORDINAL, "rows of the PE array"),
    Parameter("PECols", (4, 8, 16, 32, 64), ParameterKind.ORDINAL, "columns of the PE array"),
    Parameter(
        "RegisterFileBytes",
        (16, 32, 64, 128, 256, 512),
        ParameterKind.ORDINAL,
        "register file per PE in bytes: half for the stationary operand, a quarter for each other one",
    ),
    Parameter("GlobalBufferKiB", (16, 32, 64, 128, 256, 512, 1024, 2048), ParameterKind.ORDINAL,
              "shared on-chip global buffer (SRAM) in KiB"),
    Parameter("NocBytesPerCycle", (8, 16, 32, 64, 128, 256), ParameterKind.ORDINAL,
              "on-chip network bandwidth between the global buffer and the array, bytes per cycle"),
    Parameter("DramBytesPerCycle", (4, 8, 16, 32, 64), ParameterKind.ORDINAL,
              "off-chip DRAM bandwidth, bytes per cycle"),
    Parameter("Dataflow", tuple(DATAFLOWS), ParameterKind.CATEGORICAL,
              "which loops the array unrolls and which operand each PE keeps: " + "; ".join(
                  f"{k} = {v.split(':')[0]}" for k, v in DATAFLOWS.items())),
    Parameter("LoopOrder", tuple(LOOP_ORDERS), ParameterKind.CATEGORICAL,
              "off-chip loop order: which operand the global buffer keeps resident (auto: the best)"),
)

ACCELERATOR_DESIGN_SPACE = DesignSpace(ACCELERATOR_KNOBS, name="accelerator")
"""The 576,000-design accelerator space."""

DEFAULT_ACCELERATOR_DESIGN: dict[str, object] = {
    "PERows": 16,
    "PECols": 16,
    "RegisterFileBytes": 64,
    "GlobalBufferKiB": 128,
    "NocBytesPerCycle": 64,
    "DramBytesPerCycle": 16,
    "Dataflow": "WS",
    "LoopOrder": "auto",
}
"""A mid-sized weight-stationary design (256 PEs, 128 KiB buffer), a sensible starting point."""
