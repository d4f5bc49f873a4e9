"""Writing a player's policy in the formats that leave the league.

* ``rllib``: ``Policy.export_checkpoint`` with ``checkpoint_format="msgpack"``
  (RLlib's own format, loadable with ``Policy.from_checkpoint``; the policy
  state is msgpack with numeric arrays as raw bytes through msgpack-numpy, not
  RLlib's default cloudpickle, so no file of an export is a pickle; League
  itself never reads it back).
* ``torchscript`` (torch players): the bare model traced with ``torch.jit.trace``.
  RLlib's ``Policy.export_model`` without ``onnx`` pickles the whole Python model
  (``torch.save``), which needs RLlib and League's code to load and executes
  pickled code, so League traces the model itself: the same forward pass,
  frozen into a TorchScript graph.
* ``savedmodel`` (tf2 players): the bare model as a TensorFlow SavedModel, a
  ``tf.function`` over RLlib's ModelV2 call with serving signature
  ``serving_default(obs) -> {"output": masked logits}``. RLlib's own
  ``export_model`` saves only the inner Keras model, whose inputs are the
  observation and mask apart, not RLlib's flattened ``obs``.
* ``onnx``: torch players through ``Policy.export_model(onnx=opset)``, RLlib's
  ONNX export; tf2 players through ``tf2onnx`` on the same ``tf.function`` as
  the SavedModel (RLlib's TF ONNX export, too, takes only the inner Keras
  model). Without ``tf2onnx`` installed a tf2 player has no ONNX format.

Every model file takes ``obs`` (the flattened observation dict, RLlib's
preprocessor order) and returns masked logits. Needs no running Ray cluster.
"""

from __future__ import annotations

import importlib.util
import shutil
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.models import ModelCatalog
from ray.rllib.policy.policy import Policy

from agents.models import model_config_for, register_models
from league.errors import UsageError
from league.rllib.msgpack_guard import msgpack_left_unpatched
from league.rllib.weights import is_tf, model_of, set_named_weights

#: Every format ``league export`` knows; each goes to the folder of its name.
FORMATS = ("rllib", "torchscript", "savedmodel", "onnx")

#: The formats each framework's players can be exported in (``--format all``: those this Python can write).
FRAMEWORK_FORMATS = {"torch": ("rllib", "torchscript", "onnx"), "tf2": ("rllib", "savedmodel", "onnx")}

#: The model format :func:`agents.opponent.load_opponent` runs fastest to load, by framework.
MODEL_FORMAT = {"torch": "torchscript", "tf2": "savedmodel"}


def available_formats(framework: str) -> tuple[str, ...]:
    """The formats a ``framework`` player can be exported in with what this Python has installed."""
    formats: tuple[str, ...] = FRAMEWORK_FORMATS[framework]
    if framework == "tf2" and importlib.util.find_spec("tf2onnx") is None:
        formats = tuple(f for f in formats if f != "onnx")
    return formats


def check_formats(framework: str, formats: tuple[str, ...]) -> None:
    """Refuse formats a ``framework`` player cannot be written in here.

    Raises:
        UsageError: naming the format, the framework and what is possible.
    """
    for name in formats:
        if name not in FORMATS:
            raise UsageError(f"unknown export format {name!r}: expected one of {list(FORMATS)}")
        if name not in FRAMEWORK_FORMATS[framework]:
            raise UsageError(f"{name} is not an export format of {framework} players; a {framework} player "
                             f"exports as {', '.join(FRAMEWORK_FORMATS[framework])}")
        if name not in available_formats(framework):
            raise UsageError(f"ONNX export of a {framework} player needs tf2onnx: pip install tf2onnx "
                             f"(or export {', '.join(available_formats(framework))})")


def build_policy(observation_space: gym.Space, action_space: gym.Space, model_config: Mapping[str, Any],
                 weights: Mapping[str, np.ndarray], *, framework: str = "torch") -> Policy:
    """A PPO policy of ``framework`` (RLlib old API stack) with canonical ``weights``, outside any Algorithm.

    ``model_config`` is League's (naming :data:`agents.models.ACTION_MASK_MODEL`);
    the weights are in League's canonical layout (:mod:`league.rllib.weights`), so
    either framework's policy can be built from any snapshot.
    """
    register_models(framework)
    config = (PPOConfig()
              .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
              .framework(framework)
              .training(model=model_config_for(framework, model_config)))
    preprocessor = ModelCatalog.get_preprocessor_for_space(observation_space)
    if framework == "tf2":
        from ray.rllib.algorithms.ppo.ppo_tf_policy import PPOTF2Policy

        policy: Policy = PPOTF2Policy(preprocessor.observation_space, action_space, config.to_dict())
    else:
        from ray.rllib.algorithms.ppo.ppo_torch_policy import PPOTorchPolicy

        policy = PPOTorchPolicy(preprocessor.observation_space, action_space, config.to_dict())
    set_named_weights(policy, {k: np.asarray(v) for k, v in weights.items()})
    return policy


def input_layout(observation_space: gym.spaces.Dict) -> list[tuple[str, list[int]]]:
    """The order and shapes in which RLlib flattens the observation dict (keys sorted)."""
    return [(key, list(cast(gym.spaces.Box, space).shape)) for key, space in observation_space.spaces.items()]


class _BareModel(torch.nn.Module):
    """``obs`` (flat) -> masked logits, through RLlib's ModelV2 call (dict restore + forward)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.model({"obs": obs}, [], None)[0]


def _tf_bare_model(policy: Policy) -> Any:
    """A ``tf.Module`` whose ``serve(obs)`` (flat) gives ``{"output": masked logits}`` of a TF2 policy's model."""
    import tensorflow as tf

    model = model_of(policy)
    module = tf.Module(name="league_model")
    module.base_model = model.base_model  # tracks the variables the function reads
    module.serve = tf.function(
        lambda obs: {"output": model({"obs": obs}, [], None)[0]},  # RLlib's dict restore + forward
        input_signature=[tf.TensorSpec([None, int(cast(gym.spaces.Box, policy.observation_space).shape[0])],
                                       tf.float32, name="obs")])
    return module


#: Keys of a policy's config that RLlib 2.60's msgpack checkpoint cannot hold (a table of classes that
#: ``AlgorithmConfig._serialize_dict`` leaves as classes); the new API stack's metrics read them, an
#: old-stack policy built from the checkpoint does not.
UNSERIALIZABLE_CONFIG_KEYS = ("stats_cls_lookup",)


def msgpack_policy_state(policy: Policy) -> dict[str, Any]:
    """``policy.get_state()`` that ``Policy.export_checkpoint(checkpoint_format="msgpack")`` can write.

    RLlib serializes the known class-valued config entries to class paths itself;
    this drops the ones it misses (:data:`UNSERIALIZABLE_CONFIG_KEYS`), which
    otherwise make msgpack fail with ``can not serialize 'ABCMeta' object``, and
    turns TensorFlow variables (a tf2 policy's optimizer state) into numpy arrays.
    """
    state = _as_arrays(policy.get_state())
    config = state["policy_spec"]["config"]
    for key in UNSERIALIZABLE_CONFIG_KEYS:
        config.pop(key, None)
    return state


def _as_arrays(node: Any) -> Any:
    """``node`` with each TensorFlow variable or tensor (anything with ``.numpy()``) as a numpy array."""
    if isinstance(node, dict):
        return {key: _as_arrays(value) for key, value in node.items()}
    if isinstance(node, (list, tuple)):
        return type(node)(_as_arrays(value) for value in node)
    if not isinstance(node, (np.ndarray, np.generic)) and callable(getattr(node, "numpy", None)):
        return np.asarray(node.numpy())
    return node


def write_formats(policy: Policy, out: Path, formats: tuple[str, ...], *, opset: int) -> list[Path]:
    """Write ``formats`` of ``policy`` under ``out``; return the files written.

    Raises:
        UsageError: for a format the policy's framework does not have (see :func:`check_formats`).
    """
    framework = "tf2" if is_tf(policy) else "torch"
    check_formats(framework, formats)
    written: list[Path] = []
    if "rllib" in formats:
        target = out / "rllib"
        shutil.rmtree(target, ignore_errors=True)
        with msgpack_left_unpatched():  # RLlib patches msgpack for the process; Ray serialises through it
            policy.export_checkpoint(str(target), policy_state=msgpack_policy_state(policy),
                                     checkpoint_format="msgpack")
        written += sorted(p for p in target.rglob("*") if p.is_file())
    if "torchscript" in formats:
        target = out / "torchscript" / "model.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        example = torch.as_tensor(np.stack([policy.observation_space.sample() for _ in range(2)]))
        bare = _BareModel(model_of(policy)).eval()
        with torch.no_grad(), warnings.catch_warnings():
            # RLlib's dict restore checks the input's width in Python; it is fixed, so the trace holds.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(bare, example)
        traced.save(str(target))
        written.append(target)
    tf_module = _tf_bare_model(policy) if framework == "tf2" and {"savedmodel", "onnx"} & set(formats) else None
    if "savedmodel" in formats:
        import tensorflow as tf

        target = out / "savedmodel"
        shutil.rmtree(target, ignore_errors=True)
        assert tf_module is not None  # check_formats: savedmodel is a tf2 format
        tf.saved_model.save(tf_module, str(target),
                            signatures={"serving_default": tf_module.serve.get_concrete_function()})
        written += sorted(p for p in target.rglob("*") if p.is_file())
    if "onnx" in formats:
        target = out / "onnx"
        shutil.rmtree(target, ignore_errors=True)
        if framework == "tf2":
            import tf2onnx

            target.mkdir(parents=True)
            assert tf_module is not None  # built above for a tf2 onnx export
            tf2onnx.convert.from_function(tf_module.serve, input_signature=tf_module.serve.input_signature,
                                          opset=opset, output_path=str(target / "model.onnx"))
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # as for TorchScript above
                policy.export_model(str(target), onnx=opset)
        written.append(target / "model.onnx")
    return written
