"""Optuna's TPE and NSGA-II samplers as ask/tell agents (needs ``pip install 'archgym[optuna]'``).

Each agent drives an in-memory :class:`optuna.Study` through Optuna's own
ask/tell interface: :meth:`suggest` asks the study for trials, :meth:`update`
tells it their rewards (the study maximises). The Optuna search space is
derived from the :class:`~archgym.space.DesignSpace` alone:

============  ==========================================================
knob kind     Optuna distribution
============  ==========================================================
categorical   ``CategoricalDistribution`` over the knob's values
ordinal       ``IntDistribution(0, n - 1)`` over value indices (ordered)
integer       ``IntDistribution(low, high)``
float         ``FloatDistribution(low, high)``
============  ==========================================================

Knobs with one value are held fixed. Infeasible evaluations and NaN rewards
are told as failed trials, which both samplers leave out of their models.
Designs the agent did not suggest (foreign trials) are added to the study as
completed trials, so they inform the sampler too.

Resuming: TPE saves its samplers' random states (:meth:`TPEAgent.checkpoint`)
and is rebuilt by adding the logged trials to the study, without sampling
again, so it continues as the uninterrupted run would. NSGA-II keeps each
trial's generation in the study, which only its own sampling writes, so it
replays its run (0.6 s for 500 evaluations on the DRAM problem).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from archgym.agent import Agent, Trial, decode_random_state, encode_random_state, register_agent
from archgym.errors import ConfigurationError, DatasetError
from archgym.space import Design, DesignSpace, Parameter, ParameterKind

__all__ = ["NSGA2Agent", "TPEAgent"]

DesignKey = tuple[Any, ...]


class _OptunaAgent(Agent):
    """Shared ask/tell plumbing; subclasses build the sampler."""

    def __init__(self, design_space: DesignSpace, seed: int | None = None, **config: Any) -> None:
        super().__init__(design_space, seed=seed, **config)
        self._check_config()
        self._distributions: dict[str, BaseDistribution] = {
            p.name: _distribution(p) for p in design_space.parameters if p.fixed_value is None
        }
        self._fixed = {p.name: p.fixed_value for p in design_space.parameters if p.fixed_value is not None}
        optuna.logging.set_verbosity(max(optuna.logging.get_verbosity(), logging.WARNING))
        self.study = optuna.create_study(
            direction="maximize", sampler=self._sampler(int(self.rng.integers(2**31 - 1)))
        )
        self._pending: dict[DesignKey, list[optuna.trial.Trial]] = {}

    def _check_config(self) -> None:
        """Validate settings; subclasses extend."""

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def suggest(self, n: int = 1) -> list[Design]:
        """Ask the study for ``n`` trials and return their designs (asked trials wait for :meth:`update`)."""
        if n < 0:
            raise ValueError(f"suggest(n) needs n >= 0, got {n}")
        designs = []
        for _ in range(n):
            trial = self.study.ask(self._distributions)
            design = self._decode(trial.params)
            self._pending.setdefault(self._key(design), []).append(trial)
            designs.append(design)
        return designs

    def update(self, trials: Sequence[Trial]) -> None:
        """Tell the study each result; results of designs it did not ask for are added as trials."""
        super().update(trials)
        for trial in trials:
            usable = trial.evaluation.feasible and math.isfinite(trial.reward)
            waiting = self._pending.get(self._key(trial.design))
            if waiting:
                asked = waiting.pop(0)
                if usable:
                    self.study.tell(asked, trial.reward)
                else:
                    self.study.tell(asked, state=TrialState.FAIL)
            elif usable:
                self.study.add_trial(optuna.trial.create_trial(
                    params=self._encode(trial.design), distributions=self._distributions, value=trial.reward,
                ))

    def _decode(self, params: Mapping[str, Any]) -> Design:
        design = dict(self._fixed)
        for parameter in self.design_space.parameters:
            if parameter.name in params:
                value = params[parameter.name]
                if parameter.kind is ParameterKind.ORDINAL:
                    value = parameter.value_at(int(value))
                design[parameter.name] = parameter.canonical(value)
        return {name: design[name] for name in self.design_space.names}

    def _encode(self, design: Design) -> dict[str, Any]:
        params = {}
        for name in self._distributions:
            parameter = self.design_space[name]
            value = parameter.canonical(design[name])
            params[name] = parameter.index_of(value) if parameter.kind is ParameterKind.ORDINAL else value
        return params

    def _key(self, design: Design) -> DesignKey:
        return tuple(self.design_space[name].canonical(design[name]) for name in self.design_space.names)


@register_agent("tpe")
class TPEAgent(_OptunaAgent):
    """Tree-structured Parzen estimator (Optuna's ``TPESampler``).

    Settings (``config``):

    - ``n_startup_trials``: Random designs before the model is used (>= 0).
    - ``multivariate``: Model the knobs jointly rather than one at a time.
    - ``n_ei_candidates``: Candidates scored by expected improvement per suggestion (>= 1).
    - ``constant_liar``: Let designs asked for but not yet told steer the
      next suggestions away from them, so batches spread out.
    """

    defaults: ClassVar[Mapping[str, Any]] = {
        "n_startup_trials": 10,
        "multivariate": True,
        "n_ei_candidates": 24,
        "constant_liar": True,
    }

    def checkpoint(self) -> dict[str, Any]:
        """The random states of the TPE sampler and of its start-up random sampler, as plain JSON values."""
        sampler = self.study.sampler
        assert isinstance(sampler, optuna.samplers.TPESampler)
        return {"tpe": encode_random_state(sampler._rng.rng),
                "startup": encode_random_state(sampler._random_sampler._rng.rng)}

    def restore(
        self, trials: Sequence[Trial], *, batch_size: int = 1, state: Mapping[str, Any] | None = None
    ) -> int:
        """Add the trials to the study as finished trials and put back the samplers' random states.

        Nothing is sampled, and the study then holds what the uninterrupted
        run's did, so the next suggestions are the same. Without a state the
        run is replayed (:meth:`Agent.restore`).

        Returns:
            How many of the trials the agent knows: all of them with a state.

        Raises:
            DatasetError: the state is not one :meth:`checkpoint` writes.
        """
        if state is None:
            return super().restore(trials, batch_size=batch_size)
        sampler = self.study.sampler
        assert isinstance(sampler, optuna.samplers.TPESampler)
        try:
            decode_random_state(sampler._rng.rng, state["tpe"])
            decode_random_state(sampler._random_sampler._rng.rng, state["startup"])
        except KeyError as error:
            raise DatasetError(f"agent 'tpe': the saved state lacks {error}; it was saved by another version") \
                from None
        Agent.update(self, trials)
        for trial in trials:
            usable = trial.evaluation.feasible and math.isfinite(trial.reward)
            self.study.add_trial(optuna.trial.create_trial(
                params=self._encode(trial.design), distributions=self._distributions,
                value=trial.reward if usable else None, state=TrialState.COMPLETE if usable else TrialState.FAIL,
            ))
        return len(trials)

    def _check_config(self) -> None:
        if self.config["n_startup_trials"] < 0:
            raise ConfigurationError(
                f"agent 'tpe': n_startup_trials must be >= 0, got {self.config['n_startup_trials']!r}"
            )
        if self.config["n_ei_candidates"] < 1:
            raise ConfigurationError(
                f"agent 'tpe': n_ei_candidates must be >= 1, got {self.config['n_ei_candidates']!r}"
            )

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        return optuna.samplers.TPESampler(
            n_startup_trials=self.config["n_startup_trials"], multivariate=self.config["multivariate"],
            n_ei_candidates=self.config["n_ei_candidates"], constant_liar=self.config["constant_liar"],
            seed=seed,
        )


@register_agent("nsga2")
class NSGA2Agent(_OptunaAgent):
    """NSGA-II genetic algorithm (Optuna's ``NSGAIISampler``; with one objective, elitist selection).

    Settings (``config``):

    - ``population_size``: Designs per generation (>= 2).
    - ``mutation_prob``: Probability of redrawing each knob of a child; a
      negative value means Optuna's default, one over the number of knobs.
    - ``crossover_prob``: Probability that a child is a crossover of two parents, in [0, 1].
    - ``swapping_prob``: Per-knob probability of taking the second parent's value in uniform crossover.
    """

    defaults: ClassVar[Mapping[str, Any]] = {
        "population_size": 16,
        "mutation_prob": -1.0,
        "crossover_prob": 0.9,
        "swapping_prob": 0.5,
    }

    def _check_config(self) -> None:
        config = self.config
        if config["population_size"] < 2:
            raise ConfigurationError(
                f"agent 'nsga2': population_size must be >= 2, got {config['population_size']!r}"
            )
        if config["mutation_prob"] > 1.0:
            raise ConfigurationError(
                f"agent 'nsga2': mutation_prob must be <= 1 (or negative for the default), "
                f"got {config['mutation_prob']!r}"
            )
        for name in ("crossover_prob", "swapping_prob"):
            if not 0.0 <= config[name] <= 1.0:
                raise ConfigurationError(f"agent 'nsga2': {name} must be in [0, 1], got {config[name]!r}")

    def _sampler(self, seed: int) -> optuna.samplers.BaseSampler:
        mutation = self.config["mutation_prob"]
        return optuna.samplers.NSGAIISampler(
            population_size=self.config["population_size"], mutation_prob=None if mutation < 0 else mutation,
            crossover_prob=self.config["crossover_prob"], swapping_prob=self.config["swapping_prob"], seed=seed,
        )



def _distribution(parameter: Parameter) -> BaseDistribution:
    if parameter.kind is ParameterKind.CATEGORICAL:
        return CategoricalDistribution(list(parameter.values))
    if parameter.kind is ParameterKind.ORDINAL:
        return IntDistribution(0, int(parameter.cardinality) - 1)
    low, high = parameter.values
    if parameter.kind is ParameterKind.INTEGER:
        return IntDistribution(int(low), int(high))
    return FloatDistribution(float(low), float(high))
