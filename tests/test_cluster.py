"""A league on a two-node Ray cluster: env runners on the second node, Redis over TCP, snapshots on S3."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from league.ledger.redis_ledger import RedisLedger
from league.snapshots import open_store
from tests.conftest import RedisProcess

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def redis_on_node_ip(tmp_path):
    """A real redis-server on this machine's node IP (what other Ray nodes would reach), not loopback."""
    import ray._private.services as services

    server = RedisProcess(tmp_path / "redis", host=services.get_node_ip_address())
    server.start()
    yield server
    server.kill()


@pytest.mark.timeout(600)
def test_a_league_on_a_two_node_cluster_places_runners_on_the_second_node(tmp_path, redis_on_node_ip, s3_server,
                                                                          s3_bucket):
    # Its own process: the cluster's Ray must not meet the test session's local Ray.
    done = subprocess.run([sys.executable, "-m", "tests.cluster_league", str(tmp_path), redis_on_node_ip.url,
                           s3_server, s3_bucket], cwd=ROOT, capture_output=True, text=True, timeout=540,
                          check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])

    # Embedded Redis and a local snapshot folder are refused once runners live on another node.
    assert "1 env runner(s) run on other nodes than the driver" in out["refused"]
    assert "embedded Redis" in out["refused"] and "local folder" in out["refused"]
    # The runner sat on the second node and wrote every match record itself.
    assert out["runner_nodes"] and all(node != out["driver_node"] for node in out["runner_nodes"])
    assert out["iterations"] == [1, 2, 3]
    assert out["written_by_runners"] == out["episodes"] and all(n > 0 for n in out["episodes"])

    ledger = RedisLedger(redis_on_node_ip.url, out["run_id"])
    matches = list(ledger.iter_matches())
    assert len(matches) == len({m.match_id for m in matches}) == sum(out["history"])
    assert [Counter(m.iteration for m in matches)[i] for i in (1, 2, 3)] == out["history"]
    assert ledger.progress()["iteration"] == 3
    # Every snapshot is on S3 and verifies.
    store = open_store(f"s3://{s3_bucket}/league", endpoint_url=s3_server)
    assert store.ids() == sorted(out["snapshots"]) and len(out["snapshots"]) == 9
    for snapshot in out["snapshots"]:
        assert store.load(snapshot).weights
