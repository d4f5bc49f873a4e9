"""The snapshot store interface: frozen players' weights kept outside memory.

A store holds one snapshot per id: a weights object (safetensors) and a JSON
:class:`~league.snapshots.manifest.SnapshotManifest` with the weights' sha256.
Writes are atomic (no partial object is ever visible under its final name);
reads verify the checksum before the weights are returned, and a snapshot
that fails verification is marked unusable instead of loaded.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from league.snapshots.manifest import RatingAtFreeze, SnapshotManifest
from league.types import PlayerId

#: ``progress(bytes_written, bytes_total)``, called as a snapshot's weights are written.
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SnapshotInfo:
    """What the league knows about a snapshot when it freezes it (the manifest minus the weights' facts).

    Attributes:
        player_id: The snapshot's player id.
        role: The snapshot's role (``snapshot``).
        parent: The trainable player it was frozen from.
        iteration: League iteration after which it was frozen.
        env_steps: Env steps sampled by the run so far.
        ratings: The parent's ratings at freeze time (None if unrated).
        game: The registered game name.
        run_id: The run freezing it.
        framework: ``torch``.
        model_config: The RLlib model config the weights fit.
        observation_space: :func:`~league.snapshots.manifest.describe_space` of the observation space.
        action_space: The same for the action space.
    """

    player_id: PlayerId
    role: str
    parent: PlayerId | None
    iteration: int
    env_steps: int
    ratings: RatingAtFreeze | None
    game: str
    run_id: str
    framework: str
    model_config: Mapping[str, Any]
    observation_space: Mapping[str, Any]
    action_space: Mapping[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """A verified snapshot: its manifest and its weights (numpy arrays by parameter name)."""

    manifest: SnapshotManifest
    weights: dict[str, np.ndarray]


class SnapshotStore(abc.ABC):
    """Where frozen snapshots live when they are not resident in the Algorithm."""

    #: Where the store is, as given (a folder or ``s3://bucket/prefix``).
    uri: str

    @abc.abstractmethod
    def put(self, info: SnapshotInfo, weights: Mapping[str, np.ndarray], *,
            progress: Progress | None = None, replace: bool = False) -> SnapshotManifest:
        """Store a snapshot atomically and return its manifest.

        Args:
            info: The snapshot's description.
            weights: Its weights.
            progress: Called as the weights are written.
            replace: Overwrite a snapshot already stored under the id (a trainable
                player's latest weights); its unusable mark, which condemned the old
                weights, goes with them. Without it an existing id is refused.

        Raises:
            InvalidIdError: if ``info.player_id`` is not a safe id.
            SnapshotExists: if the id is stored and ``replace`` is not set (nothing is written).
            SnapshotStoreUnavailable: if the store cannot be written (nothing is left behind).
        """

    @abc.abstractmethod
    def load(self, snapshot_id: PlayerId) -> Snapshot:
        """Read and verify a snapshot.

        Raises:
            SnapshotNotFound: if there is no such snapshot.
            SnapshotCorrupt: if it fails verification (it is then marked unusable) or was marked before.
        """

    @abc.abstractmethod
    def manifest(self, snapshot_id: PlayerId) -> SnapshotManifest:
        """The manifest of a stored snapshot (the weights are not read).

        Raises:
            SnapshotNotFound: if there is no such snapshot.
            SnapshotCorrupt: if the manifest is not valid.
        """

    @abc.abstractmethod
    def ids(self) -> list[PlayerId]:
        """Ids of every stored snapshot (complete ones: manifest written), sorted."""

    @abc.abstractmethod
    def delete(self, snapshot_id: PlayerId) -> None:
        """Remove a snapshot (weights, manifest and any unusable mark); no error if it is absent."""

    @abc.abstractmethod
    def mark_unusable(self, snapshot_id: PlayerId, reason: str) -> None:
        """Record that a snapshot must not be loaded, and why."""

    @abc.abstractmethod
    def unusable(self) -> dict[PlayerId, str]:
        """Snapshots marked unusable, with the reason."""

    def __contains__(self, snapshot_id: object) -> bool:
        return isinstance(snapshot_id, str) and snapshot_id in set(self.ids())
