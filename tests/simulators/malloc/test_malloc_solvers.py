"""The time model, the greedy allocators, the exact solvers and branch and bound."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archgym.errors import ConfigurationError, InvalidDesignError
from archgym.simulators.malloc import canonical
from archgym.simulators.malloc.branch_and_bound import branch_and_bound
from archgym.simulators.malloc.canonical import canonical_search
from archgym.simulators.malloc.cost import EDGE_ACCELERATOR, SLOW, TimeModel
from archgym.simulators.malloc.cp_sat import available as cp_sat_available
from archgym.simulators.malloc.cp_sat import cp_sat_allocate
from archgym.simulators.malloc.exact import brute_force, solve_milp
from archgym.simulators.malloc.generator import dnn_instance, random_instance, zero_slack_instance
from archgym.simulators.malloc.heuristics import HEURISTICS
from archgym.simulators.malloc.instances import Instance, Uses
from archgym.simulators.malloc.placement import check_placement
from archgym.simulators.malloc.solve import METHODS, allocate, solve


def test_roofline_by_hand():
    # Two operations; op 0 reads buffer a (1000 bytes), op 1 reads a and b (1000 and 3000 bytes).
    uses = Uses.from_triples([(0, 0, 1000.0), (1, 0, 1000.0), (1, 1, 3000.0)])
    compute = np.array([10e-9, 50e-9])
    instance = Instance("hand", ("a", "b"), [0, 1], [2, 2], [1000, 3000], 4000, 1, compute, uses)
    model = TimeModel(instance)
    slow, fast = EDGE_ACCELERATOR.slow_bandwidth, EDGE_ACCELERATOR.fast_bandwidth
    baseline = max(10e-9, 1000 / slow) + max(50e-9, 4000 / slow)
    assert model.baseline_time == pytest.approx(baseline)
    only_b = max(10e-9, 1000 / slow) + max(50e-9, 1000 / slow + 3000 / fast)
    assert model.time(np.array([SLOW, 0])) == pytest.approx(only_b)
    assert model.speedup(np.array([SLOW, 0])) == pytest.approx(baseline / only_b)
    both = max(10e-9, 1000 / fast) + max(50e-9, 4000 / fast)
    assert model.time(np.array([0, 1000])) == pytest.approx(both)
    assert model.standalone_saving()[1] == pytest.approx(baseline - only_b)


def test_check_placement_names_the_overlap():
    instance = Instance("x", ("a", "b"), [0, 1], [2, 3], [4, 4], 8, alignment=2)
    check_placement(instance, np.array([0, 4]))
    with pytest.raises(InvalidDesignError, match="'a' at offset 0 .* overlaps buffer 'b' at offset 2"):
        check_placement(instance, np.array([0, 2]))
    with pytest.raises(InvalidDesignError, match="multiples of the alignment 2"):
        check_placement(instance, np.array([1, SLOW]))
    with pytest.raises(InvalidDesignError, match="past the capacity 8"):
        check_placement(instance, np.array([6, SLOW]))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 25), method=st.sampled_from(sorted(HEURISTICS)))
def test_heuristics_are_legal(seed, n, method):
    instance = random_instance(n, seed=seed, alignment=4)
    offsets = HEURISTICS[method](instance)
    check_placement(instance, offsets)
    model = TimeModel(instance)
    assert model.time(offsets) <= model.baseline_time + 1e-18


@pytest.mark.parametrize("seed", range(12))
def test_milp_matches_brute_force(seed):
    instance = random_instance(6, n_ops=6, seed=seed, capacity_fraction=0.5)
    _, optimum = brute_force(instance)
    result = solve_milp(instance, time_limit=20)
    assert result.optimal
    check_placement(instance, result.offsets)
    assert TimeModel(instance).time(result.offsets) == pytest.approx(optimum, rel=1e-6)


@pytest.mark.parametrize("seed", range(12))
def test_branch_and_bound_matches_brute_force(seed):
    base = random_instance(6, n_ops=6, seed=seed, max_size=10)
    free = Instance("a", base.ids, base.starts, base.ends, base.sizes, int(base.sizes.max()))
    _, min_peak = brute_force(free)
    fit = branch_and_bound(free.with_capacity(int(min_peak)))
    assert fit.offsets is not None
    check_placement(free.with_capacity(int(min_peak)), fit.offsets)
    if min_peak - 1 >= free.sizes.max():
        miss = branch_and_bound(free.with_capacity(int(min_peak) - 1))
        assert miss.offsets is None and miss.proven_infeasible


def test_milp_proves_an_allocation_instance_infeasible():
    instance = Instance("x", ("a", "b", "c"), [0, 0, 0], [2, 2, 2], [3, 3, 3], 8)
    assert solve_milp(instance).feasible is False
    assert solve(instance, "exact").fits is False
    assert solve(instance, "exact").optimal is True


@pytest.mark.parametrize("seed", range(4))
def test_best_solves_zero_slack_instances(seed):
    instance = zero_slack_instance(60, seed=seed)
    solution = solve(instance, "best", time_limit=10)
    assert solution.fits
    assert solution.peak == instance.capacity
    check_placement(instance, solution.offsets)


def test_best_is_at_least_as_good_as_every_heuristic():
    instance = dnn_instance("mobilenetv2", layers=20, seed=1, capacity_fraction=0.15)
    best = solve(instance, "best", time_limit=20)
    for method in HEURISTICS:
        assert best.time_s <= solve(instance, method).time_s * (1 + 1e-9)
    assert best.optimal
    assert solve(instance, "all-slow").speedup == pytest.approx(1.0)


def test_solve_rejects_unknown_method():
    with pytest.raises(ConfigurationError, match="unknown method 'magic'; choose one of"):
        solve(random_instance(3), "magic")
    assert {"greedy-size", "greedy-conflicts", "greedy-benefit", "best-fit", "exact", "cp-sat", "agent", "best"} <= set(METHODS)


@pytest.mark.parametrize("seed", range(12))
def test_cp_sat_matches_brute_force(seed):
    pytest.importorskip("ortools", reason="the ortools extra is not installed")
    base = random_instance(6, n_ops=6, seed=seed, max_size=10, alignment=2)
    free = Instance("a", base.ids, base.starts, base.ends, base.sizes, int(base.sizes.max()), alignment=2)
    _, min_peak = brute_force(free)
    fit = cp_sat_allocate(free.with_capacity(int(min_peak)), workers=1)
    assert fit.offsets is not None and not fit.proven_infeasible
    check_placement(free.with_capacity(int(min_peak)), fit.offsets)
    if min_peak - 2 >= free.sizes.max():
        miss = cp_sat_allocate(free.with_capacity(int(min_peak) - 2), workers=1)
        assert miss.offsets is None and miss.proven_infeasible


def test_cp_sat_places_a_zero_slack_instance_and_proves_one_byte_less_infeasible():
    pytest.importorskip("ortools", reason="the ortools extra is not installed")
    instance = zero_slack_instance(120, seed=5)  # branch and bound alone does not place this one
    solution = solve(instance, "cp-sat", time_limit=60)
    assert solution.fits and solution.optimal
    check_placement(instance, solution.offsets)
    assert solution.peak == instance.capacity
    tighter = solve(instance.with_capacity(instance.capacity - 1), "cp-sat", time_limit=60)
    assert not tighter.fits and tighter.optimal


def test_cp_sat_errors():
    with pytest.raises(ConfigurationError, match="pure allocation instances"):
        solve(random_instance(4), "cp-sat")
    pytest.importorskip("ortools", reason="the ortools extra is not installed")
    with pytest.raises(ConfigurationError, match="workers must be positive"):
        cp_sat_allocate(zero_slack_instance(5), workers=0)


def test_cp_sat_without_ortools_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ortools", None)
    monkeypatch.setitem(sys.modules, "ortools.sat", None)
    monkeypatch.setitem(sys.modules, "ortools.sat.python", None)
    monkeypatch.setitem(sys.modules, "ortools.sat.python.cp_model", None)
    assert not cp_sat_available()
    with pytest.raises(ConfigurationError, match=r"pip install 'archgym\[ortools\]'"):
        solve(zero_slack_instance(5), "cp-sat")
    # best falls back on branch and bound alone.
    assert solve(zero_slack_instance(40, seed=1), "best").fits


@pytest.mark.parametrize("seed", range(12))
def test_canonical_search_matches_brute_force(seed):
    base = random_instance(6, n_ops=6, seed=seed, max_size=10, alignment=2)
    free = Instance("a", base.ids, base.starts, base.ends, base.sizes, int(base.sizes.max()), base.alignment)
    _, min_peak = brute_force(free)
    fit = canonical_search(free.with_capacity(int(min_peak)))
    assert fit.offsets is not None
    check_placement(free.with_capacity(int(min_peak)), fit.offsets)
    if min_peak - 1 >= free.sizes.max():
        miss = canonical_search(free.with_capacity(int(min_peak) - 1))
        assert miss.offsets is None and miss.proven_infeasible


@pytest.mark.parametrize("seed", range(3))
def test_allocate_places_zero_slack_instances_in_every_equivalent_form(seed):
    instance = zero_slack_instance(150, seed=seed, horizon=600)
    horizon = int(instance.ends.max())
    order = np.random.default_rng(seed).permutation(len(instance))
    forms = [
        instance,
        Instance("reversed", instance.ids, horizon - instance.ends, horizon - instance.starts, instance.sizes,
                 instance.capacity),
        Instance("shuffled", tuple(f"x{i}" for i in order), instance.starts[order], instance.ends[order],
                 instance.sizes[order], instance.capacity),
    ]
    for form in forms:
        result = allocate(form, time_limit=60)
        assert result.offsets is not None, form.name
        check_placement(form, result.offsets)
        assert int((result.offsets + form.sizes).max()) == form.capacity
        # One byte less and the same buffers cannot fit (the instance has no slack at all).
        assert allocate(form.with_capacity(form.capacity - 1), time_limit=60).proven_infeasible


def test_allocate_is_deterministic_and_runs_without_a_compiler(monkeypatch):
    instance = zero_slack_instance(80, seed=5)
    first, second = allocate(instance, time_limit=60), allocate(instance, time_limit=60)
    assert np.array_equal(first.offsets, second.offsets) and first.nodes == second.nodes
    monkeypatch.setattr(canonical, "_library", lambda: None)
    assert not canonical.compiled()
    fallback = allocate(instance, time_limit=60)
    check_placement(instance, fallback.offsets)
