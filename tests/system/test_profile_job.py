"""The job profile's smoke run (bench/profile_job.py), so that it never rots: it needs only the
bundled tiny model, not the export extra."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_job_profile_runs_and_fused_output_equals_staged(tmp_path) -> None:
    """bench/profile_job.py end to end on a small corpus: every phase and truncated case is
    measured, and ``annotators.fuse``'s Parquet output equals the staged pipeline's on both
    transports (the profile's own oracle)."""
    command = [sys.executable, "-m", "bench.profile_job", "--lines", "150", "--runs", "1"]
    command += ["--light-lines", "150", "--name", "profile", "--spark-conf", "none"]
    command += ["--truncated-only", "crossing", "mapInArrow"]  # and the staged chain, always
    command += ["--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK_DEBERTA"))}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    size = json.loads((tmp_path / "out" / "profile.json").read_text())["sizes"]["150"]
    assert "error" not in size, size.get("error")
    assert size["job"]["summary"]["rows"] == 150 and size["job"]["summary"]["tokens"] > 0
    assert size["job"]["stages"]["DeBertaEmbeddings"]["rows"] > 0
    truncated = size["truncated"]
    checked = truncated["identical"]["checked"]
    assert sorted(checked) == sorted(
        [
            "+ DeBertaEmbeddings, mapInArrow",
            "one crossing (annotators.fuse), arrow_udf",
            "one crossing (annotators.fuse), mapInArrow",
        ]
    )
    assert all(checked.values()), checked
    assert truncated["one crossing (annotators.fuse), arrow_udf -> parquet"]["python_cpu"] > 0
    assert "| job phase (driver) |" in (tmp_path / "out" / "profile.md").read_text()
