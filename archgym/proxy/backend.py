"""A saved proxy served as a backend (``<env>/proxy``), so agents search on it like on any cost model."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation, MetricSpec
from archgym.errors import ConfigurationError
from archgym.problem import problem_argument
from archgym.proxy.features import problem_reference
from archgym.proxy.model import Proxy
from archgym.space import Design

__all__ = ["ProxyCostModel"]


class ProxyCostModel(CostModel):
    """A saved proxy as a backend (``<problem>/proxy``): vectorised predictions of its targets.

    ``gymnasium.make("archgym/DRAM-v0", backend="proxy", proxy="models/p1")`` or
    ``make_backend("dram/proxy", proxy="models/p1")``. The metrics are the
    proxy's targets, with the units and scales the problem gives them. Designs
    the proxy cannot score (the base backend of a residual proxy finds them
    infeasible, or a prediction is not finite) are infeasible evaluations with
    the reason.

    Args:
        proxy: A proxy directory or a loaded :class:`Proxy`.
        problem: The problem this backend was registered for; the proxy must belong to it.
        env: Deprecated name of ``problem``.
        trust: Also load a proxy saved as a pickle by an earlier version (or one
            whose base backend names a program), which can run code: only for
            proxies from a source you trust. Not a setting to record with a run:
            a run resumed from its records loads its proxy without trust.

    Raises:
        ConfigurationError: no proxy given, or it belongs to another problem.
        ProxyError: the directory is not a proxy, does not match the design space,
            or needs ``trust`` and it is not given.
    """

    def __init__(self, proxy: str | os.PathLike[str] | Proxy | None = None, problem: str | None = None,
                 env: str | None = None, *, trust: bool = False) -> None:
        problem = problem_argument(problem, env, "ProxyCostModel", default=None)
        if proxy is None:
            raise ConfigurationError(
                "the proxy backend needs a trained proxy: pass proxy='<directory>' (gymnasium.make / "
                "make_backend) or --proxy DIR (command line); train one with `archgym proxy train`"
            )
        self.proxy = proxy if isinstance(proxy, Proxy) else Proxy.load(proxy, trust=trust)
        if problem is not None and self.proxy.env != problem:
            raise ConfigurationError(
                f"the proxy in {proxy} was trained for problem {self.proxy.env!r}, not {problem!r}"
            )
        self.name = f"{self.proxy.env}/proxy"
        self.design_space = self.proxy.design_space
        self._reference = problem_reference(self.proxy.env)
        known = {m.name: m for m in self._reference.metrics}
        summary = self.proxy.info.get("training", {}).get("targets", {})
        self.metrics = tuple(
            known.get(name) or MetricSpec(name, "", "min", float(summary.get(name, {}).get("mean", 1.0)) or 1.0)
            for name in self.proxy.target_names
        )
        self.default_workload = self.proxy.workloads[0]

    def workloads(self) -> tuple[str, ...]:
        return self.proxy.workloads

    def default_design(self) -> Design:
        """The problem's default design."""
        return dict(self._reference.default_design)

    def prepare(self, workload: Any = None) -> None:
        self.proxy.encoding.workload_index(self.default_workload if workload is None else workload)
        base = self.proxy.base_model()
        if base is not None:
            base.prepare(self.default_workload if workload is None else workload)

    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        batch = self.evaluate_batch([design], workload)
        return batch[0]

    def evaluate_batch(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> BatchEvaluation:
        start = time.perf_counter()
        workload = self.default_workload if workload is None else workload
        predictions, feasible, reasons = self.proxy.predict(designs, workload)
        wall = time.perf_counter() - start
        return BatchEvaluation(
            metrics=predictions, feasible=feasible, reasons=reasons, wall_time_s=wall
        )

    def close(self) -> None:
        self.proxy.close()

    def __repr__(self) -> str:
        return f"ProxyCostModel({self.proxy.model_kind} on {', '.join(self.proxy.target_names)})"
