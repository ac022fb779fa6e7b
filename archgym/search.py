"""The ask/tell loop that drives any agent against any cost model.

:func:`run_search` asks an :class:`~archgym.agent.Agent` for designs,
evaluates them with a :class:`~archgym.cost_model.CostModel`, turns the
results into rewards with an objective, logs them, and tells the agent. It
stops after exactly ``budget`` evaluations.

A run that was killed can be resumed from its logged rows, which are not
evaluated again. The agent is rebuilt from them with
:meth:`~archgym.agent.Agent.restore`: agents that save their state
(:meth:`~archgym.agent.Agent.checkpoint`, written as JSON beside the dataset
after every round) continue from it without being asked again; the others
replay the run (asked again from the start, their suggestions checked against
the logged designs), which is cheap for them. Either way the resumed run ends
with the same trials as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from archgym.agent import Agent, Trial, best_trial, check_replayed_design
from archgym.cost_model import CostModel, Evaluation
from archgym.errors import ArchGymError, ConfigurationError, DatasetError, InvalidDesignError
from archgym.objective import check_reported
from archgym.space import Design, DesignSpace

if TYPE_CHECKING:
    from archgym.dataset import EvaluationLogger
    from archgym.objective import Objective

__all__ = ["Confirmation", "SearchProgress", "SearchResult", "best_trial", "confirm_best", "run_search"]

# Not called ``logger``: run_search takes a dataset logger under that name.
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchProgress:
    """Where a search stands, passed to the ``callback`` of :func:`run_search` after each batch.

    Args:
        evaluations: Evaluations done so far (replayed ones included).
        budget: Total evaluations the search will do.
        best_reward: Highest reward so far (NaN before any trial).
        best_design: The design that earned it (None before any trial).
        last_reward: Reward of the most recent evaluation.
    """

    evaluations: int
    budget: int
    best_reward: float
    best_design: Design | None
    last_reward: float


@dataclass
class SearchResult:
    """The outcome of :func:`run_search`.

    Args:
        best: The highest-reward trial (None if nothing was evaluated).
        trials: Every trial, in evaluation order.
        evaluations: Number of trials.
        wall_time_s: Seconds the search took (this call only, for a resumed run).
        run_id: The logger's run id, ``""`` without a logger.
    """

    best: Trial | None
    trials: list[Trial] = field(default_factory=list)
    evaluations: int = 0
    wall_time_s: float = 0.0
    run_id: str = ""

    def to_frame(self) -> pd.DataFrame:
        """One row per trial: ``step``, every knob, every metric, ``feasible``, ``reason``,
        ``reward`` and ``wall_time_s`` (the column names of logged datasets)."""
        rows = []
        for t in self.trials:
            rows.append({
                "step": t.step,
                **t.design,
                **dict(t.evaluation.metrics),
                "feasible": t.evaluation.feasible,
                "reason": t.evaluation.reason,
                "reward": t.reward,
                "wall_time_s": t.evaluation.wall_time_s,
            })
        return pd.DataFrame(rows)


def run_search(
    agent: Agent,
    cost_model: CostModel,
    objective: Objective | Callable[[Evaluation], float],
    budget: int,
    workload: Any = None,
    batch_size: int = 1,
    logger: EvaluationLogger | None = None,
    resume_rows: pd.DataFrame | None = None,
    callback: Callable[[SearchProgress], None] | None = None,
    agent_state: str | os.PathLike[str] | None = None,
) -> SearchResult:
    """Run an ask/tell search for exactly ``budget`` evaluations.

    Each round asks the agent for ``min(batch_size, remaining)`` designs,
    validates them, evaluates them (with ``cost_model.evaluate_batch`` when
    ``batch_size > 1``), scores them with ``objective``, logs them, and tells
    the agent. Infeasible designs are trials too, with whatever reward the
    objective gives them. The search ends early only if the agent returns no
    designs (it has nothing left to propose).

    Args:
        agent: The search algorithm; its design space must be the cost model's.
        cost_model: Scores designs.
        objective: Turns an evaluation into a reward (higher is better). Its
            ``batch`` method, if any, scores a whole batch at once.
        budget: Number of evaluations, replayed ones included.
        workload: Passed to the cost model (None for its default workload).
        batch_size: Designs asked for and evaluated per round.
        logger: Receives one row per new evaluation. Its next step must be
            the number of rows already logged for the run (0 for a new run).
            Do not also wrap ``cost_model`` in a
            :class:`~archgym.dataset.LoggedCostModel`, or rows are logged twice.
        resume_rows: Rows logged earlier for this run, sorted by step (from
            :func:`archgym.dataset.load_run_rows`). They are replayed instead
            of evaluated (with their logged rewards) and not logged again, and
            the agent is rebuilt from them (:meth:`Agent.restore`, from the
            state saved in ``agent_state`` if it has one). The agent must be
            built with the same name, seed and settings, and the search run
            with the same batch size and objective, as the original run; a
            replayed suggestion that differs from the logged design raises.
        callback: Called with a :class:`SearchProgress` after every round, and
            once after a resumed run's agent is rebuilt.
        agent_state: JSON file of the agent's checkpoint (:meth:`Agent.checkpoint`):
            rewritten after every round if the agent keeps one, and read back
            when resuming. A file that does not match ``resume_rows`` is ignored.

    Returns:
        The trials, the best one, and timing.

    Raises:
        ConfigurationError: bad ``budget``/``batch_size``, mismatched design
            spaces, an objective on a metric the cost model does not report, or a logger that does not continue where ``resume_rows`` end.
        InvalidDesignError: the agent suggested a design outside the space.
        DatasetError: ``resume_rows`` are malformed, or the agent's suggestions
            differ from the logged designs, so the run cannot be resumed.
    """
    start = time.perf_counter()
    _check_arguments(agent, cost_model, budget, batch_size)
    check_reported(objective, cost_model)
    space = cost_model.design_space
    replay = _Replay(resume_rows, space, cost_model.metric_names, budget) if resume_rows is not None else None
    _check_logger(logger, 0 if replay is None else len(replay))

    trials: list[Trial] = []
    best: Trial | None = None
    if replay is not None and len(replay):
        trials = _restore(agent, replay, batch_size, agent_state)
        best = best_trial(trials)
        if callback is not None and trials:
            callback(_progress(trials, budget, best))
    while len(trials) < budget:
        designs = _ask(agent, space, min(batch_size, budget - len(trials)))
        if not designs:
            _log.info("agent %s has no more designs to propose after %d evaluations", agent.name, len(trials))
            break
        step = len(trials)
        n_replayed = replay.count_from(step, len(designs)) if replay is not None else 0
        new = [replay.trial(step + i, d) for i, d in enumerate(designs[:n_replayed])] \
            if replay is not None and n_replayed else []
        if n_replayed < len(designs):
            new += _evaluate(designs[n_replayed:], step + n_replayed, cost_model, objective, workload,
                             batch=batch_size > 1, log=logger)
        agent.update(new)
        trials.extend(new)
        best = best_trial(([best] if best is not None else []) + new)
        if agent_state is not None:
            _save_state(agent, trials, agent_state)
        if callback is not None:
            callback(_progress(trials, budget, best))
    return SearchResult(
        best=best,
        trials=trials,
        evaluations=len(trials),
        wall_time_s=time.perf_counter() - start,
        run_id=logger.context.run_id if logger is not None else "",
    )


def _progress(trials: Sequence[Trial], budget: int, best: Trial | None) -> SearchProgress:
    return SearchProgress(
        evaluations=len(trials),
        budget=budget,
        best_reward=best.reward if best is not None else math.nan,
        best_design=dict(best.design) if best is not None else None,
        last_reward=trials[-1].reward,
    )


_STATE_VERSION = 1
"""Version of the agent-state files :func:`run_search` writes."""


def _restore(
    agent: Agent, replay: _Replay, batch_size: int, state_file: str | os.PathLike[str] | None
) -> list[Trial]:
    """Rebuild the agent from the logged rows; return the trials it now knows.

    The rows it does not take (a round cut short by the interruption) are left to the search loop,
    which asks for that round as the original run did and replays them.
    """
    start = time.perf_counter()
    logged = [replay.logged_trial(step) for step in range(len(replay))]
    saved = _read_state(agent, logged, state_file) if state_file is not None else None
    if saved is not None:
        covered, state = saved
        told = agent.restore(logged[:covered], batch_size=batch_size, state=state)
        how = "from its saved state"
    else:
        covered = len(logged)
        told = agent.restore(logged, batch_size=batch_size)
        how = "by replaying its suggestions"
    if isinstance(told, bool) or not isinstance(told, int) or not 0 <= told <= covered:
        raise ConfigurationError(f"agent {agent.name or type(agent).__name__!r}: restore() must return how many of "
                                 f"the {covered} trials it was given it knows, got {told!r}")
    _log.info("resumed %d logged evaluations in %.2f s (agent %s rebuilt %s)", told, time.perf_counter() - start,
              agent.name or type(agent).__name__, how)
    return logged[:told]


def _read_state(
    agent: Agent, trials: Sequence[Trial], state_file: str | os.PathLike[str]
) -> tuple[int, dict[str, Any]] | None:
    """The saved state and the number of trials it covers, if it belongs to these trials; else None."""
    try:
        with open(state_file, encoding="utf-8") as stream:
            saved = json.load(stream)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        _log.warning("ignoring the agent state in %s, which cannot be read: %s", state_file, error)
        return None
    try:
        told, last, state = int(saved["evaluations"]), saved["last_design"], saved["state"]
        usable = (saved.get("version") == _STATE_VERSION and saved.get("agent") == agent.name
                  and 0 < told <= len(trials) and isinstance(state, dict))
        if usable:
            check_replayed_design(agent.design_space, told - 1, agent.design_space.validate(last),
                                  trials[told - 1].design)
    except (KeyError, TypeError, ValueError, ArchGymError) as error:
        _log.warning("ignoring the agent state in %s, which does not match the run: %s", state_file, error)
        return None
    if not usable:
        _log.info("ignoring the agent state in %s: it is not of these %d logged evaluations", state_file,
                  len(trials))
        return None
    return told, state


def _save_state(agent: Agent, trials: Sequence[Trial], state_file: str | os.PathLike[str]) -> None:
    """Write the agent's checkpoint after ``trials``, if it keeps one (replacing the file atomically)."""
    state = agent.checkpoint()
    if state is None:
        return
    saved = {"version": _STATE_VERSION, "agent": agent.name, "evaluations": len(trials),
             "last_design": dict(trials[-1].design), "state": state}
    target = os.fspath(state_file)
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    temporary = f"{target}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(saved, stream, allow_nan=True)
    os.replace(temporary, target)


def _check_arguments(agent: Agent, cost_model: CostModel, budget: int, batch_size: int) -> None:
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ConfigurationError(f"budget must be a non-negative integer (evaluations), got {budget!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigurationError(f"batch_size must be a positive integer, got {batch_size!r}")
    if agent.design_space != cost_model.design_space:
        raise ConfigurationError(
            f"agent {agent.name or type(agent).__name__!r} searches design space "
            f"{agent.design_space.name!r} ({', '.join(agent.design_space.names)}) but cost model "
            f"{cost_model.name!r} evaluates {cost_model.design_space.name!r} "
            f"({', '.join(cost_model.design_space.names)}); build the agent on cost_model.design_space"
        )


def _check_logger(log: EvaluationLogger | None, replayed: int) -> None:
    next_step = getattr(log, "next_step", None)
    if log is None or next_step is None or next_step == replayed:
        return
    if replayed == 0:
        raise ConfigurationError(
            f"run {log.context.run_id!r} already has {next_step} logged rows; resume it with "
            "resume_rows=load_run_rows(out_dir, run_id), or log to a new run id"
        )
    raise ConfigurationError(
        f"the logger continues run {log.context.run_id!r} at step {next_step} but resume_rows hold "
        f"{replayed} rows; load the rows of the same run the logger writes to"
    )


def _ask(agent: Agent, space: DesignSpace, n: int) -> list[Design]:
    """Ask the agent for up to ``n`` designs and validate them."""
    label = agent.name or type(agent).__name__
    designs = list(agent.suggest(n))
    if len(designs) > n:
        raise ConfigurationError(f"agent {label!r} returned {len(designs)} designs when asked for {n}")
    validated = []
    for design in designs:
        try:
            validated.append(space.validate(design))
        except InvalidDesignError as exc:
            raise InvalidDesignError(
                f"agent {label!r} suggested an invalid design {design!r}: {exc}"
            ) from exc
    return validated


def _evaluate(
    designs: list[Design],
    first_step: int,
    cost_model: CostModel,
    objective: Objective | Callable[[Evaluation], float],
    workload: Any,
    batch: bool,
    log: EvaluationLogger | None,
) -> list[Trial]:
    """Evaluate, score and log designs; return them as trials numbered from ``first_step``."""
    if batch:
        results = cost_model.evaluate_batch(designs, workload)
        score_batch = getattr(objective, "batch", None)
        rewards = (
            np.asarray(score_batch(results), dtype=np.float64) if score_batch is not None
            else np.array([objective(e) for e in results], dtype=np.float64)
        )
        if log is not None:
            log.log_batch(designs, results, rewards)
        evaluations = list(results)
    else:
        evaluations = [cost_model.evaluate(d, workload) for d in designs]
        rewards = np.array([objective(e) for e in evaluations], dtype=np.float64)
        if log is not None:
            for design, evaluation, reward in zip(designs, evaluations, rewards):
                log.log(design, evaluation, float(reward))
    return [
        Trial(design, evaluation, float(reward), first_step + i)
        for i, (design, evaluation, reward) in enumerate(zip(designs, evaluations, rewards))
    ]


class _Replay:
    """Logged rows of an interrupted run, turned back into trials."""

    def __init__(
        self, rows: pd.DataFrame, space: DesignSpace, metric_names: Sequence[str], budget: int
    ) -> None:
        self.space = space
        self.metric_names = tuple(metric_names)
        if len(rows) == 0:
            self.rows: list[dict[str, Any]] = []
            return
        required = ["step", *space.names, *self.metric_names, "feasible", "reason", "reward"]
        missing = [c for c in required if c not in rows.columns]
        if missing:
            raise DatasetError(
                f"resume_rows lack column(s) {', '.join(map(repr, missing))}; expected rows of "
                "load_run_rows() logged with this design space and cost model"
            )
        steps = rows["step"].to_numpy()
        if not np.array_equal(steps, np.arange(len(rows))):
            raise DatasetError(
                f"resume_rows must hold steps 0..{len(rows) - 1} in order, one row each; got steps "
                f"{_preview(steps)} (rows of more than one run, or a damaged run?)"
            )
        if len(rows) > budget:
            raise ConfigurationError(
                f"resume_rows hold {len(rows)} evaluations, more than the budget of {budget}; "
                f"resume with budget >= {len(rows)}"
            )
        self.rows = [{str(k): v for k, v in row.items()} for row in rows.to_dict("records")]

    def __len__(self) -> int:
        return len(self.rows)

    def count_from(self, step: int, n: int) -> int:
        """How many of ``n`` evaluations starting at ``step`` are replayed."""
        return max(0, min(n, len(self.rows) - step))

    def trial(self, step: int, design: Design) -> Trial:
        """The logged trial at ``step``, after checking the agent suggested the same design."""
        logged = self.logged_trial(step)
        check_replayed_design(self.space, step, design, logged.design)
        return Trial(design, logged.evaluation, logged.reward, step)

    def logged_trial(self, step: int) -> Trial:
        """The trial logged at ``step``, with the logged design."""
        row = self.rows[step]
        try:
            design = self.space.validate({name: _plain(row[name]) for name in self.space.names})
        except InvalidDesignError as exc:
            raise DatasetError(f"resume_rows: the design logged at step {step} is not valid: {exc}") from exc
        metrics = {m: _float(row[m]) for m in self.metric_names}
        reason = row["reason"]
        evaluation = Evaluation(
            metrics=metrics,
            feasible=bool(row["feasible"]),
            reason="" if _missing(reason) else str(reason),
            wall_time_s=_float(row.get("wall_time_s", 0.0)),
        )
        return Trial(design, evaluation, _float(row["reward"]), step)


def _plain(value: Any) -> Any:
    """A NumPy scalar from a DataFrame as the Python value the space expects."""
    return value.item() if isinstance(value, np.generic) else value


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _float(value: Any) -> float:
    return math.nan if _missing(value) else float(value)


def _preview(values: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    return f"[{shown}{', ...' if len(values) > limit else ''}]"


@dataclass(frozen=True)
class Confirmation:
    """A design found on a cheap backend, re-evaluated on a higher-fidelity one.

    Args:
        rank: 1 for the best design of the search, 2 for the next, ...
        searched: Its trial on the backend the search ran on.
        confirmed: Its trial on the confirming backend (``step`` counts confirmations from 0).
    """

    rank: int
    searched: Trial
    confirmed: Trial


def confirm_best(
    trials: Sequence[Trial],
    top: int,
    cost_model: CostModel,
    objective: Objective | Callable[[Evaluation], float],
    workload: Any = None,
    logger: EvaluationLogger | None = None,
) -> list[Confirmation]:
    """Re-evaluate the best distinct designs of a search with another cost model.

    The multi-fidelity loop: search on a fast proxy, then confirm its best
    designs on a slower, more faithful backend. Designs are ranked by the
    search's reward (NaN rewards last, ties by step); a design evaluated
    several times counts once.

    Args:
        trials: The search's trials (``SearchResult.trials``).
        top: How many of the best distinct designs to confirm.
        cost_model: The confirming backend; it must share the search's design space.
        objective: Scores the confirmed evaluations (the search's objective).
        workload: The workload to confirm on.
        logger: Logs every confirming evaluation (a logger of its own run,
            whose context names the confirming backend).

    Returns:
        One :class:`Confirmation` per design, best searched reward first.

    Raises:
        ConfigurationError: ``top`` is not positive, or the design spaces differ.
    """
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ConfigurationError(f"the number of designs to confirm must be a positive integer, got {top!r}")
    ranked = sorted(
        trials, key=lambda t: (math.isnan(t.reward), -t.reward if not math.isnan(t.reward) else 0.0, t.step)
    )
    chosen: list[Trial] = []
    seen: set[tuple[Any, ...]] = set()
    for trial in ranked:
        key = tuple(trial.design[name] for name in cost_model.design_space.names)
        if key not in seen:
            seen.add(key)
            chosen.append(trial)
        if len(chosen) == top:
            break
    if not chosen:
        return []
    try:
        designs = [cost_model.design_space.validate(t.design) for t in chosen]
    except InvalidDesignError as error:
        raise ConfigurationError(
            f"the searched designs do not belong to {cost_model.name}'s design space: {error}"
        ) from None
    batch = cost_model.evaluate_batch(designs, workload)
    rewards = [float(objective(evaluation)) for evaluation in batch]
    if logger is not None:
        logger.log_batch(designs, batch, rewards)
    return [
        Confirmation(rank + 1, searched, Trial(dict(searched.design), evaluation, reward, rank))
        for rank, (searched, evaluation, reward) in enumerate(zip(chosen, batch, rewards))
    ]

