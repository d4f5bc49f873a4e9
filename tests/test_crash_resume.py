"""Kill a real ``league run`` with SIGKILL at five points of a 12-iteration Connect Four run, resume each time.

Each run is its own process (``python -m league run``), as a user would start
it; ``LEAGUE_KILL_AT=<point>@<iteration>`` makes it SIGKILL itself at that
exact place (see :mod:`league.faults`). After the last resume the run must be
whole: iteration 12, every snapshot the schedule calls for and each loadable,
every committed iteration's matches in the ledger exactly once, and ratings
recomputed from the ledger equal to the stored ones.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from league.checkpoint import latest_checkpoint
from league.offline import open_ledger, run_store
from league.ratings import compute_ratings

ITERATIONS = 12
EVERY = 3  # max_iterations_per_snapshot: each trainable player freezes after iterations 3, 6, 9, 12
TRAINABLE = ("main", "main_exploiter", "league_exploiter")

CONFIG = f"""
game = "connect_four"
iterations = {ITERATIONS}
seed = 3
checkpoint_every = 1

[training]
train_batch_size = 400
minibatch_size = 64
num_epochs = 2
hiddens = [64, 64]

[resources]
num_env_runners = 0
num_envs_per_env_runner = 4

[snapshots]
max_iterations_per_snapshot = {EVERY}
min_games = 1000000000

[ratings]
anchor_games = 4

[evaluation]
games = 10
every = 4

[ledger]
write_batch = 4
"""

#: (kill point, iteration): one kill per point, in the order the run reaches them.
KILLS = [("sampling", 2), ("training", 4), ("checkpoint_write", 6), ("snapshot_upload", 9), ("ledger_write", 11)]


def _league(run_dir: Path, *args: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}
    env.pop("LEAGUE_KILL_AT", None)
    if kill_at:
        env["LEAGUE_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "league", "run", *args, "--run-dir", str(run_dir), "--quiet",
                           "--no-recipe"],  # this league: all three roles, as CONFIG says
                          env=env, capture_output=True, text=True, timeout=600, check=False)


def _committed(run_dir: Path) -> int:
    checkpoint = latest_checkpoint(run_dir)
    return 0 if checkpoint is None else checkpoint.state.iteration


@pytest.mark.timeout(1500)
def test_sigkill_at_five_points_then_resume_loses_and_double_counts_nothing(tmp_path):
    run_dir = tmp_path / "run"
    config = tmp_path / "c4.toml"
    config.write_text(CONFIG)

    for number, (point, iteration) in enumerate(KILLS):
        args = (str(config),) if number == 0 else ("--resume",)
        done = _league(run_dir, *args, kill_at=f"{point}@{iteration}")
        assert done.returncode == -signal.SIGKILL, (point, done.stdout[-2000:], done.stderr[-4000:])
        if point == "checkpoint_write":
            assert list((run_dir / "checkpoints").glob(f".tmp-iter-{iteration:06d}-*")), "no half-written checkpoint"
        if point == "snapshot_upload":
            assert list((run_dir / "snapshots").glob("*/.tmp-*")), "no half-written snapshot"
        if point == "ledger_write":
            with open_ledger(run_dir) as (_, ledger):
                partial = Counter(m.iteration for m in ledger.iter_matches())[iteration]
            assert partial > 0, "the kill came before any of the iteration's matches were written"
        # The kill came at the named place: the iteration it interrupted was never committed.
        assert _committed(run_dir) == iteration - 1, point

    final = _league(run_dir, "--resume")
    assert final.returncode == 0, final.stderr[-4000:]
    assert f"resuming connect_four in {run_dir} after iteration {KILLS[-1][1] - 1}" in final.stdout

    state = latest_checkpoint(run_dir).state
    assert state.iteration == ITERATIONS
    assert [h.iteration for h in state.history] == list(range(1, ITERATIONS + 1))
    assert state.counters["resumes"] == len(KILLS)
    expected_snapshots = sorted(f"{p}_v{k}" for p in TRAINABLE for k in range(1, ITERATIONS // EVERY + 1))

    with open_ledger(run_dir) as (info, ledger):
        progress = ledger.progress()
        matches = list(ledger.iter_matches())
        stored, rated = ledger.ratings()
        snapshots = sorted(p.player_id for p in ledger.players() if p.role.value == "snapshot")
    assert progress["iteration"] == ITERATIONS and progress["resumes"] == len(KILLS)
    assert snapshots == expected_snapshots

    # Every snapshot in the store (and nothing else) loads and verifies.
    store = run_store(info, run_dir)
    assert store.ids() == expected_snapshots
    for snapshot in expected_snapshots:
        assert store.load(snapshot).weights

    # Ledger = exactly the matches of the committed iterations: no match lost, none counted twice.
    assert len(matches) == len({m.match_id for m in matches}) == rated
    assert len(matches) == sum(h.matches + h.anchor_matches for h in state.history)
    per_iteration = Counter(m.iteration for m in matches)
    assert {h.iteration: h.matches + h.anchor_matches for h in state.history} == dict(sorted(per_iteration.items()))
    assert progress["episodes"] == sum(h.matches for h in state.history) == state.total_episodes

    # Ratings recomputed from the ledger's matches equal the stored ones.
    recomputed = compute_ratings(matches)
    assert stored.keys() == recomputed.keys()
    for player, rating in recomputed.items():
        assert stored[player].elo == pytest.approx(rating.elo, abs=1e-9)
        assert stored[player].mu == pytest.approx(rating.mu, abs=1e-9)
        assert stored[player].sigma == pytest.approx(rating.sigma, abs=1e-9)
        assert stored[player].games == rating.games

    status = json.loads(subprocess.run([sys.executable, "-m", "league", "status", "--run-dir", str(run_dir),
                                        "--json"], capture_output=True, text=True, check=True).stdout)
    assert status["iteration"] == ITERATIONS and status["matches"] == len(matches)
    assert status["resumes"] == len(KILLS)
