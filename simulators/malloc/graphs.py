"""DNN layer graphs, in a topological schedule, for generating memory-mapping instances.

Layer shapes come from the papers that define the networks:

* ResNet-50: He et al., "Deep Residual Learning for Image Recognition",
  CVPR 2016, Table 1 (bottleneck blocks [1x1, 3x3, 1x1] with 3, 4, 6, 3
  blocks per stage, a 1x1 projection on each stage's first block, stride 2
  in the 3x3 convolution as in torchvision's ResNet v1.5).
* MobileNetV2: Sandler et al., "MobileNetV2: Inverted Residuals and Linear
  Bottlenecks", CVPR 2018, Table 2 (expansion t, channels c, repeats n,
  stride s per bottleneck row; residual connection when stride is 1 and the
  channel count is unchanged).
* Transformer block: Vaswani et al., "Attention Is All You Need", NeurIPS
  2017, the base model (d_model 512, 8 heads, d_ff 2048), encoder blocks of
  multi-head self-attention and a feed-forward network, each followed by a
  residual add and layer normalisation.

Batch-norm and activation functions are folded into the preceding layer, as
inference compilers do. FLOPs count a multiply-accumulate as two.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

from archgym.errors import ConfigurationError, UnknownNameError

__all__ = ["GRAPHS", "Graph", "Op", "make_graph", "mobilenet_v2", "resnet50", "transformer"]


@dataclass(frozen=True)
class Op:
    """One operation of a graph.

    Attributes:
        name: Unique name; also the name of the tensor it produces.
        flops: Floating-point operations.
        inputs: Names of the tensors it reads (graph inputs or earlier ops' outputs).
        output_elements: Elements of the tensor it produces.
        weight_elements: Elements of its weights (0 for none).
    """

    name: str
    flops: float
    inputs: tuple[str, ...]
    output_elements: int
    weight_elements: int = 0


@dataclass
class Graph:
    """A list of operations in a topological order, and the graph inputs.

    Attributes:
        name: The network's name.
        inputs: Graph input tensors and their element counts.
        ops: Operations in schedule order.
    """

    name: str
    inputs: dict[str, int] = field(default_factory=dict)
    ops: list[Op] = field(default_factory=list)

    def add(self, name: str, flops: float, inputs: tuple[str, ...], output_elements: int,
            weight_elements: int = 0) -> str:
        """Append an operation and return the name of its output tensor."""
        self.ops.append(Op(name, float(flops), inputs, int(output_elements), int(weight_elements)))
        return name

    def conv(self, name: str, x: str, shape: tuple[int, int, int], out_channels: int, kernel: int,
             stride: int = 1, groups: int = 1) -> tuple[str, tuple[int, int, int]]:
        """Append a 2-D convolution ("same" padding) on an (H, W, C) tensor; return its output and shape."""
        h, w, c = shape
        oh, ow = -(-h // stride), -(-w // stride)
        weights = kernel * kernel * (c // groups) * out_channels
        flops = 2.0 * oh * ow * out_channels * kernel * kernel * (c // groups)
        return self.add(name, flops, (x,), oh * ow * out_channels, weights), (oh, ow, out_channels)

    def elementwise(self, name: str, inputs: tuple[str, ...], elements: int) -> str:
        """Append an element-wise operation (one FLOP per output element per extra input)."""
        return self.add(name, float(elements * max(1, len(inputs) - 1)), inputs, elements)


def resnet50(batch: int = 1, resolution: int = 224) -> Graph:
    """ResNet-50 for ImageNet (He et al. 2016, Table 1)."""
    g = Graph("resnet50")
    shape = (resolution, resolution, 3)
    g.inputs["image"] = resolution * resolution * 3
    x, shape = g.conv("conv1", "image", shape, 64, 7, stride=2)
    h, w, c = shape
    shape = (-(-h // 2), -(-w // 2), c)
    x = g.add("maxpool", 9.0 * shape[0] * shape[1] * c, (x,), shape[0] * shape[1] * c)
    for stage, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), start=2):
        for block in range(blocks):
            prefix = f"conv{stage}_{block + 1}"
            s = stride if block == 0 else 1
            a, a_shape = g.conv(f"{prefix}a", x, shape, width, 1)
            b, b_shape = g.conv(f"{prefix}b", a, a_shape, width, 3, stride=s)
            out, out_shape = g.conv(f"{prefix}c", b, b_shape, 4 * width, 1)
            shortcut = x
            if block == 0:
                shortcut, _ = g.conv(f"{prefix}proj", x, shape, 4 * width, 1, stride=s)
            x = g.elementwise(f"{prefix}add", (out, shortcut), out_shape[0] * out_shape[1] * out_shape[2])
            shape = out_shape
    pooled = g.add("avgpool", float(shape[0] * shape[1] * shape[2]), (x,), shape[2])
    g.add("fc", 2.0 * shape[2] * 1000, (pooled,), 1000, shape[2] * 1000)
    return _batched(g, batch)


def mobilenet_v2(batch: int = 1, resolution: int = 224, width: float = 1.0) -> Graph:
    """MobileNetV2 for ImageNet (Sandler et al. 2018, Table 2)."""
    g = Graph("mobilenetv2")
    g.inputs["image"] = resolution * resolution * 3
    shape = (resolution, resolution, 3)

    def channels(c: int) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    x, shape = g.conv("conv0", "image", shape, channels(32), 3, stride=2)
    rows = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))
    for r, (t, c, n, s) in enumerate(rows, start=1):
        for i in range(n):
            prefix = f"block{r}_{i + 1}"
            stride = s if i == 0 else 1
            y, y_shape = x, shape
            if t != 1:
                y, y_shape = g.conv(f"{prefix}expand", y, y_shape, shape[2] * t, 1)
            y, y_shape = g.conv(f"{prefix}dw", y, y_shape, y_shape[2], 3, stride=stride, groups=y_shape[2])
            y, y_shape = g.conv(f"{prefix}project", y, y_shape, channels(c), 1)
            if stride == 1 and shape[2] == y_shape[2]:
                y = g.elementwise(f"{prefix}add", (y, x), y_shape[0] * y_shape[1] * y_shape[2])
            x, shape = y, y_shape
    x, shape = g.conv("conv_last", x, shape, 1280, 1)
    pooled = g.add("avgpool", float(shape[0] * shape[1] * shape[2]), (x,), shape[2])
    g.add("fc", 2.0 * shape[2] * 1000, (pooled,), 1000, shape[2] * 1000)
    return _batched(g, batch)


def transformer(batch: int = 1, seq_len: int = 512, d_model: int = 512, heads: int = 8, d_ff: int = 2048,
                blocks: int = 1) -> Graph:
    """Transformer encoder blocks (Vaswani et al. 2017, base model)."""
    g = Graph("transformer")
    tokens = seq_len * d_model
    g.inputs["x"] = tokens
    x = "x"
    for k in range(blocks):
        p = f"block{k}_"
        q = g.add(p + "q", 2.0 * seq_len * d_model * d_model, (x,), tokens, d_model * d_model)
        key = g.add(p + "k", 2.0 * seq_len * d_model * d_model, (x,), tokens, d_model * d_model)
        v = g.add(p + "v", 2.0 * seq_len * d_model * d_model, (x,), tokens, d_model * d_model)
        scores = g.add(p + "scores", 2.0 * seq_len * seq_len * d_model, (q, key), heads * seq_len * seq_len)
        probs = g.add(p + "softmax", 5.0 * heads * seq_len * seq_len, (scores,), heads * seq_len * seq_len)
        context = g.add(p + "context", 2.0 * seq_len * seq_len * d_model, (probs, v), tokens)
        attn = g.add(p + "out_proj", 2.0 * seq_len * d_model * d_model, (context,), tokens, d_model * d_model)
        x1 = g.elementwise(p + "add1", (attn, x), tokens)
        x1 = g.add(p + "norm1", 8.0 * tokens, (x1,), tokens, 2 * d_model)
        hidden = g.add(p + "ffn1", 2.0 * seq_len * d_model * d_ff, (x1,), seq_len * d_ff, d_model * d_ff)
        y = g.add(p + "ffn2", 2.0 * seq_len * d_ff * d_model, (hidden,), tokens, d_ff * d_model)
        x2 = g.elementwise(p + "add2", (y, x1), tokens)
        x = g.add(p + "norm2", 8.0 * tokens, (x2,), tokens, 2 * d_model)
    return _batched(g, batch)


def _batched(graph: Graph, batch: int) -> Graph:
    """Scale activations and FLOPs by the batch size (weights are shared)."""
    if batch == 1:
        return graph
    graph.inputs = {name: elements * batch for name, elements in graph.inputs.items()}
    graph.ops = [Op(op.name, op.flops * batch, op.inputs, op.output_elements * batch, op.weight_elements)
                 for op in graph.ops]
    return graph


GRAPHS: dict[str, Callable[..., Graph]] = {
    "resnet50": resnet50,
    "mobilenetv2": mobilenet_v2,
    "transformer": transformer,
}
"""Graph builders by name."""


def make_graph(name: str, **kwargs: float) -> Graph:
    """Build a named graph (``resnet50``, ``mobilenetv2``, ``transformer``).

    Raises:
        UnknownNameError: an unknown graph name.
        ConfigurationError: an option the graph's builder does not take.
    """
    if name not in GRAPHS:
        raise UnknownNameError(f"unknown DNN graph {name!r}; available: {', '.join(GRAPHS)}")
    options = tuple(inspect.signature(GRAPHS[name]).parameters)
    unknown = [key for key in kwargs if key not in options]
    if unknown:
        raise ConfigurationError(
            f"graph {name!r} has no option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"its options are {', '.join(options)}"
        )
    return GRAPHS[name](**kwargs)
