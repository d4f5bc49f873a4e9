"""The action-masking torch model for RLlib's old API stack, and the model names League configures.

Observations are ``{"observation": ..., "action_mask": ...}`` dicts (see
:mod:`envs.wrappers`). The model adds ``log(mask)`` (clamped to ``MASKED_LOGIT``)
to its logits, so after the softmax every illegal action has probability
exactly zero. Policy and value function have separate MLP trunks (tanh or ReLU).

The TF2 twin is :class:`agents.tf_models.TFActionMaskModel` (imported only when a
run asks for ``tf2``). League's model configs (snapshot manifests, exports) name
:data:`ACTION_MASK_MODEL` whatever the framework; :func:`model_config_for` gives
RLlib the name registered for the framework at hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import torch
from ray.rllib.models import ModelCatalog
from ray.rllib.models.torch.torch_modelv2 import TorchModelV2
from torch import nn

#: Logit given to illegal actions. exp(-1e9) underflows to exactly 0 in float32, so
#: illegal actions get probability 0; unlike RLlib's FLOAT_MIN (-3.4e38) it does not
#: overflow when RLlib sums a batch of logits for its statistics.
MASKED_LOGIT = -1e9

#: Name under which :class:`ActionMaskModel` is registered with RLlib's ModelCatalog.
ACTION_MASK_MODEL = "league_action_mask"

#: Name under which the TF2 twin (:class:`agents.tf_models.TFActionMaskModel`) is registered.
TF_ACTION_MASK_MODEL = "league_action_mask_tf"

#: The deep-learning frameworks League trains with (RLlib's ``framework`` values).
FRAMEWORKS = ("torch", "tf2")


#: Hidden-layer activations the models accept (``custom_model_config["activation"]``), as torch modules.
ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}


def check_activation(name: str) -> str:
    """``name`` if it is one of :data:`ACTIVATIONS`, else a ValueError naming the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: expected one of {list(ACTIVATIONS)}")
    return name


def _mlp(in_size: int, hiddens: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hiddens:
        layers += [nn.Linear(in_size, width), ACTIVATIONS[activation]()]
        in_size = width
    return nn.Sequential(*layers)


def mask_logits(logits: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """Push the logits of illegal actions (mask 0) down by :data:`MASKED_LOGIT`."""
    return logits + torch.clamp(torch.log(action_mask), min=MASKED_LOGIT)


class ActionMaskModel(TorchModelV2, nn.Module):
    """An MLP policy/value model whose distribution never puts mass on illegal actions.

    ``custom_model_config`` keys: ``hiddens`` (list of layer widths, default
    ``[256, 256]``) and ``activation`` (``"tanh"``, the default, or ``"relu"``).
    """

    def __init__(
        self,
        obs_space: gym.Space,
        action_space: gym.Space,
        num_outputs: int,
        model_config: dict[str, Any],
        name: str,
        **custom_model_config: Any,
    ) -> None:
        TorchModelV2.__init__(self, obs_space, action_space, num_outputs, model_config, name)
        nn.Module.__init__(self)
        original = getattr(obs_space, "original_space", obs_space)
        in_size = int(math.prod(original["observation"].shape))
        hiddens = list(custom_model_config.get("hiddens", [256, 256]))
        activation = check_activation(custom_model_config.get("activation", "tanh"))
        self._policy_trunk = _mlp(in_size, hiddens, activation)
        self._value_trunk = _mlp(in_size, hiddens, activation)
        self._logits = nn.Linear(hiddens[-1] if hiddens else in_size, num_outputs)
        self._value = nn.Linear(hiddens[-1] if hiddens else in_size, 1)
        self._value_features: torch.Tensor | None = None

    def forward(self, input_dict, state, seq_lens):
        """Masked logits for a batch of observations."""
        obs = input_dict["obs"]
        flat = obs["observation"].float().reshape(obs["observation"].shape[0], -1)
        self._value_features = self._value_trunk(flat)
        logits = self._logits(self._policy_trunk(flat))
        return mask_logits(logits, obs["action_mask"].float()), state

    def value_function(self) -> torch.Tensor:
        """State values of the last batch passed to :meth:`forward`."""
        assert self._value_features is not None, "forward() must run before value_function()"
        return self._value(self._value_features).squeeze(1)


def register_models(framework: str = "torch") -> None:
    """Register League's models for ``framework`` with RLlib's ModelCatalog (idempotent).

    ``tf2`` imports TensorFlow (:mod:`agents.tf_models`); ``torch`` never does.
    """
    ModelCatalog.register_custom_model(ACTION_MASK_MODEL, ActionMaskModel)
    if framework == "tf2":
        from agents.tf_models import register_tf_models

        register_tf_models()


def model_config_for(framework: str, model_config: Mapping[str, Any]) -> dict[str, Any]:
    """The RLlib model config for ``framework`` of one League wrote (which names :data:`ACTION_MASK_MODEL`).

    RLlib's ModelCatalog holds one class per name, so the TF2 model is registered
    under its own name; this swaps it in for ``tf2``. Other configs pass unchanged.

    Example:
        >>> model_config_for("tf2", {"custom_model": ACTION_MASK_MODEL})
        {'custom_model': 'league_action_mask_tf'}
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}: expected one of {list(FRAMEWORKS)}")
    config = dict(model_config)
    if framework == "tf2" and config.get("custom_model") == ACTION_MASK_MODEL:
        config["custom_model"] = TF_ACTION_MASK_MODEL
    return config
