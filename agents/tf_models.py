"""The action-masking TF2 model for RLlib's old API stack (``framework = "tf2"``).

The same network as :class:`agents.models.ActionMaskModel`: separate policy and
value MLP trunks (tanh or ReLU), a logits head whose illegal actions are pushed down by
``clamp(log(mask), MASKED_LOGIT)`` so that their probability is exactly zero.

Importing this module imports TensorFlow (through RLlib's ``try_import_tf``);
League imports it only when a run, an export or a test asks for ``tf2``, so a
torch league never loads it. RLlib's TF2 policies need Keras 2: TensorFlow must
be imported with ``TF_USE_LEGACY_KERAS=1`` and ``tf-keras`` installed (see
:func:`agents.use_legacy_keras`).

Weights leave the model in League's *canonical layout*, the torch model's:
``_policy_trunk.0.weight`` (shape out x in), ``_policy_trunk.0.bias``, ...,
``_logits.weight``, ``_value.bias``. Keras kernels are (in x out), so they are
transposed on the way out and back. A snapshot or export is therefore the same
safetensors file whichever framework trained it, and the two models compute the
same logits from it.

:class:`TFConvActionMaskModel` is the twin of :class:`agents.models.ConvActionMaskModel`.
Keras convolutions are NHWC with kernels (kh x kw x in x out), torch's NCHW with
(out x in x kh x kw): kernels are permuted on the way out and back, and the tower is
permuted to NCHW before it is flattened, so the heads' weights are torch's too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from ray.rllib.models import ModelCatalog
from ray.rllib.models.tf.tf_modelv2 import TFModelV2
from ray.rllib.utils.framework import try_import_tf

from agents.models import (
    MASKED_LOGIT,
    TF_ACTION_MASK_MODEL,
    TF_CONV_MODEL,
    check_activation,
    grid_shape,
    observation_shape,
)

tf1, tf, _ = try_import_tf()
if not tf:
    raise ImportError("the tf2 framework needs TensorFlow: pip install 'league[tf]'")


def check_keras() -> None:
    """Refuse Keras 3 as ``tf.keras``: RLlib's TF2 policies need Keras 2 (``tf-keras``).

    Raises:
        ImportError: saying what to install or set.
    """
    name = tf.keras.__name__
    if not name.startswith("tf_keras"):
        raise ImportError(
            f"RLlib's tf2 policies need Keras 2, but tf.keras is {name!r}: install tf-keras "
            "(pip install 'league[tf]') and set TF_USE_LEGACY_KERAS=1 before TensorFlow is imported "
            "(importing league or agents first does that)")


def mask_logits(logits: Any, action_mask: Any) -> Any:
    """Push the logits of illegal actions (mask 0) down by :data:`MASKED_LOGIT` (TF tensors)."""
    return logits + tf.maximum(tf.math.log(action_mask), MASKED_LOGIT)


#: Axis order that turns a Keras kernel into torch's: Dense (in, out) -> (out, in);
#: Conv2D (kh, kw, in, out) -> (out, in, kh, kw).
DENSE_TO_TORCH = (1, 0)
CONV_TO_TORCH = (3, 2, 0, 1)


class _CanonicalLayout:
    """League's canonical (torch) weight layout for a TF2 model with ``base_model`` and ``_layer_names``.

    ``_layer_names`` lists (canonical name, Keras layer name, kernel axes to torch's).
    """

    base_model: Any
    _layer_names: list[tuple[str, str, tuple[int, ...]]]

    def _canonical_variables(self) -> dict[str, tuple[Any, tuple[int, ...] | None]]:
        """Canonical name -> (variable, the axes that turn it into torch's layout, or None)."""
        out: dict[str, tuple[Any, tuple[int, ...] | None]] = {}
        for name, layer_name, axes in self._layer_names:
            layer = self.base_model.get_layer(layer_name)
            out[f"{name}.weight"] = (layer.kernel, axes)
            out[f"{name}.bias"] = (layer.bias, None)
        return out

    def canonical_weights(self) -> dict[str, np.ndarray]:
        """The weights in League's canonical layout (copies)."""
        return {name: (var.numpy() if axes is None else np.transpose(var.numpy(), axes)).copy()
                for name, (var, axes) in self._canonical_variables().items()}

    def native_weights(self, weights: Mapping[str, Any]) -> list[np.ndarray]:
        """Canonical ``weights`` as the list RLlib's ``Policy.set_weights`` takes (the order of ``variables()``).

        Raises:
            ValueError: naming the missing, unexpected or misshapen keys.
        """
        named = self._canonical_variables()
        missing, extra = sorted(set(named) - set(weights)), sorted(set(weights) - set(named))
        if missing or extra:
            raise ValueError(f"weights do not fit this model: missing {missing}, unexpected {extra}")
        by_variable = {}
        for name, (var, axes) in named.items():
            value = np.asarray(weights[name], dtype=np.float32)
            misshapen = ValueError(f"weights do not fit this model: {name} has shape {list(value.shape)}")
            if axes is not None:
                if value.ndim != len(axes):
                    raise misshapen
                value = np.transpose(value, np.argsort(axes))
            if tuple(value.shape) != tuple(var.shape):
                raise misshapen
            by_variable[var.ref()] = value
        return [by_variable[var.ref()] for var in self.variables()]  # type: ignore[attr-defined]  # TFModelV2's


class TFActionMaskModel(_CanonicalLayout, TFModelV2):
    """An MLP policy/value model whose distribution never puts mass on illegal actions.

    ``custom_model_config`` keys: ``hiddens`` (list of layer widths, default ``[256, 256]``) and
    ``activation`` (``"tanh"``, the default, or ``"relu"``).
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
        super().__init__(obs_space, action_space, num_outputs, model_config, name)
        in_size = int(math.prod(observation_shape(obs_space)))
        hiddens = list(custom_model_config.get("hiddens", [256, 256]))
        activation = check_activation(custom_model_config.get("activation", "tanh"))
        observation = tf.keras.layers.Input(shape=(in_size,), name="observation")
        # (canonical name, Keras layer name); torch's nn.Sequential puts the activation at the odd indices.
        # Names only: RLlib collects a TFModelV2's variables from its attributes, so holding the
        # layers here as well would list every variable twice.
        self._layer_names: list[tuple[str, str, tuple[int, ...]]] = []

        def trunk(prefix: str) -> Any:
            out = observation
            for i, width in enumerate(hiddens):
                layer = tf.keras.layers.Dense(width, activation=activation, name=f"{prefix}_{i}")
                self._layer_names.append((f"_{prefix}_trunk.{2 * i}", layer.name, DENSE_TO_TORCH))
                out = layer(out)
            return out

        policy_features = trunk("policy")
        value_features = trunk("value")
        logits_layer = tf.keras.layers.Dense(num_outputs, name="logits")
        value_layer = tf.keras.layers.Dense(1, name="value")
        self._layer_names += [("_logits", "logits", DENSE_TO_TORCH), ("_value", "value", DENSE_TO_TORCH)]
        #: flat observation (float32) -> (logits before masking, value). The mask is applied in
        #: forward(), so the Keras model holds no Python function (a Lambda layer would).
        self.base_model = tf.keras.Model(observation, [logits_layer(policy_features), value_layer(value_features)],
                                         name="action_mask_model")
        self._value_out: Any = None

    def forward(self, input_dict: dict[str, Any], state: list[Any], seq_lens: Any) -> tuple[Any, list[Any]]:
        """Masked logits for a batch of observations."""
        obs = input_dict["obs"]
        flat = tf.reshape(tf.cast(obs["observation"], tf.float32), [tf.shape(obs["observation"])[0], -1])
        logits, self._value_out = self.base_model(flat)
        return mask_logits(logits, tf.cast(obs["action_mask"], tf.float32)), state

    def value_function(self) -> Any:
        """State values of the last batch passed to :meth:`forward`."""
        if self._value_out is None:
            raise RuntimeError("forward() must run before value_function()")
        return tf.reshape(self._value_out, [-1])


class TFConvActionMaskModel(_CanonicalLayout, TFModelV2):
    """The TF2 twin of :class:`agents.models.ConvActionMaskModel`: the same residual tower, heads and mask.

    ``custom_model_config`` keys: ``model`` (``"conv"``), ``conv_channels`` (default 64) and
    ``conv_blocks`` (default 2).
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
        super().__init__(obs_space, action_space, num_outputs, model_config, name)
        height, width, depth = grid_shape(obs_space)
        channels = int(custom_model_config.get("conv_channels", 64))
        blocks = int(custom_model_config.get("conv_blocks", 2))
        layers = tf.keras.layers
        board = layers.Input(shape=(height, width, depth), name="observation")

        def conv(layer_name: str, canonical: str) -> Any:
            self._layer_names.append((canonical, layer_name, CONV_TO_TORCH))
            return layers.Conv2D(channels, 3, padding="same", name=layer_name)

        # Names only, as in TFActionMaskModel: RLlib collects a TFModelV2's variables from its attributes.
        self._layer_names: list[tuple[str, str, tuple[int, ...]]] = []
        out = layers.ReLU()(conv("stem", "_stem")(board))
        for i in range(blocks):
            inner = layers.ReLU()(conv(f"block{i}_conv1", f"_blocks.{i}.conv1")(out))
            out = layers.ReLU()(layers.Add()([out, conv(f"block{i}_conv2", f"_blocks.{i}.conv2")(inner)]))
        features = layers.Flatten()(layers.Permute((3, 1, 2))(out))  # flatten in torch's NCHW order
        self._layer_names += [("_logits", "logits", DENSE_TO_TORCH), ("_value", "value", DENSE_TO_TORCH)]
        #: board (float32, NHWC) -> (logits before masking, value); the mask is applied in forward().
        self.base_model = tf.keras.Model(
            board, [layers.Dense(num_outputs, name="logits")(features), layers.Dense(1, name="value")(features)],
            name="conv_action_mask_model")
        self._value_out: Any = None

    def forward(self, input_dict: dict[str, Any], state: list[Any], seq_lens: Any) -> tuple[Any, list[Any]]:
        """Masked logits for a batch of ``(B, H, W, C)`` observations."""
        obs = input_dict["obs"]
        logits, self._value_out = self.base_model(tf.cast(obs["observation"], tf.float32))
        return mask_logits(logits, tf.cast(obs["action_mask"], tf.float32)), state

    def value_function(self) -> Any:
        """State values of the last batch passed to :meth:`forward`."""
        if self._value_out is None:
            raise RuntimeError("forward() must run before value_function()")
        return tf.reshape(self._value_out, [-1])


def register_tf_models() -> None:
    """Register :class:`TFActionMaskModel` and :class:`TFConvActionMaskModel` with RLlib's ModelCatalog as
    :data:`~agents.models.TF_ACTION_MASK_MODEL` and :data:`~agents.models.TF_CONV_MODEL` (idempotent);
    League's configs reach them through :func:`agents.models.model_config_for`.

    Raises:
        ImportError: if ``tf.keras`` is Keras 3 (see :func:`check_keras`).
    """
    check_keras()
    ModelCatalog.register_custom_model(TF_ACTION_MASK_MODEL, TFActionMaskModel)
    ModelCatalog.register_custom_model(TF_CONV_MODEL, TFConvActionMaskModel)
