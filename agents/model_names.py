"""The names League's models are registered under with RLlib's ModelCatalog (no torch, no Ray here).

A snapshot's manifest and an RLlib policy's ``model`` config name :data:`ACTION_MASK_MODEL`;
:func:`agents.models.model_config_for` maps it to the framework's and model kind's class.
"""

#: Name under which :class:`agents.models.ActionMaskModel` is registered with RLlib's ModelCatalog.
ACTION_MASK_MODEL = "league_action_mask"

#: Name under which the TF2 twin (:class:`agents.tf_models.TFActionMaskModel`) is registered.
TF_ACTION_MASK_MODEL = "league_action_mask_tf"

#: Names under which the convolutional models are registered (torch, and its TF2 twin
#: :class:`agents.tf_models.TFConvActionMaskModel`); League's configs still name :data:`ACTION_MASK_MODEL`.
CONV_MODEL = "league_conv_mask"
TF_CONV_MODEL = "league_conv_mask_tf"

#: League's model kinds (``custom_model_config["model"]``, config ``training.model``).
MODELS = ("mlp", "conv")
