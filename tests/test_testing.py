"""archgym.testing: correct plug-ins pass, and each broken rule fails the right check with a helpful message."""

from __future__ import annotations

import itertools
import math
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from archgym.agent import Agent, Trial
from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec
from archgym.errors import UnknownNameError
from archgym.space import Design, DesignSpace, Parameter, ParameterKind
from archgym.testing import SMALL_DESIGN_SPACE, ConformanceError, check_agent, check_cost_model

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing-plugins.md"

SPACE = DesignSpace(
    [
        Parameter("size", (1, 2, 4, 8), ParameterKind.ORDINAL),
        Parameter("mode", ("a", "b"), ParameterKind.CATEGORICAL),
    ],
    name="toy",
)


# -- cost models ---------------------------------------------------------------------------------


class GoodModel(CostModel):
    """Correct: two metrics, two workloads, infeasible when size is 8 and mode is b."""

    name = "toy/good"
    design_space = SPACE
    metrics = (MetricSpec("latency_ns", "ns", "min", 10.0), MetricSpec("area_mm2", "mm2", "min", 1.0))
    default_workload = "small"
    SCALE: ClassVar[Mapping[str, float]] = {"small": 1.0, "large": 3.0}

    def workloads(self) -> tuple[str, ...]:
        return tuple(self.SCALE)

    def prepare(self, workload: Any = None) -> None:
        self._scale(workload)

    def _scale(self, workload: Any) -> float:
        name = self.default_workload if workload is None else workload
        if name not in self.SCALE:
            raise UnknownNameError(f"unknown workload {name!r}")
        return self.SCALE[name]

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        design = self.design_space.validate(design)
        scale = self._scale(workload)
        if design["size"] == 8 and design["mode"] == "b":
            return Evaluation.failure("size 8 does not fit mode b", self.metric_names)
        return Evaluation({"latency_ns": scale * 10.0 / design["size"], "area_mm2": 0.5 * design["size"]})


class DuplicateMetric(GoodModel):
    metrics = (MetricSpec("latency_ns", "ns"), MetricSpec("latency_ns", "ns"))


class BadGoal(GoodModel):
    metrics = (MetricSpec("latency_ns", "ns", "minimise", 10.0), MetricSpec("area_mm2", "mm2", "min", 1.0))  # type: ignore[arg-type]


class ZeroScale(GoodModel):
    metrics = (MetricSpec("latency_ns", "ns", "min", 0.0), MetricSpec("area_mm2", "mm2", "min", 1.0))


class MissingMetric(GoodModel):
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = super().evaluate(design, workload)
        return Evaluation({"latency_ns": evaluation.metrics["latency_ns"]}, evaluation.feasible, evaluation.reason)


class EmptyInfeasible(GoodModel):
    """Infeasible designs report no metrics at all."""

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = super().evaluate(design, workload)
        return evaluation if evaluation.feasible else Evaluation({}, False, evaluation.reason)


class FeasibleNaN(GoodModel):
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = super().evaluate(design, workload)
        return evaluation if evaluation.feasible else Evaluation(dict(evaluation.metrics))


class InfeasibleWithNumbers(GoodModel):
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = super().evaluate(design, workload)
        if evaluation.feasible:
            return evaluation
        return Evaluation({"latency_ns": 1.0, "area_mm2": 4.0}, False, evaluation.reason)


class NoReason(GoodModel):
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = super().evaluate(design, workload)
        return evaluation if evaluation.feasible else Evaluation.failure("", self.metric_names)


class MutatesDesign(GoodModel):
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = super().evaluate(design, workload)
        design["size"] = 1  # type: ignore[index]
        return evaluation


class Noisy(GoodModel):
    """Different results on every call."""

    def __init__(self) -> None:
        self.calls = itertools.count()

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        evaluation = super().evaluate(design, workload)
        if not evaluation.feasible:
            return evaluation
        noise = 1.0 + 0.01 * next(self.calls)
        return Evaluation({k: v * noise for k, v in evaluation.metrics.items()})


class IgnoresDefaultWorkload(GoodModel):
    """workload=None means "large" in evaluate, although default_workload is "small"."""

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        return super().evaluate(design, "large" if workload is None else workload)


class BatchDisagrees(GoodModel):
    def evaluate_batch(self, designs: Any, workload: Any = None) -> BatchEvaluation:
        batch = super().evaluate_batch(designs, workload)
        batch.metrics["area_mm2"] = batch.metrics["area_mm2"] * 1.01
        return batch


class BatchMisreadsIndices(GoodModel):
    """Reads an index array's entries as knob values instead of value indices."""

    def evaluate_batch(self, designs: Any, workload: Any = None) -> BatchEvaluation:
        if isinstance(designs, np.ndarray):
            designs = [{"size": [1, 2, 4, 8][min(int(row[0]) + 1, 3)], "mode": "ab"[int(row[1])]} for row in designs]
        return super().evaluate_batch(designs, workload)


class NoValidation(GoodModel):
    """Never validates: an unknown knob or a bad value passes (a missing one still fails)."""

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        size = design.get("size", 1)
        size = size if isinstance(size, (int, float)) else 1
        return Evaluation({"latency_ns": 10.0 / size, "area_mm2": 0.5 * size})


class WrongErrorType(GoodModel):
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        missing = [name for name in self.design_space.names if name not in design]
        if missing:
            raise KeyError(missing[0])  # rather than InvalidDesignError
        return super().evaluate(design, workload)


class RejectsDefaultWorkload(GoodModel):
    def prepare(self, workload: Any = None) -> None:
        if workload is None:
            raise ValueError("prepare needs a workload")


class CloseOnce(GoodModel):
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        if self.closed:
            raise RuntimeError("already closed")
        self.closed = True


def test_a_correct_cost_model_passes_every_check() -> None:
    report = check_cost_model(GoodModel())
    assert report.passed == [
        "metric specs",
        "workloads and prepare",
        "evaluate",
        "infeasible designs give NaN metrics and a reason",
        "deterministic",
        "no workload means the default workload",
        "evaluate_batch matches evaluate (design dicts)",
        "evaluate_batch matches evaluate (index array)",
        "designs outside the space raise InvalidDesignError",
        "close twice",
    ]
    assert report.not_applicable == {}
    assert check_cost_model(GoodModel(), "large", n_designs=1).not_applicable == {
        "infeasible designs give NaN metrics and a reason": "no probe design was infeasible (1 tried)",
        "no workload means the default workload": "a workload was given",
    }


@pytest.mark.parametrize(
    ("model", "check", "message"),
    [
        (DuplicateMetric, "metric specs", "'latency_ns' appear more than once"),
        (BadGoal, "metric specs", "goal 'minimise'; expected 'min' or 'max'"),
        (ZeroScale, "metric specs", "scale 0.0; expected a positive finite"),
        (MissingMetric, "evaluate", "expected exactly the model's metric names ['latency_ns', 'area_mm2'] (missing"),
        (EmptyInfeasible, "evaluate", "metrics have keys []"),
        (FeasibleNaN, "evaluate", "feasible but metric(s) {'latency_ns': nan, 'area_mm2': nan} are not finite"),
        (InfeasibleWithNumbers, "evaluate", "infeasible but metric(s) {'latency_ns': 1.0, 'area_mm2': 4.0} are not NaN"),
        (NoReason, "evaluate", "infeasible with reason ''; expected a message saying why"),
        (MutatesDesign, "evaluate", "evaluate() changed the design it was given"),
        (Noisy, "deterministic", "evaluating it twice gave different results: metric 'latency_ns' is"),
        (IgnoresDefaultWorkload, "no workload means the default workload", "default_workload='small'"),
        (BatchDisagrees, "evaluate_batch matches evaluate (design dicts)",
         "metric 'area_mm2' is 0.5 from evaluate() and 0.505 from evaluate_batch(); expected equal within rtol=1e-06"),
        (BatchMisreadsIndices, "evaluate_batch matches evaluate (index array)", "from evaluate_batch()"),
        (NoValidation, "designs outside the space raise InvalidDesignError",
         "evaluate() of a design with an unknown knob returned Evaluation instead of raising archgym.errors.Invalid"),
        (WrongErrorType, "designs outside the space raise InvalidDesignError",
         "raised KeyError: 'size'; expected archgym.errors.InvalidDesignError"),
        (RejectsDefaultWorkload, "workloads and prepare",
         "prepare() (the default workload) raised ValueError: prepare needs a workload"),
        (CloseOnce, "close twice", "close() twice raised RuntimeError: already closed"),
    ],
)
def test_a_broken_cost_model_fails_the_right_check(model: type[CostModel], check: str, message: str) -> None:
    with pytest.raises(AssertionError) as raised:
        check_cost_model(model())
    error = raised.value
    assert isinstance(error, ConformanceError)
    assert error.check == check, str(error)
    assert f"cost model 'toy/good' fails check {check!r}" in str(error)
    assert message in str(error)


def test_a_failure_names_the_design() -> None:
    with pytest.raises(ConformanceError) as raised:
        check_cost_model(InfeasibleWithNumbers())
    assert raised.value.design == {"size": 8, "mode": "b"}  # the high corner of the space
    assert "on design {'size': 8, 'mode': 'b'}" in str(raised.value)


def test_a_registered_backend_is_checked_by_name() -> None:
    report = check_cost_model("soc/analytical", n_designs=3)
    assert report.passed[0] == "registered name"


# -- agents --------------------------------------------------------------------------------------


class GoodAgent(Agent):
    """Correct: random designs from self.rng."""

    def suggest(self, n: int = 1) -> list[Design]:
        return [self.design_space.sample(self.rng) for _ in range(n)]


class OutOfSpace(GoodAgent):
    def suggest(self, n: int = 1) -> list[Design]:
        return [{**design, self.design_space.names[0]: "nowhere"} for design in super().suggest(n)]


class OneShort(GoodAgent):
    def suggest(self, n: int = 1) -> list[Design]:
        return super().suggest(n)[: max(n - 1, 1)]


class GlobalRandom(GoodAgent):
    """Draws from NumPy's global generator rather than self.rng."""

    def suggest(self, n: int = 1) -> list[Design]:
        return [self.design_space.sample(np.random.randint(2**31)) for _ in range(n)]


class ForgetsSuper(GoodAgent):
    def update(self, trials: Sequence[Trial]) -> None:
        self.seen = len(trials)


class RejectsNaN(GoodAgent):
    def update(self, trials: Sequence[Trial]) -> None:
        super().update(trials)
        for trial in trials:
            if math.isnan(trial.reward):
                raise ValueError("reward is NaN")


def test_a_correct_agent_passes_every_check() -> None:
    report = check_agent(GoodAgent, budget=8)
    assert report.passed == [
        "suggest(n) returns n valid designs",
        "best is the best trial told",
        "update accepts infeasible trials with NaN rewards",
        "a search of 8 evaluations ends",
        "same seed, same suggestions",
    ]
    check_agent(GoodAgent, SPACE, seed=3, budget=4, batch_sizes=(3,))


@pytest.mark.parametrize(
    ("agent", "check", "message"),
    [
        (OutOfSpace, "suggest(n) returns n valid designs",
         "suggest(1) returned a design outside the space: knob 'scheduler': value 'nowhere' is not allowed"),
        (OneShort, "suggest(n) returns n valid designs", "suggest(2) returned 1 designs; expected exactly 2"),
        (GlobalRandom, "same seed, same suggestions", "Draw randomness only from self.rng"),
        (ForgetsSuper, "best is the best trial told", "must call super().update(trials)"),
        (RejectsNaN, "update accepts infeasible trials with NaN rewards", "raised ValueError: reward is NaN"),
    ],
)
def test_a_broken_agent_fails_the_right_check(agent: type[Agent], check: str, message: str) -> None:
    with pytest.raises(AssertionError) as raised:
        check_agent(agent, budget=8)
    error = raised.value
    assert isinstance(error, ConformanceError)
    assert error.check == check, str(error)
    assert f"agent {agent.__name__!r} fails check {check!r}" in str(error)
    assert message in str(error)


def test_check_agent_keeps_the_global_random_state() -> None:
    np.random.seed(5)
    expected = np.random.random()
    np.random.seed(5)
    check_agent(GoodAgent, budget=4)
    assert np.random.random() == expected


def test_a_registered_agent_is_checked_by_name() -> None:
    check_agent("random", SMALL_DESIGN_SPACE, budget=4)


# -- the kit itself ------------------------------------------------------------------------------


def test_the_kit_imports_without_pytest() -> None:
    code = "import sys; sys.modules['pytest'] = None; import archgym.testing"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_documented_example_passes() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert len(blocks) == 2  # the plug-ins, then their tests
    namespace: dict[str, Any] = {"__name__": "plugin_example"}
    exec(compile("\n".join(blocks), str(DOC), "exec"), namespace)  # noqa: S102 - the documentation's own code
    tests = [value for name, value in namespace.items() if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        test()
