"""Snapshots kept outside memory: the store interface, its fsspec backend and the manifest."""

from league.snapshots.base import Snapshot, SnapshotInfo, SnapshotStore
from league.snapshots.fsspec_store import FsspecSnapshotStore, open_store
from league.snapshots.manifest import SnapshotManifest, describe_space

__all__ = ["FsspecSnapshotStore", "Snapshot", "SnapshotInfo", "SnapshotManifest", "SnapshotStore",
           "describe_space", "open_store"]
