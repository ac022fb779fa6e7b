"""Instances, the MiniMalloc CSV reader and writer, and the generators."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.errors import WorkloadError
from archgym.simulators.malloc.generator import dnn_instance, graph_instance, zero_slack_instance
from archgym.simulators.malloc.graphs import make_graph
from archgym.simulators.malloc.instances import Instance
from archgym.simulators.malloc.minimalloc import format_csv, parse_csv, read_csv, write_csv

GOOD = "id,lower,upper,size\na,0,3,4\nb,2,5,4\nc,5,6,8\n"


def test_parse_csv_reads_half_open_intervals():
    instance = parse_csv(GOOD, capacity=8)
    assert instance.ids == ("a", "b", "c")
    assert instance.starts.tolist() == [0, 2, 5]
    assert instance.ends.tolist() == [3, 5, 6]
    assert instance.sizes.tolist() == [4, 4, 8]
    assert instance.peak_live_bytes() == 8  # a and b overlap at step 2; c is alone
    assert not instance.has_costs
    assert instance.conflicts(0).tolist() == [1]
    assert instance.conflicts(2).tolist() == []


def test_csv_round_trip(tmp_path):
    instance = zero_slack_instance(30, capacity=1024, seed=4)
    path = tmp_path / "inst.csv"
    write_csv(instance, path, offsets=np.zeros(len(instance), dtype=int))
    again = read_csv(path, capacity=1024)  # the offset column is ignored
    assert again.ids == instance.ids
    assert np.array_equal(again.starts, instance.starts)
    assert np.array_equal(again.sizes, instance.sizes)
    assert format_csv(again) == format_csv(instance)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("name,lower,upper,size\na,0,1,1\n", "line 1: header"),
        ("id,lower,upper,size\na,0,1\n", "line 2: expected 4"),
        ("id,lower,upper,size\na,0,1,4\nb,x,2,4\n", "line 3, field lower: 'x' is not an integer"),
        ("id,lower,upper,size\na,0,1,-4\n", "line 2, field size: -4 must be a positive"),
        ("id,lower,upper,size\na,3,3,4\n", "line 2, field upper: 3 must be greater than lower (3)"),
        ("id,lower,upper,size\na,-1,3,4\n", "line 2, field lower: -1 is negative"),
        ("id,lower,upper,size\na,0,3,100\n", "needs 100 bytes, more than the capacity 64"),
        ("id,lower,upper,size\na,0,3,4\na,1,2,4\n", "line 3, field id: buffer id 'a' already used on line 2"),
        ("id,lower,upper,size\n", "no buffers"),
        ("id,lower,upper,size\na,0,100000000000000000000000,4\n", "line 2, field upper: 100000000000000000000000 is too large"),
    ],
)
def test_malformed_csv_names_line_and_field(text, message):
    with pytest.raises(WorkloadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_csv(text, capacity=64)


def test_missing_file_is_a_workload_error(tmp_path):
    with pytest.raises(WorkloadError, match="cannot read instance file"):
        read_csv(tmp_path / "nope.csv", capacity=10)


def test_binary_file_is_a_workload_error(tmp_path):
    path = tmp_path / "noise.csv"
    path.write_bytes(bytes(range(128, 256)))
    with pytest.raises(WorkloadError, match="is not a text CSV file: byte 0x80 at offset 0"):
        read_csv(path, capacity=10)


def test_instance_validation():
    with pytest.raises(WorkloadError, match="below 2\\*\\*62"):
        Instance("x", ("a",), [0], [2], [4], 2**70)
    with pytest.raises(WorkloadError, match="empty"):
        Instance("x", ("a",), [2], [2], [4], 8)
    with pytest.raises(WorkloadError, match="larger than the fast-memory capacity"):
        Instance("x", ("a",), [0], [2], [9], 8)
    with pytest.raises(WorkloadError, match="positive number of bytes"):
        Instance("x", ("a",), [0], [2], [0], 8)
    with pytest.raises(WorkloadError, match="appears more than once"):
        Instance("x", ("a", "a"), [0, 0], [1, 1], [1, 1], 8)


@pytest.mark.parametrize("seed", range(5))
def test_zero_slack_instances_have_no_slack(seed):
    instance = zero_slack_instance(60, capacity=4096, alignment=8, seed=seed)
    assert len(instance) == 60
    live = instance.live_bytes()
    assert live.min() == live.max() == instance.capacity
    assert np.all(instance.sizes % 8 == 0)


def test_graph_layer_shapes():
    resnet = make_graph("resnet50")
    convs = [op for op in resnet.ops if op.weight_elements and op.name != "fc"]
    assert len(convs) == 53  # 49 convolutions of the paper's table plus 4 projection shortcuts
    # ResNet-50 has about 4.1 GMACs and 25.6 M parameters (He et al. 2016, Table 1).
    assert 7.6e9 < sum(op.flops for op in resnet.ops) < 8.4e9
    assert 25.0e6 < sum(op.weight_elements for op in resnet.ops) < 26.0e6
    mobilenet = make_graph("mobilenetv2")
    assert 3.3e6 < sum(op.weight_elements for op in mobilenet.ops) < 3.6e6  # 3.4 M parameters
    assert 0.55e9 < sum(op.flops for op in mobilenet.ops) < 0.65e9  # 300 M MACs
    assert make_graph("transformer", blocks=2).ops[-1].name == "block1_norm2"


def test_dnn_instance_live_ranges_follow_the_schedule():
    graph = make_graph("resnet50")
    instance = graph_instance(graph, capacity_fraction=0.3)
    index = {name: i for i, name in enumerate(instance.ids)}
    ops = [op.name for op in graph.ops]
    # conv2_1a's output is read only by conv2_1b: live for two steps.
    a = index["conv2_1a"]
    assert (instance.starts[a], instance.ends[a]) == (ops.index("conv2_1a"), ops.index("conv2_1b") + 1)
    # The block input feeds both conv2_1a and the projection shortcut.
    m = index["maxpool"]
    assert instance.ends[m] == ops.index("conv2_1proj") + 1
    weight = index["conv2_1b.weight"]
    assert instance.ends[weight] - instance.starts[weight] == 1
    assert instance.has_costs and np.all(instance.sizes <= instance.capacity)
    assert instance.pinned_bytes is not None  # the largest tensors do not fit and stay in slow memory


def test_dnn_instance_window_and_pressure():
    small = dnn_instance("mobilenetv2", layers=15, seed=3, capacity_fraction=0.1)
    large = dnn_instance("mobilenetv2", layers=15, seed=3, capacity_fraction=0.4)
    assert small.n_ops == large.n_ops == 15
    assert small.capacity < large.capacity


def test_graph_options_are_checked_against_the_builder():
    from archgym.errors import ConfigurationError
    from archgym.simulators.malloc.graphs import make_graph

    with pytest.raises(ConfigurationError, match="graph 'mobilenetv2' has no option 'workload'; its options are batch"):
        make_graph("mobilenetv2", workload=1)
