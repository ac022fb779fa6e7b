"""Reports on a dataset of searches (a sweep, or any runs logged to one directory).

:func:`write_report` reads the rows and run metadata of a dataset directory
and writes, into an output directory:

* ``runs.csv``: one row per run: agent, hyperparameter setting, problem,
  seed, best reward, regret, evaluations to reach the target, success, and
  its time (see below).
* ``summary.csv`` / ``summary.md``: per agent and setting on each problem
  (env, workload, objective): runs, success rate across seeds, median best
  reward and regret, median evaluations to the target; the Markdown file
  also holds the per-setting table over all problems and the headlines.
* ``lottery.csv`` and ``lottery.png``: the hyperparameter lottery, i.e. how
  each agent's success rate and regret spread over its settings.
* ``convergence.png``: median regret of the best design so far against
  evaluations, per agent, one panel per workload and objective.
* ``pareto.csv`` and ``pareto.png``: per workload, each agent's Pareto front
  of two metrics (all its evaluations pooled) and the front of all agents.

Regret and success need a reference reward per problem. By default it is the
best reward any run in the dataset found on that problem; with
``optimum=True`` it is the exact optimum, found by enumerating the design
space with the runs' backend (:func:`archgym.optimum.find_optimum`). A run
succeeds when its best reward reaches the objective's ``success_reward``
from the sweep spec, or otherwise comes within ``tolerance`` (relative) of
the reference.

Time is reported in three parts, since a run's first evaluation can cost far
more than the rest: ``evaluation_s``, the backend's seconds per evaluation
after the run's first (from the rows' ``wall_time_s``); ``first_evaluation_s``,
the backend's seconds on the run's first evaluation (its first batch, with a
batch size), which include preparing the workload when the backend does that
on first use; and ``run_time_s``, the run's wall time from its metadata
(the agent, the backend and logging; an ask/tell run prepares its workload
before this clock starts, a trainer's start-up is included).
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from archgym.dataset import load_dataset, read_run_metadata
from archgym.errors import ArchGymError, ConfigurationError, DatasetError
from archgym.optimum import relative_regret

__all__ = [
    "PROBLEM_COLUMNS",
    "Report",
    "convergence_curves",
    "headlines",
    "pareto_fronts",
    "parse_pareto_spec",
    "reference_rewards",
    "summarise_agents",
    "summarise_runs",
    "summarise_settings",
    "write_report",
]

PROBLEM_COLUMNS = ("env", "workload", "objective", "targets")
"""What makes two runs comparable: the same problem, workload, objective and targets."""

_SETTING_COLUMNS = ("agent", "setting")


@dataclass
class Report:
    """What :func:`write_report` computed and wrote.

    Args:
        runs: One row per run (see :func:`summarise_runs`).
        summary: Per agent, setting and problem.
        settings: Per agent and setting over all problems (the lottery table).
        agents: Per agent: how its outcome depends on the setting.
        references: The reference reward of each problem and where it came from.
        headlines: Sentences summarising the lottery.
        files: Every file written.
        notes: What was skipped and why (e.g. plots without matplotlib).
    """

    runs: pd.DataFrame
    summary: pd.DataFrame
    settings: pd.DataFrame
    agents: pd.DataFrame
    references: pd.DataFrame
    headlines: list[str]
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- tables ---------------------------------------------------------------------------------------


def _run_table(rows: pd.DataFrame, metadata: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run with its identity, taken from the run metadata where there is any."""
    first = rows.groupby("run_id", sort=True).first()
    runs = pd.DataFrame({
        "run_id": first.index,
        "env": first["env"].to_numpy(),
        "backend": first["backend"].to_numpy(),
        "workload": first["workload"].to_numpy(),
        "objective": first["objective"].to_numpy(),
        "agent": first["agent"].to_numpy(),
        "seed": first["seed"].to_numpy(),
        "setting": [_setting_label(text) for text in first["agent_config"]],
        "targets": "",
        "success_reward": math.nan,
        "budget": math.nan,
        "status": "",
        "batch_size": 1,
        "run_time_s": math.nan,
    })
    by_id = {str(m.get("run_id")): m for m in metadata}
    backend_options = {}
    for index, run_id in enumerate(runs["run_id"]):
        meta = by_id.get(run_id)
        if meta is None:
            continue
        if meta.get("setting"):
            runs.at[index, "setting"] = str(meta["setting"])
        runs.at[index, "targets"] = _targets_label(meta.get("targets") or {})
        for key, column in (("success_reward", "success_reward"), ("budget", "budget"),
                            ("wall_time_s", "run_time_s")):
            if isinstance(meta.get(key), (int, float)) and not isinstance(meta.get(key), bool):
                runs.at[index, column] = float(meta[key])
        if isinstance(meta.get("batch_size"), int) and not isinstance(meta["batch_size"], bool) \
                and meta["batch_size"] >= 1:
            runs.at[index, "batch_size"] = int(meta["batch_size"])
        runs.at[index, "status"] = str(meta.get("status") or "")
        spec = meta.get("spec") or {}
        backend_options[run_id] = dict(spec.get("backend_options") or {})
    runs["backend_options"] = [json.dumps(backend_options.get(r, {}), sort_keys=True) for r in runs["run_id"]]
    return runs


def _setting_label(agent_config: Any) -> str:
    try:
        config = json.loads(agent_config) if isinstance(agent_config, str) and agent_config else {}
    except ValueError:
        return str(agent_config)
    if not config:
        return "defaults"
    return ",".join(f"{key}={config[key]}" for key in sorted(config))


def _targets_label(targets: dict[str, Any]) -> str:
    return ",".join(f"{key}={targets[key]:g}" if isinstance(targets[key], (int, float)) else f"{key}={targets[key]}"
                    for key in sorted(targets))


def reference_rewards(
    runs: pd.DataFrame,
    best_rewards: pd.Series,
    optimum: bool = False,
    progress: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """The reference reward of every problem in ``runs``.

    Args:
        runs: The run table (columns of :data:`PROBLEM_COLUMNS`, ``backend`` and ``backend_options``).
        best_rewards: Best reward per run, indexed like ``runs``.
        optimum: Enumerate each problem's design space for its exact optimum
            instead of taking the best reward found by any run.
        progress: Called with a line of text before each enumeration.

    Returns:
        One row per problem: its columns, ``reference`` and ``source``
        (``"best found"`` or ``"exact optimum"``).

    Raises:
        ConfigurationError: ``optimum`` is set and a problem cannot be enumerated.
    """
    keys = list(PROBLEM_COLUMNS)
    frame = runs[keys + ["backend", "backend_options"]].assign(best=best_rewards.to_numpy())
    table = frame.groupby(keys, sort=False).agg(
        reference=("best", "max"), backend=("backend", "first"), backend_options=("backend_options", "first")
    ).reset_index()
    table["source"] = "best found"
    if not optimum:
        return table.drop(columns=["backend", "backend_options"])

    from archgym.cost_model import make_backend
    from archgym.objective import make_objective
    from archgym.optimum import find_optimum

    models: dict[tuple[str, str], Any] = {}
    try:
        for index, row in table.iterrows():
            key = (row["backend"], row["backend_options"])
            if key not in models:
                models[key] = make_backend(row["backend"], **json.loads(row["backend_options"]))
            model = models[key]
            targets = _parse_targets(row["targets"])
            objective = make_objective(row["objective"], metrics=model.metrics, presets=model.objective_presets,
                                       problem=None, **targets)  # named, so no target is taken for it
            if progress is not None:
                progress(f"exact optimum of {row['env']} / {row['workload']} / {row['objective']}")
            best = find_optimum(model, objective, row["workload"])
            if not best.reward >= row["reference"] - 1e-12 * max(1.0, abs(best.reward)):
                raise ConfigurationError(
                    f"a run on {row['workload']} / {row['objective']} found reward {row['reference']:.6g}, better "
                    f"than the enumerated optimum {best.reward:.6g}; the runs used a different cost model"
                )
            table.at[index, "reference"] = best.reward
            table.at[index, "source"] = "exact optimum"
    finally:
        for model in models.values():
            model.close()
    return table.drop(columns=["backend", "backend_options"])


def _parse_targets(label: str) -> dict[str, float]:
    targets = {}
    for item in filter(None, label.split(",")):
        key, _, value = item.partition("=")
        targets[key] = float(value)
    return targets


def summarise_runs(
    rows: pd.DataFrame,
    metadata: Sequence[dict[str, Any]] = (),
    tolerance: float = 0.01,
    optimum: bool = False,
    progress: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Score every run against its problem's reference reward.

    Args:
        rows: Dataset rows (:func:`archgym.dataset.load_dataset`).
        metadata: Run metadata records (:func:`archgym.dataset.read_run_metadata`).
        tolerance: Relative regret at which a run without a ``success_reward`` succeeds.
        optimum: Use each problem's exact optimum as the reference (see :func:`reference_rewards`).
        progress: Called with a line of text before long steps.

    Returns:
        ``(runs, references, best_so_far)``: the run table with ``evaluations``,
        ``first_evaluation_s``, ``evaluation_s``, ``best_reward``,
        ``reference``, ``regret_pct``, ``threshold``, ``evaluations_to_target``
        (NaN if never reached) and ``success``; the reference table; and each
        run's best reward after every evaluation.
    """
    if not 0 <= tolerance < 1:
        raise ConfigurationError(f"tolerance must be in [0, 1), got {tolerance}")
    rows = rows.sort_values(["run_id", "step"], kind="stable")
    runs = _run_table(rows, metadata)
    rewards = rows["reward"].to_numpy(dtype=np.float64)
    rewards = np.where(np.isnan(rewards), -np.inf, rewards)
    run_ids = rows["run_id"].to_numpy()
    boundaries = np.flatnonzero(np.r_[True, run_ids[1:] != run_ids[:-1], True])
    best_so_far = {
        str(run_ids[start]): np.maximum.accumulate(rewards[start:stop])
        for start, stop in itertools.pairwise(boundaries)
    }
    runs["evaluations"] = [len(best_so_far[r]) for r in runs["run_id"]]
    runs["first_evaluation_s"], runs["evaluation_s"] = _evaluation_seconds(rows, runs, boundaries)
    runs["best_reward"] = [float(best_so_far[r][-1]) for r in runs["run_id"]]
    references = reference_rewards(runs, runs["best_reward"], optimum=optimum, progress=progress)
    runs = runs.merge(references[list(PROBLEM_COLUMNS) + ["reference"]], on=list(PROBLEM_COLUMNS), how="left")
    regret = np.array([relative_regret(ref, best) for ref, best in zip(runs["reference"], runs["best_reward"])])
    # The same design scored one at a time and in a batch can differ in the last bits: that is no regret.
    runs["regret_pct"] = 100.0 * np.where(regret < 1e-9, 0.0, regret)
    scale = np.where(runs["reference"] != 0, np.abs(runs["reference"]), 1.0)
    runs["threshold"] = np.where(runs["success_reward"].notna(), runs["success_reward"],
                                 runs["reference"] - tolerance * scale)
    to_target = []
    for run_id, threshold in zip(runs["run_id"], runs["threshold"]):
        reached = np.flatnonzero(best_so_far[run_id] >= threshold)
        to_target.append(float(reached[0] + 1) if len(reached) else math.nan)
    runs["evaluations_to_target"] = to_target
    runs["success"] = runs["evaluations_to_target"].notna()
    return runs, references, best_so_far


def _evaluation_seconds(rows: pd.DataFrame, runs: pd.DataFrame,
                        boundaries: np.ndarray) -> tuple[list[float], list[float]]:
    """Per run (in the order of ``runs``): backend seconds of its first evaluation, and per evaluation after it.

    The first evaluation is the run's first batch when it evaluated in
    batches (each of a batch's rows holds an even share of the batch's time).
    It is kept apart because it can include one-off preparation of the
    workload. ``rows`` are sorted by run and step; ``boundaries`` delimit the runs.
    """
    seconds = (rows["wall_time_s"].to_numpy(dtype=np.float64) if "wall_time_s" in rows.columns
               else np.full(len(rows), math.nan))
    run_ids = rows["run_id"].to_numpy()
    batch_sizes = dict(zip(runs["run_id"], runs["batch_size"]))
    first: dict[str, float] = {}
    later: dict[str, float] = {}
    for start, stop in itertools.pairwise(boundaries):
        run_id = str(run_ids[start])
        cut = min(stop, start + int(batch_sizes.get(run_id, 1)))
        head, rest = seconds[start:cut], seconds[cut:stop]
        first[run_id] = float(head.sum()) if np.isfinite(head).all() else math.nan
        rest = rest[np.isfinite(rest)]
        later[run_id] = float(rest.mean()) if len(rest) else math.nan
    return [first[r] for r in runs["run_id"]], [later[r] for r in runs["run_id"]]


def summarise_settings(runs: pd.DataFrame, by_problem: bool = True) -> pd.DataFrame:
    """Per agent and setting (and problem, with ``by_problem``): success rate, medians over runs.

    ``median_evaluations_to_target`` counts runs that missed the target as
    needing infinitely many, so it is infinite when at most half succeeded.
    The time columns are means over runs of ``evaluation_s``,
    ``first_evaluation_s`` and ``run_time_s`` (see the module docstring).
    """
    keys = list(_SETTING_COLUMNS) + (list(PROBLEM_COLUMNS) if by_problem else [])
    # A run that never reached its target needed more than its budget: infinitely many, for the median.
    runs = runs.assign(evaluations_to_target=runs["evaluations_to_target"].fillna(math.inf))
    grouped = runs.groupby(keys, sort=True, dropna=False)
    table = grouped.agg(
        runs=("run_id", "size"),
        success_rate=("success", "mean"),
        median_best_reward=("best_reward", "median"),
        median_regret_pct=("regret_pct", "median"),
        median_evaluations_to_target=("evaluations_to_target", "median"),
        mean_evaluation_s=("evaluation_s", "mean"),
        mean_first_evaluation_s=("first_evaluation_s", "mean"),
        mean_run_time_s=("run_time_s", "mean"),
    ).reset_index()
    return table


def summarise_agents(settings: pd.DataFrame) -> pd.DataFrame:
    """Per agent: the spread of outcomes over its settings (the lottery in numbers).

    Args:
        settings: Per agent and setting over all problems, from
            :func:`summarise_settings` with ``by_problem=False``.

    Returns:
        One row per agent: ``settings``, the best and worst setting with their
        success rates, the median success rate, and the best and worst median regret.
    """
    rows = []
    for agent, group in settings.groupby("agent", sort=True):
        rates = group["success_rate"].to_numpy(dtype=float)
        regrets = group["median_regret_pct"].to_numpy(dtype=float)
        # Best first: highest success rate, then lowest regret, then fewest evaluations to the target.
        ranked = group.assign(_rate=-rates).sort_values(
            ["_rate", "median_regret_pct", "median_evaluations_to_target"], kind="stable")
        best, worst = ranked.iloc[0], ranked.iloc[-1]
        rows.append({
            "agent": agent,
            "settings": len(group),
            "best_setting": best["setting"],
            "best_success_rate": float(rates.max()),
            "median_success_rate": float(np.median(rates)),
            "worst_setting": worst["setting"],
            "worst_success_rate": float(rates.min()),
            "best_median_regret_pct": float(np.nanmin(regrets)),
            "worst_median_regret_pct": float(np.nanmax(regrets)),
        })
    return pd.DataFrame(rows)


_REFERENCE_PHRASES = {"best found": "best reward any run found", "exact optimum": "exact optimum"}
"""How sentences name each source of reference rewards."""


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _rate(share: float) -> str:
    """A success rate (0-1) in whole percent that never rounds a difference away: ``<1%``, not ``0%``."""
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 <= share < 1:
        return ">99%"
    return f"{share:.0%}"


def _number(value: float) -> str:
    """A non-negative quantity with the digits it needs: ``0``, ``0.18``, ``2.5``, ``40``."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}" if value >= 1 else f"{value:.2g}"


def _seconds(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs"
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


def _criterion(runs: pd.DataFrame, source: str, tolerance: float) -> str:
    """What a run's best reward must do to succeed, as the end of a sentence."""
    near = f"comes within {100 * tolerance:.3g}% of the {_REFERENCE_PHRASES.get(source, source)}"
    given = runs["success_reward"].dropna().unique()
    if len(given) == 0:
        return near
    value = f" ({given[0]:g})" if len(given) == 1 else ""
    if runs["success_reward"].notna().all():
        return f"reaches its objective's success_reward{value}"
    return f"reaches its objective's success_reward{value}, or, where the sweep sets none, {near}"


def _agent_headline(row: Any) -> str:
    """How one agent's success depends on its setting."""
    best, worst = row.best_success_rate, row.worst_success_rate
    if row.settings == 1:
        return f"{row.agent}: success {_rate(best)} with its only setting ({row.best_setting})."
    if best == worst:
        regrets = f"{_number(row.best_median_regret_pct)}%"
        if row.worst_median_regret_pct != row.best_median_regret_pct:
            regrets = (f"from {_number(row.best_median_regret_pct)}% ({row.best_setting}) to "
                       f"{_number(row.worst_median_regret_pct)}% ({row.worst_setting})")
        return f"{row.agent}: success {_rate(best)} with each of its {row.settings} settings; median regret {regrets}."
    if row.settings == 2:
        return (f"{row.agent}: success {_rate(best)} with its better setting ({row.best_setting}), "
                f"{_rate(worst)} with the other ({row.worst_setting}).")
    return (f"{row.agent}: success {_rate(best)} with its best setting ({row.best_setting}), "
            f"{_rate(row.median_success_rate)} with the median one, {_rate(worst)} with its worst "
            f"({row.worst_setting}), over {row.settings} settings.")


def _comparison_headlines(agents: pd.DataFrame) -> list[str]:
    """How the tuned agents compare, and how much the setting matters within an agent."""
    lines = []
    if len(agents) > 1:
        tuned = agents["best_success_rate"]
        if tuned.max() == tuned.min():
            regrets = agents["best_median_regret_pct"]
            leader = agents.iloc[int(regrets.argmin())]
            ranking = (f"with the same median regret ({_number(regrets.min())}%)" if regrets.max() == regrets.min()
                       else f"the lowest median regret is {leader['agent']}'s ({_number(regrets.min())}%, against "
                            f"up to {_number(regrets.max())}% for the others)")
            lines.append(f"Tuned (each with its best setting), every agent succeeds equally often ({_rate(tuned.max())}); {ranking}.")
        else:
            leader = agents.iloc[int(tuned.argmax())]
            lines.append(
                f"Tuned, the agents span {_rate(tuned.min())}-{_rate(tuned.max())} success "
                f"({_number(100 * (tuned.max() - tuned.min()))} percentage points apart; best: {leader['agent']})."
            )
    several = agents[agents["settings"] > 1]
    if not several.empty:
        spread = several["best_success_rate"] - several["worst_success_rate"]
        regret_spread = several["worst_median_regret_pct"] - several["best_median_regret_pct"]
        if spread.max() > 0:
            lines.append(f"Within one agent, the setting moves success by up to {_number(100 * spread.max())} "
                         f"percentage points ({several['agent'].iloc[int(spread.argmax())]}).")
        elif regret_spread.max() > 0:
            lines.append(
                "Within each agent, the setting does not change the success rate; it moves the median regret by up "
                f"to {_number(regret_spread.max())} percentage points ({several['agent'].iloc[int(regret_spread.argmax())]})."
            )
        else:
            lines.append("Within each agent, the setting changes neither the success rate nor the median regret.")
    return lines


def _time_headline(runs: pd.DataFrame) -> str | None:
    """The backend's time per evaluation, with a run's first evaluation (which may prepare the workload) apart."""
    evaluation = runs["evaluation_s"].dropna()
    first = runs["first_evaluation_s"].dropna()
    first_text = (f"a run's first evaluation took {_seconds(float(first.median()))}, including any one-off "
                  "preparation of the workload") if not first.empty else ""
    if evaluation.empty:
        return first_text[0].upper() + first_text[1:] + "." if first_text else None
    return (f"Each evaluation took the backend {_seconds(float(evaluation.median()))} (median over runs, leaving out "
            f"their first evaluation){'; ' + first_text if first_text else ''}.")


def headlines(runs: pd.DataFrame, agents: pd.DataFrame, source: str = "best found",
              tolerance: float = 0.01) -> list[str]:
    """Sentences that summarise a report: what was run, the lottery, and the backend's time.

    Args:
        runs: Scored runs, from :func:`summarise_runs`.
        agents: Per agent, from :func:`summarise_agents`.
        source: Where the reference rewards came from: ``"best found"`` or ``"exact optimum"``.
        tolerance: The relative regret at which runs without a ``success_reward`` succeed.

    Returns:
        One sentence per line.
    """
    settings = runs[list(_SETTING_COLUMNS)].drop_duplicates().shape[0]
    problems = runs[list(PROBLEM_COLUMNS)].drop_duplicates().shape[0]
    lines = [(
        f"{_plural(len(runs), 'run')} of {_plural(runs['agent'].nunique(), 'agent')} with "
        f"{_plural(settings, 'hyperparameter setting')} on {_plural(problems, 'problem')}; a run succeeds when its "
        f"best reward {_criterion(runs, source, tolerance)}."
    )]
    lines += [_agent_headline(row) for row in agents.itertuples(index=False)]
    lines += _comparison_headlines(agents)
    time = _time_headline(runs)
    if time is not None:
        lines.append(time)
    return lines


def convergence_curves(runs: pd.DataFrame, best_so_far: dict[str, np.ndarray]) -> pd.DataFrame:
    """Median and quartiles over runs of each agent's regret (%) after every evaluation, per problem."""
    frames = []
    for (env, workload, objective, _targets, agent), group in runs.groupby(
        list(PROBLEM_COLUMNS) + ["agent"], sort=False
    ):
        length = int(group["evaluations"].max())
        matrix = np.empty((len(group), length))
        for index, (run_id, reference) in enumerate(zip(group["run_id"], group["reference"])):
            curve = best_so_far[run_id]
            padded = np.concatenate([curve, np.full(length - len(curve), curve[-1])])  # a finished run keeps its best
            scale = abs(reference) if reference != 0 else 1.0
            matrix[index] = np.where(np.isfinite(padded), 100.0 * np.maximum(reference - padded, 0.0) / scale, np.inf)
        quartiles = np.percentile(matrix, [25, 50, 75], axis=0)
        frames.append(pd.DataFrame({
            "env": env, "workload": workload, "objective": objective, "agent": agent,
            "evaluation": np.arange(1, length + 1),
            "q25": quartiles[0], "median": quartiles[1], "q75": quartiles[2],
        }))
    return pd.concat(frames, ignore_index=True)


def _non_dominated(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (minimised) coordinates, sorted by x."""
    order = np.lexsort((y, x))
    keep = []
    best_y = math.inf
    for index in order:
        if y[index] < best_y:
            keep.append(index)
            best_y = y[index]
    return np.asarray(keep, dtype=np.int64)


def pareto_fronts(rows: pd.DataFrame, x: str, y: str, maximise: Sequence[str] = ()) -> pd.DataFrame:
    """Each agent's Pareto front of metrics ``x`` and ``y`` per env and workload, over all its evaluations.

    Both metrics are minimised unless named in ``maximise``. Infeasible rows
    are left out. Returns the front points with ``global_front`` marking those
    on the front of all agents together.

    Raises:
        ConfigurationError: ``x`` or ``y`` is not a numeric column of the rows.
    """
    for metric in (x, y):
        if metric not in rows.columns or not pd.api.types.is_numeric_dtype(rows[metric]):
            numeric = [c for c in rows.columns if pd.api.types.is_float_dtype(rows[c])
                       and c not in ("reward", "wall_time_s")]
            raise ConfigurationError(f"no metric column {metric!r} in the dataset; metrics there: {', '.join(numeric)}")
    usable = rows[rows["feasible"].astype(bool)]
    usable = usable[np.isfinite(usable[x].to_numpy(dtype=float)) & np.isfinite(usable[y].to_numpy(dtype=float))]
    sign_x = -1.0 if x in maximise else 1.0
    sign_y = -1.0 if y in maximise else 1.0
    frames = []
    for (env, workload), problem in usable.groupby(["env", "workload"], sort=False):
        fronts = []
        for agent, group in problem.groupby("agent", sort=True):
            keep = _non_dominated(sign_x * group[x].to_numpy(dtype=float), sign_y * group[y].to_numpy(dtype=float))
            front = group.iloc[keep]
            fronts.append(pd.DataFrame({
                "env": env, "workload": workload, "agent": agent, "x": front[x].to_numpy(dtype=float),
                "y": front[y].to_numpy(dtype=float), "run_id": front["run_id"].to_numpy(),
                "step": front["step"].to_numpy(),
            }))
        merged = pd.concat(fronts, ignore_index=True)
        best = set(_non_dominated(sign_x * merged["x"].to_numpy(), sign_y * merged["y"].to_numpy()).tolist())
        values = merged[["x", "y"]].to_numpy()
        best_values = {tuple(values[i]) for i in best}
        merged["global_front"] = [tuple(v) in best_values for v in values]  # ties between agents count for both
        frames.append(merged)
    if not frames:
        return pd.DataFrame(columns=["env", "workload", "agent", "x", "y", "run_id", "step", "global_front"])
    return pd.concat(frames, ignore_index=True)


def parse_pareto_spec(spec: str) -> tuple[tuple[str, str], list[str]]:
    """Read ``"X,Y"`` (a metric may end in ``:max`` or ``:min``) as the Pareto pair and the metrics to maximise.

    Example:
        >>> parse_pareto_spec("total_time_ns,bandwidth_gbps:max")
        (('total_time_ns', 'bandwidth_gbps'), ['bandwidth_gbps'])

    Raises:
        ConfigurationError: not two metrics, or a goal other than min or max.
    """
    names = [item.strip() for item in spec.split(",") if item.strip()]
    if len(names) != 2:
        raise ConfigurationError(f"a Pareto spec names two metrics, X,Y (append :max to maximise one); got {spec!r}")
    metrics: list[str] = []
    maximise: list[str] = []
    for name in names:
        metric, _, goal = name.partition(":")
        if goal not in ("", "min", "max"):
            raise ConfigurationError(f"Pareto metric {name!r}: the goal after ':' is min or max")
        if goal == "max":
            maximise.append(metric)
        metrics.append(metric)
    return (metrics[0], metrics[1]), maximise


def _default_pareto_metrics(rows: pd.DataFrame) -> tuple[str, str, tuple[str, ...]] | None:
    """The cost model's preferred pair of metrics to trade off, and which of them are maximised.

    Tries the rows' backend first, then the problem's other backends (a
    simulator that is not installed here still shares its problem's metrics).
    """
    from archgym.cost_model import list_backends, make_backend

    backend = str(rows["backend"].iloc[0])
    env = str(rows["env"].iloc[0])
    candidates = [backend] + [b.name for b in list_backends(env) if b.name != backend]
    for name in candidates:
        try:
            model = make_backend(name)
        except (ArchGymError, TypeError):
            continue
        try:
            specs = {m.name: m for m in model.metrics}
            pair = tuple(model.pareto_metrics or [m.name for m in model.metrics][:2])
        finally:
            model.close()
        if len(pair) < 2 or any(metric not in rows.columns for metric in pair):
            return None
        maximise = tuple(metric for metric in pair if specs[metric].goal == "max")
        return pair[0], pair[1], maximise
    return None


# -- writing --------------------------------------------------------------------------------------


def _markdown(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}

    def cell(column: str, value: Any) -> str:
        if isinstance(value, float) and math.isnan(value):
            return "-"
        if isinstance(value, float) and math.isinf(value):
            return "not reached"
        if column in formats:
            return formats[column].format(value)
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    for record in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, record)) + " |")
    return "\n".join(lines)


_PERCENT = "{:.0%}"
_TIME_NOTE = (
    "Time, as means over runs: `mean_evaluation_s` is the backend's seconds per evaluation after a run's first; "
    "`mean_first_evaluation_s` is the backend's seconds on a run's first evaluation (its first batch), which "
    "include preparing the workload when the backend does that on first use; `mean_run_time_s` is a run's whole "
    "wall time (agent, backend and logging; a trainer's start-up included)."
)


def write_report(
    dataset: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    tolerance: float = 0.01,
    optimum: bool = False,
    pareto: tuple[str, str] | None = None,
    maximise: Sequence[str] = (),
    plots: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Report:
    """Write tables and plots about every run in ``dataset`` into ``out``.

    Args:
        dataset: A dataset directory (e.g. a sweep's ``out``) or part file.
        out: Directory for the report files (created).
        tolerance: Relative regret at which a run without a ``success_reward`` succeeds.
        optimum: Score regret against each problem's exact optimum (enumerates the space).
        pareto: The two metrics of the Pareto fronts; default: the cost model's
            ``pareto_metrics``, else its first two metrics.
        maximise: Pareto metrics to maximise (default: goals of the cost model's metric specs).
        plots: Draw the PNGs (needs matplotlib).
        progress: Called with a line of text before long steps.

    Returns:
        The :class:`Report`.

    Raises:
        DatasetError: the dataset is missing, empty or corrupt.
        ConfigurationError: ``out`` cannot be a directory (it is a file, or lies under one), a bad
            tolerance or Pareto metric, or ``optimum`` on a problem that cannot be enumerated.
    """
    out = Path(out)
    # Before the dataset is read, so a wrong output path fails at once.
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"report directory {out} is a file; give a directory for the tables and plots")
    rows = load_dataset(dataset)
    if rows["reward"].isna().all():
        raise DatasetError(f"the rows in {dataset} have no rewards; report scores searches by their reward")
    directory = Path(dataset)
    metadata = read_run_metadata(directory) if directory.is_dir() else []
    runs, references, best_so_far = summarise_runs(rows, metadata, tolerance, optimum, progress)
    summary = summarise_settings(runs, by_problem=True)
    settings = summarise_settings(runs, by_problem=False)
    agents = summarise_agents(settings)
    source = str(references["source"].iloc[0])
    report = Report(runs, summary, settings, agents, references, headlines(runs, agents, source, tolerance))

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigurationError(f"report directory {out} cannot be created ({error.strerror}); give a directory "
                                 "where one can be") from None

    def save_csv(frame: pd.DataFrame, name: str) -> None:
        path = out / name
        frame.to_csv(path, index=False)
        report.files.append(path)

    save_csv(runs.drop(columns=["backend_options"]), "runs.csv")
    save_csv(summary, "summary.csv")
    save_csv(settings, "lottery.csv")
    save_csv(references, "references.csv")

    if pareto is None:
        found = _default_pareto_metrics(rows)
        if found is not None:
            pareto, maximise = (found[0], found[1]), found[2]
    fronts = None
    if pareto is not None:
        fronts = pareto_fronts(rows, pareto[0], pareto[1], maximise)
        save_csv(fronts.rename(columns={"x": pareto[0], "y": pareto[1]}), "pareto.csv")
    else:
        report.notes.append("Pareto fronts skipped: the cost model could not be built to name its metrics; "
                            "give two metrics (--pareto X,Y)")

    markdown = [
        f"# Report on {directory.name}", "", *[f"- {line}" for line in report.headlines], "",
        "## Per agent", "", _markdown(agents, {"best_success_rate": _PERCENT, "median_success_rate": _PERCENT,
                                                "worst_success_rate": _PERCENT}), "",
        "## Per hyperparameter setting (all problems)", "", _TIME_NOTE, "",
        _markdown(settings, {"success_rate": _PERCENT}), "",
        f"## Reference rewards ({source})", "", _markdown(references), "",
        "## Per setting and problem", "", _markdown(summary, {"success_rate": _PERCENT}), "",
    ]
    path = out / "summary.md"
    path.write_text("\n".join(markdown), encoding="utf-8")
    report.files.append(path)

    if plots:
        from archgym.plots import plot_convergence, plot_lottery, plot_pareto, require_matplotlib

        try:
            require_matplotlib()
        except ConfigurationError as error:
            report.notes.append(f"plots skipped: {error}")
            return report
        if progress is not None:
            progress("drawing plots")
        curves = convergence_curves(runs, best_so_far)
        for env in pd.unique(curves["env"]):
            name = "convergence.png" if curves["env"].nunique() == 1 else f"convergence-{env}.png"
            report.files.append(plot_convergence(curves[curves["env"] == env], out / name,
                                                 title=f"{env}: regret of the best design so far against the "
                                                       f"{_REFERENCE_PHRASES.get(source, source)}"))
        budget = float(runs["budget"].max()) if runs["budget"].notna().any() else float(runs["evaluations"].max())
        report.files.append(plot_lottery(settings, out / "lottery.png", budget=budget,
                                         title="hyperparameter lottery: one dot per setting"))
        if pareto is not None and fronts is not None and not fronts.empty:
            report.files.append(plot_pareto(fronts, pareto[0], pareto[1], out / "pareto.png",
                                            title="Pareto fronts of each agent's evaluations, and of all agents' "
                                                  "together"))
    return report
