"""Evaluating one design given in part (archgym.evaluate)."""

from __future__ import annotations

import pytest

from archgym.cost_model import make_backend
from archgym.errors import ArchGymError
from archgym.evaluate import evaluate_design
from archgym.simulators.dram.knobs import DEFAULT_DRAM_DESIGN


def test_left_out_knobs_take_their_defaults_and_the_objective_scores_the_result():
    model = make_backend("dram/analytical")
    score = evaluate_design(model, {"PagePolicy": "Closed"}, "stream", objective="energy")
    assert score.design == {**DEFAULT_DRAM_DESIGN, "PagePolicy": "Closed"} and score.given == ("PagePolicy",)
    assert score.workload == "stream" and score.evaluation.feasible
    assert score.evaluation.metrics == model.evaluate(score.design, "stream").metrics
    assert score.reward is not None and score.reward < 0


def test_without_a_design_or_objective_the_default_design_is_evaluated_unscored():
    model = make_backend("dram/analytical")
    score = evaluate_design(model)
    assert score.design == dict(DEFAULT_DRAM_DESIGN) and score.given == ()
    assert score.workload == model.default_workload and score.reward is None


@pytest.mark.parametrize(
    ("design", "objective", "message"),
    [
        ({"PagePolcy": "Closed"}, None, "unknown knob 'PagePolcy'"),
        ({"RequestBufferSize": 3}, None, "allowed values are 1, 2, 4"),
        ({}, "speed", "unknown objective 'speed'"),
    ],
)
def test_bad_designs_and_objectives_are_named(design, objective, message):
    with pytest.raises(ArchGymError, match=message):
        evaluate_design(make_backend("dram/analytical"), design, objective=objective)
