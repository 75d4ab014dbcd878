"""DeBertaEmbeddings: parity with PyTorch on both paths, alignment rules, params, save/load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel

from annotators import (
    DeBertaEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    LightPipeline,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)
from annotators.deberta.pretrained import BUNDLED_DIR
from annotators.errors import ModelFolderError
from tests.support import annotations_of

pytestmark = pytest.mark.compat

MODEL = BUNDLED_DIR / "deberta_v3_tiny_random_en"
REFERENCE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "tiny_reference.json").read_text()
)
CASES = {case["name"]: case for case in REFERENCE["cases"]}
TOLERANCE = 1e-4


def embeddings_stage(case: dict | None = None) -> DeBertaEmbeddings:
    stage = (
        DeBertaEmbeddings.loadSavedModel(str(MODEL))
        .setInputCols(["sentence", "token"])
        .setOutputCol("embeddings")
    )
    if case:
        stage.setCaseSensitive(case["case_sensitive"]).setMaxSentenceLength(
            case["max_sentence_length"]
        )
        stage.setLongSentenceStrategy(case.get("strategy", "window"))
    return stage


def fitted_pipeline(spark, stage: DeBertaEmbeddings) -> PipelineModel:
    pipeline = Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            Tokenizer().setInputCols("sentence"),
            stage,
        ]
    )
    return pipeline.fit(spark.createDataFrame([("x",)], "text string"))


def assert_matches_reference(case: dict, found: list[dict]) -> None:
    expected = [
        (t, v) for t, v in zip(case["tokens"], case["vectors"], strict=True) if v is not None
    ]
    assert len(found) == len(expected), case["name"]
    for annotation, ((begin, end, result, sentence), vector) in zip(found, expected, strict=True):
        token = result if case["case_sensitive"] else result.lower()
        assert (annotation["begin"], annotation["end"], annotation["result"]) == (begin, end, token)
        assert annotation["metadata"]["sentence"] == sentence
        assert (
            annotation["metadata"]["token"] == token
            and annotation["metadata"]["isWordStart"] == "true"
        )
        difference = np.abs(
            np.asarray(annotation["embeddings"], np.float32) - np.asarray(vector, np.float32)
        ).max()
        assert difference <= TOLERANCE, (case["name"], result, difference)


@pytest.mark.parametrize("name", sorted(CASES))
def test_light_pipeline_matches_pytorch(spark, name: str) -> None:
    case = CASES[name]
    light = LightPipeline(fitted_pipeline(spark, embeddings_stage(case)), parse_embeddings=True)
    [result] = light.fullAnnotate(case["text"])
    assert_matches_reference(case, [a.__dict__ for a in result["embeddings"]])


def test_spark_path_matches_pytorch_for_every_case(spark) -> None:
    for case in CASES.values():
        model = fitted_pipeline(spark, embeddings_stage(case))
        df = spark.createDataFrame([(case["text"],)], "text string").repartition(2)
        out = model.transform(df)
        assert out.schema["embeddings"].metadata == {"annotatorType": "word_embeddings"}
        [found] = annotations_of(out.collect(), "embeddings")
        assert_matches_reference(case, found)


def test_window_strategy_gives_every_token_a_vector_and_truncate_drops_like_the_reference(
    spark,
) -> None:
    """Run both strategies on the long case: window annotates every token, truncate only the
    ones PyTorch's reference kept (the reference silently drops the rest)."""
    window, truncate = CASES["long_window"], CASES["long_truncate"]
    result = LightPipeline(fitted_pipeline(spark, embeddings_stage(window))).annotate(
        window["text"]
    )
    tokens, vectors = result["token"], result["embeddings"]
    assert len(vectors) == len(tokens) == len(window["tokens"])
    cut = LightPipeline(fitted_pipeline(spark, embeddings_stage(truncate))).annotate(
        truncate["text"]
    )["embeddings"]
    kept = sum(v is not None for v in truncate["vectors"])
    assert 0 < len(cut) == kept < len(tokens)


def test_batch_size_and_row_mix_do_not_change_vectors(spark) -> None:
    texts = [
        CASES["english"]["text"],
        CASES["unicode"]["text"],
        "Short.",
        "",
        None,
        CASES["long_window"]["text"],
    ]
    results = []
    for batch_size in (1, 3, 16):
        model = fitted_pipeline(
            spark, embeddings_stage().setBatchSize(batch_size).setMaxSentenceLength(24)
        )
        light = LightPipeline(model, parse_embeddings=True)
        results.append(  # the rows API, which takes a null text (the calls refuse one)
            [[a["embeddings"] for a in row["embeddings"]] for row in light.run_rows(texts)]
        )
    for other in results[1:]:
        for row_a, row_b in zip(results[0], other, strict=True):
            assert len(row_a) == len(row_b)
            for a, b in zip(row_a, row_b, strict=True):
                assert np.abs(np.asarray(a) - np.asarray(b)).max() <= 1e-5


def test_every_row_comes_out_and_null_or_empty_text_gives_no_vectors(spark) -> None:
    model = fitted_pipeline(spark, embeddings_stage())
    rows = [(i, t) for i, t in enumerate([None, "", "   ", "Fine.", "😀"])]
    out = (
        model.transform(spark.createDataFrame(rows, "id int, text string")).orderBy("id").collect()
    )
    assert [len(r.embeddings) for r in out] == [0, 0, 0, 2, 1]
    assert all(len(a.embeddings) == 32 for r in out for a in r.embeddings)


def test_int8_precision_runs_and_stays_close_to_fp32(spark) -> None:
    text = CASES["english"]["text"]
    fp32 = LightPipeline(fitted_pipeline(spark, embeddings_stage()), parse_embeddings=True)
    int8 = LightPipeline(
        fitted_pipeline(spark, embeddings_stage().setPrecision("int8")), parse_embeddings=True
    )
    a = np.asarray([x.embeddings for x in fp32.fullAnnotate(text)[0]["embeddings"]])
    b = np.asarray([x.embeddings for x in int8.fullAnnotate(text)[0]["embeddings"]])
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosine.mean() > 0.99


def test_parameters_and_defaults() -> None:
    stage = embeddings_stage()
    assert (stage.getBatchSize(), stage.getMaxSentenceLength(), stage.getCaseSensitive()) == (
        8,
        128,
        True,
    )
    assert (stage.getDimension(), stage.getStorageRef()) == (32, "deberta_v3_tiny_random")
    assert stage.getLongSentenceStrategy() == "window"
    for bad in (0, 1, 2, 513):  # 1 and 2 leave no room for a piece between [CLS] and [SEP]
        with pytest.raises(
            ValueError, match=f"maxSentenceLength must be between 3 and 512, got {bad}"
        ):
            stage.setMaxSentenceLength(bad)
    with pytest.raises(ValueError, match="longSentenceStrategy 'drop' is not supported"):
        stage.setLongSentenceStrategy("drop")
    with pytest.raises(ValueError, match="dimension 64 does not match the model's 32"):
        stage.setDimension(64)


def test_cuda_asked_for_but_absent_is_a_clear_error(spark) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    stage = embeddings_stage().setExecutionProvider("cuda")
    with pytest.raises(RuntimeError, match="no CUDAExecutionProvider; install onnxruntime-gpu"):
        stage.settings()


def test_input_types_are_checked(spark) -> None:
    model = fitted_pipeline(spark, embeddings_stage())
    df = model.transform(spark.createDataFrame([("a b",)], "text string"))
    with pytest.raises(ValueError, match="needs columns of type document, token"):
        embeddings_stage().setInputCols(["sentence", "embeddings"]).transform(df)


@pytest.mark.ml_persistence
def test_saved_pipeline_carries_its_model_and_loads_without_the_original(spark, tmp_path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    stage = (
        DeBertaEmbeddings.loadSavedModel(str(copy))
        .setInputCols("sentence", "token")
        .setBatchSize(3)
    )
    model = fitted_pipeline(spark, stage)
    df = spark.createDataFrame([("Saved and loaded. Still the same!",)], "text string")
    before = model.transform(df).select("embeddings").collect()
    model.write().overwrite().save(str(tmp_path / "pipeline"))
    shutil.rmtree(copy)
    loaded = PipelineModel.load(str(tmp_path / "pipeline"))
    assert loaded.stages[-1].getBatchSize() == 3
    assert loaded.transform(df).select("embeddings").collect() == before
    assert DeBertaEmbeddings.load(str(MODEL)).getDimension() == 32  # a model folder loads too


def test_pretrained_finds_bundled_models_and_says_what_to_do_otherwise(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARK_DEBERTA_REMOTE", raising=False)
    assert DeBertaEmbeddings.pretrained("deberta_v3_tiny_random", "en").getDimension() == 32
    with pytest.raises(
        ModelFolderError,
        match="deberta_v3_xsmall \\(en\\) is not in the cache .* spark-deberta export",
    ):
        DeBertaEmbeddings.pretrained()


def test_sentence_embeddings_average_and_sum(spark) -> None:
    stage = embeddings_stage()
    pooled = {}
    for strategy in ("AVERAGE", "SUM"):
        model = Pipeline(
            stages=[
                fitted_pipeline(spark, stage),
                SentenceEmbeddings()
                .setInputCols(["sentence", "embeddings"])
                .setPoolingStrategy(strategy),
            ]
        ).fit(spark.createDataFrame([("x",)], "text string"))
        [row] = model.transform(
            spark.createDataFrame([("One two. Three four five.",)], "text string")
        ).collect()
        pooled[strategy] = row
    words = [np.asarray(a.embeddings) for a in pooled["SUM"].embeddings]
    sentences = pooled["SUM"].sentence_embeddings
    assert [s.result for s in sentences] == ["One two.", "Three four five."]
    assert np.allclose(sentences[0].embeddings, np.sum(words[:3], axis=0), atol=1e-5)
    assert np.allclose(
        pooled["AVERAGE"].sentence_embeddings[1].embeddings, np.mean(words[3:], axis=0), atol=1e-5
    )


def test_embeddings_finisher_arrays_vectors_and_clean(spark) -> None:
    annotated = fitted_pipeline(spark, embeddings_stage()).transform(
        spark.createDataFrame([("Hello world.",)], "text string")
    )
    arrays = EmbeddingsFinisher().setInputCols("embeddings").transform(annotated).first()
    assert len(arrays.finished_embeddings) == 3 and len(arrays.finished_embeddings[0]) == 32
    finisher = EmbeddingsFinisher().setInputCols(["embeddings"]).setOutputCols(["vectors"])
    finished = finisher.setOutputAsVector(True).setCleanAnnotations(True).transform(annotated)
    assert finished.columns == ["text", "vectors"]
    assert finished.first().vectors[0].size == 32
    with pytest.raises(ValueError, match="input column 'token' has annotator type 'token'"):
        EmbeddingsFinisher().setInputCols("token").transform(annotated)


def test_light_pipeline_called_from_many_threads_equals_one_thread(spark) -> None:
    from concurrent.futures import ThreadPoolExecutor

    light = LightPipeline(fitted_pipeline(spark, embeddings_stage()), parse_embeddings=True)
    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / "frankenstein.txt"
    texts = sample.read_text(encoding="utf-8").splitlines() * 3

    def vectors(text: str) -> list[list[float]]:
        return [a.embeddings for a in light.fullAnnotate(text)[0]["embeddings"]]

    expected = [vectors(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(vectors, texts))
    assert len(found) == len(expected)
    for one, many in zip(expected, found, strict=True):
        assert len(one) == len(many) > 0
        assert np.abs(np.asarray(one) - np.asarray(many)).max() <= 1e-5


@pytest.mark.classic
def test_a_stage_saves_and_loads_on_a_non_local_hadoop_filesystem(spark, tmp_path) -> None:
    """viewfs: a Hadoop filesystem under another scheme, mounted on a temporary folder."""
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.set("fs.viewfs.mounttable.models.link./store", tmp_path.as_uri())
    stage = DeBertaEmbeddings.loadSavedModel(str(MODEL)).setInputCols("sentence", "token")
    stage.write().overwrite().save("viewfs://models/store/stage")
    saved = tmp_path / "stage" / "model"
    assert saved.is_dir() and (saved / "model.onnx").is_file()
    assert DeBertaEmbeddings.load("viewfs://models/store/stage").getDimension() == 32

    # A path without a scheme is on the default filesystem, for the params and the files alike.
    default = hadoop.get("fs.defaultFS")
    hadoop.set("fs.defaultFS", "viewfs://models/")
    try:
        stage.write().overwrite().save("/store/plain")
        loaded = DeBertaEmbeddings.load("/store/plain")
    finally:
        hadoop.set("fs.defaultFS", default)
    assert (tmp_path / "plain" / "metadata").is_dir()
    assert (tmp_path / "plain" / "model" / "spm.model").is_file()
    assert loaded.getDimension() == 32


def test_the_shortest_sequence_still_gives_every_token_a_vector(spark) -> None:
    """maxSentenceLength 3: windows of one piece; truncate keeps the reference's cut."""
    df = spark.createDataFrame([("Three short words here.",)], "text string")
    for strategy, vectors in (("window", 5), ("truncate", 1)):
        stage = embeddings_stage().setMaxSentenceLength(3).setLongSentenceStrategy(strategy)
        row = fitted_pipeline(spark, stage).transform(df).collect()[0]
        assert len(row.token) == 5 and len(row.embeddings) == vectors, strategy


def test_a_token_without_pieces_leaves_the_other_vectors_as_the_model_gives_them(spark) -> None:
    """A zero-width space is a token of its own with no piece: inserting a piece for it (as
    [UNK]) would change every other token's vector through attention."""
    model = fitted_pipeline(spark, embeddings_stage())
    for strategy in ("window", "truncate"):
        model.stages[-1].setLongSentenceStrategy(strategy)
        rows = model.transform(
            spark.createDataFrame(
                [(1, "Plain words here."), (2, "Plain \u200b words \u200b here.")],
                "id int, text string",
            )
        )
        plain, spaced = [r.embeddings for r in rows.orderBy("id").collect()]
        real = [e for e in spaced if e.metadata["pieceId"] != "-1"]
        pieceless = [e for e in spaced if e.metadata["pieceId"] == "-1"]
        assert [e.result for e in pieceless] == ["\u200b", "\u200b"]
        assert [e.result for e in real] == [e.result for e in plain]
        for ours, reference in zip(real, plain, strict=True):
            assert np.allclose(ours.embeddings, reference.embeddings, atol=1e-5), strategy
        assert pieceless[0].embeddings == pieceless[1].embeddings  # both the sentence's [CLS]
