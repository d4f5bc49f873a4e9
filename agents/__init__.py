"""Agents: the action-masking models, scripted policies and their pure choosers, exported opponents.

Importing this package does not import Ray; import :mod:`agents.models` (torch),
:mod:`agents.tf_models` (TF2) or :mod:`agents.scripted` for the RLlib pieces.
``load_opponent`` (from :mod:`agents.opponent`) loads a folder written by ``league export``.
"""

import importlib.util
import os
from typing import Any

__all__ = ["load_opponent", "use_legacy_keras"]

#: The environment variable that makes TensorFlow's ``tf.keras`` Keras 2 (the ``tf-keras`` package).
LEGACY_KERAS_ENV = "TF_USE_LEGACY_KERAS"


def use_legacy_keras() -> None:
    """Have TensorFlow use Keras 2 (``tf-keras``) in this process and the Ray workers it starts.

    RLlib's TF2 policies (old API stack) are written for Keras 2: with Keras 3,
    TensorFlow's default since 2.16, their optimizer state cannot be read
    (``optimizer.variables()``). TensorFlow reads ``TF_USE_LEGACY_KERAS`` once,
    when it is first imported, and RLlib imports TensorFlow, if it is installed,
    with ``ray.rllib``; so this runs when the ``agents`` package is imported
    (``league`` imports it first thing). Local Ray workers inherit the variable;
    :func:`league.rllib.runtime.ensure_ray` passes it to a joined cluster's.
    Nothing changes without ``tf-keras`` installed or when the variable is already set.
    """
    if importlib.util.find_spec("tf_keras") is not None:
        os.environ.setdefault(LEGACY_KERAS_ENV, "1")


# Before anything imports TensorFlow (see use_legacy_keras); a torch league never uses Keras.
use_legacy_keras()


def __getattr__(name: str) -> Any:
    # Lazy, so `import agents` stays light (no torch, no onnxruntime) until an opponent is loaded.
    if name == "load_opponent":
        from agents.opponent import load_opponent

        return load_opponent
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
