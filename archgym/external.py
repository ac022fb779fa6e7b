"""External simulators: cost models that run a program once per evaluation.

:class:`ExternalSimulator` owns what every such backend needs, so that a
wrapper around a real simulator only says how to talk to it:

* finding the executable: an explicit ``binary`` argument, else the
  environment variable the subclass names (:attr:`~ExternalSimulator.binary_variable`),
  with an error naming both when neither gives an executable file;
* an availability check (:meth:`~ExternalSimulator.unavailable_reason`) for
  :func:`~archgym.cost_model.register_backend`, which is given the factory's
  ``binary`` argument;
* one private temporary directory per evaluation
  (``archgym-<tool>-p<pid>-*``, the program's working directory, named after
  the process that owns it), removed afterwards unless ``keep_dirs``;
* a timeout per run (the ``timeout_s`` backend option); the program leads its
  own process group, and the whole group is killed on a timeout, on an error
  or interrupt in the caller, and after every run (so a background child
  cannot outlive it, nor keep the run waiting); on Linux the program also
  dies if the Python process does;
* while programs run, SIGTERM and SIGINT first kill every running program and
  remove every scratch directory, then do what they did before (end the
  process, or raise ``KeyboardInterrupt``);
* scratch directories left behind by a process that was killed outright
  (``kill -9``) are removed by the next process that makes one
  (:func:`remove_stale_scratch_directories`);
* crashes, hangs, non-zero exits, unreadable output and physically impossible
  metrics (:func:`check_physical`: negative energy, zero time, ...) become
  infeasible :class:`~archgym.cost_model.Evaluation` values whose reason
  holds the end of the program's standard error and output, or the impossible
  value; only bad input raises;
* batches run ``workers`` programs at a time, results in input order.

A subclass sets :attr:`~ExternalSimulator.tool` (and, if it runs a binary,
:attr:`~ExternalSimulator.binary_variable` and
:attr:`~ExternalSimulator.binary_description`) and implements three hooks:
:meth:`~ExternalSimulator.write_inputs`, :meth:`~ExternalSimulator.command`
and :meth:`~ExternalSimulator.parse_outputs`. Optional hooks resolve a
workload once per batch (:meth:`~ExternalSimulator.workload_inputs`) and word
the reason of a non-zero exit (:meth:`~ExternalSimulator.failure_reason`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, ClassVar, NamedTuple, TypeVar

import numpy as np

from archgym.cost_model import BatchEvaluation, CostModel, Evaluation
from archgym.errors import ArchGymError, BackendUnavailableError, ConfigurationError

__all__ = [
    "ExternalSimulator", "RunOutcome", "SimulatorOutputError", "SimulatorRun", "check_physical", "die_with_parent",
    "find_executable", "locate_binary", "make_scratch_directory", "physical_requirement", "remove_scratch_directory",
    "remove_stale_scratch_directories", "run_program",
]

T = TypeVar("T")

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TAIL_LINES = 5
_TAIL_CHARS = 500
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_KEPT_STDOUT = "archgym-stdout.log"
_KEPT_STDERR = "archgym-stderr.log"
_STALE_AFTER_S = 10.0


class SimulatorOutputError(ArchGymError, ValueError):
    """A simulator's output lacks what was expected or holds an unreadable value.

    :meth:`ExternalSimulator.parse_outputs` raises it (or any ``ValueError``
    or ``OSError``); the evaluation becomes infeasible with its message.
    """


@dataclass(frozen=True)
class SimulatorRun:
    """One finished run of a simulator.

    Args:
        folder: The run's private directory (its working directory).
        returncode: Exit status; negative ``-N`` when killed by signal ``N``.
        stdout: Everything the program printed on standard output (colour codes removed).
        stderr: Everything it printed on standard error (colour codes removed).
    """

    folder: Path
    returncode: int
    stdout: str
    stderr: str

    def output_tails(self) -> str:
        """The last few lines of standard error and output, for failure reasons."""
        return f"stderr: {tail(self.stderr) or '(empty)'}; stdout: {tail(self.stdout) or '(empty)'}"


class RunOutcome(NamedTuple):
    """What one run in a private directory gave: a parsed result, or None and the reason it failed."""

    result: Any
    reason: str
    wall_time_s: float


def tail(text: str, lines: int = _TAIL_LINES, chars: int = _TAIL_CHARS) -> str:
    """The last ``lines`` non-blank lines of ``text`` joined by ``" | "``, at most ``chars`` long."""
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    joined = " | ".join(kept[-lines:])
    return joined if len(joined) <= chars else "..." + joined[-chars:]


def find_executable(path: str | os.PathLike[str]) -> str | None:
    """The absolute path of ``path`` if it is an executable file (bare names are looked up on PATH)."""
    text = os.fspath(path)
    if not text:
        return None
    if os.sep not in text and (os.altsep is None or os.altsep not in text):
        found = shutil.which(text)
        if found:
            return os.path.abspath(found)
    if os.path.isfile(text) and os.access(text, os.X_OK):
        return os.path.abspath(text)
    return None


def _exit_description(tool: str, returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"{tool} was killed by {name} (return code {returncode})"
    return f"{tool} exited with return code {returncode}"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the process group ``process`` leads (the program and anything it started)."""
    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up once in the parent: the child between fork and exec should only call it.
_PRCTL = _prctl()


def die_with_parent(parent: int, signal_number: int = signal.SIGKILL) -> None:
    """Have Linux send this process ``signal_number`` when its parent dies (nothing elsewhere).

    Args:
        parent: The process id the caller has as its parent; if that process is
            already gone (the request came too late), this process exits at once.
        signal_number: The signal to receive.

    Safe between fork and exec: it calls only ``prctl`` (looked up beforehand) and ``getppid``.
    """
    if _PRCTL is None:
        return
    _PRCTL(_PR_SET_PDEATHSIG, signal_number)
    if os.getppid() != parent:
        os._exit(1)


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux kill the child when this process dies (None elsewhere)."""
    return functools.partial(die_with_parent, os.getpid()) if _PRCTL is not None else None


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return _ANSI_ESCAPE.sub("", handle.read().decode("utf-8", errors="replace"))


# -- physical sense of parsed metrics ----------------------------------------------------------------
_PHYSICAL_REQUIREMENTS: Mapping[str, str] = {
    "time": "positive",
    "energy": "non-negative",
    "power": "non-negative",
    "latency": "non-negative",
    "bandwidth": "non-negative",
    "area": "non-negative",
    "edp": "non-negative",
}
"""A word in a metric's name (``total_time_ns``: ``time``) and what every value of it must be."""


def physical_requirement(metric: str) -> str | None:
    """``"positive"`` or ``"non-negative"`` for a time, energy, power, latency, bandwidth, area or EDP; else None."""
    for word in metric.lower().split("_"):
        if word in _PHYSICAL_REQUIREMENTS:
            return _PHYSICAL_REQUIREMENTS[word]
    return None


def check_physical(metrics: Mapping[str, Any], tool: str, unreported: Collection[str] = ()) -> str:
    """Why a simulator's parsed metrics cannot be real, or ``""`` if they can.

    A time must be positive and finite; an energy, power, latency, bandwidth,
    area or energy-delay product non-negative and finite (the kind is read
    from the words of the metric's name, see :func:`physical_requirement`).
    NaN is accepted only for the backend's ``unreported`` metrics; metrics of
    other kinds are not checked.

    Args:
        metrics: Metric name to parsed value.
        tool: The simulator's name, for the reason.
        unreported: Metrics the backend cannot measure (NaN by design).

    Returns:
        ``""``, or one line naming the simulator and every impossible metric with its value.
    """
    problems = []
    for name, value in metrics.items():
        requirement = physical_requirement(name)
        if requirement is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            problems.append(f"{name} = {value!r} (not a number)")
            continue
        if math.isnan(number) and name in unreported:
            continue
        if not math.isfinite(number) or number < 0 or (number == 0 and requirement == "positive"):
            problems.append(f"{name} = {number:.6g} (must be {requirement} and finite)")
    if not problems:
        return ""
    return f"{tool} reported physically impossible values: {'; '.join(problems)}"


# -- cleanup of programs and scratch directories -------------------------------------------------------
# Scratch directories of this module: archgym-<tool>-p<pid>[n<pid namespace>]-<mkdtemp's random part>.
_SCRATCH_NAME = re.compile(r"^archgym-.+-p(?P<pid>\d+)(?:n(?P<namespace>\d+))?-[^-]+$")


def _pid_namespace() -> str:
    """This process's PID namespace (Linux), so a directory of a container sharing /tmp is told apart."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


def _owner_tag() -> str:
    namespace = _pid_namespace()
    return f"p{os.getpid()}" + (f"n{namespace}" if namespace else "")


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_scratch_directories(
    root: str | os.PathLike[str] | None = None, min_age_s: float = _STALE_AFTER_S
) -> list[Path]:
    """Remove the scratch directories left in ``root`` by processes that died without cleaning up.

    Only directories named by :func:`make_scratch_directory` are considered,
    and one is removed only if it belongs to this user, was made in this PID
    namespace by a process that no longer exists, and was last modified more
    than ``min_age_s`` seconds ago. Kept directories (``keep_dirs``) carry no
    owner and are never removed. Does nothing where processes cannot be
    probed (Windows).

    Args:
        root: The folder to clean; by default the temporary directory.
        min_age_s: Minimum age of a directory to remove.

    Returns:
        The directories removed.
    """
    if os.name != "posix":
        return []  # os.kill(pid, 0) would end the process there, not probe it
    folder = Path(root if root is not None else tempfile.gettempdir())
    namespace, now, removed = _pid_namespace(), time.time(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    for entry in entries:
        match = _SCRATCH_NAME.match(entry.name)
        if match is None or (match.group("namespace") or "") != namespace:
            continue
        pid = int(match.group("pid"))
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (not entry.is_dir(follow_symlinks=False) or info.st_uid != os.getuid()
                or now - info.st_mtime < min_age_s or pid == os.getpid() or _process_exists(pid)):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


class _Cleanup:
    """Every program running and scratch directory in use in this process, and the signal handlers that end them.

    While a run is in progress in the main thread, SIGTERM and SIGINT kill
    every program's process group and remove every scratch directory, then
    call the handler they replaced (SIGINT's raises ``KeyboardInterrupt``), or
    for the default action restore it and raise the signal again, so the
    process ends as it would have. An ignored signal stays ignored.
    """

    signals: ClassVar[tuple[signal.Signals, ...]] = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        # Re-entrant: the handler runs in the main thread, which may hold the lock at that moment.
        self.lock = threading.RLock()
        self.processes: set[subprocess.Popen[bytes]] = set()
        self.folders: set[Path] = set()
        self.swept: set[Path] = set()
        self.depth = 0
        self.previous: dict[int, Any] = {}

    def sweep_once(self, root: Path) -> None:
        """Remove stale scratch directories of ``root`` the first time this process uses it."""
        with self.lock:
            if root in self.swept:
                return
            self.swept.add(root)
        removed = remove_stale_scratch_directories(root)
        if removed:
            logging.getLogger(__name__).info(
                "removed %d scratch directories of processes that no longer exist: %s",
                len(removed), ", ".join(path.name for path in removed))

    def end_everything(self) -> None:
        """Kill every running program's process group and remove every scratch directory."""
        with self.lock:
            processes, folders = list(self.processes), list(self.folders)
            self.folders.clear()
        for process in processes:
            _kill_group(process)
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)

    @contextlib.contextmanager
    def on_termination(self) -> Iterator[None]:
        """Have SIGTERM and SIGINT end running programs while the body runs (main thread only; nests)."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set from the main thread, whose guard covers this run
            return
        if self.depth == 0:
            self._install()
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.depth == 0:
                self._restore()

    def _install(self) -> None:
        self.previous.clear()
        for number in self.signals:
            try:
                previous = signal.getsignal(number)
                if previous is signal.SIG_IGN:
                    continue
                signal.signal(number, self._handle)
            except (ValueError, OSError):  # e.g. an interpreter that does not own the signals
                continue
            self.previous[number] = previous

    def _restore(self) -> None:
        for number, previous in self.previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                if signal.getsignal(number) == self._handle:  # leave a handler set since then alone
                    signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self.previous.clear()

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.end_everything()
        previous = self.previous.get(number)
        if callable(previous):
            previous(number, frame)
            return
        signal.signal(number, signal.SIG_DFL)
        signal.raise_signal(number)


_CLEANUP = _Cleanup()


def make_scratch_directory(tool: str, keep: bool = False) -> Path:
    """A new private directory in the temporary directory for one run of ``tool``.

    It is named ``archgym-<tool>-p<pid>-*`` after this process, so that if
    the process is killed outright the next one can tell it is stale
    (:func:`remove_stale_scratch_directories`, run the first time a process
    makes one), and it is removed if the process gets SIGTERM or SIGINT
    during a run. A directory to ``keep`` is named ``archgym-<tool>-*`` and
    left alone by both. Remove it with :func:`remove_scratch_directory`.

    Raises:
        OSError: The directory cannot be made.
    """
    root = Path(tempfile.gettempdir())
    _CLEANUP.sweep_once(root)
    slug = re.sub(r"[^a-z0-9]+", "-", tool.lower()).strip("-") or "run"
    if keep:
        return Path(tempfile.mkdtemp(prefix=f"archgym-{slug}-"))
    folder = Path(tempfile.mkdtemp(prefix=f"archgym-{slug}-{_owner_tag()}-"))
    with _CLEANUP.lock:
        _CLEANUP.folders.add(folder)
    return folder


def remove_scratch_directory(folder: Path) -> None:
    """Delete a directory from :func:`make_scratch_directory` and everything in it."""
    with _CLEANUP.lock:
        _CLEANUP.folders.discard(folder)
    shutil.rmtree(folder, ignore_errors=True)


def locate_binary(tool: str, variable: str, description: str,
                  binary: str | os.PathLike[str] | None) -> tuple[str | None, str | None]:
    """Find a bring-your-own program: ``binary`` if given, else the value of the environment ``variable``.

    Args:
        tool: The program's name, for messages (``"DRAMSys"``).
        variable: The environment variable naming it (``"ARCHGYM_DRAMSYS"``).
        description: What the binary is (``"a DRAMSys 4 binary"``).
        binary: An explicit path or name on PATH, or None.

    Returns:
        The absolute path and None, or None and why it cannot be found (saying what to set).
    """
    how = f"set {variable} to the path of {description}, or pass binary=..."
    if binary is not None:
        path = os.fspath(binary)
        found = find_executable(path)
        if found is None:
            return None, (
                f"{tool} binary {path!r} (given as binary=) does not exist or is not an executable "
                f"file; pass the path of {description} as binary=..., or leave binary unset "
                f"and set {variable} to it"
            )
        return found, None
    value = os.environ.get(variable, "")
    if not value:
        return None, f"no binary= was given and {variable} is not set; {how}"
    found = find_executable(value)
    if found is None:
        return None, f"no binary= was given and {variable}={value!r} is not an executable file; {how}"
    return found, None


def run_program(
    command: Sequence[str],
    folder: Path,
    timeout_s: float,
    tool: str,
    track: Callable[[subprocess.Popen[bytes], bool], None] | None = None,
) -> tuple[SimulatorRun | None, str]:
    """Run ``command`` with ``folder`` as working directory under a timeout, as its own process group.

    The run ends when the program itself exits: its process group is killed
    then (so a background child cannot outlive it, and a child still holding
    its output open cannot keep the run waiting), on a timeout, and on an
    interrupt in the caller; while it runs in the main thread, SIGTERM and
    SIGINT kill it and remove the scratch directories first (see
    :func:`make_scratch_directory`). On Linux the program also dies if the
    Python process does.

    Args:
        command: The program and its arguments.
        folder: Its working directory.
        timeout_s: Seconds before the group is killed.
        tool: The program's name, for reasons.
        track: Called with ``(process, True)`` once it started and
            ``(process, False)`` once it is gone, so a caller can kill it from
            another thread.

    Returns:
        The finished run and ``""``; on a timeout the run and why; None and
        why if the program could not start.
    """
    # Output goes to unnamed files rather than pipes: a background child holding a pipe
    # open would keep the reading going after the program itself has exited.
    with _CLEANUP.on_termination(), tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                list(command),
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, killed as a whole
                # Safe with threads: it calls only prctl (looked up beforehand) and getppid.
                preexec_fn=_die_with_parent(),  # noqa: PLW1509
            )
        except OSError as error:
            return None, f"could not start {tool} ({command[0]}): {error}"
        with _CLEANUP.lock:
            _CLEANUP.processes.add(process)
        if track is not None:
            track(process, True)
        timed_out = False
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Also after a normal exit: anything the program left running goes with it.
            _kill_group(process)
            process.wait()
            with _CLEANUP.lock:
                _CLEANUP.processes.discard(process)
            if track is not None:
                track(process, False)
        run = SimulatorRun(folder, process.returncode, _read(out), _read(err))
    if timed_out:
        said = f"; {run.output_tails()}" if run.stdout.strip() or run.stderr.strip() else ""
        return run, f"{tool} timed out after {timeout_s:g} s{said}"
    return run, ""


class ExternalSimulator(CostModel):
    """A cost model that runs an external program for every evaluation (see the module docstring).

    Args:
        binary: Path (or name on PATH) of the program; by default the value of
            :attr:`binary_variable`. Ignored by tools that need no binary.
        timeout_s: Seconds one run may take before its process group is
            killed and the design reported infeasible (a positive, finite
            number; the ``timeout_s`` backend option).
        workers: Runs :meth:`evaluate_batch` keeps going at once.
        keep_dirs: Keep each run's directory (its path is logged), with the
            program's output saved in it, instead of deleting it.

    Raises:
        BackendUnavailableError: The program cannot be found (the message says
            what was tried and which variable to set).
        ConfigurationError: ``timeout_s`` or ``workers`` is out of range.
    """

    tool: ClassVar[str] = ""
    """The simulator's name, e.g. ``"DRAMSys"``: in reasons, logs and scratch directory names."""
    binary_variable: ClassVar[str | None] = None
    """Environment variable naming the binary (e.g. ``"ARCHGYM_DRAMSYS"``); None if the tool needs none."""
    binary_description: ClassVar[str] = "the simulator's binary"
    """What the binary is, for error messages (``"a DRAMSys 4 binary"``)."""

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        timeout_s: float = 60.0,
        workers: int = 1,
        keep_dirs: bool = False,
    ) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not (
            math.isfinite(timeout_s) and timeout_s > 0
        ):
            raise ConfigurationError(
                f"timeout_s must be a positive, finite number of seconds (e.g. timeout_s=120), got {timeout_s!r}"
            )
        if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ConfigurationError(
                f"workers must be a positive integer ({self.tool} runs at once), got {workers!r}"
            )
        reason = self.unavailable_reason(binary)
        if reason:
            raise BackendUnavailableError(f"backend {self.name or self.tool} is unavailable: {reason}")
        self.binary: str | None = self._locate(binary)[0]
        self.timeout_s = float(timeout_s)
        self.workers = int(workers)
        self.keep_dirs = bool(keep_dirs)
        self._log = logging.getLogger(type(self).__module__)
        self._running: set[subprocess.Popen[bytes]] = set()
        self._running_lock = threading.Lock()

    # -- finding the program ---------------------------------------------------------------------
    @classmethod
    def unavailable_reason(cls, binary: str | os.PathLike[str] | None = None) -> str | None:
        """None if the simulator can run here (with ``binary``, if given), else why not and how to fix it.

        This is the availability check to register the backend with.
        """
        return cls._locate(binary)[1]

    @classmethod
    def _locate(cls, binary: str | os.PathLike[str] | None) -> tuple[str | None, str | None]:
        """The absolute path of the binary and None, or None and why it cannot be found."""
        if cls.binary_variable is None:
            return None, None
        return locate_binary(cls.tool, cls.binary_variable, cls.binary_description, binary)

    # -- hooks -----------------------------------------------------------------------------------
    def workload_inputs(self, workload: Any) -> Any:
        """Resolve ``workload`` (None for the default) into what the other hooks need; once per batch.

        Raises:
            UnknownNameError, WorkloadError: The workload is unknown or malformed.
        """
        return self.default_workload if workload is None else workload

    @abstractmethod
    def write_inputs(self, folder: Path, design: Mapping[str, Any], inputs: Any) -> None:
        """Write the files one run reads into its private ``folder``.

        Args:
            folder: The run's empty directory.
            design: A validated design.
            inputs: What :meth:`workload_inputs` returned.
        """

    @abstractmethod
    def command(self, folder: Path, design: Mapping[str, Any], inputs: Any) -> Sequence[str]:
        """The program and its arguments for one run (started with ``folder`` as working directory)."""

    @abstractmethod
    def parse_outputs(self, run: SimulatorRun, design: Mapping[str, Any], inputs: Any) -> Mapping[str, float]:
        """The metrics of a run that exited with status 0.

        They are then checked with :func:`check_physical` (NaN allowed only for
        the backend's ``unreported_metrics``); a failing check makes the
        evaluation infeasible.

        Raises:
            SimulatorOutputError: The output lacks a value or holds an
                unreadable one (``ValueError`` and ``OSError`` count too).
        """

    def failure_reason(self, run: SimulatorRun, design: Mapping[str, Any], inputs: Any) -> str:
        """Why a run that exited with a non-zero status failed: its status and the end of its output."""
        return f"{_exit_description(self.tool, run.returncode)}; {run.output_tails()}"

    # -- evaluation ------------------------------------------------------------------------------
    def evaluate(self, design: Mapping[str, Any], workload: Any = None) -> Evaluation:
        """Run the simulator on one design.

        Raises:
            InvalidDesignError: The design is not in the design space.
            UnknownNameError, WorkloadError: The workload is unknown or malformed.
        """
        valid = self.design_space.validate(design)
        inputs = self.workload_inputs(workload)
        with _CLEANUP.on_termination():
            return self._evaluate(valid, inputs)

    def evaluate_batch(
        self, designs: Sequence[Mapping[str, Any]] | np.ndarray, workload: Any = None
    ) -> BatchEvaluation:
        """Run the simulator on many designs, ``workers`` at a time; results are in input order.

        Every design is validated before any run starts.

        Raises:
            InvalidDesignError: A design is not in the design space.
            UnknownNameError, WorkloadError: The workload is unknown or malformed.
        """
        start = time.perf_counter()
        if isinstance(designs, np.ndarray):
            valid = [self.design_space.decode(row) for row in self.design_space.validate_indices(designs)]
        else:
            valid = [self.design_space.validate(d) for d in designs]
        inputs = self.workload_inputs(workload)
        # Set here, in the caller's thread: the runs may be in worker threads, which cannot set handlers.
        with _CLEANUP.on_termination():
            results = self._map(lambda design: self._evaluate(design, inputs), valid)
        batch = BatchEvaluation.from_evaluations(results, self.metric_names)
        batch.wall_time_s = time.perf_counter() - start
        return batch

    def _map(
        self, function: Callable[[Mapping[str, Any]], T], designs: Sequence[Mapping[str, Any]]
    ) -> list[T]:
        """``function`` of every design, ``workers`` at a time, in input order.

        If the caller is interrupted, queued designs are dropped and running
        programs killed before the interrupt propagates.
        """
        workers = min(self.workers, len(designs))
        if workers <= 1:
            return [function(design) for design in designs]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=self.tool.lower()) as pool:
            futures = [pool.submit(function, design) for design in designs]
            try:
                return [future.result() for future in futures]
            except BaseException:
                for future in futures:
                    future.cancel()
                self.close()
                raise

    def _evaluate(self, design: Mapping[str, Any], inputs: Any) -> Evaluation:
        outcome = self.run(design, inputs, lambda run: self.parse_outputs(run, design, inputs))
        if outcome.result is None:
            return Evaluation.failure(outcome.reason, self.metric_names, outcome.wall_time_s)
        impossible = check_physical(outcome.result, self.tool, self.unreported_metrics)
        if impossible:
            return Evaluation.failure(impossible, self.metric_names, outcome.wall_time_s)
        return Evaluation(dict(outcome.result), True, "", outcome.wall_time_s)

    def run(self, design: Mapping[str, Any], inputs: Any, parse: Callable[[SimulatorRun], T]) -> RunOutcome:
        """Run the program once on a validated design in a fresh private directory.

        Args:
            design: A validated design.
            inputs: What :meth:`workload_inputs` returned.
            parse: Reads the result (not None) of a run that exited with status 0
                (may raise ``SimulatorOutputError``, ``ValueError`` or ``OSError``).

        Returns:
            ``parse``'s result (None on failure), the failure reason ("" on
            success) and the wall time in seconds.
        """
        with _CLEANUP.on_termination():
            return self._run(design, inputs, parse)

    def _run(self, design: Mapping[str, Any], inputs: Any, parse: Callable[[SimulatorRun], T]) -> RunOutcome:
        start = time.perf_counter()

        def failed(reason: str) -> RunOutcome:
            return RunOutcome(None, reason, time.perf_counter() - start)

        try:
            folder = make_scratch_directory(self.tool, keep=self.keep_dirs)
        except OSError as error:
            return failed(f"could not create a temporary directory for {self.tool}: {error}")
        try:
            try:
                self.write_inputs(folder, design, inputs)
            except OSError as error:
                return failed(f"could not write the {self.tool} inputs to {folder}: {error}")
            command = [os.fspath(part) for part in self.command(folder, design, inputs)]
            run, reason = self._execute(folder, command)
            if run is None:
                return failed(reason)
            if run.returncode != 0:
                return failed(self.failure_reason(run, design, inputs))
            try:
                result = parse(run)
            except (ValueError, OSError) as error:
                return failed(
                    f"could not parse {self.tool} output: {error} (return code 0); {run.output_tails()}"
                )
            return RunOutcome(result, "", time.perf_counter() - start)
        finally:
            if self.keep_dirs:
                self._log.info("kept %s run directory %s", self.tool, folder)
            else:
                remove_scratch_directory(folder)

    def _execute(self, folder: Path, command: list[str]) -> tuple[SimulatorRun | None, str]:
        """Run ``command`` in ``folder`` under the timeout; the run, or None and why it did not finish."""
        def track(process: subprocess.Popen[bytes], running: bool) -> None:
            with self._running_lock:
                (self._running.add if running else self._running.discard)(process)

        run, reason = run_program(command, folder, self.timeout_s, self.tool, track)
        if run is not None and self.keep_dirs:
            (folder / _KEPT_STDOUT).write_text(run.stdout, encoding="utf-8")
            (folder / _KEPT_STDERR).write_text(run.stderr, encoding="utf-8")
        return (None, reason) if reason else (run, "")

    def close(self) -> None:
        """Kill every program this model is running (those evaluations become infeasible); safe to repeat."""
        with self._running_lock:
            running = list(self._running)
        for process in running:
            _kill_group(process)
