"""Agents: the action-masking model, scripted policies and their pure choosers, exported opponents.

Importing this package does not import Ray; import :mod:`agents.models` or
:mod:`agents.scripted` for the RLlib pieces. ``load_opponent`` (from
:mod:`agents.opponent`) loads a folder written by ``league export``.
"""

from typing import Any

__all__ = ["load_opponent"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import agents` stays light (no torch, no onnxruntime) until an opponent is loaded.
    if name == "load_opponent":
        from agents.opponent import load_opponent

        return load_opponent
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
