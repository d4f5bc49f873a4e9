"""Faults during a run: an env that raises, an env runner killed mid-iteration, Redis restarted mid-run.

All on real parts: a local Ray with remote env runners, RLlib's own fault
tolerance, a real ``redis-server`` process killed with SIGKILL and started again.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import ray
from pettingzoo.classic import connect_four_v3

import envs
from envs.registry import GameSpec
from league.manager import LeagueManager
from league.status import read_status
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")

FLAKY = "flaky_connect_four"


def flaky_connect_four(fail_rate: float, fail_log: str, kill_file: str | None = None, **config):
    """Connect Four whose ``step`` raises on ``fail_rate`` of moves, logging ``<pid> <time>`` per failure.

    With ``kill_file``: once that file exists and names this process's pid, the next move SIGKILLs
    the process (as the OOM killer would), once: the file is renamed first. The test arms it at a
    point it controls (between two iterations), so the kill always lands inside the next sampling.
    """
    env = connect_four_v3.env(**config)
    rng = np.random.default_rng()
    step = env.step

    def flaky_step(action):
        if kill_file is not None and os.path.exists(kill_file):
            try:
                armed = int(Path(kill_file).read_text())
            except (OSError, ValueError):
                armed = 0
            if armed == os.getpid():
                os.rename(kill_file, f"{kill_file}.fired")
                os.kill(os.getpid(), signal.SIGKILL)
        if action is not None and rng.random() < fail_rate:
            with open(fail_log, "a") as log:
                log.write(f"{os.getpid()} {time.time()}\n")
            raise RuntimeError("injected env failure")
        return step(action)

    env.step = flaky_step
    return env


@pytest.fixture
def flaky_game():
    # Remote env runners get this test module's factory by value (they cannot import tests/).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    envs.register(GameSpec(FLAKY, "connect_four_v3", flaky_connect_four, True, "Connect Four that raises"),
                  overwrite=True)
    yield FLAKY
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


# Passes alone, but failed twice when run after the rest of the default suite in the same process: .ci/run
# runs it in a pytest process of its own (-m isolated). The cause was RLlib's msgpack-numpy patch left
# behind by test_export.py's exports (league/rllib/msgpack_guard.py now undoes it); it passes after
# test_export.py in one process since, and stays isolated to keep the default run short.
@pytest.mark.isolated
@pytest.mark.parametrize("sampler", ["rllib", "league"])
def test_an_env_raising_on_1_percent_of_steps_and_a_killed_runner_do_not_stop_the_run(tmp_path, flaky_game, sampler):
    fail_log = tmp_path / "failures.log"
    kill_file = tmp_path / "kill-runner"
    config = tiny_config(
        tmp_path, game=flaky_game, iterations=4,
        env_config={"fail_rate": 0.01, "fail_log": str(fail_log), "kill_file": str(kill_file)},
        training={"train_batch_size": 2000},
        resources={"num_env_runners": 2, "num_envs_per_env_runner": 4, "sampler": sampler},
        evaluation={"games": 0}, ratings={"anchor_games": 0}, roster={"scripted": []})
    killed: dict[str, float] = {}

    with LeagueManager(config) as league:
        group = league.algorithm.env_runner_group
        pids = group.foreach_env_runner(lambda runner: os.getpid(), local_env_runner=False)

        def on_iteration(report) -> None:
            if report.iteration == 1:
                # Armed between iterations: the first remote runner kills itself at its first move of
                # iteration 2's sampling, whatever the timing (a sleep-based kill could land after the run).
                killed["drained"] = time.time()
                kill_file.write_text(str(pids[0]))

        reports = league.run(on_iteration=on_iteration)
        assert Path(f"{kill_file}.fired").exists() and not kill_file.exists()
        assert [r.iteration for r in reports] == [1, 2, 3, 4]
        # RLlib counts a restart when its health probe (one per iteration, 30 s ping timeout) finds the
        # restarted actor back; on a slow machine Ray may still be rebuilding it when the run ends.
        restarts_in_run = league.env_runner_restarts
        assert restarts_in_run <= 1
        assert sum(r.env_runner_restarts for r in reports) == restarts_in_run
        assert read_status(config.run_dir)["env_runner_restarts"] == restarts_in_run
        deadline = time.monotonic() + 180.0
        while league.env_runner_restarts < 1 and time.monotonic() < deadline:
            league.algorithm.restore_env_runners(group)
            time.sleep(1.0)
        assert league.env_runner_restarts == 1
        assert group.num_healthy_remote_workers() == 2
        # The runner Ray rebuilt is a new process that samples with the league's weights.
        new_pids = group.foreach_env_runner(lambda runner: os.getpid(), local_env_runner=False)
        assert pids[0] not in new_pids and pids[1] in new_pids

    failures = [line.split() for line in fail_log.read_text().splitlines()]
    # Every failure is counted, except those of the killed runner after its last drain (lost with it),
    # and one per live runner at most: RLlib's MultiAgentEnvWrapper.send_actions keeps a step's exception
    # as the sub-env's next observation, so a failure in a runner's very last step of the run is only
    # turned into an episode end (and counted) by a poll that never comes.
    counted = [f for f in failures if int(f[0]) != pids[0] or float(f[1]) < killed["drained"]]
    status = read_status(config.run_dir)
    assert len(counted) > 10
    assert status["env_restarts"] == sum(r.env_restarts for r in reports)
    assert 0 <= len(counted) - status["env_restarts"] <= config.resources.num_env_runners
    assert status["iteration"] == 4
    # The run went on learning from the other matches: every iteration recorded matches.
    assert all(r.episodes > 0 for r in reports)


def test_redis_restarted_mid_run_loses_no_match_record(tmp_path, redis_server):
    config = tiny_config(tmp_path, iterations=5, redis_url=redis_server.url, evaluation={"games": 0},
                         ledger={"retry_timeout_s": 60.0})
    outage: list[threading.Thread] = []

    def restart_redis() -> None:
        time.sleep(0.2)
        redis_server.kill()
        time.sleep(4.0)
        redis_server.start()

    def on_iteration(report) -> None:
        if report.iteration == 2:
            outage.append(threading.Thread(target=restart_redis))
            outage[0].start()

    with LeagueManager(config) as league:
        reports = league.run(on_iteration=on_iteration)
        outage[0].join()
        history = league.history
        matches = list(league.ledger.iter_matches())
        assert league.ledger_retries > 0
        assert sum(r.ledger_retries for r in reports[2:]) == league.ledger_retries

    assert [r.iteration for r in reports] == [1, 2, 3, 4, 5]
    # Every match each iteration recorded is in the ledger once; none lost to the restart.
    assert len(matches) == len({m.match_id for m in matches}) == sum(h.matches + h.anchor_matches for h in history)
    assert dict(sorted(Counter(m.iteration for m in matches).items())) == {
        h.iteration: h.matches + h.anchor_matches for h in history}
    status = json.loads(json.dumps(read_status(Path(config.run_dir))))
    assert status["matches"] == len(matches) and status["ledger_retries"] == league.ledger_retries
