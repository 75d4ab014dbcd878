"""On a real standalone cluster the model reaches executors that cannot see the driver's disk."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from annotators import (
    DeBertaEmbeddings,
    DocumentAssembler,
    LightPipeline,
    SentenceDetector,
    Tokenizer,
)
from tests.cluster import cluster_with_driver_only_model, environment
from tests.support import full_annotation

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


def assert_rows_equal_the_driver(model_dir: Path, rows: dict) -> None:
    """The cluster's embeddings rows (by text index) equal LightPipeline's on the driver, which
    reads the model folder in place."""
    stage = (
        DeBertaEmbeddings.loadSavedModel(str(model_dir))
        .setInputCols("sentence", "token")
        .setMaxSentenceLength(16)
    )
    light = LightPipeline(
        [
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            Tokenizer().setInputCols("sentence").fit(None),  # type: ignore[arg-type]
            stage,
        ],
        parse_embeddings=True,
    )
    assert sorted(int(k) for k in rows) == list(range(len(TEXTS)))
    for index, text in enumerate(TEXTS):
        expected = full_annotation(light, text)["embeddings"]
        got = rows[str(index)]
        assert [(a.begin, a.end, a.result) for a in expected] == [tuple(g[:3]) for g in got]
        for a, g in zip(expected, got, strict=True):
            assert np.abs(np.asarray(a.embeddings) - np.asarray(g[3])).max() <= 1e-4


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
    assert_rows_equal_the_driver(model_dir, result["rows"])


FAMILY_DRIVER = textwrap.dedent(
    """
    import json, sys
    from pyspark.ml import Pipeline
    from pyspark.sql import SparkSession
    from annotators import (DeBertaForQuestionAnswering, DeBertaForTokenClassification,
        DeBertaForZeroShotClassification, DocumentAssembler, MultiDocumentAssembler, NerConverter,
        SentenceDetector, Tokenizer)

    master, models, out, texts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    spark = (SparkSession.builder.master(master).appName("cluster-family-test")
             .config("spark.ui.enabled", "false").config("spark.executor.memory", "1g")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .getOrCreate())
    df = spark.createDataFrame(list(enumerate(texts)), "id int, text string").repartition(3)
    text = [DocumentAssembler().setInputCol("text"), SentenceDetector().setInputCols("document"),
            Tokenizer().setInputCols("sentence")]
    ner = DeBertaForTokenClassification.loadSavedModel(models + "/deberta_v3_tiny_ner").setInputCols(
        "sentence", "token").setOutputCol("ner").setMaxSentenceLength(16)
    zero_shot = DeBertaForZeroShotClassification.loadSavedModel(
        models + "/deberta_v3_tiny_nli").setInputCols("sentence", "token").setCandidateLabels(
        ["music", "travel"]).setOutputCol("zero_shot")
    stages = [*text, ner, NerConverter().setInputCols("sentence", "token", "ner"), zero_shot]
    rows = Pipeline(stages=stages).fit(df).transform(df).collect()
    pairs = spark.createDataFrame([(i, "Who is it?", t) for i, t in enumerate(texts)],
                                  "id int, question string, context string").repartition(3)
    qa = Pipeline(stages=[MultiDocumentAssembler().setInputCols("question", "context").setOutputCols(
        "q", "c"), DeBertaForQuestionAnswering.loadSavedModel(models + "/deberta_v3_tiny_qa")
        .setInputCols("q", "c").setMaxSentenceLength(24)]).fit(pairs).transform(pairs).collect()
    pack = lambda annotations: [[a.begin, a.end, a.result, dict(a.metadata)] for a in annotations]
    result = {
        "ner": {r.id: pack(r.ner) for r in rows},
        "chunks": {r.id: pack(r.ner_chunk) for r in rows},
        "zero_shot": {r.id: pack(r.zero_shot) for r in rows},
        "answers": {r.id: pack(r.answer) for r in qa},
    }
    with open(out, "w") as handle:
        json.dump(result, handle)
    spark.stop()
    """
)


def test_the_family_on_a_standalone_cluster_with_driver_only_models(spark, tmp_path) -> None:
    """NER with NerConverter, zero-shot and question answering on executors that cannot see the
    driver's model folders, equal to LightPipeline on the driver."""
    from annotators import (
        DeBertaForQuestionAnswering,
        DeBertaForTokenClassification,
        DeBertaForZeroShotClassification,
        MultiDocumentAssembler,
        NerConverter,
    )

    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "models"
    names = ("deberta_v3_tiny_ner", "deberta_v3_tiny_nli", "deberta_v3_tiny_qa")
    script = tmp_path / "driver.py"
    script.write_text(FAMILY_DRIVER)
    out = tmp_path / "result.json"
    extra = tuple(fixtures / name for name in names)
    with cluster_with_driver_only_model(tmp_path, extra) as (master, model_dir, _):
        models = model_dir.parent
        done = subprocess.run(
            [sys.executable, str(script), master, str(models), str(out), json.dumps(TEXTS)],
            capture_output=True,
            text=True,
            env=environment(),
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-5000:]
    result = json.loads(out.read_text())
    ner = (
        DeBertaForTokenClassification.loadSavedModel(str(fixtures / names[0]))
        .setInputCols("sentence", "token")
        .setOutputCol("ner")
        .setMaxSentenceLength(16)
    )
    zero_shot = (
        DeBertaForZeroShotClassification.loadSavedModel(str(fixtures / names[1]))
        .setInputCols("sentence", "token")
        .setCandidateLabels(["music", "travel"])
        .setOutputCol("zero_shot")
    )
    light = LightPipeline(
        [
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            Tokenizer().setInputCols("sentence").fit(None),  # type: ignore[arg-type]
            ner,
            NerConverter().setInputCols("sentence", "token", "ner"),
            zero_shot,
        ]
    )
    qa_light = LightPipeline(
        [
            MultiDocumentAssembler().setInputCols("question", "context").setOutputCols("q", "c"),
            DeBertaForQuestionAnswering.loadSavedModel(str(fixtures / names[2]))
            .setInputCols("q", "c")
            .setMaxSentenceLength(24),
        ]
    )

    def same(expected, got) -> None:  # type: ignore[no-untyped-def]
        assert [(a.begin, a.end, a.result) for a in expected] == [tuple(g[:3]) for g in got]
        for a, g in zip(expected, got, strict=True):
            assert set(a.metadata) == set(g[3])
            for key, value in a.metadata.items():
                try:
                    assert abs(float(value) - float(g[3][key])) <= 1e-4, key
                except ValueError:
                    assert value == g[3][key]

    for index, text in enumerate(TEXTS):
        expected = full_annotation(light, text)
        same(expected["ner"], result["ner"][str(index)])
        same(expected["ner_chunk"], result["chunks"][str(index)])
        same(expected["zero_shot"], result["zero_shot"][str(index)])
        [answer] = qa_light.fullAnnotate({"question": "Who is it?", "context": text})
        same(answer["answer"], result["answers"][str(index)])
    assert any(result["chunks"].values()) and result["answers"]["0"]


EXTERNAL_DRIVER = textwrap.dedent(
    """
    import json, os, shutil, sys
    from pyspark import SparkFiles
    from pyspark.ml import Pipeline
    from pyspark.sql import SparkSession
    from annotators import DeBertaEmbeddings, DocumentAssembler, SentenceDetector, Tokenizer

    master, model_dir, out, texts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    swap = sys.argv[5] == "swap"
    spark = (SparkSession.builder.master(master).appName("cluster-external-data-test")
             .config("spark.ui.enabled", "false").config("spark.executor.memory", "1g")
             .config("spark.task.maxFailures", "1")
             .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
             .getOrCreate())
    if swap:  # a copy of its own: the folder the other test reads stays whole
        shutil.copytree(model_dir, model_dir + "_swapped")
        model_dir += "_swapped"
    seen = spark.sparkContext.parallelize([0], 1).map(
        lambda _: os.path.exists(os.path.join(model_dir, "manifest.json"))).collect()
    embeddings = DeBertaEmbeddings.loadSavedModel(model_dir).setInputCols(
        "sentence", "token").setMaxSentenceLength(16)
    if swap:  # after the driver checked the folder, before the files are shipped
        with open(os.path.join(model_dir, "model.onnx.data"), "r+b") as handle:
            first = handle.read(4)
            handle.seek(0)
            handle.write(bytes(b ^ 0xFF for b in first))
    df = spark.createDataFrame(list(enumerate(texts)), "id int, text string").repartition(3)
    stages = [DocumentAssembler().setInputCol("text"), SentenceDetector().setInputCols("document"),
              Tokenizer().setInputCols("sentence"), embeddings]
    result = {"executor_sees_driver_model": seen[0]}
    try:
        rows = Pipeline(stages=stages).fit(df).transform(df).select("id", "embeddings").collect()
        result["rows"] = {r.id: [[a.begin, a.end, a.result, list(a.embeddings)] for a in r.embeddings]
                          for r in rows}
        result["linked"] = spark.sparkContext.parallelize([0], 1).map(
            lambda _: {p.name: sorted(f.name for f in p.iterdir())
                       for p in __import__("pathlib").Path(SparkFiles.getRootDirectory()).iterdir()
                       if p.is_dir()}).collect()[0]
    except Exception as exc:  # the executors' refusal, as the driver receives it
        result["error"] = str(exc)
    with open(out, "w") as handle:
        json.dump(result, handle)
    spark.stop()
    """
)


@pytest.fixture(scope="module")
def external_data_cluster(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A standalone cluster, and a copy of the bundled model with its weights as external data
    (model.onnx.data, listed in the manifest) in a folder the worker cannot see."""
    pytest.importorskip("onnx")
    from annotators.deberta.pretrained import BUNDLED_DIR
    from tests.cluster import external_data_model

    work = tmp_path_factory.mktemp("external_data")
    made = external_data_model(
        BUNDLED_DIR / "deberta_v3_tiny_random_en", work / "made" / "deberta_v3_tiny_external"
    )
    with cluster_with_driver_only_model(work, (made,)) as (master, model_dir, hidden):
        yield master, model_dir.parent / made.name, hidden


def run_external_driver(master: str, model_dir: Path, tmp_path: Path, mode: str) -> dict:
    script = tmp_path / "driver.py"
    script.write_text(EXTERNAL_DRIVER)
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, str(script), master, str(model_dir), str(out), json.dumps(TEXTS), mode],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(out.read_text())


def test_a_model_with_external_data_runs_on_executors_that_cannot_see_it(
    external_data_cluster, tmp_path
) -> None:
    """The graph, its data file and spm.model travel with addFile; each executor links them
    under their own names in one folder (two task slots race for it), and the vectors equal the
    driver's, read in place."""
    master, model_dir, hidden = external_data_cluster
    assert (model_dir / "model.onnx.data").is_file()
    result = run_external_driver(master, model_dir, tmp_path, "run")
    assert "error" not in result, result.get("error", "")[-5000:]
    if hidden:
        assert result["executor_sees_driver_model"] is False
    linked = [files for name, files in result["linked"].items() if name.startswith("deberta-")]
    assert linked == [["model.onnx", "model.onnx.data", "spm.model"]]
    assert not [name for name in result["linked"] if name.startswith(".")]  # no staging left
    assert_rows_equal_the_driver(model_dir, result["rows"])
    assert any(result["rows"].values())


def test_an_external_data_file_swapped_before_shipping_is_refused_on_the_executor(
    external_data_cluster, tmp_path
) -> None:
    """The data file changed after the driver checked the folder: the executor checks the copy
    that reached it against the manifest's sha256 and refuses to run, naming the file."""
    master, model_dir, _ = external_data_cluster
    result = run_external_driver(master, model_dir, tmp_path, "swap")
    assert "rows" not in result
    assert "ModelFolderError" in result["error"]
    assert "the external-data file model.onnx.data that reached this executor" in result["error"]
    assert "does not match the sha256 checked on the driver" in result["error"]
