"""The SoC model's schedule is exact on small graphs worked out by hand.

Numbers used throughout (the default hardware library):

* a core at 1000 MHz with IPC 2 runs 2e6 instructions per ms;
* a 64-bit bus at 100 MHz moves 8 bytes * 100e6 / s = 8e5 bytes per ms;
* one DRAM channel moves 6.4e6 bytes per ms (never the bottleneck below);
* a consumer is ready 2 hops * 4 cycles / 100 MHz = 8e-5 ms after its producer finishes;
* the filter accelerator's one lane runs 8x a nominal core: 1.6e7 instructions per ms.
"""

from __future__ import annotations

import pytest

from archgym.simulators.soc import DEFAULT_SOC_DESIGN, Application, Edge, SocAnalyticalModel, Task, Workload
from archgym.simulators.soc.schedule import NO_ELEMENT, ScheduleInput, simulate

HOP = 2e-5  # ms from a producer's finish to its consumer being ready: two one-cycle hops at 100 MHz


@pytest.fixture(scope="module")
def model() -> SocAnalyticalModel:
    return SocAnalyticalModel()


def design(**changes) -> dict:
    base = {**DEFAULT_SOC_DESIGN, "cores": 1, "core_freq_mhz": 1000, "sram_kib": 0, "dram_channels": 1,
            "bus_width_bits": 64, "bus_freq_mhz": 100}
    return {**base, **changes}


def one_app(tasks, edges, budget_ms=10.0) -> Workload:
    return Workload("hand", (Application("app", tuple(tasks), tuple(edges), latency_budget_ms=budget_ms),))


def test_chain_matches_the_hand_computed_schedule(model):
    chain = one_app(
        [Task("source"), Task("A", work=2e6), Task("B", work=6e6, kernel="filter"), Task("sink")],
        [Edge("source", "A", 8e4), Edge("A", "B", 1.6e6), Edge("B", "sink", 0)],
    )
    result = model.simulate(design(), chain)
    start, finish = result.schedule.start_ms, result.schedule.finish_ms
    # source: no work, writes 8e4 bytes over the bus: 8e4 / 8e5 = 0.1 ms.
    assert (start[0], finish[0]) == pytest.approx((0.0, 0.1), abs=1e-12)
    # A: 2e6 / 2e6 = 1 ms of compute, but 8e4 + 1.6e6 = 1.68e6 bytes / 8e5 = 2.1 ms on the bus: bus-bound.
    assert start[1] == pytest.approx(0.1 + HOP, abs=1e-12)
    assert finish[1] == pytest.approx(0.1 + HOP + 2.1, abs=1e-12)
    # B: 6e6 / 2e6 = 3 ms of compute beats 1.6e6 / 8e5 = 2 ms on the bus: compute-bound.
    assert finish[2] == pytest.approx(2.2 + 2 * HOP + 3.0, abs=1e-12)
    # sink: no work, no bytes, finishes as soon as it is ready.
    assert finish[3] == start[3] == pytest.approx(5.2 + 3 * HOP, abs=1e-12)
    assert result.metrics["latency_ms"] == pytest.approx(5.2 + 3 * HOP, abs=1e-12)

    # Energy: 8e6 core instructions at 1e12 / 47e9 pJ each; the buffers (8e4 + 1.6e6 bytes) are
    # written and read once in DRAM (15 pJ/B, FARSI's) and over the bus (0.3 pJ/B); static power is the
    # leakage of 0.65 + 0.8 + 64 * 0.002 = 1.578 mm2 at 0.1 mW/mm2 plus 1.5 mW of DRAM standby,
    # over the run (power is FARSI's: energy over the latency, not over the 10 ms period).
    latency = 5.2 + 3 * HOP
    cores_uj = 8e6 * (1e12 / 47e9) * 1e-6
    dram_uj = 2 * 1.68e6 * 15 * 1e-6
    bus_uj = 2 * 1.68e6 * 0.3 * 1e-6
    static_uj = (1.578 * 0.1 + 1.5) * latency
    assert result.energy_uj["cores"] == pytest.approx(cores_uj, rel=1e-12)
    assert result.energy_uj["dram"] == pytest.approx(dram_uj, rel=1e-12)
    assert result.energy_uj["bus"] == pytest.approx(bus_uj, rel=1e-12)
    assert result.energy_uj["static"] == pytest.approx(static_uj, rel=1e-12)
    total = cores_uj + dram_uj + bus_uj + static_uj
    assert result.metrics["energy_uj"] == pytest.approx(total, rel=1e-12)
    assert result.metrics["power_mw"] == pytest.approx(total / latency, rel=1e-12)
    assert result.metrics["area_mm2"] == pytest.approx(1.578, rel=1e-12)


FORK_JOIN = one_app(
    [Task("source"), Task("A", work=1e6), Task("B", work=4e6, kernel="filter"), Task("C", work=2e6), Task("sink")],
    [Edge("source", "A", 4e5), Edge("source", "B", 4e5), Edge("A", "C", 0), Edge("B", "C", 0), Edge("C", "sink", 0)],
)


def test_fork_join_shares_the_bus_between_concurrent_branches(model):
    result = model.simulate(design(cores=2), FORK_JOIN)
    start, finish = result.schedule.start_ms, result.schedule.finish_ms
    # source writes 8e5 bytes alone on the bus: 1 ms.
    assert finish[0] == pytest.approx(1.0, abs=1e-12)
    # A and B start together on the two cores and each gets half the bus, 4e5 bytes/ms.
    # A: compute rate 1 / 0.5 ms = 2 per ms, bus rate 4e5 / 4e5 = 1 per ms -> 1 per ms.
    # B: compute rate 1 / 2 ms = 0.5 per ms, bus rate 1 per ms -> 0.5 per ms.
    t1 = 1.0 + HOP
    assert start[1] == start[2] == pytest.approx(t1, abs=1e-12)
    assert finish[1] == pytest.approx(t1 + 1.0, abs=1e-12)  # A done; B has half its work left
    # B alone: compute-bound at 0.5 per ms, its remaining half takes 1 ms.
    assert finish[2] == pytest.approx(t1 + 2.0, abs=1e-12)
    # C joins both: ready a hop after B, 2e6 instructions take 1 ms; the sink is ready a hop later.
    assert finish[3] == pytest.approx(t1 + 2.0 + HOP + 1.0, abs=1e-12)
    assert result.metrics["latency_ms"] == pytest.approx(4.0 + 3 * HOP, abs=1e-12)


def test_fork_join_with_an_accelerator_makes_both_branches_bus_bound(model):
    result = model.simulate(design(cores=2, acc_filter=1, map_filter="accelerator"), FORK_JOIN)
    finish = result.schedule.finish_ms
    # B on the filter accelerator: 4e6 / 1.6e7 = 0.25 ms of compute, rate 4 per ms; with half the bus
    # it runs at 1 per ms, like A, and both finish 1 ms after they start.
    t1 = 1.0 + HOP
    assert finish[1] == pytest.approx(t1 + 1.0, abs=1e-12)
    assert finish[2] == pytest.approx(t1 + 1.0, abs=1e-12)
    assert result.metrics["latency_ms"] == pytest.approx(3.0 + 3 * HOP, abs=1e-12)
    # The accelerator's energy: 4e6 instructions at 1 % of the core's nominal energy per instruction.
    assert result.energy_uj["accelerators"] == pytest.approx(4e6 * (1e12 / 47e9) * 0.01 * 1e-6, rel=1e-12)
    assert result.energy_uj["cores"] == pytest.approx(3e6 * (1e12 / 47e9) * 1e-6, rel=1e-12)


def test_one_core_serialises_the_branches(model):
    result = model.simulate(design(cores=1), FORK_JOIN)
    start, finish = result.schedule.start_ms, result.schedule.finish_ms
    # A (lower index) takes the core first; alone on the bus it is compute-bound: 0.5 ms.
    t1 = 1.0 + HOP
    assert finish[1] == pytest.approx(t1 + 0.5, abs=1e-12)
    # B was ready at t1 and starts when the core frees up; then 2 ms of compute.
    assert start[2] == pytest.approx(t1 + 0.5, abs=1e-12)
    assert finish[2] == pytest.approx(t1 + 2.5, abs=1e-12)
    assert result.metrics["latency_ms"] == pytest.approx(t1 + 2.5 + HOP + 1.0 + HOP, abs=1e-12)


def test_memory_bandwidth_is_shared_among_the_tasks_that_use_it():
    # Two independent tasks, each moving 6.4e6 bytes to one memory of 6.4e6 bytes/ms, on a bus far
    # faster than the memory: each gets half the memory, rate 0.5 per ms, so both take 2 ms.
    graph = ScheduleInput(
        compute_ms=[0.1, 0.1], pool=[0, 0], pool_sizes=[2], bus_bytes=[6.4e6, 6.4e6],
        memory_bytes=[[6.4e6, 6.4e6]], bus_gbps=1000.0, memory_gbps=[6.4],
        predecessors=[(), ()], successors=[(), ()],
    )
    schedule = simulate(graph)
    assert schedule.finish_ms == pytest.approx((2.0, 2.0), abs=1e-12)


def test_tasks_without_work_need_no_processing_element():
    # The only core is busy with task 0 for 1 ms; task 1 has no work and moves no data: it finishes at 0.
    graph = ScheduleInput(
        compute_ms=[1.0, 0.0], pool=[0, NO_ELEMENT], pool_sizes=[1], bus_bytes=[0.0, 0.0],
        memory_bytes=[], bus_gbps=1.0, memory_gbps=[], predecessors=[(), ()], successors=[(), ()],
    )
    assert simulate(graph).finish_ms == (1.0, 0.0)
