"""On a real standalone cluster the model reaches executors that cannot see the driver's disk."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pyspark.ml import Pipeline

from annotators import (
    DeBertaEmbeddings,
    DocumentAssembler,
    LightPipeline,
    SentenceDetector,
    Tokenizer,
)
from tests.cluster import cluster_with_driver_only_model, environment

pytestmark = pytest.mark.slow

TEXTS = [
    "Hello World. My name is Jonas.",
    "안녕하세요. 반갑습니다!",
    "It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.",
    None,
    "",
]

DRIVER = textwrap.dedent(
    """
    import json, os, sys
    from pyspark.ml import Pipeline
    from pyspark.sql import SparkSession
    from annotators import DeBertaEmbeddings, DocumentAssembler, SentenceDetector, Tokenizer

    master, model_dir, out, texts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    spark = (SparkSession.builder.master(master).appName("cluster-test")
             .config("spark.ui.enabled", "false").config("spark.executor.memory", "1g")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .getOrCreate())
    seen = spark.sparkContext.parallelize([0], 1).map(
        lambda _: os.path.exists(os.path.join(model_dir, "manifest.json"))).collect()
    df = spark.createDataFrame(list(enumerate(texts)), "id int, text string").repartition(3)
    stages = [DocumentAssembler().setInputCol("text"), SentenceDetector().setInputCols("document"),
              Tokenizer().setInputCols("sentence"),
              DeBertaEmbeddings.loadSavedModel(model_dir).setInputCols("sentence", "token").setMaxSentenceLength(16)]
    rows = Pipeline(stages=stages).fit(df).transform(df).select("id", "embeddings").collect()
    result = {"executor_sees_driver_model": seen[0],
              "rows": {r.id: [[a.begin, a.end, a.result, list(a.embeddings)] for a in r.embeddings] for r in rows}}
    with open(out, "w") as handle:
        json.dump(result, handle)
    spark.stop()
    """
)


def test_embeddings_on_a_standalone_cluster_with_a_driver_only_model(spark, tmp_path) -> None:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    out = tmp_path / "result.json"
    with cluster_with_driver_only_model(tmp_path) as (master, model_dir, hide):
        done = subprocess.run(
            [sys.executable, str(script), master, str(model_dir), str(out), json.dumps(TEXTS)],
            capture_output=True,
            text=True,
            env=environment(),
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-5000:]
    result = json.loads(out.read_text())
    if hide:
        assert result["executor_sees_driver_model"] is False
    stage = (
        DeBertaEmbeddings.loadSavedModel(str(model_dir))
        .setInputCols("sentence", "token")
        .setMaxSentenceLength(16)
    )
    light = LightPipeline(
        Pipeline(
            stages=[
                DocumentAssembler().setInputCol("text"),
                SentenceDetector().setInputCols("document"),
                Tokenizer().setInputCols("sentence"),
                stage,
            ]
        ).fit(spark.createDataFrame([("x",)], "text string")),
        parse_embeddings=True,
    )
    assert sorted(int(k) for k in result["rows"]) == list(range(len(TEXTS)))
    for index, text in enumerate(TEXTS):
        expected = light.fullAnnotate(text)[0]["embeddings"]
        got = result["rows"][str(index)]
        assert [(a.begin, a.end, a.result) for a in expected] == [tuple(g[:3]) for g in got]
        for a, g in zip(expected, got, strict=True):
            assert np.abs(np.asarray(a.embeddings) - np.asarray(g[3])).max() <= 1e-4
