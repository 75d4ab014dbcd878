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
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster import ROOT, can_hide_paths, connect_server
from tests.compat_seed import assert_same_record, seed_record

pytestmark = [pytest.mark.slow, pytest.mark.classic]

VENVS = ROOT / ".venv-compat"
#: name -> the packages pinned in that environment (the project itself is installed editable).
ENVIRONMENTS: dict[str, list[str]] = {
    # Every dependency at the lowest version pyproject.toml allows: Spark 3.5.0 (the Databricks
    # 14.3 and 15.4 LTS runtimes' Spark) with 15.4 LTS's pandas, numpy and pyarrow.
    "pyspark-3.5": [
        "pyspark==3.5.0",
        "pandas==1.5.3",
        "numpy==1.23.5",
        "pyarrow==14.0.1",
        "onnxruntime==1.19.0",
        "sentencepiece==0.2.0",
        "spark-nlp==5.0.0",
        "regex==2023.3.22",
        "pyyaml==6.0",
    ],
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


def _python(name: str) -> str:
    return sys.executable if name == "newest" else compat_python(name)


#: (client, server): Spark 3.5 has no Connect server in the pip package (its connect jar comes
#: from Maven at start-up, out of reach here), so a 3.5 client is tested against a 4.0 server.
CONNECT_PAIRS = [
    ("newest", "newest"),
    ("pyspark-4.0", "pyspark-4.0"),
    ("pyspark-3.5", "pyspark-4.0"),
]


@pytest.mark.parametrize(("client", "server"), CONNECT_PAIRS)
def test_compat_suite_on_spark_connect(
    client: str, server: str, newest_record: dict, tmp_path: Path
) -> None:
    record = tmp_path / "record.json"
    with connect_server(tmp_path, python=_python(server)) as remote:
        run_compat_suite(_python(client), record, remote=remote)
    _check_record(record, newest_record, f"Spark Connect {client} client, {server} server")


SHIPPED_SCRIPT = """
import sys
from pyspark.ml import Pipeline
from pyspark.sql import SparkSession
from annotators import DeBertaEmbeddings, DocumentAssembler, SentenceDetector, Tokenizer

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
data = spark.createDataFrame([("One sentence here. And another one.",)], "text string")
stages = [
    DocumentAssembler().setInputCol("text"),
    SentenceDetector().setInputCols("document"),
    Tokenizer().setInputCols("sentence"),
    DeBertaEmbeddings.loadSavedModel(sys.argv[2]).setInputCols("sentence", "token"),
]
row = Pipeline(stages=stages).fit(data).transform(data).first()
print("VECTORS", [len(a.embeddings) for a in row.embeddings])
"""


def test_model_files_reach_a_connect_server_that_cannot_see_the_clients_disk(
    tmp_path: Path,
) -> None:
    """The client's model folder is hidden from the server: only addArtifacts can bring it."""
    if not can_hide_paths():
        pytest.skip("private mount namespaces are not available here")
    from annotators.deberta.package import BUNDLED_DIR

    client_only = tmp_path / "client_only"
    model = client_only / "model"
    shutil.copytree(BUNDLED_DIR / "deberta_v3_tiny_random_en", model)
    (tmp_path / "server").mkdir()
    with connect_server(tmp_path / "server", hidden=[client_only]) as remote:
        done = subprocess.run(
            [sys.executable, "-c", SHIPPED_SCRIPT, remote, str(model)],
            capture_output=True,
            text=True,
            timeout=300,
            env={k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"},
        )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "VECTORS [32, 32, 32, 32, 32, 32, 32, 32]" in done.stdout
