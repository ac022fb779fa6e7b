"""A new search agent: tabu search, registered as ``tabu``.

Importing this module registers the agent, so it also works as a command-line
plug-in: ``archgym run --plugin tabu_agent.py --agent tabu --env soc --objective latency``.
Run it to search the SoC problem with it: ``python tabu_agent.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from archgym.agent import Agent, Trial, make_agent, register_agent
from archgym.cost_model import make_backend
from archgym.objective import make_objective
from archgym.search import SearchResult, run_search
from archgym.space import Design, DesignSpace
from archgym.testing import check_agent


@register_agent("tabu")
class TabuSearch(Agent):
    """Change one knob of the best design so far, never suggesting a design twice.

    Settings: ``initial`` random designs come first; ``tries`` bounds the
    draws spent looking for a design not suggested before.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"initial": 8, "tries": 100}

    def __init__(self, design_space: DesignSpace, seed: int | None = None, **config: Any) -> None:
        super().__init__(design_space, seed=seed, **config)
        self._suggested: set[tuple[Any, ...]] = set()
        self._told = 0

    def suggest(self, n: int = 1) -> list[Design]:
        designs = []
        for _ in range(n):
            design = self._new_design()
            if design is None:
                break  # fewer than n: nothing new was found
            designs.append(design)
        return designs

    def update(self, trials: Sequence[Trial]) -> None:
        super().update(trials)  # keeps self.best current
        self._told += len(trials)

    def _new_design(self) -> Design | None:
        for attempt in range(2 * self.config["tries"]):
            explore = self.best is None or self._told < self.config["initial"] or attempt >= self.config["tries"]
            design = self.design_space.sample(self.rng) if explore else self._neighbour(self.best.design)
            key = tuple(design[name] for name in self.design_space.names)
            if key not in self._suggested:
                self._suggested.add(key)
                return design
        return None

    def _neighbour(self, design: Design) -> Design:
        knob = self.design_space.parameters[int(self.rng.integers(len(self.design_space)))]
        # All randomness comes from self.rng, so the same seed gives the same search.
        return {**design, knob.name: self.design_space.sample(self.rng)[knob.name]}


def main(budget: int = 200, seed: int = 0) -> dict[str, SearchResult]:
    """Check the agent, then compare it with random search on the SoC problem."""
    report = check_agent("tabu")
    print(f"{report.subject}: {len(report.passed)} checks passed")
    model = make_backend("soc/analytical")
    objective = make_objective("latency", problem="soc")
    results = {}
    for name in ("random", "tabu"):
        agent = make_agent(name, model.design_space, seed=seed)
        results[name] = run_search(agent, model, objective, budget)
        print(f"{name}: best reward {results[name].best.reward:.4f} after {budget} evaluations")
    return results


if __name__ == "__main__":
    main()
