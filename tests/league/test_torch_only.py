"""league.torch_only: RLlib's switch that keeps TensorFlow out of a torch league's processes."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from league.torch_only import NO_TF_ENV, skip_tensorflow

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="TensorFlow is not installed")
def test_a_torch_process_imports_rllib_and_builds_ppo_without_tensorflow_or_a_notice():
    code = textwrap.dedent("""
        import json, sys
        from league.torch_only import skip_tensorflow
        took = skip_tensorflow("torch")
        from ray.rllib.algorithms.ppo.ppo_torch_policy import PPOTorchPolicy
        from ray.rllib.utils.framework import try_import_tf
        print(json.dumps({"took": took, "tensorflow": "tensorflow" in sys.modules, "tf_version": try_import_tf()[2]}))
    """)
    env = {k: v for k, v in os.environ.items() if k != NO_TF_ENV}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"took": True, "tensorflow": False, "tf_version": None}
    assert "Not importing TensorFlow" not in done.stderr


def test_a_process_that_imported_rllib_or_runs_tf2_is_left_as_it_is(monkeypatch):
    monkeypatch.delenv(NO_TF_ENV, raising=False)
    assert skip_tensorflow("tf2") is False
    import ray.rllib  # noqa: F401 - this test session has imported RLlib, with TensorFlow if installed

    assert skip_tensorflow("torch") is False
    assert NO_TF_ENV not in os.environ
