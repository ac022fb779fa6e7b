"""Instances from real PyTorch models, traced with ``torch.fx``.

:func:`from_torch` symbolically traces a module, runs the example inputs
through it to record every intermediate tensor's shape and dtype
(``ShapeProp``), and schedules the graph's nodes in their (topological)
order. Each node that computes a tensor is an operation; its output is a
buffer live from the node to its last user; each parameter a module call
(or a ``get_attr`` node) reads is a buffer live for that one operation. An
operation reads its tensor inputs and parameters and writes its output once.

FLOPs: ``2 * output elements * (input channels / groups) * kernel area``
for convolutions, ``2 * output elements * in_features`` for linear layers
and matrix products, and one per output element otherwise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from archgym.errors import ConfigurationError, WorkloadError
from archgym.simulators.malloc.cost import EDGE_ACCELERATOR, Machine
from archgym.simulators.malloc.instances import Instance, Uses

__all__ = ["from_torch"]


def _nbytes(meta: Any) -> int:
    if meta is None or not hasattr(meta, "shape"):
        return 0
    return int(math.prod(meta.shape)) * int(meta.dtype.itemsize)


def _flops(node: Any, module: Any, out_elements: int, inputs: list[Any]) -> float:
    import torch

    if node.op == "call_module":
        if isinstance(module, torch.nn.modules.conv._ConvNd):
            kernel = math.prod(module.kernel_size)
            return 2.0 * out_elements * (module.in_channels // module.groups) * kernel
        if isinstance(module, torch.nn.Linear):
            return 2.0 * out_elements * module.in_features
    if node.op in ("call_function", "call_method") and getattr(node.target, "__name__", str(node.target)) in (
            "matmul", "bmm", "mm", "linear"):
        first = inputs[0] if inputs else None
        if first is not None and hasattr(first, "shape") and len(first.shape):
            return 2.0 * out_elements * int(first.shape[-1])
    return float(out_elements)


def from_torch(
    module: Any,
    example_inputs: tuple[Any, ...] | Any,
    *,
    capacity: int | None = None,
    capacity_fraction: float = 0.25,
    alignment: int = 64,
    machine: Machine = EDGE_ACCELERATOR,
    name: str | None = None,
) -> Instance:
    """Trace ``module`` on ``example_inputs`` and build a memory-mapping instance.

    Args:
        module: A ``torch.nn.Module`` that ``torch.fx.symbolic_trace`` can trace.
        example_inputs: A tensor or a tuple of tensors to run through it.
        capacity: Fast-memory bytes; if None, ``capacity_fraction`` of the
            peak live bytes (rounded down to the alignment).
        capacity_fraction: See ``capacity``.
        alignment: Offset alignment in bytes.
        machine: Compute throughput for the compute times.
        name: Label; defaults to the module's class name.

    Tensors larger than the capacity stay in slow memory (their traffic is
    :attr:`Instance.pinned_bytes`).

    Raises:
        ConfigurationError: torch is not installed.
        WorkloadError: the module cannot be traced or run on the inputs, or
            computes no tensors.
    """
    try:
        import torch
        from torch.fx import symbolic_trace
        from torch.fx.passes.shape_prop import ShapeProp
    except ImportError:
        raise ConfigurationError("from_torch needs PyTorch; install the rl extra: pip install 'archgym[rl]'") from None
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    try:
        traced = symbolic_trace(module)
        with torch.no_grad():
            ShapeProp(traced).propagate(*inputs)
    except Exception as error:  # noqa: BLE001 - tracing and running user code can raise anything
        raise WorkloadError(f"cannot trace {type(module).__name__} with torch.fx: {error}") from None
    modules = dict(traced.named_modules())

    ops: list[Any] = []
    for node in traced.graph.nodes:
        if node.op in ("call_module", "call_function", "call_method") and _nbytes(node.meta.get("tensor_meta")):
            ops.append(node)
    if not ops:
        raise WorkloadError(f"{type(module).__name__} computes no tensors")
    step = {node: i for i, node in enumerate(ops)}

    ids: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    sizes: list[int] = []
    triples: list[tuple[int, int, float]] = []
    buffer_of: dict[Any, int] = {}

    def tensor_buffer(node: Any) -> int | None:
        """The buffer of a graph input or an operation output read by some operation."""
        if node in buffer_of:
            return buffer_of[node]
        size = _nbytes(node.meta.get("tensor_meta"))
        if not size or (node.op not in ("placeholder", "get_attr") and node not in step):
            return None
        readers = [step[user] for user in node.users if user in step]
        start = step.get(node, min(readers, default=0))
        buffer_of[node] = len(ids)
        ids.append(node.name)
        starts.append(start)
        ends.append(max([start, *readers]) + 1)
        sizes.append(size)
        return buffer_of[node]

    compute = np.zeros(len(ops))
    for i, node in enumerate(ops):
        args = list(node.all_input_nodes)
        metas = [a.meta.get("tensor_meta") for a in args]
        out = tensor_buffer(node)
        if out is None:  # every node in ops computes a tensor, so this cannot happen
            raise WorkloadError(f"node {node.name} has no tensor output")
        triples.append((i, out, float(sizes[out])))
        for arg in args:
            b = tensor_buffer(arg)
            if b is not None:
                triples.append((i, b, float(sizes[b])))
        submodule = modules.get(node.target) if node.op == "call_module" else None
        meta = node.meta["tensor_meta"]
        compute[i] = _flops(node, submodule, int(math.prod(meta.shape)), metas) / machine.flops_per_s
        if submodule is not None:
            for pname, tensor in [*submodule.named_parameters(recurse=False), *submodule.named_buffers(recurse=False)]:
                ids.append(f"{node.name}.{pname}")
                starts.append(i)
                ends.append(i + 1)
                sizes.append(int(tensor.numel() * tensor.element_size()))
                triples.append((i, len(ids) - 1, float(sizes[-1])))
    full = Instance(name or type(module).__name__, tuple(ids), np.array(starts), np.array(ends), np.array(sizes),
                    max(sizes), alignment, compute, Uses.from_triples(triples))
    if capacity is None:
        capacity = max(alignment, int(full.peak_live_bytes() * capacity_fraction) // alignment * alignment)
    return full.subset(np.flatnonzero(full.sizes <= capacity)).with_capacity(int(capacity))
