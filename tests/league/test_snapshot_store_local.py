"""The snapshot store contract on a local folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from league.snapshots.fsspec_store import FsspecSnapshotStore
from tests.contracts.snapshot_store_contract import SnapshotStoreContract

CHUNK = 64 * 1024


@pytest.fixture
def store(tmp_path: Path) -> FsspecSnapshotStore:
    return FsspecSnapshotStore(str(tmp_path / "snapshots"), chunk_bytes=CHUNK)


@pytest.fixture
def corrupt():
    def overwrite(store: FsspecSnapshotStore, snapshot_id: str, name: str, data: bytes) -> None:
        Path(store.uri, snapshot_id, name).write_bytes(data)
    return overwrite


@pytest.fixture
def read_object():
    return lambda store, snapshot_id, name: Path(store.uri, snapshot_id, name).read_bytes()


@pytest.fixture
def objects():
    def walk(store: FsspecSnapshotStore) -> list[str]:
        root = Path(store.uri)
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return walk


@pytest.fixture
def upload_rows() -> int:
    return 3 * CHUNK // 36 + 1


@pytest.fixture
def interrupt_upload(tmp_path: Path):
    """Fail the write after its first chunk reached the disk (a crash mid-write)."""
    def fail(written: int, total: int) -> None:
        partial = [p for p in (tmp_path / "snapshots").rglob(".tmp-*")]
        assert partial and partial[0].stat().st_size == written < total  # the bytes are really on disk
        raise ConnectionResetError("interrupted mid-write")
    return fail


class TestLocalFolderStore(SnapshotStoreContract):
    """A folder on local disk: temp file, fsync, rename."""

    def test_no_temporary_files_are_left(self, store, objects):
        from tests.contracts.snapshot_store_contract import info, weights

        store.put(info(), weights())
        assert objects(store) == ["main_v1/manifest.json", "main_v1/weights.safetensors"]
        assert not [n for n in os.listdir(Path(store.uri, "main_v1")) if n.startswith(".tmp-")]
