"""Placements in the time x address plane: legality checks and free-space queries.

A placement gives each buffer an offset in fast memory, or :data:`SLOW`.
It is legal when every placed buffer is aligned, lies inside the capacity,
and shares no address with any other placed buffer whose live range overlaps
its own.
"""

from __future__ import annotations

import numpy as np

from archgym.errors import InvalidDesignError
from archgym.simulators.malloc.cost import SLOW
from archgym.simulators.malloc.instances import Instance

__all__ = ["FreeSpace", "check_placement", "peak_address"]


def _align_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def peak_address(instance: Instance, offsets: np.ndarray) -> int:
    """The highest address (exclusive) a placement uses; 0 if nothing is in fast memory."""
    offsets = np.asarray(offsets, dtype=np.int64)
    placed = offsets != SLOW
    return int((offsets[placed] + instance.sizes[placed]).max()) if placed.any() else 0


def check_placement(instance: Instance, offsets: np.ndarray, capacity: int | None = None) -> None:
    """Raise if a placement is illegal.

    Args:
        instance: The instance.
        offsets: One offset per buffer, :data:`SLOW` for slow memory.
        capacity: The address limit; the instance's capacity if None.

    Raises:
        InvalidDesignError: wrong length, a negative or misaligned offset, a
            buffer past the capacity, or two live-overlapping buffers sharing
            addresses; the message names the buffers.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    limit = instance.capacity if capacity is None else capacity
    if offsets.shape != (len(instance),):
        raise InvalidDesignError(f"a placement has one offset per buffer ({len(instance)}), got shape {offsets.shape}")
    for i in np.flatnonzero(offsets != SLOW):
        o, s = int(offsets[i]), int(instance.sizes[i])
        where = f"buffer {instance.ids[i]!r} at offset {o}"
        if o < 0:
            raise InvalidDesignError(f"{where}: offsets are >= 0, or {SLOW} for slow memory")
        if o % instance.alignment:
            raise InvalidDesignError(f"{where}: offsets must be multiples of the alignment {instance.alignment}")
        if o + s > limit:
            raise InvalidDesignError(f"{where}: ends at {o + s}, past the capacity {limit} bytes")
        for j in instance.conflicts(int(i)):
            if j > i and offsets[j] != SLOW and offsets[j] < o + s and o < offsets[j] + instance.sizes[j]:
                raise InvalidDesignError(
                    f"{where} (size {s}) overlaps buffer {instance.ids[j]!r} at offset {int(offsets[j])} "
                    f"(size {int(instance.sizes[j])}); both are live during "
                    f"[{max(instance.starts[i], instance.starts[j])}, {min(instance.ends[i], instance.ends[j])})"
                )


class FreeSpace:
    """Fast memory as buffers are placed one by one.

    Args:
        instance: The instance.
        limit: Address limit; the capacity if None, unbounded if ``-1``
            (heuristics that minimise the peak address use that).
    """

    def __init__(self, instance: Instance, limit: int | None = None) -> None:
        self.instance = instance
        self.limit: float = float(instance.capacity if limit is None else (np.inf if limit == -1 else limit))
        self.offsets = np.full(len(instance), SLOW, dtype=np.int64)

    def gaps(self, buffer: int) -> list[tuple[int, float]]:
        """Free address intervals ``[lo, hi)`` over ``buffer``'s whole live range, lowest first.

        Each ``lo`` is aligned; intervals too small for the buffer are included.
        """
        conflicts = self.instance.conflicts(buffer)
        placed = conflicts[self.offsets[conflicts] != SLOW]
        lows = self.offsets[placed]
        order = np.argsort(lows, kind="stable")
        lows = lows[order]
        highs = lows + self.instance.sizes[placed][order]
        alignment = self.instance.alignment
        out: list[tuple[int, float]] = []
        cursor = 0
        for lo, hi in zip(lows.tolist(), highs.tolist(), strict=True):
            if lo > cursor:
                start = _align_up(cursor, alignment)
                if start < lo:
                    out.append((start, float(lo)))
            cursor = max(cursor, hi)
        start = _align_up(cursor, alignment)
        if start < self.limit:
            out.append((start, self.limit))
        return out

    def fitting_gaps(self, buffer: int) -> list[tuple[int, float]]:
        """The gaps of :meth:`gaps` that can hold ``buffer``."""
        size = int(self.instance.sizes[buffer])
        return [(lo, hi) for lo, hi in self.gaps(buffer) if lo + size <= hi]

    def first_fit(self, buffer: int) -> int | None:
        """The lowest feasible offset for ``buffer``, or None if it does not fit."""
        gaps = self.fitting_gaps(buffer)
        return gaps[0][0] if gaps else None

    def best_fit(self, buffer: int) -> int | None:
        """The lowest offset of the smallest gap that holds ``buffer``, or None if it does not fit."""
        gaps = self.fitting_gaps(buffer)
        if not gaps:
            return None
        return min(gaps, key=lambda gap: (gap[1] - gap[0], gap[0]))[0]

    def is_free(self, buffer: int, offset: int) -> bool:
        """True if ``buffer`` can be placed at ``offset``."""
        size = int(self.instance.sizes[buffer])
        if offset < 0 or offset % self.instance.alignment or offset + size > self.limit:
            return False
        return any(lo <= offset and offset + size <= hi for lo, hi in self.gaps(buffer))

    def place(self, buffer: int, offset: int) -> None:
        """Place ``buffer`` at ``offset``.

        Raises:
            InvalidDesignError: the buffer is already placed, or the offset is
                out of range, misaligned or overlaps a placed buffer.
        """
        name = self.instance.ids[buffer]
        if self.offsets[buffer] != SLOW:
            raise InvalidDesignError(f"buffer {name!r} is already placed at offset {int(self.offsets[buffer])}")
        if not self.is_free(buffer, offset):
            size = int(self.instance.sizes[buffer])
            gaps = ", ".join(f"[{lo}, {hi:.0f})" for lo, hi in self.fitting_gaps(buffer)) or "none"
            raise InvalidDesignError(
                f"buffer {name!r} (size {size}) cannot be placed at offset {offset}: it must be a multiple of "
                f"{self.instance.alignment} inside a free interval of its live range "
                f"[{self.instance.starts[buffer]}, {self.instance.ends[buffer]}); free intervals that fit: {gaps}"
            )
        self.offsets[buffer] = offset
