"""Tests of archgym.objective: ArchGym's formulation, weighted sums, constraints, parsing."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archgym.cost_model import BatchEvaluation, Evaluation, MetricSpec
from archgym.errors import ConfigurationError, UnknownNameError
from archgym.objective import (
    DEFAULT_TARGET_LATENCY_NS,
    DEFAULT_TARGET_POWER_MW,
    Constrained,
    Objective,
    TargetDistance,
    WeightedSum,
    list_objectives,
    make_objective,
)

DRAM_METRICS = (
    MetricSpec("energy_pj", "pJ", "min", 2e8),
    MetricSpec("power_mw", "mW", "min", 2e3),
    MetricSpec("total_time_ns", "ns", "min", 1e5),
    MetricSpec("avg_latency_ns", "ns", "min", 1e4),
    MetricSpec("bandwidth_gbps", "GB/s", "max", 10.0),
)


def archgym_reward(
    formulation: str, power: float, latency: float, target_power: float, target_latency: float
) -> float:
    """ArchGym's calculate_reward (arch_gym/envs/DRAMEnv_RL.py, reward_scaling off), transcribed."""
    if formulation == "power":
        reward = target_power / abs(power - target_power)
    elif formulation == "latency":
        reward = target_latency / abs(latency - target_latency)
    else:
        reward = (target_power / abs(power - target_power)) * (target_latency / abs(latency - target_latency))
    return min(reward, 1e3)


# -- ArchGym's exact formulation ----------------------------------------------------------------


def test_archgym_defaults_are_converted_to_our_units():
    assert DEFAULT_TARGET_POWER_MW == 1000.0  # ArchGym: 1 (watts)
    assert DEFAULT_TARGET_LATENCY_NS == 1e5  # ArchGym: 0.1 (x 1e9 ps)
    objective = make_objective("archgym-both")
    assert objective.targets == {"power_mw": 1000.0, "total_time_ns": 1e5}


@pytest.mark.parametrize(
    ("preset", "metrics", "expected"),
    [
        ("archgym-power", {"power_mw": 1700.0}, 1000.0 / 700.0),
        ("archgym-power", {"power_mw": 500.0}, 2.0),  # beyond the target the value falls again
        ("archgym-latency", {"total_time_ns": 5e4}, 2.0),
        ("archgym-latency", {"total_time_ns": 3e5}, 0.5),
        ("archgym-both", {"power_mw": 1500.0, "total_time_ns": 2e5}, 2.0 * 1.0),
        ("archgym-both", {"power_mw": 1250.0, "total_time_ns": 1.5e5}, 4.0 * 2.0),
        ("archgym-latency", {"total_time_ns": 1e5}, 1e3),  # on the target: the cap, not a division by zero
        ("archgym-latency", {"total_time_ns": 1e5 + 1.0}, 1e3),  # 1e5 capped to 1e3
    ],
)
def test_archgym_exact_values(preset, metrics, expected):
    assert make_objective(preset).reward(metrics) == pytest.approx(expected, rel=1e-12)


@given(
    power=st.floats(1.0, 1e5),
    latency=st.floats(1.0, 1e8),
    target_power=st.floats(1.0, 1e4),
    target_latency=st.floats(1.0, 1e6),
    formulation=st.sampled_from(["power", "latency", "both"]),
)
def test_archgym_exact_matches_transcribed_formula(power, latency, target_power, target_latency, formulation):
    if power == target_power or latency == target_latency:
        return  # ArchGym divides by zero there; we return the cap (tested above)
    objective = make_objective(
        f"archgym-{formulation}",
        **{
            k: v
            for k, v in {"target_power_mw": target_power, "target_latency_ns": target_latency}.items()
            if formulation == "both" or k.split("_")[1] == formulation
        },
    )
    expected = archgym_reward(formulation, power, latency, target_power, target_latency)
    got = objective.reward({"power_mw": power, "total_time_ns": latency})
    assert got == pytest.approx(expected, rel=1e-12)


def test_archgym_exact_infeasible_is_zero():
    objective = make_objective("archgym-latency")
    assert objective.infeasible_reward == 0.0
    assert objective.reward({"total_time_ns": math.nan}) == 0.0
    assert objective.reward({"total_time_ns": 5e4}, feasible=False) == 0.0


# -- the default (relative) target distance ------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "metrics", "expected"),
    [
        ("latency", {"total_time_ns": 5e4}, 0.5),
        ("latency", {"total_time_ns": 1e5}, 0.0),
        ("latency", {"total_time_ns": 3e5}, -2.0),
        ("power", {"power_mw": 1700.0}, -0.7),
        ("power", {"power_mw": 250.0}, 0.75),
        ("both", {"power_mw": 1500.0, "total_time_ns": 5e4}, -0.5 + 0.5),
    ],
)
def test_relative_values(preset, metrics, expected):
    assert make_objective(preset).reward(metrics) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_relative_reward_keeps_improving_beyond_the_target():
    objective = make_objective("latency")
    times = np.array([3e5, 2e5, 1.2e5, 1e5, 8e4, 5e4, 1e4, 0.0])
    rewards = objective.reward_batch({"total_time_ns": times})
    assert np.all(np.diff(rewards) > 0)


@given(x=st.floats(1.0001e5, 1e8), y=st.floats(1.0001e5, 1e8))
def test_relative_ranks_missed_targets_like_archgym(x, y):
    relative = make_objective("latency")
    exact = TargetDistance({"total_time_ns": 1e5}, exact=True, reward_cap=1e300)  # uncapped, as DRAMEnv.py
    r_x, r_y = relative.reward({"total_time_ns": x}), relative.reward({"total_time_ns": y})
    a_x, a_y = exact.reward({"total_time_ns": x}), exact.reward({"total_time_ns": y})
    assert (r_x > r_y) == (a_x > a_y) or math.isclose(x, y, rel_tol=1e-9)
    assert r_x == pytest.approx(-1.0 / a_x, rel=1e-9)


def test_relative_floor_and_infeasible():
    objective = make_objective("latency")
    assert objective.infeasible_reward == -1e3
    assert objective.reward({"total_time_ns": 1e12}) == -1e3
    assert objective.reward({"total_time_ns": math.nan}) == -1e3
    assert objective.reward({"total_time_ns": math.inf}) == -1e3


def test_max_goal_from_metric_spec_and_spec_string():
    from_spec = make_objective("target:bandwidth_gbps=10", DRAM_METRICS)
    from_string = make_objective("target:bandwidth_gbps:max=10")
    assert from_spec.goals == from_string.goals == {"bandwidth_gbps": "max"}
    assert from_spec.reward({"bandwidth_gbps": 15.0}) == pytest.approx(0.5)
    assert make_objective("target:bandwidth_gbps=10").reward({"bandwidth_gbps": 15.0}) == pytest.approx(-0.5)


# -- weighted sums ---------------------------------------------------------------------------


def test_weighted_sum_uses_scales_and_goals():
    objective = make_objective("weighted:energy_pj=1,total_time_ns=0.5,bandwidth_gbps=2", DRAM_METRICS)
    metrics = {"energy_pj": 4e8, "total_time_ns": 2e5, "bandwidth_gbps": 5.0}
    assert objective.reward(metrics) == pytest.approx(-(4e8 / 2e8) - 0.5 * (2e5 / 1e5) + 2 * (5.0 / 10.0))
    assert objective.goals["bandwidth_gbps"] == "max"


def test_weighted_sum_without_specs_is_unnormalised_minimisation():
    objective = WeightedSum({"energy_pj": 2.0})
    assert objective.reward({"energy_pj": 3.0}) == -6.0
    assert objective.infeasible_reward == -1e6


def test_energy_and_time_presets():
    energy = make_objective("energy", DRAM_METRICS)
    time = make_objective("time", DRAM_METRICS)
    assert energy.reward({"energy_pj": 1e8}) == pytest.approx(-0.5)
    assert time.reward({"total_time_ns": 5e4}) == pytest.approx(-0.5)
    assert energy.reward({"energy_pj": 1e8}) > energy.reward({"energy_pj": 2e8})


@pytest.mark.parametrize("weights", [{"energy_pj": 0.0}, {"energy_pj": -1.0}, {"energy_pj": math.nan}, {}])
def test_weighted_sum_rejects_bad_weights(weights):
    with pytest.raises(ConfigurationError):
        WeightedSum(weights)


# -- constraints -----------------------------------------------------------------------------


def test_soft_constraint_penalty():
    objective = Constrained(make_objective("latency"), {"power_mw": ("<=", 1000.0)}, penalty=10.0)
    assert objective.metric_names == ("total_time_ns", "power_mw")
    ok = {"total_time_ns": 5e4, "power_mw": 900.0}
    over = {"total_time_ns": 5e4, "power_mw": 1100.0}  # 10% over the bound
    assert objective.reward(ok) == pytest.approx(0.5)
    assert objective.reward(over) == pytest.approx(0.5 - 10.0 * 0.1)
    # A violating design never scores below a failed one.
    assert objective.reward({"total_time_ns": 5e4, "power_mw": 1e9}) == objective.infeasible_reward


def test_hard_constraint_and_lower_bound():
    objective = Constrained(
        make_objective("energy", DRAM_METRICS), {"bandwidth_gbps": (">=", 8.0)}, penalty=math.inf
    )
    assert objective.reward({"energy_pj": 2e8, "bandwidth_gbps": 8.0}) == pytest.approx(-1.0)
    assert objective.reward({"energy_pj": 2e8, "bandwidth_gbps": 7.9}) == objective.infeasible_reward == -1e6


def test_constraint_spec_string_and_nan_constraint_metric():
    objective = make_objective("latency|power_mw<=1200,bandwidth_gbps>=4")
    assert isinstance(objective, Constrained)
    assert objective.constraints == {"power_mw": ("<=", 1200.0), "bandwidth_gbps": (">=", 4.0)}
    nan_metric = {"total_time_ns": 5e4, "power_mw": math.nan, "bandwidth_gbps": 5.0}
    assert objective.reward(nan_metric) == objective.infeasible_reward


@pytest.mark.parametrize(
    "constraints",
    [{"power_mw": ("<", 1.0)}, {"power_mw": ("<=", math.nan)}, {"power_mw": "<=1"}, {}],
)
def test_constraint_validation(constraints):
    with pytest.raises(ConfigurationError):
        Constrained(make_objective("latency"), constraints)


# -- parsing and errors ---------------------------------------------------------------------


def test_list_objectives():
    names = list_objectives()
    assert {"power", "latency", "both", "energy", "time"} <= set(names)
    assert {"archgym-power", "archgym-latency", "archgym-both"} <= set(names)
    for name in names:
        assert make_objective(name, DRAM_METRICS).name == name


def test_preset_keyword_targets():
    objective = make_objective("latency", target_latency_ns=5e4)
    assert objective.targets == {"total_time_ns": 5e4}
    both = make_objective("both", target_power_mw=800, target_latency_ns=6e4)
    assert both.targets == {"power_mw": 800.0, "total_time_ns": 6e4}


def test_spec_strings():
    target = make_objective("target:power_mw=1000,total_time_ns=60000")
    assert isinstance(target, TargetDistance) and not target.exact
    assert target.targets == {"power_mw": 1000.0, "total_time_ns": 60000.0}
    archgym = make_objective("archgym:power_mw=1000")
    assert isinstance(archgym, TargetDistance) and archgym.exact
    weighted = make_objective("weighted:energy_pj=1, total_time_ns=0.5")
    assert isinstance(weighted, WeightedSum)
    assert weighted.weights == {"energy_pj": 1.0, "total_time_ns": 0.5}
    assert make_objective("  Latency ").name == "latency"


def test_unknown_name_lists_presets_and_syntax():
    with pytest.raises(UnknownNameError) as info:
        make_objective("throughput")
    message = str(info.value)
    assert "'throughput'" in message
    for name in list_objectives():
        assert name in message
    assert "target:" in message and "weighted:" in message


@pytest.mark.parametrize(
    ("spec", "kwargs", "fragment"),
    [
        ("latency", {"target_power_mw": 1.0}, "target_latency_ns"),
        ("energy", {"target_power_mw": 1.0}, "no keyword targets"),
        ("target:power_mw=1000", {"target_power_mw": 1.0}, "presets"),
        ("target:power_mw", {}, "power_mw"),
        ("target:power_mw=abc", {}, "'abc'"),
        ("target:power_mw=-5", {}, "positive"),
        ("target:", {}, "names no metrics"),
        ("target:power_mw:best=1", {}, "power_mw:best=1"),
        ("weighted:energy_pj=1,energy_pj=2", {}, "twice"),
        ("latency|power_mw<1200", {}, "power_mw<1200"),
        ("latency|", {}, "no constraints"),
        ("latency", {"target_latency_ns": "fast"}, "target_latency_ns"),
    ],
)
def test_malformed_specs(spec, kwargs, fragment):
    with pytest.raises(ConfigurationError) as info:
        make_objective(spec, **kwargs)
    assert fragment in str(info.value)


def test_metrics_not_reported_by_the_model():
    with pytest.raises(ConfigurationError, match="does not report.*energy_pj"):
        make_objective("target:area_mm2=3", DRAM_METRICS)


def test_missing_metric_in_feasible_evaluation():
    objective = make_objective("latency")
    with pytest.raises(ConfigurationError, match="total_time_ns"):
        objective.reward({"power_mw": 1.0})
    assert objective.reward({}, feasible=False) == objective.infeasible_reward
    assert objective(Evaluation.failure("timeout")) == objective.infeasible_reward


def test_non_objective_spec_type():
    with pytest.raises(ConfigurationError):
        make_objective(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="only apply"):
        make_objective(make_objective("latency"), target_latency_ns=1.0)


# -- evaluations, batches, round trips -------------------------------------------------------


def test_call_and_batch_on_evaluations():
    objective = make_objective("both")
    evaluations = [
        Evaluation({"power_mw": 1500.0, "total_time_ns": 5e4}),
        Evaluation.failure("infeasible", ("power_mw", "total_time_ns")),
        Evaluation({"power_mw": 500.0, "total_time_ns": 2e5}),
    ]
    batch = BatchEvaluation.from_evaluations(evaluations, ("power_mw", "total_time_ns"))
    rewards = objective.batch(batch)
    assert rewards.dtype == np.float64
    assert list(rewards) == [objective(e) for e in evaluations]
    assert rewards[1] == objective.infeasible_reward


def test_reward_batch_shape_errors_and_all_infeasible():
    objective = make_objective("both")
    with pytest.raises(ConfigurationError, match="one shape"):
        objective.reward_batch({"power_mw": np.ones(3), "total_time_ns": np.ones(2)})
    out = objective.reward_batch({}, feasible=np.zeros(4, dtype=bool))
    assert out.tolist() == [objective.infeasible_reward] * 4


EXAMPLE_SPECS = [
    "latency",
    "power",
    "both",
    "archgym-both",
    "archgym-latency",
    "energy",
    "time",
    "weighted:energy_pj=1,total_time_ns=0.5,bandwidth_gbps=0.25",
    "target:power_mw=1000,bandwidth_gbps=4",
    "latency|power_mw<=1200,bandwidth_gbps>=4",
    "archgym:total_time_ns=6e4|energy_pj<=3e8",
]


@pytest.mark.parametrize("spec", EXAMPLE_SPECS)
def test_to_dict_round_trip(spec):
    objective = make_objective(spec, DRAM_METRICS)
    data = objective.to_dict()
    assert json.loads(json.dumps(data)) == data
    rebuilt = make_objective(data, DRAM_METRICS)
    assert rebuilt.to_dict() == data
    assert type(rebuilt) is type(objective)
    assert objective.describe().startswith(objective.name)
    metrics = {"energy_pj": 1.5e8, "power_mw": 1300.0, "total_time_ns": 7e4, "bandwidth_gbps": 3.0}
    assert rebuilt.reward(metrics) == objective.reward(metrics)


def test_mapping_with_preset_type():
    objective = make_objective({"type": "latency", "target_latency_ns": 4e4})
    assert objective.targets == {"total_time_ns": 4e4}
    with pytest.raises(UnknownNameError):
        make_objective({"type": "pareto"})
    with pytest.raises(ConfigurationError, match="type"):
        make_objective({"targets": {"power_mw": 1.0}})
    with pytest.raises(ConfigurationError, match="invalid arguments"):
        make_objective({"type": "target", "targets": {"power_mw": 1.0}, "colour": "red"})


# -- reward_batch equals reward elementwise ----------------------------------------------------

_metric_value = st.one_of(
    st.floats(min_value=0.0, max_value=1e12, allow_nan=False),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1000.0, 1e5, 10.0, 4.0]),
)


@settings(max_examples=200, deadline=None)
@given(
    spec=st.sampled_from(EXAMPLE_SPECS),
    rows=st.lists(
        st.tuples(_metric_value, _metric_value, _metric_value, _metric_value, st.booleans()),
        min_size=1,
        max_size=20,
    ),
)
def test_reward_batch_equals_reward(spec, rows):
    objective: Objective = make_objective(spec, DRAM_METRICS)
    names = ("energy_pj", "power_mw", "total_time_ns", "bandwidth_gbps")
    columns = {name: np.array([row[i] for row in rows]) for i, name in enumerate(names)}
    feasible = np.array([row[4] for row in rows])
    batch = objective.reward_batch(columns, feasible)
    single = [objective.reward(dict(zip(names, row[:4], strict=True)), row[4]) for row in rows]
    assert batch.shape == (len(rows),)
    assert np.all(np.isfinite(batch))
    np.testing.assert_array_equal(batch, np.array(single))
    assert np.all(batch[~feasible] == objective.infeasible_reward)


def test_problem_presets_take_precedence_and_keep_their_name() -> None:
    metrics = (MetricSpec("latency_cycles", "cycles", "min", scale=1e6), MetricSpec("energy_pj", "pJ", "min"))
    presets = {"latency": "weighted:latency_cycles=1", "edp": "weighted:latency_cycles=1,energy_pj=1"}
    objective = make_objective("latency", metrics=metrics, presets=presets)
    assert objective.name == "latency"
    assert objective.reward({"latency_cycles": 2e6, "energy_pj": 1.0}) < objective.reward(
        {"latency_cycles": 1e6, "energy_pj": 1.0})
    assert make_objective("edp", metrics=metrics, presets=presets).metric_names == ("latency_cycles", "energy_pj")
    with pytest.raises(ConfigurationError, match="takes no keyword targets"):
        make_objective("latency", metrics=metrics, presets=presets, target_latency_ns=5.0)


# -- what the DRAM presets score, in words --------------------------------------------------------


def test_latency_says_it_scores_the_runs_total_time_and_avg_latency_scores_the_mean():
    latency = make_objective("latency", problem="dram")
    assert latency.metric_names == ("total_time_ns",)  # ArchGym's meaning, kept for logged runs
    assert latency.describe().startswith("latency: minimise total_time_ns (the run's total time)")
    assert make_objective("time", problem="dram").describe().startswith(
        "time: minimise total_time_ns (the run's total time)")
    mean = make_objective("avg-latency", problem="dram")
    assert mean.metric_names == ("avg_latency_ns",)
    assert mean.reward({"avg_latency_ns": 2e3}) > mean.reward({"avg_latency_ns": 3e3})


def test_a_logged_objective_spec_rebuilds_with_its_description():
    logged = json.loads(json.dumps(make_objective("latency", problem="dram").to_dict()))
    rebuilt = make_objective(logged, problem="dram")
    assert rebuilt.describe() == make_objective("latency", problem="dram").describe()
    # Specs logged before objectives carried a summary still load and score the same.
    del logged["summary"]
    older = make_objective(logged, problem="dram")
    assert older.reward({"total_time_ns": 5e4}) == rebuilt.reward({"total_time_ns": 5e4}) == 0.5
