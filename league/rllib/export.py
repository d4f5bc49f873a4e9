"""Writing a player's policy in the formats that leave the league.

* ``rllib``: ``Policy.export_checkpoint`` (RLlib's own format, loadable with
  ``Policy.from_checkpoint``; RLlib writes the policy state with cloudpickle,
  so only load checkpoints you trust; League itself never reads it back).
* ``torchscript``: the bare model traced with ``torch.jit.trace``. RLlib's
  ``Policy.export_model`` without ``onnx`` pickles the whole Python model
  (``torch.save``), which needs RLlib and League's code to load and executes
  pickled code, so League traces the model itself: the same forward pass,
  frozen into a TorchScript graph.
* ``onnx``: ``Policy.export_model(onnx=opset)``, RLlib's ONNX export.

Both model files take ``obs`` (the flattened observation dict, RLlib's
preprocessor order) and return masked logits. Needs no running Ray cluster.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
import torch
from ray.rllib.algorithms.ppo import PPOConfig
from ray.rllib.algorithms.ppo.ppo_torch_policy import PPOTorchPolicy
from ray.rllib.models import ModelCatalog
from ray.rllib.policy.policy import Policy

from agents.models import register_models

#: Formats ``league export`` writes, and the folder each goes to.
FORMATS = ("rllib", "torchscript", "onnx")


def build_policy(observation_space: gym.Space, action_space: gym.Space, model_config: Mapping[str, Any],
                 weights: Mapping[str, np.ndarray]) -> PPOTorchPolicy:
    """A PPO torch policy (RLlib old API stack) with ``weights``, outside any Algorithm."""
    register_models()
    config = (PPOConfig()
              .api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
              .framework("torch")
              .training(model=dict(model_config)))
    preprocessor = ModelCatalog.get_preprocessor_for_space(observation_space)
    policy = PPOTorchPolicy(preprocessor.observation_space, action_space, config.to_dict())
    policy.set_weights({k: np.asarray(v) for k, v in weights.items()})
    return policy


def input_layout(observation_space: gym.spaces.Dict) -> list[tuple[str, list[int]]]:
    """The order and shapes in which RLlib flattens the observation dict (keys sorted)."""
    return [(key, list(space.shape)) for key, space in observation_space.spaces.items()]


class _BareModel(torch.nn.Module):
    """``obs`` (flat) -> masked logits, through RLlib's ModelV2 call (dict restore + forward)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.model({"obs": obs}, [], None)[0]


def write_formats(policy: Policy, out: Path, formats: tuple[str, ...], *, opset: int) -> list[Path]:
    """Write ``formats`` of ``policy`` under ``out``; return the files written."""
    written: list[Path] = []
    if "rllib" in formats:
        target = out / "rllib"
        shutil.rmtree(target, ignore_errors=True)
        policy.export_checkpoint(str(target))
        written += sorted(p for p in target.rglob("*") if p.is_file())
    if "torchscript" in formats:
        target = out / "torchscript" / "model.pt"
        target.parent.mkdir(parents=True, exist_ok=True)
        example = torch.as_tensor(np.stack([policy.observation_space.sample() for _ in range(2)]))
        bare = _BareModel(policy.model).eval()
        with torch.no_grad(), warnings.catch_warnings():
            # RLlib's dict restore checks the input's width in Python; it is fixed, so the trace holds.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            traced = torch.jit.trace(bare, example)
        traced.save(str(target))
        written.append(target)
    if "onnx" in formats:
        target = out / "onnx"
        shutil.rmtree(target, ignore_errors=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)  # as for TorchScript above
            policy.export_model(str(target), onnx=opset)
        written.append(target / "model.onnx")
    return written
