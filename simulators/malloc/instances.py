"""Memory-mapping instances: buffers with live ranges, sizes and memory traffic.

An :class:`Instance` is what a compiler's memory planner sees after
scheduling an ML program: a list of operations executed in order
(``0 .. n_ops - 1``), the tensor buffers they read and write, and a small
fast on-chip memory. Buffer ``i`` is live over the half-open interval
``[starts[i], ends[i])`` of the schedule and needs ``sizes[i]`` bytes; two
buffers whose live ranges overlap may not share addresses in fast memory.

Instances with costs (from :mod:`.generator` or :mod:`.torch_trace`) also
list, per operation, its compute time and the bytes it moves to or from each
buffer (:attr:`Instance.uses`). Pure allocation instances (MiniMalloc CSV
files, :mod:`.minimalloc`) have no costs: the question is only whether every
buffer fits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from archgym.errors import WorkloadError

__all__ = ["Instance", "Uses"]


@dataclass(frozen=True)
class Uses:
    """Memory traffic of the operations, as (operation, buffer, bytes) triples.

    Attributes:
        op: Operation index of each use.
        buffer: Buffer index of each use.
        nbytes: Bytes the operation reads from or writes to the buffer.
    """

    op: np.ndarray
    buffer: np.ndarray
    nbytes: np.ndarray

    @classmethod
    def from_triples(cls, triples: Sequence[tuple[int, int, float]]) -> Uses:
        """Build from a list of ``(op, buffer, bytes)`` triples."""
        if not triples:
            return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64))
        array = np.asarray(triples, dtype=np.float64)
        return cls(array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2].copy())

    def __len__(self) -> int:
        return int(self.op.size)


@dataclass(frozen=True, eq=False)
class Instance:
    """A memory-mapping problem.

    Attributes:
        name: A label for tables and logs.
        ids: Buffer identifiers (as in the source file or graph).
        starts: First schedule step at which each buffer is live.
        ends: First schedule step at which each buffer is dead (exclusive).
        sizes: Size of each buffer in bytes.
        capacity: Size of the fast memory in bytes.
        alignment: Every offset in fast memory is a multiple of this.
        compute_time_s: Compute time of each operation in seconds; None for a
            pure allocation instance.
        uses: The bytes each operation moves per buffer; None for a pure
            allocation instance.
        pinned_bytes: Bytes each operation moves to or from tensors that
            always stay in slow memory (larger than the capacity, so not
            buffers of the instance); None for none.

    Raises:
        WorkloadError: on construction, if a size is not positive, a live
            range is empty, a buffer is larger than the capacity, ids repeat,
            or the cost arrays are inconsistent. The message names the buffer.
    """

    name: str
    ids: tuple[str, ...]
    starts: np.ndarray
    ends: np.ndarray
    sizes: np.ndarray
    capacity: int
    alignment: int = 1
    compute_time_s: np.ndarray | None = None
    uses: Uses | None = None
    pinned_bytes: np.ndarray | None = None
    _conflicts: list[np.ndarray] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        for attribute in ("starts", "ends", "sizes"):
            object.__setattr__(self, attribute, np.asarray(getattr(self, attribute), dtype=np.int64))
        n = len(self.ids)
        if not (self.starts.shape == self.ends.shape == self.sizes.shape == (n,)):
            raise WorkloadError(
                f"instance {self.name!r}: ids, starts, ends and sizes must have one entry per buffer "
                f"(got {n}, {self.starts.size}, {self.ends.size}, {self.sizes.size})"
            )
        if len(set(self.ids)) != n:
            seen: set[str] = set()
            duplicate = next(i for i in self.ids if i in seen or seen.add(i))
            raise WorkloadError(f"instance {self.name!r}: buffer id {duplicate!r} appears more than once")
        if isinstance(self.capacity, bool) or int(self.capacity) != self.capacity or not 1 <= self.capacity < 2**62:
            raise WorkloadError(f"instance {self.name!r}: capacity must be a positive number of bytes below 2**62, "
                                f"got {self.capacity!r}")
        if isinstance(self.alignment, bool) or int(self.alignment) != self.alignment or self.alignment < 1:
            raise WorkloadError(f"instance {self.name!r}: alignment must be a positive number of bytes, "
                                f"got {self.alignment!r}")
        object.__setattr__(self, "capacity", int(self.capacity))
        object.__setattr__(self, "alignment", int(self.alignment))
        for i in range(n):
            where = f"instance {self.name!r}, buffer {self.ids[i]!r}"
            if self.sizes[i] <= 0:
                raise WorkloadError(f"{where}: size must be a positive number of bytes, got {self.sizes[i]}")
            if self.starts[i] < 0:
                raise WorkloadError(f"{where}: live range start must be >= 0, got {self.starts[i]}")
            if self.ends[i] <= self.starts[i]:
                raise WorkloadError(
                    f"{where}: live range [{self.starts[i]}, {self.ends[i]}) is empty; the end (exclusive) "
                    "must be greater than the start"
                )
            if self.sizes[i] > self.capacity:
                raise WorkloadError(
                    f"{where}: size {self.sizes[i]} bytes is larger than the fast-memory capacity "
                    f"{self.capacity} bytes"
                )
        if (self.compute_time_s is None) != (self.uses is None):
            raise WorkloadError(f"instance {self.name!r}: give both compute_time_s and uses, or neither")
        if self.compute_time_s is not None and self.uses is not None:
            compute = np.asarray(self.compute_time_s, dtype=np.float64)
            object.__setattr__(self, "compute_time_s", compute)
            uses = self.uses
            if compute.ndim != 1 or np.any(compute < 0) or not np.all(np.isfinite(compute)):
                raise WorkloadError(f"instance {self.name!r}: compute times must be finite and >= 0")
            if len(uses) and (uses.op.min() < 0 or uses.op.max() >= compute.size):
                raise WorkloadError(f"instance {self.name!r}: a use names an operation outside 0..{compute.size - 1}")
            if len(uses) and (uses.buffer.min() < 0 or uses.buffer.max() >= n):
                raise WorkloadError(f"instance {self.name!r}: a use names a buffer outside 0..{n - 1}")
            if np.any(uses.nbytes < 0):
                raise WorkloadError(f"instance {self.name!r}: bytes moved must be >= 0")
            if self.pinned_bytes is not None:
                pinned = np.asarray(self.pinned_bytes, dtype=np.float64)
                object.__setattr__(self, "pinned_bytes", pinned)
                if pinned.shape != compute.shape or np.any(pinned < 0):
                    raise WorkloadError(f"instance {self.name!r}: pinned_bytes needs one value >= 0 per operation")
            outside = (uses.op < self.starts[uses.buffer]) | (uses.op >= self.ends[uses.buffer])
            if np.any(outside):
                k = int(np.flatnonzero(outside)[0])
                b = int(uses.buffer[k])
                raise WorkloadError(
                    f"instance {self.name!r}: operation {int(uses.op[k])} uses buffer {self.ids[b]!r} outside "
                    f"its live range [{self.starts[b]}, {self.ends[b]})"
                )

    # -- derived quantities -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_costs(self) -> bool:
        """True if the instance has compute times and traffic (a speedup can be computed)."""
        return self.compute_time_s is not None

    @property
    def n_ops(self) -> int:
        """Number of schedule steps (operations, or time points of an allocation instance)."""
        if self.compute_time_s is not None:
            return int(self.compute_time_s.size)
        return int(self.ends.max()) if len(self) else 0

    def live_bytes(self) -> np.ndarray:
        """Bytes live at each schedule step ``0 .. n_ops - 1``."""
        horizon = max(self.n_ops, int(self.ends.max()) if len(self) else 0)
        delta = np.zeros(horizon + 1, dtype=np.int64)
        np.add.at(delta, self.starts, self.sizes)
        np.add.at(delta, self.ends, -self.sizes)
        return np.cumsum(delta)[:horizon]

    def peak_live_bytes(self) -> int:
        """The largest number of bytes live at once: a lower bound on the memory all buffers need."""
        live = self.live_bytes()
        return int(live.max()) if live.size else 0

    def conflicts(self, i: int) -> np.ndarray:
        """Indices of the buffers whose live ranges overlap buffer ``i``'s (excluding ``i``)."""
        if not self._conflicts:
            overlap = (self.starts[:, None] < self.ends[None, :]) & (self.starts[None, :] < self.ends[:, None])
            np.fill_diagonal(overlap, False)
            self._conflicts.extend(np.flatnonzero(row) for row in overlap)
        return self._conflicts[i]

    def with_capacity(self, capacity: int, name: str | None = None) -> Instance:
        """A copy with another fast-memory capacity."""
        return Instance(name or self.name, self.ids, self.starts, self.ends, self.sizes, capacity,
                        self.alignment, self.compute_time_s, self.uses, self.pinned_bytes)

    def subset(self, keep: Sequence[int] | np.ndarray, name: str | None = None) -> Instance:
        """The instance restricted to the buffers ``keep``; the others' traffic becomes pinned to slow memory."""
        keep = np.asarray(keep, dtype=np.int64)
        uses, pinned = None, None
        if self.uses is not None and self.compute_time_s is not None:
            remap = np.full(len(self), -1, dtype=np.int64)
            remap[keep] = np.arange(keep.size)
            mask = remap[self.uses.buffer] >= 0
            uses = Uses(self.uses.op[mask], remap[self.uses.buffer[mask]], self.uses.nbytes[mask])
            pinned = np.bincount(self.uses.op[~mask], weights=self.uses.nbytes[~mask],
                                 minlength=self.compute_time_s.size)
            if self.pinned_bytes is not None:
                pinned = pinned + self.pinned_bytes
        return Instance(name or self.name, tuple(self.ids[i] for i in keep), self.starts[keep], self.ends[keep],
                        self.sizes[keep], self.capacity, self.alignment, self.compute_time_s, uses, pinned)
