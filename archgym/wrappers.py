"""Cost-model wrappers: change or observe one thing about a model, forward the rest.

In the style of :class:`gymnasium.Wrapper`: a :class:`CostModelWrapper` is
itself a :class:`~archgym.cost_model.CostModel`, so wrappers stack, and
everything a subclass does not override is the wrapped model's::

    class Counting(CostModelWrapper):
        def __init__(self, model):
            super().__init__(model)
            self.calls = 0

        def evaluate(self, design, workload=None):
            self.calls += 1
            return self.model.evaluate(design, workload)

A wrapper that overrides only :meth:`~CostModelWrapper.evaluate` gets batches
evaluated through it, design by design; one that also overrides
:meth:`~CostModelWrapper.evaluate_batch` keeps the wrapped model's batch path.
:attr:`CostModelWrapper.model` is the next model inward and
:attr:`CostModelWrapper.unwrapped` the innermost one. Public attributes the
wrapper class does not define (``memspec``, ``binary``, ``timeout_s``, ...)
are looked up on the wrapped model; private ones (a leading underscore) are not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec
from archgym.problem import Problem
from archgym.space import DesignSpace

__all__ = ["CostModelWrapper"]


class CostModelWrapper(CostModel):
    """Wraps a cost model; every attribute and method it does not override is the wrapped model's.

    Args:
        model: The cost model to wrap (possibly a wrapper itself).
    """

    def __init__(self, model: CostModel) -> None:
        self.model = model

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails. Private names are not forwarded, and "model"
        # itself is looked up here only before __init__ has set it (e.g. while unpickling).
        if name.startswith("_") or name == "model":
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.model, name)

    @property
    def unwrapped(self) -> CostModel:
        """The innermost model, under every wrapper."""
        model = self.model
        return model.unwrapped if isinstance(model, CostModelWrapper) else model

    # CostModel declares these at class level, so __getattr__ would never see them. Read-only
    # properties replace its writable attributes (hence the override ignores): a wrapper only forwards.
    @property
    def name(self) -> str:  # type: ignore[override]
        """The wrapped model's backend name."""
        return self.model.name

    @property
    def design_space(self) -> DesignSpace:  # type: ignore[override]
        """The wrapped model's design space."""
        return self.model.design_space

    @property
    def metrics(self) -> tuple[MetricSpec, ...]:  # type: ignore[override]
        """The wrapped model's metrics."""
        return self.model.metrics

    @property
    def default_workload(self) -> Any:
        """The wrapped model's default workload."""
        return self.model.default_workload

    @property
    def objective_presets(self) -> Mapping[str, Any]:  # type: ignore[override]
        """The wrapped model's objective presets."""
        return self.model.objective_presets

    @property
    def pareto_metrics(self) -> tuple[str, str] | None:  # type: ignore[override]
        """The wrapped model's Pareto metric pair."""
        return self.model.pareto_metrics

    @property
    def unreported_metrics(self) -> tuple[str, ...]:  # type: ignore[override]
        """The wrapped model's metrics it cannot measure."""
        return self.model.unreported_metrics

    @property
    def problem(self) -> Problem | None:  # type: ignore[override]
        """The wrapped model's problem."""
        return self.model.problem

    def describe(self) -> str:
        """The wrapped model's description."""
        return self.model.describe()

    def default_design(self) -> dict[str, Any]:
        """The wrapped model's default design."""
        return self.model.default_design()

    def workloads(self) -> tuple[str, ...]:
        """The wrapped model's named workloads."""
        return self.model.workloads()

    def prepare(self, workload: Any = None) -> None:
        """Let the wrapped model check and set up ``workload``."""
        self.model.prepare(workload)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Evaluate with the wrapped model."""
        return self.model.evaluate(design, workload)

    def evaluate_batch(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> BatchEvaluation:
        """Evaluate a batch with the wrapped model (through :meth:`evaluate`, if only that is overridden)."""
        if type(self).evaluate is not CostModelWrapper.evaluate:
            # A wrapper that changes single evaluations must change batches too: one by one.
            return super().evaluate_batch(designs, workload)
        return self.model.evaluate_batch(designs, workload)

    def close(self) -> None:
        """Close the wrapped model."""
        self.model.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.model!r})"
