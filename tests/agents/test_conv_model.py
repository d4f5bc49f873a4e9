"""The residual convolutional model (``training.model = "conv"``, issue 19): masking, its TF2 twin, config, exports."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import envs
from agents.models import (
    ACTION_MASK_MODEL,
    CONV_MODEL,
    TF_CONV_MODEL,
    ActionMaskModel,
    ConvActionMaskModel,
    model_config_for,
)
from league.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
CONV = {"custom_model": ACTION_MASK_MODEL, "custom_model_config": {"model": "conv", "conv_channels": 8,
                                                                   "conv_blocks": 2}}


def _batch(game: str, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random boards and random masks (each with a legal move) of ``game``'s shapes."""
    space = envs.make(game).observation_space
    rng = np.random.default_rng(seed)
    n = space["action_mask"].shape[0]
    masks = (rng.random((count, n)) < 0.5).astype(np.float32)
    masks[np.arange(count), rng.integers(0, n, count)] = 1.0
    boards = rng.integers(0, 2, (count, *space["observation"].shape)).astype(np.float32)
    return boards, masks


def _torch_model(game: str, **custom: object) -> ConvActionMaskModel:
    env = envs.make(game)
    n = env.action_space.n
    return ConvActionMaskModel(env.observation_space, env.action_space, n, {}, "conv",
                               **{"model": "conv", "conv_channels": 8, "conv_blocks": 2, **custom})


def _torch_probs(model: torch.nn.Module, boards: np.ndarray, masks: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits, _ = model.forward({"obs": {"observation": torch.as_tensor(boards),
                                           "action_mask": torch.as_tensor(masks)}}, [], None)
    return torch.softmax(logits, -1).numpy()


@pytest.mark.parametrize("game", ["connect_four", "tictactoe"])
def test_the_conv_model_gives_illegal_actions_exactly_zero_probability(game):
    model = _torch_model(game)
    boards, masks = _batch(game, 64)
    probs = _torch_probs(model, boards, masks)
    assert np.all(probs[masks == 0] == 0.0)
    assert np.all(probs[masks == 1] > 0.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    assert model.value_function().shape == (64,)
    # The board is read as a grid: moving one stone changes the logits (a flatten-only bug would too, but
    # a model that ignored the observation would not).
    moved = boards.copy()
    moved[:, 0, 0, 0] = 1.0 - moved[:, 0, 0, 0]
    assert not np.allclose(_torch_probs(model, moved, masks), probs)


def test_the_conv_model_has_a_stem_residual_blocks_and_two_heads_in_canonical_names():
    model = _torch_model("connect_four", conv_channels=16, conv_blocks=3)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["_stem.weight"] == (16, 2, 3, 3)
    assert {k for k in shapes if k.startswith("_blocks.")} == {
        f"_blocks.{i}.conv{j}.{p}" for i in range(3) for j in (1, 2) for p in ("weight", "bias")}
    assert shapes["_logits.weight"] == (7, 16 * 6 * 7) and shapes["_value.weight"] == (1, 16 * 6 * 7)


def test_model_config_for_picks_the_conv_class_per_framework_and_the_mlp_refuses_a_conv_config():
    assert model_config_for("torch", CONV)["custom_model"] == CONV_MODEL
    assert model_config_for("tf2", CONV)["custom_model"] == TF_CONV_MODEL
    assert model_config_for("torch", CONV)["custom_model_config"] == CONV["custom_model_config"]
    # A model config written before the conv model (no "model" key) is still the MLP.
    assert model_config_for("torch", {"custom_model": ACTION_MASK_MODEL,
                                      "custom_model_config": {"hiddens": [8]}})["custom_model"] == ACTION_MASK_MODEL
    with pytest.raises(ValueError, match=re.escape("unknown model 'cnn': expected one of ['mlp', 'conv']")):
        model_config_for("torch", {"custom_model": ACTION_MASK_MODEL, "custom_model_config": {"model": "cnn"}})
    env = envs.make("tictactoe")
    with pytest.raises(ValueError, match="ActionMaskModel is the MLP"):
        ActionMaskModel(env.observation_space, env.action_space, 9, {}, "m", model="conv")


def test_a_conv_model_on_a_game_without_a_board_is_a_one_line_config_error():
    from league.config import load_config

    with pytest.raises(ConfigError, match=re.escape(
            "training.model: 'conv' needs a grid observation Box(H, W, C), but 'rps' observes shape (4,); "
            "use model 'mlp'")) as caught:
        load_config(None, {"game": "rps", "training": {"model": "conv"}})
    assert "\n" not in str(caught.value)
    config = load_config(None, {"game": "tictactoe", "training": {"model": "conv", "conv_channels": 32,
                                                                   "conv_blocks": 1}})
    assert config.training.custom_model_config() == {"model": "conv", "conv_channels": 32, "conv_blocks": 1}
    assert load_config(None, {}).training.model == "mlp"
    with pytest.raises(ConfigError, match=re.escape("training.conv_channels: Input should be greater than or "
                                                    "equal to 1 (got 0)")):
        load_config(None, {"game": "tictactoe", "training": {"model": "conv", "conv_channels": 0}})


# -- the TF2 twin ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("game", ["connect_four", "tictactoe"])
def test_torch_and_tf2_conv_models_give_the_same_logits_from_the_same_canonical_weights(game):
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    import tensorflow as tf

    from agents.tf_models import TFConvActionMaskModel
    from tests.test_tf2 import _eager

    _eager()
    env = envs.make(game)
    n = env.action_space.n
    tf_model = TFConvActionMaskModel(env.observation_space, env.action_space, n, {}, "tf_conv",
                                     model="conv", conv_channels=8, conv_blocks=2)
    torch_model = _torch_model(game)
    canonical = tf_model.canonical_weights()
    assert {k: v.shape for k, v in canonical.items()} == {
        k: tuple(v.shape) for k, v in torch_model.state_dict().items()}
    # Torch's weights into the TF model (torch -> canonical -> Keras), so the two are the torch model's function.
    torch_weights = {k: v.numpy() for k, v in torch_model.state_dict().items()}
    native = tf_model.native_weights(torch_weights)
    for var, value in zip(tf_model.variables(), native, strict=True):
        var.assign(value)
    for name, value in tf_model.canonical_weights().items():  # and back out unchanged
        np.testing.assert_array_equal(value, torch_weights[name], err_msg=name)

    boards, masks = _batch(game, 64, seed=1)
    with torch.no_grad():
        torch_logits, _ = torch_model.forward({"obs": {"observation": torch.as_tensor(boards),
                                                       "action_mask": torch.as_tensor(masks)}}, [], None)
        torch_values = torch_model.value_function().numpy()
    tf_logits, _ = tf_model.forward({"obs": {"observation": tf.constant(boards), "action_mask": tf.constant(masks)}},
                                    [], None)
    legal = masks == 1
    np.testing.assert_allclose(tf_logits.numpy()[legal], torch_logits.numpy()[legal], atol=1e-4)
    np.testing.assert_allclose(tf_model.value_function().numpy(), torch_values, atol=1e-4)
    probs = tf.nn.softmax(tf_logits).numpy()
    assert np.all(probs[masks == 0] == 0.0)
    with pytest.raises(ValueError, match=re.escape("_stem.weight has shape [8, 2, 3]")):
        tf_model.native_weights({**torch_weights, "_stem.weight": torch_weights["_stem.weight"][..., 0]})


# -- exports ---------------------------------------------------------------------------------------------

def _fresh_python(code: str, tmp_path: Path) -> dict:
    script = tmp_path / "fresh.py"
    script.write_text(textwrap.dedent(code))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.usefixtures("ray_session")
# Slow and out of the default run: after it, in the same process, remote env runners of later leagues
# died in RLlib's set_weights on a numpy.bytes_ array (three tests of tests/league failed that way; each
# passes alone). Not diagnosed yet; it is not the TF2 part (the failures stay without it).
@pytest.mark.slow
def test_a_conv_league_player_exports_and_plays_the_same_without_ray(tmp_path):
    from typer.testing import CliRunner

    from league.cli import app
    from league.manager import LeagueManager
    from league.rllib.export import build_policy
    from league.snapshots.fsspec_store import WEIGHTS_FILE, decode_weights
    from tests.conftest import tiny_config

    config = tiny_config(tmp_path, game="tictactoe", iterations=1, evaluation={"games": 0},
                         training={"model": "conv", "conv_channels": 8, "conv_blocks": 1},
                         roster={"main_exploiters": 0, "league_exploiters": 0, "scripted": ["random"]})
    with LeagueManager(config) as league:
        league.run()
        live = league.algorithm.get_policy("main").model
        assert isinstance(live, ConvActionMaskModel)  # the config reached RLlib
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["export", "main", "--run-dir", str(config.run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    info = json.loads((out / "opponent.json").read_text())
    assert info["model_config"]["custom_model_config"]["model"] == "conv"
    assert {"torchscript/model.pt", "onnx/model.onnx"} <= set(info["files"])

    boards, masks = _batch("tictactoe", 200, seed=2)
    np.savez(tmp_path / "batch.npz", obs=boards, mask=masks)
    assert _fresh_python(f"""
        import json, sys
        import numpy as np
        from agents.opponent import load_opponent
        data = np.load({str(tmp_path / "batch.npz")!r})
        probs = {{b: load_opponent({str(out)!r}, backend=b).action_probs_batch(data["obs"], data["mask"])
                 for b in ("torchscript", "onnx")}}
        np.savez({str(tmp_path / "probs.npz")!r}, **probs)
        print(json.dumps({{"ray_imported": "ray" in sys.modules}}))
    """, tmp_path) == {"ray_imported": False}

    # The live torch model, rebuilt from the export's weights as League builds every policy.
    env = envs.make("tictactoe")
    weights = decode_weights((out / WEIGHTS_FILE).read_bytes())
    policy = build_policy(env.observation_space, env.action_space, info["model_config"], weights)
    assert isinstance(policy.model, ConvActionMaskModel)
    expected = _torch_probs(policy.model, boards, masks)
    exported = np.load(tmp_path / "probs.npz")
    for backend in ("torchscript", "onnx"):
        assert np.abs(exported[backend] - expected).max() < 1e-5, backend
        assert (exported[backend][masks == 0] == 0).all(), backend

    # The same weights as a TF2 player, exported as a SavedModel: the twin plays the same moves.
    if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("tf_keras") is None:
        return
    from agents.opponent import _savedmodel_runner, _softmax_masked, flatten_input
    from agents.tf_models import TFConvActionMaskModel
    from league.rllib.export import write_formats
    from tests.test_tf2 import _eager

    _eager()
    tf_policy = build_policy(env.observation_space, env.action_space, info["model_config"], weights, framework="tf2")
    assert isinstance(tf_policy.model, TFConvActionMaskModel)
    write_formats(tf_policy, tmp_path / "tf2", ("savedmodel",), opset=17)
    run = _savedmodel_runner(tmp_path / "tf2" / "savedmodel")
    tf_probs = _softmax_masked(run(flatten_input(boards, masks, info["model_input"]["layout"])), masks)
    assert np.abs(tf_probs - expected).max() < 1e-5
