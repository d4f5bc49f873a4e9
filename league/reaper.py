"""The reaper: a watchdog process that ends what a League command started if the command dies first.

A League command starts processes of its own: the embedded Redis server and, for
a local Ray, Ray's daemons (``gcs_server``, ``raylet``, the dashboard and
runtime-env agents, workers). On a clean exit, an error or Ctrl-C the command
stops them itself. When the command is killed (``SIGKILL``, the OOM killer)
nothing in it runs any more, so a small separate process watches it: the
command holds the write end of a pipe to the reaper's standard input, and when
that pipe closes (the kernel closes it whatever way the command ended) the
reaper kills every process it was told to watch that is still running.

Processes are named by ``(pid, create_time)``, so a pid the system has since
given to an unrelated process is never touched. ``watch_ray`` also has the
reaper rescan the command's process tree every second and adopt each new Ray
process in it (Ray starts its agents and workers after ``ray.init`` returns),
until ``forget_ray`` (after ``ray.shutdown()``); other children are left alone.

The reaper starts in its own session, so a Ctrl-C in the terminal reaches the
command (which stops its processes in order) and not the reaper.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
from typing import IO

import psutil

_SCAN_INTERVAL_S = 1.0


class Reaper:
    """This process's reaper (see the module docstring); one per process via :func:`reaper`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Run as a plain script (-I: isolated), so it imports psutil only, not League, Ray or torch.
        self._proc = subprocess.Popen(
            [sys.executable, "-I", os.path.abspath(__file__), str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
        assert self._proc.stdin is not None
        self._pipe: IO[bytes] = self._proc.stdin

    @property
    def pid(self) -> int:
        """Process id of the reaper."""
        return self._proc.pid

    def _send(self, line: str) -> None:
        with self._lock:
            try:
                self._pipe.write(line.encode() + b"\n")
                self._pipe.flush()
            except (BrokenPipeError, ValueError):  # the reaper is gone: nothing more can be done
                pass

    def watch(self, pid: int) -> None:
        """Kill ``pid`` if this process dies while ``pid`` still runs."""
        self._send(f"watch {pid} {_create_time(pid)!r}")

    def forget(self, pid: int) -> None:
        """Stop watching ``pid`` (it was stopped cleanly)."""
        self._send(f"forget {pid}")

    def watch_ray(self) -> None:
        """Watch every Ray process descended from this one, now and later (rescanned every second)."""
        self._send("ray")

    def forget_ray(self) -> None:
        """Stop watching Ray's processes (after ``ray.shutdown()`` ended them)."""
        self._send("noray")


_REAPER: Reaper | None = None
_REAPER_OWNER: int | None = None


def reaper() -> Reaper:
    """This process's reaper, started on first use (a forked child gets its own)."""
    global _REAPER, _REAPER_OWNER
    if _REAPER is None or os.getpid() != _REAPER_OWNER:
        _REAPER = Reaper()
        _REAPER_OWNER = os.getpid()
    return _REAPER


def _create_time(pid: int) -> float:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return 0.0


def live_process(pid: int, created: float) -> psutil.Process | None:
    """The process ``pid`` if it is still the one that started at ``created`` (and is no zombie), else None."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - created) > 0.01 or process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process
    except psutil.Error:
        return None


#: Words in the command line of Ray's daemons and workers (``ray::IDLE``, ``raylet``, its agents).
_RAY_WORDS = ("ray::", "raylet", "gcs_server", "/ray/")


def _is_ray(process: psutil.Process) -> bool:
    try:
        return any(word in " ".join(process.cmdline()) for word in _RAY_WORDS)
    except psutil.Error:
        return False


def _kill_all(watched: dict[int, float]) -> None:
    processes = [p for p in (live_process(pid, created) for pid, created in watched.items()) if p is not None]
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(processes, timeout=5)


def _serve(owner_pid: int) -> None:
    """The reaper's loop: collect what to watch from stdin until EOF or the owner's death, then kill it."""
    owner_created = _create_time(owner_pid)
    watched: dict[int, float] = {}
    scan = False
    me = os.getpid()
    adopted: set[int] = set()  # watched because they are Ray's (forgotten again after ray.shutdown)
    stdin = sys.stdin.buffer
    buffer = b""
    while True:
        ready, _, _ = select.select([stdin], [], [], _SCAN_INTERVAL_S)
        if ready:
            chunk = os.read(stdin.fileno(), 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                words = line.decode(errors="replace").split()
                if words[:1] == ["watch"] and len(words) == 3:
                    watched[int(words[1])] = float(words[2])
                elif words[:1] == ["forget"] and len(words) == 2:
                    watched.pop(int(words[1]), None)
                elif words == ["ray"]:
                    scan = True
                elif words == ["noray"]:
                    scan = False
                    for pid in adopted:
                        watched.pop(pid, None)
                    adopted.clear()
        owner = live_process(owner_pid, owner_created)
        if owner is None:
            break
        if scan:
            try:
                for child in owner.children(recursive=True):
                    if child.pid != me and child.pid not in watched and _is_ray(child):
                        watched[child.pid] = child.create_time()
                        adopted.add(child.pid)
            except psutil.Error:
                pass
    _kill_all(watched)


if __name__ == "__main__":  # pragma: no cover - runs as the reaper process
    _serve(int(sys.argv[1]))
