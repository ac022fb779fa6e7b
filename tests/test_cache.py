"""The on-disk cache of prepared workloads."""

from __future__ import annotations

import numpy as np
import pytest

from archgym import cache
from archgym.cost_model import make_backend
from archgym.simulators.dram import analytical
from archgym.simulators.dram.trace import Trace


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_VARIABLE, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_arrays_round_trip_and_writes_leave_no_temporary_files(folder):
    arrays = {"results": np.arange(12.0).reshape(4, 3), "flags": np.array([True, False])}
    path = cache.store_arrays("space", "key1", arrays)
    assert path == folder / "space" / "key1.npz"
    loaded = cache.load_arrays("space", "key1")
    assert set(loaded) == {"results", "flags"}
    np.testing.assert_array_equal(loaded["results"], arrays["results"])
    assert [p.name for p in (folder / "space").iterdir()] == ["key1.npz"]
    assert cache.load_arrays("space", "other") is None


def test_an_unreadable_entry_is_missing_and_rewritten(folder, caplog):
    (folder / "space").mkdir(parents=True)
    (folder / "space" / "bad.npz").write_bytes(b"not a numpy file")
    with caplog.at_level("WARNING"):
        assert cache.load_arrays("space", "bad") is None
    assert "unreadable cache entry" in caplog.text
    cache.store_arrays("space", "bad", {"x": np.ones(2)})
    np.testing.assert_array_equal(cache.load_arrays("space", "bad")["x"], np.ones(2))


@pytest.mark.parametrize("value", ["off", "", "none"])
def test_the_cache_can_be_turned_off(monkeypatch, value):
    monkeypatch.setenv(cache.CACHE_VARIABLE, value)
    assert cache.cache_dir() is None
    assert cache.store_arrays("space", "key", {"x": np.ones(1)}) is None
    assert cache.load_arrays("space", "key") is None


def test_the_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(cache.CACHE_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "archgym"


def _trace(seed: int) -> Trace:
    rng = np.random.default_rng(seed)
    n = 400
    return Trace(cycles=np.arange(n) * 4, is_write=rng.random(n) < 0.3,
                 addresses=rng.integers(0, 2**28, n) * 64, name=f"t{seed}")


def test_a_dram_table_is_built_once_per_trace_and_model_version(folder, monkeypatch):
    design = make_backend("dram/analytical").default_design()
    # A first evaluation computes its own design only; prepare() builds (and stores) the whole table.
    first = make_backend("dram/analytical").evaluate(design, _trace(0))
    assert not (folder / "dram-tables").exists()
    model = make_backend("dram/analytical")
    model.prepare(_trace(0))
    built = model.evaluate(design, _trace(0))
    assert built.metrics == first.metrics
    (entry,) = (folder / "dram-tables").iterdir()
    # A fresh process would find the table on disk: forget the in-process tables and fail any rebuild.
    monkeypatch.setattr(analytical, "_TABLE_CACHE", {})

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the table should have come from the disk cache")

    monkeypatch.setattr(analytical.DramAnalyticalModel, "structural_timings", no_rebuild)
    assert make_backend("dram/analytical").evaluate(design, _trace(0)).metrics == built.metrics
    # Another trace, or another model version, is a different entry and is computed.
    with pytest.raises(AssertionError, match="disk cache"):
        make_backend("dram/analytical").evaluate(design, _trace(1))
    monkeypatch.setattr(analytical, "_model_version", lambda: "changed")
    monkeypatch.setattr(analytical, "_TABLE_CACHE", {})
    with pytest.raises(AssertionError, match="disk cache"):
        make_backend("dram/analytical").evaluate(design, _trace(0))
    assert entry.exists()
