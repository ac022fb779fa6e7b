"""Tests of archgym.cost_model: evaluations, batches, the CostModel base class and the backend registry."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest

import archgym.cost_model as cm
from archgym.cost_model import (
    BackendInfo,
    BatchEvaluation,
    CostModel,
    Evaluation,
    MetricSpec,
    backend_info,
    list_backends,
    make_backend,
    register_backend,
)
from archgym.errors import BackendUnavailableError, InvalidDesignError, UnknownNameError
from archgym.space import DesignSpace, Parameter, ParameterKind

TOY_SPACE = DesignSpace(
    [
        Parameter("a", (1, 2, 4, 8), ParameterKind.ORDINAL),
        Parameter("b", (0, 3), ParameterKind.INTEGER),
        Parameter("mode", ("fast", "slow"), ParameterKind.CATEGORICAL),
    ],
    name="toy",
)


class ToySum(CostModel):
    """Sums the knobs; designs with mode "slow" and a == 8 are infeasible."""

    name = "toy/sum"
    design_space = TOY_SPACE
    metrics = (
        MetricSpec("total", "units", "min", 10.0, "a + b"),
        MetricSpec("speed", "ops/s", "max", 1.0),
    )

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self.calls = 0

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        self.calls += 1
        d = self.design_space.validate(design)
        if d["mode"] == "slow" and d["a"] == 8:
            return Evaluation.failure("too slow", self.metric_names)
        scale = 1.0 if workload is None else float(workload)
        total = (d["a"] + d["b"] + self.offset) * scale
        return Evaluation({"total": total, "speed": 1.0 / (1.0 + total)})


@pytest.fixture
def toy_backends() -> Iterator[list[str]]:
    """Registers test-only backends and removes them afterwards."""
    added: list[str] = []

    def register(name: str, *args: Any, **kwargs: Any) -> None:
        register_backend(name, *args, **kwargs)
        added.append(name)

    register("toy/sum", ToySum, "sums the knobs")
    register("toy/broken", ToySum, "never available", availability=lambda: "needs the toy simulator; install it")
    register("toy/fine", ToySum, "available", availability=lambda: None)
    yield added
    for name in added:
        cm._BACKENDS.pop(name, None)


# -- registry --------------------------------------------------------------------------


def test_bundled_dram_backend_is_listed() -> None:
    names = [b.name for b in list_backends()]
    assert "dram/analytical" in names
    dram = [b.name for b in list_backends("dram")]
    assert "dram/analytical" in dram
    assert all(n.startswith("dram/") for n in dram)
    info = backend_info("analytical", problem="dram")
    assert info.name == "dram/analytical"
    assert info.env == "dram"
    assert info.short_name == "analytical"
    assert info.unavailable_reason() is None


def test_make_backend_by_full_and_short_name(toy_backends: list[str]) -> None:
    full = make_backend("toy/sum")
    short = make_backend("sum", problem="toy")
    both = make_backend("toy/sum", problem="toy")
    for model in (full, short, both):
        assert isinstance(model, ToySum)
        assert model.offset == 0.0
    assert make_backend("sum", problem="toy", offset=2.5).offset == 2.5


def test_list_backends_filters_by_env(toy_backends: list[str]) -> None:
    toy = list_backends("toy")
    assert {b.name for b in toy} == {"toy/sum", "toy/broken", "toy/fine"}
    assert all(isinstance(b, BackendInfo) and b.env == "toy" for b in toy)
    assert "toy/sum" not in {b.name for b in list_backends("dram")}
    everything = {b.name for b in list_backends()}
    assert {"toy/sum", "dram/analytical"} <= everything
    assert list_backends("no-such-env") == []
    assert backend_info("toy/sum").description == "sums the knobs"


def test_unknown_backend_lists_registered(toy_backends: list[str]) -> None:
    with pytest.raises(UnknownNameError) as err:
        make_backend("toy/product")
    message = str(err.value)
    assert "'toy/product'" in message
    assert "toy/sum" in message and "dram/analytical" in message
    # printed plainly, not quoted like a KeyError
    assert not message.startswith('"')

    with pytest.raises(UnknownNameError) as err:
        make_backend("product", problem="toy")
    message = str(err.value)
    assert "toy/sum" in message and "toy/fine" in message
    assert "dram/analytical" not in message

    with pytest.raises(KeyError):  # UnknownNameError is also a KeyError
        make_backend("sum")  # a short name needs its env


def test_unknown_backend_with_empty_env() -> None:
    with pytest.raises(UnknownNameError, match="registered backends are none"):
        make_backend("x", problem="no-such-env")


def test_unavailable_backend_reports_reason(toy_backends: list[str]) -> None:
    with pytest.raises(BackendUnavailableError) as err:
        make_backend("toy/broken")
    assert "toy/broken" in str(err.value)
    assert "needs the toy simulator; install it" in str(err.value)
    assert backend_info("broken", problem="toy").unavailable_reason() == "needs the toy simulator; install it"
    assert isinstance(make_backend("toy/fine"), ToySum)


@pytest.mark.parametrize("name", ["noslash", "a/b/c", "", "/sum", "toy/"])
def test_register_backend_rejects_bad_names(name: str) -> None:
    before = dict(cm._BACKENDS)
    with pytest.raises(ValueError, match="problem/backend"):
        register_backend(name, ToySum)
    assert cm._BACKENDS == before


def test_re_registering_replaces(toy_backends: list[str]) -> None:
    register_backend("toy/sum", lambda **kw: ToySum(offset=7.0), "replaced")
    assert backend_info("toy/sum").description == "replaced"
    assert make_backend("toy/sum").offset == 7.0
    assert sum(b.name == "toy/sum" for b in list_backends("toy")) == 1


def test_fixture_cleans_up() -> None:
    assert not any(b.env == "toy" for b in list_backends())


# -- CostModel base class -----------------------------------------------------------------


def test_metric_lookup() -> None:
    model = ToySum()
    assert model.metric_names == ("total", "speed")
    assert model.metric("speed").goal == "max"
    assert model.metric("total").unit == "units"
    with pytest.raises(UnknownNameError) as err:
        model.metric("latency")
    assert "'latency'" in str(err.value)
    assert "total, speed" in str(err.value)
    assert "toy/sum" in str(err.value)


def test_base_defaults() -> None:
    model = ToySum()
    assert model.workloads() == ()
    assert model.prepare() is None
    model.close()
    model.close()


def test_cost_model_is_abstract() -> None:
    with pytest.raises(TypeError):
        CostModel()  # type: ignore[abstract]


def test_evaluate_batch_of_design_dicts_matches_evaluate() -> None:
    model = ToySum()
    designs = [TOY_SPACE.decode(row) for row in TOY_SPACE.all_indices()]
    batch = model.evaluate_batch(designs, workload=2)
    assert isinstance(batch, BatchEvaluation)
    assert len(batch) == len(designs) == TOY_SPACE.size
    assert set(batch.metrics) == {"total", "speed"}
    assert batch.wall_time_s >= 0.0
    for design, item in zip(designs, batch):
        single = model.evaluate(design, workload=2)
        assert item.feasible == single.feasible
        assert item.reason == single.reason
        for m in model.metric_names:
            np.testing.assert_equal(item.metrics[m], single.metrics[m])
    assert (~batch.feasible).sum() == 4  # a == 8, mode == "slow", any b
    assert all(math.isnan(v) for v in batch.metrics["total"][~batch.feasible])


def test_evaluate_batch_of_index_array() -> None:
    model = ToySum()
    indices = TOY_SPACE.sample_indices(25, rng=1)
    batch = model.evaluate_batch(indices)
    assert len(batch) == 25
    designs = [TOY_SPACE.decode(row) for row in indices]
    expected = BatchEvaluation.from_evaluations([model.evaluate(d) for d in designs], model.metric_names)
    np.testing.assert_array_equal(batch.feasible, expected.feasible)
    for m in model.metric_names:
        np.testing.assert_array_equal(batch.metrics[m], expected.metrics[m])
    assert batch.reasons == expected.reasons
    # whole-number float indices are accepted too
    floats = model.evaluate_batch(indices.astype(np.float64))
    np.testing.assert_array_equal(floats.metrics["total"], batch.metrics["total"])


def test_evaluate_batch_validates_index_arrays() -> None:
    model = ToySum()
    bad = np.zeros((3, 3))
    bad[1, 2] = np.nan
    with pytest.raises(InvalidDesignError, match="NaN"):
        model.evaluate_batch(bad)
    with pytest.raises(InvalidDesignError, match="'a'.*row 2"):
        model.evaluate_batch(np.array([[0, 0, 0], [3, 3, 1], [4, 0, 0]]))
    with pytest.raises(InvalidDesignError, match=r"\(n, 3\)"):
        model.evaluate_batch(np.zeros((2, 4), dtype=np.int64))
    assert model.calls == 0  # nothing evaluated before validation


def test_evaluate_batch_invalid_design_dict() -> None:
    with pytest.raises(InvalidDesignError, match="'a'"):
        ToySum().evaluate_batch([{"a": 3, "b": 0, "mode": "fast"}])


def test_evaluate_batch_empty() -> None:
    model = ToySum()
    for empty in ([], np.zeros((0, 3), dtype=np.int64)):
        batch = model.evaluate_batch(empty)
        assert len(batch) == 0
        assert list(batch) == []
        assert batch.metrics["total"].shape == (0,)


# -- Evaluation and BatchEvaluation --------------------------------------------------------


def test_evaluation_failure() -> None:
    failed = Evaluation.failure("backend crashed", ["x", "y"], wall_time_s=1.5)
    assert failed.feasible is False
    assert failed.reason == "backend crashed"
    assert failed.wall_time_s == 1.5
    assert set(failed.metrics) == {"x", "y"}
    assert all(math.isnan(v) for v in failed.metrics.values())
    bare = Evaluation.failure("no metrics")
    assert dict(bare.metrics) == {} and not bare.feasible


def test_evaluation_defaults() -> None:
    ok = Evaluation({"x": 1.0})
    assert ok.feasible is True
    assert ok.reason == ""
    assert ok.wall_time_s == 0.0


def test_batch_from_evaluations_indexing_and_iteration() -> None:
    evaluations = [
        Evaluation({"x": 1.0, "y": 2.0}, wall_time_s=1.0),
        Evaluation.failure("infeasible", ["x", "y"], wall_time_s=2.0),
        Evaluation({"x": 3.0}, wall_time_s=3.0),  # "y" missing becomes NaN
    ]
    batch = BatchEvaluation.from_evaluations(evaluations, ["x", "y"])
    assert len(batch) == 3
    assert batch.wall_time_s == 6.0
    np.testing.assert_array_equal(batch.feasible, [True, False, True])
    assert batch.feasible.dtype == bool
    assert batch.metrics["x"].dtype == np.float64
    np.testing.assert_array_equal(batch.metrics["x"], [1.0, np.nan, 3.0])
    np.testing.assert_array_equal(batch.metrics["y"], [2.0, np.nan, np.nan])
    assert batch.reasons == ["", "infeasible", ""]

    first = batch[0]
    assert isinstance(first, Evaluation)
    assert first == Evaluation({"x": 1.0, "y": 2.0}, True, "", 2.0)  # wall time split evenly
    assert batch[1].reason == "infeasible" and not batch[1].feasible
    assert batch[-1].metrics["x"] == 3.0
    assert batch[np.int64(2)].metrics["x"] == 3.0
    items = list(batch)
    assert len(items) == 3
    assert [e.feasible for e in items] == [True, False, True]
    assert all(type(v) is float for e in items for v in e.metrics.values())
    with pytest.raises(IndexError):
        batch[3]
    with pytest.raises(TypeError, match="integer indexing"):
        batch[0:2]


def test_batch_without_reasons() -> None:
    batch = BatchEvaluation({"x": np.array([1.0, 2.0])}, np.array([True, False]))
    assert batch[1].reason == ""
    assert batch[1].feasible is False
    assert batch[0].wall_time_s == 0.0


def test_batch_round_trips_evaluations() -> None:
    evaluations = [Evaluation({"x": float(i)}, i % 2 == 0, "" if i % 2 == 0 else f"r{i}") for i in range(5)]
    batch = BatchEvaluation.from_evaluations(evaluations, ["x"])
    assert list(batch) == evaluations
    assert BatchEvaluation.from_evaluations(list(batch), ["x"]).reasons == batch.reasons


def test_metric_spec_defaults() -> None:
    spec = MetricSpec("energy_pj", "pJ")
    assert spec.goal == "min"
    assert spec.scale == 1.0
    assert spec.description == ""


def test_unknown_backend_options_are_refused_naming_the_options() -> None:
    import gymnasium as gym

    import archgym  # noqa: F401  (registers the environments)
    from archgym.cost_model import backend_info, backend_options, make_backend
    from archgym.errors import ConfigurationError

    assert "memspec" in backend_options(backend_info("dram/analytical"))
    with pytest.raises(ConfigurationError, match=r"dram/analytical has no option 'foo'; its options are memspec"):
        make_backend("dram/analytical", foo=1)
    with pytest.raises(ConfigurationError, match="has no option"):
        gym.make("archgym/DRAM-v0", foo=1)
