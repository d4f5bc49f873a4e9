"""A league whose snapshots live on a real S3 API (moto's server on 127.0.0.1), driven through the CLI."""

from __future__ import annotations

import json

import boto3
import pytest
from typer.testing import CliRunner

from league.cli import app

pytestmark = pytest.mark.usefixtures("ray_session")
runner = CliRunner()

CONFIG = """
game = "tictactoe"
iterations = 20
[training]
train_batch_size = 200
minibatch_size = 64
num_epochs = 1
hiddens = [32]
[resources]
num_envs_per_env_runner = 4
[roster]
main_agents = 1
main_exploiters = 1
league_exploiters = 0
scripted = ["random"]
[snapshots]
max_iterations_per_snapshot = 1
max_resident_opponents = 4
uri = "{uri}"
endpoint_url = "{endpoint}"
[evaluation]
games = 0
"""


def test_forty_snapshots_on_s3_with_four_resident(tmp_path, s3_server, s3_bucket):
    uri = f"s3://{s3_bucket}/league/snapshots"
    config = tmp_path / "s3.toml"
    config.write_text(CONFIG.format(uri=uri, endpoint=s3_server))
    run_dir = tmp_path / "run"

    result = runner.invoke(app, ["run", str(config), "--run-dir", str(run_dir), "--quiet"])
    assert result.exit_code == 0, result.output

    status = json.loads(runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json"]).output)
    assert status["snapshots"] == 40
    assert status["trainable_players"] == 2
    assert status["resident_policies"] <= 4 + 2
    assert status["snapshot_uri"] == uri and status["unusable"] == {}
    # Anchor games are matches too (each snapshot vs random). RLlib reports an episode's metrics when its sampler
    # next yields, which can be one iteration after the match ended (and was recorded); at most one per sub-env.
    assert 0 <= status["matches"] - status["episodes"] - status["anchor_matches"] <= 4

    s3 = boto3.client("s3", endpoint_url=s3_server)
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket)
            for o in page.get("Contents", [])]
    manifests = sorted(k for k in keys if k.endswith("/manifest.json"))
    assert len(manifests) == 40 and len(keys) == 80
    assert not (run_dir / "snapshots").exists()  # nothing spilled to local disk
    manifest = json.loads(s3.get_object(Bucket=s3_bucket, Key=manifests[0])["Body"].read())
    assert manifest["game"] == "tictactoe" and manifest["run_id"] == status["run_id"]

    # Retention through the CLI: keep the newest 5 and the best 2 by Elo.
    result = runner.invoke(app, ["prune", "--run-dir", str(run_dir), "--keep-last", "5", "--keep-top", "2"])
    assert result.exit_code == 0, result.output
    after = json.loads(runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json"]).output)
    assert 5 <= after["snapshots"] <= 7
    left = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket).get("Contents", [])]
    assert len([k for k in left if k.endswith("/manifest.json")]) == after["snapshots"]
    assert {p["id"] for p in after["players"] if p["trainable"]} == {"main", "main_exploiter"}
