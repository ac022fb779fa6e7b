"""DNN workloads of the accelerator problem: layers as loop nests, and the network zoo.

A layer is the seven-deep loop nest of a convolution in the notation of
Timeloop and Eyeriss (Chen et al., ISCA 2016)::

    for n < N, k < K, c < C, p < P, q < Q, r < R, s < S:
        O[n][k][p][q] += W[k][c][r][s] * I[n][c][p*stride + r][q*stride + s]

with ``N`` the batch, ``K`` output and ``C`` input channels, ``P x Q`` the
output feature map and ``R x S`` the filter. Three operators are supported:

* ``conv``: the loop nest above;
* ``depthwise``: one filter per channel (``K = C`` channels, no reduction
  over ``C``): ``O[n][k][p][q] += W[k][r][s] * I[n][k][p*stride + r][q*stride + s]``;
* ``gemm``: ``O[m][n] += I[m][k] * W[k][n]``, written as the loop nest with
  ``P = M``, ``K = N`` (output features), ``C = K`` (reduction) and
  ``Q = R = S = 1``.

A grouped convolution is ``repeat`` copies of a smaller convolution; ``repeat``
also folds identical layers (BERT's twelve encoder layers) into one line.

The zoo (:data:`ZOO`) holds real networks with their published layer shapes,
one YAML file each under ``zoo/``: AlexNet, VGG-16, ResNet-18, ResNet-50,
MobileNetV2 and BERT-base (its per-layer GEMMs at sequence length 128).
Users can also give a layer list of their own (YAML or CSV, see
:func:`load_layer_file`) or, with the ``onnx`` package installed, an ONNX
model. A workload spec selects a network and options::

    resnet18
    resnet18:layers=layer1.0.conv1+layer2.0.conv1+layer3.0.conv1
    resnet50:layers=0+3+7,batch=4
    my_layers.yaml
    model.onnx:batch=2
"""

from __future__ import annotations

import csv
import functools
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from archgym.errors import UnknownNameError, WorkloadError

__all__ = [
    "ZOO",
    "Layer",
    "Network",
    "load_layer_file",
    "load_onnx",
    "load_zoo",
    "parse_layer",
    "resolve_workload",
    "workload_name",
]

OPERATORS = ("conv", "depthwise", "gemm")
"""Operators a layer can be."""

ZOO: tuple[str, ...] = ("alexnet", "vgg16", "resnet18", "resnet50", "mobilenetv2", "bert-base")
"""Names of the bundled networks."""

_ZOO_DIR = Path(__file__).with_name("zoo")
_CONV_KEYS = ("N", "K", "C", "P", "Q", "R", "S", "stride")
_OPTIONS = ("layers", "batch")


@dataclass(frozen=True)
class Layer:
    """One DNN layer as a convolution loop nest (see the module docstring).

    Args:
        name: Layer name, unique within its network.
        op: ``"conv"``, ``"depthwise"`` or ``"gemm"``.
        N: Batch size.
        K: Output channels (GEMM: output features).
        C: Input channels (GEMM: reduction length; depthwise: equal to ``K``).
        P: Output rows (GEMM: rows of the input matrix).
        Q: Output columns.
        R: Filter rows.
        S: Filter columns.
        stride: Convolution stride (both directions).
        repeat: How many times the layer occurs (groups, repeated blocks).
    """

    name: str
    op: str
    N: int
    K: int
    C: int
    P: int
    Q: int
    R: int
    S: int
    stride: int = 1
    repeat: int = 1

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise WorkloadError(f"layer {self.name!r}: unknown op {self.op!r}; allowed: {', '.join(OPERATORS)}")
        for key in (*_CONV_KEYS, "repeat"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorkloadError(f"layer {self.name!r}: {key} must be a positive integer, got {value!r}")
        if self.op == "depthwise" and self.K != self.C:
            raise WorkloadError(f"layer {self.name!r}: a depthwise layer has K == C channels, got K={self.K}, C={self.C}")

    @property
    def reduction(self) -> int:
        """Input channels summed into each output (1 for depthwise layers)."""
        return 1 if self.op == "depthwise" else self.C

    @property
    def input_rows(self) -> int:
        """Rows of the input feature map the layer reads: ``(P - 1) * stride + R``, or ``P * R``
        when the stride skips rows (``R < stride``)."""
        return min((self.P - 1) * self.stride + self.R, self.P * self.R)

    @property
    def input_cols(self) -> int:
        """Columns of the input feature map the layer reads (see :attr:`input_rows`)."""
        return min((self.Q - 1) * self.stride + self.S, self.Q * self.S)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one occurrence of the layer."""
        return self.N * self.K * self.reduction * self.P * self.Q * self.R * self.S

    @property
    def total_macs(self) -> int:
        """Multiply-accumulates of all ``repeat`` occurrences."""
        return self.macs * self.repeat

    @property
    def weights(self) -> int:
        """Weight elements: ``K * C * R * S`` (``K * R * S`` for depthwise layers)."""
        return self.K * self.reduction * self.R * self.S

    @property
    def inputs(self) -> int:
        """Input elements read: ``N * C * input_rows * input_cols``."""
        return self.N * self.C * self.input_rows * self.input_cols

    @property
    def outputs(self) -> int:
        """Output elements: ``N * K * P * Q``."""
        return self.N * self.K * self.P * self.Q


@dataclass(frozen=True)
class Network:
    """An ordered list of layers.

    Args:
        name: Network name (a zoo name, a file name, or a spec with options).
        layers: The layers, in execution order.
    """

    name: str
    layers: tuple[Layer, ...]

    def __post_init__(self) -> None:
        if not self.layers:
            raise WorkloadError(f"workload {self.name!r} has no layers")
        names = [layer.name for layer in self.layers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise WorkloadError(f"workload {self.name!r}: duplicate layer name(s) {', '.join(duplicates)}")

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the whole network (repeats included)."""
        return sum(layer.total_macs for layer in self.layers)

    @property
    def layer_names(self) -> tuple[str, ...]:
        """Names of the layers, in order."""
        return tuple(layer.name for layer in self.layers)

    def select(self, keys: Sequence[str | int]) -> Network:
        """The sub-network of the layers named (or indexed, from 0) by ``keys``, in the given order.

        Raises:
            WorkloadError: A key names no layer.
        """
        by_name = {layer.name: layer for layer in self.layers}
        chosen: list[Layer] = []
        for key in keys:
            text = str(key).strip()
            if text in by_name:
                chosen.append(by_name[text])
            elif text.lstrip("-").isdigit() and 0 <= int(text) < len(self.layers):
                chosen.append(self.layers[int(text)])
            else:
                raise WorkloadError(
                    f"workload {self.name!r} has no layer {text!r}; give a name or an index 0..{len(self.layers) - 1} "
                    f"(layers: {', '.join(self.layer_names)})"
                )
        return Network(f"{self.name}:layers={'+'.join(str(k) for k in keys)}", tuple(chosen))

    def with_batch(self, batch: int) -> Network:
        """The network at batch size ``batch``."""
        return Network(f"{self.name}:batch={batch}", tuple(replace(layer, N=batch) for layer in self.layers))


def _integer(value: Any, key: str, where: str) -> int:
    if isinstance(value, bool):
        raise WorkloadError(f"{where}: {key} must be a positive integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit():
            raise WorkloadError(f"{where}: {key} must be a positive integer, got {value!r}")
        value = int(text)
    if not isinstance(value, int) or value < 1:
        raise WorkloadError(f"{where}: {key} must be a positive integer, got {value!r}")
    return value


def parse_layer(entry: Mapping[str, Any], index: int = 0, source: str = "layer list") -> Layer:
    """A :class:`Layer` from a mapping, as written in YAML or CSV layer lists.

    Convolutions give ``K, C, P, R`` and optionally ``N`` (1), ``Q`` (``P``),
    ``S`` (``R``), ``stride`` (1); depthwise layers give ``C`` (or ``K``),
    ``P`` and ``R``; GEMMs give ``M, N, K``. Every layer may give ``name``
    (``layer<index>``) and ``repeat`` (1).

    Raises:
        WorkloadError: An unknown op or key, or a missing or non-positive value.
    """
    if not isinstance(entry, Mapping):
        raise WorkloadError(f"{source}: layer {index} must be a mapping of keys to values, got {entry!r}")
    data = {str(k).strip(): v for k, v in entry.items() if v is not None and str(v).strip() != ""}
    name = str(data.pop("name", f"layer{index}"))
    op = str(data.pop("op", "conv")).strip().lower()
    where = f"{source}: layer {name!r}"
    allowed = {"conv": (*_CONV_KEYS, "repeat"), "depthwise": (*_CONV_KEYS, "repeat"), "gemm": ("M", "N", "K", "repeat")}
    if op not in allowed:
        raise WorkloadError(f"{where}: unknown op {op!r}; allowed: {', '.join(OPERATORS)}")
    unknown = sorted(set(data) - set(allowed[op]))
    if unknown:
        raise WorkloadError(f"{where}: unknown key(s) {', '.join(unknown)} for op {op!r}; allowed: {', '.join(allowed[op])}")
    values = {key: _integer(value, key, where) for key, value in data.items()}
    repeat = values.get("repeat", 1)
    if op == "gemm":
        missing = [k for k in ("M", "N", "K") if k not in values]
        if missing:
            raise WorkloadError(f"{where}: a gemm layer needs M, N and K; missing {', '.join(missing)}")
        return Layer(name, "gemm", 1, values["N"], values["K"], values["M"], 1, 1, 1, 1, repeat)
    if op == "depthwise":
        channels = values.get("C", values.get("K"))
        if channels is None:
            raise WorkloadError(f"{where}: a depthwise layer needs C (its channels)")
        values["K"] = values.setdefault("C", channels)
    missing = [k for k in ("K", "C", "P", "R") if k not in values]
    if missing:
        raise WorkloadError(f"{where}: a {op} layer needs K, C, P and R; missing {', '.join(missing)}")
    return Layer(
        name, op, values.get("N", 1), values["K"], values["C"], values["P"], values.get("Q", values["P"]),
        values["R"], values.get("S", values["R"]), values.get("stride", 1), repeat,
    )


def load_layer_file(path: str | os.PathLike[str]) -> Network:
    """Read a layer list from a YAML or CSV file.

    YAML: a list of layer mappings, or a mapping with ``layers`` (and an
    optional ``name``). CSV: a header row of the same keys (``name, op, N, K,
    C, P, Q, R, S, stride, repeat``, or ``M`` for GEMM rows), one layer per
    row; empty cells take their defaults. See :func:`parse_layer` for the keys.

    Raises:
        WorkloadError: The file is missing, unreadable or malformed.
    """
    file = Path(path)
    if not file.is_file():
        raise WorkloadError(f"layer file {str(file)!r} does not exist")
    suffix = file.suffix.lower()
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise WorkloadError(f"cannot read layer file {str(file)!r}: {error}") from None
    name = file.stem
    if suffix in (".yaml", ".yml"):
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise WorkloadError(f"layer file {str(file)!r} is not valid YAML: {error}") from None
        if isinstance(document, Mapping):
            name = str(document.get("name", name))
            document = document.get("layers")
        if not isinstance(document, list):
            raise WorkloadError(
                f"layer file {str(file)!r} must hold a list of layers, or a mapping with a 'layers' list"
            )
        entries: list[Any] = document
    elif suffix == ".csv":
        rows = list(csv.DictReader(text.splitlines()))
        if rows and None in rows[0]:
            raise WorkloadError(f"layer file {str(file)!r}: a row has more cells than the header")
        entries = rows
    else:
        raise WorkloadError(f"layer file {str(file)!r}: unsupported format {suffix!r}; use .yaml, .yml, .csv or .onnx")
    return Network(name, tuple(parse_layer(entry, i, str(file)) for i, entry in enumerate(entries)))


@functools.cache
def load_zoo(name: str) -> Network:
    """A bundled network by name (see :data:`ZOO`).

    Raises:
        UnknownNameError: No such network; the message lists the zoo.
    """
    key = name.strip().lower()
    if key not in ZOO:
        raise UnknownNameError(
            f"unknown network {name!r}; bundled networks are {', '.join(ZOO)} (or give a .yaml, .csv or .onnx file)"
        )
    network = load_layer_file(_ZOO_DIR / f"{key}.yaml")
    return Network(key, network.layers)


def load_onnx(path: str | os.PathLike[str]) -> Network:
    """The Conv, Gemm and MatMul layers of an ONNX model (needs the ``onnx`` package).

    Shapes come from ONNX shape inference. A convolution with ``group`` equal
    to its channels is a depthwise layer; other grouped convolutions become
    ``repeat = group`` copies of one group. MatMul and Gemm become GEMMs (a
    batched MatMul repeats over its leading dimensions); weights must have
    static shapes. Other operators (pooling, activations, additions) are
    skipped: the accelerator model counts multiply-accumulates.

    Raises:
        WorkloadError: onnx is not installed, the file is unreadable, or a
            layer's shapes cannot be inferred.
    """
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        raise WorkloadError("reading ONNX models needs the onnx package: pip install onnx") from None
    file = Path(path)
    try:
        model = shape_inference.infer_shapes(onnx.load(str(file)))
    except Exception as error:  # noqa: BLE001 - onnx raises several unrelated types for unreadable models
        raise WorkloadError(f"cannot read ONNX model {str(file)!r}: {error}") from None
    graph = model.graph
    shapes: dict[str, tuple[int, ...]] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes[value.name] = tuple(d.dim_value if d.HasField("dim_value") else 0 for d in dims)
    for tensor in graph.initializer:
        shapes[tensor.name] = tuple(tensor.dims)
    layers: list[Layer] = []
    for index, node in enumerate(graph.node):
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        name = node.name or f"{node.op_type.lower()}{index}"
        where = f"ONNX model {str(file)!r}, node {name!r}"
        operands = [shapes.get(i, ()) for i in node.input[:2]]
        out = shapes.get(node.output[0], ())
        if any(not s or 0 in s for s in (*operands, out)):
            raise WorkloadError(f"{where}: shapes could not be inferred; export the model with static input shapes")
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            if len(out) != 4:
                raise WorkloadError(f"{where}: only 2-D convolutions are supported, got output shape {out}")
            n, k, p, q = out
            _, c_per_group, r, s = operands[1]
            group = int(attributes.get("group", 1))
            strides = list(attributes.get("strides", [1, 1]))
            if len(set(strides)) != 1:
                raise WorkloadError(f"{where}: different strides per direction {strides} are not supported")
            stride = int(strides[0])
            if group > 1 and c_per_group == 1 and k == group:
                layers.append(Layer(name, "depthwise", n, k, k, p, q, r, s, stride))
            else:
                layers.append(Layer(name, "conv", n, k // group, c_per_group, p, q, r, s, stride, group))
        else:
            a, b = operands
            if node.op_type == "Gemm":
                m, reduction = (a[1], a[0]) if attributes.get("transA", 0) else (a[0], a[1])
                n_out = b[0] if attributes.get("transB", 0) else b[1]
                repeat = 1
            else:
                m, reduction, n_out = a[-2] if len(a) > 1 else 1, a[-1], b[-1]
                repeat = math.prod(out[:-2]) if len(out) > 2 else 1
            layers.append(Layer(name, "gemm", 1, n_out, reduction, m, 1, 1, 1, 1, repeat))
    if not layers:
        raise WorkloadError(f"ONNX model {str(file)!r} has no Conv, Gemm or MatMul layers")
    return Network(file.stem, tuple(layers))


def _split_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split ``name:key=value,key=value`` into the name and its options."""
    base, colon, rest = spec.partition(":")
    if not colon or os.path.exists(spec):
        return spec, {}
    options: dict[str, str] = {}
    for item in rest.split(","):
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not value.strip():
            raise WorkloadError(f"workload {spec!r}: options look like key=value, got {item!r}")
        if key not in _OPTIONS:
            raise WorkloadError(f"workload {spec!r}: unknown option {key!r}; options are {', '.join(_OPTIONS)}")
        options[key] = value.strip()
    return base, options


@functools.lru_cache(maxsize=64)
def _resolve_spec(spec: str) -> Network:
    base, options = _split_spec(spec.strip())
    suffix = Path(base).suffix.lower()
    if suffix == ".onnx":
        network = load_onnx(base)
    elif suffix in (".yaml", ".yml", ".csv"):
        network = load_layer_file(base)
    else:
        network = load_zoo(base)
    if "layers" in options:
        network = network.select([key for key in options["layers"].split("+") if key.strip()])
    if "batch" in options:
        network = network.with_batch(_integer(options["batch"], "batch", f"workload {spec!r}"))
    return network if not options else Network(spec.strip(), network.layers)


def resolve_workload(workload: str | os.PathLike[str] | Network | Sequence[Layer]) -> Network:
    """The :class:`Network` a workload names: a zoo name or file path with options, a Network, or layers.

    Raises:
        UnknownNameError: An unknown network name.
        WorkloadError: A malformed file, spec or layer list.
    """
    if isinstance(workload, Network):
        return workload
    if isinstance(workload, os.PathLike):
        return _resolve_spec(os.fspath(workload))
    if isinstance(workload, str):
        return _resolve_spec(workload)
    if isinstance(workload, Sequence) and workload and all(isinstance(layer, Layer) for layer in workload):
        return Network("layers", tuple(workload))
    raise WorkloadError(
        f"a workload is a network name ({', '.join(ZOO)}), a layer file path, a Network or a list of Layers; "
        f"got {type(workload).__name__}"
    )


def workload_name(workload: Any) -> str:
    """A short name of a workload, for datasets and messages."""
    if isinstance(workload, Network):
        return workload.name
    if isinstance(workload, os.PathLike):
        return os.fspath(workload)
    return str(workload)
