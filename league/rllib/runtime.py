"""Starting and stopping the local Ray runtime League uses when none is running."""

from __future__ import annotations

import os

import ray


def ensure_ray(num_cpus: int) -> bool:
    """Start a local Ray with ``num_cpus`` CPUs unless Ray is already initialised.

    Returns:
        True if this call started Ray (the caller then owns its shutdown).
    """
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    ray.init(
        # "local": always a fresh local instance, never an unrelated cluster that
        # happens to run on this machine (joining a cluster is an explicit choice).
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        logging_level="ERROR",
        log_to_driver=True,
    )
    return True
