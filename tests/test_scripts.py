"""Tiny-budget smoke runs of the scripts under scripts/.

The scripts run once, one after another, in one subprocess (``tests/script_runner.py``:
each as ``python scripts/NAME.py ARGS`` would run, its output captured, on one local
Ray); each test reads what its script printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from league.config import TrainingConfig

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
TINY_STRENGTH_CONFIG = ('game = "tictactoe"\ntensorboard = false\n'
                        "[training]\ntrain_batch_size = 400\nminibatch_size = 64\nnum_epochs = 1\nhiddens = [16]\n"
                        "[resources]\nnum_envs_per_env_runner = 8\n[evaluation]\ngames = 4\n")


def _checkpointed_run(run_dir: Path) -> Path:
    """A run folder holding one checkpoint of one 64x64 player (what ``bench_checkpoint.py`` times)."""
    from league.checkpoint import LeagueState, write_checkpoint

    state = LeagueState(run_id="run-b", iteration=1, env_steps=0, total_episodes=0, abandoned_episodes=0,
                        anchor_matches=0, ledger_position=0, roster=[], generation_start={}, snapshot_versions={},
                        resident=[], ratings={}, history=[])
    players = {"main": {"weights": {"w": np.ones((64, 64), np.float32)}, "global_timestep": 3}}
    write_checkpoint(run_dir, state, players, {}, keep=1)
    return run_dir


@pytest.fixture(scope="module")
def scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every smoke run of this module, run once; its results and folders by key."""
    tmp = tmp_path_factory.mktemp("scripts")
    (tmp / "tiny.toml").write_text(TINY_STRENGTH_CONFIG)
    plan = {
        "ledger": ["bench_ledger.py", "--matches", "50", "--batch", "10"],
        "c4": ["c4_league.py", "--minutes", "0.01", "--games", "10", "--run-dir", str(tmp / "c4"),
               "--json-out", str(tmp / "c4.jsonl")],
        "rps": ["rps_nash.py", "--mode", "selfplay", "--iterations", "2"],
        "pool_restore": ["bench_pool.py", "restore", "--restores", "3"],
        "pool_memory": ["bench_pool.py", "memory-one", "--snapshots", "6", "--max-resident", "2", "--iterations", "2"],
        "checkpoint": ["bench_checkpoint.py", "--run-dir", str(_checkpointed_run(tmp / "checkpointed")),
                       "--repeats", "3"],
        "ab": ["bench_throughput.py", "ab", "--rounds", "1", "--warmup", "0", "--envs", "4"],
        "ab_algorithms": ["bench_throughput.py", "ab", "--rounds", "1", "--warmup", "0", "--envs", "4",
                          "--train-batch-size", "400", "--algorithm", "PPO", "--algorithm", "IMPALA"],
        "ceiling": ["bench_throughput.py", "ceiling", "--rounds", "1", "--warmup", "0", "--steps", "2000",
                    "--top", "5"],
        "learning_vs_envs": ["learning_vs_envs.py", "--envs", "4", "--iterations", "1"],
        # --minutes 0: exactly one iteration (the script runs at least one, then stops once the budget is spent).
        "kuhn": ["kuhn_exploitability.py", "--minutes", "0", "--run-dir", str(tmp / "kuhn"),
                 "--override", '{"training": {"train_batch_size": 400, "minibatch_size": 64}, '
                               '"snapshots": {"max_iterations_per_snapshot": 1}}'],
        "strength": ["strength.py", str(tmp / "tiny.toml"), "--iterations", "1", "--games", "6", "--depths", "1",
                     "--run-dir", str(tmp / "strength"), "--json-out", str(tmp / "strength.jsonl")],
    }
    (tmp / "plan.json").write_text(json.dumps([{"key": key, "argv": [str(SCRIPTS / argv[0]), *argv[1:]]}
                                               for key, argv in plan.items()]))
    done = subprocess.run([sys.executable, "-m", "tests.script_runner", str(tmp / "plan.json"),
                           str(tmp / "results.json")], cwd=ROOT, capture_output=True, text=True, timeout=1200,
                          check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return {"results": json.loads((tmp / "results.json").read_text()), "tmp": tmp}


def _output(scripts: dict[str, Any], key: str) -> str:
    """What the script run ``key`` printed, after checking that it exited 0 (as ``check=True`` did)."""
    result = scripts["results"][key]
    assert result["exit_code"] == 0, result["traceback"] or result["stderr"][-4000:]
    return result["stdout"]


def _last_json(scripts: dict[str, Any], key: str) -> dict:
    return json.loads(_output(scripts, key).strip().splitlines()[-1])


def test_bench_ledger_prints_a_json_line_with_both_rates(scripts):
    data = _last_json(scripts, "ledger")
    assert data["benchmark"] == "ledger_writes" and data["matches"] == 50
    assert data["single_per_s"] > 0 and data["pipelined_per_s"] > 0


def test_c4_league_script_runs_a_tiny_budget_and_reports_the_roster(scripts):
    data = _last_json(scripts, "c4")
    assert data["iterations"] >= 1 and data["matches"] > 0
    assert sum(data["main_vs_heuristic"][k] for k in ("wins", "draws", "losses")) == 10
    assert {role for _, role, _ in data["roster_by_elo"]} >= {"main", "main_exploiter", "league_exploiter",
                                                              "scripted"}
    assert json.loads((scripts["tmp"] / "c4.jsonl").read_text()) == data


def test_rps_script_reports_total_variation_per_iteration(scripts):
    data = _last_json(scripts, "rps")
    assert data["mode"] == "selfplay" and data["iterations"] == 2
    assert 0.0 <= data["tv_last5_mean"] <= 2 / 3


def test_bench_pool_restore_reports_both_latencies(scripts):
    data = _last_json(scripts, "pool_restore")
    assert data["benchmark"] == "pool_restore" and data["restores"] == 3
    assert 0 < data["store_read_verify"]["p50_ms"] < data["league_restore"]["p50_ms"]
    assert data["rllib_add_policy"]["p50_ms"] > 0 and data["weights_bytes"] > 100_000


def test_bench_pool_memory_one_size_churns_the_pool(scripts):
    data = _last_json(scripts, "pool_memory")
    assert data["snapshots"] == 6 and data["restored"] >= 2
    assert data["total_peak_rss_mib"] == pytest.approx(data["driver_peak_rss_mib"] + data["runner_peak_rss_mib"],
                                                       abs=0.2)


def test_bench_checkpoint_times_writes_and_loads_of_a_runs_checkpoint(scripts):
    data = _last_json(scripts, "checkpoint")
    assert data["players"] == 1 and data["bytes"] > 64 * 64 * 4
    assert 0 < data["write_p50_ms"] <= data["write_p95_ms"] and data["load_p50_ms"] > 0


def test_bench_throughput_ab_alternates_league_and_plain_rllib(scripts):
    data = _last_json(scripts, "ab")
    batch = TrainingConfig().train_batch_size
    assert data["benchmark"] == "league_vs_plain_rllib" and data["league_steps"] == data["plain_steps"] == batch
    assert data["ratio"] == pytest.approx(data["league_steps_per_s"] / data["plain_steps_per_s"])


def test_bench_throughput_reports_each_algorithm_asked_for(scripts):
    lines = [json.loads(line) for line in _output(scripts, "ab_algorithms").splitlines() if line.startswith("{")]
    assert [d["algorithm"] for d in lines] == ["PPO", "IMPALA"]
    for data in lines:
        assert data["league_steps"] >= 400 and data["plain_steps"] >= 400
        assert data["ratio"] == pytest.approx(data["league_steps_per_s"] / data["plain_steps_per_s"])


def test_bench_throughput_ceiling_reports_the_fraction_and_a_profile(scripts):
    data = _last_json(scripts, "ceiling")
    # League's sampler may outrun this short raw loop (its random moves are drawn one by one in Python).
    assert data["raw_env_steps_per_s"] > 0 and data["league_sampling_steps_per_s"] > 0
    assert (data["sampler"], data["envs_per_runner"]) == ("league", 256)  # League's defaults
    assert data["fraction"] == pytest.approx(data["league_sampling_steps_per_s"] / data["raw_env_steps_per_s"])
    assert len(data["profile_top"]) == 5


def test_learning_vs_envs_prints_the_evaluation_curve(scripts):
    data = _last_json(scripts, "learning_vs_envs")
    assert data["envs"] == 4 and len(data["curve"]) == 1 and 0.0 <= data["curve"][0][1] <= 1.0


def test_kuhn_script_reports_the_exploitability_curve(scripts):
    data = _last_json(scripts, "kuhn")
    assert data["iterations"] == 1 and len(data["curve"]) == 1
    point = data["curve"][0]
    assert point["iteration"] == 1 and 0.0 <= point["main"] <= 2.0 and 0.0 <= point["mixture"] <= 2.0
    assert data["best"] == {"main": point["main"], "mixture": point["mixture"]}


def test_strength_script_runs_league_run_exports_main_and_plays_the_references(scripts):
    data = _last_json(scripts, "strength")
    # --iterations 1, not a tiny --minutes: an iteration of this league can end inside 0.6 s, so a
    # time budget would stop it after one or two.
    assert data["benchmark"] == "strength" and data["game"] == "tictactoe" and data["iterations"] == 1
    assert set(data["vs"]) == {"alphabeta-1"}  # tic-tac-toe has no heuristic
    versus = data["vs"]["alphabeta-1"]
    assert versus["wins"] + versus["draws"] + versus["losses"] == 6 and 0 <= versus["score"] <= 1
    assert (scripts["tmp"] / "strength-main" / "opponent.json").is_file(), "main was exported beside the run"
    assert json.loads((scripts["tmp"] / "strength.jsonl").read_text()) == data
