"""Random walk: ArchGym's baseline agent.

Each suggestion is a design drawn uniformly at random from the design space,
independently of earlier results. The optional ``"local"`` mode turns it into
a simple stochastic local search around the best design seen so far.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from archgym.agent import Agent, register_agent
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace, ParameterKind

_MODES = ("uniform", "local")


@register_agent("random", aliases=("random_walk",))
class RandomWalk(Agent):
    """Suggest uniformly random designs.

    Settings (``config``):

    - ``mode``: ``"uniform"`` (default) samples every design uniformly at
      random, as ArchGym's random walker does. ``"local"`` instead mutates the
      best design seen so far with probability ``local_prob``: one knob,
      chosen uniformly, is set to a different value chosen uniformly (a float
      knob is redrawn within its bounds). Otherwise, and until a first trial
      has been told, it samples uniformly.
    - ``local_prob``: Probability of a local move in ``"local"`` mode, in [0, 1].

    Args:
        design_space: The space to search.
        seed: Seed; the same seed gives the same suggestions.
        **config: ``mode`` and ``local_prob``.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"mode": "uniform", "local_prob": 0.5}

    def __init__(self, design_space: DesignSpace, seed: int | None = None, **config: Any) -> None:
        super().__init__(design_space, seed=seed, **config)
        if self.config["mode"] not in _MODES:
            raise ConfigurationError(
                f"agent 'random': mode {self.config['mode']!r} is not supported; "
                f"use one of {', '.join(_MODES)}"
            )
        if not 0.0 <= self.config["local_prob"] <= 1.0:
            raise ConfigurationError(
                f"agent 'random': local_prob must be in [0, 1], got {self.config['local_prob']!r}"
            )
        # Only knobs with a choice can be mutated.
        self._mutable = [p for p in design_space.parameters if p.cardinality > 1]

    def suggest(self, n: int = 1) -> list[Design]:
        """Return ``n`` random designs (see the class docstring for ``"local"`` mode)."""
        if n < 0:
            raise ValueError(f"suggest(n) needs n >= 0, got {n}")
        return [self._one() for _ in range(n)]

    def _one(self) -> Design:
        if (
            self.config["mode"] == "local"
            and self.best is not None
            and self._mutable
            and self.rng.random() < self.config["local_prob"]
        ):
            return self._mutate(self.best.design)
        return self.design_space.sample(self.rng)

    def _mutate(self, design: Design) -> Design:
        parameter = self._mutable[int(self.rng.integers(len(self._mutable)))]
        mutated = dict(design)
        if parameter.kind is ParameterKind.FLOAT:
            mutated[parameter.name] = float(self.rng.uniform(*parameter.values))
        else:
            # Draw among the other values: shift indices at or above the current one up by one.
            current = parameter.index_of(design[parameter.name])
            index = int(self.rng.integers(parameter.cardinality - 1))
            mutated[parameter.name] = parameter.value_at(index + (index >= current))
        return mutated
