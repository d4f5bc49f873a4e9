"""Starting and stopping the local Ray runtime League uses when none is running."""

from __future__ import annotations

import logging
import os

import ray

from league.errors import LeagueError
from league.redact import is_node_local_url  # noqa: F401 - re-exported


def ensure_ray(num_cpus: int, address: str | None = None) -> bool:
    """Join the Ray cluster at ``address``, or start a local Ray with ``num_cpus`` CPUs,
    unless Ray is already initialised.

    Returns:
        True if this call started or joined Ray (the caller then owns its shutdown or disconnect).

    Raises:
        LeagueError: if the cluster at ``address`` cannot be reached.
    """
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    _forget_previous_job()
    if address is not None:
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=True, runtime_env=_runtime_env())
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise LeagueError(f"could not join the Ray cluster at resources.address={address!r}: {e}") from e
        return True
    ray.init(
        # "local": always a fresh local instance, never an unrelated cluster that
        # happens to run on this machine (joining a cluster is an explicit choice).
        address="local",
        num_cpus=num_cpus,
        include_dashboard=False,
        logging_level=logging.ERROR,
        log_to_driver=True,
        runtime_env=_quiet_workers(),
    )
    # Ray's daemons (gcs_server, raylet, its agents, workers) are this process's descendants: the
    # reaper ends any that outlive it (a SIGKILL of this process leaves the agents behind otherwise).
    from league.reaper import reaper

    reaper().watch_ray()
    return True


def shutdown_ray() -> None:
    """Shut down the Ray this process started (:func:`ensure_ray`), and stop the reaper watching it."""
    from league.reaper import reaper

    if ray.is_initialized():
        ray.shutdown()
    reaper().forget_ray()


def driver_node_id() -> str:
    """The Ray node id of this process (the driver), to compare with the nodes its env runners run on."""
    return ray.get_runtime_context().get_node_id()


def _runtime_env() -> dict | None:
    """What this job's workers on a joined cluster need in their environment.

    Workers of a local Ray inherit the driver's environment; a cluster's do not.
    ``TF_USE_LEGACY_KERAS`` (see :func:`agents.use_legacy_keras`) must be set before
    a worker imports RLlib, which imports TensorFlow, so it travels with the job; so do
    the log levels and the setup hook that keep its start-up notices quiet (:mod:`league.quiet`), and
    RLlib's switch that keeps TensorFlow out of a torch league's workers (:mod:`league.torch_only`).
    """
    from agents import LEGACY_KERAS_ENV
    from league.quiet import LOG_LEVEL_ENV, QUIET_ENV
    from league.torch_only import NO_TF_ENV

    names = [LEGACY_KERAS_ENV, NO_TF_ENV, QUIET_ENV, *LOG_LEVEL_ENV]
    env_vars = {name: os.environ[name] for name in names if name in os.environ}
    runtime_env: dict = {"env_vars": env_vars} if env_vars else {}
    return {**runtime_env, **(_quiet_workers() or {})} or None


def _quiet_workers() -> dict | None:
    """The worker setup hook that keeps third-party start-up notices out of the driver's terminal,
    when the driver keeps them out of its own (:func:`league.quiet.quiet_third_party`; not ``--verbose``)."""
    from league.quiet import QUIET_ENV, WORKER_SETUP_HOOK

    return {"worker_process_setup_hook": WORKER_SETUP_HOOK} if os.environ.get(QUIET_ENV) == "1" else None


def _forget_previous_job() -> None:
    """Let Ray's env/model registry key its entries by the job about to start.

    The registry caches the first job id of the process as its key prefix; after
    a ``ray.shutdown()`` and a new ``ray.init()`` in the same process (a second
    league run from Python), env runners of the new job would look under their
    own job id and not find League's env and model.
    """
    from ray.tune.registry import _global_registry

    _global_registry._prefix = None
