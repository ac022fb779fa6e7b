"""Branch-and-bound search for pure allocation: place every buffer within the capacity.

The search follows MiniMalloc (Moffitt, ASPLOS 2023) in exploring only
*canonical* solutions. Buffers are placed one at a time, each at the lowest
offset that is above every earlier buffer sharing part of its live range
(the *skyline* over its live range) and no lower than the previous buffer's
offset (the *floor*). Any legal placement maps to a canonical one that is no
higher: sort its buffers by offset and place them in that order; by
induction each lands at or below its original offset. So the search is
complete: when it finishes without a solution, none exists.

The time axis is cut into *sections* (the intervals between consecutive
live-range endpoints). The *height* of a section is the lowest offset any
future buffer there can take: its skyline, the floor, and the lowest
offset any unplaced buffer live there can still take, whichever is highest.
A node is pruned when

* some unplaced buffer's lowest possible offset plus its size exceeds the
  capacity (its offset can only rise);
* *section inference*: in some section, the height plus the total size of
  the unplaced buffers live there exceeds the capacity; or
* a *tight* section (one whose unplaced buffers exactly fill the space
  above its height) has no unplaced buffer that could sit exactly on it; or
* the valley at the lowest height is tight and the live ranges of the
  buffers that could sit exactly on it cannot tile it (those buffers share
  an offset, so their live ranges are disjoint and must cover every
  section of the valley).

A move is dropped at once when, in some section of the buffer's live range,
its offset plus the section's remaining demand exceeds the capacity.

A move is skipped by *dominance* (as in MiniMalloc) when it would place a
buffer at or above the top of another unplaced buffer's lowest position:
that buffer could fill the gap below first.

Branching: every unplaced buffer sits at or above the lowest section height,
so when a section at that height is tight, some buffer must sit exactly on
it and can be placed next; the search branches only on those buffers (that
are part of a tiling of the valley), for the tight section with the fewest
of them. Otherwise it branches on every unplaced buffer, lowest offset
first, ties broken by a preordering.

Decomposition: when no unplaced buffer is live across some point of the
schedule, the unplaced buffers on either side are independent given the
skyline, and each side is solved on its own (a failure on one side does not
revisit choices on the other). A count of the unplaced buffers live across
each section boundary, kept up to date by the moves, makes the common case
(no such point) cheap to recognise. Per node, the range maxima over live
ranges and the lowest offset per section are computed with sparse tables
over the sections (a few whole-array operations). Failed (buffers,
skyline, floor) states are remembered and never searched again.

Restarts: like MiniMalloc's round robin, the search dives with a node
budget under several preorderings (crowded sections first, longest first,
largest first, then one random preordering per round), doubling the budget
after each round, until a dive finishes (a solution, or a proof that none
exists) or the time runs out. Dives alternate between the instance and its
time-reversed mirror (which has the same placements), since the branching
rules treat the two ends of the schedule differently.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import numpy as np

from archgym.simulators.malloc.cost import SLOW
from archgym.simulators.malloc.instances import Instance

__all__ = ["SearchResult", "branch_and_bound"]

_MEMO_LIMIT = 2_000_000
_DIVE_NODES_PER_BUFFER = 4
_NO_SERVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`branch_and_bound`.

    Attributes:
        offsets: A placement of every buffer within the capacity, or None.
        proven_infeasible: True if the search finished without a solution.
        nodes: Buffers placed during the search (including undone ones).
    """

    offsets: np.ndarray | None
    proven_infeasible: bool
    nodes: int


class _Timeout(Exception):
    pass


class _OutOfNodes(Exception):
    pass


class _Search:
    """State and moves of one search (arrays are updated in place and undone on backtracking)."""

    def __init__(self, instance: Instance, limit: int, deadline: float) -> None:
        self.limit = limit
        self.deadline = deadline
        self.alignment = instance.alignment
        points = np.unique(np.concatenate([instance.starts, instance.ends]))
        self.sa = np.searchsorted(points, instance.starts)
        self.sb = np.searchsorted(points, instance.ends)
        self.span = self.sb - self.sa
        self.level = np.floor(np.log2(np.maximum(self.span, 1))).astype(np.int64)
        self.width = np.left_shift(1, self.level)
        self.sizes = instance.sizes
        lifetimes = instance.ends - instance.starts
        n_sections = points.size - 1
        remaining = np.zeros(n_sections + 1, dtype=np.int64)
        np.add.at(remaining, self.sa, self.sizes)
        np.add.at(remaining, self.sb, -self.sizes)
        self.remaining = np.cumsum(remaining)[:n_sections]
        self._initial_remaining = self.remaining.copy()
        # crossing[p]: unplaced buffers live in both section p - 1 and section p.
        crossing = np.zeros(n_sections + 2, dtype=np.int64)
        long = self.span > 1
        np.add.at(crossing, self.sa[long] + 1, 1)
        np.add.at(crossing, self.sb[long], -1)
        self.crossing = np.cumsum(crossing)[:n_sections + 1]
        self._initial_crossing = self.crossing.copy()
        # Tie-breaks at equal offsets (MiniMalloc's preorderings): most crowded sections first, then
        # longest, then largest; or largest first; or longest first.
        crowd = np.array([self.remaining[a:b].max() for a, b in zip(self.sa, self.sb, strict=True)])
        self.preorders = [np.argsort(np.lexsort(keys)) for keys in (
            (-self.sizes, -lifetimes, -crowd), (-lifetimes, -crowd, -self.sizes), (-self.sizes, -crowd, -lifetimes))]
        self.rank = self.preorders[0]
        self.node_limit = np.inf
        self.skyline = np.zeros(n_sections, dtype=np.int64)
        self.offsets = np.full(len(instance), SLOW, dtype=np.int64)
        self.failed: set[tuple[bytes, bytes, int]] = set()
        self.nodes = 0

    def reset(self) -> None:
        """Undo every placement (after an aborted dive)."""
        self.skyline[:] = 0
        self.remaining[:] = self._initial_remaining
        self.crossing[:] = self._initial_crossing
        self.offsets[:] = SLOW

    # -- moves ------------------------------------------------------------------------
    def place(self, b: int, offset: int) -> np.ndarray:
        sa, sb = self.sa[b], self.sb[b]
        saved = self.skyline[sa:sb].copy()
        self.skyline[sa:sb] = offset + self.sizes[b]
        self.remaining[sa:sb] -= self.sizes[b]
        self.crossing[sa + 1:sb] -= 1
        self.offsets[b] = offset
        self.nodes += 1
        return saved

    def unplace(self, b: int, saved: np.ndarray) -> None:
        sa, sb = self.sa[b], self.sb[b]
        self.skyline[sa:sb] = saved
        self.remaining[sa:sb] += self.sizes[b]
        self.crossing[sa + 1:sb] += 1
        self.offsets[b] = SLOW

    # -- search -----------------------------------------------------------------------
    def components(self, members: np.ndarray) -> list[np.ndarray]:
        """Split buffers into groups with no live range crossing between groups."""
        lo, hi = int(self.sa[members].min()), int(self.sb[members].max())
        # The unplaced buffers live in [lo, hi) are exactly ``members``: any other unplaced buffer
        # belongs to a part split off earlier, whose sections are disjoint from these.
        if self.crossing[lo + 1:hi].all():
            return [members]
        order = members[np.argsort(self.sa[members], kind="stable")]
        reach = np.maximum.accumulate(self.sb[order])
        cuts = np.flatnonzero(reach[:-1] <= self.sa[order[1:]]) + 1
        return np.split(order, cuts)

    def children(self, members: np.ndarray, floor: int) -> list[tuple[int, int]] | None:
        """Candidate (buffer, offset) moves in search order, or None if the node is dead."""
        sa, sb = self.sa[members], self.sb[members]
        lo, hi = int(sa.min()), int(sb.max())
        m = hi - lo
        skyline, remaining = self.skyline[lo:hi], self.remaining[lo:hi]
        floors = np.maximum(skyline, floor)
        if (floors + remaining > self.limit).any():
            return None
        sa, sb = sa - lo, sb - lo
        k = self.level[members]
        tails = sb - self.width[members]
        n_levels = int(k.max()) + 1
        # Range maxima of the skyline and of the remaining demand (sparse tables, one row per power of two).
        table = np.zeros((2, n_levels, m), dtype=np.int64)
        table[0, 0] = skyline
        table[1, 0] = remaining
        width = 1
        for j in range(1, n_levels):
            np.maximum(table[:, j - 1, :m - width], table[:, j - 1, width:], out=table[:, j, :m - width])
            width *= 2
        lows = np.maximum(table[0, k, sa], table[0, k, tails])
        demand = np.maximum(table[1, k, sa], table[1, k, tails])
        np.maximum(lows, floor, out=lows)
        if self.alignment > 1:
            lows = -(-lows // self.alignment) * self.alignment
        sizes = self.sizes[members]
        tops = lows + sizes
        if (tops > self.limit).any():
            return None
        active = remaining > 0
        # No future buffer in a section sits below the lowest offset any unplaced buffer there can take
        # (range minimum updates on a sparse table, pushed down to single sections).
        cover = np.full((n_levels, m), _NO_SERVER, dtype=np.int64)
        np.minimum.at(cover, (k, sa), lows)
        np.minimum.at(cover, (k, tails), lows)
        for j in range(n_levels - 1, 0, -1):
            width = 1 << (j - 1)
            np.minimum(cover[j - 1], cover[j], out=cover[j - 1])
            np.minimum(cover[j - 1, width:], cover[j, :m - width], out=cover[j - 1, width:])
        lowest_cover = cover[0]
        floors = np.where(active, np.maximum(floors, lowest_cover), floors)
        if (floors + remaining > self.limit).any():
            return None
        # Dominance: a buffer placed at or above the top of another unplaced buffer's lowest position
        # leaves a gap that buffer could fill first.
        # A buffer at offset ``low`` raises each section of its live range to ``low`` plus its size, and
        # the rest of the section's demand must still fit above: otherwise the move fails at once.
        keep = (lows < tops.min()) & (lows + demand <= self.limit)
        order = np.lexsort((self.rank[members], lows))
        order = order[keep[order]]
        tight = active & (floors + remaining == self.limit)
        if tight.any():
            # A tight section has no byte to spare: some unplaced buffer must sit exactly on its floor.
            # Every unplaced buffer live in an active section has its lowest offset at or above the
            # section's floor, so one sits exactly on it iff the lowest of them does.
            if (tight & (lowest_cover != floors)).any():
                return None
            lowest = floors[active].min()
            focus = np.flatnonzero(tight & (floors == lowest))
            if focus.size:
                # Servers of a section at the lowest height: unplaced buffers live there at that offset.
                at_lowest = lows == lowest
                counts = np.zeros(m + 1, dtype=np.int64)
                np.add.at(counts, sa[at_lowest], 1)
                np.add.at(counts, sb[at_lowest], -1)
                servers = np.cumsum(counts[:m])
                t = int(focus[np.argmin(servers[focus])])
                chosen = (sa <= t) & (sb > t) & at_lowest
                # The valley around t: the run of sections at the lowest height. Buffers that fill it
                # edge to edge come first, then those that meet one of its edges: they leave no slivers.
                level = floors == lowest
                left = t - int(np.argmin(level[t::-1])) + 1 if not level[:t + 1].all() else 0
                right = t + int(np.argmin(level[t:])) if not level[t:].all() else m
                if tight[left:right].all():
                    # Every section of the valley needs a buffer sitting exactly on its floor. Those
                    # buffers lie inside the valley and overlap in address, so their live ranges tile
                    # it: keep only buffers that are part of some tiling (none: the node is dead).
                    inside = np.flatnonzero(at_lowest & (sa >= left) & (sb <= right))
                    pieces = sorted(zip(sa[inside].tolist(), sb[inside].tolist(), strict=True))
                    ahead = {left}
                    for start, end in pieces:
                        if start in ahead:
                            ahead.add(end)
                    if right not in ahead:
                        return None
                    behind = {right}
                    for start, end in sorted(pieces, key=lambda piece: -piece[1]):
                        if end in behind:
                            behind.add(start)
                    from_left = np.zeros(m + 1, dtype=bool)
                    from_left[list(ahead)] = True
                    to_right = np.zeros(m + 1, dtype=bool)
                    to_right[list(behind)] = True
                    chosen &= from_left[sa] & to_right[sb]
                edges = (sa == left).astype(np.int64) + (sb == right)
                order = order[chosen[order]]
                order = order[np.argsort(-edges[order], kind="stable")]
        return list(zip(members[order].tolist(), lows[order].tolist(), strict=True))

    def solve(self, members: np.ndarray, floor: int) -> bool:
        """Place every buffer of ``members`` (all unplaced) at or above ``floor``; False if impossible."""
        if time.perf_counter() > self.deadline:
            raise _Timeout
        if self.nodes > self.node_limit:
            raise _OutOfNodes
        parts = self.components(members)
        if len(parts) > 1:
            parts.sort(key=len)
            snapshot = (self.skyline.copy(), self.remaining.copy(), self.crossing.copy())
            for part in parts:
                if not self.solve(part, floor):
                    self.skyline[:], self.remaining[:], self.crossing[:] = snapshot
                    self.offsets[members] = SLOW
                    return False
            return True
        lo, hi = int(self.sa[members].min()), int(self.sb[members].max())
        key = (members.tobytes(), self.skyline[lo:hi].tobytes(), floor)
        if key in self.failed:
            return False
        options = self.children(members, floor)
        for b, offset in options or ():
            saved = self.place(b, offset)
            rest = members[members != b]
            if rest.size == 0 or self.solve(rest, offset):
                return True
            self.unplace(b, saved)
        if len(self.failed) < _MEMO_LIMIT:
            self.failed.add(key)
        return False


def branch_and_bound(instance: Instance, time_limit: float = 10.0, capacity: int | None = None,
                     seed: int = 0, node_limit: int | None = None) -> SearchResult:
    """Search for a placement of every buffer of ``instance`` below ``capacity``.

    Args:
        instance: The instance (costs, if any, are ignored).
        time_limit: Seconds before giving up.
        capacity: Address limit; the instance's capacity if None.
        seed: Seeds the random tie-breaks added after each round of dives.
        node_limit: Placements before giving up (None: no limit), for budgets
            that do not depend on the machine's speed or load.
    """
    limit = instance.capacity if capacity is None else capacity
    deadline = time.perf_counter() + time_limit
    # The same problem with time reversed (a placement of one is a placement of the other) is searched
    # in turns with the original: the search meets the schedule's two ends in a different order.
    horizon = int(instance.ends.max())
    mirrored = Instance(instance.name, instance.ids, horizon - instance.ends, horizon - instance.starts,
                        instance.sizes, instance.capacity, instance.alignment)
    searches = [_Search(instance, limit, deadline), _Search(mirrored, limit, deadline)]
    # Short dives under different tie-breaks (the heuristic preorderings, then random ones), with a node
    # budget that grows slowly (as MiniMalloc's round robin, but with fresh preorderings): a wrong
    # early choice costs one short dive rather than an exhausting search below it. States proven to
    # fail stay known across dives.
    rng = np.random.default_rng(seed)
    budget = _DIVE_NODES_PER_BUFFER * len(instance)
    try:
        for dive in itertools.count():
            search = searches[dive % 2]
            preorder = dive // 2
            if preorder >= len(search.preorders):
                search.preorders.append(rng.permutation(len(instance)))
            search.rank = search.preorders[preorder]
            dive_budget = budget * (1 + dive // 20)
            if node_limit is not None:
                left = node_limit - sum(s.nodes for s in searches)
                if left <= 0:
                    break
                dive_budget = min(dive_budget, left)
            search.node_limit = search.nodes + dive_budget
            try:
                solved = search.solve(np.arange(len(instance)), 0)
            except _OutOfNodes:
                search.reset()
                continue
            nodes = sum(s.nodes for s in searches)
            if solved:
                return SearchResult(search.offsets.copy(), False, nodes)
            return SearchResult(None, True, nodes)
    except (_Timeout, RecursionError):
        pass
    return SearchResult(None, False, sum(s.nodes for s in searches))
