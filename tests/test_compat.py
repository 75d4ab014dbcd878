"""The compatibility suite on every Spark users run: PySpark 3.5 and 4.0 in their own virtual
environments, and Spark Connect servers, each against the newest classic PySpark's output.

The tests marked ``compat`` (the seed pipeline with DeBertaEmbeddings and the classifier,
PyTorch-reference parity, save/load, LightPipeline == DataFrame, the one-liners, the notebook and
a Structured Streaming query) run here in a subprocess for each environment. Each run also writes
the seed pipeline's output (tests/compat_seed.py), which must equal this process's own.

The virtual environments live in ``.venv-compat/`` and are reused while their requirements stay
the same; a fresh clone builds them from the package registry (about a minute each). The pins
of ``ENVIRONMENTS`` are the lowest versions ``pyproject.toml`` allows (3.5) and a Databricks
17.3 LTS-like set (4.0).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster import ROOT, connect_server
from tests.compat_seed import assert_same_record, seed_record

pytestmark = [pytest.mark.slow, pytest.mark.classic]

VENVS = ROOT / ".venv-compat"
#: name -> the packages pinned in that environment (the project itself is installed editable).
ENVIRONMENTS: dict[str, list[str]] = {
    # Spark 3.5 with the lowest pandas/numpy/pyarrow that pyproject.toml allows (the Databricks
    # 15.4 LTS runtime's set).
    "pyspark-3.5": ["pyspark==3.5.9", "pandas==1.5.3", "numpy==1.23.5", "pyarrow==14.0.1"],
    # Spark 4.0 (the Databricks 17.3 LTS runtime's Spark).
    "pyspark-4.0": ["pyspark==4.0.5", "pandas==2.2.3", "numpy==2.1.3", "pyarrow==19.0.1"],
}


def compat_python(name: str) -> str:
    """The interpreter of the named environment, built (or rebuilt) when its pins changed."""
    pins = ENVIRONMENTS[name]
    venv = VENVS / name
    stamp = venv / "spark-deberta-pins.txt"
    wanted = "\n".join([*pins, hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()])
    python = venv / "bin" / "python"
    if not (stamp.is_file() and stamp.read_text() == wanted and python.is_file()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *pins, "-e", f"{ROOT}[dev,connect]"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
        stamp.write_text(wanted)
    return str(python)


def run_compat_suite(python: str, record: Path, remote: str | None = None) -> None:
    """``pytest -m compat`` in ``python``'s environment, classic or against ``remote``."""
    env = {
        **os.environ,
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        "SPARK_DEBERTA_COMPAT_RECORD": str(record),
    }
    env.pop("SPARK_DEBERTA_REMOTE", None)
    env.pop("SPARK_REMOTE", None)
    if remote:
        env["SPARK_DEBERTA_REMOTE"] = remote
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-m", "compat", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    tail = (result.stdout + result.stderr)[-6000:]
    print(tail)
    assert result.returncode == 0, tail
    assert " passed" in result.stdout, tail


@pytest.fixture(scope="module")
def newest_record(spark) -> dict:
    """The seed pipeline's output on this process's (the newest) classic PySpark."""
    return seed_record(spark)


def _check_record(record: Path, expected: dict, where: str) -> None:
    found = json.loads(record.read_text(encoding="utf-8"))
    assert_same_record(found, expected, where)


@pytest.mark.parametrize("name", sorted(ENVIRONMENTS))
def test_compat_suite_on_classic_pyspark(name: str, newest_record: dict, tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    run_compat_suite(compat_python(name), record)
    _check_record(record, newest_record, f"classic {name}")


@pytest.mark.parametrize("name", ["pyspark-4.0", "newest"])
def test_compat_suite_on_spark_connect(name: str, newest_record: dict, tmp_path: Path) -> None:
    python = sys.executable if name == "newest" else compat_python(name)
    record = tmp_path / "record.json"
    with connect_server(tmp_path, python=python) as remote:
        run_compat_suite(python, record, remote=remote)
    _check_record(record, newest_record, f"Spark Connect {name}")
