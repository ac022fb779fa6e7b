"""The request-level controller model: hand-checked timings; the C, numba and Python versions agree."""

from __future__ import annotations

import os

import numpy as np
import pytest

from archgym.simulators.dram import controller
from archgym.simulators.dram.controller import ControllerConstants, controller_timings, simulate
from archgym.simulators.dram.memspec import load_memspec

DDR3 = load_memspec("ddr3-1600")
TIMINGS = controller_timings(DDR3)
T = DDR3.timings  # tRCD 10, tRP 10, tRAS 28, tRC 38, tRRD 5, tFAW 24, RL 10, WL 8, tCCD 4
BURST = DDR3.burst_cycles
NO_OVERHEAD = ControllerConstants(k_enter=0.0, k_release=0.0, k_drain=0.0)


def code(policy="Open", scheduler="FrFcfs", organisation="Shared", size=8, arbiter="Simple", max_active=8,
         reorder=False):  # fmt: skip
    return [
        controller.POLICIES.index(policy),
        controller.SCHEDULERS.index(scheduler),
        controller.ORGANISATIONS.index(organisation),
        size,
        controller.ARBITERS.index(arbiter),
        max_active,
        int(reorder),
    ]


def run(banks, rows, writes=None, arrivals=None, constants=NO_OVERHEAD, implementation="python", **knobs):
    n = len(banks)
    result = simulate(
        np.zeros(n) if arrivals is None else np.asarray(arrivals, dtype=float),
        np.asarray(banks),
        np.asarray(rows),
        np.zeros(n, dtype=bool) if writes is None else np.asarray(writes),
        8,
        8,
        np.array([code(**knobs)]),
        TIMINGS,
        constants,
        implementation=implementation,
    )
    return dict(zip(controller.RESULT_COLUMNS, result[0]))


def test_one_read_activates_then_reads():
    result = run([0], [0])
    assert result["cycles"] == T["RCD"] + T["RL"] + BURST
    assert result["activations"] == 1


def test_hits_stream_at_the_column_spacing():
    result = run([0] * 5, [0] * 5)
    assert result["cycles"] == T["RCD"] + 4 * BURST + T["RL"] + BURST
    assert result["activations"] == 1


def test_a_closed_page_run_in_one_bank_waits_a_row_cycle_per_request():
    result = run([0] * 4, [0] * 4, policy="Closed")
    assert result["cycles"] == T["RCD"] + 3 * T["RC"] + T["RL"] + BURST
    assert result["activations"] == 4


def test_a_conflict_after_a_write_waits_for_write_recovery():
    after_read = run([0, 0], [0, 1], writes=[False, False])["cycles"]
    after_write = run([0, 0], [0, 1], writes=[True, False])["cycles"]
    # After a read the precharge waits tRAS from the activation; after a write, WL + tBURST + tWR.
    assert after_read == T["RAS"] + T["RP"] + T["RCD"] + T["RL"] + BURST
    assert after_write == T["RCD"] + (T["WL"] + BURST + T["WR"]) + T["RP"] + T["RCD"] + T["RL"] + BURST


def test_activations_of_many_banks_respect_trrd_and_tfaw():
    # Five banks at once: ACTs at 0, 5, 10, 15 (tRRD) and the fifth at tFAW = 24.
    result = run([0, 1, 2, 3, 4], [0] * 5, size=8)
    assert result["cycles"] == T["FAW"] + T["RCD"] + T["RL"] + BURST


def test_a_one_entry_buffer_serialises_the_banks():
    wide = run([0, 1, 2, 3], [0] * 4, size=8)["cycles"]
    narrow = run([0, 1, 2, 3], [0] * 4, size=1)["cycles"]
    # Each enters when the one before issues its read; its activation takes the next command cycle.
    assert narrow == 4 * T["RCD"] + 3 + T["RL"] + BURST
    assert wide < narrow


def test_the_multiplexer_groups_reads_and_writes():
    # Alternating reads of one row and writes of another bank's row: with room to look ahead
    # the multiplexer serves each direction in runs, so it pays far fewer bus turnarounds.
    n = 64
    banks = [0, 1] * (n // 2)
    writes = [False, True] * (n // 2)
    narrow = run(banks, [0] * n, writes=writes, size=2)["cycles"]
    wide = run(banks, [0] * n, writes=writes, size=32)["cycles"]
    assert wide < 0.7 * narrow
    assert wide > n * BURST  # the bus still carries every burst


def test_a_request_cannot_issue_before_it_arrives():
    result = run([0, 1], [0, 0], arrivals=[0, 1000])
    assert result["cycles"] == 1000 + T["RCD"] + T["RL"] + BURST
    # A run far shorter than tREFI: no refresh comes due, none is exposed.
    assert result["refresh_exposed"] == result["cycles"]


def test_one_transaction_in_flight_waits_for_each_response():
    one = run([0, 1, 2, 3], [0] * 4, arbiter="Fifo", max_active=1)["cycles"]
    assert one == 4 * (T["RCD"] + T["RL"] + BURST)


def test_in_order_responses_hold_places_behind_slower_requests():
    # A conflict followed by hits to other banks: delivered in order, the hits keep their places.
    banks = [0, 0] + [1] * 6
    rows = [0, 1] + [0] * 6
    kwargs = {"arbiter": "Fifo", "max_active": 2}
    assert run(banks, rows, reorder=True, **kwargs)["cycles"] > run(banks, rows, reorder=False, **kwargs)["cycles"]


def test_frfcfs_serves_a_queued_hit_before_an_older_conflict():
    banks, rows = [0, 0, 0], [0, 1, 0]
    fifo = run(banks, rows, scheduler="Fifo")
    frfcfs = run(banks, rows, scheduler="FrFcfs")
    assert fifo["activations"] == 3
    assert frfcfs["activations"] == 2
    assert frfcfs["cycles"] < fifo["cycles"]


def test_adaptive_policies_close_rows_by_what_is_queued():
    banks, rows = [0, 0], [0, 1]
    # OpenAdaptive sees the conflict queued and precharges with the first read.
    assert run(banks, rows, policy="OpenAdaptive")["cycles"] <= run(banks, rows, policy="Open")["cycles"]
    # ClosedAdaptive keeps a row open for a queued hit.
    assert run([0, 0], [0, 0], policy="ClosedAdaptive")["activations"] == 1
    assert run([0, 0], [0, 0], policy="Closed")["activations"] == 2


def test_bad_configurations_are_refused():
    with pytest.raises(ValueError, match="RequestBufferSize"):
        run([0], [0], size=0)


def _random_case(seed, n=400):
    rng = np.random.default_rng(seed)
    banks, rows = rng.integers(0, 8, n), rng.integers(0, 4, n)
    writes = rng.random(n) < 0.3
    arrivals = np.cumsum(rng.integers(0, 6, n)).astype(float)
    return arrivals, banks, rows, writes


ALL_CODES = np.array(
    [
        code(policy, scheduler, organisation, size, arbiter, max_active, reorder)
        for policy in controller.POLICIES
        for scheduler in controller.SCHEDULERS
        for organisation, size in (("Shared", 8), ("ReadWrite", 2), ("Bankwise", 1))
        for arbiter, max_active, reorder in (("Simple", 8, False), ("Fifo", 4, True), ("Reorder", 16, False))
    ]
)


@pytest.mark.parametrize("implementation", ["native", "numba"])
def test_compiled_and_python_versions_agree(implementation):
    if implementation not in controller.available_implementations():
        pytest.skip(f"the {implementation} controller cannot run here (no C compiler or no numba)")
    arguments = (*_random_case(3), 8, 8, ALL_CODES, TIMINGS, ControllerConstants())
    np.testing.assert_array_equal(
        simulate(*arguments, implementation=implementation), simulate(*arguments, implementation="python")
    )


def test_the_bundled_compiled_versions_run_in_ci():
    # Both compiled versions must be exercised where the project is tested, not silently skipped.
    if os.environ.get("ARCHGYM_REQUIRE_SHARED_REFERENCE"):
        assert controller.available_implementations() == ("native", "numba", "python")


def test_segments_are_simulated_independently_and_warm_up_is_not_counted():
    arrivals, banks, rows, writes = _random_case(5, n=600)
    codes = ALL_CODES[::7]
    arguments = (8, 8, codes, TIMINGS, ControllerConstants())
    bounds = np.array([0, 250, 600])
    segments = controller.simulate_segments(arrivals, banks, rows, writes, *arguments, bounds=bounds)
    for s in range(2):
        piece = slice(bounds[s], bounds[s + 1])
        alone = simulate(arrivals[piece], banks[piece], rows[piece], writes[piece], *arguments)
        np.testing.assert_array_equal(segments[:, s], alone)
    warmed = controller.simulate_segments(
        arrivals, banks, rows, writes, *arguments, bounds=np.array([0, 600]), first_measured=np.array([100])
    )[:, 0]
    whole = simulate(arrivals, banks, rows, writes, *arguments)
    np.testing.assert_array_equal(warmed[:, 0], whole[:, 0])  # the same run, so the same end
    assert (warmed[:, 1] < whole[:, 1]).all()  # the warm-up's activations are not counted
    for implementation in controller.available_implementations():
        np.testing.assert_array_equal(
            controller.simulate_segments(
                arrivals, banks, rows, writes, *arguments, bounds=bounds, first_measured=np.array([50, 100]),
                implementation=implementation,
            ),
            controller.simulate_segments(
                arrivals, banks, rows, writes, *arguments, bounds=bounds, first_measured=np.array([50, 100]),
                implementation="python",
            ),
        )  # fmt: skip


def test_refresh_stalls_are_exposed_only_where_idle_time_cannot_absorb_them():
    refi = T["REFI"]
    # A read every 100 cycles for ten refresh intervals: the controller mostly waits, so a
    # refresh stall costs nothing but possibly the last one.
    n = 10 * refi // 100
    sparse = run(list(range(8)) * (n // 8), [0] * (n // 8 * 8), arrivals=np.arange(n // 8 * 8) * 100.0)
    assert sparse["refresh_exposed"] < 2 * refi
    # Closed-page reads of one bank, all waiting from the start: every refresh delays the end.
    busy = run([0] * 800, [0] * 800, policy="Closed")
    assert busy["cycles"] > 4 * refi
    assert busy["refresh_exposed"] == busy["cycles"]


def test_without_a_working_c_compiler_the_numba_version_runs(tmp_path):
    import subprocess
    import sys

    script = (
        "from archgym.simulators.dram import controller\n"
        "from archgym.cost_model import make_backend\n"
        "print(controller.available_implementations())\n"
        "m = make_backend('dram/analytical')\n"
        "print(m.evaluate(m.default_design(), 'synthetic:n_requests=300,seed=1').metrics['total_time_ns'] > 0)\n"
    )
    environment = {**os.environ, "CC": str(tmp_path / "no-such-compiler"), "ARCHGYM_CACHE_DIR": str(tmp_path)}
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment,
                               timeout=300, check=False)  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    implementations, evaluated = completed.stdout.split("\n")[:2]
    assert "native" not in implementations and evaluated == "True"
    assert "no C compiler" in completed.stderr
