"""Program-like DRAM trace generators: shapes, determinism and errors."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.errors import ConfigurationError, WorkloadError
from archgym.simulators.dram.memspec import default_address_mapping, load_memspec
from archgym.simulators.dram.patterns import (
    PATTERN_GENERATORS,
    ROW_BYTES,
    bursts,
    copy,
    hot_rows,
    mix,
    pointer_chase,
    stencil,
    tiled_gemm,
)
from archgym.simulators.dram.workloads import resolve_workload

MAPPING = default_address_mapping(load_memspec("ddr3-1600"))


@pytest.mark.parametrize("name", sorted(PATTERN_GENERATORS))
def test_every_pattern_is_deterministic_aligned_and_sized(name):
    generator = PATTERN_GENERATORS[name]
    first, again, other = generator(n_requests=777, seed=4), generator(n_requests=777, seed=4), generator(n_requests=777, seed=5)
    assert first.n_requests == 777 and first == again
    assert first != other
    assert np.all(first.addresses % 64 == 0) and np.all(first.addresses < 1 << 30)
    assert np.all(np.diff(first.cycles) >= 0)


def test_copy_alternates_a_read_and_a_write_of_two_streams():
    trace = copy(n_requests=8, seed=1)
    assert trace.is_write.tolist() == [False, True] * 4
    reads, writes = trace.addresses[::2].astype(np.int64), trace.addresses[1::2].astype(np.int64)
    assert np.all(np.diff(reads) == 64) and np.all(np.diff(writes) == 64)


def test_stencil_reads_three_lines_a_grid_row_apart_then_writes():
    trace = stencil(n_requests=8, row_lines=16, seed=1)
    assert trace.is_write.tolist() == [False, False, False, True] * 2
    first = trace.addresses[:3].astype(np.int64)
    assert np.diff(first).tolist() == [16 * 64, 16 * 64]


def test_tiled_gemm_writes_each_output_tile_once_per_pass():
    trace = tiled_gemm(n_requests=10_000, matrix_lines=32, tile=8, seed=0)
    tiles, per_tile = (32 // 8) ** 2, 64
    per_pass = tiles * (4 * 2 * per_tile + per_tile)
    assert trace.is_write[:per_pass].sum() == tiles * per_tile
    with pytest.raises(ConfigurationError, match="multiple of tile"):
        tiled_gemm(matrix_lines=30, tile=8)


def test_pointer_chase_issues_reads_at_a_steady_interval():
    trace = pointer_chase(n_requests=100, arrival_interval=50)
    assert not trace.is_write.any() and np.all(np.diff(trace.cycles) == 50)


def test_bursts_leave_idle_gaps_between_bursts():
    trace = bursts(n_requests=128, burst=32, idle=400)
    gaps = np.diff(trace.cycles)
    assert sorted(set(gaps.tolist())) == [1, 401] and (gaps == 401).sum() == 3


def test_hot_rows_touch_only_that_many_rows():
    trace = hot_rows(n_requests=5000, rows=6, seed=2)
    bank, row, _ = MAPPING.decode(np.asarray(trace.addresses))
    assert len(set(zip(bank.tolist(), row.tolist()))) == 6
    assert len(np.unique(trace.addresses.astype(np.int64) // ROW_BYTES)) == 6


def test_mix_draws_each_stream_in_its_share():
    trace = mix(n_requests=20_000, read_stream=0.5, write_stream=0.25, seed=0)
    assert abs(trace.is_write.mean() - 0.25) < 0.02
    with pytest.raises(ConfigurationError, match="write_stream"):
        mix(read_stream=0.8, write_stream=0.3)


def test_patterns_resolve_from_specs_and_reject_unknown_parameters():
    assert resolve_workload("stencil:row_lines=64,n_requests=400").n_requests == 400
    with pytest.raises(WorkloadError, match="bursts takes"):
        resolve_workload("bursts:size=3")
    with pytest.raises(ConfigurationError, match="arrival_interval"):
        resolve_workload("pointer_chase:arrival_interval=0.5")
