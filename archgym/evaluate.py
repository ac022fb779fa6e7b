"""Evaluate one design, given in part, with a cost model (what ``archgym evaluate`` prints)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from archgym.cost_model import CostModel, Evaluation
from archgym.objective import make_objective
from archgym.space import Design

__all__ = ["DesignScore", "evaluate_design"]


@dataclass(frozen=True)
class DesignScore:
    """One design's evaluation.

    Args:
        design: The complete design that was evaluated.
        given: The knobs named by the caller (the others took their default values).
        workload: The workload it was evaluated on (the model's default if none was named).
        evaluation: The cost model's result.
        reward: The objective's reward, or None when no objective was named.
    """

    design: Design
    given: tuple[str, ...]
    workload: Any
    evaluation: Evaluation
    reward: float | None


def evaluate_design(
    model: CostModel,
    design: Mapping[str, Any] | None = None,
    workload: Any = None,
    objective: str | None = None,
    targets: Mapping[str, Any] | None = None,
) -> DesignScore:
    """Complete ``design`` with the model's default design, evaluate it, and score it with ``objective``.

    Args:
        model: The cost model.
        design: Some knobs and their values; the knobs left out take their default values.
        workload: Workload name or file; None for the model's default workload.
        objective: An objective name or spec (see :func:`archgym.objective.make_objective`); None for no reward.
        targets: Keyword targets of the objective.

    Raises:
        UnknownNameError: ``design`` names a knob the model does not have.
        InvalidDesignError: a value is not allowed for its knob.
        WorkloadError, UnknownNameError: the workload cannot be resolved.
        ConfigurationError: a malformed objective.
    """
    given = dict(design or {})
    for name in given:
        model.design_space[name]  # names an unknown knob clearly
    defaults: dict[str, Any] = getattr(model, "default_design", dict)()
    full = model.design_space.complete(given, defaults)
    goal = (make_objective(objective, metrics=model.metrics, presets=model.objective_presets, **dict(targets or {}))
            if objective else None)
    evaluation = model.evaluate(full, workload)
    return DesignScore(
        design=full,
        given=tuple(given),
        workload=workload if workload is not None else model.default_workload,
        evaluation=evaluation,
        reward=goal(evaluation) if goal is not None else None,
    )
