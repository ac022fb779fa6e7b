"""Accelerator workloads: zoo shapes against published MAC counts, layer files, specs and bad input."""

from __future__ import annotations

import pytest

from archgym.errors import UnknownNameError, WorkloadError
from archgym.simulators.accelerator.workloads import (
    ZOO,
    Layer,
    load_layer_file,
    load_onnx,
    load_zoo,
    parse_layer,
    resolve_workload,
)

# Published multiply-accumulate counts at batch 1 (224x224 inputs; 227x227 for AlexNet).
PUBLISHED_GMACS = {
    "alexnet": 0.724,  # Sze et al., "Efficient Processing of Deep Neural Networks", Proc. IEEE 2017, Table III
    "vgg16": 15.5,  # same table
    "resnet18": 1.8,  # He et al. 2016, Table 1: 1.8e9 FLOPs (multiply-adds)
    "resnet50": 4.1,  # He et al. 2016, Table 1: 3.8e9; 4.1e9 with the stride on the 3x3 convolution
    "mobilenetv2": 0.300,  # Sandler et al. 2018, Table 4: 300M multiply-adds
    "bert-base": 11.2,  # 12 x (4 x 128 x 768^2 + 2 x 128^2 x 768 + 2 x 128 x 768 x 3072)
}


@pytest.mark.parametrize("name", ZOO)
def test_zoo_mac_counts_match_published_numbers(name):
    network = load_zoo(name)
    assert network.macs / 1e9 == pytest.approx(PUBLISHED_GMACS[name], rel=0.03)


def test_zoo_layer_shapes():
    resnet = load_zoo("resnet18")
    assert len([layer for layer in resnet.layers if layer.op == "conv"]) == 20
    conv1 = resnet.layers[0]
    assert (conv1.K, conv1.C, conv1.P, conv1.R, conv1.stride, conv1.input_rows) == (64, 3, 112, 7, 2, 229)
    assert {layer.op for layer in load_zoo("mobilenetv2").layers} == {"conv", "depthwise", "gemm"}
    bert = load_zoo("bert-base")
    assert sum(layer.repeat for layer in bert.layers if layer.name == "qkv_projection") == 36
    alexnet = load_zoo("alexnet")
    assert alexnet.layers[1].repeat == 2  # conv2 runs as two groups


def test_unknown_network_lists_the_zoo():
    with pytest.raises(UnknownNameError, match="resnet18"):
        resolve_workload("resnet19")


def test_spec_selects_layers_and_batch():
    network = resolve_workload("resnet18:layers=layer1.0.conv1+0,batch=4")
    assert [layer.name for layer in network.layers] == ["layer1.0.conv1", "conv1"]
    assert all(layer.N == 4 for layer in network.layers)
    assert network.macs == 4 * (load_zoo("resnet18").layers[1].macs + load_zoo("resnet18").layers[0].macs)
    with pytest.raises(WorkloadError, match="no layer 'nope'"):
        resolve_workload("resnet18:layers=nope")
    with pytest.raises(WorkloadError, match="unknown option"):
        resolve_workload("resnet18:depth=3")


def test_gemm_and_depthwise_layers():
    gemm = parse_layer({"op": "gemm", "M": 128, "N": 768, "K": 3072})
    assert gemm.macs == 128 * 768 * 3072 and gemm.weights == 768 * 3072
    depthwise = parse_layer({"op": "depthwise", "C": 32, "P": 112, "R": 3})
    assert depthwise.K == 32 and depthwise.macs == 32 * 112 * 112 * 9


def test_yaml_and_csv_layer_files(tmp_path):
    yaml_file = tmp_path / "net.yaml"
    yaml_file.write_text("name: tiny\nlayers:\n  - {name: a, K: 8, C: 4, P: 16, R: 3}\n  - {op: gemm, M: 1, N: 10, K: 8}\n")
    network = load_layer_file(yaml_file)
    assert network.name == "tiny" and network.layer_names == ("a", "layer1")
    csv_file = tmp_path / "net.csv"
    csv_file.write_text("name,op,K,C,P,R,stride,M,N\nc1,conv,8,4,16,3,1,,\nfc,gemm,10,8,,,,1,\n")
    with pytest.raises(WorkloadError, match="unknown key"):
        load_layer_file(csv_file)  # gemm rows take M, N, K; P, R and stride do not apply
    csv_file.write_text("name,op,K,C,P,R,stride\nc1,conv,8,4,16,3,1\nc2,conv,16,8,8,1,2\n")
    network = resolve_workload(str(csv_file))
    assert network.macs == 8 * 4 * 16 * 16 * 9 + 16 * 8 * 8 * 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("layers: 3\n", "must hold a list of layers"),
        ("- {K: 8, C: 4, P: 16}\n", "missing R"),
        ("- {K: 8, C: 4, P: 16, R: 0}\n", "positive integer"),
        ("- {K: 8, C: 4, P: 16, R: 3, op: pool}\n", "unknown op"),
        ("- [1, 2]\n", "must be a mapping"),
        ("- {K: 8\n", "not valid YAML"),
        ("[]\n", "no layers"),
    ],
)
def test_malformed_layer_files_raise_workload_errors(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(WorkloadError, match=message):
        load_layer_file(path)


def test_missing_file_and_bad_type():
    with pytest.raises(WorkloadError, match="does not exist"):
        resolve_workload("no_such_file.yaml")
    with pytest.raises(WorkloadError):
        resolve_workload(42)
    with pytest.raises(WorkloadError, match="depthwise"):
        Layer("x", "depthwise", 1, 8, 4, 2, 2, 3, 3)


def test_onnx_model(tmp_path):
    onnx = pytest.importorskip("onnx")
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weights = numpy_helper.from_array(np.zeros((16, 3, 3, 3), dtype=np.float32), "w")
    depthwise = numpy_helper.from_array(np.zeros((16, 1, 3, 3), dtype=np.float32), "dw")
    fc = numpy_helper.from_array(np.zeros((16 * 8 * 8, 10), dtype=np.float32), "fc")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Conv", ["y", "dw"], ["z"], name="dwconv", pads=[1, 1, 1, 1], group=16),
        helper.make_node("Relu", ["z"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["out"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 10])], [weights, depthwise, fc],
    )
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), str(path))
    network = load_onnx(path)
    assert [(layer.name, layer.op) for layer in network.layers] == [
        ("conv", "conv"), ("dwconv", "depthwise"), ("fc", "gemm")]
    assert network.macs == 16 * 3 * 8 * 8 * 9 + 16 * 8 * 8 * 9 + 1024 * 10
    assert resolve_workload(f"{path}:batch=2").layers[0].N == 2
