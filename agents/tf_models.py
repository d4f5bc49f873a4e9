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

from agents.models import MASKED_LOGIT, TF_ACTION_MASK_MODEL, check_activation

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


class TFActionMaskModel(TFModelV2):
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
        original = getattr(obs_space, "original_space", obs_space)
        in_size = int(math.prod(original["observation"].shape))
        hiddens = list(custom_model_config.get("hiddens", [256, 256]))
        activation = check_activation(custom_model_config.get("activation", "tanh"))
        observation = tf.keras.layers.Input(shape=(in_size,), name="observation")
        # (canonical name, Keras layer name); torch's nn.Sequential puts the activation at the odd indices.
        # Names only: RLlib collects a TFModelV2's variables from its attributes, so holding the
        # layers here as well would list every variable twice.
        self._layer_names: list[tuple[str, str]] = []

        def trunk(prefix: str) -> Any:
            out = observation
            for i, width in enumerate(hiddens):
                layer = tf.keras.layers.Dense(width, activation=activation, name=f"{prefix}_{i}")
                self._layer_names.append((f"_{prefix}_trunk.{2 * i}", layer.name))
                out = layer(out)
            return out

        policy_features = trunk("policy")
        value_features = trunk("value")
        logits_layer = tf.keras.layers.Dense(num_outputs, name="logits")
        value_layer = tf.keras.layers.Dense(1, name="value")
        self._layer_names += [("_logits", "logits"), ("_value", "value")]
        #: flat observation (float32) -> (logits before masking, value). The mask is applied in
        #: forward(), so the Keras model holds no Python function (a Lambda layer would).
        self.base_model = tf.keras.Model(observation, [logits_layer(policy_features), value_layer(value_features)],
                                         name="action_mask_model")
        self._value_out: Any = None

    def forward(self, input_dict, state, seq_lens):
        """Masked logits for a batch of observations."""
        obs = input_dict["obs"]
        flat = tf.reshape(tf.cast(obs["observation"], tf.float32), [tf.shape(obs["observation"])[0], -1])
        logits, self._value_out = self.base_model(flat)
        return mask_logits(logits, tf.cast(obs["action_mask"], tf.float32)), state

    def value_function(self):
        """State values of the last batch passed to :meth:`forward`."""
        if self._value_out is None:
            raise RuntimeError("forward() must run before value_function()")
        return tf.reshape(self._value_out, [-1])

    # -- League's canonical (torch) weight layout ------------------------------------

    def _canonical_variables(self) -> dict[str, tuple[Any, bool]]:
        """Canonical name -> (variable, whether it is a transposed Keras kernel)."""
        out: dict[str, tuple[Any, bool]] = {}
        for name, layer_name in self._layer_names:
            layer = self.base_model.get_layer(layer_name)
            out[f"{name}.weight"] = (layer.kernel, True)
            out[f"{name}.bias"] = (layer.bias, False)
        return out

    def canonical_weights(self) -> dict[str, np.ndarray]:
        """The weights in League's canonical layout (copies)."""
        return {name: (var.numpy().T if transpose else var.numpy()).copy()
                for name, (var, transpose) in self._canonical_variables().items()}

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
        for name, (var, transpose) in named.items():
            value = np.asarray(weights[name], dtype=np.float32)
            value = value.T if transpose else value
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(f"weights do not fit this model: {name} has shape {list(np.shape(weights[name]))}")
            by_variable[var.ref()] = value
        return [by_variable[var.ref()] for var in self.variables()]


def register_tf_models() -> None:
    """Register :class:`TFActionMaskModel` with RLlib's ModelCatalog as
    :data:`~agents.models.TF_ACTION_MASK_MODEL` (idempotent); League's configs reach it
    through :func:`agents.models.model_config_for`.

    Raises:
        ImportError: if ``tf.keras`` is Keras 3 (see :func:`check_keras`).
    """
    check_keras()
    ModelCatalog.register_custom_model(TF_ACTION_MASK_MODEL, TFActionMaskModel)
