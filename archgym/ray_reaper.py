"""Stop the local Ray processes a sweep started when the sweep's process dies, however it dies.

:func:`ray.init` without an address starts a Ray instance on this machine:
its GCS server and raylet are children of the calling process and die with
it (Ray asks the kernel to), but the raylet's own children (the dashboard
agent and the runtime-env agent) are orphaned and keep running when the
caller is killed with SIGKILL, which no handler can catch. A normal exit,
SIGTERM and SIGINT reach ``ray.shutdown()`` (Ray's SIGTERM handler exits
the process through ``finally`` blocks); SIGKILL needs someone else.

That someone is a reaper: a small process started before Ray, in a session
of its own so a signal sent to the caller's process group leaves it alone.
It records, several times a second, the Ray processes that descend from the
caller (by process id and start time, so a reused id is never taken for
one), and reads a pipe only the caller holds. When the pipe closes (the
caller stopped the reaper, exited, or was killed), it sends SIGTERM to the
recorded processes still alive and to their children, then SIGKILL to those
left after a grace period, and exits.

The reaper reads ``/proc``, so it runs on Linux only; elsewhere
:func:`start_reaper` returns None and a SIGKILL of the caller can leave
Ray's agents behind.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["start_reaper", "stop_reaper"]

_PROC = Path("/proc")
_POLL_S = 0.2
"""How often the reaper records the caller's Ray processes."""
_GRACE_S = 3.0
"""How long processes sent SIGTERM get to exit before SIGKILL."""

Process = tuple[int, int]
"""A process id and its start time (clock ticks after boot), which together name one process."""


def start_reaper() -> subprocess.Popen[bytes] | None:
    """Start a reaper watching this process; call before starting Ray.

    Returns:
        The reaper, to give to :func:`stop_reaper` once Ray is shut down; None where ``/proc`` is missing.
    """
    if not (_PROC / "self" / "stat").exists():
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "archgym.ray_reaper", str(os.getpid())],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def stop_reaper(reaper: subprocess.Popen[bytes] | None, timeout_s: float = 30.0) -> None:
    """Have the reaper stop what is left of the Ray instance and wait for it to exit.

    Args:
        reaper: What :func:`start_reaper` returned.
        timeout_s: How long to wait for the reaper.
    """
    if reaper is None:
        return
    if reaper.stdin is not None:
        reaper.stdin.close()
    try:
        reaper.wait(timeout_s)
    except subprocess.TimeoutExpired:
        reaper.kill()
        reaper.wait()


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent id, start time) of a process, None if it is gone."""
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces or parentheses itself.
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _processes() -> dict[Process, int]:
    """Every process on the machine, with its parent's id."""
    found = {}
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                found[(int(entry.name), stat[1])] = stat[0]
    return found


def _descendants(roots: set[int], processes: dict[Process, int]) -> set[Process]:
    """The processes below the process ids ``roots``."""
    children: dict[int, list[Process]] = {}
    for process, parent in processes.items():
        children.setdefault(parent, []).append(process)
    found: set[Process] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child[0])
    return found


def _is_ray(process: Process) -> bool:
    try:
        command = (_PROC / str(process[0]) / "cmdline").read_bytes()
    except OSError:
        return False
    return b"ray" in command.lower()


def _alive(processes: set[Process]) -> set[Process]:
    return {p for p in processes if (stat := _stat(p[0])) is not None and stat[1] == p[1]}


def _signal(processes: set[Process], signum: int) -> None:
    for pid, _ in processes:
        try:
            os.kill(pid, signum)
        except OSError:
            pass  # gone since it was seen


def _stop(recorded: set[Process]) -> None:
    """SIGTERM the recorded processes and their children, then SIGKILL those left after the grace period."""
    doomed = _alive(recorded)
    doomed |= _descendants({pid for pid, _ in doomed}, _processes())
    _signal(doomed, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_S
    while _alive(doomed) and time.monotonic() < deadline:
        time.sleep(0.05)
    _signal(_alive(doomed), signal.SIGKILL)


def _watch(parent: int) -> None:
    """Record ``parent``'s new Ray descendants until standard input closes, then stop them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    me = os.getpid()
    before = _descendants({parent}, _processes())  # the caller's own children, which are not Ray's
    recorded: set[Process] = set()
    stdin = sys.stdin.buffer
    while True:
        ready, _, _ = select.select([stdin], [], [], _POLL_S)
        if ready and not os.read(stdin.fileno(), 4096):
            break
        new = _descendants({parent}, _processes()) - before
        recorded |= {p for p in new if p[0] != me and _is_ray(p)}
    recorded |= {p for p in _descendants({parent}, _processes()) - before if p[0] != me and _is_ray(p)}
    _stop(recorded)


if __name__ == "__main__":
    _watch(int(sys.argv[1]))
