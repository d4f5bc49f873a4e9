"""Tiny-budget smoke runs of the scripts under scripts/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_ledger_prints_a_json_line_with_both_rates():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_ledger.py"), "--matches", "50",
                          "--batch", "10"], capture_output=True, text=True, check=True, cwd=ROOT)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["benchmark"] == "ledger_writes" and data["matches"] == 50
    assert data["single_per_s"] > 0 and data["pipelined_per_s"] > 0
