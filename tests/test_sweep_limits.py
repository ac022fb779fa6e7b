"""Sweeps under hostile input: bounded spec files and run counts, typed fields, one sweep per directory,
and no local Ray process outliving a killed sweep."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from archgym.cli import app
from archgym.errors import ConfigurationError
from archgym.sweep import MAX_RUNS, MAX_SPEC_BYTES, MAX_SPEC_NODES, load_spec, parse_spec, run_sweep


def small_spec(out_dir: Path, /, **changes: object) -> dict:
    spec = {"name": "limits", "env": "dram", "workloads": ["stream"], "objectives": ["time"],
            "agents": [{"name": "random"}], "seeds": 1, "budget": 5, "out": str(out_dir)}
    spec.update(changes)
    return spec


def write_spec(folder: Path, **changes: object) -> Path:
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(small_spec(folder / "out", **changes)))
    return path


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# -- bounded specs -------------------------------------------------------------------------------


def test_a_huge_seed_count_is_counted_not_built(tmp_path: Path) -> None:
    raw = small_spec(tmp_path, seeds=100_000_000)
    before = peak_memory_mb()
    with pytest.raises(ConfigurationError, match=r"expands to 100,000,000 runs, more than 10,000; confirm with --yes"):
        parse_spec(raw)
    spec = parse_spec(raw, allow_large=True)
    assert spec.run_count == 100_000_000
    first = [run.seed for _, run in zip(range(3), spec.iter_runs())]
    assert first == [0, 1, 2]
    assert peak_memory_mb() - before < 200


def test_a_large_grid_is_refused_before_its_settings_are_checked(tmp_path: Path) -> None:
    grid = {"population": list(range(4, 104)), "mutation_prob": [i / 1000 for i in range(1, 201)]}
    raw = small_spec(tmp_path, agents=[{"name": "ga", "grid": grid}])
    started = time.perf_counter()
    with pytest.raises(ConfigurationError, match="expands to 20,000 runs"):
        parse_spec(raw)
    assert time.perf_counter() - started < 5
    # Confirmed, each value is still checked once: a bad one far into the grid is found.
    bad = {**grid, "population": [*grid["population"][:-1], 1]}
    with pytest.raises(ConfigurationError, match=r"agents\[0\]: agent 'ga' with .*population=1"):
        parse_spec(small_spec(tmp_path, agents=[{"name": "ga", "grid": bad}]), allow_large=True)


def test_the_run_count_matches_the_runs(tmp_path: Path) -> None:
    spec = parse_spec(small_spec(
        tmp_path, workloads=["stream", "random"], seeds=[3, 5],
        agents=["random", {"name": "ga", "grid": {"population": [4, 8]},
                           "distributions": {"mutation_prob": {"uniform": [0.01, 0.2]}}, "samples": 3}]))
    runs = spec.runs()
    assert spec.run_count == len(runs) == 2 * (1 + 2 * 3) * 2
    # Every grid point gets the same draws.
    draws = {(r.config["population"], r.config["mutation_prob"]) for r in runs if r.agent == "ga"}
    assert len(draws) == 6 and len({p for _, p in draws}) == 3


def test_a_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join([*lines, "agents: [*a8]", "budget: 5", "workloads: [stream]", "objectives: [time]"]))
    assert path.stat().st_size < 1000
    before = peak_memory_mb()
    started = time.perf_counter()
    with pytest.raises(ConfigurationError, match=f"expands to more than {MAX_SPEC_NODES:,} values"):
        load_spec(path)
    assert time.perf_counter() - started < 5 and peak_memory_mb() - before < 200


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text("workloads: &w [stream]\nobjectives: [time]\nagents: [{name: random}]\nbudget: 5\n"
                    f"out: {tmp_path / 'out'}\nname: aliased\n"
                    "backend_options: &o {memspec: ddr4-2400}\n")
    assert load_spec(path).workloads == ("stream",)


def test_oversized_and_deeply_nested_files_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * (MAX_SPEC_BYTES // 10 + 1))
    with pytest.raises(ConfigurationError, match="larger than 1,000,000 bytes"):
        load_spec(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("agents: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigurationError, match="nests values too deeply"):
        load_spec(deep)


def test_cli_refuses_a_large_sweep_without_yes_and_dry_run_counts_it(tmp_path: Path) -> None:
    path = write_spec(tmp_path, seeds=100_000_000)
    runner = CliRunner()
    refused = runner.invoke(app, ["sweep", str(path)], env={"COLUMNS": "300"})
    assert refused.exit_code == 2
    assert "expands to 100,000,000 runs, more than 10,000; confirm with --yes" in refused.output
    started = time.perf_counter()
    dry = runner.invoke(app, ["sweep", str(path), "--dry-run"], env={"COLUMNS": "300"})
    assert dry.exit_code == 0, dry.output
    assert time.perf_counter() - started < 10
    assert "100,000,000 runs" in dry.output and "... and 99,999,950 more" in dry.output
    assert f"no time estimate for more than {MAX_RUNS:,} runs; running more than {MAX_RUNS:,} runs needs --yes" in (
        dry.output)
    assert not (tmp_path / "out").exists()


# -- typed fields --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"backend_options": [1, 2]}, r"backend_options must be a mapping of option to value, got \[1, 2\] \(a list\)"),
        ({"agents": ["random", {"name": "ga", "settings": [1, 2]}]},
         r"agents\[1\]\.settings must be a mapping of setting to value, got \[1, 2\] \(a list\)"),
        ({"agents": ["random", {"name": "ga", "grid": [1, 2]}]},
         r"agents\[1\]\.grid must be a mapping of setting to a list of values, got \[1, 2\]"),
        ({"agents": [{"name": "ga", "grid": {"population": 4}}]},
         r"agents\[0\]\.grid\.population must be a list of values, got 4 \(an? integer\)"),
        ({"agents": [{"name": "ga", "distributions": [1], "samples": 2}]},
         r"agents\[0\]\.distributions must be a mapping of setting to a distribution"),
        ({"agents": [{"name": ["ga"]}]}, r"agents\[0\]\.name must be an agent name \(a string\)"),
        ({"backend_options": {"foo": 1}},
         r"backend_options: backend dram/analytical has no option 'foo'; its options are memspec"),
        ({"workloads": ["stream", {"trace": 1}]}, r"workloads\[1\] must be a workload name \(a string\)"),
        ({"objectives": [{"name": "time", "targets": [1]}]}, r"objectives\[0\]\.targets must be a mapping"),
        ({"objectives": [{"name": "latency", "targets": {"target_latency_ns": "fast"}}]},
         r"objectives\[0\]\.targets\.target_latency_ns must be a number"),
        ({"out": ["a"]}, r"out must be a directory path \(a string\)"),
        ({"backend": 3}, r"backend must be a backend name \(a string\), got 3"),
    ],
)
def test_mistyped_fields_are_named(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_spec(small_spec(tmp_path, **changes))


def test_mistyped_fields_are_one_line_cli_errors(tmp_path: Path) -> None:
    path = write_spec(tmp_path, agents=[{"name": "ga", "grid": [1, 2]}])
    result = CliRunner().invoke(app, ["sweep", str(path), "--dry-run"], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "agents[0].grid must be a mapping" in result.output


# -- one sweep per directory ---------------------------------------------------------------------


def test_a_second_sweep_into_the_same_directory_fails_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    path = write_spec(tmp_path, budget=1_000_000, seeds=1, workloads=["random"])
    first = subprocess.Popen([sys.executable, "-m", "archgym.cli", "sweep", str(path), "--workers", "1"],
                             env={**os.environ, "OMP_NUM_THREADS": "1"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("_journal-*.jsonl")):
            assert time.monotonic() < deadline, "the first sweep logged nothing within 120 s"
            time.sleep(0.2)
        started = time.perf_counter()
        with pytest.raises(ConfigurationError) as refused:
            run_sweep(load_spec(path), workers=1)
        assert time.perf_counter() - started < 5
        assert str(refused.value) == (
            f"another sweep (pid {first.pid}) is writing to {out}; wait for it or choose another --out")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # The lock went with the killed sweep: the next one runs (and resumes the interrupted run).
    time.sleep(1.0)
    spec = parse_spec(small_spec(out, workloads=["random"], budget=5))
    assert [r.evaluations for r in run_sweep(spec, workers=1)] == [5]


# -- local Ray -----------------------------------------------------------------------------------


def _process_tree(root: int) -> set[tuple[int, int, str]]:
    """(pid, start time, command) of every process below ``root``, read from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = stat[stat.rfind(")") + 2:].split()
            table[int(entry.name)] = (int(fields[1]), int(fields[19]), command or stat[stat.find("(") + 1:stat.rfind(")")])
    found, stack = set(), [root]
    while stack:
        parent = stack.pop()
        for pid, (ppid, start, command) in table.items():
            if ppid == parent and (pid, start, command) not in found:
                found.add((pid, start, command))
                stack.append(pid)
    return found


def _alive(pid: int, start: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[19]) == start and fields[0] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc (Linux)")
def test_killing_a_ray_sweep_leaves_no_ray_process(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the ray executor needs the marl extra: pip install 'archgym[marl]'")
    out = tmp_path / "out"
    path = write_spec(tmp_path, budget=1_000_000, seeds=1, workloads=["random"])
    sweep = subprocess.Popen(
        [sys.executable, "-m", "archgym.cli", "sweep", str(path), "--executor", "ray", "--workers", "1"],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    seen: set[tuple[int, int, str]] = set()
    try:
        deadline = time.monotonic() + 180
        while not list(out.glob("_journal-*.jsonl")):
            assert time.monotonic() < deadline, "the Ray sweep logged nothing within 180 s"
            seen |= _process_tree(sweep.pid)
            time.sleep(0.3)
        for _ in range(10):  # the raylet's agents start beside the first task
            seen |= _process_tree(sweep.pid)
            time.sleep(0.3)
    finally:
        sweep.send_signal(signal.SIGKILL)
        sweep.wait()
    names = " ".join(command for _, _, command in seen)
    assert "raylet" in names and "gcs_server" in names and "DashboardAgent" in names, names
    deadline = time.monotonic() + 30
    while (left := [p for p in seen if _alive(p[0], p[1])]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"still running after the sweep was killed: {left}"
