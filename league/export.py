"""``league export``: a player of a run, as files that load and play outside the league.

The export folder::

    OUT/opponent.json            game, spaces, player, role, iteration, env steps, ratings,
                                 run id, League version, model input layout, sha256 of every file
    OUT/weights.safetensors      the weights (League's own format; `league add-opponent` reads it)
    OUT/torchscript/model.pt     the bare model, TorchScript (torch players)
    OUT/savedmodel/              the bare model, a TensorFlow SavedModel (tf2 players)
    OUT/onnx/model.onnx          the bare model, ONNX (torch: RLlib's Policy.export_model; tf2: tf2onnx)
    OUT/rllib/                   Policy.export_checkpoint (load with Policy.from_checkpoint)

A player is exported with the framework it was trained with (its manifest's
``framework``); ``opponent.json`` records it and the formats written.

Trainable players are exported with the weights they had after the run's last
completed iteration (``<run_dir>/players``); snapshots from the snapshot store,
checksum verified.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.opponent import OPPONENT_FILE, OPPONENT_FORMAT, sha256_file
from league.errors import UsageError
from league.offline import open_ledger, run_config, run_store
from league.snapshots import FsspecSnapshotStore, Snapshot, describe_space
from league.snapshots.fsspec_store import WEIGHTS_FILE, encode_weights
from league.types import PlayerId, Role, validate_id

#: Where a run keeps its trainable players' latest weights (same layout as the snapshot store).
PLAYERS_FOLDER = "players"


def players_store(run_dir: Path) -> FsspecSnapshotStore:
    """The store of a run's trainable players' latest weights."""
    return FsspecSnapshotStore(str(Path(run_dir) / PLAYERS_FOLDER))


def load_player(run_dir: Path, player_id: str) -> tuple[dict[str, Any], Snapshot, Role]:
    """A run's player as (run.json info and config, verified weights with manifest, role).

    Raises:
        UsageError: if the player is unknown or scripted (scripted players have no weights).
    """
    validate_id(player_id, kind="player id")
    with open_ledger(run_dir) as (info, ledger):
        roster = {p.player_id: p for p in ledger.players()}
        ratings, _ = ledger.ratings()
    record = roster.get(PlayerId(player_id))
    if record is None:
        raise UsageError(f"no player {player_id!r} in run {str(run_dir)!r}; players: {', '.join(sorted(roster))}")
    if record.role is Role.SCRIPTED:
        raise UsageError(f"{player_id!r} is a scripted player (code, not weights); use the built-in "
                         f"{player_id!r} directly, e.g. `league eval OUT {player_id}`")
    store = run_store(info, run_dir) if record.role is Role.SNAPSHOT else players_store(run_dir)
    snapshot = store.load(PlayerId(player_id))
    rating = ratings.get(PlayerId(player_id))
    meta = {"run_id": info.run_id, "game": info.game, "config": run_config(info),
            "rating": None if rating is None else {"elo": rating.elo, "mu": rating.mu, "sigma": rating.sigma,
                                                    "games": rating.games}}
    return meta, snapshot, record.role


def export_player(run_dir: Path, player_id: str, out: Path, *, formats: tuple[str, ...] | None = None,
                  model_only: bool = False, opset: int = 17, overwrite: bool = False) -> dict[str, Any]:
    """Export ``player_id`` of the run in ``run_dir`` to the folder ``out``; return its ``opponent.json``.

    Args:
        formats: Formats to write (see :data:`league.rllib.export.FORMATS`); None: every
            format of the player's framework this Python can write.
        model_only: Write only the framework's quickest model to load (TorchScript for
            torch, the SavedModel for tf2), whatever ``formats`` says.

    Raises:
        UsageError: for an unknown player, a scripted player, a non-empty ``out`` without
            ``overwrite``, or a format the player's framework does not have.
    """
    import envs
    from envs.encoding import OBSERVATION_KEY
    from league.rllib.export import (
        MODEL_FORMAT,
        available_formats,
        build_policy,
        check_formats,
        input_layout,
        write_formats,
    )

    meta, snapshot, role = load_player(run_dir, player_id)
    config = meta["config"]
    manifest = snapshot.manifest
    framework = manifest.framework
    if framework not in MODEL_FORMAT:
        raise UsageError(f"{player_id!r} was trained with framework {framework!r}; League exports "
                         f"{', '.join(MODEL_FORMAT)} players")
    if model_only:
        formats = (MODEL_FORMAT[framework],)
    elif formats is None:
        formats = available_formats(framework)
    check_formats(framework, formats)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"export folder {str(out)!r} is not empty; pass --overwrite or choose another --out")
        shutil.rmtree(out)
    env = envs.make(meta["game"], **config.env_config)
    observation_space, action_space = env.observation_space, env.action_space
    raw_space = envs.get_spec(meta["game"]).make_raw(**config.env_config)
    raw_observation = raw_space.observation_space(raw_space.possible_agents[0])
    env.close()
    if (manifest.observation_space, manifest.action_space) != (describe_space(observation_space),
                                                               describe_space(action_space)):
        raise UsageError(f"{player_id!r} was trained for other spaces than {meta['game']!r} has now")
    out.mkdir(parents=True, exist_ok=True)
    (out / WEIGHTS_FILE).write_bytes(encode_weights(snapshot.weights))
    policy = build_policy(observation_space, action_space, manifest.model_config_, snapshot.weights,
                          framework=framework)
    write_formats(policy, out, formats, opset=opset)
    inner = raw_observation[OBSERVATION_KEY] if hasattr(raw_observation, "spaces") else raw_observation
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != OPPONENT_FILE)
    info = {
        "format": OPPONENT_FORMAT,
        "game": meta["game"],
        "env_config": dict(config.env_config),
        "player_id": player_id,
        "role": role.value,
        "parent": manifest.parent,
        "iteration": manifest.iteration,
        "env_steps": manifest.env_steps,
        "ratings": meta["rating"],
        "ratings_at_freeze": None if manifest.ratings is None else manifest.ratings.model_dump(),
        "league_run_id": meta["run_id"],
        "league_version": manifest.league_version,
        "exported": time.time(),
        "framework": manifest.framework,
        "model_config": manifest.model_config_,
        "observation_space": describe_space(observation_space),
        "raw_observation_space": describe_space(raw_observation),
        "action_space": describe_space(action_space),
        "model_input": {"name": "obs", "layout": input_layout(observation_space),
                        "one_hot": int(inner.n) if isinstance(inner, gym.spaces.Discrete) else 0,
                        "output": "masked logits"},
        "formats": list(formats),  # the formats written: a tf2 player has no ONNX without tf2onnx
        "onnx_opset": opset if "onnx" in formats else None,
        "files": {str(p.relative_to(out)): sha256_file(p) for p in files},
    }
    (out / OPPONENT_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))
    return info
