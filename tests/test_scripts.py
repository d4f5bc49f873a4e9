"""Tiny-budget smoke runs of the scripts under scripts/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from league.config import TrainingConfig

ROOT = Path(__file__).resolve().parents[1]


def test_bench_ledger_prints_a_json_line_with_both_rates():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_ledger.py"), "--matches", "50",
                          "--batch", "10"], capture_output=True, text=True, check=True, cwd=ROOT)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["benchmark"] == "ledger_writes" and data["matches"] == 50
    assert data["single_per_s"] > 0 and data["pipelined_per_s"] > 0


def _last_json(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_c4_league_script_runs_a_tiny_budget_and_reports_the_roster(tmp_path):
    data = _last_json([str(ROOT / "scripts" / "c4_league.py"), "--minutes", "0.01", "--games", "10",
                       "--run-dir", str(tmp_path / "run"), "--json-out", str(tmp_path / "out.jsonl")])
    assert data["iterations"] >= 1 and data["matches"] > 0
    assert sum(data["main_vs_heuristic"][k] for k in ("wins", "draws", "losses")) == 10
    assert {role for _, role, _ in data["roster_by_elo"]} >= {"main", "main_exploiter", "league_exploiter",
                                                              "scripted"}
    assert json.loads((tmp_path / "out.jsonl").read_text()) == data


def test_rps_script_reports_total_variation_per_iteration():
    data = _last_json([str(ROOT / "scripts" / "rps_nash.py"), "--mode", "selfplay", "--iterations", "2"])
    assert data["mode"] == "selfplay" and data["iterations"] == 2
    assert 0.0 <= data["tv_last5_mean"] <= 2 / 3


def test_bench_pool_restore_reports_both_latencies():
    data = _last_json([str(ROOT / "scripts" / "bench_pool.py"), "restore", "--restores", "3"])
    assert data["benchmark"] == "pool_restore" and data["restores"] == 3
    assert 0 < data["store_read_verify"]["p50_ms"] < data["league_restore"]["p50_ms"]
    assert data["rllib_add_policy"]["p50_ms"] > 0 and data["weights_bytes"] > 100_000


def test_bench_pool_memory_one_size_churns_the_pool():
    data = _last_json([str(ROOT / "scripts" / "bench_pool.py"), "memory-one", "--snapshots", "6",
                       "--max-resident", "2", "--iterations", "2"])
    assert data["snapshots"] == 6 and data["restored"] >= 2
    assert data["total_peak_rss_mib"] == pytest.approx(data["driver_peak_rss_mib"] + data["runner_peak_rss_mib"],
                                                       abs=0.2)


def test_bench_checkpoint_times_writes_and_loads_of_a_runs_checkpoint(tmp_path):
    from league.checkpoint import LeagueState, write_checkpoint

    state = LeagueState(run_id="run-b", iteration=1, env_steps=0, total_episodes=0, abandoned_episodes=0,
                        anchor_matches=0, ledger_position=0, roster=[], generation_start={}, snapshot_versions={},
                        resident=[], ratings={}, history=[])
    players = {"main": {"weights": {"w": np.ones((64, 64), np.float32)}, "global_timestep": 3}}
    write_checkpoint(tmp_path, state, players, {}, keep=1)
    data = _last_json([str(ROOT / "scripts" / "bench_checkpoint.py"), "--run-dir", str(tmp_path), "--repeats", "3"])
    assert data["players"] == 1 and data["bytes"] > 64 * 64 * 4
    assert 0 < data["write_p50_ms"] <= data["write_p95_ms"] and data["load_p50_ms"] > 0


def test_bench_throughput_ab_alternates_league_and_plain_rllib():
    data = _last_json([str(ROOT / "scripts" / "bench_throughput.py"), "ab", "--rounds", "1", "--warmup", "0",
                       "--envs", "4"])
    batch = TrainingConfig().train_batch_size
    assert data["benchmark"] == "league_vs_plain_rllib" and data["league_steps"] == data["plain_steps"] == batch
    assert data["ratio"] == pytest.approx(data["league_steps_per_s"] / data["plain_steps_per_s"])


def test_bench_throughput_reports_each_algorithm_asked_for():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_throughput.py"), "ab", "--rounds", "1",
                          "--warmup", "0", "--envs", "4", "--train-batch-size", "400", "--algorithm", "PPO",
                          "--algorithm", "IMPALA"], capture_output=True, text=True, check=True, cwd=ROOT)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [d["algorithm"] for d in lines] == ["PPO", "IMPALA"]
    for data in lines:
        assert data["league_steps"] >= 400 and data["plain_steps"] >= 400
        assert data["ratio"] == pytest.approx(data["league_steps_per_s"] / data["plain_steps_per_s"])


def test_bench_throughput_ceiling_reports_the_fraction_and_a_profile():
    data = _last_json([str(ROOT / "scripts" / "bench_throughput.py"), "ceiling", "--rounds", "1", "--warmup", "0",
                       "--steps", "2000", "--top", "5"])
    # League's sampler may outrun this short raw loop (its random moves are drawn one by one in Python).
    assert data["raw_env_steps_per_s"] > 0 and data["league_sampling_steps_per_s"] > 0
    assert (data["sampler"], data["envs_per_runner"]) == ("league", 256)  # League's defaults
    assert data["fraction"] == pytest.approx(data["league_sampling_steps_per_s"] / data["raw_env_steps_per_s"])
    assert len(data["profile_top"]) == 5


def test_learning_vs_envs_prints_the_evaluation_curve():
    data = _last_json([str(ROOT / "scripts" / "learning_vs_envs.py"), "--envs", "4", "--iterations", "1"])
    assert data["envs"] == 4 and len(data["curve"]) == 1 and 0.0 <= data["curve"][0][1] <= 1.0


def test_kuhn_script_reports_the_exploitability_curve(tmp_path):
    data = _last_json([str(ROOT / "scripts" / "kuhn_exploitability.py"), "--minutes", "0.01",
                       "--run-dir", str(tmp_path / "run"),
                       "--override", '{"training": {"train_batch_size": 400, "minibatch_size": 64}, '
                                     '"snapshots": {"max_iterations_per_snapshot": 1}}'])
    assert data["iterations"] == 1 and len(data["curve"]) == 1
    point = data["curve"][0]
    assert point["iteration"] == 1 and 0.0 <= point["main"] <= 2.0 and 0.0 <= point["mixture"] <= 2.0
    assert data["best"] == {"main": point["main"], "mixture": point["mixture"]}


def test_strength_script_runs_league_run_exports_main_and_plays_the_references(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text('game = "tictactoe"\ntensorboard = false\n'
                      "[training]\ntrain_batch_size = 400\nminibatch_size = 64\nnum_epochs = 1\nhiddens = [16]\n"
                      "[resources]\nnum_envs_per_env_runner = 8\n[evaluation]\ngames = 4\n")
    data = _last_json([str(ROOT / "scripts" / "strength.py"), str(config), "--iterations", "1", "--games", "6",
                       "--depths", "1", "--run-dir", str(tmp_path / "run"), "--json-out", str(tmp_path / "out.jsonl")])
    # --iterations 1, not a tiny --minutes: an iteration of this league can end inside 0.6 s, so a
    # time budget would stop it after one or two.
    assert data["benchmark"] == "strength" and data["game"] == "tictactoe" and data["iterations"] == 1
    assert set(data["vs"]) == {"alphabeta-1"}  # tic-tac-toe has no heuristic
    versus = data["vs"]["alphabeta-1"]
    assert versus["wins"] + versus["draws"] + versus["losses"] == 6 and 0 <= versus["score"] <= 1
    assert (tmp_path / "run-main" / "opponent.json").is_file(), "main was exported beside the run"
    assert json.loads((tmp_path / "out.jsonl").read_text()) == data
