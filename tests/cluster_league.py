"""A league on a two-node Ray cluster built on this machine (run by tests/test_cluster.py in its own process).

Usage: ``python -m tests.cluster_league RUN_DIR REDIS_URL S3_ENDPOINT BUCKET``; prints one JSON line.
The head node has no CPUs, so the env runners (1 CPU each) can only be placed on the second node.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from league.torch_only import skip_tensorflow

skip_tensorflow("torch")  # a torch league: RLlib need not import TensorFlow here or in the nodes' workers

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from league.config import load_config  # noqa: E402
from league.errors import ConfigError  # noqa: E402
from league.manager import LeagueManager  # noqa: E402
from league.rllib.algorithm import runner_nodes  # noqa: E402


def main(run_dir: Path, redis_url: str, endpoint: str, bucket: str) -> None:
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    cluster.add_node(num_cpus=2)
    cluster.wait_for_nodes()
    base = {
        "game": "connect_four", "iterations": 3, "seed": 5,
        "training": {"train_batch_size": 400, "minibatch_size": 64, "num_epochs": 2, "hiddens": [64, 64]},
        "resources": {"address": cluster.address, "num_env_runners": 1, "num_envs_per_env_runner": 4},
        "snapshots": {"max_iterations_per_snapshot": 1},
        "ratings": {"anchor_games": 2}, "evaluation": {"games": 10, "every": 3},
    }
    out: dict = {}
    try:
        LeagueManager(load_config(None, {**base, "run_dir": run_dir / "refused"}))
    except ConfigError as e:
        out["refused"] = str(e)
    config = load_config(None, {**base, "run_dir": run_dir / "run", "redis_url": redis_url,
                                "snapshots": {**base["snapshots"], "uri": f"s3://{bucket}/league",
                                              "endpoint_url": endpoint}})
    with LeagueManager(config) as league:
        out["driver_node"] = ray.get_runtime_context().get_node_id()
        out["runner_nodes"] = runner_nodes(league.algorithm)
        reports = league.run()
        out["iterations"] = [r.iteration for r in reports]
        out["written_by_runners"] = [r.written_by_runners for r in reports]
        out["episodes"] = [r.episodes for r in reports]
        out["history"] = [h.matches + h.anchor_matches for h in league.history]
        out["snapshots"] = league.snapshots
        out["run_id"] = league.run_id
    out["nodes"] = len([n for n in ray.nodes() if n["Alive"]]) if ray.is_initialized() else None
    cluster.shutdown()
    print(json.dumps(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4])
