"""CostModelWrapper: forwarding, stacking, unwrapping, and LoggedCostModel built on it."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from archgym.cost_model import CostModel, Evaluation, MetricSpec, make_backend
from archgym.dataset import EvaluationLogger, LoggedCostModel, RunContext
from archgym.space import DesignSpace, Parameter, ParameterKind
from archgym.wrappers import CostModelWrapper

SPACE = DesignSpace([Parameter("a", (1, 2, 4), ParameterKind.ORDINAL)], name="tiny")


class Tiny(CostModel):
    name = "tiny/model"
    design_space = SPACE
    metrics = (MetricSpec("cost", "units"), MetricSpec("speed", "ops/s", "max"))
    default_workload = "w"
    pareto_metrics = ("cost", "speed")
    objective_presets: ClassVar[Mapping[str, str]] = {"cheap": "weighted:cost=1"}

    def __init__(self) -> None:
        self.knob = 7
        self.prepared: list[Any] = []
        self.closed = 0

    def workloads(self) -> tuple[str, ...]:
        return ("w", "v")

    def prepare(self, workload: Any = None) -> None:
        self.prepared.append(workload)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        return Evaluation({"cost": float(design["a"]), "speed": 1.0 / design["a"]})

    def describe(self) -> str:
        return "a tiny model"

    def default_design(self) -> dict[str, Any]:
        return {"a": 2}

    def close(self) -> None:
        self.closed += 1


class Bare(CostModel):
    """Has neither describe nor default_design of its own."""

    name = "tiny/bare"
    design_space = SPACE
    metrics = (MetricSpec("cost", "units"),)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        return Evaluation({"cost": 1.0})


class Doubling(CostModelWrapper):
    """Doubles the cost."""

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = self.model.evaluate(design, workload)
        return Evaluation({**evaluation.metrics, "cost": 2 * evaluation.metrics["cost"]})


def test_wrapper_forwards_the_cost_model_attributes():
    inner = Tiny()
    wrapper = CostModelWrapper(inner)
    assert wrapper.name == "tiny/model"
    assert wrapper.design_space is SPACE
    assert wrapper.metrics == inner.metrics and wrapper.metric_names == ("cost", "speed")
    assert wrapper.metric("speed").goal == "max"
    assert wrapper.default_workload == "w"
    assert wrapper.pareto_metrics == ("cost", "speed")
    assert wrapper.objective_presets == {"cheap": "weighted:cost=1"}
    assert wrapper.workloads() == ("w", "v")
    assert wrapper.describe() == "a tiny model"
    assert wrapper.default_design() == {"a": 2}
    wrapper.prepare("v")
    assert inner.prepared == ["v"]
    assert wrapper.evaluate({"a": 4}).metrics["cost"] == 4.0
    assert wrapper.evaluate_batch([{"a": 1}, {"a": 2}]).metrics["cost"].tolist() == [1.0, 2.0]
    wrapper.close()
    assert inner.closed == 1


def test_other_public_attributes_are_the_wrapped_models():
    inner = Tiny()
    wrapper = CostModelWrapper(inner)
    assert wrapper.knob == 7
    inner.knob = 8
    assert wrapper.knob == 8
    with pytest.raises(AttributeError, match="nothing"):
        wrapper.nothing  # noqa: B018
    with pytest.raises(AttributeError, match="_private"):
        wrapper._private  # noqa: B018


def test_absent_optional_methods_stay_absent():
    wrapper = CostModelWrapper(Bare())
    if not hasattr(Bare(), "default_design"):
        assert not hasattr(wrapper, "default_design")
        assert getattr(wrapper, "default_design", dict)() == {}
    if not hasattr(Bare(), "describe"):
        assert not hasattr(wrapper, "describe")


def test_wrappers_stack_and_unwrap():
    inner = Tiny()
    doubled = Doubling(inner)
    outer = CostModelWrapper(doubled)
    assert outer.model is doubled and doubled.model is inner
    assert outer.unwrapped is inner and doubled.unwrapped is inner
    assert outer.evaluate({"a": 4}).metrics["cost"] == 8.0
    assert outer.evaluate_batch([{"a": 1}, {"a": 2}]).metrics["cost"].tolist() == [2.0, 4.0]
    assert outer.knob == 7
    assert repr(outer).startswith("CostModelWrapper(Doubling(")


def test_wrapper_pickles():
    copy = pickle.loads(pickle.dumps(Doubling(Tiny())))
    assert copy.evaluate({"a": 2}).metrics["cost"] == 4.0 and copy.knob == 7


def test_logged_model_is_a_wrapper_that_logs(tmp_path):
    model = make_backend("dram/analytical")
    context = RunContext("wrapped", env="dram", backend=model.name, workload="stream", agent="test", seed=0)
    logger = EvaluationLogger(tmp_path, context, model.design_space, model.metric_names)
    logged = LoggedCostModel(model, logger)
    try:
        assert isinstance(logged, CostModelWrapper)
        assert logged.model is model and logged.unwrapped is model
        assert logged.memspec is model.memspec  # not a CostModel attribute: forwarded
        assert logged.default_design() == model.default_design()
        logged.evaluate(model.default_design(), "stream")
        assert logged.last_steps == [0]
    finally:
        logged.close()
