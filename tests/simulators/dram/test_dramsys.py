"""The DRAMSys backend: running the binary, parsing its output, failures, concurrency.

Most tests run small stand-in executables (shell scripts) so they need no
simulator. Tests marked ``needs_dramsys`` run the real DRAMSys 4 binary named
by ``ARCHGYM_DRAMSYS`` and compare it with the reference measurements.
"""

from __future__ import annotations

import logging
import math
import os
import stat
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from archgym.agent import make_agent
from archgym.cost_model import backend_info, list_backends, make_backend
from archgym.dataset import EvaluationLogger, RunContext, load_run_rows
from archgym.errors import (
    BackendUnavailableError,
    ConfigurationError,
    InvalidDesignError,
    UnknownNameError,
    WorkloadError,
)
from archgym.objective import make_objective
from archgym.search import run_search
from archgym.simulators.dram.dramsys import (
    POWER_MODEL_TYPES,
    DramSysModel,
    DramSysOutputError,
    parse_dramsys_output,
)
from archgym.simulators.dram.knobs import DEFAULT_DRAM_DESIGN, DRAM_DESIGN_SPACE
from archgym.simulators.dram.memspec import list_memspecs
from archgym.simulators.dram.problem import DRAM_METRICS

SUITE_DATA = Path(__file__).resolve().parents[3] / "data" / "dram" / "dramsys_ddr3-1600_suite.csv"
TRACES = ("stream", "random", "cloud-1", "cloud-2")

needs_dramsys = pytest.mark.skipif(
    not os.environ.get("ARCHGYM_DRAMSYS"),
    reason="set ARCHGYM_DRAMSYS to a DRAMSys 4 binary to run the DRAMSys backend tests",
)

WELL_FORMED = """\
DRAMSys.dram0  Total Energy:   85746450.00 pJ
DRAMSys.dram0  Average Power:  1674.57 mW
DRAMSys.controller0  Total Time:     51205000 ps
DRAMSys.controller0  AVG BW:         99.98 Gb/s (97.64 %)
DRAMSys.controller0  AVG BW\\IDLE:    99.98 Gb/s (97.64 %)
DRAMSys.controller0  MAX BW:         102.40 Gb/s
"""
PRINT_WELL_FORMED = f"cat <<'OUT'\n{WELL_FORMED}OUT\n"


def design(**changes: object) -> dict:
    return {**DEFAULT_DRAM_DESIGN, **changes}


def fake_binary(folder: Path, name: str, body: str) -> Path:
    """An executable shell script standing in for DRAMSys."""
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture(autouse=True)
def _temporary_folders_in_view(private_temp_root: Path) -> None:
    """Every temporary folder the backend creates lands where the test can inspect it."""


@pytest.fixture
def well_formed(bin_dir: Path) -> Path:
    return fake_binary(bin_dir, "dramsys-ok", PRINT_WELL_FORMED)


@pytest.fixture
def flaky(bin_dir: Path) -> Path:
    """Fails on designs with a closed page policy (Closed or ClosedAdaptive), succeeds otherwise."""
    return fake_binary(
        bin_dir,
        "dramsys-flaky",
        'if grep -q Closed "${2}configs/mcconfigs/mcconfig.json"; then\n'
        '  echo "controller: page policy rejected" >&2\n'
        "  exit 4\n"
        "fi\n" + PRINT_WELL_FORMED,
    )


# -- output parsing ---------------------------------------------------------------------------------
def test_parse_converts_units_to_pj_mw_ns_and_gigabytes():
    result = parse_dramsys_output(WELL_FORMED)
    assert result.energy_pj == 85746450.0
    assert result.power_mw == 1674.57
    assert result.total_time_ns == 51205.0
    assert result.bandwidth_gbps == pytest.approx(99.98 / 8)
    assert math.isnan(result.metrics()["avg_latency_ns"])
    assert set(result.metrics()) == {m.name for m in DRAM_METRICS}


def test_parse_without_power_analysis_reads_time_and_bandwidth_only():
    text = "DRAMSys.controller0  Total Time:     2 us\nDRAMSys.controller0  AVG BW:         8 Gb/s (1 %)\n"
    result = parse_dramsys_output(text, power=False)
    assert (result.total_time_ns, result.bandwidth_gbps) == (2000.0, 1.0)
    assert math.isnan(result.energy_pj) and math.isnan(result.power_mw)
    with pytest.raises(DramSysOutputError, match="Total Energy"):
        parse_dramsys_output(text)


def test_lpddr4_runs_have_power_analysis_off(bin_dir: Path):
    # Stands in for DRAMSys 4, which stops when asked for the power of an LPDDR4 memory.
    binary = fake_binary(
        bin_dir,
        "dramsys-no-lpddr4-power",
        'if grep -q \'"PowerAnalysis": true\' "${2}configs/simulator/simconfig.json"; then\n'
        '  echo "Fatal: DramLPDDR4: DRAMPower does not support LPDDR4" >&2\n'
        "  exit 1\n"
        "fi\n" + PRINT_WELL_FORMED,
    )
    model = DramSysModel(binary=binary, memspec="lpddr4-3200")
    evaluation = model.evaluate(DEFAULT_DRAM_DESIGN, "stream:request_bytes=32")
    assert evaluation.feasible and np.isnan(evaluation.metrics["energy_pj"])
    assert evaluation.metrics["total_time_ns"] == 51205.0
    assert set(model.unreported_metrics) == {"energy_pj", "power_mw", "avg_latency_ns"}
    with pytest.raises(WorkloadError, match="32 bytes on lpddr4-3200.*request_bytes=32"):
        model.evaluate(DEFAULT_DRAM_DESIGN, "stream")


def test_per_bank_refresh_is_offered_where_dramsys_has_it(bin_dir: Path):
    binary = fake_binary(bin_dir, "dramsys-well-formed", PRINT_WELL_FORMED)
    hbm2 = DramSysModel(binary=binary, memspec="hbm2-2000")
    assert hbm2.design_space["RefreshPolicy"].values == ("NoRefresh", "AllBank", "PerBank")
    per_bank = {**DEFAULT_DRAM_DESIGN, "RefreshPolicy": "PerBank"}
    assert hbm2.mcconfig(per_bank)["mcconfig"]["RefreshPolicy"] == "PerBank"
    assert hbm2.evaluate(per_bank, "stream:request_bytes=32").feasible
    # DRAMSys stops with "Per bank refresh not supported" on DDR3 and DDR4; the knob refuses it first.
    with pytest.raises(InvalidDesignError, match="'PerBank' is not allowed"):
        DramSysModel(binary=binary).evaluate(per_bank, "stream")


def test_parse_accepts_other_units_and_colour_codes():
    text = (
        "\x1b[38;5;22mbanner\x1b[0m\n"
        "DRAMSys.dram0  Total Energy:   1.5 uJ\n"
        "DRAMSys.dram0  Average Power:  1.25 W\n"
        "DRAMSys.controller0  Total Time:     2 us\n"
        "DRAMSys.controller0  AVG BW:         8 Gb/s (1 %)\n"
    )
    result = parse_dramsys_output(text)
    assert (result.energy_pj, result.power_mw, result.total_time_ns, result.bandwidth_gbps) == (
        1.5e6, 1250.0, 2000.0, 1.0
    )


def test_parse_sums_channels_and_takes_the_latest_finish():
    text = WELL_FORMED + WELL_FORMED.replace("dram0", "dram1").replace("controller0", "controller1").replace(
        "51205000 ps", "60000 ns"
    )
    result = parse_dramsys_output(text)
    assert result.energy_pj == 2 * 85746450.0
    assert result.total_time_ns == 60000.0
    assert result.bandwidth_gbps == pytest.approx(2 * 99.98 / 8)


@pytest.mark.parametrize(
    "text, message",
    [
        ("garbage", "no 'Total Energy: <number> <unit>' line"),
        (WELL_FORMED.replace("51205000 ps", "51205000 parsecs"), "unknown unit 'parsecs'"),
        (WELL_FORMED.replace("1674.57", "nan"), "non-finite"),
        (WELL_FORMED.replace("  AVG BW:  ", "  MIN BW:  "), "no 'AVG BW: <number> <unit>' line"),
    ],
)
def test_parse_rejects_incomplete_output(text, message):
    with pytest.raises(DramSysOutputError, match=message):
        parse_dramsys_output(text)


# -- runs of stand-in binaries ----------------------------------------------------------------------
def test_well_formed_output_gives_a_feasible_evaluation(well_formed, private_temp_root):
    model = DramSysModel(binary=well_formed)
    evaluation = model.evaluate(model.default_design(), "stream")
    assert evaluation.feasible and evaluation.reason == ""
    assert evaluation.metrics["total_time_ns"] == 51205.0
    assert evaluation.metrics["bandwidth_gbps"] == pytest.approx(12.4975)
    assert evaluation.metrics["energy_pj"] == 85746450.0
    assert evaluation.metrics["power_mw"] == 1674.57
    assert math.isnan(evaluation.metrics["avg_latency_ns"])
    assert evaluation.wall_time_s > 0
    assert list(private_temp_root.iterdir()) == []


def test_binary_gets_a_complete_private_resources_folder(bin_dir, tmp_path, monkeypatch, private_temp_root):
    # Checks what DRAMSys relies on: the resources argument ends with '/', every file the
    # simulation names exists where DRAMSys looks, and the working directory is that folder.
    checker = fake_binary(
        bin_dir,
        "dramsys-check",
        'sim="$1"; res="$2"\n'
        'case "$res" in */) ;; *) echo "resources folder $res does not end with /" >&2; exit 10;; esac\n'
        '[ "$(pwd -P)/" = "$(cd "$res" && pwd -P)/" ] || { echo "cwd $(pwd) is not $res" >&2; exit 11; }\n'
        '[ -f "$sim" ] || { echo "no simulation file $sim" >&2; exit 12; }\n'
        "name() { sed -n \"s/.*\\\"$1\\\": *\\\"\\([^\\\"]*\\)\\\".*/\\1/p\" \"$sim\"; }\n"
        'need() { [ -s "$1" ] || { echo "missing $1" >&2; exit 13; }; }\n'
        'need "${res}configs/memspecs/$(name memspec)"\n'
        'need "${res}configs/amconfigs/$(name addressmapping)"\n'
        'need "${res}configs/mcconfigs/$(name mcconfig)"\n'
        'need "${res}configs/simulator/$(name simconfig)"\n'
        'need "${res}configs/thermalsim/$(name thermalconfig)"\n'
        'need "${res}configs/thermalsim/powerInfo.json"\n'
        'need "${res}traces/$(name name)"\n'
        'grep -q \'"clkMhz": 800\' "$sim" || { echo "trace clock missing" >&2; exit 14; }\n'
        'grep -q \'"CmdMux": "Oldest"\' "${res}configs/mcconfigs/$(name mcconfig)" || exit 15\n'
        'grep -q \'"DatabaseRecording": false\' "${res}configs/simulator/$(name simconfig)" || exit 16\n'
        'lines=$(wc -l < "${res}traces/$(name name)")\n'
        '[ "$lines" -eq 10000 ] || { echo "trace has $lines lines, not 10000" >&2; exit 17; }\n'
        'touch output-file-in-cwd\n' + PRINT_WELL_FORMED,
    )
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    model = DramSysModel(binary=checker)
    for _ in range(2):  # the second run writes the cached trace text
        evaluation = model.evaluate(design(PagePolicy="Closed"), "stream")
        assert evaluation.feasible, evaluation.reason
    assert list(work.iterdir()) == []
    assert list(private_temp_root.iterdir()) == []


def test_nonzero_exit_is_infeasible_with_code_and_stderr(bin_dir):
    failing = fake_binary(bin_dir, "dramsys-fail", 'echo "starting"\necho "memspec: bad tRCD" >&2\nexit 3\n')
    model = DramSysModel(binary=failing)
    evaluation = model.evaluate(model.default_design())
    assert not evaluation.feasible
    assert "return code 3" in evaluation.reason
    assert "memspec: bad tRCD" in evaluation.reason and "starting" in evaluation.reason
    assert set(evaluation.metrics) == {m.name for m in DRAM_METRICS}
    assert all(math.isnan(v) for v in evaluation.metrics.values())


def test_crash_is_infeasible_and_names_the_signal(bin_dir):
    crashing = fake_binary(bin_dir, "dramsys-crash", 'echo "Assertion failed" >&2\nkill -ABRT $$\n')
    evaluation = DramSysModel(binary=crashing).evaluate(DEFAULT_DRAM_DESIGN)
    assert not evaluation.feasible
    assert "SIGABRT" in evaluation.reason and "-6" in evaluation.reason
    assert "Assertion failed" in evaluation.reason


def test_unparsable_output_is_infeasible(bin_dir):
    garbage = fake_binary(bin_dir, "dramsys-garbage", "echo 'hello world'\nexit 0\n")
    evaluation = DramSysModel(binary=garbage).evaluate(DEFAULT_DRAM_DESIGN)
    assert not evaluation.feasible
    assert "could not parse" in evaluation.reason and "hello world" in evaluation.reason


def test_reason_keeps_only_the_tail_of_long_output(bin_dir):
    loop = 'i=0\nwhile [ $i -lt 500 ]; do echo "line $i" >&2; i=$((i+1)); done\nexit 2\n'
    noisy = fake_binary(bin_dir, "dramsys-noisy", loop)
    reason = DramSysModel(binary=noisy).evaluate(DEFAULT_DRAM_DESIGN).reason
    assert "line 499" in reason and "line 400" not in reason
    assert len(reason) < 1200


def test_timeout_kills_the_run_and_is_infeasible(bin_dir, private_temp_root):
    sleeper = fake_binary(bin_dir, "dramsys-sleep", "sleep 30\n" + PRINT_WELL_FORMED)
    model = DramSysModel(binary=sleeper, timeout_s=1)
    start = time.perf_counter()
    evaluation = model.evaluate(DEFAULT_DRAM_DESIGN)
    assert time.perf_counter() - start < 3.0
    assert not evaluation.feasible
    assert evaluation.reason == "DRAMSys timed out after 1 s"
    assert list(private_temp_root.iterdir()) == []


def test_batch_keeps_good_results_when_some_runs_fail(flaky):
    model = DramSysModel(binary=flaky, workers=3)
    policies = ["Open", "Closed", "OpenAdaptive", "ClosedAdaptive", "Open"]
    batch = model.evaluate_batch([design(PagePolicy=p) for p in policies], "stream")
    assert batch.feasible.tolist() == ["Closed" not in p for p in policies]
    assert np.isnan(batch.metrics["total_time_ns"][[1, 3]]).all()
    assert (batch.metrics["total_time_ns"][[0, 2, 4]] == 51205.0).all()
    assert "return code 4" in batch.reasons[1] and "page policy rejected" in batch.reasons[1]
    assert batch.reasons[0] == ""


def test_batch_accepts_index_arrays(well_formed):
    model = DramSysModel(binary=well_formed, workers=2)
    indices = DRAM_DESIGN_SPACE.sample_indices(3, rng=0)
    batch = model.evaluate_batch(indices)
    assert len(batch) == 3 and batch.feasible.all()


def test_bad_input_raises_before_any_run(bin_dir, tmp_path):
    counter = tmp_path / "runs"
    counting = fake_binary(bin_dir, "dramsys-count", f'echo run >> "{counter}"\n' + PRINT_WELL_FORMED)
    model = DramSysModel(binary=counting, workers=2)
    with pytest.raises(InvalidDesignError, match="RequestBufferSize"):
        model.evaluate_batch([design(), design(RequestBufferSize=3)])
    with pytest.raises(InvalidDesignError):
        model.evaluate(design(Arbiter="Magic"))
    with pytest.raises(UnknownNameError, match="unknown workload"):
        model.evaluate(design(), "no-such-workload")
    with pytest.raises(UnknownNameError):
        model.prepare("no-such-workload")
    assert not counter.exists()


def test_keep_dirs_keeps_and_logs_the_run_folder(well_formed, caplog, private_temp_root):
    model = DramSysModel(binary=well_formed, keep_dirs=True)
    with caplog.at_level(logging.INFO, logger="archgym.simulators.dram.dramsys"):
        model.evaluate(DEFAULT_DRAM_DESIGN)
    kept = list(private_temp_root.iterdir())
    assert len(kept) == 1
    assert (kept[0] / "simulation.json").is_file() and (kept[0] / "traces" / "workload.stl").is_file()
    assert str(kept[0]) in caplog.text


def test_model_interface_matches_the_analytical_backend(well_formed):
    model = DramSysModel(binary=well_formed)
    analytical = make_backend("dram/analytical")
    assert model.name == "dram/dramsys"
    assert model.design_space == analytical.design_space
    assert model.metrics == analytical.metrics
    assert model.default_workload == "stream"
    assert model.workloads() == analytical.workloads()
    assert model.default_design() == analytical.default_design()
    model.prepare("cloud-1")


@pytest.mark.parametrize(
    "kwargs, message",
    [({"timeout_s": 0}, "timeout_s"), ({"timeout_s": math.inf}, "timeout_s"), ({"workers": 0}, "workers")],
)
def test_bad_settings_raise(well_formed, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        DramSysModel(binary=well_formed, **kwargs)


# -- finding the binary -----------------------------------------------------------------------------
def test_unavailable_without_the_environment_variable(monkeypatch):
    monkeypatch.delenv("ARCHGYM_DRAMSYS", raising=False)
    with pytest.raises(BackendUnavailableError, match="set ARCHGYM_DRAMSYS"):
        make_backend("dram/dramsys")
    with pytest.raises(BackendUnavailableError, match="set ARCHGYM_DRAMSYS"):
        DramSysModel()
    listed = {b.name: b for b in list_backends("dram")}
    assert "dram/dramsys" in listed
    assert "ARCHGYM_DRAMSYS" in listed["dram/dramsys"].unavailable_reason()


def test_environment_variable_must_name_an_executable(monkeypatch, tmp_path, well_formed):
    not_executable = tmp_path / "DRAMSys.txt"
    not_executable.write_text("not a program")
    monkeypatch.setenv("ARCHGYM_DRAMSYS", str(not_executable))
    reason = backend_info("dram/dramsys").unavailable_reason()
    assert reason is not None and str(not_executable) in reason and "set ARCHGYM_DRAMSYS" in reason
    monkeypatch.setenv("ARCHGYM_DRAMSYS", str(well_formed))
    assert backend_info("dram/dramsys").unavailable_reason() is None
    model = make_backend("dram/dramsys", timeout_s=5)
    assert isinstance(model, DramSysModel) and model.binary == str(well_formed)


def test_explicit_binary_needs_no_environment_variable(monkeypatch, well_formed, tmp_path):
    monkeypatch.delenv("ARCHGYM_DRAMSYS", raising=False)
    assert DramSysModel(binary=well_formed).evaluate(DEFAULT_DRAM_DESIGN).feasible
    missing = tmp_path / "nowhere" / "DRAMSys"
    with pytest.raises(BackendUnavailableError, match="nowhere/DRAMSys") as error:
        DramSysModel(binary=missing)
    assert "ARCHGYM_DRAMSYS" in str(error.value)


def test_make_backend_with_an_explicit_binary_needs_no_environment_variable(monkeypatch, well_formed, tmp_path):
    monkeypatch.delenv("ARCHGYM_DRAMSYS", raising=False)
    assert backend_info("dram/dramsys").unavailable_reason(binary=well_formed) is None
    model = make_backend("dram/dramsys", binary=well_formed, timeout_s=5)
    assert model.binary == str(well_formed) and model.evaluate(DEFAULT_DRAM_DESIGN).feasible
    with pytest.raises(BackendUnavailableError, match="nowhere/DRAMSys"):
        make_backend("dram/dramsys", binary=tmp_path / "nowhere" / "DRAMSys")


# -- logging a search over a failing simulator ------------------------------------------------------
def test_search_logs_every_row_when_some_runs_fail(flaky, tmp_path):
    model = DramSysModel(binary=flaky, workers=2)
    context = RunContext(
        "dramsys-flaky", env="dram", backend=model.name, workload="stream", agent="random", seed=3
    )
    logger = EvaluationLogger(tmp_path / "runs", context, model.design_space, model.metric_names)
    objective = make_objective("latency", metrics=model.metrics)
    try:
        agent = make_agent("random", model.design_space, seed=3)
        result = run_search(agent, model, objective, 12, batch_size=4, logger=logger)
    finally:
        logger.close()
    rows = load_run_rows(tmp_path / "runs", "dramsys-flaky")
    assert result.evaluations == 12 and len(rows) == 12
    closed = rows["PagePolicy"].str.contains("Closed")
    assert closed.any() and (~closed).any()
    assert (rows["feasible"] == ~closed).all()
    assert rows.loc[closed, "reason"].str.contains("return code 4").all()
    assert (rows.loc[~closed, "reason"] == "").all()
    assert (rows.loc[~closed, "total_time_ns"] == 51205.0).all()


# -- the real simulator -----------------------------------------------------------------------------
@needs_dramsys
def test_dramsys_runs_the_default_design(private_temp_root, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    model = make_backend("dram/dramsys")
    evaluation = model.evaluate(model.default_design(), "stream")
    assert evaluation.feasible, evaluation.reason
    metrics = evaluation.metrics
    assert metrics["energy_pj"] > 0 and metrics["power_mw"] > 0 and metrics["total_time_ns"] > 0
    # 10,000 sequential 64-byte reads: the bandwidth is what moved over the time taken.
    assert metrics["bandwidth_gbps"] == pytest.approx(10_000 * 64 / metrics["total_time_ns"], rel=0.01)
    assert math.isnan(metrics["avg_latency_ns"])
    assert list(work.iterdir()) == [] and list(private_temp_root.iterdir()) == []


@needs_dramsys
def test_dramsys_reproduces_the_reference_measurements(shared_reference_dir):
    reference = pd.read_csv(shared_reference_dir / "dramsys_ddr3_calibration.csv")
    rows = reference[reference["design_id"].isin([0, 1, 2])]
    model = DramSysModel(workers=4)
    for trace, group in rows.groupby("trace"):
        knobs = group[list(DRAM_DESIGN_SPACE.names)].to_dict("records")
        designs = [DRAM_DESIGN_SPACE.validate(k) for k in knobs]
        batch = model.evaluate_batch(designs, shared_reference_dir / "traces" / f"{trace}.stl")
        for (_, row), evaluation in zip(group.iterrows(), batch):
            assert evaluation.feasible, evaluation.reason
            got = evaluation.metrics
            assert got["energy_pj"] == pytest.approx(row["energy_pj"], rel=1e-6)
            assert got["power_mw"] == pytest.approx(row["power_mw"], rel=1e-6)
            assert got["total_time_ns"] == pytest.approx(row["total_time_ns"], rel=1e-6)
            assert got["bandwidth_gbps"] * 8 == pytest.approx(row["avg_bw_gbps"], rel=1e-6)


@needs_dramsys
def test_concurrent_runs_match_sequential_ones(private_temp_root, tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    designs = [DRAM_DESIGN_SPACE.decode(row) for row in DRAM_DESIGN_SPACE.sample_indices(8, rng=11)]
    sequential = DramSysModel().evaluate_batch(designs, "cloud-1")
    parallel = DramSysModel(workers=8).evaluate_batch(designs, "cloud-1")

    model = DramSysModel()
    threaded: list = [None] * len(designs)

    def run(i: int) -> None:
        threaded[i] = model.evaluate(designs[i], "cloud-1")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(designs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sequential.feasible.all(), sequential.reasons
    for name in ("energy_pj", "power_mw", "total_time_ns", "bandwidth_gbps"):
        np.testing.assert_array_equal(parallel.metrics[name], sequential.metrics[name])
        np.testing.assert_array_equal([e.metrics[name] for e in threaded], sequential.metrics[name])
    assert list(work.iterdir()) == [] and list(private_temp_root.iterdir()) == []


@needs_dramsys
@pytest.mark.parametrize("memspec", list_memspecs())
def test_every_bundled_memspec_preset_runs_in_dramsys(memspec):
    model = DramSysModel(memspec=memspec)
    burst = model.memspec.bytes_per_burst
    workload = f"synthetic:n_requests=400,read_fraction=0.7,seed=1,request_bytes={burst}"
    evaluation = model.evaluate(model.default_design(), workload)
    assert evaluation.feasible, evaluation.reason
    assert evaluation.metrics["total_time_ns"] > 0
    if model.memspec.memory_type in POWER_MODEL_TYPES:
        assert evaluation.metrics["energy_pj"] > 0 and model.unreported_metrics == ("avg_latency_ns",)
    else:  # DRAMSys 4 has no power model for this standard: power analysis is off
        assert np.isnan(evaluation.metrics["energy_pj"]) and np.isnan(evaluation.metrics["power_mw"])
        assert {"energy_pj", "power_mw"} <= set(model.unreported_metrics)


@needs_dramsys
@pytest.mark.parametrize("memspec", ["ddr4-2400-2r", "lpddr4-3200", "lpddr4-3200-2ch", "hbm2-2000"])
def test_other_devices_suite_results_are_what_the_backend_measures(memspec):
    rows = pd.read_csv(SUITE_DATA.with_name(f"dramsys_{memspec}_suite.csv"))
    rows = rows[rows.trace.isin(["copy", "random"])]
    # The first two designs and the first with per-bank refresh (where the memory has it).
    first_per_bank = rows.design_id[rows.RefreshPolicy == "PerBank"].min() if "PerBank" in set(rows.RefreshPolicy) else 0
    rows = rows[rows.design_id.isin([0, 1, first_per_bank])]
    model = DramSysModel(memspec=memspec, workers=2)
    # Traces with bursts other than 64 bytes name their generator spec; the others are the suite's.
    workloads = rows["workload_source"] if "workload_source" in rows else rows["trace"]
    for workload, group in rows.groupby(workloads):
        batch = model.evaluate_batch(group[list(DRAM_DESIGN_SPACE.names)].to_dict("records"), workload)
        np.testing.assert_allclose(batch.metrics["total_time_ns"], group["total_time_ns"].to_numpy(), rtol=1e-6)


@needs_dramsys
def test_bundled_suite_results_are_what_the_backend_measures():
    # data/dram/ holds this backend's results on the fidelity suite; a few rows are rerun.
    rows = pd.read_csv(SUITE_DATA)
    rows = rows[rows.design_id.isin([0, 1]) & rows.trace.isin(["copy", "bursts-rand-w30", "random"])]
    model = DramSysModel(workers=2)
    for trace, group in rows.groupby("trace"):
        batch = model.evaluate_batch(group[list(DRAM_DESIGN_SPACE.names)].to_dict("records"), trace)
        for metric in ("total_time_ns", "energy_pj"):
            np.testing.assert_allclose(batch.metrics[metric], group[metric].to_numpy(), rtol=1e-6)
