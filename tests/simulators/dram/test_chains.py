"""Request chains of the analytical DRAM model: hand-checked cases; compiled and Python versions agree."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.simulators.dram import chains
from archgym.simulators.dram.chains import CONFLICT, HIT, MISS, chain_bounds

LATENCY = np.array([1.0, 10.0, 20.0])  # hit, miss, conflict
# Hit spacing, tRCD, tRP, tRC, tRTP, tWRPRE, tRDWR, tWRRD of DDR3-1600
# (tWRPRE = WL + tBURST + tWR = 8 + 4 + 12, tRDWR = RL + tBURST + 2 - WL, tWRRD = WL + tBURST + tWTR).
BANK_TIMINGS = np.array([4.0, 10.0, 10.0, 38.0, 6.0, 24.0, 8.0, 18.0])


def bounds(outcome_row, banks, window, tau=0.0, arrivals=None, after_write=None, writes=None, release=0.0):
    n = len(outcome_row)
    return chain_bounds(
        np.zeros(n) if arrivals is None else np.asarray(arrivals, dtype=float),
        np.asarray(banks),
        8,
        np.zeros(n, dtype=bool) if after_write is None else np.asarray(after_write),
        np.zeros(n, dtype=bool) if writes is None else np.asarray(writes),
        np.array([outcome_row]),
        np.zeros(len(window), dtype=np.int64),
        np.asarray(window),
        np.full(len(window), release),
        np.full((len(window), 1), tau),
        n,
        LATENCY,
        BANK_TIMINGS,
        compiled=False,
    )


def test_a_run_of_misses_to_one_bank_waits_a_row_cycle_each():
    # Four closed-page accesses to bank 0: 10 to the first column command, then 38 apart.
    assert bounds([MISS] * 4, [0] * 4, [8]).tolist() == [10 + 3 * 38]


def test_misses_to_different_banks_overlap_unless_the_window_is_one():
    wide, narrow = bounds([MISS] * 4, [0, 1, 2, 3], [8, 1])
    assert wide == 10  # all four activate at once
    assert narrow == 40  # each enters when the one before issues: 4 x tRCD


def test_a_conflict_waits_the_row_cycle_or_the_write_recovery():
    after_read, after_write = (
        bounds([MISS, CONFLICT], [0, 0], [4], after_write=[False, flag])[0] for flag in (False, True)
    )
    assert after_read == 10 + 38  # tRC after the first activation
    assert after_write == 10 + 24 + 10 + 10  # tWRPRE, tRP, tRCD after the write


def test_a_conflict_long_after_the_activation_waits_only_the_precharge():
    # Twenty hits keep the row open for 80 cycles; the conflict then pays tRTP + tRP + tRCD.
    outcomes = [MISS] + [HIT] * 20 + [CONFLICT]
    assert bounds(outcomes, [0] * 22, [64])[0] == 10 + 20 * 4 + 6 + 10 + 10


def test_a_hit_that_changes_direction_waits_for_the_bus_to_turn():
    # Read, write, read to one open row: tCCD would allow 4 apart; tRDWR is 8, tWRRD 18.
    outcomes, writes = [MISS, HIT, HIT], [False, True, False]
    assert bounds(outcomes, [0] * 3, [8], after_write=[False, False, True], writes=writes)[0] == 10 + 8 + 18


def test_the_bus_turns_for_a_command_that_follows_the_other_direction():
    # A write to another bank right after a read waits tRDWR; a write that can go before
    # the latest read (its bank is free long before) does not wait for that read.
    assert bounds([MISS, MISS], [0, 1], [8], writes=[False, True])[0] == 10 + 8
    assert bounds([MISS, MISS, MISS], [0, 0, 1], [8], writes=[False, False, True])[0] == 10 + 38


def test_a_request_enters_when_enough_earlier_ones_have_issued_in_any_order():
    # Window 2: the third request enters once two have issued; the second (another bank)
    # issues at 10 long before the first's bank is free, so the third need not wait for it.
    outcomes = [MISS, MISS, MISS, MISS]
    finish = bounds(outcomes, [0, 1, 2, 0], [2])[0]
    assert finish == 10 + 38  # the fourth shares bank 0 with the first: tRC after it


def test_behind_an_arbiter_a_place_frees_only_when_the_response_returns():
    # Window 1: each request enters 14 cycles (CL + tBURST) after the previous one issued.
    assert bounds([MISS] * 3, [0, 1, 2], [1], release=14.0)[0] == 10 + 2 * (14 + 10)


def test_arrivals_and_the_block_clock_bound_the_issue_times():
    assert bounds([HIT, HIT], [0, 1], [4], arrivals=[0, 100])[0] == 101
    assert bounds([HIT] * 10, list(range(8)) + [0, 1], [16], tau=5.0)[0] == 45  # the clock reaches 9 x 5


@pytest.mark.skipif(chains._COMPILED is None, reason="numba is not installed (the fast extra); only the Python version runs")
def test_compiled_and_python_versions_agree_on_random_inputs():
    rng = np.random.default_rng(3)
    n, configurations, groups = 500, 40, 5
    arguments = {
        "arrival": np.sort(rng.integers(0, 2000, n)).astype(float),
        "bank": rng.integers(0, 8, n),
        "n_banks": 8,
        "after_write": rng.random(n) < 0.3,
        "is_write": rng.random(n) < 0.3,
        "outcomes": rng.integers(0, 3, (groups, n)),
        "group": rng.integers(0, groups, configurations),
        "window": rng.integers(1, 70, configurations),
        "release": rng.random(configurations) * 20,
        "tau": rng.random((configurations, -(-n // 32))) * 6,
        "block": 32,
        "latency": LATENCY,
        "bank_timings": BANK_TIMINGS,
    }
    np.testing.assert_array_equal(chain_bounds(**arguments, compiled=True), chain_bounds(**arguments, compiled=False))
