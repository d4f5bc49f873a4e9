"""The snapshot store contract on a real S3 API: moto's server on 127.0.0.1, through s3fs."""

from __future__ import annotations

import boto3
import pytest

from league.errors import SnapshotStoreUnavailable
from league.snapshots.fsspec_store import FsspecSnapshotStore
from tests.contracts.snapshot_store_contract import SnapshotStoreContract, info, weights

PART = 5 * 2**20  # S3's smallest multipart part


@pytest.fixture
def store(s3_server: str, s3_bucket: str) -> FsspecSnapshotStore:
    return FsspecSnapshotStore(f"s3://{s3_bucket}/league/snapshots", endpoint_url=s3_server, chunk_bytes=PART)


def _key(store: FsspecSnapshotStore, snapshot_id: str, name: str) -> tuple[str, str]:
    bucket, _, prefix = store.uri.removeprefix("s3://").partition("/")
    return bucket, f"{prefix}/{snapshot_id}/{name}"


@pytest.fixture
def corrupt(s3_server: str):
    def overwrite(store: FsspecSnapshotStore, snapshot_id: str, name: str, data: bytes) -> None:
        bucket, key = _key(store, snapshot_id, name)
        boto3.client("s3", endpoint_url=s3_server).put_object(Bucket=bucket, Key=key, Body=data)
    return overwrite


@pytest.fixture
def read_object(s3_server: str):
    def read(store: FsspecSnapshotStore, snapshot_id: str, name: str) -> bytes:
        bucket, key = _key(store, snapshot_id, name)
        return boto3.client("s3", endpoint_url=s3_server).get_object(Bucket=bucket, Key=key)["Body"].read()
    return read


@pytest.fixture
def objects(s3_server: str, s3_bucket: str):
    def listing(store: FsspecSnapshotStore) -> list[str]:
        found = boto3.client("s3", endpoint_url=s3_server).list_objects_v2(Bucket=s3_bucket)
        return sorted(o["Key"] for o in found.get("Contents", []))
    return listing


@pytest.fixture
def upload_rows() -> int:
    return 2 * PART // 36 + PART // 72  # 2.5 parts


@pytest.fixture
def interrupt_upload(s3_server: str, s3_bucket: str):
    """Fail the upload after its first part is on the server (a crash mid-upload)."""
    client = boto3.client("s3", endpoint_url=s3_server)

    def fail(written: int, total: int) -> None:
        uploads = client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
        assert uploads, "the first part should already be on the server"
        parts = client.list_parts(Bucket=s3_bucket, Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"])
        assert parts["Parts"] and written < total
        raise ConnectionResetError("interrupted mid-upload")
    return fail


class TestS3Store(SnapshotStoreContract):
    """s3fs against moto's S3 server: multipart uploads completed only at commit."""

    def test_an_interrupted_upload_is_aborted_on_the_server(self, store, s3_server, s3_bucket,
                                                          interrupt_upload, upload_rows):
        with pytest.raises(SnapshotStoreUnavailable, match="interrupted mid-upload"):
            store.put(info(), weights(4, size=upload_rows), progress=interrupt_upload)
        client = boto3.client("s3", endpoint_url=s3_server)
        assert client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []

    def test_a_missing_bucket_is_a_clear_error(self, s3_server):
        store = FsspecSnapshotStore("s3://no-such-bucket-league/x", endpoint_url=s3_server)
        with pytest.raises(SnapshotStoreUnavailable, match=r"s3://no-such-bucket-league/x.*write snapshot"):
            store.put(info(), weights())
