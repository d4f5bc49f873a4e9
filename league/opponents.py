"""Outside opponents: an exported agent (from this run or another) joins a league as a frozen, rated member.

The export is verified (every file's sha256), must be for the league's game and
spaces, and its weights go into the league's snapshot store like any
snapshot, with a roster entry in the ledger. Its own model config travels with
it, so an agent with another network size can join. A running league adopts
new roster entries before its next iteration; a stopped one has them on the
roster for ``league status``, ``league export`` and ``league eval``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.heuristics import CHOOSERS
from agents.opponent import verify_export
from league.errors import UsageError
from league.ledger.base import Ledger
from league.player_ids import check_outside_id
from league.snapshots import SnapshotInfo, SnapshotStore, describe_space
from league.snapshots.fsspec_store import WEIGHTS_FILE, decode_weights
from league.types import PlayerRecord, Role


def add_exported_opponent(out: Path, *, store: SnapshotStore, ledger: Ledger, game: str, run_id: str,
                          observation_space: gym.Space, action_space: gym.Space, iteration: int,
                          env_steps: int, player_id: str | None = None) -> PlayerRecord:
    """Add the agent exported in ``out`` to a league; return its roster entry.

    Args:
        out: An export folder (``league export``).
        store: The league's snapshot store.
        ledger: The league's ledger.
        game: The league's game.
        run_id: The league's run id.
        observation_space: The league's per-agent observation space.
        action_space: The league's per-agent action space.
        iteration: The league's current iteration (the player joins then).
        env_steps: The league's env steps so far.
        player_id: Id in the league (default ``ext_<exported player id>``).

    Raises:
        UsageError: for another game, other spaces, an export without weights, or an id that is
            invalid, in use or one League allocates itself (:func:`league.player_ids.check_outside_id`).
        ExportCorrupt: if a file of the export does not match its checksum.
    """
    info: dict[str, Any] = verify_export(Path(out))
    if info["game"] != game:
        raise UsageError(f"{str(out)!r} plays {info['game']!r}; this league plays {game!r}")
    if (info["observation_space"], info["action_space"]) != (describe_space(observation_space),
                                                             describe_space(action_space)):
        raise UsageError(f"{str(out)!r} was trained for other observation/action spaces than this league's")
    if WEIGHTS_FILE not in info["files"]:
        raise UsageError(f"{str(out)!r} has no {WEIGHTS_FILE}; export it again with `league export`")
    roster = ledger.players()
    # An empty --id is refused, not replaced by the default (issue 20); the rules live in league.player_ids.
    new_id = check_outside_id(f"ext_{info['player_id']}" if player_id is None else player_id,
                              trainable=[p.player_id for p in roster if p.trainable], scripted=CHOOSERS,
                              taken={p.player_id for p in roster} | set(store.ids()))
    try:
        weights = decode_weights((Path(out) / WEIGHTS_FILE).read_bytes())
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error type for a file that is not safetensors
        raise UsageError(f"{str(Path(out) / WEIGHTS_FILE)!r} is not a safetensors weights file "
                         f"({str(e).splitlines()[0] if str(e) else type(e).__name__}); export the agent again "
                         "with `league export`") from None
    store.put(SnapshotInfo(
        player_id=new_id, role=Role.SNAPSHOT.value, parent=None, iteration=iteration, env_steps=env_steps,
        ratings=None, game=game, run_id=run_id, framework=info["framework"], model_config=info["model_config"],
        observation_space=info["observation_space"], action_space=info["action_space"],
    ), weights)
    record = PlayerRecord(new_id, Role.SNAPSHOT, parent=None, created_iteration=iteration)
    ledger.save_player(record)
    return record


def add_to_run(out: Path, run_dir: Path, *, player_id: str | None = None) -> PlayerRecord:
    """``league add-opponent``: add an exported agent to the run in ``run_dir``."""
    import envs
    from league.offline import open_ledger, run_config, run_store

    with open_ledger(run_dir) as (info, ledger):
        config = run_config(info)
        env = envs.make(info.game, **config.env_config)
        try:
            progress = ledger.progress()
            return add_exported_opponent(
                out, store=run_store(info, run_dir), ledger=ledger, game=info.game, run_id=info.run_id,
                observation_space=env.observation_space, action_space=env.action_space,
                iteration=progress["iteration"], env_steps=progress["env_steps"], player_id=player_id)
        finally:
            env.close()
