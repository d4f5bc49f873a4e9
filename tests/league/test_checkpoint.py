"""League checkpoints on disk: exact round trips, atomic writes, verification before use (no Ray)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from league.checkpoint import (
    CommittedIteration,
    LeagueState,
    RosterEntry,
    checkpoints_dir,
    latest_checkpoint,
    load_checkpoint,
    write_checkpoint,
)
from league.errors import CheckpointCorrupt


def _state(iteration: int) -> LeagueState:
    return LeagueState(run_id="run-x", iteration=iteration, env_steps=400 * iteration, total_episodes=20 * iteration,
                       abandoned_episodes=0, anchor_matches=8, ledger_position=28 * iteration,
                       roster=[RosterEntry(player_id="main", role="main")], generation_start={"main": 0},
                       snapshot_versions={"main": 1}, resident=["random"], ratings={},
                       history=[CommittedIteration(iteration=i, matches=20, anchor_matches=8, env_steps=400)
                                for i in range(1, iteration + 1)],
                       counters={"resumes": 1})


def _player(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "weights": {"layer.weight": rng.normal(size=(4, 3)).astype(np.float32), "layer.bias": np.zeros(4, np.float32)},
        "_optimizer_variables": [{
            "state": {0: {"step": 12.0, "exp_avg": rng.normal(size=(4, 3)), "exp_avg_sq": rng.random((4, 3))},
                      1: {"step": 12.0, "exp_avg": rng.normal(size=4), "exp_avg_sq": rng.random(4)}},
            "param_groups": [{"lr": 5e-4, "betas": (0.9, 0.999), "params": [0, 1], "foreach": None}],
        }],
        "global_timestep": 4800, "num_grad_updates": 36, "current_kl_coeff": 0.1,
    }


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def test_a_checkpoint_round_trips_weights_optimizer_state_and_league_state_exactly(tmp_path):
    players, initial = {"main": _player(1)}, {"main": {"weights": _player(2)["weights"]}}
    write_checkpoint(tmp_path, _state(3), players, initial, keep=2)
    loaded = latest_checkpoint(tmp_path)
    assert loaded.state == _state(3)
    # int keys of torch's optimizer state and tuple betas survive (torch drops state under str keys).
    assert _equal(loaded.players, players) and _equal(loaded.initial, initial)


def test_only_the_newest_checkpoints_are_kept(tmp_path):
    for iteration in range(1, 5):
        write_checkpoint(tmp_path, _state(iteration), {"main": _player(iteration)}, {}, keep=2)
    assert sorted(p.name for p in checkpoints_dir(tmp_path).iterdir()) == ["iter-000003", "iter-000004"]
    assert latest_checkpoint(tmp_path).state.iteration == 4


def test_a_half_written_checkpoint_is_ignored_and_cleaned_up(tmp_path):
    write_checkpoint(tmp_path, _state(1), {"main": _player(1)}, {}, keep=2)
    leftover = checkpoints_dir(tmp_path) / ".tmp-iter-000002-abc"
    leftover.mkdir()
    (leftover / "players.safetensors").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path).state.iteration == 1
    assert not leftover.exists()


def test_an_altered_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    write_checkpoint(tmp_path, _state(1), {"main": _player(1)}, {}, keep=2)
    newest = write_checkpoint(tmp_path, _state(2), {"main": _player(2)}, {}, keep=2)
    data = bytearray((newest / "players.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (newest / "players.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointCorrupt, match=re.escape("players.safetensors (sha256")):
        load_checkpoint(newest)
    assert latest_checkpoint(tmp_path).state.iteration == 1


def test_no_usable_checkpoint_is_a_clear_error_and_none_at_all_is_none(tmp_path):
    assert latest_checkpoint(tmp_path) is None
    only = write_checkpoint(tmp_path, _state(1), {"main": _player(1)}, {}, keep=2)
    state = json.loads((only / "state.json").read_text())
    state["iteration"] = 7
    (only / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointCorrupt, match=r"no usable checkpoint: .*checksum mismatch in state.json"):
        latest_checkpoint(tmp_path)


def test_a_state_that_does_not_parse_is_refused_with_the_field(tmp_path):
    path = write_checkpoint(tmp_path, _state(1), {"main": _player(1)}, {}, keep=2)
    manifest = json.loads((path / "manifest.json").read_text())
    bad = b'{"run_id": "x", "iteration": -1}'
    import hashlib

    manifest["files"]["state.json"] = {"sha256": hashlib.sha256(bad).hexdigest(), "bytes": len(bad)}
    (path / "state.json").write_bytes(bad)
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointCorrupt, match=r"(?s)malformed: .*iteration"):
        load_checkpoint(path)


def test_a_checkpoint_that_fails_verification_is_set_aside_for_good(tmp_path):
    write_checkpoint(tmp_path, _state(1), {"main": _player(1)}, {}, keep=3)
    newest = write_checkpoint(tmp_path, _state(2), {"main": _player(2)}, {}, keep=3)
    (newest / "state.json").write_text("{}")
    assert latest_checkpoint(tmp_path).state.iteration == 1
    assert not newest.exists() and (checkpoints_dir(tmp_path) / ".corrupt-iter-000002").is_dir()
    # The run moves on from iteration 1; the damaged iteration-2 folder is never taken for the newest.
    write_checkpoint(tmp_path, _state(2), {"main": _player(3)}, {}, keep=3)
    assert _equal(latest_checkpoint(tmp_path).players["main"], _player(3))
