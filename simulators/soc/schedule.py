"""Discrete-event schedule of task graphs on mapped hardware, with bottleneck rates.

The schedule is a fluid model. A running task progresses at a rate (its share
of its work per millisecond) set by its tightest resource:

* its processing element: ``1 / compute_ms`` (one task at a time per element;
  a task with no work needs no element: it models a sensor or DMA transfer);
* the bus: ``bus_gbps / (n_bus * bytes)``, with ``n_bus`` the running tasks
  that move data, sharing the bus equally;
* each memory ``m`` it touches: ``memory_gbps[m] / (n_m * bytes_m)``, shared
  equally among the ``n_m`` running tasks that touch ``m``.

A task's data moves at the pace of its work (streaming), so a task's rate is
the minimum of these terms; a task with no demand at all finishes as soon as
it starts. Shares are equal splits: bandwidth a task cannot use because
another resource limits it is not handed to the others (a simplification
that keeps schedules easy to compute by hand). Rates change only when a task starts or finishes, so between two
events every running task progresses linearly, and the schedule is exact: an
event loop steps from one start or finish to the next.

A task becomes ready ``transfer_ms`` after its last predecessor finishes (the
bus hop latency of its input data), and starts when ready and its
processing element is free. Ready tasks waiting for the same element start in
order of ready time, then of their index (applications in order, each in
topological order). Cores form one pool of identical elements; each
accelerator is an element of its own.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

NO_ELEMENT = -1
"""Pool index of tasks that need no processing element."""

_TOLERANCE = 1e-12


@dataclass(frozen=True)
class ScheduleInput:
    """A mapped task graph (all applications of a workload, flattened).

    Args:
        compute_ms: Per task, milliseconds of work on its processing element (0: no work).
        pool: Per task, index of the processing-element pool it runs on, or :data:`NO_ELEMENT`.
        pool_sizes: Elements per pool (the cores pool has ``cores`` elements, an accelerator 1).
        bus_bytes: Per task, bytes it moves over the bus (inputs read plus outputs written).
        memory_bytes: Per memory, per task, bytes it moves to or from that memory.
        bus_gbps: Bus bandwidth (GB/s = bytes per ns).
        memory_gbps: Bandwidth of each memory.
        predecessors: Per task, the tasks it depends on.
        successors: Per task, the tasks that depend on it.
        transfer_ms: Delay from a producer's finish to its consumer being ready.
    """

    compute_ms: Sequence[float]
    pool: Sequence[int]
    pool_sizes: Sequence[int]
    bus_bytes: Sequence[float]
    memory_bytes: Sequence[Sequence[float]]
    bus_gbps: float
    memory_gbps: Sequence[float]
    predecessors: Sequence[Sequence[int]]
    successors: Sequence[Sequence[int]]
    transfer_ms: float = 0.0


@dataclass(frozen=True)
class Schedule:
    """Start and finish time of every task, in milliseconds."""

    start_ms: tuple[float, ...]
    finish_ms: tuple[float, ...]


def simulate(graph: ScheduleInput) -> Schedule:
    """Run the event loop (see the module docstring) and return the schedule."""
    n = len(graph.compute_ms)
    inf = math.inf
    pe_rate = [1.0 / c if c > 0 else inf for c in graph.compute_ms]
    pool_of = graph.pool
    free = list(graph.pool_sizes)
    bus_bytes = graph.bus_bytes
    bus_rate = graph.bus_gbps * 1e6  # bytes per ms
    memory_rate = [gbps * 1e6 for gbps in graph.memory_gbps]
    # Per task, the memories it touches and its bytes there.
    touches = [
        [(m, per_task[i]) for m, per_task in enumerate(graph.memory_bytes) if per_task[i] > 0] for i in range(n)
    ]
    users = [0] * len(memory_rate)  # running tasks touching each memory
    bus_users = 0
    successors = graph.successors
    waiting = [len(p) for p in graph.predecessors]
    ready_time = [0.0] * n
    start = [math.nan] * n
    finish = [math.nan] * n
    remaining = [1.0] * n
    pending = [(0.0, i) for i in range(n) if waiting[i] == 0]  # (ready time, index), a heap
    heapq.heapify(pending)
    queued: list[tuple[float, int]] = []  # ready, waiting for an element; kept sorted
    running: list[int] = []
    now = 0.0
    done = 0
    freed = False
    while done < n:
        # Tasks whose input has arrived join the queue of their element; start those whose element is free.
        horizon = now + _TOLERANCE * max(now, 1.0)
        arrived = False
        while pending and pending[0][0] <= horizon:
            queued.append(heapq.heappop(pending))
            arrived = True
        if queued and (arrived or freed):  # otherwise no queued task can start
            queued.sort()
            still: list[tuple[float, int]] = []
            for item in queued:
                task = item[1]
                pool = pool_of[task]
                if pool != NO_ELEMENT:
                    if free[pool] == 0:
                        still.append(item)
                        continue
                    free[pool] -= 1
                running.append(task)
                start[task] = now
                if bus_bytes[task] > 0:
                    bus_users += 1
                for m, _ in touches[task]:
                    users[m] += 1
            queued = still
        # Rates of the running tasks: the tightest of element, bus and memories.
        bus_share = bus_rate / bus_users if bus_users else inf
        shares = [rate / count if count else inf for rate, count in zip(memory_rate, users)]
        rates: list[float] = []
        step = inf
        for task in running:
            rate = pe_rate[task]
            moved = bus_bytes[task]
            if moved > 0 and bus_share / moved < rate:
                rate = bus_share / moved
            for m, moved in touches[task]:
                rate = min(rate, shares[m] / moved)
            rates.append(rate)
            left = remaining[task] / rate if rate < inf else 0.0
            step = min(step, left)
        if pending and pending[0][0] - now < step:
            step = pending[0][0] - now
        if step == inf:  # pragma: no cover - the graph is acyclic, so something is always pending or running
            raise RuntimeError("schedule stalled: no task can progress")
        now += step
        finished: list[int] = []
        for task, rate in zip(running, rates):
            left = 0.0 if rate == inf else remaining[task] - rate * step
            if left <= _TOLERANCE:
                finished.append(task)
            else:
                remaining[task] = left
        freed = bool(finished)
        for task in finished:
            remaining[task] = 0.0
            finish[task] = now
            running.remove(task)
            done += 1
            if pool_of[task] != NO_ELEMENT:
                free[pool_of[task]] += 1
            if bus_bytes[task] > 0:
                bus_users -= 1
            for m, _ in touches[task]:
                users[m] -= 1
            for successor in successors[task]:
                waiting[successor] -= 1
                ready_time[successor] = max(ready_time[successor], now + graph.transfer_ms)
                if waiting[successor] == 0:
                    heapq.heappush(pending, (ready_time[successor], successor))
    return Schedule(tuple(start), tuple(finish))
