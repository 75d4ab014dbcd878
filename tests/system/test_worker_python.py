"""A script run with a virtual environment's Python, without PYSPARK_PYTHON, and with another
``python3`` first on the PATH: PySpark would start that one for every worker, which cannot import
the package. A local session's workers get the script's own interpreter; an interpreter set on
purpose that cannot import the package is refused, by name, before any task runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.classic]

SCRIPT = """
import os, sys
from pyspark.sql import SparkSession
from pyspark.ml import Pipeline
from annotators import DocumentAssembler, SentenceDetector, Tokenizer
from annotators.errors import WorkerPythonError

spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false").getOrCreate())
# Not createDataFrame of Python objects: PySpark itself would run those on its default Python.
data = spark.sql("SELECT 'One sentence. Two sentences.' AS text")
stages = [DocumentAssembler().setInputCol("text"), SentenceDetector().setInputCols("document"),
          Tokenizer().setInputCols("sentence")]
row = Pipeline(stages=stages).fit(data).transform(data).first()
print("TOKENS", len(row.token), spark.sparkContext.pythonExec == sys.executable)
os.environ["PYSPARK_PYTHON"] = sys.argv[1]  # chosen on purpose, and wrong
spark.sparkContext.pythonExec = sys.argv[1]
try:
    Pipeline(stages=stages).fit(data).transform(data).first()
except WorkerPythonError as error:
    print("REFUSED", error)
"""


def test_local_workers_run_the_drivers_python_or_a_clear_refusal(tmp_path: Path) -> None:
    # A python3 first on the PATH that cannot import the package: another minor version, with no
    # pyspark and no annotators.
    from tests.system.test_compat import interpreter

    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    theirs = "3.12" if ours != "3.12" else "3.10"
    other = interpreter(theirs)
    shadow = tmp_path / "bin"
    shadow.mkdir()
    (shadow / "python3").symlink_to(other)
    env = {k: v for k, v in os.environ.items() if k not in ("PYSPARK_PYTHON", "SPARK_REMOTE")}
    env["PATH"] = f"{shadow}:{env['PATH']}"
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(shadow / "python3")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert "TOKENS 6 True" in done.stdout, done.stdout
    # The stages ran on this Python, and said that PySpark's own default is another one.
    assert "RuntimeWarning: PYSPARK_PYTHON is not set" in done.stderr
    warned = next(line for line in done.stderr.splitlines() if "RuntimeWarning" in line)
    assert f"workers start python3 (Python {theirs}) while this is Python {ours}" in warned, warned
    refused = next(line for line in done.stdout.splitlines() if line.startswith("REFUSED"))
    assert f"start {shadow / 'python3'} (PYSPARK_PYTHON)" in refused
    assert f"Set PYSPARK_PYTHON={sys.executable}" in refused
