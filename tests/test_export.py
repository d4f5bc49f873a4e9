"""Exported opponents: files that load and play outside the league (issue 5)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from league.cli import app
from league.errors import ExportCorrupt
from league.rllib.algorithm import current_weights
from league.stats import wilson_interval
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _league_and_export(tmp: Path, game: str) -> tuple[Path, Path, dict]:
    from league.manager import LeagueManager

    config = tiny_config(tmp, game=game, iterations=2, evaluation={"games": 0},
                         roster={"main_exploiters": 1, "league_exploiters": 0, "scripted": ["random"]})
    with LeagueManager(config) as league:
        league.run()
        weights = current_weights(league.algorithm, "main")
    out = tmp / "export"
    result = runner.invoke(app, ["export", "main", "--run-dir", str(config.run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return config.run_dir, out, weights


@pytest.fixture(scope="module")
def connect_four(tmp_path_factory, ray_session):
    return _league_and_export(tmp_path_factory.mktemp("c4"), "connect_four")


@pytest.fixture(scope="module")
def tictactoe(tmp_path_factory, ray_session):
    return _league_and_export(tmp_path_factory.mktemp("ttt"), "tictactoe")


def _recorded_observations(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Connect Four observations from random games, as PettingZoo gives them."""
    from pettingzoo.classic import connect_four_v3

    rng = np.random.default_rng(seed)
    observations, masks = [], []
    game = 0
    while len(observations) < count:
        env = connect_four_v3.env()
        env.reset(seed=game)
        for agent in env.agent_iter():
            obs, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            observations.append(obs["observation"].copy())
            masks.append(obs["action_mask"].copy())
            env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        game += 1
    return np.array(observations[:count]), np.array(masks[:count])


def _fresh_python(code: str, tmp_path: Path) -> dict:
    script = tmp_path / "fresh.py"
    script.write_text(textwrap.dedent(code))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_export_holds_every_format_with_checksums(connect_four):
    _, out, _ = connect_four
    info = json.loads((out / "opponent.json").read_text())
    assert info["game"] == "connect_four" and info["player_id"] == "main" and info["role"] == "main"
    assert {"torchscript/model.pt", "onnx/model.onnx", "weights.safetensors",
            "rllib/rllib_checkpoint.json"} <= set(info["files"])
    assert info["iteration"] == 2 and info["env_steps"] > 0 and info["ratings"]["elo"] > 0
    assert info["league_run_id"].startswith("run-") and info["league_version"]
    assert info["observation_space"]["spaces"]["observation"]["shape"] == [6, 7, 2]


def test_exported_models_agree_with_the_rllib_policy_without_ray(connect_four, tmp_path):
    from ray.rllib.models import ModelCatalog
    from ray.rllib.policy.policy import Policy

    _, out, trained = connect_four
    observations, masks = _recorded_observations(1000)
    np.savez(tmp_path / "recorded.npz", obs=observations, mask=masks)
    result = _fresh_python(f"""
        import json, sys
        import numpy as np
        from agents.opponent import load_opponent
        data = np.load({str(tmp_path / "recorded.npz")!r})
        probs = {{}}
        for backend in ("torchscript", "onnx"):
            opponent = load_opponent({str(out)!r}, backend=backend)
            probs[backend] = opponent.action_probs_batch(data["obs"], data["mask"])
            single = opponent.action_probs(data["obs"][3], data["mask"][3])
            assert np.allclose(single, probs[backend][3], atol=1e-7)
            assert opponent.act(data["obs"][3], data["mask"][3]) == int(single.argmax())
        np.savez({str(tmp_path / "probs.npz")!r}, **probs)
        print(json.dumps({{"ray_imported": "ray" in sys.modules,
                           "auto": load_opponent({str(out)!r}).backend}}))
    """, tmp_path)
    assert result == {"ray_imported": False, "auto": "torchscript"}

    # The RLlib policy, from the export's RLlib checkpoint, on RLlib's own preprocessing.
    policy = Policy.from_checkpoint(str(out / "rllib"))
    for name, array in trained.items():  # the checkpoint holds main's weights at the end of the run
        np.testing.assert_array_equal(policy.get_weights()[name], array)
    preprocessor = ModelCatalog.get_preprocessor_for_space(policy.observation_space.original_space)
    flat = np.stack([preprocessor.transform({"observation": o.astype(np.float32), "action_mask": m.astype(np.float32)})
                     for o, m in zip(observations, masks)])
    _, _, extra = policy.compute_actions(flat, explore=False)
    logits = extra["action_dist_inputs"].astype(np.float64)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    probs = np.load(tmp_path / "probs.npz")
    for backend in ("torchscript", "onnx"):
        assert probs[backend].shape == (1000, 7)
        assert np.abs(probs[backend] - expected).max() < 1e-5, backend
        assert (probs[backend][masks == 0] == 0).all()  # exactly zero on illegal actions


def test_with_only_onnxruntime_the_onnx_model_is_used(connect_four, tmp_path):
    _, out, _ = connect_four
    result = _fresh_python(f"""
        import json, sys
        sys.modules["torch"] = None  # torch is not installed here
        import numpy as np
        from agents.opponent import load_opponent
        opponent = load_opponent({str(out)!r})
        move = opponent.act(np.zeros((6, 7, 2), dtype=np.int8), np.ones(7, dtype=np.int8))
        print(json.dumps({{"backend": opponent.backend, "move": move, "ray": "ray" in sys.modules,
                           "torch": sys.modules["torch"] is not None}}))
    """, tmp_path)
    assert result["backend"] == "onnx" and result["ray"] is False and result["torch"] is False
    assert 0 <= result["move"] < 7


def test_eval_score_matches_a_plain_pettingzoo_loop(connect_four):
    from pettingzoo.classic import connect_four_v3

    from agents.opponent import load_opponent

    _, out, _ = connect_four
    result = runner.invoke(app, ["eval", str(out), "random", "--games", "200", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)

    bot = load_opponent(out)
    wins = draws = losses = 0
    for k in range(200):
        env = connect_four_v3.env()
        env.reset(seed=k)
        rng = np.random.default_rng([0, k, 1])
        mine = env.possible_agents[k % 2]
        total = {agent: 0.0 for agent in env.possible_agents}
        for agent in env.agent_iter():
            obs, reward, terminated, truncated, _ = env.last()
            total[agent] += reward
            if terminated or truncated:
                env.step(None)
            elif agent == mine:
                env.step(bot.act(obs["observation"], obs["action_mask"]))
            else:
                env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
        theirs = next(a for a in env.possible_agents if a != mine)
        wins += total[mine] > total[theirs]
        draws += total[mine] == total[theirs]
        losses += total[mine] < total[theirs]
    assert (data["wins"], data["draws"], data["losses"]) == (wins, draws, losses)
    assert data["score"] == pytest.approx((wins + draws / 2) / 200)
    assert data["ci95"] == pytest.approx(list(wilson_interval(data["score"], 200)))
    assert data["ci95"][0] < data["score"] < data["ci95"][1]


def test_eval_takes_a_run_player_and_gives_the_same_games_as_its_export(connect_four):
    run_dir, out, _ = connect_four
    by_run = json.loads(runner.invoke(app, ["eval", f"{run_dir}:main", "random", "--games", "30", "--json"]).output)
    by_export = json.loads(runner.invoke(app, ["eval", str(out), "random", "--games", "30", "--json"]).output)
    assert [by_run[k] for k in ("wins", "draws", "losses")] == [by_export[k] for k in ("wins", "draws", "losses")]


def test_a_tampered_file_is_named_and_nothing_loads(connect_four, tmp_path):
    from agents.opponent import load_opponent

    _, out, _ = connect_four
    copy = tmp_path / "export"
    shutil.copytree(out, copy)
    with open(copy / "onnx" / "model.onnx", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ExportCorrupt, match=r"onnx/model\.onnx: sha256 .* does not match"):
        load_opponent(copy, backend="torchscript")  # every listed file is checked, not only the one used
    result = runner.invoke(app, ["eval", str(copy), "random", "--games", "2"])
    assert result.exit_code == 1 and "onnx/model.onnx" in result.output
    shutil.copy(out / "onnx" / "model.onnx", copy / "onnx" / "model.onnx")
    (copy / "torchscript" / "model.pt").unlink()
    with pytest.raises(ExportCorrupt, match=r"torchscript/model\.pt: listed in opponent\.json but missing"):
        load_opponent(copy)


def test_play_a_whole_game_through_standard_input(tictactoe):
    _, out, _ = tictactoe
    # Seat 1 takes the centre, then tries it again (illegal), types nonsense (malformed),
    # then offers every square in order: occupied ones are refused too, until the game ends.
    moves = ["5", "5", "hello"] + [str(n) for n in range(1, 10)] * 3
    result = runner.invoke(app, ["play", str(out), "--seat", "1"], input="\n".join(moves) + "\n")
    assert result.exit_code == 0, result.output
    assert "'5' is not a legal move; legal moves:" in result.output
    assert "'hello' is not a move; legal moves:" in result.output
    assert "League plays" in result.output
    assert any(end in result.output for end in ("You win!", "League wins.", "Draw."))
    assert result.output.count("X") >= 3  # the board was drawn with the person's marks


def test_play_asks_for_a_seat_until_it_gets_one(tictactoe):
    _, out, _ = tictactoe
    moves = ["3", "first", "2"] + [str(n) for n in range(1, 10)] * 3
    result = runner.invoke(app, ["play", str(out)], input="\n".join(moves) + "\n")
    assert result.exit_code == 0, result.output
    assert "'3' is not a seat" in result.output and "'first' is not a seat" in result.output
    assert "You are player_2 (X)" in result.output  # tic-tac-toe's seats are player_1 and player_2


def test_add_opponent_joins_a_league_as_a_frozen_rated_member(tictactoe, tmp_path):
    from league.manager import LeagueManager

    _, out, _ = tictactoe
    config = tiny_config(tmp_path, game="tictactoe", iterations=3, evaluation={"games": 0},
                         roster={"main_exploiters": 0, "league_exploiters": 0, "scripted": []},
                         snapshots={"max_iterations_per_snapshot": 100},
                         training={"hiddens": [32]})  # another network size than the export's
    with LeagueManager(config) as league:
        league.step()
        # From the command line, while the league is running: it adopts the player next iteration.
        result = runner.invoke(app, ["add-opponent", str(out), "--run-dir", str(config.run_dir)])
        assert result.exit_code == 0, result.output
        assert "added 'ext_main'" in result.output
        league.step()
        league.step()
        assert "ext_main" in [p.player_id for p in league.players]
        assert "ext_main" not in league.trainable
        assert league.ledger.games_played().get("ext_main", 0) > 0
        assert "ext_main" in league.ratings()
    again = runner.invoke(app, ["add-opponent", str(out), "--run-dir", str(config.run_dir)])
    assert again.exit_code == 2 and "already in the league" in again.output


def test_add_opponent_refuses_another_game(connect_four, tictactoe):
    _, c4_out, _ = connect_four
    ttt_run, _, _ = tictactoe
    result = runner.invoke(app, ["add-opponent", str(c4_out), "--run-dir", str(ttt_run)])
    assert result.exit_code == 2
    assert "plays 'connect_four'; this league plays 'tictactoe'" in result.output


def test_export_errors_name_the_problem(connect_four, tmp_path):
    run_dir, out, _ = connect_four
    unknown = runner.invoke(app, ["export", "nobody", "--run-dir", str(run_dir), "--out", str(tmp_path / "a")])
    assert unknown.exit_code == 2 and "no player 'nobody' in run" in unknown.output and "main_v1" in unknown.output
    scripted = runner.invoke(app, ["export", "random", "--run-dir", str(run_dir), "--out", str(tmp_path / "b")])
    assert scripted.exit_code == 2 and "is a scripted player" in scripted.output
    escape = runner.invoke(app, ["export", "../main", "--run-dir", str(run_dir), "--out", str(tmp_path / "c")])
    assert escape.exit_code == 2 and "invalid player id '../main'" in escape.output
    busy = runner.invoke(app, ["export", "main", "--run-dir", str(run_dir), "--out", str(out)])
    assert busy.exit_code == 2 and "is not empty; pass --overwrite" in busy.output
    snapshot = runner.invoke(app, ["export", "main_v1", "--run-dir", str(run_dir), "--out", str(tmp_path / "d"),
                                   "--format", "onnx"])
    assert snapshot.exit_code == 0, snapshot.output
    info = json.loads((tmp_path / "d" / "opponent.json").read_text())
    assert info["role"] == "snapshot" and info["parent"] == "main" and info["formats"] == ["onnx"]
    assert "torchscript/model.pt" not in info["files"]
