"""Runs scripts under ``scripts/`` one after another in one Python process and one local Ray.

The script smoke tests (``tests/test_scripts.py``) run a dozen scripts; as a process
each, every one paid Python's imports (Ray, RLlib, torch) and a Ray start of its own,
most of each smoke run. Here each script still runs as ``python scripts/NAME.py ARGS``
runs it (:func:`runpy.run_path` with ``__name__ == "__main__"``, its own ``sys.argv``
and the script's folder first on ``sys.path``), with its standard output and error
captured; the scripts find Ray running and use it (:func:`league.rllib.runtime.ensure_ray`).

Usage (the plan is a JSON list of ``{"key": ..., "argv": [SCRIPT, ARG, ...]}``)::

    python -m tests.script_runner PLAN.json RESULTS.json

``RESULTS.json`` maps each key to its ``stdout``, ``stderr``, ``exit_code`` (what the
script's process would have exited with: 1 for an exception, with its ``traceback``)
and ``seconds``.
"""

from __future__ import annotations

import contextlib
import io
import json
import runpy
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def run_script(argv: list[str]) -> dict[str, Any]:
    """Run one script as ``python ARGV[0] ARGV[1:]`` would, in this process; what it printed and how it ended."""
    script = Path(argv[0]).resolve()
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv, sys.path[:0] = [str(script), *argv[1:]], [str(script.parent)]
    exit_code, failure = 0, None
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            runpy.run_path(str(script), run_name="__main__")
    except SystemExit as e:
        exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - reported as the script's process would report it
        exit_code, failure = 1, traceback.format_exc()
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    return {"stdout": out.getvalue(), "stderr": err.getvalue(), "exit_code": exit_code, "traceback": failure,
            "seconds": round(time.perf_counter() - started, 2)}


def main(plan_path: str, results_path: str) -> None:
    """Run every script of the plan on one local Ray (2 CPUs), then shut it down; write the results."""
    from league.torch_only import skip_tensorflow

    skip_tensorflow("torch")  # every script's league is a torch league: no TensorFlow import (4 s)
    from league.rllib.runtime import ensure_ray, shutdown_ray

    plan = json.loads(Path(plan_path).read_text())
    ensure_ray(num_cpus=2)
    try:
        results = {step["key"]: run_script(step["argv"]) for step in plan}
    finally:
        shutdown_ray()
    Path(results_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:])
