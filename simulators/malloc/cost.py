"""Roofline execution-time model of a placement.

Each operation takes ``max(compute time, memory time)``: compute and data
movement overlap, and the slower of the two bounds the operation (a roofline,
as in XLA's memory-space-assignment cost analysis, which scores a buffer in
alternate memory by the elapsed time it saves on the operations that use it).
The memory time of an operation sums, over the buffers it touches, the bytes
it moves divided by the bandwidth of the memory that buffer lives in. The
program's time is the sum over operations, and the speedup of a placement is
the time with every buffer in slow memory divided by its time.

The default machine (:data:`EDGE_ACCELERATOR`) is an edge inference
accelerator: 4 TFLOP/s of dense compute (2 TMAC/s, the class of mobile NPUs
and the Edge TPU), a 64-bit LPDDR4X-3200 DRAM as slow memory
(3200 MT/s x 8 bytes = 25.6 GB/s) and an on-chip SRAM scratchpad as fast
memory at 16 times that bandwidth (409.6 GB/s: 128 bytes per cycle at
3.2 GHz-equivalent banking). The ratio, not the absolute values, decides
which buffers are worth placing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from archgym.errors import ConfigurationError
from archgym.simulators.malloc.instances import Instance

__all__ = ["EDGE_ACCELERATOR", "SLOW", "Machine", "TimeModel"]

SLOW = -1
"""The offset that stands for "this buffer stays in slow memory"."""


@dataclass(frozen=True)
class Machine:
    """Throughput and bandwidths of the target.

    Attributes:
        flops_per_s: Peak compute throughput (floating-point operations per second).
        slow_bandwidth: Slow (off-chip) memory bandwidth in bytes per second.
        fast_bandwidth: Fast (on-chip) memory bandwidth in bytes per second.
    """

    flops_per_s: float = 4.0e12
    slow_bandwidth: float = 25.6e9
    fast_bandwidth: float = 409.6e9

    def __post_init__(self) -> None:
        for name in ("flops_per_s", "slow_bandwidth", "fast_bandwidth"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ConfigurationError(f"Machine.{name} must be a positive number, got {value!r}")


EDGE_ACCELERATOR = Machine()
"""The default machine: 4 TFLOP/s, 25.6 GB/s DRAM, 409.6 GB/s SRAM (see the module docstring)."""


class TimeModel:
    """Execution time of placements of one instance.

    Args:
        instance: An instance with costs (:attr:`Instance.has_costs`).
        machine: Bandwidths; only the memory bandwidths are used here, since
            the compute time per operation is part of the instance.

    Attributes:
        baseline_time: Program time with every buffer in slow memory (seconds).
        slow_memory_time: Memory time of each operation with every buffer in slow memory.
        use_slow_time: Time of each use (:attr:`Instance.uses` row) in slow memory.
        use_saving: Time each use saves when its buffer is in fast memory.

    Raises:
        ConfigurationError: the instance has no costs.
    """

    def __init__(self, instance: Instance, machine: Machine = EDGE_ACCELERATOR) -> None:
        if instance.compute_time_s is None or instance.uses is None:
            raise ConfigurationError(
                f"instance {instance.name!r} is a pure allocation instance (no compute times or traffic), "
                "so it has no execution time"
            )
        self.instance = instance
        self.machine = machine
        uses = instance.uses
        self.compute = instance.compute_time_s
        n_ops = self.compute.size
        self.use_slow_time = uses.nbytes / machine.slow_bandwidth
        self.use_saving = self.use_slow_time - uses.nbytes / machine.fast_bandwidth
        self.slow_memory_time = np.bincount(uses.op, weights=self.use_slow_time, minlength=n_ops)
        if instance.pinned_bytes is not None:
            self.slow_memory_time = self.slow_memory_time + instance.pinned_bytes / machine.slow_bandwidth
        order = np.argsort(uses.buffer, kind="stable")
        bounds = np.searchsorted(uses.buffer[order], np.arange(len(instance) + 1))
        self._use_rows = [order[bounds[b]:bounds[b + 1]] for b in range(len(instance))]
        self.baseline_time = float(np.maximum(self.compute, self.slow_memory_time).sum())

    def memory_time(self, in_fast: np.ndarray) -> np.ndarray:
        """Memory time of each operation when the buffers with ``in_fast`` True live in fast memory."""
        saving = self.use_saving * np.asarray(in_fast, dtype=bool)[self.instance.uses.buffer]
        saved = np.bincount(self.instance.uses.op, weights=saving, minlength=self.compute.size)
        return self.slow_memory_time - saved

    def op_times(self, offsets: np.ndarray) -> np.ndarray:
        """Elapsed time of each operation for a placement (``offsets``, :data:`SLOW` for slow memory)."""
        return np.maximum(self.compute, self.memory_time(np.asarray(offsets) != SLOW))

    def time(self, offsets: np.ndarray) -> float:
        """Program time in seconds of a placement."""
        return float(self.op_times(offsets).sum())

    def speedup(self, offsets: np.ndarray) -> float:
        """All-slow time divided by the placement's time."""
        return self.baseline_time / self.time(offsets)

    def buffer_uses(self, buffer: int) -> tuple[np.ndarray, np.ndarray]:
        """The operations that use ``buffer`` and the time each saves when it is in fast memory."""
        rows = self._use_rows[buffer]
        return self.instance.uses.op[rows], self.use_saving[rows]

    def standalone_saving(self) -> np.ndarray:
        """Time each buffer saves if it alone moves to fast memory (its benefit), in seconds."""
        return np.array([self.marginal_saving(b, self.slow_memory_time) for b in range(len(self.instance))])

    def marginal_saving(self, buffer: int, memory_time: np.ndarray) -> float:
        """Time saved by moving ``buffer`` to fast memory given the current per-operation memory times."""
        ops, saving = self.buffer_uses(buffer)
        if ops.size == 0:
            return 0.0
        unique, inverse = np.unique(ops, return_inverse=True)
        delta = np.bincount(inverse, weights=saving)
        before = np.maximum(self.compute[unique], memory_time[unique])
        after = np.maximum(self.compute[unique], memory_time[unique] - delta)
        return float((before - after).sum())

    def apply(self, buffer: int, memory_time: np.ndarray) -> None:
        """Update per-operation memory times in place for ``buffer`` moving to fast memory."""
        ops, saving = self.buffer_uses(buffer)
        np.subtract.at(memory_time, ops, saving)
