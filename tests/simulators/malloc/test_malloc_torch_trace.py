"""Instances traced from PyTorch modules with torch.fx."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.errors import WorkloadError
from archgym.simulators.malloc.placement import check_placement
from archgym.simulators.malloc.solve import solve

torch = pytest.importorskip("torch")
from archgym.simulators.malloc.torch_trace import from_torch


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        y = torch.relu(self.conv1(x))
        z = self.conv2(y) + y
        return self.fc(z.flatten(1))


def test_from_torch_builds_live_ranges_and_costs():
    instance = from_torch(Block(), torch.randn(2, 3, 4, 4), capacity=1 << 20, alignment=16)
    index = {name: i for i, name in enumerate(instance.ids)}
    # y (relu) is read by conv2 and by the add: live until the add.
    relu, add = index["relu"], index["add"]
    assert instance.starts[relu] < instance.starts[add] == instance.ends[relu] - 1
    assert instance.sizes[relu] == 2 * 8 * 4 * 4 * 4  # float32
    assert instance.sizes[index["conv1.weight"]] == 8 * 3 * 3 * 3 * 4
    assert instance.ends[index["fc.weight"]] - instance.starts[index["fc.weight"]] == 1
    assert instance.has_costs and instance.n_ops == 6
    solution = solve(instance, "best", time_limit=10)
    check_placement(instance, solution.offsets)
    assert solution.fits and solution.speedup > 1.0  # everything fits in 1 MiB


def test_from_torch_pins_tensors_larger_than_the_capacity():
    instance = from_torch(Block(), torch.randn(1, 3, 4, 4), capacity_fraction=0.2)
    assert np.all(instance.sizes <= instance.capacity)
    assert instance.pinned_bytes is not None and instance.pinned_bytes.sum() > 0


def test_untraceable_module_is_a_workload_error():
    class Branchy(torch.nn.Module):
        def forward(self, x):
            return x * 2 if x.sum() > 0 else x

    with pytest.raises(WorkloadError, match="cannot trace Branchy"):
        from_torch(Branchy(), torch.randn(3))
