"""The behaviour every :class:`~league.snapshots.base.SnapshotStore` backend must show.

A backend's test module subclasses :class:`SnapshotStoreContract` and provides
a ``store`` fixture on real storage (a local folder, moto's S3 server), plus
``corrupt(store, snapshot_id, name, data)``, which overwrites one stored object
behind the store's back, and ``objects(store)``, which lists every object
under the store's root (the test's own view, not the store's).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from league.errors import (
    InvalidIdError,
    SnapshotCorrupt,
    SnapshotExists,
    SnapshotNotFound,
    SnapshotStoreUnavailable,
)
from league.snapshots.base import SnapshotInfo, SnapshotStore
from league.snapshots.manifest import RatingAtFreeze
from league.types import PlayerId


def info(player_id: str = "main_v1", iteration: int = 3) -> SnapshotInfo:
    """A snapshot description for tests."""
    return SnapshotInfo(
        player_id=PlayerId(player_id), role="snapshot", parent=PlayerId("main"), iteration=iteration,
        env_steps=1234, ratings=RatingAtFreeze(elo=1250.0, mu=26.0, sigma=7.5, games=40),
        game="tictactoe", run_id="run-test", framework="torch",
        model_config={"custom_model": "league_action_mask"},
        observation_space={"type": "Dict", "spaces": {}}, action_space={"type": "Discrete", "n": 9, "start": 0},
    )


def weights(seed: int = 0, size: int = 64) -> dict[str, np.ndarray]:
    """Random float32 weights for tests."""
    rng = np.random.default_rng(seed)
    return {"layer.0.weight": rng.standard_normal((size, 8)).astype(np.float32),
            "layer.0.bias": rng.standard_normal(size).astype(np.float32)}


class SnapshotStoreContract:
    """Tests inherited by every snapshot store backend."""

    def test_a_stored_snapshot_loads_back_identical(self, store: SnapshotStore):
        original = weights(1)
        manifest = store.put(info(), original)
        loaded = store.load(PlayerId("main_v1"))
        assert loaded.manifest == manifest == store.manifest(PlayerId("main_v1"))
        assert set(loaded.weights) == set(original)
        for name, array in original.items():
            np.testing.assert_array_equal(loaded.weights[name], array)
            assert loaded.weights[name].dtype == array.dtype

    def test_the_manifest_describes_the_snapshot(self, store: SnapshotStore):
        manifest = store.put(info("main_v2", iteration=7), weights())
        assert (manifest.player_id, manifest.parent, manifest.iteration) == ("main_v2", "main", 7)
        assert manifest.env_steps == 1234 and manifest.ratings.elo == 1250.0
        assert manifest.framework == "torch" and manifest.weights_format == "safetensors"
        assert manifest.action_space == {"type": "Discrete", "n": 9, "start": 0}
        assert re.fullmatch(r"[0-9a-f]{64}", manifest.weights_sha256)

    def test_ids_lists_stored_snapshots_and_delete_removes_them(self, store: SnapshotStore):
        assert store.ids() == []
        for name in ("b_v1", "a_v1", "a_v2"):
            store.put(info(name), weights())
        assert store.ids() == ["a_v1", "a_v2", "b_v1"]
        assert "a_v2" in store
        store.delete(PlayerId("a_v2"))
        store.delete(PlayerId("never_stored"))
        assert store.ids() == ["a_v1", "b_v1"]
        with pytest.raises(SnapshotNotFound, match="a_v2"):
            store.load(PlayerId("a_v2"))

    def test_a_corrupted_snapshot_fails_its_checksum_and_is_marked_unusable(self, store: SnapshotStore, corrupt):
        store.put(info(), weights(2))
        corrupt(store, "main_v1", "weights.safetensors", b"not the weights that were stored")
        with pytest.raises(SnapshotCorrupt, match=r"snapshot 'main_v1': checksum mismatch in .*weights\.safetensors"):
            store.load(PlayerId("main_v1"))
        assert "checksum mismatch" in store.unusable()[PlayerId("main_v1")]
        # Marked: it is refused from now on without reading the weights again.
        with pytest.raises(SnapshotCorrupt, match="marked unusable"):
            store.load(PlayerId("main_v1"))

    def test_a_flipped_byte_is_caught(self, store: SnapshotStore, corrupt, read_object):
        store.put(info(), weights(3))
        blob = bytearray(read_object(store, "main_v1", "weights.safetensors"))
        blob[-1] ^= 0x01
        corrupt(store, "main_v1", "weights.safetensors", bytes(blob))
        with pytest.raises(SnapshotCorrupt, match="checksum mismatch"):
            store.load(PlayerId("main_v1"))

    def test_a_tampered_manifest_is_rejected_naming_the_field(self, store: SnapshotStore, corrupt):
        store.put(info(), weights())
        corrupt(store, "main_v1", "manifest.json", b'{"player_id": "main_v1"}')
        with pytest.raises(SnapshotCorrupt, match=r"manifest.json is not valid.*weights_sha256"):
            store.load(PlayerId("main_v1"))
        assert PlayerId("main_v1") in store.unusable()

    def test_a_stored_snapshot_is_never_overwritten_unasked(self, store: SnapshotStore):
        # Issue 20: an outside player under main_v3 was overwritten by main's next snapshot.
        kept = weights(6)
        manifest = store.put(info(), kept)
        with pytest.raises(SnapshotExists, match=re.escape("snapshot 'main_v1' is already in store")):
            store.put(info(iteration=9), weights(7))
        assert store.manifest(PlayerId("main_v1")) == manifest
        assert all(np.array_equal(store.load(PlayerId("main_v1")).weights[k], kept[k]) for k in kept)

    def test_replacing_a_snapshot_clears_the_unusable_mark_of_the_weights_it_replaces(self, store: SnapshotStore,
                                                                                       corrupt):
        # Issue 20: a stale UNUSABLE.json under players/<id> blocked every later export of that player.
        store.put(info("main"), weights(8))
        corrupt(store, "main", "weights.safetensors", b"damaged")
        with pytest.raises(SnapshotCorrupt):
            store.load(PlayerId("main"))
        assert PlayerId("main") in store.unusable()
        fresh = weights(9)
        store.put(info("main", iteration=4), fresh, replace=True)
        assert store.unusable() == {}
        loaded = store.load(PlayerId("main"))
        assert loaded.manifest.iteration == 4
        assert all(np.array_equal(loaded.weights[k], fresh[k]) for k in fresh)

    @pytest.mark.parametrize("bad", ["../escape", "a/b", ".hidden", "", "x" * 200, "s3://bucket"])
    def test_ids_outside_the_allowlist_never_become_paths(self, store: SnapshotStore, bad: str, objects):
        with pytest.raises(InvalidIdError, match="invalid snapshot id"):
            store.put(info(bad), weights())
        with pytest.raises(InvalidIdError, match="invalid snapshot id"):
            store.load(PlayerId(bad))
        assert objects(store) == []

    def test_a_failed_upload_leaves_no_object_under_the_final_key(self, store: SnapshotStore, objects,
                                                                    interrupt_upload, upload_rows):
        big = weights(4, size=upload_rows)  # more than two write chunks
        with pytest.raises(SnapshotStoreUnavailable, match=r"write snapshot 'main_v1'.*interrupted mid-"):
            store.put(info(), big, progress=interrupt_upload)
        assert store.ids() == []
        assert not [o for o in objects(store) if o.endswith(("weights.safetensors", "manifest.json"))]
        # The store still works after the failure, and the same id can be written.
        store.put(info(), weights(5))
        assert store.ids() == ["main_v1"]
