"""Bayesian optimisation with scikit-optimize's ask/tell :class:`skopt.Optimizer`.

A surrogate model (a Gaussian process, a random forest or extra trees) is
fitted to every result told so far, and the next design is the one that
optimises an acquisition function (expected improvement, probability of
improvement, a lower confidence bound, or a hedge between the three) over the
surrogate. The first ``initial_points`` designs come from a random or
space-filling generator, before any model exists.

The skopt search space is derived from the :class:`~archgym.space.DesignSpace`
alone:

============  =======================================================
knob kind     skopt dimension
============  =======================================================
categorical   ``Categorical`` over the value indices (one-hot for a GP)
ordinal       ``Integer(0, n - 1)`` over the value indices, so the model
              sees the order; decoded with ``Parameter.value_at``
integer       ``Integer(low, high)``
float         ``Real(low, high)``
============  =======================================================

Knobs with a single value are held fixed and not shown to skopt.

skopt minimises, so the agent tells it ``-reward``. Infeasible evaluations and
NaN or infinite rewards are told as the worst objective of any feasible trial
seen so far (re-evaluated at every update), so that an objective's sentinel
reward for infeasible designs (e.g. ``-1e6``) does not squash the surrogate's
view of the feasible designs.

Cost: skopt refits the surrogate after every result. The default random
forest stays fast over long runs: on the DRAM problem (2-core x86_64) a step
(suggest, evaluate, tell) takes 0.12 s after 100 results and 0.17 s after 500
(``benchmarks/bo_speed.py``). A GP refit is cubic in the number of results,
and fitting its kernel hyperparameters by maximum likelihood takes many
refits; skopt does that after every result, which made a step take 21 s
after 500 results. Here they are fitted only every ``gp_refit_every`` results
(warm-started from the last ones) and the GP is refitted with them in
between, which brings the GP's step to 4.3 s after 500 results (0.4 s after
100); the acquisition, optimised by L-BFGS over the GP, stays dear. skopt's
own record of every fitted model is cut to the last one.

Resuming: :meth:`BayesOpt.checkpoint` saves, as plain JSON values, what the
told trials do not give back (skopt's random state, the hedge's gains, the
proposals computed after the last result, the GP's hyperparameters and the
agent's own generator). :meth:`BayesOpt.restore` tells skopt every logged
trial at once, fits one surrogate and puts that state back, so a resumed run
suggests what the uninterrupted run would have, without one surrogate fit per
logged evaluation: resuming a 500-evaluation run and making one more
evaluation took 4.3 s, where replaying it took 318 s (the run itself 338 s;
``benchmarks/resume_speed.py`` on a busy 2-core machine).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from sklearn.base import clone
from skopt import Optimizer
from skopt.learning import ExtraTreesRegressor, GaussianProcessRegressor, RandomForestRegressor
from skopt.learning.gaussian_process.kernels import WhiteKernel
from skopt.space import Categorical, Dimension, Integer, Real

from archgym.agent import Agent, Trial, decode_random_state, encode_random_state, register_agent
from archgym.errors import ConfigurationError, DatasetError
from archgym.space import Design, DesignSpace, Parameter, ParameterKind

__all__ = ["BayesOpt"]

_ESTIMATORS = ("GP", "RF", "ET")
_ACQUISITIONS = ("gp_hedge", "EI", "PI", "LCB")
_INITIAL_POINT_GENERATORS = ("random", "sobol", "halton", "hammersly", "lhs", "grid")
_ACQ_OPTIMIZERS = ("auto", "sampling", "lbfgs")
_BATCH_STRATEGIES = ("cl_min", "cl_mean", "cl_max")

_GBRT_UNSUPPORTED = (
    "agent 'bo': estimator 'GBRT' is not supported: scikit-optimize 0.10 (unmaintained) wraps it in "
    "a quantile regressor that current scikit-learn no longer recognises as a regressor, so skopt "
    "rejects it; use one of GP, RF, ET"
)

_MAX_RANDOM_TRIES = 64
"""Random draws for a not yet suggested design before enumerating the unseen ones."""

DesignKey = tuple[Any, ...]


class _VectorisedStdMixin:
    """Tree-ensemble ``predict(X, return_std=True)`` in one pass per tree.

    skopt computes the standard deviation of a forest with two scikit-learn
    calls per tree (``apply`` and ``predict``), each validating its input
    again; with 100 trees and thousands of candidate designs per update
    that validation dominated a run. This reads each tree's leaves once and
    takes the mean and variance from the tree arrays, by the same formula as
    skopt (law of total variance over trees, section 4.3.2 of
    arXiv:1211.0906, leaf variances floored at ``min_variance``).
    """

    def predict(self, X: Any, return_std: bool = False) -> Any:
        if not return_std:
            return super().predict(X)
        if self.criterion != "squared_error":
            raise ValueError(f"standard deviations need criterion 'squared_error', got {self.criterion!r}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        mean = np.zeros(len(X))
        second_moment = np.zeros(len(X))
        for tree in self.estimators_:
            leaves = tree.tree_.apply(X)
            tree_mean = tree.tree_.value[leaves, 0, 0]
            mean += tree_mean
            second_moment += np.maximum(tree.tree_.impurity[leaves], self.min_variance) + tree_mean**2
        mean /= len(self.estimators_)
        variance = second_moment / len(self.estimators_) - mean**2
        return mean, np.sqrt(np.maximum(variance, 0.0))


class _RandomForest(_VectorisedStdMixin, RandomForestRegressor):
    """skopt's random-forest surrogate with a vectorised standard deviation."""


class _ExtraTrees(_VectorisedStdMixin, ExtraTreesRegressor):
    """skopt's extra-trees surrogate with a vectorised standard deviation."""


_TREE_SURROGATES = {"RF": _RandomForest, "ET": _ExtraTrees}


@register_agent("bo", aliases=("bayesopt",))
class BayesOpt(Agent):
    """Bayesian optimisation with a GP, random-forest or extra-trees surrogate (scikit-optimize).

    Settings (``config``):

    - ``estimator``: Surrogate model: ``"RF"`` (random forest; default: fast
      over hundreds of evaluations and as good as the GP on the DRAM
      problem), ``"ET"`` (extra trees; faster still, but it can settle short
      of the optimum) or ``"GP"`` (Gaussian process with a Matern kernel; a
      step costs seconds after a hundred results). ``"GBRT"`` is rejected:
      it does not work with current scikit-learn.
    - ``acquisition``: skopt's ``acq_func``: ``"gp_hedge"`` (default; picks
      one of EI, PI, LCB at random, favouring the one that has done best),
      ``"EI"``, ``"PI"`` or ``"LCB"``.
    - ``initial_points``: Designs proposed by ``initial_point_generator``
      before the first model is fitted (at least 1).
    - ``initial_point_generator``: ``"random"`` (default), ``"sobol"``,
      ``"halton"``, ``"hammersly"``, ``"lhs"`` or ``"grid"``.
    - ``acq_optimizer``: How the acquisition is optimised: ``"sampling"``
      (best of ``n_candidates`` random designs), ``"lbfgs"`` (L-BFGS from the
      best few of them; GP only) or ``"auto"`` (default; lbfgs for a GP,
      sampling otherwise).
    - ``n_candidates``: Random designs at which the acquisition is evaluated
      after every update.
    - ``xi``: Improvement margin of EI and PI (>= 0); larger explores more.
    - ``kappa``: Weight of the standard deviation in LCB (>= 0); larger
      explores more.
    - ``batch_strategy``: Constant-liar strategy of ``suggest(n)`` for
      ``n > 1``: each design of the batch is told to a copy of the optimiser
      with a fake result, the best (``"cl_min"``, default), mean
      (``"cl_mean"``) or worst (``"cl_max"``) objective seen so far, before the
      next one is chosen. ``cl_max`` spreads a batch out the most.
    - ``gp_refit_every``: With the GP, its kernel hyperparameters (amplitude,
      length scales, noise) are fitted by maximum likelihood after this many
      new results (and after the first); in between the GP is refitted to
      every result with the hyperparameters it has. 1 fits them after every
      result, as skopt does (slow past a hundred results).

    A suggested design is never suggested again (unless the space has no
    other design left): a repeat from skopt is replaced by a random unseen
    design. Once every design of a finite space has been suggested,
    :meth:`suggest` returns no more designs. Ask for a batch with
    ``suggest(n)`` rather than calling ``suggest(1)`` repeatedly without
    telling results, which gives random designs after the first.

    Args:
        design_space: The space to search.
        seed: Seed of skopt's random state; the same seed gives the same suggestions.
        **config: The settings above.

    Raises:
        ConfigurationError: a setting is unknown, has the wrong type or an
            unsupported value.
    """

    defaults: ClassVar[Mapping[str, Any]] = {
        "estimator": "RF",
        "acquisition": "gp_hedge",
        "initial_points": 10,
        "initial_point_generator": "random",
        "acq_optimizer": "auto",
        "n_candidates": 2000,
        "xi": 0.01,
        "kappa": 1.96,
        "batch_strategy": "cl_min",
        "gp_refit_every": 10,
    }

    def __init__(self, design_space: DesignSpace, seed: int | None = None, **config: Any) -> None:
        super().__init__(design_space, seed=seed, **config)
        self._validate_config()
        self._fixed: Design = {
            p.name: p.fixed_value for p in design_space.parameters if p.fixed_value is not None
        }
        self._free: tuple[Parameter, ...] = tuple(p for p in design_space.parameters if p.fixed_value is None)
        self._known: set[DesignKey] = set()
        # Objective (-reward) of every told trial, NaN for infeasible ones, in skopt's order.
        self._objectives: list[float] = []
        # Results told when the GP's kernel hyperparameters were last fitted by maximum likelihood.
        self._hyperparameters_fitted_at: int | None = None
        self._optimizer = self._build_optimizer() if self._free else None

    # -- configuration --------------------------------------------------------------------------

    def _validate_config(self) -> None:
        config = self.config
        if config["estimator"].upper() == "GBRT":
            raise ConfigurationError(_GBRT_UNSUPPORTED)
        for setting, allowed in (
            ("estimator", _ESTIMATORS),
            ("acquisition", _ACQUISITIONS),
            ("initial_point_generator", _INITIAL_POINT_GENERATORS),
            ("acq_optimizer", _ACQ_OPTIMIZERS),
            ("batch_strategy", _BATCH_STRATEGIES),
        ):
            config[setting] = _choice(setting, config[setting], allowed)
        if config["acq_optimizer"] == "lbfgs" and config["estimator"] != "GP":
            raise ConfigurationError(
                f"agent 'bo': acq_optimizer 'lbfgs' needs the gradient of the surrogate, which only "
                f"estimator 'GP' provides (estimator is {config['estimator']!r}); use 'sampling' or 'auto'"
            )
        for name in ("initial_points", "n_candidates", "gp_refit_every"):
            if config[name] < 1:
                raise ConfigurationError(f"agent 'bo': {name} must be at least 1, got {config[name]!r}")
        for name in ("xi", "kappa"):
            if not (math.isfinite(config[name]) and config[name] >= 0.0):
                raise ConfigurationError(
                    f"agent 'bo': {name} must be a finite number >= 0, got {config[name]!r}"
                )

    def _build_optimizer(self) -> Optimizer:
        config = self.config
        with warnings.catch_warnings():
            # scipy's Sobol' sampler warns when the number of points is not a power of two.
            warnings.filterwarnings("ignore", message="The balance properties of Sobol", category=UserWarning)
            return Optimizer(
                dimensions=[_dimension(p) for p in self._free],
                base_estimator=self._surrogate(),
                n_initial_points=config["initial_points"],
                initial_point_generator=config["initial_point_generator"],
                acq_func=config["acquisition"],
                acq_optimizer=config["acq_optimizer"],
                random_state=int(self.rng.integers(2**31 - 1)),
                acq_func_kwargs={"xi": config["xi"], "kappa": config["kappa"]},
                acq_optimizer_kwargs={"n_points": config["n_candidates"]},
                model_queue_size=1,  # skopt keeps every fitted model otherwise (gigabytes over a long GP run)
            )

    def _surrogate(self) -> str | RandomForestRegressor | ExtraTreesRegressor:
        """skopt's base estimator: its GP by name, or a tree ensemble with skopt's default settings."""
        estimator = self.config["estimator"]
        if estimator not in _TREE_SURROGATES:
            return estimator
        return _TREE_SURROGATES[estimator](
            n_estimators=100, min_samples_leaf=3, random_state=int(self.rng.integers(2**31 - 1))
        )

    # -- ask ------------------------------------------------------------------------------------

    def suggest(self, n: int = 1) -> list[Design]:
        """Return up to ``n`` designs not suggested before (fewer once a finite space runs out).

        With ``n > 1`` the batch comes from skopt's constant-liar strategy
        (``batch_strategy``), so its designs are spread out rather than all
        at the acquisition optimum.
        """
        if n < 0:
            raise ValueError(f"suggest(n) needs n >= 0, got {n}")
        if n == 0:
            return []
        if self._optimizer is None:
            proposals = [dict(self._fixed)]  # every knob is fixed: the space holds one design
        else:
            proposals = [self._decode(point) for point in self._ask(n)]
        designs: list[Design] = []
        for design in proposals:
            if self._key(design) in self._known:
                replacement = self._unseen_design()
                if replacement is None:
                    break
                design = replacement
            self._known.add(self._key(design))
            designs.append(design)
        return designs

    def _ask(self, n: int) -> list[list[Any]]:
        assert self._optimizer is not None
        with warnings.catch_warnings():
            # skopt warns when its optimum was evaluated before; suggest() replaces such repeats.
            warnings.filterwarnings("ignore", message="The objective has been evaluated", category=UserWarning)
            if n == 1:
                return [self._optimizer.ask()]
            return self._optimizer.ask(n_points=n, strategy=self.config["batch_strategy"])

    def _unseen_design(self) -> Design | None:
        """A uniformly random design not suggested or told before, or None if there is none."""
        space = self.design_space
        if not self._free or (space.is_discrete and len(self._known) >= space.size):
            return None  # with every knob fixed the space holds one design
        for _ in range(_MAX_RANDOM_TRIES):
            design = space.sample(self.rng)
            if self._key(design) not in self._known:
                return design
        if not space.is_discrete:
            return None  # a continuous knob that repeats this often has no other value in practice
        # Most of a (necessarily small, discrete) space is known: pick among the rest directly.
        unseen = [row for row in space.all_indices() if self._key(space.decode(row)) not in self._known]
        if not unseen:
            return None
        return space.decode(unseen[int(self.rng.integers(len(unseen)))])

    # -- tell -----------------------------------------------------------------------------------

    def update(self, trials: Sequence[Trial]) -> None:
        """Tell skopt the results (as ``-reward``, infeasible ones as the worst seen) and refit."""
        super().update(trials)
        if not trials:
            return
        for trial in trials:
            self._known.add(self._key(trial.design))
        if self._optimizer is None:
            return
        new_objectives = [
            -trial.reward if trial.evaluation.feasible and math.isfinite(trial.reward) else math.nan
            for trial in trials
        ]
        self._objectives.extend(new_objectives)
        penalty = self._penalty()
        # Earlier infeasible results were told the penalty of their time; the worst may have changed.
        told = self._optimizer.yi
        for i, objective in enumerate(self._objectives[: len(told)]):
            if math.isnan(objective):
                told[i] = penalty
        points = [self._encode(trial.design) for trial in trials]
        values = [penalty if math.isnan(v) else v for v in new_objectives]
        gp = self._optimizer.base_estimator_
        if not isinstance(gp, GaussianProcessRegressor):
            self._optimizer.tell(points, values)
            return
        told_after = len(told) + len(points)
        refit = (self._hyperparameters_fitted_at is None
                 or told_after - self._hyperparameters_fitted_at >= self.config["gp_refit_every"])
        # Maximum likelihood (warm-started from the last hyperparameters) only when due; otherwise the
        # GP is fitted to every result with the hyperparameters it has, a single Cholesky factorisation.
        gp.set_params(optimizer="fmin_l_bfgs_b" if refit else None)
        self._optimizer.tell(points, values)
        if self._optimizer.models:
            if refit:
                self._hyperparameters_fitted_at = told_after
            # Keep them fixed in between, also for the copies that a batch ask fits with fake results.
            gp.set_params(kernel=_fitted_kernel(self._optimizer.models[-1]), optimizer=None)

    # -- resume ---------------------------------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        """What :meth:`restore` needs besides the told trials, as plain JSON values."""
        state: dict[str, Any] = {"rng": encode_random_state(self.rng)}
        optimizer = self._optimizer
        if optimizer is None:
            return state
        state["skopt_rng"] = encode_random_state(optimizer.rng)
        state["initial_points_left"] = int(optimizer._n_initial_points)
        state["hyperparameters_fitted_at"] = self._hyperparameters_fitted_at
        if hasattr(optimizer, "gains_"):
            state["gains"] = [float(gain) for gain in optimizer.gains_]
        if hasattr(optimizer, "next_xs_"):
            state["next_xs"] = [np.asarray(x, dtype=np.float64).tolist() for x in optimizer.next_xs_]
        if hasattr(optimizer, "_next_x"):
            state["next_x"] = [_plain(x) for x in optimizer._next_x]
        gp = optimizer.base_estimator_
        if isinstance(gp, GaussianProcessRegressor) and optimizer.models:
            params = gp.kernel.get_params()
            state["kernel"] = {h.name: _plain(params[h.name]) for h in gp.kernel.hyperparameters}
        return state

    def restore(
        self, trials: Sequence[Trial], *, batch_size: int = 1, state: Mapping[str, Any] | None = None
    ) -> int:
        """Tell skopt every trial at once and put back the state :meth:`checkpoint` saved after them.

        One surrogate is fitted (skopt needs a fitted model to answer), with
        the GP's saved hyperparameters, and nothing is asked, so the next
        suggestions are those of the uninterrupted run. Without a state the
        run is replayed (:meth:`Agent.restore`).

        Returns:
            How many of the trials the agent knows: all of them with a state.

        Raises:
            DatasetError: the state is not one :meth:`checkpoint` writes for this agent's settings.
        """
        if state is None:
            return super().restore(trials, batch_size=batch_size)
        Agent.update(self, trials)
        self._known.update(self._key(trial.design) for trial in trials)
        try:
            decode_random_state(self.rng, state["rng"])
            if self._optimizer is not None:
                self._restore_optimizer(trials, state)
        except (KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"agent 'bo': the saved state cannot be restored ({error!r}); it was saved by "
                               "another version or with other settings") from None
        return len(trials)

    def _restore_optimizer(self, trials: Sequence[Trial], state: Mapping[str, Any]) -> None:
        optimizer = self._optimizer
        assert optimizer is not None
        self._objectives = [
            -trial.reward if trial.evaluation.feasible and math.isfinite(trial.reward) else math.nan
            for trial in trials
        ]
        penalty = self._penalty()
        optimizer.Xi = [self._encode(trial.design) for trial in trials]
        optimizer.yi = [penalty if math.isnan(v) else v for v in self._objectives]
        optimizer._n_initial_points = int(state["initial_points_left"])
        optimizer.cache_ = {}
        decode_random_state(optimizer.rng, state["skopt_rng"])
        if "gains" in state:
            optimizer.gains_ = np.asarray(state["gains"], dtype=np.float64)
        if "next_xs" in state:
            optimizer.next_xs_ = [np.asarray(x, dtype=np.float64) for x in state["next_xs"]]
        if "next_x" in state:
            optimizer._next_x = list(state["next_x"])
        fitted_at = state["hyperparameters_fitted_at"]
        self._hyperparameters_fitted_at = None if fitted_at is None else int(fitted_at)
        gp = optimizer.base_estimator_
        if isinstance(gp, GaussianProcessRegressor) and "kernel" in state:
            kernel = gp.kernel
            if not any(isinstance(part, WhiteKernel) for part in kernel.get_params().values()):
                kernel = kernel + WhiteKernel()  # the noise term skopt's GP adds when it is first fitted
            kernel.set_params(**{name: np.asarray(value, dtype=np.float64) if isinstance(value, list) else value
                                 for name, value in state["kernel"].items()})
            gp.set_params(kernel=kernel, optimizer=None)
        if optimizer._n_initial_points <= 0 and optimizer.Xi:
            # skopt answers from a fitted model; the proposals it made after the last result are restored above.
            model = clone(gp)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(optimizer.space.transform(optimizer.Xi), optimizer.yi)
            optimizer.models = [model]

    def _penalty(self) -> float:
        """skopt objective for infeasible results: the worst feasible one so far (0 before any)."""
        finite = [v for v in self._objectives if not math.isnan(v)]
        return max(finite) if finite else 0.0

    # -- conversions ----------------------------------------------------------------------------

    def _encode(self, design: Design) -> list[Any]:
        """skopt point (one entry per free knob) of a design."""
        return [_to_skopt(p, design[p.name]) for p in self._free]

    def _decode(self, point: Sequence[Any]) -> Design:
        """Design of a skopt point, with the fixed knobs filled in, in knob order."""
        free = {p.name: _from_skopt(p, x) for p, x in zip(self._free, point)}
        return {name: free[name] if name in free else self._fixed[name] for name in self.design_space.names}

    def _key(self, design: Design) -> DesignKey:
        return tuple(self.design_space[name].canonical(design[name]) for name in self.design_space.names)



def _plain(value: Any) -> Any:
    """A NumPy scalar or array as plain Python values, for JSON."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def _fitted_kernel(gp: GaussianProcessRegressor) -> Any:
    """The kernel of a fitted skopt GP with its fitted hyperparameters, learned noise level included.

    skopt zeroes the white-noise term of ``kernel_`` after fitting (for noise-free predictions) and
    keeps the level in ``noise_``; the term is put back so that a refit sees the same noise.
    """
    kernel = clone(gp.kernel_)
    if gp.noise_ is not None:
        white = next(name for name, part in kernel.get_params().items() if isinstance(part, WhiteKernel))
        kernel.set_params(**{white: WhiteKernel(noise_level=gp.noise_)})
    return kernel


def _dimension(parameter: Parameter) -> Dimension:
    kind = parameter.kind
    if kind is ParameterKind.CATEGORICAL:
        # Indices, not values: skopt needs hashable, sortable categories of one type.
        return Categorical(list(range(parameter.cardinality)), name=parameter.name)
    if kind is ParameterKind.ORDINAL:
        return Integer(0, parameter.cardinality - 1, name=parameter.name)
    low, high = parameter.values
    if kind is ParameterKind.INTEGER:
        return Integer(int(low), int(high), name=parameter.name)
    return Real(float(low), float(high), name=parameter.name)


def _to_skopt(parameter: Parameter, value: Any) -> Any:
    if parameter.kind in (ParameterKind.CATEGORICAL, ParameterKind.ORDINAL):
        return parameter.index_of(value)
    return parameter.canonical(value)


def _from_skopt(parameter: Parameter, x: Any) -> Any:
    if parameter.kind in (ParameterKind.CATEGORICAL, ParameterKind.ORDINAL):
        return parameter.value_at(int(x))
    low, high = parameter.values
    if parameter.kind is ParameterKind.INTEGER:
        return int(x)
    return float(min(max(float(x), low), high))  # the unit-range transform can round past a bound


def _choice(setting: str, value: str, allowed: Sequence[str]) -> str:
    """skopt's spelling of ``value`` among ``allowed``, matched ignoring case."""
    for option in allowed:
        if value.lower() == option.lower():
            return option
    raise ConfigurationError(
        f"agent 'bo': {setting} {value!r} is not supported; use one of {', '.join(allowed)}"
    )
