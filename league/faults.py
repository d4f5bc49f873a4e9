"""Named kill points for crash tests (failpoints, as in etcd's gofail or TiKV's fail-rs).

A run started with ``LEAGUE_KILL_AT=<point>@<iteration>`` sends itself SIGKILL
the first time it reaches ``<point>`` during ``<iteration>``; nothing else
happens when the variable is unset (one dict lookup). Crash-safety tests use it
to kill a real ``league run`` at an exact place, then resume it.

Points (where each sits):
    * ``sampling``: an episode ends on the driver's env runner (inside ``Algorithm.train``);
    * ``training``: the learner is about to compute a gradient (inside ``Algorithm.train``);
    * ``ledger_write``: after the first pipeline of the iteration's match records;
    * ``snapshot_upload``: after the first chunk of a snapshot's weights is written;
    * ``checkpoint_write``: after the checkpoint's weights file, before its manifest.
"""

from __future__ import annotations

import os
import signal

#: Environment variable naming the kill point, ``<point>@<iteration>``.
KILL_AT_ENV = "LEAGUE_KILL_AT"

#: Every kill point League reaches, in the order an iteration reaches them.
POINTS = ("sampling", "training", "ledger_write", "snapshot_upload", "checkpoint_write")


def _armed() -> tuple[str, int] | None:
    value = os.environ.get(KILL_AT_ENV)
    if not value:
        return None
    point, _, iteration = value.partition("@")
    if point not in POINTS or not iteration.isdigit():
        raise ValueError(f"{KILL_AT_ENV}={value!r}: expected <point>@<iteration> with point one of {POINTS}")
    return point, int(iteration)


_current_iteration = 0


def set_iteration(iteration: int) -> None:
    """Tell the kill points of this process which iteration is running (the driver calls it each step)."""
    global _current_iteration
    _current_iteration = iteration


def kill_point(point: str, iteration: int | None = None) -> None:
    """SIGKILL this process if ``LEAGUE_KILL_AT`` names ``point`` at ``iteration`` (default: the running one)."""
    armed = _armed()
    if armed is not None and armed == (point, _current_iteration if iteration is None else iteration):
        os.kill(os.getpid(), signal.SIGKILL)
