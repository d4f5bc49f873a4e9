"""The snapshot store on fsspec: a local folder or ``s3://bucket/prefix`` (s3fs).

Layout under the store's root, one folder per snapshot id::

    <root>/<id>/weights.safetensors   the weights (safetensors: tensors only, no code)
    <root>/<id>/manifest.json         SnapshotManifest, with the weights' sha256
    <root>/<id>/UNUSABLE.json         present only if the snapshot failed verification (removed when
                                      ``put(..., replace=True)`` writes new weights under the id)

Atomic writes: on a local folder each object is written to a hidden temporary
file in the same folder, fsynced and renamed over the final name. On S3 each
object is written inside an fsspec transaction, so a multipart upload is
completed only at commit and aborted on failure; S3 never shows a partial
object. The manifest is written after the weights, and only snapshots with a
manifest are listed, so a snapshot appears whole or not at all.

S3 credentials and region come from the usual AWS settings (environment,
``~/.aws``); ``endpoint_url`` points s3fs at another S3 API (MinIO, moto).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import fsspec
import numpy as np
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save

from league.errors import (
    LeagueError,
    SnapshotCorrupt,
    SnapshotExists,
    SnapshotNotFound,
    SnapshotStoreUnavailable,
)
from league.snapshots.base import Progress, Snapshot, SnapshotInfo, SnapshotStore
from league.snapshots.manifest import SnapshotManifest
from league.types import PlayerId, validate_id

MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "weights.safetensors"
UNUSABLE_FILE = "UNUSABLE.json"

#: Bytes per write call; 8 MiB is above S3's 5 MiB minimum multipart part size.
CHUNK_BYTES = 8 * 2**20


def encode_weights(weights: Mapping[str, np.ndarray]) -> bytes:
    """Weights as safetensors bytes (a copy: later changes to the arrays do not leak in)."""
    return safetensors_save({name: np.ascontiguousarray(array) for name, array in weights.items()})


def decode_weights(blob: bytes) -> dict[str, np.ndarray]:
    """Arrays from safetensors bytes (never unpickles anything)."""
    return dict(safetensors_load(blob))


def _chunks(blob: bytes, size: int) -> Iterator[memoryview]:  # views: no copies of the blob
    view = memoryview(blob)
    for start in range(0, len(blob), size):
        yield view[start:start + size]


class FsspecSnapshotStore(SnapshotStore):
    """A :class:`SnapshotStore` on any fsspec filesystem (tested: local folders and S3).

    Args:
        uri: A folder path, ``file://`` URL or ``s3://bucket/prefix``.
        endpoint_url: S3 API endpoint (unset: AWS, or ``AWS_ENDPOINT_URL``).
        storage_options: Extra keyword options for the fsspec filesystem.
        chunk_bytes: Bytes per write call (each one an S3 multipart part when larger objects are written).

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as root:
        ...     FsspecSnapshotStore(f"{root}/snapshots").ids()
        []
    """

    def __init__(self, uri: str, *, endpoint_url: str | None = None,
                 storage_options: Mapping[str, Any] | None = None, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.uri = str(uri)
        options = dict(storage_options or {})
        if endpoint_url is not None:
            options["endpoint_url"] = endpoint_url
        try:
            self._fs, root = fsspec.core.url_to_fs(self.uri, skip_instance_cache=True, **options)
        except (ImportError, ValueError, TypeError) as e:
            raise SnapshotStoreUnavailable(f"cannot open snapshot store {self.uri!r}: {e}") from e
        self._root = root.rstrip("/")
        self._local = "file" in self._fs.protocol or "local" in self._fs.protocol
        self._chunk_bytes = chunk_bytes
        if self._local:
            with self._guard("create the folder"):
                os.makedirs(self._root, exist_ok=True)

    # -- paths ---------------------------------------------------------------------

    def _path(self, snapshot_id: str, name: str = "") -> str:
        validate_id(snapshot_id, kind="snapshot id")
        return f"{self._root}/{snapshot_id}/{name}" if name else f"{self._root}/{snapshot_id}"

    def _where(self, snapshot_id: str, name: str) -> str:
        return f"{self.uri.rstrip('/')}/{snapshot_id}/{name}"

    @contextlib.contextmanager
    def _guard(self, action: str, *, missing_ok: bool = False) -> Iterator[None]:
        """Turn filesystem and network failures into :class:`SnapshotStoreUnavailable`.

        With ``missing_ok``, ``FileNotFoundError`` passes through (the caller
        reports the missing object itself).
        """
        try:
            yield
        except LeagueError:
            raise
        except FileNotFoundError:
            if missing_ok:
                raise
            raise SnapshotStoreUnavailable(
                f"snapshot store {self.uri!r}: could not {action}: the folder or bucket does not exist") from None
        except Exception as e:  # s3fs/botocore/aiohttp raise many types; all mean "store failed"
            raise SnapshotStoreUnavailable(
                f"snapshot store {self.uri!r}: could not {action}: {type(e).__name__}: {e}") from e

    # -- writing -------------------------------------------------------------------

    def _write(self, path: str, chunks: Iterable[bytes | memoryview]) -> None:
        if self._local:
            folder = os.path.dirname(path)
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    for chunk in chunks:
                        handle.write(chunk)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(tmp)
                raise
            return
        with self._fs.transaction, self._fs.open(path, "wb", block_size=self._chunk_bytes) as handle:
            for chunk in chunks:
                handle.write(chunk)

    def put(self, info: SnapshotInfo, weights: Mapping[str, np.ndarray], *,
            progress: Progress | None = None, replace: bool = False) -> SnapshotManifest:
        """Store a snapshot: the weights, then the manifest with their sha256 (see ``SnapshotStore.put``)."""
        validate_id(info.player_id, kind="snapshot id")
        if not replace:
            with self._guard(f"check snapshot {info.player_id!r}"):
                self._invalidate()
                exists = self._fs.exists(self._path(info.player_id, MANIFEST_FILE))
            if exists:
                raise SnapshotExists(f"snapshot {info.player_id!r} is already in store {self.uri!r}; "
                                     "a stored snapshot is never overwritten")
        blob = encode_weights(weights)
        manifest = SnapshotManifest.model_validate({
            "player_id": info.player_id, "role": info.role, "parent": info.parent,
            "iteration": info.iteration, "env_steps": info.env_steps,
            "ratings": info.ratings.model_dump() if info.ratings is not None else None,
            "game": info.game, "run_id": info.run_id, "framework": info.framework,
            "model_config": dict(info.model_config), "observation_space": dict(info.observation_space),
            "action_space": dict(info.action_space), "weights_file": WEIGHTS_FILE,
            "weights_sha256": hashlib.sha256(blob).hexdigest(), "weights_bytes": len(blob),
            "created": time.time(), "league_version": _league_version(),
        })

        def reporting(chunks: Iterable[memoryview]) -> Iterator[memoryview]:
            written = 0
            for chunk in chunks:
                yield chunk
                written += len(chunk)
                if progress is not None:
                    progress(written, len(blob))

        with self._guard(f"write snapshot {info.player_id!r}"):
            self._write(self._path(info.player_id, WEIGHTS_FILE), reporting(_chunks(blob, self._chunk_bytes)))
            self._write(self._path(info.player_id, MANIFEST_FILE), [manifest.to_json().encode()])
            if replace:  # the mark condemned the weights just replaced, not these
                with contextlib.suppress(FileNotFoundError):
                    self._fs.rm_file(self._path(info.player_id, UNUSABLE_FILE))
            self._invalidate()
        return manifest

    # -- reading -------------------------------------------------------------------

    def _read(self, snapshot_id: str, name: str) -> bytes:
        try:
            with self._guard(f"read {self._where(snapshot_id, name)}", missing_ok=True):
                return self._fs.cat_file(self._path(snapshot_id, name))
        except FileNotFoundError:
            raise SnapshotNotFound(
                f"snapshot {snapshot_id!r} has no {name} in store {self.uri!r}") from None

    def manifest(self, snapshot_id: PlayerId) -> SnapshotManifest:
        """The parsed manifest of ``snapshot_id``."""
        where = self._where(snapshot_id, MANIFEST_FILE)
        manifest = SnapshotManifest.from_json(self._read(snapshot_id, MANIFEST_FILE), where=where)
        if manifest.player_id != snapshot_id:
            raise SnapshotCorrupt(f"snapshot manifest {where} names player {manifest.player_id!r}, "
                                  f"not {snapshot_id!r}")
        return manifest

    def load(self, snapshot_id: PlayerId) -> Snapshot:
        """Read ``snapshot_id``, verify its size and sha256, then decode its weights."""
        reason = self._mark(snapshot_id)
        if reason is not None:
            raise SnapshotCorrupt(f"snapshot {snapshot_id!r} is marked unusable: {reason}")
        try:
            manifest = self.manifest(snapshot_id)
            blob = self._read(snapshot_id, manifest.weights_file)
            where = self._where(snapshot_id, manifest.weights_file)
            digest = hashlib.sha256(blob).hexdigest()
            if len(blob) != manifest.weights_bytes or digest != manifest.weights_sha256:
                raise SnapshotCorrupt(
                    f"snapshot {snapshot_id!r}: checksum mismatch in {where} (sha256 {digest}, "
                    f"{len(blob)} bytes; manifest says {manifest.weights_sha256}, "
                    f"{manifest.weights_bytes} bytes); the snapshot is marked unusable")
            try:
                weights = decode_weights(blob)
            except Exception as e:  # safetensors raises its own error type for malformed headers
                raise SnapshotCorrupt(f"snapshot {snapshot_id!r}: {where} is not valid safetensors: {e}") from e
        except SnapshotCorrupt as e:
            self.mark_unusable(snapshot_id, str(e))
            raise
        return Snapshot(manifest, weights)

    def ids(self) -> list[PlayerId]:
        """Ids of every complete snapshot, sorted."""
        self._invalidate()
        with self._guard("list snapshots"):
            paths = self._fs.glob(f"{self._root}/*/{MANIFEST_FILE}")
        return sorted(PlayerId(p.rstrip("/").split("/")[-2]) for p in paths)

    # -- marking and removing ------------------------------------------------------

    def mark_unusable(self, snapshot_id: PlayerId, reason: str) -> None:
        """Write the snapshot's ``UNUSABLE.json`` (kept until the snapshot is deleted or replaced)."""
        data = json.dumps({"snapshot": snapshot_id, "reason": reason, "marked": time.time()}).encode()
        with self._guard(f"mark snapshot {snapshot_id!r} unusable"):
            self._write(self._path(snapshot_id, UNUSABLE_FILE), [data])
            self._invalidate()

    def _mark(self, snapshot_id: str) -> str | None:
        """The reason in ``snapshot_id``'s ``UNUSABLE.json``, or None if it has none (one object read)."""
        try:
            raw = self._read(snapshot_id, UNUSABLE_FILE)
        except SnapshotNotFound:
            return None
        try:
            return str(json.loads(raw).get("reason", ""))
        except (ValueError, AttributeError):
            return "unusable mark is not valid JSON"

    def unusable(self) -> dict[PlayerId, str]:
        """Snapshots with an ``UNUSABLE.json``, and its reason."""
        self._invalidate()
        with self._guard("list unusable snapshots"):
            paths = self._fs.glob(f"{self._root}/*/{UNUSABLE_FILE}")
        marks = {}
        for path in paths:
            snapshot_id = PlayerId(path.rstrip("/").split("/")[-2])
            marks[snapshot_id] = self._mark(snapshot_id) or ""
        return marks

    def delete(self, snapshot_id: PlayerId) -> None:
        """Remove every object of ``snapshot_id``."""
        path = self._path(snapshot_id)
        with self._guard(f"delete snapshot {snapshot_id!r}", missing_ok=True):
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm(path, recursive=True)
            self._invalidate()

    def _invalidate(self) -> None:
        self._fs.invalidate_cache()


def _league_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("league")
    except PackageNotFoundError:
        return "unknown"


def open_store(uri: str, *, endpoint_url: str | None = None) -> SnapshotStore:
    """The snapshot store at ``uri`` (a folder or ``s3://bucket/prefix``)."""
    return FsspecSnapshotStore(uri, endpoint_url=endpoint_url)
