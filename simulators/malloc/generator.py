"""Generated instances: DNN-derived mapping problems and zero-slack allocation problems.

* :func:`graph_instance` turns a layer graph (:mod:`.graphs`) into an
  instance: every operation's output tensor is a buffer live from the
  operation that produces it to the last one that reads it; every weight
  tensor is a buffer live for the one operation that uses it; each operation
  reads its inputs and weights and writes its output once.
* :func:`dnn_instance` picks a window of consecutive layers of a named
  network and sets the capacity to a fraction of the peak live bytes (the
  capacity pressure).
* :func:`zero_slack_instance` cuts a capacity x time rectangle into buffers
  (guillotine cuts), so a perfect packing exists and the peak live bytes
  equal the capacity at every step: every buffer must fit, with no byte to
  spare.
* :func:`random_instance` makes small random instances with costs, for tests.
* :func:`equivalent_forms` rewrites a pure allocation instance without
  changing its answer (time reversed, buffers renamed and reordered), to show
  that a solver's speed does not hang on how an instance happens to be written.
"""

from __future__ import annotations

import numpy as np

from archgym.errors import ConfigurationError
from archgym.simulators.malloc.cost import EDGE_ACCELERATOR, Machine
from archgym.simulators.malloc.graphs import Graph, make_graph
from archgym.simulators.malloc.instances import Instance, Uses

__all__ = ["dnn_instance", "equivalent_forms", "graph_instance", "random_instance", "zero_slack_instance"]


def graph_instance(
    graph: Graph,
    *,
    capacity: int | None = None,
    capacity_fraction: float = 0.25,
    bytes_per_element: int = 1,
    alignment: int = 64,
    machine: Machine = EDGE_ACCELERATOR,
    window: tuple[int, int] | None = None,
    name: str | None = None,
) -> Instance:
    """An instance from a layer graph.

    Args:
        graph: The operations in schedule order.
        capacity: Fast-memory bytes; if None, ``capacity_fraction`` of the
            peak live bytes, rounded down to the alignment.
        capacity_fraction: See ``capacity``.
        bytes_per_element: 1 for int8 inference, 2 for bf16, 4 for fp32.
        alignment: Offset alignment in bytes.
        machine: Gives the compute throughput (compute time = FLOPs / throughput).
        window: Keep only operations ``[first, last)``; tensors produced
            before the window are inputs, live from its start.
        name: Label; defaults to the graph name and window.

    Tensors larger than the capacity can never be placed: their traffic is
    kept as :attr:`Instance.pinned_bytes` and they are not buffers.

    Raises:
        ConfigurationError: an empty window or a non-positive parameter.
    """
    if bytes_per_element < 1 or alignment < 1 or not (0 < capacity_fraction):
        raise ConfigurationError("bytes_per_element, alignment and capacity_fraction must be positive")
    first, last = window if window is not None else (0, len(graph.ops))
    ops = graph.ops[first:last]
    if not ops:
        raise ConfigurationError(f"window {window} of {graph.name} ({len(graph.ops)} operations) is empty")
    elements: dict[str, int] = {}
    producer: dict[str, int] = {}
    last_use: dict[str, int] = {}
    for i, op in enumerate(ops):
        for tensor in op.inputs:
            if tensor not in producer:
                producer[tensor] = 0
                elements[tensor] = graph.inputs.get(tensor) or _elements_of(graph, tensor)
            last_use[tensor] = i
        producer[op.name] = i
        elements[op.name] = op.output_elements
    names = list(producer)
    index = {tensor: k for k, tensor in enumerate(names)}
    starts = [producer[t] for t in names]
    ends = [last_use.get(t, producer[t]) + 1 for t in names]
    sizes = [elements[t] * bytes_per_element for t in names]
    triples: list[tuple[int, int, float]] = []
    for i, op in enumerate(ops):
        for tensor in dict.fromkeys(op.inputs):
            triples.append((i, index[tensor], float(sizes[index[tensor]])))
        triples.append((i, index[op.name], float(sizes[index[op.name]])))
        if op.weight_elements:
            names.append(f"{op.name}.weight")
            starts.append(i)
            ends.append(i + 1)
            sizes.append(op.weight_elements * bytes_per_element)
            triples.append((i, len(names) - 1, float(sizes[-1])))
    compute = np.array([op.flops for op in ops]) / machine.flops_per_s
    label = name or (graph.name if window is None else f"{graph.name}[{first}:{last}]")
    full = Instance(label, tuple(names), np.array(starts), np.array(ends), np.array(sizes), max(sizes),
                    alignment, compute, Uses.from_triples(triples))
    if capacity is None:
        capacity = max(alignment, int(full.peak_live_bytes() * capacity_fraction) // alignment * alignment)
    keep = np.flatnonzero(full.sizes <= capacity)
    return full.subset(keep).with_capacity(int(capacity))


def _elements_of(graph: Graph, tensor: str) -> int:
    for op in graph.ops:
        if op.name == tensor:
            return op.output_elements
    raise ConfigurationError(f"graph {graph.name}: tensor {tensor!r} is neither an input nor an operation output")


def dnn_instance(
    model: str = "mobilenetv2",
    *,
    layers: int | None = None,
    seed: int = 0,
    capacity_fraction: float = 0.25,
    batch: int = 1,
    bytes_per_element: int = 1,
    alignment: int = 64,
    machine: Machine = EDGE_ACCELERATOR,
    **graph_kwargs: float,
) -> Instance:
    """An instance from a window of ``layers`` consecutive operations of a named network.

    Args:
        model: ``resnet50``, ``mobilenetv2`` or ``transformer``.
        layers: Operations to keep (all if None); the window's position is drawn with ``seed``.
        seed: Seeds the window position.
        capacity_fraction: Capacity as a fraction of the window's peak live bytes.
        batch: Batch size.
        bytes_per_element: Bytes per tensor element.
        alignment: Offset alignment in bytes.
        machine: Compute throughput for the compute times.
        **graph_kwargs: Passed to the graph builder (``seq_len=128``, ``blocks=2``).

    Raises:
        UnknownNameError: an unknown model.
        ConfigurationError: ``layers`` is not positive.
    """
    graph = make_graph(model, batch=batch, **graph_kwargs)
    window = None
    if layers is not None:
        if layers < 1:
            raise ConfigurationError(f"layers must be positive, got {layers}")
        layers = min(layers, len(graph.ops))
        first = int(np.random.default_rng(seed).integers(0, len(graph.ops) - layers + 1))
        window = (first, first + layers)
    return graph_instance(graph, capacity_fraction=capacity_fraction, bytes_per_element=bytes_per_element,
                          alignment=alignment, machine=machine, window=window)


def zero_slack_instance(
    n_buffers: int,
    *,
    capacity: int = 1 << 20,
    horizon: int | None = None,
    alignment: int = 1,
    seed: int = 0,
) -> Instance:
    """A pure allocation instance whose peak live bytes equal its capacity at every step.

    The ``capacity x horizon`` rectangle is cut into ``n_buffers`` pieces by
    repeated guillotine cuts (a piece, drawn with probability proportional to
    its area, is cut across time or across addresses at a uniform point);
    each piece is a buffer. The cut itself is a perfect packing, so the
    instance is feasible, but only just.

    Args:
        n_buffers: Buffers to make.
        capacity: Bytes of fast memory (a multiple of ``alignment``).
        horizon: Schedule length; defaults to ``n_buffers``.
        alignment: Address cuts fall on multiples of it.
        seed: Random seed.

    Raises:
        ConfigurationError: the rectangle cannot be cut into that many pieces.
    """
    horizon = n_buffers if horizon is None else horizon
    if n_buffers < 1 or capacity % alignment or capacity < alignment:
        raise ConfigurationError("n_buffers must be positive and capacity a positive multiple of alignment")
    rng = np.random.default_rng(seed)
    units = capacity // alignment
    pieces = [(0, horizon, 0, units)]  # (t0, t1, a0, a1), addresses in alignment units
    while len(pieces) < n_buffers:
        splittable = [k for k, (t0, t1, a0, a1) in enumerate(pieces) if t1 - t0 > 1 or a1 - a0 > 1]
        if not splittable:
            raise ConfigurationError(
                f"a {capacity}-byte x {horizon}-step rectangle cannot be cut into {n_buffers} buffers")
        areas = np.array([(pieces[k][1] - pieces[k][0]) * (pieces[k][3] - pieces[k][2]) for k in splittable],
                         dtype=np.float64)
        k = splittable[int(rng.choice(len(splittable), p=areas / areas.sum()))]
        t0, t1, a0, a1 = pieces.pop(k)
        across_time = t1 - t0 > 1 and (a1 - a0 == 1 or rng.random() < 0.5)
        if across_time:
            cut = int(rng.integers(t0 + 1, t1))
            pieces += [(t0, cut, a0, a1), (cut, t1, a0, a1)]
        else:
            cut = int(rng.integers(a0 + 1, a1))
            pieces += [(t0, t1, a0, cut), (t0, t1, cut, a1)]
    order = rng.permutation(len(pieces))
    array = np.array([pieces[k] for k in order], dtype=np.int64)
    return Instance(
        f"zero-slack-{n_buffers}-s{seed}", tuple(f"b{i}" for i in range(len(pieces))), array[:, 0], array[:, 1],
        (array[:, 3] - array[:, 2]) * alignment, capacity, alignment,
    )


def random_instance(
    n_buffers: int,
    *,
    n_ops: int = 12,
    capacity_fraction: float = 0.4,
    max_size: int = 64,
    alignment: int = 1,
    seed: int = 0,
) -> Instance:
    """A small random instance with costs (for tests and the env's property checks).

    Live ranges and sizes are uniform; each buffer is read or written by one
    to three operations inside its live range with its size in bytes; compute
    times are drawn so that about half the operations are memory-bound.
    """
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n_ops, n_buffers)
    ends = np.minimum(n_ops, starts + rng.integers(1, max(2, n_ops // 2), n_buffers))
    sizes = rng.integers(1, max_size + 1, n_buffers) * alignment
    triples: list[tuple[int, int, float]] = []
    for b in range(n_buffers):
        ops = rng.choice(np.arange(starts[b], ends[b]), size=min(int(ends[b] - starts[b]), int(rng.integers(1, 4))),
                         replace=False)
        triples += [(int(op), b, float(sizes[b])) for op in ops]
    uses = Uses.from_triples(triples)
    memory = np.bincount(uses.op, weights=uses.nbytes, minlength=n_ops) / EDGE_ACCELERATOR.slow_bandwidth
    compute = memory * rng.uniform(0.2, 1.5, n_ops)
    peak = Instance("peak", tuple(map(str, range(n_buffers))), starts, ends, sizes, int(sizes.max())).peak_live_bytes()
    capacity = max(int(sizes.max()), int(peak * capacity_fraction) // alignment * alignment)
    return Instance(f"random-{n_buffers}-s{seed}", tuple(f"b{i}" for i in range(n_buffers)), starts, ends, sizes,
                    capacity, alignment, compute, uses)


def equivalent_forms(instance: Instance, seed: int = 0) -> dict[str, Instance]:
    """The instance and rewrites of it with the same answer, keyed by form.

    ``original``; ``reversed`` (time runs backwards: ``[lower, upper)``
    becomes ``[T - upper, T - lower)``); ``renamed`` (buffers in a random
    order with new ids); ``reversed-renamed`` (both). Costs are dropped: the
    forms are pure allocation instances.

    Args:
        instance: The instance.
        seed: Seeds the order of the renamed forms.
    """
    horizon = int(instance.ends.max(initial=0))
    order = np.random.default_rng(seed).permutation(len(instance))

    def form(suffix: str, starts: np.ndarray, ends: np.ndarray, shuffle: bool) -> Instance:
        name = instance.name if suffix == "original" else f"{instance.name}~{suffix}"
        if not shuffle:
            return Instance(name, instance.ids, starts, ends, instance.sizes, instance.capacity, instance.alignment)
        return Instance(name, tuple(f"x{k}" for k in range(len(instance))), starts[order], ends[order],
                        instance.sizes[order], instance.capacity, instance.alignment)

    mirrored = (horizon - instance.ends, horizon - instance.starts)
    return {
        "original": form("original", instance.starts, instance.ends, False),
        "reversed": form("reversed", *mirrored, False),
        "renamed": form("renamed", instance.starts, instance.ends, True),
        "reversed-renamed": form("reversed-renamed", *mirrored, True),
    }
