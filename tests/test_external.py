"""The external-simulator base: finding programs, private folders, timeouts, process clean-up, batches.

Every test runs small real executables (shell scripts) written into tmp_path.
"""

from __future__ import annotations

import math
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import archgym.cost_model as cm
from archgym.cost_model import MetricSpec, make_backend, register_backend
from archgym.errors import BackendUnavailableError, ConfigurationError, InvalidDesignError
from archgym.external import (
    ExternalSimulator,
    SimulatorOutputError,
    SimulatorRun,
    check_physical,
    find_executable,
    make_scratch_directory,
    physical_requirement,
    remove_scratch_directory,
    remove_stale_scratch_directories,
)
from archgym.space import DesignSpace, Parameter, ParameterKind

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in simulators are shell scripts")

ENV_VAR = "ARCHGYM_TEST_ECHO_SIM"


class EchoSimulator(ExternalSimulator):
    """Runs a script as ``<binary> <folder>/design.txt``; it must print ``score: <number>``."""

    name = "toy/echo"
    tool = "EchoSim"
    binary_variable = ENV_VAR
    binary_description = "an echo simulator script"
    design_space = DesignSpace([Parameter("size", (1, 2, 4, 8), ParameterKind.ORDINAL)], name="echo")
    metrics = (MetricSpec("score", "units"),)
    default_workload = "w0"

    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: Any) -> None:
        (folder / "design.txt").write_text(f"{design['size']} {inputs}\n")

    def command(self, folder: Path, design: Mapping[str, Any], inputs: Any) -> Sequence[str]:
        return [str(self.binary), str(folder / "design.txt")]

    def parse_outputs(self, run: SimulatorRun, design: Mapping[str, Any], inputs: Any) -> dict[str, float]:
        for line in run.stdout.splitlines():
            if line.startswith("score:"):
                return {"score": float(line.split(":", 1)[1])}
        raise SimulatorOutputError("no 'score: <number>' line")


def script(folder: Path, name: str, body: str) -> Path:
    """An executable shell script."""
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: os.kill said it exists


def wait_until_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(autouse=True)
def _isolated(private_temp_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Temporary folders land where tests can see what is left behind; no binary comes from the environment."""
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture
def scoring(bin_dir: Path) -> Path:
    """Prints the design's size times ten as the score."""
    return script(bin_dir, "scoring", 'read size workload < "$1"\necho "simulating $workload"\n'
                                      'echo "score: $((size * 10))"\n')


# -- finding the program --------------------------------------------------------------------------
def test_binary_from_argument_or_environment_variable(scoring, monkeypatch):
    assert EchoSimulator(binary=scoring).binary == str(scoring)
    monkeypatch.setenv(ENV_VAR, str(scoring))
    assert EchoSimulator().binary == str(scoring)
    assert EchoSimulator.unavailable_reason() is None


def test_missing_binary_names_the_variable_and_what_was_tried(tmp_path, monkeypatch):
    reason = EchoSimulator.unavailable_reason()
    assert f"{ENV_VAR} is not set" in reason and "binary=" in reason and "an echo simulator script" in reason
    with pytest.raises(BackendUnavailableError, match=f"backend toy/echo is unavailable: .*{ENV_VAR}"):
        EchoSimulator()

    text = tmp_path / "not-a-program.txt"
    text.write_text("hello")
    monkeypatch.setenv(ENV_VAR, str(text))
    reason = EchoSimulator.unavailable_reason()
    assert f"{ENV_VAR}={str(text)!r} is not an executable file" in reason

    missing = tmp_path / "nowhere" / "sim"
    reason = EchoSimulator.unavailable_reason(missing)
    assert str(missing) in reason and "given as binary=" in reason and ENV_VAR in reason


def test_find_executable_looks_up_bare_names_on_path(scoring, monkeypatch):
    monkeypatch.setenv("PATH", str(scoring.parent))
    assert find_executable("scoring") == str(scoring)
    assert find_executable("no-such-program") is None
    assert find_executable("") is None


def test_make_backend_accepts_an_explicit_binary_without_the_variable(scoring):
    register_backend("toy/echo", EchoSimulator, "test only", availability=EchoSimulator.unavailable_reason)
    try:
        with pytest.raises(BackendUnavailableError, match=ENV_VAR):
            make_backend("toy/echo")
        model = make_backend("toy/echo", binary=scoring, timeout_s=5)
        assert model.evaluate({"size": 2}).metrics == {"score": 20.0}
    finally:
        cm._BACKENDS.pop("toy/echo", None)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"timeout_s": 0}, "timeout_s"), ({"timeout_s": math.nan}, "timeout_s"), ({"timeout_s": True}, "timeout_s"),
     ({"workers": 0}, "workers"), ({"workers": 1.5}, "workers")],
)
def test_bad_settings_raise(scoring, kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        EchoSimulator(binary=scoring, **kwargs)


# -- one run --------------------------------------------------------------------------------------
def test_success_runs_in_a_private_folder_that_is_removed(scoring, tmp_path, monkeypatch, private_temp_root):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    model = EchoSimulator(binary=scoring)
    evaluation = model.evaluate({"size": 4}, "w7")
    assert evaluation.feasible and evaluation.reason == ""
    assert evaluation.metrics == {"score": 40.0} and evaluation.wall_time_s > 0
    assert list(private_temp_root.iterdir()) == [] and list(work.iterdir()) == []


def test_scratch_folders_are_named_after_the_tool(bin_dir, private_temp_root):
    where = bin_dir / "where"
    recorder = script(bin_dir, "recorder", f'pwd -P > "{where}"\necho "score: 1"\n')
    EchoSimulator(binary=recorder).evaluate({"size": 1})
    folder = Path(where.read_text().strip())
    assert folder.parent == private_temp_root.resolve() and folder.name.startswith("archgym-echosim-")
    assert not folder.exists()


def test_nonzero_exit_is_infeasible_with_status_and_output_tails(bin_dir, private_temp_root):
    failing = script(bin_dir, "failing", 'echo "starting"\necho "config: bad size" >&2\nexit 3\n')
    evaluation = EchoSimulator(binary=failing).evaluate({"size": 1})
    assert not evaluation.feasible and math.isnan(evaluation.metrics["score"])
    assert "EchoSim exited with return code 3" in evaluation.reason
    assert "stderr: config: bad size" in evaluation.reason and "stdout: starting" in evaluation.reason
    assert list(private_temp_root.iterdir()) == []


def test_crash_names_the_signal(bin_dir):
    crashing = script(bin_dir, "crashing", 'echo "assertion failed" >&2\nkill -SEGV $$\n')
    reason = EchoSimulator(binary=crashing).evaluate({"size": 1}).reason
    assert "killed by SIGSEGV (return code -11)" in reason and "assertion failed" in reason


def test_garbage_output_is_infeasible(bin_dir, private_temp_root):
    garbage = script(bin_dir, "garbage", "echo 'hello world'\nprintf '\\033[31mred\\033[0m\\n'\n")
    reason = EchoSimulator(binary=garbage).evaluate({"size": 1}).reason
    assert reason.startswith("could not parse EchoSim output: no 'score: <number>' line (return code 0)")
    assert "hello world | red" in reason  # colour codes removed
    assert list(private_temp_root.iterdir()) == []


def test_unreadable_number_is_infeasible(bin_dir):
    wrong = script(bin_dir, "wrong", "echo 'score: lots'\n")
    reason = EchoSimulator(binary=wrong).evaluate({"size": 1}).reason
    assert "could not parse EchoSim output" in reason and "lots" in reason


def test_long_output_keeps_only_its_tail(bin_dir):
    noisy = script(bin_dir, "noisy", 'i=0\nwhile [ $i -lt 500 ]; do echo "line $i" >&2; i=$((i+1)); done\nexit 2\n')
    reason = EchoSimulator(binary=noisy).evaluate({"size": 1}).reason
    assert "line 499" in reason and "line 400" not in reason and len(reason) < 1200


def test_program_that_cannot_start_is_infeasible(bin_dir, scoring):
    model = EchoSimulator(binary=scoring)
    scoring.unlink()
    reason = model.evaluate({"size": 1}).reason
    assert reason.startswith(f"could not start EchoSim ({scoring})")


def test_hang_is_killed_at_the_timeout(bin_dir, private_temp_root):
    pid_file = bin_dir / "pid"
    hanging = script(bin_dir, "hanging", f'echo $$ > "{pid_file}"\necho "warming up"\nsleep 60\necho "score: 1"\n')
    model = EchoSimulator(binary=hanging, timeout_s=0.5)
    start = time.perf_counter()
    evaluation = model.evaluate({"size": 1})
    assert time.perf_counter() - start < 5
    assert not evaluation.feasible
    assert evaluation.reason.startswith("EchoSim timed out after 0.5 s") and "warming up" in evaluation.reason
    assert wait_until_gone(int(pid_file.read_text()))
    assert list(private_temp_root.iterdir()) == []


def test_background_grandchild_does_not_outlive_the_run(bin_dir):
    pid_file = bin_dir / "grandchild"
    spawning = script(bin_dir, "spawning", f'sleep 60 &\necho $! > "{pid_file}"\necho "score: 5"\n')
    start = time.perf_counter()
    evaluation = EchoSimulator(binary=spawning, timeout_s=20).evaluate({"size": 1})
    assert time.perf_counter() - start < 5  # the grandchild's open output did not keep the run waiting
    assert evaluation.feasible and evaluation.metrics == {"score": 5.0}
    assert wait_until_gone(int(pid_file.read_text()))


def test_hung_grandchild_is_killed_with_its_parent_at_the_timeout(bin_dir):
    pid_file = bin_dir / "grandchild"
    spawning = script(bin_dir, "spawning", f'sleep 60 &\necho $! > "{pid_file}"\nwait\n')
    evaluation = EchoSimulator(binary=spawning, timeout_s=0.5).evaluate({"size": 1})
    assert "timed out" in evaluation.reason
    assert wait_until_gone(int(pid_file.read_text()))


def run_driver(folder: Path, hanging: Path, pid_file: Path, body: str) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a child Python that defines ``Sim`` (running ``hanging``) and ``wait_started()``."""
    driver = folder / "driver.py"
    driver.write_text(
        "import os, signal, sys, tempfile, threading, time\n"
        "from archgym.external import ExternalSimulator\n"
        "from archgym.space import DesignSpace, Parameter\n"
        "class Sim(ExternalSimulator):\n"
        "    tool = 'Sim'\n"
        "    design_space = DesignSpace([Parameter('size', (1,))])\n"
        "    def write_inputs(self, folder, design, inputs): pass\n"
        f"    def command(self, folder, design, inputs): return [{str(hanging)!r}]\n"
        "    def parse_outputs(self, run, design, inputs): return {}\n"
        "def wait_started():\n"
        f"    while not os.path.exists({str(pid_file)!r}) or not open({str(pid_file)!r}).read().strip():\n"
        "        time.sleep(0.02)\n"
        + body
    )
    return subprocess.run([sys.executable, str(driver)], timeout=60, check=False, capture_output=True, text=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
def test_program_dies_with_the_python_process(bin_dir, tmp_path):
    pid_file = bin_dir / "pid"
    hanging = script(bin_dir, "hanging", f'echo $$ > "{pid_file}"\nexec sleep 60\n')
    run_driver(tmp_path, hanging, pid_file,
               "threading.Thread(target=Sim(timeout_s=60).evaluate, args=({'size': 1},), daemon=True).start()\n"
               "wait_started()\n"
               "os.kill(os.getpid(), 9)\n")
    assert wait_until_gone(int(pid_file.read_text()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux only")
def test_a_forked_helper_dies_with_the_process_that_forked_it(tmp_path):
    # As SALSA's annealing process inside a ZigZag worker: forked (not exec'd), so no preexec_fn applies.
    pid_file = tmp_path / "pid"
    driver = tmp_path / "driver.py"
    driver.write_text(
        "import os, sys, time\n"
        "from archgym.external import die_with_parent\n"
        "parent = os.getpid()\n"
        "if os.fork() == 0:\n"
        "    die_with_parent(parent)\n"
        f"    open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "    time.sleep(60)\n"
        "    os._exit(0)\n"
        f"while not os.path.exists({str(pid_file)!r}) or not open({str(pid_file)!r}).read():\n"
        "    time.sleep(0.01)\n"
        "os.kill(os.getpid(), 9)\n")
    subprocess.run([sys.executable, str(driver)], timeout=60, check=False)
    assert wait_until_gone(int(pid_file.read_text()))


def test_interrupt_kills_the_run_and_propagates(bin_dir, tmp_path):
    # In a child process: a SIGINT that reached pytest itself would end the whole test session.
    pid_file = bin_dir / "pid"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hanging = script(bin_dir, "hanging", f'echo $$ > "{pid_file}"\nexec sleep 60\n')
    child = run_driver(tmp_path, hanging, pid_file,
                       f"tempfile.tempdir = {str(scratch)!r}\n"
                       "def interrupt_when_started():\n"
                       "    wait_started()\n"
                       "    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)\n"
                       "threading.Thread(target=interrupt_when_started, daemon=True).start()\n"
                       "try:\n"
                       "    Sim(timeout_s=60).evaluate({'size': 1})\n"
                       "except KeyboardInterrupt:\n"
                       "    sys.exit(3)\n")
    assert child.returncode == 3, child.stderr
    assert wait_until_gone(int(pid_file.read_text()))
    assert list(scratch.iterdir()) == []


def test_keep_dirs_keeps_the_folder_and_the_output(scoring, caplog, private_temp_root):
    model = EchoSimulator(binary=scoring, keep_dirs=True)
    with caplog.at_level("INFO", logger=__name__):
        model.evaluate({"size": 2}, "w3")
    (kept,) = private_temp_root.iterdir()
    assert (kept / "design.txt").read_text() == "2 w3\n"
    assert "score: 20" in (kept / "archgym-stdout.log").read_text()
    assert str(kept) in caplog.text


# -- batches --------------------------------------------------------------------------------------
def test_batch_runs_in_parallel_in_input_order(bin_dir, private_temp_root):
    slow = script(bin_dir, "slow", 'read size workload < "$1"\nsleep 0.5\necho "score: $size"\n')
    model = EchoSimulator(binary=slow, workers=4)
    start = time.perf_counter()
    batch = model.evaluate_batch([{"size": s} for s in (8, 1, 4, 2)])
    assert time.perf_counter() - start < 1.8  # four half-second runs at once, not one after another
    assert batch.metrics["score"].tolist() == [8.0, 1.0, 4.0, 2.0]
    assert list(private_temp_root.iterdir()) == []


def test_batch_keeps_good_results_when_some_runs_fail(bin_dir):
    flaky = script(bin_dir, "flaky", 'read size workload < "$1"\n[ "$size" -gt 2 ] && { echo "too big" >&2; exit 4; }\n'
                                     'echo "score: $size"\n')
    batch = EchoSimulator(binary=flaky, workers=3).evaluate_batch(np.array([[0], [3], [1], [2]]))
    assert batch.feasible.tolist() == [True, False, True, False]
    assert batch.metrics["score"][[0, 2]].tolist() == [1.0, 2.0]
    assert "return code 4" in batch.reasons[1] and "too big" in batch.reasons[1]


def test_bad_designs_raise_before_any_run(bin_dir, tmp_path):
    counter = tmp_path / "runs"
    counting = script(bin_dir, "counting", f'echo run >> "{counter}"\necho "score: 1"\n')
    model = EchoSimulator(binary=counting, workers=2)
    with pytest.raises(InvalidDesignError, match="size"):
        model.evaluate_batch([{"size": 1}, {"size": 3}])
    assert not counter.exists()


def test_close_kills_running_programs(bin_dir):
    pid_file = bin_dir / "pid"
    hanging = script(bin_dir, "hanging", f'echo $$ > "{pid_file}"\nexec sleep 60\n')
    model = EchoSimulator(binary=hanging, timeout_s=60)
    results: list = []
    thread = threading.Thread(target=lambda: results.append(model.evaluate({"size": 1})))
    thread.start()
    while not pid_file.exists() or not pid_file.read_text().strip():
        time.sleep(0.02)
    model.close()
    thread.join(5)
    assert not thread.is_alive()
    assert "killed by SIGKILL" in results[0].reason
    model.close()  # twice is fine


# -- termination: SIGTERM, SIGINT, and directories left by killed processes ------------------------
def test_sigterm_kills_the_run_removes_its_folder_and_ends_the_process(bin_dir, tmp_path):
    pid_file = bin_dir / "pid"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hanging = script(bin_dir, "hanging", f'echo $$ > "{pid_file}"\nexec sleep 60\n')
    child = run_driver(tmp_path, hanging, pid_file,
                       f"tempfile.tempdir = {str(scratch)!r}\n"
                       "def terminate_when_started():\n"
                       "    wait_started()\n"
                       "    os.kill(os.getpid(), signal.SIGTERM)\n"
                       "threading.Thread(target=terminate_when_started, daemon=True).start()\n"
                       "Sim(timeout_s=60).evaluate({'size': 1})\n"
                       "sys.exit(0)\n")
    assert child.returncode == -signal.SIGTERM, child.stderr  # ended by the signal, as without a run
    assert wait_until_gone(int(pid_file.read_text()))
    assert list(scratch.iterdir()) == []


def test_sigterm_during_a_parallel_batch_kills_every_run(bin_dir, tmp_path):
    pids = bin_dir / "pids"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hanging = script(bin_dir, "hanging", f'echo $$ >> "{pids}"\nexec sleep 60\n')
    child = run_driver(tmp_path, hanging, pids,
                       f"tempfile.tempdir = {str(scratch)!r}\n"
                       "def terminate_when_both_started():\n"
                       f"    while not os.path.exists({str(pids)!r}) or len(open({str(pids)!r}).read().split()) < 2:\n"
                       "        time.sleep(0.02)\n"
                       "    os.kill(os.getpid(), signal.SIGTERM)\n"
                       "threading.Thread(target=terminate_when_both_started, daemon=True).start()\n"
                       "Sim(timeout_s=60, workers=2).evaluate_batch([{'size': 1}, {'size': 1}])\n"
                       "sys.exit(0)\n")
    assert child.returncode == -signal.SIGTERM, child.stderr
    started = [int(pid) for pid in pids.read_text().split()]
    assert len(started) == 2 and all(wait_until_gone(pid) for pid in started)
    assert list(scratch.iterdir()) == []


def test_previous_handlers_are_chained_and_restored(bin_dir, tmp_path):
    pid_file = bin_dir / "pid"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    hanging = script(bin_dir, "hanging", f'echo $$ > "{pid_file}"\nexec sleep 60\n')
    child = run_driver(tmp_path, hanging, pid_file,
                       f"tempfile.tempdir = {str(scratch)!r}\n"
                       "class Stop(Exception): pass\n"
                       "def stop(number, frame): raise Stop(number)\n"
                       "signal.signal(signal.SIGTERM, stop)\n"
                       "def terminate_when_started():\n"
                       "    wait_started()\n"
                       "    os.kill(os.getpid(), signal.SIGTERM)\n"
                       "threading.Thread(target=terminate_when_started, daemon=True).start()\n"
                       "try:\n"
                       "    Sim(timeout_s=60).evaluate({'size': 1})\n"
                       "except Stop:\n"
                       "    ours = signal.getsignal(signal.SIGTERM) is stop\n"
                       "    default = signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
                       "    sys.exit(3 if ours and default else 4)\n")
    assert child.returncode == 3, child.stderr
    assert wait_until_gone(int(pid_file.read_text()))
    assert list(scratch.iterdir()) == []


def test_handlers_are_only_set_while_a_program_runs(scoring):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    seen: list[object] = []
    spy = script(scoring.parent, "spy", 'echo "score: 1"\n')
    model = EchoSimulator(binary=spy)
    original = model.parse_outputs

    def parse(run, design, inputs):
        seen.append(signal.getsignal(signal.SIGTERM))
        return original(run, design, inputs)

    model.parse_outputs = parse  # type: ignore[method-assign]
    assert model.evaluate({"size": 1}).feasible
    assert seen and seen[0] not in before  # the run had a handler of its own
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def make_owned_folder(root: Path, owner: int, age_s: float, namespace: str | None, label: str) -> Path:
    """A scratch directory named as if made ``age_s`` seconds ago by process ``owner`` in ``namespace``."""
    tag = f"p{owner}" + (f"n{namespace}" if namespace else "")
    folder = root / f"archgym-echosim-{tag}-{label}"
    folder.mkdir()
    (folder / "trace.stl").write_text("0: read 0x0\n")
    then = time.time() - age_s
    os.utime(folder, (then, then))
    return folder


def dead_pid() -> int:
    """The id of a process that has just ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def this_namespace() -> str | None:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


def test_stale_folders_of_dead_processes_are_removed_and_nothing_else(private_temp_root):
    namespace = this_namespace()
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        stale = make_owned_folder(private_temp_root, dead_pid(), 60, namespace, "stale")
        live_owner = make_owned_folder(private_temp_root, sleeper.pid, 60, namespace, "live")
        young = make_owned_folder(private_temp_root, dead_pid(), 0, namespace, "young")
        other_namespace = make_owned_folder(private_temp_root, dead_pid(), 60, "1", "container")
        kept = private_temp_root / "archgym-echosim-abc123_y"  # keep_dirs: no owner in the name
        kept.mkdir()
        unrelated = private_temp_root / f"notes-p{dead_pid()}-x"
        unrelated.mkdir()
        os.utime(kept, (0, 0))
        os.utime(unrelated, (0, 0))

        removed = remove_stale_scratch_directories(private_temp_root, min_age_s=10)

        assert removed == [stale] and not stale.exists()
        assert live_owner.exists() and young.exists() and other_namespace.exists()
        assert kept.exists() and unrelated.exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_first_run_of_a_process_sweeps_stale_folders(scoring, private_temp_root):
    stale = make_owned_folder(private_temp_root, dead_pid(), 60, this_namespace(), "stale")
    assert EchoSimulator(binary=scoring).evaluate({"size": 1}).feasible
    assert list(private_temp_root.iterdir()) == []
    assert not stale.exists()


def test_scratch_folders_name_their_owner_unless_kept(private_temp_root):
    folder = make_scratch_directory("Echo Sim")
    kept = make_scratch_directory("Echo Sim", keep=True)
    try:
        assert folder.name.startswith(f"archgym-echo-sim-p{os.getpid()}")
        assert kept.name.startswith("archgym-echo-sim-") and f"p{os.getpid()}" not in kept.name
    finally:
        remove_scratch_directory(folder)
        remove_scratch_directory(kept)
    assert list(private_temp_root.iterdir()) == []


# -- a grandchild that keeps the output open -------------------------------------------------------
def test_grandchild_in_its_own_session_holding_the_output_does_not_hold_the_run(bin_dir):
    # setsid takes the grandchild out of the program's process group, so it cannot be killed with it;
    # the run must still end with the program and be judged by its exit status and output.
    pid_file = bin_dir / "grandchild"
    spawning = script(bin_dir, "spawning", f'setsid sh -c \'echo $$ > "{pid_file}"; exec sleep 30\' &\n'
                                           f'while [ ! -s "{pid_file}" ]; do sleep 0.01; done\n'
                                           'echo "score: 7"\nexit 0\n')
    start = time.perf_counter()
    try:
        evaluation = EchoSimulator(binary=spawning, timeout_s=3).evaluate({"size": 1})
        assert time.perf_counter() - start < 2.5
        assert evaluation.feasible and evaluation.metrics == {"score": 7.0}
    finally:
        os.kill(int(pid_file.read_text()), signal.SIGKILL)


# -- physically impossible output ------------------------------------------------------------------
class MeterSimulator(ExternalSimulator):
    """Runs a script that prints ``<metric> <value>`` lines for a DRAM-like set of metrics."""

    name = "toy/meter"
    tool = "MeterSim"
    binary_variable = ENV_VAR
    design_space = DesignSpace([Parameter("size", (1, 2), ParameterKind.ORDINAL)], name="meter")
    metrics = (MetricSpec("energy_pj", "pJ"), MetricSpec("power_mw", "mW"), MetricSpec("total_time_ns", "ns"),
               MetricSpec("avg_latency_ns", "ns"), MetricSpec("bandwidth_gbps", "GB/s", "max"))
    unreported_metrics = ("avg_latency_ns",)

    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: Any) -> None:
        pass

    def command(self, folder: Path, design: Mapping[str, Any], inputs: Any) -> Sequence[str]:
        return [str(self.binary)]

    def parse_outputs(self, run: SimulatorRun, design: Mapping[str, Any], inputs: Any) -> dict[str, float]:
        values = dict(line.split() for line in run.stdout.splitlines())
        return {spec.name: float(values.get(spec.name, "nan")) for spec in self.metrics}


def meter(bin_dir: Path, energy: str, power: str, time_ns: str, bandwidth: str = "2.5") -> MeterSimulator:
    program = script(bin_dir, "meter", f"echo 'energy_pj {energy}'\necho 'power_mw {power}'\n"
                                       f"echo 'total_time_ns {time_ns}'\necho 'bandwidth_gbps {bandwidth}'\n")
    return MeterSimulator(binary=program)


def test_plausible_output_is_feasible(bin_dir):
    evaluation = meter(bin_dir, "3.5e8", "0", "2.9e5").evaluate({"size": 1})
    assert evaluation.feasible and evaluation.metrics["power_mw"] == 0.0
    assert math.isnan(evaluation.metrics["avg_latency_ns"])  # unreported, so NaN is fine


def test_negative_energy_and_power_and_zero_time_are_infeasible(bin_dir):
    evaluation = meter(bin_dir, "-3.5e8", "-1232.6", "0").evaluate({"size": 1})
    assert not evaluation.feasible and all(math.isnan(v) for v in evaluation.metrics.values())
    assert evaluation.reason.startswith("MeterSim reported physically impossible values: ")
    assert "energy_pj = -3.5e+08 (must be non-negative and finite)" in evaluation.reason
    assert "power_mw = -1232.6 (must be non-negative and finite)" in evaluation.reason
    assert "total_time_ns = 0 (must be positive and finite)" in evaluation.reason
    assert "bandwidth" not in evaluation.reason


@pytest.mark.parametrize("energy, power, time_ns, bandwidth, named", [
    ("inf", "1", "1", "1", "energy_pj = inf"),
    ("1", "1", "-5", "1", "total_time_ns = -5"),
    ("1", "1", "1", "-0.5", "bandwidth_gbps = -0.5"),
    ("1", "nan", "1", "1", "power_mw = nan"),  # a metric the backend reports cannot be missing
])
def test_each_impossible_metric_is_named(bin_dir, energy, power, time_ns, bandwidth, named):
    evaluation = meter(bin_dir, energy, power, time_ns, bandwidth).evaluate({"size": 1})
    assert not evaluation.feasible and named in evaluation.reason


def test_a_batch_marks_only_the_impossible_runs(bin_dir):
    # Size 2 gets a negative energy: the stand-in reads the design from its working directory.
    program = script(bin_dir, "meter", 'size=$(cat size.txt)\n'
                                       'if [ "$size" = 2 ]; then echo "energy_pj -4"; else echo "energy_pj 4"; fi\n'
                                       "echo 'power_mw 1'\necho 'total_time_ns 10'\necho 'bandwidth_gbps 1'\n")
    model = SizedMeterSimulator(binary=program, workers=2)
    batch = model.evaluate_batch([{"size": 1}, {"size": 2}, {"size": 1}])
    assert batch.feasible.tolist() == [True, False, True]
    assert batch.metrics["energy_pj"][[0, 2]].tolist() == [4.0, 4.0]
    assert "energy_pj = -4" in batch.reasons[1]


class SizedMeterSimulator(MeterSimulator):
    """Like :class:`MeterSimulator`, with the design's size written to ``size.txt`` for the program."""

    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: Any) -> None:
        (folder / "size.txt").write_text(str(design["size"]))


def test_check_physical_reads_the_kind_from_the_metric_name():
    assert physical_requirement("total_time_ns") == "positive"
    assert physical_requirement("latency_cycles") == "non-negative"
    assert physical_requirement("edp_pj_cycles") == "non-negative"
    assert physical_requirement("utilisation") is None
    assert check_physical({"latency_cycles": 0.0, "utilisation": -1.0, "area_mm2": 1.0}, "Sim") == ""
    assert check_physical({"area_mm2": -1.0}, "Sim") == (
        "Sim reported physically impossible values: area_mm2 = -1 (must be non-negative and finite)")
    assert check_physical({"energy_pj": math.nan}, "Sim", unreported=("energy_pj",)) == ""
