"""The compatibility suite on the Python × Spark pairs users run, each against this process's
output (the newest classic PySpark on Python 3.11).

Every pair in ``ENVIRONMENTS`` is a virtual environment with its own interpreter (from pyenv)
and pins. A ``suite`` environment runs the tests marked ``compat`` (the seed pipeline with
DeBertaEmbeddings and the classifier, PyTorch-reference parity, save/load, LightPipeline ==
DataFrame, the one-liners, the notebook and a Structured Streaming query) in a subprocess, also
against Spark Connect servers. A ``seed`` environment runs the seed pipeline
(tests/compat_seed.py) and ``spark-deberta run`` on the bundled sample. Each writes the seed
pipeline's output, which must equal this process's own.

The environments live in ``.venv-compat/`` and are reused while their interpreter, pins and
``pyproject.toml`` stay the same; a fresh clone builds them from the package registry, all at
once in the background when the module starts (installing is mostly waiting on downloads).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cluster import ROOT, can_hide_paths, connect_server
from tests.compat_seed import assert_same_record, seed_record

pytestmark = [pytest.mark.slow, pytest.mark.classic]

VENVS = ROOT / ".venv-compat"
#: The lowest version of every dependency that ``pyproject.toml`` allows.
LOWEST = [
    "pyspark==3.5.0",
    "pandas==1.5.3",
    "numpy==1.23.5",
    "pyarrow==14.0.1",
    "onnxruntime==1.19.0",
    "sentencepiece==0.2.0",
    "spark-nlp==5.0.0",
    "regex==2023.3.22",
    "pyyaml==6.0",
    "snowballstemmer==2.2.0",
]


@dataclass(frozen=True)
class Environment:
    """One Python × Spark pair, as a runtime users have ships it."""

    python: str
    pins: tuple[str, ...]
    runtime: str
    #: "suite": the compat tests (and Spark Connect); "seed": the seed pipeline and the job.
    runs: str


#: The README's support table lists exactly these pairs (tests/unit/test_readme.py holds it so).
ENVIRONMENTS: dict[str, Environment] = {
    # Databricks 14.3 LTS: Python 3.10, Spark 3.5, with every dependency at its lowest.
    "py3.10-pyspark-3.5": Environment("3.10", tuple(LOWEST), "Databricks 14.3 LTS", "suite"),
    # Databricks 15.4 LTS: Python 3.11, Spark 3.5.0 and the same pandas, numpy and pyarrow.
    "py3.11-pyspark-3.5": Environment("3.11", tuple(LOWEST), "Databricks 15.4 LTS", "seed"),
    # Databricks 16.4 LTS: Python 3.12, Spark 3.5 (pandas 1.5 has no 3.12 wheel: 2.1 has).
    "py3.12-pyspark-3.5": Environment(
        "3.12",
        ("pyspark==3.5.2", "pandas==2.1.4", "numpy==1.26.4", "pyarrow==15.0.2"),
        "Databricks 16.4 LTS",
        "seed",
    ),
    # Databricks 17.3 LTS: Python 3.12, Spark 4.0.
    "py3.12-pyspark-4.0": Environment(
        "3.12",
        ("pyspark==4.0.5", "pandas==2.2.3", "numpy==2.1.3", "pyarrow==19.0.1"),
        "Databricks 17.3 LTS",
        "suite",
    ),
    # What the extras resolve on a plain Python 3.12 and on the newest Python: the newest of
    # everything.
    "py3.12-newest": Environment("3.12", (), "newest releases", "seed"),
    "py3.13-newest": Environment("3.13", (), "newest releases", "seed"),
}
#: This process: the whole suite runs here (the README's test command).
NEWEST = (f"{sys.version_info[0]}.{sys.version_info[1]}", "newest releases")


def interpreter(version: str) -> str:
    """A CPython of ``version`` (``"3.12"``): this one, one on the PATH, or one under pyenv."""
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        return getattr(sys, "_base_executable", sys.executable)
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    found = sorted(
        glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"),
        key=lambda path: [int(part) for part in re.findall(r"\d+", Path(path).parts[-3])],
    )
    candidates = [*reversed(found), shutil.which(f"python{version}")]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", ""], capture_output=True).returncode == 0:
            return candidate
    raise AssertionError(
        f"Python {version} is not installed (looked in {pyenv_root}/versions and on the PATH): "
        "the compatibility suite needs it (pyenv install " + version + ")"
    )


def _build(name: str) -> str:
    """The interpreter of the named environment, built (or rebuilt) when its inputs changed."""
    env = ENVIRONMENTS[name]
    base = interpreter(env.python)
    on_connect = any(name in pair for pair in CONNECT_PAIRS)
    extras = "dev,connect" if env.runs == "suite" or on_connect else "spark"
    venv = VENVS / name
    stamp = venv / "spark-deberta-pins.txt"
    wanted = "\n".join(
        [
            base,
            *env.pins,
            extras,
            hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest(),
        ]
    )
    python = venv / "bin" / "python"
    if not (stamp.is_file() and stamp.read_text() == wanted and python.is_file()):
        subprocess.run([base, "-m", "venv", "--clear", str(venv)], check=True)
        # --no-compile: byte-compiling every installed module (PySpark's whole tree) was 40 % of
        # an install; Python compiles what the tests import, once, on first import.
        pip = [str(python), "-m", "pip", "install", "-q", "--no-compile"]
        install = subprocess.run(
            [*pip, *env.pins, "-e", f"{ROOT}[{extras}]"],
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
        stamp.write_text(wanted)
    return str(python)


_BUILDS: dict[str, Future] = {}
_POOL = ThreadPoolExecutor(max_workers=3, thread_name_prefix="compat-venv")


@pytest.fixture(scope="module", autouse=True)
def _build_every_environment_in_the_background():
    """Start every environment's install now; each test waits only for its own."""
    for name in ENVIRONMENTS:
        _BUILDS.setdefault(name, _POOL.submit(_build, name))
    yield
    _POOL.shutdown(wait=True)


def compat_python(name: str) -> str:
    """The named environment's interpreter, once its install has finished."""
    if name not in _BUILDS:
        _BUILDS[name] = _POOL.submit(_build, name)
    return _BUILDS[name].result()


def run_compat_suite(python: str, record: Path, remote: str | None = None) -> None:
    """``pytest -m compat`` in ``python``'s environment, classic or against ``remote``."""
    env = {
        **os.environ,
        "PYSPARK_PYTHON": python,
        "PYSPARK_DRIVER_PYTHON": python,
        "SPARK_DEBERTA_COMPAT_RECORD": str(record),
    }
    env.pop("SPARK_DEBERTA_TEST_CONNECT", None)
    env.pop("SPARK_REMOTE", None)
    if remote:
        env["SPARK_DEBERTA_TEST_CONNECT"] = remote
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


SUITES = sorted(name for name, env in ENVIRONMENTS.items() if env.runs == "suite")
SEEDS = sorted(name for name, env in ENVIRONMENTS.items() if env.runs == "seed")


@pytest.mark.parametrize("name", SUITES)
def test_compat_suite_on_classic_pyspark(name: str, newest_record: dict, tmp_path: Path) -> None:
    record = tmp_path / "record.json"
    run_compat_suite(compat_python(name), record)
    _check_record(record, newest_record, f"classic {name}")


@pytest.mark.parametrize("name", SEEDS)
def test_seed_pipeline_and_job_on(name: str, newest_record: dict, tmp_path: Path) -> None:
    """The seed pipeline equals this process's output, and the job runs from another folder."""
    python = compat_python(name)
    record = tmp_path / "record.json"
    env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "PYSPARK_PYTHON")}
    # The seed's input is a DataFrame of Python objects, which PySpark itself runs on
    # PYSPARK_PYTHON (the stages would set their own; the job below sets it for itself).
    seeded = subprocess.run(
        [python, "-m", "tests.compat_seed", str(record)],
        cwd=ROOT, env={**env, "PYSPARK_PYTHON": python}, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr[-4000:]
    _check_record(record, newest_record, name)
    sample = ROOT / "data" / "sample" / "frankenstein.txt"
    job = subprocess.run(
        [str(Path(python).parent / "spark-deberta"), "run", "--input", str(sample),
         "--output", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert job.returncode == 0, job.stderr[-4000:]
    lines = len(sample.read_text(encoding="utf-8").splitlines())
    assert pq.read_table(tmp_path / "out").num_rows == lines


def _python(name: str) -> str:
    return sys.executable if name == "newest" else compat_python(name)


#: (client, server): Spark 3.5 has no Connect server in the pip package (its connect jar comes
#: from Maven at start-up, out of reach here), so a 3.5 client is tested against a 4.0 server.
#: Client and server run one Python minor version: cloudpickle carries the stages' functions to
#: the server's workers (a 3.10 client's functions fail on a 3.12 worker, as on Databricks).
CONNECT_PAIRS = [
    ("newest", "newest"),
    ("py3.12-pyspark-4.0", "py3.12-pyspark-4.0"),
    ("py3.12-pyspark-3.5", "py3.12-pyspark-4.0"),
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
    from annotators.deberta.pretrained import BUNDLED_DIR

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
