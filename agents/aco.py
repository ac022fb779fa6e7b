"""Ant colony optimisation over a layered graph of knob values.

In the spirit of ArchGym's DeepSwarm-based ACO agent, but built on the
:class:`~archgym.space.DesignSpace` rather than on a neural-architecture
search graph. The graph has one layer per knob and one node per value of the
knob; an ant's walk picks one node per layer, which is a design. Pheromone
sits on the nodes, one value per (knob, value) pair.

Knobs with more values than ``bins`` (float knobs, wide integer knobs) get
``bins`` nodes instead: equal slices of the knob's unit interval
(:meth:`~archgym.space.Parameter.to_unit`). An ant that picks a slice draws
the value uniformly within it.

One iteration, in the Ant Colony System (ACS) style DeepSwarm follows:

1. Each of the ``ants`` ants starts from the best design told so far and
   re-decides ``depth`` of its knobs, chosen at random (all of them by
   default, or before any result is told). A node's attractiveness is
   ``pheromone ** alpha * closeness ** beta``. The heuristic ``closeness``
   is ``1 / (1 + steps)`` for a knob whose values are ordered (ordinal,
   integer, float), ``steps`` being the node's distance from the best
   design's node; it is 1 for categorical knobs and before any result, as
   their values have no distance. At each layer the ant takes the most
   attractive node with probability ``greediness`` (q0) and otherwise
   samples a node with probability proportional to attractiveness. After
   each choice, the *local update*
   ``tau <- (1 - decay) * tau + decay * pheromone_init`` pulls the chosen
   node back towards its initial level, so that later ants of the iteration
   spread out.
2. Once ``ants`` results have been told (in the order told), every node
   evaporates, ``tau <- (1 - evaporation) * tau``, and the better half of
   the iteration's ants plus the global-best design deposit
   ``evaporation * weight`` on their nodes. The weights come from ranks,
   never from raw rewards, so any reward scale or sign works: the global
   best and the iteration's best weigh 1, the next ranks linearly less.
   Pheromone never falls below ``pheromone_init / 50``, so that no value
   becomes unreachable (as in MAX-MIN ant systems).

Ants are built on demand from the current pheromone, so :meth:`AntColony.suggest`
never waits for results: a request larger than ``ants``, or made before an
iteration's results are in, simply builds more ants from the same trail.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from archgym.agent import Agent, Trial, register_agent
from archgym.errors import ConfigurationError
from archgym.space import Design, DesignSpace, Parameter, ParameterKind

__all__ = ["AntColony"]

_PHEROMONE_FLOOR_FRACTION = 0.02
"""Lowest pheromone, as a fraction of ``pheromone_init``; keeps every value reachable."""

_MAX_WALK_TRIES = 16
"""Walks tried for one ant before a random design on a new path replaces it."""

_MAX_RANDOM_TRIES = 64
"""Random draws for a design on a new path before enumerating the paths left."""

Path = tuple[int, ...]
"""One node index per layer of the graph."""


@dataclass(frozen=True)
class _Layer:
    """The nodes of one knob with a choice."""

    parameter: Parameter
    nodes: int
    binned: bool
    """Whether nodes are slices of the unit interval rather than the knob's values."""

    @property
    def ordered(self) -> bool:
        """Whether neighbouring nodes hold neighbouring values (every kind but categorical)."""
        return self.parameter.kind is not ParameterKind.CATEGORICAL


@register_agent("aco")
class AntColony(Agent):
    """Ant colony optimisation (ACS style) with rank-based pheromone deposits.

    Settings (``config``):

    - ``ants``: Ants per iteration, i.e. results told between pheromone
      updates (at least 1).
    - ``evaporation``: Global evaporation rate rho, in (0, 1).
    - ``greediness``: Probability q0 that an ant takes the most attractive
      node instead of sampling, in [0, 1].
    - ``pheromone_init``: Initial pheromone tau0 on every node (> 0). Each
      depositing ant adds at most ``evaporation`` to a node per iteration,
      so a larger tau0 keeps the colony exploring for longer.
    - ``depth``: Knobs each ant re-decides, starting from the best design so
      far; None (default) re-decides every knob, in ``[1, number of knobs]``
      otherwise. Knobs with a single value are never decided.
    - ``alpha``: Weight (exponent) of the pheromone in attractiveness (>= 0);
      0 ignores the trail.
    - ``beta``: Weight (exponent) of the closeness heuristic (>= 0); 0
      ignores it, larger values keep ordered knobs nearer the best design.
    - ``decay``: ACS local update rate, in [0, 1); 0 disables the local update.
    - ``bins``: Nodes of a knob with more values than this (float knobs, wide
      integer knobs), at least 2.

    A walk along a path (one node per knob) that an earlier suggestion or
    told design already took is retried, a few times, and then replaced by a
    random design on a new path. So no design is suggested twice, and no
    binned knob is tried twice within the same slice, while the graph has
    paths left. After that a space without binned knobs is exhausted and
    :meth:`suggest` returns no more designs; one with binned knobs gets
    random designs.

    Args:
        design_space: The space to search.
        seed: Seed of :attr:`rng`; the same seed and the same rewards give the
            same suggestions.
        **config: The settings above.

    Raises:
        ConfigurationError: a setting is unknown, has the wrong type or is out of range.
    """

    defaults: ClassVar[Mapping[str, Any]] = {
        "ants": 8,
        "evaporation": 0.1,
        "greediness": 0.5,
        "pheromone_init": 1.0,
        "depth": None,
        "alpha": 1.0,
        "beta": 1.0,
        "decay": 0.1,
        "bins": 16,
    }

    def __init__(self, design_space: DesignSpace, seed: int | None = None, **config: Any) -> None:
        super().__init__(design_space, seed=seed, **config)
        self._validate_config()
        bins = self.config["bins"]
        self._layers = tuple(
            _Layer(p, min(int(p.cardinality), bins) if p.is_discrete else bins, p.cardinality > bins)
            for p in design_space.parameters
            if _has_choice(p)
        )
        self._fixed: Design = {p.name: _single_value(p) for p in design_space.parameters if not _has_choice(p)}
        tau0 = self.config["pheromone_init"]
        self._pheromone = [np.full(layer.nodes, tau0) for layer in self._layers]
        self._iteration: list[Trial] = []  # results told since the last pheromone update
        self._walked: set[Path] = set()  # paths of suggested or told designs
        self._path_count = math.prod(layer.nodes for layer in self._layers)
        self._iterations_done = 0

    def _validate_config(self) -> None:
        config = self.config
        if config["ants"] < 1:
            raise ConfigurationError(f"agent 'aco': ants must be at least 1, got {config['ants']!r}")
        if not 0.0 < config["evaporation"] < 1.0:
            raise ConfigurationError(
                f"agent 'aco': evaporation must be in (0, 1), got {config['evaporation']!r}"
            )
        if not 0.0 <= config["greediness"] <= 1.0:
            raise ConfigurationError(
                f"agent 'aco': greediness must be in [0, 1], got {config['greediness']!r}"
            )
        if not (math.isfinite(config["pheromone_init"]) and config["pheromone_init"] > 0.0):
            raise ConfigurationError(
                f"agent 'aco': pheromone_init must be a finite number > 0, got {config['pheromone_init']!r}"
            )
        for name in ("alpha", "beta"):
            if not (math.isfinite(config[name]) and config[name] >= 0.0):
                raise ConfigurationError(
                    f"agent 'aco': {name} must be a finite number >= 0, got {config[name]!r}"
                )
        if not 0.0 <= config["decay"] < 1.0:
            raise ConfigurationError(f"agent 'aco': decay must be in [0, 1), got {config['decay']!r}")
        if config["bins"] < 2:
            raise ConfigurationError(f"agent 'aco': bins must be at least 2, got {config['bins']!r}")
        depth = config["depth"]
        knobs = len(self.design_space)
        if depth is not None and (
            isinstance(depth, (bool, np.bool_)) or not isinstance(depth, (int, np.integer)) or not 1 <= depth <= knobs
        ):
            raise ConfigurationError(
                f"agent 'aco': depth must be None (every knob) or an integer in [1, {knobs}] "
                f"(the number of knobs), got {depth!r}"
            )

    @property
    def iterations(self) -> int:
        """Pheromone updates done so far (one per ``ants`` told results)."""
        return self._iterations_done

    def pheromone(self, name: str) -> np.ndarray:
        """A copy of the pheromone on knob ``name``'s nodes (one per value, or per slice if binned).

        Raises:
            InvalidDesignError: no such knob.
            KeyError: the knob has a single value, so it has no nodes.
        """
        parameter = self.design_space[name]
        for layer, trail in zip(self._layers, self._pheromone):
            if layer.parameter is parameter:
                return trail.copy()
        raise KeyError(f"knob {name!r} has a single value and no pheromone")

    # -- ask ------------------------------------------------------------------------------------

    def suggest(self, n: int = 1) -> list[Design]:
        """Return up to ``n`` designs, one walk each, built from the current pheromone.

        Fewer than ``n`` designs come back only once a space without binned
        knobs has no unseen design left.
        """
        if n < 0:
            raise ValueError(f"suggest(n) needs n >= 0, got {n}")
        designs: list[Design] = []
        for _ in range(n):
            design = self._ant()
            if design is None:
                break
            self._walked.add(self._path(design))
            designs.append(design)
        return designs

    def _ant(self) -> Design | None:
        """A walk along a new path, else a random design on a new path (None if none is left)."""
        for _ in range(_MAX_WALK_TRIES):
            design = self._walk()
            if self._path(design) not in self._walked:
                return design
        return self._unwalked_random()

    def _walk(self) -> Design:
        depth = self.config["depth"]
        if self.best is None or depth is None or depth >= len(self._layers):
            design = dict(self._fixed)
            decided = range(len(self._layers))
        else:
            design = self.design_space.validate(self.best.design)
            decided = sorted(self.rng.choice(len(self._layers), size=depth, replace=False))
        best_path = self._path(self.best.design) if self.best is not None else None
        for position in decided:
            layer = self._layers[position]
            attractiveness = self._pheromone[position] ** self.config["alpha"]
            if best_path is not None and layer.ordered:
                attractiveness = attractiveness * self._closeness(layer, best_path[position])
            node = self._choose(attractiveness)
            self._local_update(position, node)
            design[layer.parameter.name] = self._value(layer, node)
        return {name: design[name] for name in self.design_space.names}

    def _closeness(self, layer: _Layer, centre: int) -> np.ndarray:
        """Heuristic of an ordered knob's nodes: ``(1 + steps from the best design's node) ** -beta``."""
        steps = np.abs(np.arange(layer.nodes) - centre)
        return (1.0 + steps) ** -self.config["beta"]

    def _choose(self, attractiveness: np.ndarray) -> int:
        """Pick a node by the ACS rule: the most attractive one with probability q0, else sample."""
        if self.rng.random() < self.config["greediness"]:
            best_nodes = np.flatnonzero(attractiveness == attractiveness.max())
            return int(best_nodes[self.rng.integers(len(best_nodes))])
        # Inverse-CDF sampling: the distribution of rng.choice(p=...) at a fraction of its overhead.
        cumulative = np.cumsum(attractiveness)
        node = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right"))
        return min(node, len(attractiveness) - 1)

    def _local_update(self, position: int, node: int) -> None:
        trail = self._pheromone[position]
        decay = self.config["decay"]
        trail[node] = (1.0 - decay) * trail[node] + decay * self.config["pheromone_init"]

    def _value(self, layer: _Layer, node: int) -> Any:
        if layer.binned:
            return layer.parameter.from_unit((node + self.rng.random()) / layer.nodes)
        return layer.parameter.value_at(node)

    def _node(self, layer: _Layer, value: Any) -> int:
        if layer.binned:
            return min(int(layer.parameter.to_unit(value) * layer.nodes), layer.nodes - 1)
        return layer.parameter.index_of(value)

    def _unwalked_random(self) -> Design | None:
        """A uniformly random design on a path not walked before.

        Once every path has been walked, a space with binned knobs still has
        unseen values inside the slices, so any random design will do; a space
        without binned knobs is exhausted (None).
        """
        if len(self._walked) >= self._path_count:
            return None if not any(layer.binned for layer in self._layers) else self.design_space.sample(self.rng)
        for _ in range(_MAX_RANDOM_TRIES):
            design = self.design_space.sample(self.rng)
            if self._path(design) not in self._walked:
                return design
        # Most paths are walked (so there are few of them): choose among the rest directly.
        unwalked = [
            path
            for path in itertools.product(*(range(layer.nodes) for layer in self._layers))
            if path not in self._walked
        ]
        path = unwalked[int(self.rng.integers(len(unwalked)))]
        design = dict(self._fixed)
        for layer, node in zip(self._layers, path):
            design[layer.parameter.name] = self._value(layer, node)
        return {name: design[name] for name in self.design_space.names}

    # -- tell -----------------------------------------------------------------------------------

    def update(self, trials: Sequence[Trial]) -> None:
        """Record results; every ``ants`` told results evaporate and deposit pheromone."""
        super().update(trials)
        for trial in trials:
            design = self.design_space.validate(trial.design)
            self._walked.add(self._path(design))
            self._iteration.append(Trial(design, trial.evaluation, trial.reward, trial.step))
            if len(self._iteration) == self.config["ants"]:
                self._update_pheromone()
                self._iteration = []
                self._iterations_done += 1

    def _update_pheromone(self) -> None:
        rho = self.config["evaporation"]
        for trail in self._pheromone:
            trail *= 1.0 - rho
        ranked = sorted(
            (trial for trial in self._iteration if not math.isnan(trial.reward)),
            key=lambda trial: trial.reward,
            reverse=True,
        )
        depositing = ranked[: math.ceil(self.config["ants"] / 2)]
        for rank, trial in enumerate(depositing):
            self._deposit(trial.design, rho * (len(depositing) - rank) / len(depositing))
        if self.best is not None:
            self._deposit(self.best.design, rho)
        floor = _PHEROMONE_FLOOR_FRACTION * self.config["pheromone_init"]
        for trail in self._pheromone:
            np.maximum(trail, floor, out=trail)

    def _deposit(self, design: Design, amount: float) -> None:
        for layer, trail in zip(self._layers, self._pheromone):
            trail[self._node(layer, design[layer.parameter.name])] += amount

    def _path(self, design: Design) -> Path:
        """The node of each layer that ``design`` passes through."""
        return tuple(self._node(layer, design[layer.parameter.name]) for layer in self._layers)


def _has_choice(parameter: Parameter) -> bool:
    """Whether a knob can take more than one value (and so is a layer of the graph)."""
    if parameter.kind is ParameterKind.FLOAT:
        return parameter.values[0] < parameter.values[1]
    return parameter.cardinality > 1


def _single_value(parameter: Parameter) -> Any:
    if parameter.kind is ParameterKind.FLOAT:
        return float(parameter.values[0])
    return parameter.value_at(0)
