"""The DRAMSys backend through the command line: killed commands, the timeout option, impossible output.

Each test runs the real ``archgym`` command in a child process with a small
stand-in for the DRAMSys binary (a shell script written into tmp_path), and a
temporary directory of its own so that what is left behind can be seen.
"""

from __future__ import annotations

import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archgym.dataset import load_dataset
from archgym.errors import ConfigurationError
from archgym.sweep import parse_spec

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the stand-ins are shell scripts; "
                                "dying with the parent is Linux only")

ARCHGYM = [sys.executable, "-m", "archgym.cli"]
SUMMARY = ("DRAMSys.dram0  Total Energy:   {energy} pJ\n"
           "DRAMSys.dram0  Average Power:  {power} mW\n"
           "DRAMSys.controller0  Total Time:     {time} ns\n"
           "DRAMSys.controller0  AVG BW:         17.78 Gb/s (17.36 %)\n")


def stand_in(folder: Path, name: str, body: str) -> Path:
    """An executable shell script standing in for DRAMSys."""
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def printing(folder: Path, energy: str = "354964950.00", power: str = "1232.60", time_ns: str = "287980") -> Path:
    """A stand-in that prints DRAMSys's summary lines with the given values."""
    return stand_in(folder, "dramsys-printing",
                    f"cat <<'OUT'\n{SUMMARY.format(energy=energy, power=power, time=time_ns)}OUT\n")


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def scratch_root(tmp_path: Path) -> Path:
    """The children's temporary directory."""
    root = tmp_path / "tmp"
    root.mkdir()
    return root


def archgym(arguments: list[str], binary: Path, scratch_root: Path, **kwargs) -> subprocess.Popen[str]:
    environment = {**os.environ, "ARCHGYM_DRAMSYS": str(binary), "TMPDIR": str(scratch_root),
                   "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(ARCHGYM + arguments, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kwargs)


def start_hanging(tmp_path: Path, scratch_root: Path, arguments: list[str]) -> tuple[subprocess.Popen[str], int, Path]:
    """Start ``archgym`` on a stand-in that hangs; the command, the stand-in's pid and its working directory."""
    pid_file = tmp_path / "simulator.pid"
    hanging = stand_in(tmp_path, "dramsys-hanging", f'pwd > "{pid_file}.dir"\necho $$ > "{pid_file}"\n'
                                                    "exec sleep 120\n")
    command = archgym(arguments, hanging, scratch_root)
    if not wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 60):
        command.kill()
        pytest.fail(f"the simulator never started: {command.communicate()}")
    return command, int(pid_file.read_text()), Path(Path(f"{pid_file}.dir").read_text().strip())


COMMANDS = {
    "evaluate": ["evaluate", "--backend", "dramsys", "--workload", "stream"],
    "run": ["run", "--backend", "dramsys", "--workload", "stream", "--budget", "3"],
}


@pytest.mark.parametrize("command_name", sorted(COMMANDS))
def test_sigterm_ends_the_command_the_simulator_and_its_directory(tmp_path, scratch_root, command_name):
    arguments = COMMANDS[command_name] + (["--out", str(tmp_path / "runs")] if command_name == "run" else [])
    command, simulator, folder = start_hanging(tmp_path, scratch_root, arguments)
    assert folder.parent == scratch_root and folder.name.startswith(f"archgym-dramsys-p{command.pid}")
    command.send_signal(signal.SIGTERM)
    command.communicate(timeout=10)
    assert command.returncode == -signal.SIGTERM  # it ends as it did before: by the signal
    assert wait_for(lambda: not alive(simulator), 3)
    assert not folder.exists()


@pytest.mark.parametrize("command_name", sorted(COMMANDS))
def test_sigkill_takes_the_simulator_down_and_the_next_run_removes_its_directory(
    tmp_path, scratch_root, command_name
):
    arguments = COMMANDS[command_name] + (["--out", str(tmp_path / "runs")] if command_name == "run" else [])
    command, simulator, folder = start_hanging(tmp_path, scratch_root, arguments)
    command.kill()
    command.communicate(timeout=10)
    assert wait_for(lambda: not alive(simulator), 3)
    assert folder.exists()  # nothing can clean up after SIGKILL in the process itself

    # A later process removes it once it is a few seconds old (here: made to look a minute old).
    then = time.time() - 60
    os.utime(folder, (then, then))
    later = archgym(COMMANDS["evaluate"], printing(tmp_path), scratch_root)
    _output, errors = later.communicate(timeout=60)
    assert later.returncode == 0, errors
    assert not folder.exists()
    assert list(scratch_root.iterdir()) == []


def test_timeout_backend_option_is_used_and_checked(tmp_path, scratch_root):
    command, simulator, _ = start_hanging(tmp_path, scratch_root, COMMANDS["evaluate"] + [
        "--backend-option", "timeout_s=0.5"])
    output, errors = command.communicate(timeout=30)
    assert command.returncode == 0, errors
    assert "infeasible: DRAMSys timed out after 0.5 s" in " ".join(output.split())
    assert not alive(simulator)

    for bad in ("-1", "0", "soon"):
        rejected = archgym(COMMANDS["evaluate"] + ["--backend-option", f"timeout_s={bad}"], printing(tmp_path),
                           scratch_root)
        output, errors = rejected.communicate(timeout=30)
        message = " ".join((output + errors).split())
        assert rejected.returncode == 2 and "timeout_s must be a positive, finite number of seconds" in message


def test_sweep_spec_timeout_is_checked_before_the_sweep(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHGYM_DRAMSYS", str(printing(tmp_path)))
    spec = {"env": "dram", "backend": "dramsys", "workloads": ["stream"], "objectives": ["latency"],
            "agents": ["random"], "budget": 2, "out": str(tmp_path / "sweep")}
    assert parse_spec({**spec, "backend_options": {"timeout_s": 120}}).backend_options == {"timeout_s": 120}
    with pytest.raises(ConfigurationError, match="timeout_s must be a positive, finite number of seconds"):
        parse_spec({**spec, "backend_options": {"timeout_s": -5}})


def test_impossible_dramsys_output_is_logged_as_infeasible(tmp_path, scratch_root):
    negative = printing(tmp_path, energy="-354964950.00", power="-1232.60", time_ns="0")
    out = tmp_path / "runs"
    command = archgym(["run", "--backend", "dramsys", "--workload", "stream", "--budget", "3", "--out", str(out)],
                      negative, scratch_root)
    _output, errors = command.communicate(timeout=120)
    assert command.returncode == 0, errors
    rows = load_dataset(out)
    assert len(rows) == 3 and not rows["feasible"].any()
    for reason in rows["reason"]:
        assert reason.startswith("DRAMSys reported physically impossible values: ")
        assert "energy_pj = -3.54965e+08" in reason and "power_mw = -1232.6" in reason
        assert "total_time_ns = 0 (must be positive and finite)" in reason
    assert all(math.isnan(value) for value in rows["energy_pj"])
    assert list(scratch_root.iterdir()) == []


@pytest.mark.skipif(not os.environ.get("ARCHGYM_DRAMSYS"),
                    reason="set ARCHGYM_DRAMSYS to a DRAMSys 4 binary to check that its output passes the check")
def test_real_dramsys_output_passes_the_physical_check(tmp_path, scratch_root):
    out = tmp_path / "runs"
    command = archgym(["run", "--backend", "dramsys", "--workload", "random", "--budget", "4", "--out", str(out)],
                      Path(os.environ["ARCHGYM_DRAMSYS"]), scratch_root)
    _output, errors = command.communicate(timeout=300)
    assert command.returncode == 0, errors
    rows = load_dataset(out)
    assert len(rows) == 4 and rows["feasible"].all(), rows["reason"].tolist()
    assert (rows["energy_pj"] > 0).all() and (rows["total_time_ns"] > 0).all()
    assert list(scratch_root.iterdir()) == []
