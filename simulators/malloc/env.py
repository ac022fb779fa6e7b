"""MallocGameEnv: memory mapping as a game (mallocGame, Wang et al. 2023).

While compiling an ML program, a memory planner decides which tensor
buffers live in a small fast on-chip memory, and at which offsets, to
minimise execution time. The game presents the buffers of an instance
(:mod:`archgym.simulators.malloc`) one at a time; each move places the
current buffer at one of a few feasible offsets in fast memory or leaves it
in slow memory. Placements never overlap in the time x address plane. The
reward is the execution time each move saves (roofline model of
:mod:`archgym.simulators.malloc.cost`), as a fraction of the all-slow time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

from archgym.errors import ConfigurationError, InvalidDesignError
from archgym.simulators.malloc.cost import EDGE_ACCELERATOR, Machine, TimeModel
from archgym.simulators.malloc.generator import dnn_instance
from archgym.simulators.malloc.graphs import GRAPHS
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.minimalloc import EXAMPLES, capacity_in_name, example_path, read_csv
from archgym.simulators.malloc.placement import FreeSpace, peak_address
from archgym.simulators.malloc.solve import solve

__all__ = ["ORDERS", "MallocGameEnv", "MaskedDiscrete"]

ORDERS: tuple[str, ...] = ("start", "size", "benefit")
"""Buffer presentation orders: by live-range start (schedule order), by size, by benefit density."""

_BINS = 8
_BUFFER_FEATURES = 7
_SPACE_FEATURES = 5
_PROGRESS_FEATURES = 3


class MaskedDiscrete(spaces.Discrete):
    """A ``Discrete`` space whose :meth:`sample` draws only legal actions unless told otherwise.

    The environment keeps :attr:`legal` up to date, so a random agent (or a
    checker) sampling the action space always makes legal moves. An explicit
    ``mask`` or ``probability`` overrides it.
    """

    def __init__(self, n: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(n, seed=seed)
        self.legal = np.ones(n, dtype=np.int8)

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None) -> np.int64:
        """A random action: legal under ``mask`` if given, else under :attr:`legal`."""
        if mask is None and probability is None:
            mask = self.legal
        return super().sample(mask=mask, probability=probability)


class MallocGameEnv(gymnasium.Env[np.ndarray, np.int64]):
    """The mallocGame: place tensor buffers in fast memory, one per step.

    * Action: ``Discrete(1 + max_candidates)``. ``0`` leaves the current
      buffer in slow memory; ``j >= 1`` places it at the ``j``-th candidate
      offset. Candidates are the lowest and the highest aligned offsets of
      each free address interval (over the buffer's live range) that holds
      it, in increasing order, at most ``max_candidates`` of them;
      ``info["action_mask"]`` (and :meth:`action_masks`) marks the legal
      actions, and sampling the action space draws only legal ones. A
      mapping ``{"offset": k}`` places the buffer at any legal offset ``k``
      (``None`` for slow memory).
    * Observation: ``Box(0, 1, (23 + max_candidates,), float32)``: the
      current buffer (size over capacity; live-range start, end and length
      over the schedule length; standalone and current time saving over the
      all-slow time; conflicts over buffers), the free space over its live
      range (free bytes, largest free interval and lowest candidate over the
      capacity; candidates over ``max_candidates``; whether it fits), the
      occupied fraction of 8 equal address bins over its live range,
      progress (buffers done, bytes placed, time saved), and each
      candidate's offset over the capacity (1 where there is none). After
      the last buffer only the progress entries are non-zero.
    * Reward: the time the move saves divided by the all-slow program time,
      so an episode's return is ``1 - 1 / speedup``. On a pure allocation
      instance (no costs) it is the placed buffer's ``size x lifetime``
      over the total, so the return is 1 when every buffer fits.
    * ``terminated`` after the last buffer; ``truncated`` after
      ``max_steps`` steps (if given) before that.
    * ``info``: ``action_mask``, ``candidates`` (offsets of actions 1..),
      ``buffer`` (id of the buffer just placed), ``offset`` (its offset or
      None), ``metrics`` (``time_s``, ``speedup``, ``placed``,
      ``peak_address``; ``placed_fraction`` without costs) and, at the end,
      ``speedup``, ``fits`` (every buffer in fast memory) and ``offsets``
      (the placement, -1 for slow memory).

    Args:
        instance: An :class:`~archgym.simulators.malloc.instances.Instance`,
            a MiniMalloc CSV path (give ``capacity``, unless the file is
            named ``NAME.CAPACITY.csv``), a bundled example (``tiny``,
            ``zero-slack-100``), or a DNN name
            (``resnet50``, ``mobilenetv2``, ``transformer``) for
            :func:`~archgym.simulators.malloc.generator.dnn_instance`.
        capacity: Fast-memory bytes for a CSV file, or to override the instance's.
        order: Presentation order, one of :data:`ORDERS`.
        max_candidates: Offsets offered per buffer.
        max_steps: Steps before truncation (None: the episode runs to the last buffer).
        machine: Bandwidths for the time model.
        render_mode: None or ``"ansi"``.
        **generator_kwargs: Passed to ``dnn_instance`` (``layers=30``,
            ``capacity_fraction=0.2``, ``seed=1``) when ``instance`` is a DNN name.

    Raises:
        ConfigurationError: an unknown option value or instance name.
        WorkloadError: a malformed instance file.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        instance: Instance | str | Path = "mobilenetv2",
        capacity: int | None = None,
        order: str = "start",
        max_candidates: int = 16,
        max_steps: int | None = None,
        machine: Machine = EDGE_ACCELERATOR,
        render_mode: str | None = None,
        **generator_kwargs: Any,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigurationError(f"render_mode {render_mode!r} is not supported; choose None or 'ansi'")
        if order not in ORDERS:
            raise ConfigurationError(f"order {order!r} is not one of {', '.join(ORDERS)}")
        if isinstance(max_candidates, bool) or not isinstance(max_candidates, (int, np.integer)) or max_candidates < 1:
            raise ConfigurationError(f"max_candidates must be a positive integer, got {max_candidates!r}")
        if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, (int, np.integer))
                                      or max_steps < 1):
            raise ConfigurationError(f"max_steps must be a positive integer or None, got {max_steps!r}")
        self.instance = _load_instance(instance, capacity, generator_kwargs)
        self.render_mode = render_mode
        self.order = order
        self.max_candidates = int(max_candidates)
        self.max_steps = None if max_steps is None else int(max_steps)
        inst = self.instance
        self.model = TimeModel(inst, machine) if inst.has_costs else None
        if self.model is not None:
            self._gain = self.model.standalone_saving()
            self._scale = 1.0 / self.model.baseline_time
        else:
            self._gain = (inst.sizes * (inst.ends - inst.starts)).astype(np.float64)
            self._scale = 1.0 / float(self._gain.sum())
        lifetimes = inst.ends - inst.starts
        if order == "start":
            self._order = np.lexsort((-inst.sizes, inst.starts))
        elif order == "size":
            self._order = np.lexsort((inst.starts, -inst.sizes))
        else:
            self._order = np.lexsort((-inst.sizes, -self._gain / (inst.sizes * lifetimes)))
        self._horizon = float(max(inst.n_ops, int(inst.ends.max())))
        self._degree = np.array([inst.conflicts(i).size for i in range(len(inst))], dtype=np.float64)
        n_features = _BUFFER_FEATURES + _SPACE_FEATURES + _BINS + _PROGRESS_FEATURES + self.max_candidates
        self.observation_space = spaces.Box(0.0, 1.0, shape=(n_features,), dtype=np.float32)
        self.action_space = MaskedDiscrete(1 + self.max_candidates)
        self._references: dict[float, tuple[float, bool]] = {}
        self._reset_state()

    # -- gymnasium API ------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start placing from the first buffer with empty fast memory.

        Raises:
            ConfigurationError: non-empty ``options``.
        """
        super().reset(seed=seed)
        if options:
            raise ConfigurationError(f"MallocGameEnv.reset takes no options, got {', '.join(map(str, options))}")
        self._reset_state()
        return self._observe(), self._info(None, None)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Place the current buffer as ``action`` says.

        Raises:
            InvalidDesignError: the episode is over, or the action is not an
                integer in range, is masked, or (as ``{"offset": k}``) is
                misaligned, outside the capacity or overlaps a placed buffer.
        """
        if self._position >= len(self._order):
            raise InvalidDesignError("the episode is over (every buffer is placed); call reset()")
        b = int(self._order[self._position])
        offset = self._decode(action, b)
        reward = 0.0
        if offset is not None:
            self._space.place(b, offset)
            if self.model is not None:
                before = float(np.maximum(self.model.compute, self._memory).sum())
                self.model.apply(b, self._memory)
                self._time = float(np.maximum(self.model.compute, self._memory).sum())
                reward = (before - self._time) * self._scale
            else:
                reward = float(self._gain[b]) * self._scale
            self._placed_bytes += int(self.instance.sizes[b])
            self._placed += 1
        self._position += 1
        self._steps += 1
        self._candidates = self._compute_candidates()
        self._last = (b, offset, reward)
        terminated = self._position >= len(self._order)
        truncated = not terminated and self.max_steps is not None and self._steps >= self.max_steps
        info = self._info(b, offset)
        if terminated:
            info["speedup"] = info["metrics"].get("speedup", 1.0)
            info["fits"] = self._placed == len(self.instance)
            info["offsets"] = self._space.offsets.copy()
        return self._observe(), float(reward), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """Legal actions for the current buffer (as ``info["action_mask"]``), for maskable agents."""
        return self.action_space.legal.astype(bool)

    def render(self) -> str | None:
        """A text summary of the progress and the last move (``render_mode="ansi"``)."""
        if self.render_mode is None:
            gymnasium.logger.warn("MallocGameEnv.render() called without a render_mode; use render_mode='ansi'")
            return None
        metrics = self._metrics()
        lines = [(f"{self.instance.name}: buffer {self._position}/{len(self.instance)}, "
                  f"{self._placed} in fast memory, peak address {metrics['peak_address']} of "
                  f"{self.instance.capacity} bytes")]
        if self._last is not None:
            b, offset, reward = self._last
            where = "slow memory" if offset is None else f"offset {offset}"
            lines.append(f"last move: {self.instance.ids[b]} -> {where} (reward {reward:.4g})")
        if "speedup" in metrics:
            lines.append(f"time {metrics['time_s']:.6g} s, speedup {metrics['speedup']:.4f}")
        return "\n".join(lines) + "\n"

    # -- state --------------------------------------------------------------------------
    @property
    def offsets(self) -> np.ndarray:
        """Offsets placed so far (-1 for slow memory or not yet placed), in the instance's buffer order."""
        return self._space.offsets.copy()

    @property
    def current_buffer(self) -> int | None:
        """Index of the buffer the next action places, None when the episode is over."""
        return int(self._order[self._position]) if self._position < len(self._order) else None

    @property
    def candidates(self) -> list[int]:
        """Offsets of actions ``1 .. len(candidates)`` for the current buffer."""
        return list(self._candidates)

    def reference_return(self, time_limit: float = 10.0) -> tuple[float, bool]:
        """The return of the best placement the solvers find, to measure an agent's episodes against.

        ``solve(instance, "best")`` places the buffers (with costs: the greedy
        methods, then the MILP; pure allocation: the greedy methods, then the
        complete search), and its placement is scored as an episode would be:
        ``1 - 1/speedup`` with costs, else the share of the buffers' area in
        fast memory. The game offers at most ``max_candidates`` offsets per
        buffer, so an agent may be unable to reach this return. The result is
        cached per time limit.

        Args:
            time_limit: Seconds for the solvers.

        Returns:
            The return and whether it is proven optimal.
        """
        if time_limit not in self._references:
            solution = solve(self.instance, "best", time_limit=time_limit)
            if solution.speedup is not None:
                self._references[time_limit] = (1.0 - 1.0 / solution.speedup, bool(solution.optimal))
            else:
                # Every buffer in fast memory is the most a pure allocation episode can get.
                inside = (solution.offsets >= 0) & (solution.offsets + self.instance.sizes <= self.instance.capacity)
                self._references[time_limit] = (float(self._gain[inside].sum()) * self._scale, solution.fits)
        return self._references[time_limit]

    def _reset_state(self) -> None:
        self._space = FreeSpace(self.instance)
        self._memory = self.model.slow_memory_time.copy() if self.model is not None else np.zeros(0)
        self._time = self.model.baseline_time if self.model is not None else 0.0
        self._position = 0
        self._steps = 0
        self._placed = 0
        self._placed_bytes = 0
        self._last: tuple[int, int | None, float] | None = None
        self._candidates = self._compute_candidates()

    def _compute_candidates(self) -> list[int]:
        b = self.current_buffer
        legal = np.zeros(1 + self.max_candidates, dtype=np.int8)
        legal[0] = 1
        if b is None:
            self.action_space.legal = legal
            return []
        size = int(self.instance.sizes[b])
        alignment = self.instance.alignment
        offsets: set[int] = set()
        for lo, hi in self._space.fitting_gaps(b):
            offsets.add(lo)
            offsets.add(int(hi - size) // alignment * alignment)
        candidates = sorted(offsets)[: self.max_candidates]
        legal[1:1 + len(candidates)] = 1
        self.action_space.legal = legal
        return candidates

    def _decode(self, action: Any, b: int) -> int | None:
        if isinstance(action, Mapping):
            if set(action) != {"offset"}:
                raise InvalidDesignError(f"a mapping action has one key, 'offset'; got keys {sorted(map(str, action))}")
            offset = action["offset"]
            if offset is None:
                return None
            if isinstance(offset, bool) or not isinstance(offset, (int, np.integer)):
                raise InvalidDesignError(f"offset must be an integer number of bytes or None, got {offset!r}")
            if not 0 <= offset <= self.instance.capacity - self.instance.sizes[b]:
                raise InvalidDesignError(
                    f"offset {offset} is out of range for buffer {self.instance.ids[b]!r} "
                    f"(size {int(self.instance.sizes[b])}): allowed 0..{self.instance.capacity - self.instance.sizes[b]}"
                )
            return int(offset)
        value = np.asarray(action)
        if value.size != 1 or value.dtype.kind not in "iuf" or not float(value.reshape(-1)[0]).is_integer():
            raise InvalidDesignError(
                f"an action is one integer in 0..{self.max_candidates} (0: slow memory, j: the j-th candidate "
                f"offset), or {{'offset': k}}; got {action!r}"
            )
        index = int(value.reshape(-1)[0])
        if not 0 <= index <= self.max_candidates:
            raise InvalidDesignError(f"action {index} is out of range; allowed 0..{self.max_candidates}")
        if index == 0:
            return None
        if index > len(self._candidates):
            raise InvalidDesignError(
                f"action {index} is masked: buffer {self.instance.ids[b]!r} has {len(self._candidates)} candidate "
                f"offset(s) {self._candidates}; legal actions are 0..{len(self._candidates)} "
                "(see info['action_mask'])"
            )
        return self._candidates[index - 1]

    # -- observation and info -----------------------------------------------------------
    def _metrics(self) -> dict[str, float | int]:
        offsets = self._space.offsets
        metrics: dict[str, float | int] = {"placed": self._placed,
                                           "peak_address": peak_address(self.instance, offsets)}
        if self.model is not None:
            metrics["time_s"] = self._time
            metrics["speedup"] = self.model.baseline_time / self._time
        else:
            metrics["placed_fraction"] = self._placed / len(self.instance)
        return metrics

    def _info(self, b: int | None, offset: int | None) -> dict[str, Any]:
        return {
            "action_mask": self.action_space.legal.copy(),
            "candidates": list(self._candidates),
            "buffer": None if b is None else self.instance.ids[b],
            "offset": offset,
            "metrics": self._metrics(),
        }

    def _observe(self) -> np.ndarray:
        inst = self.instance
        n = len(inst)
        capacity = float(inst.capacity)
        progress = [self._position / n, self._placed_bytes / float(inst.sizes.sum()),
                    1.0 - self._time * self._scale if self.model is not None else self._placed / n]
        obs = np.zeros(self.observation_space.shape, dtype=np.float64)
        offset = _BUFFER_FEATURES + _SPACE_FEATURES + _BINS
        obs[offset:offset + _PROGRESS_FEATURES] = progress
        b = self.current_buffer
        if b is not None:
            size = float(inst.sizes[b])
            current = (self.model.marginal_saving(b, self._memory) * self._scale if self.model is not None
                       else self._gain[b] * self._scale)
            obs[:_BUFFER_FEATURES] = [
                size / capacity, inst.starts[b] / self._horizon, inst.ends[b] / self._horizon,
                (inst.ends[b] - inst.starts[b]) / self._horizon, self._gain[b] * self._scale, current,
                self._degree[b] / max(1, n - 1),
            ]
            gaps = self._space.gaps(b)
            free = sum(hi - lo for lo, hi in gaps)
            largest = max((hi - lo for lo, hi in gaps), default=0.0)
            candidates = self._candidates
            obs[_BUFFER_FEATURES:_BUFFER_FEATURES + _SPACE_FEATURES] = [
                free / capacity, largest / capacity, candidates[0] / capacity if candidates else 1.0,
                len(candidates) / self.max_candidates, float(bool(candidates)),
            ]
            occupied = np.zeros(_BINS)
            edges = np.linspace(0.0, capacity, _BINS + 1)
            for lo, hi in _occupied(gaps, capacity):
                occupied += np.clip(np.minimum(hi, edges[1:]) - np.maximum(lo, edges[:-1]), 0.0, None)
            obs[_BUFFER_FEATURES + _SPACE_FEATURES:offset] = occupied / np.diff(edges)
            tail = offset + _PROGRESS_FEATURES
            obs[tail:] = 1.0
            obs[tail:tail + len(candidates)] = np.asarray(candidates, dtype=np.float64) / capacity
        return np.clip(obs, 0.0, 1.0).astype(np.float32)


def _occupied(gaps: list[tuple[int, float]], capacity: float) -> list[tuple[float, float]]:
    """The complement of the free intervals within ``[0, capacity)``."""
    out = []
    cursor = 0.0
    for lo, hi in gaps:
        if lo > cursor:
            out.append((cursor, float(lo)))
        cursor = max(cursor, float(hi))
    if cursor < capacity:
        out.append((cursor, capacity))
    return out


def _load_instance(instance: Instance | str | Path, capacity: int | None, kwargs: dict[str, Any]) -> Instance:
    if isinstance(instance, Instance):
        if kwargs:
            raise ConfigurationError(f"options {', '.join(kwargs)} only apply when instance is a DNN name")
        return instance if capacity is None else instance.with_capacity(capacity)
    name = str(instance)
    if name in GRAPHS:
        loaded = dnn_instance(name, **kwargs)
        return loaded if capacity is None else loaded.with_capacity(capacity)
    if kwargs:
        raise ConfigurationError(f"options {', '.join(kwargs)} only apply when instance is a DNN name")
    if name in EXAMPLES:
        return read_csv(example_path(name), capacity or EXAMPLES[name])
    if name.endswith(".csv"):
        capacity = capacity or capacity_in_name(name)
        if capacity is None:
            raise ConfigurationError(f"instance file {name!r} has no capacity; pass capacity=BYTES (or name the "
                                     "file NAME.CAPACITY.csv)")
        return read_csv(name, capacity)
    raise ConfigurationError(
        f"unknown instance {name!r}; give an Instance, a MiniMalloc .csv file, or one of "
        f"{', '.join((*GRAPHS, *EXAMPLES))}"
    )
