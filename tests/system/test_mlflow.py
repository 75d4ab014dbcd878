"""MLflow: a fitted DeBERTa pipeline logged to a local tracking store, loaded back, and served
from the wheel its requirements name.

How we document logging it: the wheel travels inside the model (``code_paths=[wheel]`` copies it
to the model's ``code/`` folder) and ``pip_requirements`` names it by that relative path, with
the PySpark the model was saved with. MLflow builds a serving environment by running
``pip install -r requirements.txt`` from a copy of the model folder (mlflow/utils/virtualenv.py),
so ``code/spark_deberta-<version>-py3-none-any.whl`` resolves wherever the model goes. Without
``pip_requirements`` MLflow infers ``spark-deberta==<version>`` from the editable install, which
no index serves.

MLflow's pyfunc reads a column named ``prediction``: it renames the last stage's ``outputCol``
to ``prediction`` (when logging with an ``input_example``, in the saved model; when predicting,
in the loaded one). The in-memory pipeline is left as it was.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pyspark
import pytest
from pyspark.ml import Pipeline
from pyspark.sql import functions as F

from annotators import (
    DeBertaForTokenClassification,
    DocumentAssembler,
    SentenceDetector,
    Tokenizer,
)
from annotators.annotation import from_row
from tests.support import annotations_of

mlflow = pytest.importorskip("mlflow")  # the integrations extra

pytestmark = [pytest.mark.slow, pytest.mark.classic]

ROOT = Path(__file__).resolve().parents[2]
NER_MODEL = ROOT / "tests" / "fixtures" / "models" / "deberta_v3_tiny_ner"
TEXTS = [
    "John Lennon was born in Liverpool. He lived in New York City.",
    "MARIE Curie visited Zürich — naïve café owners cheered! 😀",
    "",
]


@pytest.fixture(scope="module")
def logged(spark, tmp_path_factory, project_wheel):  # type: ignore[no-untyped-def]
    """The fitted pipeline, its output, and the model logged the documented way."""
    work = tmp_path_factory.mktemp("mlflow")
    wheel = project_wheel
    tagger = (
        DeBertaForTokenClassification.loadSavedModel(str(NER_MODEL))
        .setInputCols(["sentence", "token"])
        .setOutputCol("ner")
    )
    stages = [
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
        Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
        tagger,
    ]
    data = spark.createDataFrame([(text,) for text in TEXTS], "text string")
    model = Pipeline(stages=stages).fit(data)
    output = model.transform(data)
    expected = annotations_of(output.collect(), "ner")
    assert any(expected), "the fixture model tags something"

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{work / 'mlflow.db'}")
    experiment = mlflow.create_experiment(
        "spark-deberta", artifact_location=(work / "artifacts").as_uri()
    )
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.spark.log_model(
            model,
            "ner_pipeline",
            input_example=pd.DataFrame({"text": TEXTS[:1]}),
            code_paths=[str(wheel)],
            pip_requirements=[f"code/{wheel.name}", f"pyspark=={pyspark.__version__}"],
        )
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(work / "dl")))
    yield {
        "model": model,
        "data": data,
        "expected": expected,
        "ner_type": output.schema["ner"].dataType,
        "uri": info.model_uri,
        "local": local,
        "wheel": wheel,
        "work": work,
    }
    mlflow.set_tracking_uri(previous)


def test_requirements_name_the_wheel_inside_the_model_and_no_unresolvable_pin(logged) -> None:
    lines = Path(mlflow.pyfunc.get_model_dependencies(logged["uri"])).read_text().splitlines()
    wheel = logged["wheel"]
    assert f"code/{wheel.name}" in lines
    assert not [line for line in lines if re.match(r"spark[-_.]deberta\s*(==|@|$)", line, re.I)]
    # The wheel itself is in the model, byte for byte; everything else is an index pin of a
    # version installed here (so it exists on the index this environment came from).
    assert (logged["local"] / "code" / wheel.name).read_bytes() == wheel.read_bytes()
    from importlib.metadata import version

    pins = [line for line in lines if line != f"code/{wheel.name}"]
    assert pins, lines
    for line in pins:
        name, _, pinned = line.partition("==")
        assert pinned and version(name) == pinned, line
    assert f"pyspark=={pyspark.__version__}" in pins


def test_spark_load_model_gives_the_pipeline_with_prediction_renamed(spark, logged) -> None:
    loaded = mlflow.spark.load_model(logged["uri"])
    # Logging with an input_example renamed the saved last stage's column, not the fitted one.
    assert loaded.stages[-1].getOutputCol() == "prediction"
    assert logged["model"].stages[-1].getOutputCol() == "ner"
    rows = loaded.transform(logged["data"]).collect()
    assert annotations_of(rows, "prediction") == logged["expected"]
    # Setting the column back gives the pipeline's own output column again.
    loaded.stages[-1].setOutputCol("ner")
    assert annotations_of(loaded.transform(logged["data"]).collect(), "ner") == logged["expected"]


def test_pyfunc_predict_and_spark_udf_give_the_pipeline_output(spark, logged) -> None:
    frame = pd.DataFrame({"text": TEXTS})
    predicted = mlflow.pyfunc.load_model(logged["uri"]).predict(frame)
    assert [[from_row(a) for a in row] for row in predicted] == logged["expected"]

    # spark_udf of a Spark model starts a local Spark session inside each Python worker. The
    # annotation array type is a valid result type, but MLflow builds a pandas DataFrame from
    # the batch's ragged lists, so each row comes back padded with nulls to the longest row of
    # its batch: filter them out.
    udf = mlflow.pyfunc.spark_udf(
        spark, logged["uri"], result_type=logged["ner_type"], env_manager="local"
    )
    scored = (
        logged["data"]
        .withColumn("padded", udf("text"))
        .withColumn("ner", F.filter("padded", lambda a: a.isNotNull()))
    )
    rows = scored.collect()
    assert [row.text for row in rows] == TEXTS
    assert annotations_of(rows, "ner") == logged["expected"]
    for row, want in zip(rows, logged["expected"], strict=True):
        assert set(row.padded[len(want) :]) <= {None}, "nulls only after the annotations"
    assert any(None in row.padded for row in rows), "MLflow no longer pads: update the README"


SERVE = """
import json, sys
import mlflow, pandas as pd
import annotators
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = model.predict(pd.DataFrame({"text": json.loads(sys.argv[2])}))
print(json.dumps({
    "annotators": annotators.__file__,
    "rows": [[a.asDict(recursive=True) for a in row] for row in rows],
}))
"""


def test_the_model_serves_from_the_wheel_its_requirements_name(logged) -> None:
    """What a serving environment does with requirements.txt, minus the index: the model's own
    path requirements installed into an empty target from the model folder (cwd), the index
    pins taken from this environment (the test above holds them equal to what is installed
    here), and the checkout kept out of reach. The model loads and predicts the same."""
    local, work = logged["local"], logged["work"]
    requirements = (local / "requirements.txt").read_text().splitlines()
    paths = [line for line in requirements if line.endswith(".whl")]
    assert paths == [f"code/{logged['wheel'].name}"]
    target = work / "served"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
         "--target", str(target), *paths],
        check=True, capture_output=True, cwd=local, timeout=300,
    )  # fmt: skip
    # A bare interpreter that does not read this environment's .pth files (so not the
    # editable install of the checkout); its dependencies come from this site-packages.
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYSPARK_DRIVER_PYTHON")}
    env.update(
        PYTHONPATH=f"{target}:{sysconfig.get_paths()['purelib']}",
        PYSPARK_PYTHON=python,
        SPARK_LOCAL_IP="127.0.0.1",
    )
    done = subprocess.run(
        [python, "-c", SERVE, str(local), json.dumps(TEXTS)],
        capture_output=True, text=True, cwd=work, timeout=600,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    assert served["annotators"].startswith(str(target))
    assert [[from_row(a) for a in row] for row in served["rows"]] == logged["expected"]
