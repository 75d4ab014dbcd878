"""The Databricks notebook runs as a plain Python script against local Spark."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotators.deberta.package import BUNDLED_DIR
from tests.conftest import REMOTE

pytestmark = [pytest.mark.slow, pytest.mark.compat]

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "spark_deberta_databricks.py"


def test_notebook_is_in_databricks_source_format() -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert text.startswith("# Databricks notebook source\n")
    assert text.count("# COMMAND ----------") >= 5 and "# MAGIC %pip install" in text


def test_notebook_runs_as_a_script(tmp_path) -> None:
    env = {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_DEBERTA_MODEL_DIR": str(BUNDLED_DIR / "deberta_v3_tiny_random_en"),
        "SPARK_DEBERTA_OUTPUT_DIR": str(tmp_path / "out"),
    }
    if REMOTE:  # as on Databricks serverless: the notebook's getOrCreate() is a Connect client
        env["SPARK_REMOTE"] = REMOTE
    done = subprocess.run(
        [sys.executable, str(NOTEBOOK)], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"wrote 4 rows to {tmp_path / 'out'}" in done.stdout
    table = pq.read_table(tmp_path / "out")
    assert sorted(table.column("id").to_pylist()) == [1, 2, 3, 4]
