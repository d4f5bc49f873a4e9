"""The worked examples under examples/: a custom matchmaker selected from TOML changes who plays whom;
your own game named by import path trains, exports and evaluates."""

from __future__ import annotations

import json
import shutil
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from league.cli import app
from league.ledger.embedded import EmbeddedRedis
from league.ledger.redis_ledger import RedisLedger
from league.run_dir import read_run_info

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "newest_snapshot.toml"
GAME_EXAMPLE = ROOT / "examples" / "mygame.py"

pytestmark = pytest.mark.usefixtures("ray_session")


def _matches(run_dir: Path) -> list:
    info = read_run_info(run_dir)
    server = EmbeddedRedis(run_dir)
    ledger = RedisLedger(server.url, info.run_id)
    try:
        return list(ledger.iter_matches())
    finally:
        ledger.close()
        server.stop()


def _run(config: Path, run_dir: Path) -> list:
    result = CliRunner().invoke(app, ["run", str(config), "--iterations", "3", "--run-dir", str(run_dir),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    return _matches(run_dir)


def test_example_matchmaker_from_toml_changes_who_plays_whom(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the import path in the TOML is relative to the repository root
    custom = _run(EXAMPLE, tmp_path / "custom")
    default_toml = tmp_path / "default.toml"
    default_toml.write_text("\n".join(line for line in EXAMPLE.read_text().splitlines()
                                      if not line.startswith("matchmaker")))
    default = _run(default_toml, tmp_path / "default")

    # Only the matchmaker's matches (anchor games of new snapshots vs scripted players have no learner).
    custom = [m for m in custom if m.learner is not None]
    default = [m for m in default if m.learner is not None]

    def pairs(matches, iteration):
        return Counter(frozenset(m.seats) for m in matches if m.iteration == iteration)

    # The example: self-play until main's first snapshot (after iteration 2), then only main_v1
    # (a few self-play episodes begun in iteration 2 finish early in iteration 3).
    assert set(pairs(custom, 1)) == set(pairs(custom, 2)) == {frozenset({"main"})}
    third = pairs(custom, 3)
    assert set(third) <= {frozenset({"main", "main_v1"}), frozenset({"main"})}
    assert third[frozenset({"main", "main_v1"})] >= 0.9 * sum(third.values())
    assert not any("random" in m.seats for m in custom)
    # AlphaStar's rules on the same league: PFSP puts the scripted random player in main's matches.
    random_games = sum("random" in m.seats for m in default)
    assert random_games > 0.2 * len(default)
    assert pairs(default, 1)[frozenset({"main"})] < 0.6 * sum(pairs(default, 1).values())


def test_your_own_game_by_import_path_trains_on_a_remote_runner_exports_and_evaluates(tmp_path, monkeypatch):
    from agents.opponent import load_opponent

    shutil.copy(GAME_EXAMPLE, tmp_path / "mygame.py")
    # The module is only in this folder: not on the driver's sys.path when Ray started, so the env
    # runner (another process) finds it only through the import path League hands it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "league.toml").write_text(textwrap.dedent("""
        game = "mygame:make_env"
        env_config = { stones = 7 }
        iterations = 2
        [training]
        train_batch_size = 400
        minibatch_size = 64
        num_epochs = 2
        [resources]
        num_env_runners = 1
        num_envs_per_env_runner = 4
        [roster]
        main_exploiters = 0
        league_exploiters = 0
        scripted = ["random"]
        [evaluation]
        games = 10
        every = 1
        [ratings]
        anchor_games = 4
    """))
    runner = CliRunner()
    result = runner.invoke(app, ["run", "league.toml", "--run-dir", "run", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "iteration=2" in result.output
    matches = _matches(tmp_path / "run")
    assert read_run_info(tmp_path / "run").game == "mygame:make_env"
    assert sum(m.learner is not None for m in matches) > 0

    result = runner.invoke(app, ["export", "main", "--run-dir", "run", "--out", "export"])
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "export" / "opponent.json").read_text())
    assert info["game"] == "mygame:make_env" and info["env_config"] == {"stones": 7}
    assert info["action_space"]["n"] == 3

    result = runner.invoke(app, ["eval", "export", "random", "--games", "20", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["game"] == "mygame:make_env" and data["wins"] + data["draws"] + data["losses"] == 20

    # The export plays the game's own PettingZoo env, without League: legal moves only.
    import mygame

    bot = load_opponent(tmp_path / "export")
    env = mygame.make_env(stones=7)
    env.reset(seed=0)
    for _agent in env.agent_iter():
        obs, _, terminated, truncated, _ = env.last()
        move = None if terminated or truncated else bot.act(obs["observation"], obs["action_mask"])
        assert move is None or obs["action_mask"][move] == 1
        env.step(move)


def test_a_game_that_fails_pettingzoo_api_test_exits_2_with_its_message(tmp_path, monkeypatch):
    (tmp_path / "brokengame.py").write_text(textwrap.dedent("""
        import copy
        from pettingzoo.classic.tictactoe.tictactoe import raw_env

        class CopiedSpaces(raw_env):
            def observation_space(self, agent):  # a new object per call: PettingZoo's API test refuses it
                return copy.deepcopy(super().observation_space(agent))

        def make_env():
            return CopiedSpaces()
    """))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.toml").write_text('game = "brokengame:make_env"\n')
    for args in (["run", "broken.toml"], ["run", "--game", "brokengame:make_env"]):
        result = CliRunner().invoke(app, [*args, "--run-dir", "run", "--quiet"])
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert ("game 'brokengame:make_env' fails PettingZoo's api_test: observation_space should return the "
                "exact same space object (not a copy) for an agent") in lines[0]
    assert not (tmp_path / "run").exists()


def test_league_envs_mentions_the_import_path_form():
    result = CliRunner().invoke(app, ["envs"])
    assert result.exit_code == 0
    assert "package.module:factory" in result.output
