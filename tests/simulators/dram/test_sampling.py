"""Sampling long traces: one streaming pass, bounded size, chunking-independent, close to the exact model."""

from __future__ import annotations

import numpy as np
import pytest

from archgym.cost_model import make_backend
from archgym.simulators.dram import analytical
from archgym.simulators.dram.analytical import TraceProfile
from archgym.simulators.dram.sampling import sample_trace
from archgym.simulators.dram.trace_formats import write_trace
from archgym.simulators.dram.workloads import resolve_workload, synthetic


def _chunks(trace, size):
    for start in range(0, trace.n_requests, size):
        piece = slice(start, start + size)
        yield trace.cycles[piece], trace.is_write[piece], trace.addresses[piece]


def test_a_short_trace_is_sampled_whole():
    trace = synthetic(n_requests=20_000, read_fraction=0.7, arrival_interval=3, seed=1)
    sample = sample_trace(_chunks(trace, 3000))
    np.testing.assert_array_equal(sample.cycles, trace.cycles)
    np.testing.assert_array_equal(sample.addresses, trace.addresses)
    np.testing.assert_array_equal(sample.is_write, trace.is_write)
    assert sample.starts.tolist() == list(range(0, 20_000, sample.stride))


@pytest.mark.parametrize("n", [100_001, 777_777])
def test_a_long_trace_keeps_a_bounded_sample_whatever_the_chunking(n):
    trace = synthetic(n_requests=n, read_fraction=0.6, locality=0.3, arrival_interval=4, seed=2)
    whole = sample_trace(_chunks(trace, n), windows=16, window_requests=500, warmup_requests=100)
    assert 16 <= len(whole.starts) <= 32
    assert whole.stratum_requests().sum() == n
    assert (np.diff(whole.bounds) <= 600).all()
    for size in (999, 65_536):
        chunked = sample_trace(_chunks(trace, size), windows=16, window_requests=500, warmup_requests=100)
        for name, array in whole.arrays().items():
            np.testing.assert_array_equal(chunked.arrays()[name], array, err_msg=name)
    # Exact totals over every request; windows lie inside their strata, at varying offsets.
    profile = TraceProfile(trace, make_backend("dram/analytical").memspec, make_backend("dram/analytical").mapping)
    assert whole.writes == int(trace.is_write.sum())
    assert whole.idle_cycles == pytest.approx(profile.idle_cycles)
    offsets = whole.window_starts - whole.starts
    assert (offsets >= 0).all() and (whole.window_starts[:-1] + 600 <= whole.starts[1:]).all()
    assert len(set(offsets[:-1].tolist())) > 1
    np.testing.assert_array_equal(whole.first_cycles, trace.cycles[whole.starts])
    np.testing.assert_array_equal(whole.previous_cycles[1:], trace.cycles[whole.starts[1:] - 1])


def test_bad_sampling_parameters_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        sample_trace([(np.zeros(3, np.int64), np.zeros(3, bool), np.zeros(3, np.uint64))], windows=0)
    with pytest.raises(ValueError, match="no requests"):
        sample_trace([])


@pytest.mark.parametrize(
    "spec",
    [
        "synthetic:read_fraction=0.7,locality=0.5,arrival_interval=6,seed=3",  # backs up: latency grows
        "mix:seed=4",  # back to back, periodic stream interleaving
        "bursts:burst=64,idle=500,seed=5",  # idle gaps absorb refresh
        "pointer_chase:arrival_interval=50,seed=6",  # arrival-bound
    ],
)
def test_the_sampled_model_is_close_to_the_exact_one(spec):
    trace = resolve_workload(f"{spec},n_requests=300000")
    exact = make_backend("dram/analytical", sampling=False)
    sampled = make_backend("dram/analytical", sampling=True)
    rng = np.random.default_rng(0)
    space = exact.design_space
    designs = np.stack([rng.integers(0, len(space[k].values), 6) for k in space.names], axis=1)
    want = exact.evaluate_batch(designs, trace).metrics
    got = sampled.evaluate_batch(designs, trace).metrics
    for metric in ("total_time_ns", "energy_pj", "power_mw"):
        error = np.abs(got[metric] / want[metric] - 1)
        assert np.median(error) < 0.01 and error.max() < 0.06, (metric, error)


def test_long_trace_files_are_sampled_and_their_samples_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(analytical, "SAMPLE_ABOVE_REQUESTS", 50_000)
    monkeypatch.setenv("ARCHGYM_CACHE_DIR", str(tmp_path / "cache"))
    trace = synthetic(n_requests=120_000, read_fraction=0.8, arrival_interval=5, seed=7)
    path = write_trace(trace, tmp_path / "long.stl")
    model = make_backend("dram/analytical")
    design = model.default_design()
    from_file = model.evaluate(design, str(path)).metrics
    table = model._table(str(path))
    assert isinstance(table.profile, analytical.SampledProfile)
    assert table.n_requests == 120_000 and table.writes == int(trace.is_write.sum())
    # The same requests given as a trace are sampled the same way.
    assert make_backend("dram/analytical").evaluate(design, trace).metrics == pytest.approx(from_file, rel=1e-12)
    assert len(list((tmp_path / "cache" / "dram-samples").iterdir())) == 1
    analytical._TABLE_CACHE.clear()
    assert make_backend("dram/analytical").evaluate(design, path).metrics == pytest.approx(from_file, rel=1e-12)
    assert len(list((tmp_path / "cache" / "dram-samples").iterdir())) == 1  # served from the cache
    # A changed file is never served from the old entry.
    write_trace(synthetic(n_requests=120_000, read_fraction=0.2, arrival_interval=5, seed=8), path)
    analytical._TABLE_CACHE.clear()
    changed = make_backend("dram/analytical").evaluate(design, path).metrics
    assert changed["energy_pj"] != pytest.approx(from_file["energy_pj"], rel=1e-3)
    assert len(list((tmp_path / "cache" / "dram-samples").iterdir())) == 2
    # The exact pass on request.
    exact = make_backend("dram/analytical", sampling=False)
    assert isinstance(exact._table(path).profile, TraceProfile)


def test_short_trace_files_are_simulated_whole(tmp_path):
    trace = synthetic(n_requests=30_000, seed=9)
    path = write_trace(trace, tmp_path / "short.stl.gz")
    model = make_backend("dram/analytical")
    assert model.evaluate(model.default_design(), path).metrics == model.evaluate(model.default_design(), trace).metrics
    assert isinstance(model._table(path).profile, TraceProfile)


def test_preparing_a_trace_file_reports_its_progress(tmp_path):
    from contextlib import contextmanager

    from archgym import progress

    path = write_trace(synthetic(n_requests=40_000, seed=10), tmp_path / "p.stl")
    seen: list[tuple[str, float | None, str, list[float]]] = []

    @contextmanager
    def listener(description, total, unit):
        done: list[float] = []
        seen.append((description, total, unit, done))
        yield done.append

    with progress.listening(listener):
        make_backend("dram/analytical").evaluate(make_backend("dram/analytical").default_design(), path)
    ((description, total, unit, done),) = seen
    assert description == "preparing p" and unit == "B" and total == path.stat().st_size
    assert done and done[-1] == total
    # Nobody listening: nothing is reported and nothing breaks.
    analytical._TABLE_CACHE.clear()
    make_backend("dram/analytical").evaluate(make_backend("dram/analytical").default_design(), path)
    assert len(seen) == 1
