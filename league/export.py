"""``league export``: a player of a run, as files that load and play outside the league.

The export folder::

    OUT/opponent.json            game, spaces, player, role, iteration, env steps, ratings,
                                 run id, League version, model input layout, sha256 of every file
    OUT/weights.safetensors      the weights (League's own format; `league add-opponent` reads it)
    OUT/torchscript/model.pt     the bare model, TorchScript (torch players)
    OUT/savedmodel/              the bare model, a TensorFlow SavedModel (tf2 players)
    OUT/onnx/model.onnx          the bare model, ONNX (torch: RLlib's Policy.export_model; tf2: tf2onnx)
    OUT/rllib/                   Policy.export_checkpoint, msgpack (load with Policy.from_checkpoint)

A player is exported with the framework it was trained with (its manifest's
``framework``); ``opponent.json`` records it and the formats written.

Trainable players are exported with the weights they had after the run's last
completed iteration (``<run_dir>/players``); snapshots from the snapshot store,
checksum verified.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.opponent import OPPONENT_FILE, OPPONENT_FORMAT, sha256_file, verify_export
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

    The export is built in a hidden folder beside ``out``, verified, and only then
    swapped in; ``overwrite`` replaces only a folder holding a League export
    (see :func:`check_export_target`).

    Raises:
        UsageError: for an unknown player, a scripted player, an ``out`` that is a file, inside
            (or above) the run folder, non-empty without ``overwrite`` or not a League export
            with it, or a format the player's framework does not have.
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

    out = Path(out)
    check_export_target(run_dir, out, overwrite=overwrite)
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
    env = envs.make(meta["game"], **config.env_config)
    observation_space, action_space = env.observation_space, env.action_space
    raw_space = envs.get_spec(meta["game"]).make_raw(**config.env_config)
    raw_observation = raw_space.observation_space(raw_space.possible_agents[0])
    env.close()
    if (manifest.observation_space, manifest.action_space) != (describe_space(observation_space),
                                                               describe_space(action_space)):
        raise UsageError(f"{player_id!r} was trained for other spaces than {meta['game']!r} has now")
    inner = raw_observation[OBSERVATION_KEY] if hasattr(raw_observation, "spaces") else raw_observation
    with _built_beside(out, recheck=lambda: check_export_target(run_dir, out, overwrite=overwrite)) as folder:
        (folder / WEIGHTS_FILE).write_bytes(encode_weights(snapshot.weights))
        policy = build_policy(observation_space, action_space, manifest.model_config_, snapshot.weights,
                              framework=framework)
        write_formats(policy, folder, formats, opset=opset)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != OPPONENT_FILE)
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
            "files": {str(p.relative_to(folder)): sha256_file(p) for p in files},
        }
        (folder / OPPONENT_FILE).write_text(json.dumps(info, indent=2, sort_keys=True))
    return info


@contextlib.contextmanager
def _built_beside(out: Path, *, recheck: Callable[[], None]) -> Iterator[Path]:
    """A new folder beside ``out`` to build an export in; verified and swapped in at ``out`` on success.

    ``recheck`` runs again just before the swap (``out`` may have changed while
    the export was built). On any failure the folder is removed and ``out`` is
    as it was (issue 20).
    """
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    except OSError as e:
        raise UsageError(f"--out {str(out)!r}: cannot create a folder in {str(out.parent)!r} ({e.strerror}); "
                         "expected a writable folder") from None
    try:
        yield folder
        verify_export(folder)
        recheck()
        _swap_in(folder, out)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def check_export_target(run_dir: Path, out: Path, *, overwrite: bool) -> None:
    """Refuse an ``--out`` that an export must not take; nothing is changed.

    ``--out`` may be a new folder, an empty one, or (with ``overwrite``) a
    folder holding only a League export (an ``opponent.json`` League wrote and
    the files it lists). It may never be the run folder, inside it, or above it.

    Raises:
        UsageError: naming ``--out``, what it is and what is expected.
    """
    where = str(out)
    target, run = out.resolve(), Path(run_dir).resolve()
    if target == run or run in target.parents or target in run.parents:
        raise UsageError(f"--out {where!r} is the run folder {str(run_dir)!r}, inside it or above it; "
                         "an export goes to a folder outside the run folder")
    if out.is_symlink():
        raise UsageError(f"--out {where!r} is a symbolic link; expected a folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {where!r} is a file; expected a folder (new, empty, or a League export "
                         "to replace with --overwrite)")
    if not out.exists() or not any(out.iterdir()):
        return
    if not overwrite:
        raise UsageError(f"export folder {where!r} is not empty; pass --overwrite or choose another --out")
    listed = _export_files(out)
    if listed is None:
        raise UsageError(f"--out {where!r} is not a League export (no {OPPONENT_FILE} League wrote); "
                         "--overwrite replaces only a League export: choose another --out")
    stray = sorted(str(p.relative_to(out)) for p in out.rglob("*")
                   if (p.is_file() or p.is_symlink()) and str(p.relative_to(out)) not in listed)
    if stray:
        raise UsageError(f"--out {where!r} holds files League's export did not write ({stray[0]!r}"
                         f"{f' and {len(stray) - 1} more' if len(stray) > 1 else ''}); --overwrite replaces "
                         "only a League export: move them or choose another --out")


def _export_files(folder: Path) -> set[str] | None:
    """The files a folder's ``opponent.json`` lists (itself included); None if it has no valid one."""
    try:
        info = json.loads((folder / OPPONENT_FILE).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if (not isinstance(info, dict) or info.get("format") != OPPONENT_FORMAT
            or not isinstance(info.get("files"), dict) or not isinstance(info.get("player_id"), str)
            or not isinstance(info.get("game"), str)):
        return None
    return {str(name) for name in info["files"]} | {OPPONENT_FILE}


def _swap_in(built: Path, out: Path) -> None:
    """Put the finished export ``built`` at ``out``: the old folder aside, the new one in, the old removed."""
    if not out.exists():
        os.rename(built, out)
        return
    aside = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:12]}"
    os.rename(out, aside)
    try:
        os.rename(built, out)
    except BaseException:
        os.rename(aside, out)
        raise
    shutil.rmtree(aside)
