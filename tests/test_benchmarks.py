"""The benchmark scripts end with one line saying what is missing, not a traceback, when an input is absent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(name: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True,
                          timeout=300, check=False, env=env)


def test_proxy_benchmark_without_its_reference_data_says_what_is_missing(tmp_path: Path) -> None:
    done = run_script("proxy_dram.py", "--reference", str(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    missing = tmp_path / "dramsys_ddr3_calibration.csv"
    assert done.stderr.splitlines() == [
        (f"error: missing the DRAMSys reference measurements {missing}: they are kept beside the project in "
         "../shared/reference/dram (not in the repository); copy that folder there or point --reference at it"),
    ]


def test_reference_benchmark_without_dramsys_says_how_to_give_it() -> None:
    env = {key: value for key, value in os.environ.items() if key != "ARCHGYM_DRAMSYS"}
    done = run_script("dram_reference.py", env=env)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: backend dram/dramsys is unavailable") and "ARCHGYM_DRAMSYS" in line


def test_a_bad_option_value_is_one_line_too() -> None:
    done = run_script("agents_dram.py", "--workloads", "no-such-trace")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: unknown workload 'no-such-trace'")


def test_layer_kinds_benchmark_lists_its_kinds_and_refuses_an_unknown_one() -> None:
    helped = run_script("accelerator_layer_kinds.py", "--help")
    assert helped.returncode == 0
    assert "depthwise" in helped.stdout and "--network-designs" in helped.stdout
    refused = run_script("accelerator_layer_kinds.py", "--kinds", "conv,spiral")
    assert refused.returncode == 2
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: unknown layer kind spiral; allowed: all, none, conv, strided")


def test_multifidelity_benchmark_runs_on_the_stand_in_says_so_and_ends_with_the_saving() -> None:
    done = run_script("multifidelity.py", "--stand-in", "--workloads", "stream", "--seeds", "1", "--agents",
                      "random,ga", "--direct-budget", "20", "--reference-budget", "40", "--screen-budget", "160")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("simulator: STAND-IN dram/perturbed") and "(as asked)" in lines[0]
    [row] = [line for line in lines if line.startswith("stream ")]
    assert row.split()[4] in {"random", "ga"}
    assert re.fullmatch(r"simulator-time saving: \d+\.\dx", lines[-1])


def test_multifidelity_benchmark_refuses_an_unknown_workload_in_one_line() -> None:
    done = run_script("multifidelity.py", "--stand-in", "--workloads", "no-such-trace", "--seeds", "1")
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("error: unknown workload 'no-such-trace'")
