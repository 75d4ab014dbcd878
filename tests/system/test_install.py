"""Installing as users do where there is no package index and Spark is the runtime's own.

A Databricks workspace without index access gets a wheelhouse (the wheel and its dependencies,
downloaded where the index is reachable) and installs with the index switched off. Its PySpark is
not a pip distribution: the runtime puts it on ``PYTHONPATH``. The wheel must install there
without pulling a second PySpark, and the job must run from any folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cluster import ROOT
from tests.unit.test_runtime_imports import RUNTIME_WITHOUT_SPARK

pytestmark = pytest.mark.slow

SAMPLE = ROOT / "data" / "sample" / "frankenstein.txt"


def _clean_pip_env(**extra: str) -> dict[str, str]:
    """No pip configuration of this machine's (extra indexes, find-links): a bare offline pip."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env.pop("PYSPARK_PYTHON", None)
    env.pop("SPARK_HOME", None)
    return {**env, "PIP_CONFIG_FILE": os.devnull, **extra}


def test_wheel_declares_no_pyspark_outside_its_extras(project_wheel: Path) -> None:
    with zipfile.ZipFile(project_wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    requires = [
        line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")
    ]
    spark = [r for r in requires if r.lower().startswith("pyspark")]
    assert spark, requires  # the extras carry it
    assert all("extra ==" in r for r in spark), spark
    assert not any(r.lower().startswith("spark-nlp") and "extra ==" not in r for r in requires)
    assert "Requires-Python: <3.14,>=3.10" in lines or "Requires-Python: >=3.10,<3.14" in lines


def test_offline_wheelhouse_install_runs_the_job_on_a_runtimes_own_spark(
    project_wheel: Path, tmp_path: Path
) -> None:
    # The wheelhouse, made where the index is reachable (as the README says).
    wheelhouse = tmp_path / "wheelhouse"
    downloaded = subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "-d", str(wheelhouse), str(project_wheel)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert downloaded.returncode == 0, downloaded.stderr[-3000:]
    held = sorted(p.name.lower() for p in wheelhouse.iterdir())
    assert not any(name.startswith(("pyspark", "py4j")) for name in held), held

    # A runtime whose Spark is on PYTHONPATH, not installed by pip (as Databricks has it).
    runtime = tmp_path / "databricks" / "python"
    runtime.mkdir(parents=True)
    import py4j
    import pyspark

    for module in (pyspark, py4j):
        (runtime / module.__name__).symlink_to(Path(module.__file__).parent)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python, pip = str(venv / "bin" / "python"), str(venv / "bin" / "pip")
    offline = _clean_pip_env(PYTHONPATH=str(runtime))
    installed = subprocess.run(
        [pip, "install", "-q", "--no-index", "--find-links", str(wheelhouse), "spark-deberta"],
        capture_output=True, text=True, env=offline, timeout=900,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    listed = subprocess.run(
        [pip, "list", "--format=freeze"], capture_output=True, text=True, env=offline, check=True
    ).stdout.lower()
    assert "spark-deberta==" in listed and "pyspark" not in listed and "py4j" not in listed

    # The job, from an unrelated folder, with no PYSPARK_PYTHON: the runtime's Spark runs it.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job = subprocess.run(
        [str(venv / "bin" / "spark-deberta"), "run", "--input", str(SAMPLE),
         "--output", str(elsewhere / "out")],
        capture_output=True, text=True, cwd=elsewhere, timeout=900,
        env={**offline, "SPARK_LOCAL_IP": "127.0.0.1"},
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-4000:]
    lines = len(SAMPLE.read_text(encoding="utf-8").splitlines())
    assert pq.read_table(elsewhere / "out").num_rows == lines

    # Without any Spark, the model runtime still runs (tests/unit/test_runtime_imports.py's check,
    # here where PySpark is really absent) ...
    runtime = subprocess.run(
        [python, "-c", RUNTIME_WITHOUT_SPARK], capture_output=True, text=True, cwd=elsewhere,
        env=_clean_pip_env(), timeout=300,
    )  # fmt: skip
    assert runtime.returncode == 0 and "vectors 8" in runtime.stdout, runtime.stderr[-4000:]
    # ... and naming a stage says what to install instead of a bare ImportError.
    bare = subprocess.run(
        [python, "-c", "from annotators import DeBertaEmbeddings"], capture_output=True,
        text=True, cwd=elsewhere, env=_clean_pip_env(), timeout=120,
    )  # fmt: skip
    assert bare.returncode != 0
    assert "SparkMissingError" in bare.stderr and "spark-deberta[spark]" in bare.stderr
    command = subprocess.run(
        [str(venv / "bin" / "spark-deberta"), "run", "--input", str(SAMPLE), "--output", "out"],
        capture_output=True, text=True, cwd=elsewhere, env=_clean_pip_env(), timeout=120,
    )  # fmt: skip
    assert command.returncode == 2 and "Traceback" not in command.stderr, command.stderr
    assert command.stderr.startswith("spark-deberta: ") and "spark-deberta[spark]" in command.stderr
    # The exporter needs no Spark: its help (and, with the export extra, its work) runs here.
    exporter = subprocess.run(
        [str(venv / "bin" / "spark-deberta"), "export", "--help"], capture_output=True,
        text=True, cwd=elsewhere, env=_clean_pip_env(), timeout=120,
    )  # fmt: skip
    assert exporter.returncode == 0 and "--checkpoint" in exporter.stdout, exporter.stderr
