"""Genetic algorithm over mixed categorical, ordinal, integer and float knobs.

A generational GA with tournament selection, crossover, kind-aware mutation
and elitism, written against :class:`~archgym.space.DesignSpace` alone: every
operator works knob by knob through :class:`~archgym.space.Parameter`
(``index_of``/``value_at`` for discrete knobs, ``to_unit``/``from_unit`` for
floats), so the agent keeps no copy of any knob's values.

Generations and the ask/tell protocol:

- Generation 0 is ``population`` random designs.
- Once every member of the current generation has been told, the next one is
  bred from the *pool*: the elites carried over plus every result told since
  the last breeding. The ``elitism`` best of the pool are carried into the
  next pool without being evaluated again, and ``population - elitism`` new
  children are bred from the pool, so every generation after the first costs
  ``population - elitism`` evaluations.
- :meth:`GeneticAlgorithm.suggest` hands out the current generation's
  members in order; a request larger than what is left spans generations.
- When every member has been handed out but some results are still missing,
  the agent suggests random designs instead of breeding from part of a
  generation: a partial generation would bias selection towards whichever
  members happened to be evaluated first. The results of these random
  designs join the pool like any other.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from archgym.agent import Agent, Trial, register_agent
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace, Parameter, ParameterKind

__all__ = ["GeneticAlgorithm"]

_CROSSOVERS = ("uniform", "one_point")

_MAX_BREEDING_TRIES = 16
"""Children bred for one slot before a random unseen design takes it."""

_MAX_RANDOM_TRIES = 64
"""Random draws for an unseen design before enumerating the unseen ones of a discrete space."""

DesignKey = tuple[Any, ...]


@dataclass(frozen=True)
class _Member:
    """An evaluated design in the selection pool."""

    design: Design
    reward: float
    """The told reward; NaN is stored as ``-inf`` so that it loses every comparison."""


@register_agent("ga")
class GeneticAlgorithm(Agent):
    """Generational genetic algorithm with tournament selection and elitism.

    Settings (``config``):

    - ``population``: Members per generation (at least 2).
    - ``elitism``: Best members carried into the next generation without
      re-evaluation, in ``[0, population - 1]``.
    - ``tournament_size``: Members drawn (with replacement) per selection;
      the best of them is a parent. In ``[1, population]``; larger is greedier.
    - ``crossover``: ``"uniform"`` (each knob from either parent with equal
      probability) or ``"one_point"`` (knobs before a random cut, in the
      space's knob order, from the first parent and the rest from the second).
    - ``crossover_prob``: Probability that a child is a crossover of two
      parents rather than a copy of one, in [0, 1].
    - ``mutation_prob``: Probability that each knob of a child mutates, in [0, 1].
      A categorical knob takes another value chosen uniformly. An ordinal or
      integer knob moves to a neighbouring value, or with probability
      ``jump_prob`` to another value chosen uniformly. A float knob takes a
      Gaussian step of standard deviation ``float_sigma`` in unit
      coordinates (its range mapped to [0, 1]), clipped to the range.
    - ``jump_prob``: See ``mutation_prob``, in [0, 1].
    - ``float_sigma``: See ``mutation_prob``, in (0, 1].

    A child equal to a design already suggested or told is bred again, a few
    times, and then replaced by a random unseen design, so no design is
    suggested twice. Once every design of a finite space has been suggested,
    :meth:`suggest` returns no more designs.

    Args:
        design_space: The space to search.
        seed: Seed of :attr:`rng`; the same seed and the same rewards give the
            same suggestions.
        **config: The settings above.

    Raises:
        ConfigurationError: a setting is unknown, has the wrong type or is out of range.
    """

    defaults: ClassVar[Mapping[str, Any]] = {
        "population": 16,
        "elitism": 2,
        "tournament_size": 3,
        "crossover": "uniform",
        "crossover_prob": 0.9,
        "mutation_prob": 0.1,
        "jump_prob": 0.2,
        "float_sigma": 0.1,
    }

    def __init__(self, design_space: DesignSpace, seed: int | None = None, **config: Any) -> None:
        super().__init__(design_space, seed=seed, **config)
        self._validate_config()
        self._mutable = tuple(p for p in design_space.parameters if _has_choice(p))
        self._queue: deque[Design] = deque()  # current generation's members not yet handed out
        self._awaited: set[DesignKey] = set()  # members handed out whose results are not told yet
        self._pool: list[_Member] = []
        self._seen: set[DesignKey] = set()  # suggested or told designs
        self._generations_bred = 0

    def _validate_config(self) -> None:
        config = self.config
        population = config["population"]
        if population < 2:
            raise ConfigurationError(f"agent 'ga': population must be at least 2, got {population!r}")
        if not 0 <= config["elitism"] < population:
            raise ConfigurationError(
                f"agent 'ga': elitism must be in [0, population - 1] = [0, {population - 1}], "
                f"got {config['elitism']!r}"
            )
        if not 1 <= config["tournament_size"] <= population:
            raise ConfigurationError(
                f"agent 'ga': tournament_size must be in [1, population] = [1, {population}], "
                f"got {config['tournament_size']!r}"
            )
        if config["crossover"] not in _CROSSOVERS:
            raise ConfigurationError(
                f"agent 'ga': crossover {config['crossover']!r} is not supported; "
                f"use one of {', '.join(_CROSSOVERS)}"
            )
        for name in ("crossover_prob", "mutation_prob", "jump_prob"):
            if not 0.0 <= config[name] <= 1.0:
                raise ConfigurationError(f"agent 'ga': {name} must be in [0, 1], got {config[name]!r}")
        if not 0.0 < config["float_sigma"] <= 1.0:
            raise ConfigurationError(
                f"agent 'ga': float_sigma must be in (0, 1], got {config['float_sigma']!r}"
            )

    @property
    def generation(self) -> int:
        """Index of the current generation: 0 for the random one, -1 before the first suggestion."""
        return self._generations_bred - 1

    # -- ask ------------------------------------------------------------------------------------

    def suggest(self, n: int = 1) -> list[Design]:
        """Return up to ``n`` designs: members of the current generation, then of the next ones.

        Fewer than ``n`` designs come back only once a finite space has no
        unseen design left.
        """
        if n < 0:
            raise ValueError(f"suggest(n) needs n >= 0, got {n}")
        designs: list[Design] = []
        while len(designs) < n:
            if not self._queue and not self._awaited:
                self._queue.extend(self._next_generation())
            if self._queue:
                design = self._queue.popleft()
                self._awaited.add(self._key(design))
            else:
                found = self._unseen_random()
                if found is None:
                    break
                design = found
                self._seen.add(self._key(design))
            designs.append(design)
        return designs

    def _next_generation(self) -> list[Design]:
        """Breed the next generation's members; they count as seen from now on."""
        population = self.config["population"]
        members: list[Design] = []
        if self._pool:
            ranked = sorted(self._pool, key=lambda member: member.reward, reverse=True)
            self._pool = ranked[: self.config["elitism"]]
            breed_count = population - len(self._pool)
        else:
            ranked = []
            breed_count = population  # nothing told yet: a random generation
        for _ in range(breed_count):
            child = self._child(ranked) if ranked else self._unseen_random()
            if child is None:
                break  # a finite space with no unseen design left
            self._seen.add(self._key(child))
            members.append(child)
        self._generations_bred += 1
        return members

    def _child(self, ranked: Sequence[_Member]) -> Design | None:
        """A child of parents from ``ranked`` (best first) not seen before, else a random unseen design."""
        for _ in range(_MAX_BREEDING_TRIES):
            first = self._tournament(ranked)
            if self.rng.random() < self.config["crossover_prob"]:
                child = self._crossover(first, self._tournament(ranked))
            else:
                child = dict(first)
            self._mutate(child)
            if self._key(child) not in self._seen:
                return child
        return self._unseen_random()

    def _tournament(self, ranked: Sequence[_Member]) -> Design:
        # ``ranked`` is sorted best first, so the contestant with the lowest index wins.
        contestants = self.rng.integers(len(ranked), size=self.config["tournament_size"])
        return ranked[int(contestants.min())].design

    def _crossover(self, first: Design, second: Design) -> Design:
        names = self.design_space.names
        if self.config["crossover"] == "uniform":
            from_first = self.rng.random(len(names)) < 0.5
        else:
            cut = int(self.rng.integers(1, len(names))) if len(names) > 1 else len(names)
            from_first = [position < cut for position in range(len(names))]
        return {name: (first if take else second)[name] for name, take in zip(names, from_first)}

    def _mutate(self, child: Design) -> None:
        """Mutate each knob of ``child`` in place with probability ``mutation_prob``."""
        for parameter in self._mutable:
            if self.rng.random() < self.config["mutation_prob"]:
                child[parameter.name] = self._mutated_value(parameter, child[parameter.name])

    def _mutated_value(self, parameter: Parameter, value: Any) -> Any:
        if parameter.kind is ParameterKind.FLOAT:
            step = self.rng.normal(0.0, self.config["float_sigma"])
            return parameter.from_unit(min(max(parameter.to_unit(value) + step, 0.0), 1.0))
        current = parameter.index_of(value)
        cardinality = int(parameter.cardinality)
        ordered = parameter.kind is not ParameterKind.CATEGORICAL
        if ordered and self.rng.random() >= self.config["jump_prob"]:
            if current == 0:
                return parameter.value_at(1)
            if current == cardinality - 1:
                return parameter.value_at(current - 1)
            return parameter.value_at(current + (1 if self.rng.random() < 0.5 else -1))
        # Draw among the other values: shift indices at or above the current one up by one.
        index = int(self.rng.integers(cardinality - 1))
        return parameter.value_at(index + (index >= current))

    def _unseen_random(self) -> Design | None:
        """A uniformly random design not seen before, or None if a finite space has none left."""
        space = self.design_space
        if space.is_discrete and len(self._seen) >= space.size:
            return None
        for _ in range(_MAX_RANDOM_TRIES):
            design = space.sample(self.rng)
            if self._key(design) not in self._seen:
                return design
        if not space.is_discrete:
            return design  # continuous knobs: a repeat is vanishingly unlikely, and harmless
        # Most of a discrete space is seen: choose among the rest directly.
        unseen = [row for row in space.all_indices() if self._key(space.decode(row)) not in self._seen]
        return space.decode(unseen[int(self.rng.integers(len(unseen)))]) if unseen else None

    # -- tell -----------------------------------------------------------------------------------

    def update(self, trials: Sequence[Trial]) -> None:
        """Add told results to the selection pool; the next generation is bred once none is awaited."""
        super().update(trials)
        for trial in trials:
            design = self.design_space.validate(trial.design)
            key = self._key(design)
            self._seen.add(key)
            self._awaited.discard(key)
            reward = -math.inf if math.isnan(trial.reward) else trial.reward
            self._pool.append(_Member(design, reward))

    def _key(self, design: Design) -> DesignKey:
        return tuple(self.design_space[name].canonical(design[name]) for name in self.design_space.names)


def _has_choice(parameter: Parameter) -> bool:
    """Whether a knob can take more than one value (and so can mutate)."""
    if parameter.kind is ParameterKind.FLOAT:
        return parameter.values[0] < parameter.values[1]
    return parameter.cardinality > 1
