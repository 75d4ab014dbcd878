"""The Databricks notebook runs as a plain Python script against local Spark."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from annotators.deberta.pretrained import BUNDLED_DIR
from tests.conftest import REMOTE

pytestmark = [pytest.mark.slow, pytest.mark.compat]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "spark_deberta_databricks.py"
DATABRICKS_CONF = ROOT / "conf" / "spark" / "databricks.conf"
RESTART = ['if "dbutils" in globals():', "    dbutils.library.restartPython()  # noqa: F821"]


def notebook_cells() -> list[str]:
    """The notebook's cells, in order, as Databricks splits its source format."""
    text = NOTEBOOK.read_text(encoding="utf-8").removeprefix("# Databricks notebook source\n")
    return [cell.strip("\n") for cell in text.split("# COMMAND ----------")]


def code_lines(cell: str) -> list[str]:
    return [line for line in cell.splitlines() if line.strip() and not line.startswith("#")]


def test_notebook_is_in_databricks_source_format() -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")
    assert text.startswith("# Databricks notebook source\n")
    assert text.count("# COMMAND ----------") >= 5 and "# MAGIC %pip install" in text


def test_every_pip_cell_is_followed_by_a_python_restart() -> None:
    """From DBR 13 %pip no longer restarts Python: without dbutils.library.restartPython() right
    after it, the session keeps the modules it had imported (14.3 LTS's pyarrow 8, which the
    wheel upgrades). A magic command must open its cell, and no Python may run before the
    install: the restart would discard it."""
    cells = notebook_cells()
    pip_cells = [i for i, cell in enumerate(cells) if re.search(r"^# MAGIC %pip", cell, re.M)]
    assert pip_cells, "the notebook installs the wheel notebook-scoped"
    assert all(cell.startswith("# MAGIC %md") for cell in cells[: pip_cells[0]])
    for i in pip_cells:
        assert all(line.startswith("# MAGIC %pip ") for line in cells[i].splitlines()), cells[i]
        assert i + 1 < len(cells), "the last cell is a %pip cell"
        assert code_lines(cells[i + 1]) == RESTART, cells[i + 1]
    restarts = [i for i, cell in enumerate(cells) if "restartPython" in "".join(code_lines(cell))]
    assert restarts == [i + 1 for i in pip_cells]


def test_install_instructions_name_this_version_of_the_wheel() -> None:
    """The notebook's %pip and the Spark config's install notes name the wheel that
    `pip wheel .` builds now, and the plain wheel (no [spark] extra, which would bring a second
    PySpark onto Databricks)."""
    version = re.search(
        r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M
    ).group(1)
    wheel = f"spark_deberta-{version}-py3-none-any.whl"
    for path in (NOTEBOOK, DATABRICKS_CONF):
        text = path.read_text(encoding="utf-8")
        named = re.findall(r"spark_deberta-[^\s/`\"]*\.whl", text)
        assert named and set(named) == {wheel}, (path.name, named)
        installs = re.findall(r"%pip install ([^\n]*)", text)
        assert installs and not any("[spark]" in line for line in installs), path.name
        assert "restartPython()" in text, path.name


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
