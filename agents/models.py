"""The action-masking torch model for RLlib's old API stack, and the model names League configures.

Observations are ``{"observation": ..., "action_mask": ...}`` dicts (see
:mod:`envs.wrappers`). The model adds ``log(mask)`` (clamped to ``MASKED_LOGIT``)
to its logits, so after the softmax every illegal action has probability
exactly zero. Policy and value function have separate MLP trunks (tanh or ReLU).

:class:`ConvActionMaskModel` is the board-seeing alternative (issue 19): a
residual convolutional tower over a ``Box(H, W, C)`` observation (Connect Four's
6x7x2, tic-tac-toe's 3x3x2), masked the same way. Both are League's one model
name, :data:`ACTION_MASK_MODEL`; ``custom_model_config["model"]`` (``"mlp"``,
the default and what every older snapshot means, or ``"conv"``) picks the class.

The TF2 twin is :class:`agents.tf_models.TFActionMaskModel` (imported only when a
run asks for ``tf2``). League's model configs (snapshot manifests, exports) name
:data:`ACTION_MASK_MODEL` whatever the framework; :func:`model_config_for` gives
RLlib the name registered for the framework and model kind at hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, cast

import gymnasium as gym
import torch
from ray.rllib.models import ModelCatalog
from ray.rllib.models.torch.torch_modelv2 import TorchModelV2
from torch import nn

#: Logit given to illegal actions. exp(-1e9) underflows to exactly 0 in float32, so
#: illegal actions get probability 0; unlike RLlib's FLOAT_MIN (-3.4e38) it does not
#: overflow when RLlib sums a batch of logits for its statistics.
MASKED_LOGIT = -1e9

# The registered names (agents/model_names.py, importable without torch), re-exported here.
from agents.model_names import (  # noqa: E402
    ACTION_MASK_MODEL,
    CONV_MODEL,
    MODELS,
    TF_ACTION_MASK_MODEL,
    TF_CONV_MODEL,
)

#: The RLlib name of each (framework, model kind).
_REGISTERED = {("torch", "mlp"): ACTION_MASK_MODEL, ("tf2", "mlp"): TF_ACTION_MASK_MODEL,
               ("torch", "conv"): CONV_MODEL, ("tf2", "conv"): TF_CONV_MODEL}

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


def model_kind(custom_model_config: Mapping[str, Any]) -> str:
    """The model kind a ``custom_model_config`` asks for (``"mlp"`` when it names none, as older snapshots do).

    Raises:
        ValueError: for a kind League has no model for.
    """
    kind = custom_model_config.get("model", "mlp")
    if kind not in MODELS:
        raise ValueError(f"unknown model {kind!r}: expected one of {list(MODELS)}")
    return str(kind)


def observation_shape(observation_space: gym.Space) -> tuple[int, ...]:
    """The shape of the ``observation`` Box of a model's observation space (a Dict, or its RLlib-flattened form)."""
    # RLlib's flattened space keeps the Dict as original_space; League's observation is always a Box.
    original = cast(gym.spaces.Dict, getattr(observation_space, "original_space", observation_space))
    return cast(gym.spaces.Box, original["observation"]).shape


def grid_shape(observation_space: gym.Space) -> tuple[int, int, int]:
    """``(H, W, C)`` of a model's observation space (a Dict with ``observation``, or its RLlib-flattened form).

    Raises:
        ValueError: if the observation is not 3-D, naming its shape.
    """
    shape = tuple(observation_shape(observation_space))
    if len(shape) != 3:
        raise ValueError(f"the conv model needs a grid observation Box(H, W, C); this game's observation has "
                         f"shape {shape}")
    return int(shape[0]), int(shape[1]), int(shape[2])


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
        in_size = int(math.prod(observation_shape(obs_space)))
        if model_kind(custom_model_config) != "mlp":  # a conv config that bypassed model_config_for
            raise ValueError(f"ActionMaskModel is the MLP; model {custom_model_config['model']!r} is built by "
                             "the name agents.models.model_config_for gives")
        hiddens = list(custom_model_config.get("hiddens", [256, 256]))
        activation = check_activation(custom_model_config.get("activation", "tanh"))
        self._policy_trunk = _mlp(in_size, hiddens, activation)
        self._value_trunk = _mlp(in_size, hiddens, activation)
        self._logits = nn.Linear(hiddens[-1] if hiddens else in_size, num_outputs)
        self._value = nn.Linear(hiddens[-1] if hiddens else in_size, 1)
        self._value_features: torch.Tensor | None = None

    def forward(self, input_dict: dict[str, Any], state: list[Any],
                seq_lens: Any) -> tuple[torch.Tensor, list[Any]]:
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


class _ResidualBlock(nn.Module):
    """Two 3x3 convolutions (padding same) with a skip: ``relu(x + conv2(relu(conv1(x))))`` (He et al. 2016)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))


class ConvActionMaskModel(TorchModelV2, nn.Module):
    """A residual convolutional policy/value model for ``Box(H, W, C)`` boards, masked like :class:`ActionMaskModel`.

    A 3x3 stem convolution to ``conv_channels`` channels (ReLU), ``conv_blocks``
    residual blocks, then two linear heads on the flattened tower (NCHW order):
    the logits (masked) and the value (plain linear, as the MLP's). Policy and
    value share the tower, as in AlphaZero (Silver et al. 2018).

    ``custom_model_config`` keys: ``model`` (``"conv"``), ``conv_channels`` (default 64)
    and ``conv_blocks`` (default 2).

    Canonical weight names (torch's; the TF2 twin converts to them): ``_stem.weight``
    (out x in x 3 x 3), ``_stem.bias``, ``_blocks.<i>.conv1.weight``, ...,
    ``_logits.weight`` (actions x C*H*W), ``_logits.bias``, ``_value.weight``, ``_value.bias``.
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
        height, width, depth = grid_shape(obs_space)
        channels = int(custom_model_config.get("conv_channels", 64))
        blocks = int(custom_model_config.get("conv_blocks", 2))
        self._stem = nn.Conv2d(depth, channels, 3, padding=1)
        self._blocks = nn.Sequential(*[_ResidualBlock(channels) for _ in range(blocks)])
        self._logits = nn.Linear(channels * height * width, num_outputs)
        self._value = nn.Linear(channels * height * width, 1)
        self._features: torch.Tensor | None = None

    def forward(self, input_dict: dict[str, Any], state: list[Any],
                seq_lens: Any) -> tuple[torch.Tensor, list[Any]]:
        """Masked logits for a batch of ``(B, H, W, C)`` observations."""
        obs = input_dict["obs"]
        board = obs["observation"].float().permute(0, 3, 1, 2)  # NHWC -> NCHW
        self._features = self._blocks(torch.relu(self._stem(board))).flatten(1)
        return mask_logits(self._logits(self._features), obs["action_mask"].float()), state

    def value_function(self) -> torch.Tensor:
        """State values of the last batch passed to :meth:`forward`."""
        assert self._features is not None, "forward() must run before value_function()"
        return self._value(self._features).squeeze(1)


def register_models(framework: str = "torch") -> None:
    """Register League's models for ``framework`` with RLlib's ModelCatalog (idempotent).

    ``tf2`` imports TensorFlow (:mod:`agents.tf_models`); ``torch`` never does.
    """
    ModelCatalog.register_custom_model(ACTION_MASK_MODEL, ActionMaskModel)
    ModelCatalog.register_custom_model(CONV_MODEL, ConvActionMaskModel)
    if framework == "tf2":
        from agents.tf_models import register_tf_models

        register_tf_models()


def model_config_for(framework: str, model_config: Mapping[str, Any]) -> dict[str, Any]:
    """The RLlib model config for ``framework`` of one League wrote (which names :data:`ACTION_MASK_MODEL`).

    RLlib's ModelCatalog holds one class per name, so each framework's MLP and conv
    model is registered under its own name; this swaps in the one for ``framework``
    and ``custom_model_config["model"]`` (see :func:`model_kind`). Other configs pass unchanged.

    Example:
        >>> model_config_for("tf2", {"custom_model": ACTION_MASK_MODEL})
        {'custom_model': 'league_action_mask_tf'}
        >>> model_config_for("torch", {"custom_model": ACTION_MASK_MODEL,
        ...                            "custom_model_config": {"model": "conv"}})["custom_model"]
        'league_conv_mask'
    """
    if framework not in FRAMEWORKS:
        raise ValueError(f"unknown framework {framework!r}: expected one of {list(FRAMEWORKS)}")
    config = dict(model_config)
    if config.get("custom_model") == ACTION_MASK_MODEL:
        kind = model_kind(config.get("custom_model_config") or {})
        config["custom_model"] = _REGISTERED[(framework, kind)]
    return config
