"""league.quiet: third-party start-up notices are held back, everything else still reaches stderr."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from league.quiet import filtered_stderr, is_notice

# As TensorFlow 2.21 and Ray 2.60 write them on a machine without a GPU.
NOTICES = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796160250.957048   20188 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
    "GPU will not be used.",
    "\x1b[36m(pid=25829)\x1b[0m I0000 00:00:1796160674.016400   25829 cudart_stub.cc:31] Could not find cuda "
    "drivers on your machine, GPU will not be used.",
    "I0000 00:00:1796160357.712027   21701 cpu_feature_guard.cc:227] This TensorFlow binary is optimized "
    "to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
    "I0000 00:00:1700000000.000000 1 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
]


def test_known_notices_are_recognised_and_errors_are_not():
    assert all(is_notice(line) for line in NOTICES)
    for line in ("Traceback (most recent call last):", "ValueError: bad value",
                 "E0000 00:00:1796160250.957048 20188 some_op.cc:12] a real native error",
                 "error: game: unknown game 'x'"):
        assert not is_notice(line)


def test_filtered_stderr_drops_native_notices_and_writes_back_the_rest(capfd):
    with filtered_stderr():
        os.write(2, ("\n".join(NOTICES) + "\nE0000 00:00:1.0 1 op.cc:1] a real native error\n").encode())
    err = capfd.readouterr().err
    assert err == "E0000 00:00:1.0 1 op.cc:1] a real native error\n"


def test_filtered_stderr_writes_back_even_when_the_block_raises(capfd):
    try:
        with filtered_stderr():
            os.write(2, b"kept line\n" + NOTICES[1].encode() + b"\n")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert capfd.readouterr().err == "kept line\n"


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow (the tf extra)")
def test_importing_tensorflow_is_quiet_after_quiet_third_party_and_loud_after_loud_third_party():
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "LEAGUE_QUIET_THIRD_PARTY")}

    def stderr_of(calls: str) -> str:
        code = f"from league.quiet import loud_third_party, quiet_third_party\n{calls}\nimport tensorflow\n"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout + result.stderr

    loud = stderr_of("quiet_third_party(); loud_third_party()")
    notices = [line for line in loud.splitlines() if is_notice(line)]
    if not notices:
        pytest.skip("this machine's TensorFlow prints no start-up notices")
    quiet = stderr_of("quiet_third_party()")
    assert not [line for line in quiet.splitlines() if is_notice(line)], quiet
    assert not any(word in quiet for word in ("cudart", "cuda drivers", "oneDNN", "absl::InitializeLog"))
