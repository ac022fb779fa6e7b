"""Tests of the DRAM trace generators, the standard workloads and workload resolution."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from archgym.errors import ConfigurationError, UnknownNameError, WorkloadError
from archgym.simulators.dram.memspec import default_address_mapping, load_memspec
from archgym.simulators.dram.trace import Trace, read_stl, write_stl
from archgym.simulators.dram.workloads import (
    STANDARD_WORKLOADS,
    cloud,
    list_workloads,
    random_uniform,
    resolve_workload,
    standard_workload,
    stream,
    synthetic,
    workload_name,
)


def reference_trace(folder: Path, name: str) -> Trace:
    """The exact trace DRAMSys ran for ``name``, from the shared reference ``folder``."""
    return read_stl(folder / "traces" / f"{name}.stl")


def run_statistics(trace: Trace) -> dict[str, float]:
    """Sequential-step fraction and run statistics (runs counted in requests)."""
    sequential = np.diff(trace.addresses.astype(np.int64)) == 64
    edges = np.flatnonzero(np.diff(sequential.astype(np.int8))) + 1
    bounds = np.concatenate(([0], edges, [len(sequential)]))
    kinds = sequential[bounds[:-1]]
    steps = np.diff(bounds)
    # A sequential run of k steps spans k + 1 requests; a random burst of k steps, k - 1 requests.
    seq_runs, bursts = steps[kinds] + 1, steps[~kinds] - 1
    return {
        "fraction": float(sequential.mean()),
        "starts_sequential": bool(sequential[0]),
        "mean_sequential_run": float(seq_runs.mean()) if seq_runs.size else 0.0,
        "mean_random_burst": float(bursts.mean()) if bursts.size else 0.0,
        "sequential_runs": int(seq_runs.size),
    }


def assert_generated_defaults(trace: Trace, n: int = 10_000) -> None:
    assert trace.n_requests == n
    assert trace.cycles.tolist() == list(range(n))
    assert trace.request_bytes == 64 and trace.clock_mhz == 800.0
    assert (trace.addresses % 64 == 0).all()
    assert int(trace.addresses.max()) < 1 << 30


# -- generators ----------------------------------------------------------------------
def test_stream_is_sequential():
    trace = stream()
    assert_generated_defaults(trace)
    assert (np.diff(trace.addresses.astype(np.int64)) == 64).all()
    assert trace.addresses[0] == 0 and trace.read_fraction == 1.0
    strided = stream(100, start=1 << 20, stride=256)
    assert strided.addresses[:3].tolist() == [1 << 20, (1 << 20) + 256, (1 << 20) + 512]
    wrapped = stream(4, start=(1 << 30) - 128, stride=64)
    assert wrapped.addresses.tolist() == [(1 << 30) - 128, (1 << 30) - 64, 0, 64]


def test_random_is_uniform_over_banks_and_rows():
    trace = random_uniform(seed=1)
    assert_generated_defaults(trace)
    bank, row, _ = default_address_mapping(load_memspec("ddr3-1600")).decode(trace.addresses)
    counts = np.bincount(bank, minlength=8)
    assert counts.min() > 0.85 * 10_000 / 8 and counts.max() < 1.15 * 10_000 / 8
    assert np.unique(row).size > 6000  # 16384 rows: almost every request opens a new one
    assert np.mean(np.diff(trace.addresses.astype(np.int64)) == 64) < 0.001


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: random_uniform(seed=seed),
        lambda seed: cloud(sequential_fraction=0.4, seed=seed),
        lambda seed: synthetic(read_fraction=0.5, locality=0.5, arrival_interval=2.0, seed=seed),
    ],
)
def test_generators_are_deterministic_per_seed(make):
    assert make(3) == make(3)
    assert make(3).fingerprint() != make(4).fingerprint()


@pytest.mark.parametrize("fraction", [0.1, 0.3, 0.475, 0.5, 0.7, 0.9])
def test_cloud_hits_the_sequential_fraction(fraction):
    stats = run_statistics(cloud(100_000, sequential_fraction=fraction, seed=2))
    assert stats["fraction"] == pytest.approx(fraction, abs=0.005)


def test_cloud_run_lengths_follow_the_parameters():
    stats = run_statistics(cloud(200_000, 0.3, seed=5, mean_sequential_run=200))
    assert stats["fraction"] == pytest.approx(0.3, abs=0.005)
    assert stats["mean_sequential_run"] == pytest.approx(200, rel=0.02)
    # Random bursts average (S - 1) / f - S requests.
    assert stats["mean_random_burst"] == pytest.approx(199 / 0.3 - 200, rel=0.03)
    runs = cloud(200_000, 0.5, seed=5, block=10)
    block_runs = np.diff(np.flatnonzero(np.diff(runs.addresses.astype(np.int64)) != 64))
    assert np.median(block_runs) < np.mean(block_runs)  # skewed, close to geometric


def test_cloud_extremes_and_start():
    assert (np.diff(cloud(1000, 1.0).addresses.astype(np.int64)) == 64).all()
    assert np.mean(np.diff(cloud(1000, 0.0).addresses.astype(np.int64)) == 64) < 0.01
    assert run_statistics(cloud(5000, 0.5, start_sequential=True, seed=1))["starts_sequential"]
    assert not run_statistics(cloud(5000, 0.5, start_sequential=False, seed=1))["starts_sequential"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sequential_fraction": 1.5}, "sequential_fraction"),
        ({"sequential_fraction": 0.99, "mean_sequential_run": 60}, "shorter than one block"),
        ({"mean_sequential_run": 10}, "mean_sequential_run"),
        ({"block": 0}, "block"),
        ({"start_sequential": "yes"}, "start_sequential"),
        ({"seed": -1}, "seed"),
    ],
)
def test_cloud_validates_parameters(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        cloud(**kwargs)


def test_synthetic_parameters_shape_the_trace():
    trace = synthetic(50_000, read_fraction=0.7, locality=0.5, stride=128, seed=1)
    assert trace.read_fraction == pytest.approx(0.7, abs=0.01)
    assert np.mean(np.diff(trace.addresses.astype(np.int64)) == 128) == pytest.approx(0.5, abs=0.01)
    assert trace.cycles.tolist() == list(range(50_000))
    timed = synthetic(50_000, arrival_interval=4.0, seed=1)
    gaps = np.diff(timed.cycles)
    assert (gaps >= 0).all() and gaps.mean() == pytest.approx(4.0, rel=0.03)
    assert synthetic(1000, read_fraction=0.0).read_fraction == 0.0
    assert (np.diff(synthetic(1000, locality=1.0).addresses.astype(np.int64)) == 64).all()
    assert np.mean(np.diff(synthetic(10_000).addresses.astype(np.int64)) == 64) < 0.001


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"read_fraction": -0.1}, r"read_fraction must be a number in \[0, 1\]"),
        ({"read_fraction": 1.1}, "read_fraction"),
        ({"locality": 2}, r"locality must be a number in \[0, 1\]"),
        ({"locality": "high"}, "locality must be a number"),
        ({"arrival_interval": 0.5}, "arrival_interval must be a number at least 1"),
        ({"arrival_interval": float("inf")}, "arrival_interval must be finite"),
        ({"stride": 100}, "multiple of 64"),
        ({"span": 1000}, "multiple of 64"),
        ({"n_requests": 0}, "n_requests"),
        ({"n_requests": 2.5}, "n_requests"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_synthetic_validates_parameters(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        synthetic(**kwargs)


# -- standard workloads -------------------------------------------------------------------
def test_standard_workloads_are_listed_and_cached():
    assert list_workloads() == STANDARD_WORKLOADS == ("stream", "random", "cloud-1", "cloud-2")
    for name in STANDARD_WORKLOADS:
        trace = standard_workload(name)
        assert trace.name == name
        assert_generated_defaults(trace)
        assert trace.read_fraction == 1.0
        assert standard_workload(name) is trace
    assert standard_workload("CLOUD-1") is standard_workload("cloud-1")
    assert standard_workload("cloud-1", seed=1) != standard_workload("cloud-1")
    # The name is mixed into the seed: the two cloud workloads are not the same draw.
    assert not np.array_equal(standard_workload("cloud-1").addresses, standard_workload("cloud-2").addresses)
    with pytest.raises(UnknownNameError, match="stream, random, cloud-1, cloud-2"):
        standard_workload("cloud-3")


@pytest.mark.parametrize(
    ("name", "fraction", "starts_sequential"), [("cloud-1", 0.475, True), ("cloud-2", 0.499, False)]
)
def test_cloud_workloads_match_their_targets(name, fraction, starts_sequential):
    for seed in range(3):
        stats = run_statistics(standard_workload(name, seed=seed))
        assert stats["fraction"] == pytest.approx(fraction, abs=0.002)
        assert stats["starts_sequential"] is starts_sequential


@pytest.mark.parametrize("name", ["cloud-1", "cloud-2"])
def test_cloud_workloads_match_the_reference_traces(name, shared_reference_dir):
    reference = run_statistics(reference_trace(shared_reference_dir, name))
    generated = run_statistics(standard_workload(name))
    assert generated["fraction"] == pytest.approx(reference["fraction"], abs=0.002)
    assert generated["starts_sequential"] == reference["starts_sequential"]
    assert generated["mean_sequential_run"] == pytest.approx(reference["mean_sequential_run"], rel=0.05)
    assert generated["mean_random_burst"] == pytest.approx(reference["mean_random_burst"], rel=0.05)
    assert generated["sequential_runs"] == pytest.approx(reference["sequential_runs"], abs=3)


@pytest.mark.parametrize(("name", "fraction"), [("stream", 1.0), ("random", 0.0)])
def test_stream_and_random_match_the_reference_traces(name, fraction, shared_reference_dir):
    reference = reference_trace(shared_reference_dir, name)
    generated = standard_workload(name)
    for trace in (reference, generated):
        assert run_statistics(trace)["fraction"] == pytest.approx(fraction, abs=0.001)
    if name == "stream":
        assert np.array_equal(reference.addresses, generated.addresses)
    else:
        # Both spread evenly over 1 GiB.
        for trace in (reference, generated):
            assert np.histogram(trace.addresses, bins=8, range=(0, 1 << 30))[0].min() > 1100


# -- resolution ---------------------------------------------------------------------------
def test_resolve_workload_forms(tmp_path):
    trace = stream(10)
    assert resolve_workload(trace) is trace
    assert resolve_workload("cloud-2") is standard_workload("cloud-2")
    assert resolve_workload("  Random ") is standard_workload("random")

    spec = resolve_workload("synthetic:read_fraction=0.7, locality=0.5,n_requests=5000,seed=3")
    assert spec == replace(synthetic(5000, read_fraction=0.7, locality=0.5, seed=3), name=spec.name)
    assert spec.name == "synthetic:read_fraction=0.7,locality=0.5,n_requests=5000,seed=3"
    assert (
        resolve_workload("synthetic:seed=3,locality=0.5,read_fraction=0.7,n_requests=5000").n_requests == 5000
    )
    assert resolve_workload("stream:stride=0x80,n_requests=4").addresses.tolist() == [0, 128, 256, 384]
    assert resolve_workload("cloud:sequential_fraction=0.2,start_sequential=true").n_requests == 10_000
    seeded = resolve_workload("cloud-1:seed=4")
    assert np.array_equal(seeded.addresses, standard_workload("cloud-1", seed=4).addresses)

    path = write_stl(stream(20), tmp_path / "mine.stl")
    from_str = resolve_workload(str(path))
    assert from_str.n_requests == 20 and from_str.name == "mine"
    assert resolve_workload(path) is from_str  # cached by path and modification time
    write_stl(stream(30), path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert resolve_workload(path).n_requests == 30


def test_resolve_workload_errors(tmp_path):
    with pytest.raises(UnknownNameError) as info:
        resolve_workload("bogus")
    message = str(info.value)
    assert "'bogus'" in message and "stream, random, cloud-1, cloud-2" in message
    assert ".stl" in message and "synthetic:" in message
    with pytest.raises(WorkloadError, match="does not exist"):
        resolve_workload(str(tmp_path / "missing.stl"))
    with pytest.raises(WorkloadError, match="does not exist"):
        resolve_workload(tmp_path / "missing.stl")
    with pytest.raises(WorkloadError, match=r"unknown parameter 'foo'.*read_fraction"):
        resolve_workload("synthetic:foo=1")
    with pytest.raises(WorkloadError, match="not key=value"):
        resolve_workload("synthetic:locality")
    with pytest.raises(WorkloadError, match="given twice"):
        resolve_workload("synthetic:seed=1,seed=2")
    with pytest.raises(WorkloadError, match="takes seed"):
        resolve_workload("cloud-1:locality=0.5")
    with pytest.raises(ConfigurationError, match=r"synthetic:locality=1.5.*locality must be"):
        resolve_workload("synthetic:locality=1.5")
    with pytest.raises(WorkloadError, match="got int"):
        resolve_workload(42)  # type: ignore[arg-type]


def test_workload_name():
    assert workload_name("Cloud-1") == "cloud-1"
    assert workload_name(" synthetic: locality=0.5 , seed=2") == "synthetic:locality=0.5,seed=2"
    assert workload_name(Path("traces/x.stl")) == os.path.join("traces", "x.stl")
    assert workload_name("traces/x.stl") == "traces/x.stl"
    assert workload_name(standard_workload("random")) == "random"
    unnamed = stream(3)
    assert workload_name(Trace(unnamed.cycles, unnamed.is_write, unnamed.addresses)).startswith("trace-")
