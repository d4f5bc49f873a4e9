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
from league.rllib.msgpack_guard import msgpack_left_unpatched
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
        for _agent in env.agent_iter():
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
    with msgpack_left_unpatched():  # RLlib's msgpack-numpy patch would outlive the read (see the guard)
        policy = Policy.from_checkpoint(str(out / "rllib"))
    for name, array in trained.items():  # the checkpoint holds main's weights at the end of the run
        np.testing.assert_array_equal(policy.get_weights()[name], array)
    preprocessor = ModelCatalog.get_preprocessor_for_space(policy.observation_space.original_space)
    flat = np.stack([preprocessor.transform({"observation": o.astype(np.float32), "action_mask": m.astype(np.float32)})
                     for o, m in zip(observations, masks, strict=True)])
    _, _, extra = policy.compute_actions(flat, explore=False)
    logits = extra["action_dist_inputs"].astype(np.float64)
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    probs = np.load(tmp_path / "probs.npz")
    for backend in ("torchscript", "onnx"):
        assert probs[backend].shape == (1000, 7)
        assert np.abs(probs[backend] - expected).max() < 1e-5, backend
        assert (probs[backend][masks == 0] == 0).all()  # exactly zero on illegal actions


def test_an_export_leaves_rays_serialisation_of_numpy_arrays_as_it_was(connect_four):
    # RLlib's msgpack export patches msgpack (msgpack-numpy) for the whole process; Ray serialises task
    # arguments through msgpack, so without the guard a worker got {b"nd": True, ...} dicts, not arrays,
    # and every remote env runner of a later league in this process failed in set_weights.
    import msgpack
    import ray

    from league.rllib.msgpack_guard import PATCHED_NAMES

    _, out, _ = connect_four  # the fixture ran `league export` in this process
    assert (out / "rllib" / "policy_state.msgpck").is_file()
    patched = [name for name in PATCHED_NAMES if getattr(msgpack, name).__module__ == "msgpack_numpy"]
    assert patched == []

    @ray.remote
    def received(weights: dict) -> str:
        return type(weights["w"]).__name__

    assert ray.get(received.remote({"w": np.ones(3, np.float32)})) == "ndarray"


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


def _files(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes), leaving out paths starting with ``skip``."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not str(p.relative_to(folder)).startswith(skip)}


def test_export_overwrite_never_replaces_the_run_folder_or_anything_in_it(tictactoe):
    # Issue 20: `league export main --run-dir R --out R --overwrite` left R holding only the export.
    run_dir, _, _ = tictactoe
    before = _files(run_dir, skip=("ledger", ".lock"))
    for target in (run_dir, run_dir / "players", run_dir / "players" / "main", run_dir / "new", run_dir.parent):
        result = runner.invoke(app, ["export", "main", "--run-dir", str(run_dir), "--out", str(target),
                                     "--overwrite"])
        assert result.exit_code == 2, (target, result.output)
        assert f"--out {str(target)!r} is the run folder" in result.output
        assert "an export goes to a folder outside the run folder" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert _files(run_dir, skip=("ledger", ".lock")) == before
    assert not (run_dir / "new").exists()


def test_export_overwrite_refuses_what_is_not_a_league_export_and_changes_nothing(tictactoe, tmp_path):
    run_dir, out, _ = tictactoe
    unrelated = tmp_path / "thesis"
    unrelated.mkdir()
    (unrelated / "chapter1.txt").write_text("years of work")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "opponent.json").write_text('{"hello": "not League\'s manifest"}')
    extra = tmp_path / "export-and-notes"
    shutil.copytree(out, extra)
    (extra / "notes.txt").write_text("mine")
    a_file = tmp_path / "model.bin"
    a_file.write_bytes(b"\x00")
    before = _files(tmp_path)
    cases = [(unrelated, "is not a League export (no opponent.json League wrote)"),
             (fake, "is not a League export"),
             (extra, "holds files League's export did not write ('notes.txt')"),
             (a_file, "is a file; expected a folder")]
    for target, expected in cases:
        for flags in (["--overwrite"], []) if target == a_file else (["--overwrite"],):
            result = runner.invoke(app, ["export", "main", "--run-dir", str(run_dir), "--out", str(target),
                                         *flags])
            assert result.exit_code == 2, (target, result.output)
            assert f"--out {str(target)!r} {expected}" in result.output
            assert len(result.output.strip().splitlines()) == 1
    assert _files(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export-and-notes", "fake", "model.bin", "thesis"]


def test_export_overwrite_swaps_in_a_verified_export_and_a_failed_one_changes_nothing(tictactoe, tmp_path,
                                                                                       monkeypatch):
    from agents.opponent import verify_export

    run_dir, out, _ = tictactoe
    target = tmp_path / "export"
    shutil.copytree(out, target)
    old = verify_export(target)
    result = runner.invoke(app, ["export", "main", "--run-dir", str(run_dir), "--out", str(target),
                                 "--overwrite", "--format", "torchscript"])
    assert result.exit_code == 0, result.output
    new = verify_export(target)
    assert new["exported"] > old["exported"] and new["formats"] == ["torchscript"]
    assert not (target / "onnx").exists()  # the old export is gone whole, not merged into
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no build or old folder left beside it
    replaced = _files(target)

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("league.rllib.export.write_formats", disk_full)
    failed = runner.invoke(app, ["export", "main", "--run-dir", str(run_dir), "--out", str(target),
                                 "--overwrite"])
    assert failed.exit_code != 0
    assert _files(target) == replaced and verify_export(target) == new
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


def test_add_opponent_refuses_ids_league_allocates_itself(tictactoe):
    # Issue 20: --id main_v3 was overwritten by main's next snapshot, --id main-mirror broke every resume,
    # and --id "" silently became ext_main.
    from league.offline import open_ledger, run_store

    run_dir, out, _ = tictactoe

    def league_state():
        with open_ledger(run_dir) as (info, ledger):
            return sorted(p.player_id for p in ledger.players()), run_store(info, run_dir).ids()

    before = league_state()
    for bad in ("main_v3", "main_v1", "main-mirror", "random", "main", "", " ext"):
        result = runner.invoke(app, ["add-opponent", str(out), "--run-dir", str(run_dir), "--id", bad])
        assert result.exit_code == 2, (bad, result.output)
        assert f"player id {bad!r}" in result.output and "<trainable>_v<K>" in result.output
        assert "mirrors (<id>-mirror)" in result.output and len(result.output.strip().splitlines()) == 1
    assert league_state() == before


def _replace_and_resign(export: Path, name: str, content: bytes | None) -> None:
    """Replace (None: remove) one file of an export and update opponent.json to match, as a forger would."""
    from agents.opponent import sha256_file

    manifest = export / "opponent.json"
    info = json.loads(manifest.read_text())
    if content is None:
        (export / name).unlink()
        del info["files"][name]
    else:
        (export / name).write_bytes(content)
        info["files"][name] = sha256_file(export / name)
    manifest.write_text(json.dumps(info))


def test_a_torchscript_model_that_does_not_load_falls_back_to_onnx_else_exits_2(tictactoe, tmp_path, caplog):
    # Issue 20: a TorchScript file that failed to load was a raw traceback, though the ONNX model was there.
    from agents.opponent import load_opponent

    _, out, _ = tictactoe
    copy = tmp_path / "export"
    shutil.copytree(out, copy)
    _replace_and_resign(copy, "torchscript/model.pt", b"not a TorchScript archive")
    with caplog.at_level("WARNING", logger="agents.opponent"):
        assert load_opponent(copy).backend == "onnx"
    assert any("the torchscript model" in r.getMessage() and "does not load" in r.getMessage()
               and "using its onnx model instead" in r.getMessage() for r in caplog.records)
    played = runner.invoke(app, ["eval", str(copy), "random", "--games", "4", "--json"])
    assert played.exit_code == 0, played.output
    assert json.loads(played.stdout)["game"] == "tictactoe"

    _replace_and_resign(copy, "onnx/model.onnx", None)
    for args in (["eval", str(copy), "random", "--games", "2"], ["play", str(copy), "--seat", "1"]):
        result = runner.invoke(app, args, env={"COLUMNS": "300"})
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
        assert f"the torchscript model '{copy / 'torchscript' / 'model.pt'}' does not load (" in result.output


def test_add_opponent_with_weights_that_are_not_safetensors_exits_2_and_adds_nothing(tictactoe, tmp_path):
    from league.offline import open_ledger

    run_dir, out, _ = tictactoe
    copy = tmp_path / "export"
    shutil.copytree(out, copy)
    _replace_and_resign(copy, "weights.safetensors", b"\x80\x04 a pickle, say")
    result = runner.invoke(app, ["add-opponent", str(copy), "--run-dir", str(run_dir), "--id", "forged"],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert f"'{copy / 'weights.safetensors'}' is not a safetensors weights file" in result.output
    with open_ledger(run_dir) as (_, ledger):
        assert "forged" not in {p.player_id for p in ledger.players()}


def _is_pickle(data: bytes) -> bool:
    """True when ``data`` reads as a whole pickle: opcodes from the first byte to a STOP, any protocol.

    Protocol 2+ begins with PROTO (``b"\\x80"`` and the protocol byte); protocols 0 and 1 have no header,
    so the opcodes themselves are the test. A file of another format fails on its first bytes.
    """
    import pickletools

    try:
        ops = [op.name for op, _, _ in pickletools.genops(data)]
    except Exception:  # noqa: BLE001 - genops raises ValueError, struct.error, ... on bytes that are no pickle
        return False
    return bool(ops) and ops[-1] == "STOP"


def _numpy_object_arrays(node: object, path: str = "") -> list[str]:
    """Where a msgpack-numpy document holds an object array (msgpack-numpy pickles those)."""
    if isinstance(node, dict):
        if node.get(b"nd") is not None and node.get(b"kind") == b"O":
            return [path]
        return [hit for key, value in node.items() for hit in _numpy_object_arrays(value, f"{path}/{key!r}")]
    if isinstance(node, (list, tuple)):
        return [hit for i, value in enumerate(node) for hit in _numpy_object_arrays(value, f"{path}[{i}]")]
    return []


def test_no_file_of_an_export_is_a_pickle(connect_four):
    # Issue 22: the RLlib checkpoint was cloudpickle (rllib/policy_state.pkl); it is RLlib's msgpack format now.
    import pickle

    import msgpack.fallback  # msgpack-numpy patches msgpack's own unpackb; the pure-Python one decodes raw

    assert all(_is_pickle(pickle.dumps({"w": np.zeros(2)}, protocol=p)) for p in range(6))  # the check works
    _, out, _ = connect_four
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert "rllib/policy_state.msgpck" in {str(p.relative_to(out)) for p in files}
    for path in files:
        assert path.suffix not in (".pkl", ".pickle"), path
        assert not _is_pickle(path.read_bytes()), path
    checkpoint = json.loads((out / "rllib" / "rllib_checkpoint.json").read_text())
    assert checkpoint["format"] == "msgpack" and checkpoint["state_file"] == "policy_state.msgpck"
    state = msgpack.fallback.unpackb((out / "rllib" / "policy_state.msgpck").read_bytes(), strict_map_key=False)
    assert "weights" in state and _numpy_object_arrays(state) == []
