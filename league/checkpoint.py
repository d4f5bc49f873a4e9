"""League checkpoints: everything a killed run needs to go on, written atomically.

One checkpoint is a folder ``<run-dir>/checkpoints/iter-000012/``:

* ``players.safetensors``: every array of every trainable player's policy state
  (weights in League's canonical layout, Adam's state: torch's ``state_dict``, or a
  TF2 policy's optimizer variables in order; see :mod:`league.rllib.weights`), and
  of its initial state (what a reset goes back to);
* ``players.json``: the rest of those states (optimizer steps and settings,
  global timestep, PPO's KL coefficient), arrays named by their key in the
  safetensors file;
* ``state.json``: the league state (:class:`LeagueState`): roster, roles,
  snapshot versions, generation starts, resident pool order, ratings, counters,
  the committed iterations and the ledger position they fill;
* ``manifest.json``: size and sha256 of the three files above, written last.

The folder is written as ``.tmp-iter-000012-<random>``, every file fsynced,
then renamed into place and the parent folder fsynced: a crash mid-write leaves
only a temp folder, ignored and removed on resume, and the previous checkpoint
untouched. Loading verifies the manifest's checksums before parsing anything
and never unpickles: arrays come from safetensors, the rest from JSON checked
by pydantic. Matchmaking needs no RNG state of its own: every draw is seeded
from the run seed and the iteration, so the league state above rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from league.errors import CheckpointCorrupt
from league.faults import kill_point
from league.snapshots.fsspec_store import decode_weights, encode_weights

CHECKPOINTS_DIR = "checkpoints"
FORMAT_VERSION = 1
_PLAYERS_ARRAYS = "players.safetensors"
_PLAYERS_JSON = "players.json"
_STATE_JSON = "state.json"
_MANIFEST = "manifest.json"
_NAME = re.compile(r"^iter-(\d{6,})$")

_log = logging.getLogger(__name__)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RosterEntry(_Model):
    """One roster entry as checkpointed."""

    player_id: str
    role: str
    parent: str | None = None
    created_iteration: int = 0


class RatingEntry(_Model):
    """One player's ratings as checkpointed (floats round-trip JSON exactly)."""

    elo: float
    mu: float
    sigma: float
    games: int


class CommittedIteration(_Model):
    """What one committed iteration added to the ledger and the counters."""

    iteration: int = Field(ge=1)
    matches: int = Field(ge=0, description="Match records of the iteration's RLlib episodes.")
    anchor_matches: int = Field(ge=0, description="Anchor games of the iteration's new snapshots.")
    env_steps: int = Field(ge=0)


class LeagueState(_Model):
    """The league's side of a checkpoint: enough to rebuild the matchmaker and the pool exactly."""

    format: int = FORMAT_VERSION
    run_id: str
    iteration: int = Field(ge=0)
    env_steps: int = Field(ge=0)
    total_episodes: int = Field(ge=0)
    abandoned_episodes: int = Field(ge=0)
    anchor_matches: int = Field(ge=0)
    ledger_position: int = Field(ge=0, description="Ledger matches (in recording order) this state has consumed.")
    roster: list[RosterEntry]
    generation_start: dict[str, int]
    snapshot_versions: dict[str, int]
    resident: list[str] = Field(description="Resident frozen players, least recently used first.")
    ratings: dict[str, RatingEntry]
    history: list[CommittedIteration]
    counters: dict[str, int] = Field(default_factory=dict, description="Fault counters (restarts, retries, resumes).")
    meta_nash: dict[str, float] = Field(
        default_factory=dict, description="Nash weights of the snapshots' meta-game at the latest exploitability "
        "measure (what NashMatchmaker plays next).")


@dataclass(frozen=True)
class Checkpoint:
    """A loaded, verified checkpoint.

    Attributes:
        path: Its folder.
        state: The league state.
        players: Each trainable player's policy state (RLlib ``Policy.get_state`` keys).
        initial: Each trainable player's initial weights and optimizer state.
    """

    path: Path
    state: LeagueState
    players: dict[str, dict[str, Any]]
    initial: dict[str, dict[str, Any]]


# -- nested policy state <-> (arrays, JSON) ---------------------------------------

def _split(value: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON-ready data; every array goes to ``arrays`` under its ``path``."""
    if isinstance(value, np.ndarray):
        arrays[path] = value
        return {"__array__": path}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _split(v, f"{path}/{k}", arrays) for k, v in value.items()}
        # torch optimizer state is keyed by parameter index: keep the int keys.
        return {"__intkeys__": {str(int(k)): _split(v, f"{path}/{k}", arrays) for k, v in value.items()}}
    if isinstance(value, tuple):
        return {"__tuple__": [_split(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_split(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot checkpoint {path}: {type(value).__name__} is neither an array nor JSON data")


def _join(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """The inverse of :func:`_split`."""
    if isinstance(value, dict):
        if set(value) == {"__array__"}:
            return arrays[value["__array__"]]
        if set(value) == {"__intkeys__"}:
            return {int(k): _join(v, arrays) for k, v in value["__intkeys__"].items()}
        if set(value) == {"__tuple__"}:
            return tuple(_join(v, arrays) for v in value["__tuple__"])
        return {k: _join(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_join(v, arrays) for v in value]
    return value


# -- writing -------------------------------------------------------------------------

def checkpoints_dir(run_dir: Path) -> Path:
    """Where a run's checkpoints live."""
    return Path(run_dir) / CHECKPOINTS_DIR


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(run_dir: Path, state: LeagueState, players: Mapping[str, Mapping[str, Any]],
                     initial: Mapping[str, Mapping[str, Any]], *, keep: int) -> Path:
    """Write a checkpoint atomically, then delete all but the newest ``keep``; return its folder."""
    root = checkpoints_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta = {"players": _split({k: dict(v) for k, v in players.items()}, "players", arrays),
            "initial": _split({k: dict(v) for k, v in initial.items()}, "initial", arrays)}
    files = {
        _PLAYERS_ARRAYS: encode_weights(arrays),
        _PLAYERS_JSON: json.dumps(meta, sort_keys=True).encode(),
        _STATE_JSON: state.model_dump_json(indent=1).encode(),
    }
    name = f"iter-{state.iteration:06d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".tmp-{name}-"))
    try:
        for file_name, data in files.items():
            _write_synced(tmp / file_name, data)
            kill_point("checkpoint_write", state.iteration)
        manifest = {"format": FORMAT_VERSION, "iteration": state.iteration,
                    "files": {n: {"sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
                              for n, d in files.items()}}
        _write_synced(tmp / _MANIFEST, json.dumps(manifest, indent=1).encode())
        _fsync_dir(tmp)
        final = root / name
        if final.exists():  # a checkpoint of a timeline that was rolled back, or a corrupt one
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in _complete(root)[keep:]:
        shutil.rmtree(old, ignore_errors=True)
    return final


# -- reading -------------------------------------------------------------------------

def _complete(root: Path) -> list[Path]:
    """Checkpoint folders (renamed into place), newest first."""
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def _verified(path: Path) -> dict[str, bytes]:
    try:
        manifest = json.loads((path / _MANIFEST).read_bytes())
        listed = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointCorrupt(f"checkpoint {str(path)!r}: unreadable {_MANIFEST}: {e}") from e
    if manifest.get("format") != FORMAT_VERSION:
        raise CheckpointCorrupt(f"checkpoint {str(path)!r}: format {manifest.get('format')!r}, "
                                f"this League reads format {FORMAT_VERSION}")
    out = {}
    for name in (_PLAYERS_ARRAYS, _PLAYERS_JSON, _STATE_JSON):
        try:
            data = (path / name).read_bytes()
            expected = listed[name]
        except (OSError, KeyError) as e:
            raise CheckpointCorrupt(f"checkpoint {str(path)!r}: {name} is missing ({e})") from e
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != expected.get("bytes") or digest != expected.get("sha256"):
            raise CheckpointCorrupt(f"checkpoint {str(path)!r}: checksum mismatch in {name} "
                                    f"(sha256 {digest}; manifest says {expected.get('sha256')})")
        out[name] = data
    return out


def load_checkpoint(path: Path) -> Checkpoint:
    """Read and verify one checkpoint folder.

    Raises:
        CheckpointCorrupt: if a file is missing, altered or malformed.
    """
    files = _verified(path)
    try:
        state = LeagueState.model_validate_json(files[_STATE_JSON])
        meta = json.loads(files[_PLAYERS_JSON])
        arrays = decode_weights(files[_PLAYERS_ARRAYS])
        players = _join(meta["players"], arrays)
        initial = _join(meta["initial"], arrays)
    except (ValidationError, ValueError, KeyError, TypeError) as e:
        raise CheckpointCorrupt(f"checkpoint {str(path)!r} is malformed: {e}") from e
    return Checkpoint(path, state, players, initial)


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The newest checkpoint that verifies (older ones stand in for a damaged newest), or None if none exist.

    Temp folders of interrupted writes are removed; a checkpoint that fails
    verification is renamed ``.corrupt-iter-N`` (kept for inspection, never loaded).

    Raises:
        CheckpointCorrupt: if checkpoints exist but none verifies.
    """
    root = checkpoints_dir(run_dir)
    if root.is_dir():
        for leftover in root.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
    errors = []
    for path in _complete(root):
        try:
            return load_checkpoint(path)
        except CheckpointCorrupt as e:
            # Set aside, so a later resume never takes it for the newest once the run has moved on.
            aside = path.with_name(f".corrupt-{path.name}")
            shutil.rmtree(aside, ignore_errors=True)
            os.rename(path, aside)
            _log.warning("skipping checkpoint (kept as %s): %s", aside.name, e)
            errors.append(str(e))
    if errors:
        raise CheckpointCorrupt("no usable checkpoint: " + "; ".join(errors))
    return None
