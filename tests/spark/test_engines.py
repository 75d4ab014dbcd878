"""The inference engines: OpenVINO fp32 holds the PyTorch parity of ONNX Runtime (1e-4); bf16
stays within its stated tolerance and really computes in bfloat16; impossible combinations are
refused before any work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F

from annotators import LightPipeline, nlu
from annotators.deberta.encoder import runtime_for
from annotators.errors import EngineError
from pipelines.arguments import parse_args
from pipelines.job import run
from tests.spark.test_classifier import (
    CLASSIFIER_CASES,
    assert_categories,
    classifier_for,
    pipeline_for,
)
from tests.spark.test_deberta_embeddings import (
    CASES,
    assert_matches_reference,
    embeddings_stage,
    fitted_pipeline,
)
from tests.support import annotations_of

pytestmark = pytest.mark.classic

openvino = pytest.importorskip("openvino")
#: bf16 against the fp32 PyTorch reference: every vector within this cosine and largest
#: difference (bfloat16 keeps 8 significant bits; the fixtures' values are at most about 3.5).
BF16_MIN_COSINE = 0.9999
BF16_MAX_DIFFERENCE = 1e-2
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "frankenstein.txt"


def cpu_has_bf16() -> bool:
    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


needs_bf16 = pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bfloat16")


def vectors(annotations: list[dict]) -> np.ndarray:
    return np.asarray([a["embeddings"] for a in annotations], np.float32)


def assert_within_bf16_tolerance(case: dict, found: list[dict]) -> None:
    expected = np.asarray([v for v in case["vectors"] if v is not None], np.float32)
    got = vectors(found)
    assert got.shape == expected.shape, case["name"]
    cosine = (got * expected).sum(1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    )
    assert cosine.min() >= BF16_MIN_COSINE, (case["name"], cosine.min())
    assert np.abs(got - expected).max() <= BF16_MAX_DIFFERENCE, case["name"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_openvino_fp32_matches_pytorch_in_light_pipeline(spark, name: str) -> None:
    case = CASES[name]
    stage = embeddings_stage(case).setEngine("openvino")
    [result] = LightPipeline(fitted_pipeline(spark, stage), parse_embeddings=True).fullAnnotate(
        case["text"]
    )
    assert_matches_reference(case, [a.__dict__ for a in result["embeddings"]])


def test_openvino_fp32_matches_pytorch_on_spark(spark) -> None:
    for case in CASES.values():
        model = fitted_pipeline(spark, embeddings_stage(case).setEngine("openvino"))
        frame = spark.createDataFrame([(case["text"],)], "text string").repartition(2)
        [found] = annotations_of(model.transform(frame).collect(), "embeddings")
        assert_matches_reference(case, found)


@needs_bf16
def test_bf16_stays_within_tolerance_on_spark_and_in_light_pipeline(spark) -> None:
    for case in CASES.values():
        stage = embeddings_stage(case).setEngine("openvino").setPrecision("bf16")
        model = fitted_pipeline(spark, stage)
        frame = spark.createDataFrame([(case["text"],)], "text string").repartition(2)
        [on_spark] = annotations_of(model.transform(frame).collect(), "embeddings")
        assert_within_bf16_tolerance(case, on_spark)
        [light] = LightPipeline(model, parse_embeddings=True).fullAnnotate(case["text"])
        in_light = [a.__dict__ for a in light["embeddings"]]
        assert_within_bf16_tolerance(case, in_light)
        np.testing.assert_allclose(vectors(in_light), vectors(on_spark), atol=1e-6)


@needs_bf16
def test_bf16_really_computes_in_bfloat16() -> None:
    """Numbers differ from OpenVINO f32 by far more than float rounding: not a silent fp32."""
    stage = embeddings_stage()
    ids = np.array([[1, *range(300, 340), 2]], dtype=np.int64)
    mask = np.ones_like(ids)
    fp32 = runtime_for(stage.setEngine("openvino").settings()).run(ids, mask)
    bf16 = runtime_for(stage.setPrecision("bf16").settings()).run(ids, mask)
    reference = runtime_for(embeddings_stage().settings()).run(ids, mask)  # ONNX Runtime
    assert np.abs(fp32 - reference).max() < 1e-5
    assert np.abs(bf16 - fp32).max() > 1e-5


@pytest.mark.parametrize("name", ["ko_sentences", "pair"])
def test_openvino_classifier_matches_pytorch(spark, name: str) -> None:
    case = CLASSIFIER_CASES[name]
    model = pipeline_for(spark, case)
    model.stages[-1].setEngine("openvino")
    data = spark.createDataFrame([(case["text"], case.get("pair"))], "text string, text_b string")
    [found] = annotations_of(model.transform(data).collect(), "category")
    assert_categories(case, found)


def test_impossible_combinations_are_refused_before_any_work(spark) -> None:
    frame = spark.createDataFrame([("Some text.",)], "text string")
    stage = embeddings_stage().setPrecision("bf16")  # default engine: onnxruntime
    with pytest.raises(EngineError, match="'bf16' does not run on engine 'onnxruntime'"):
        fitted_pipeline(spark, stage).transform(frame)
    stage = embeddings_stage().setEngine("openvino").setExecutionProvider("cuda")
    with pytest.raises(EngineError, match="engine 'openvino' runs on the CPU here"):
        fitted_pipeline(spark, stage).transform(frame)
    classifier = classifier_for(CLASSIFIER_CASES["ko_sentences"]).setPrecision("bf16")
    with pytest.raises(EngineError, match="use setEngine\\('openvino'\\)"):
        classifier.settings()
    with pytest.raises(ValueError, match="engine 'tensorflow' is not supported"):
        embeddings_stage().setEngine("tensorflow")


@needs_bf16
def test_job_runs_openvino_bf16_from_the_command_line(spark, tmp_path) -> None:
    outputs = {}
    for name, extra in (("fp32", []), ("bf16", ["--engine", "openvino", "--precision", "bf16"])):
        outputs[name] = tmp_path / name
        argv = ["--input", str(SAMPLE), "--output", str(outputs[name]), *extra]
        run(parse_args(argv), spark)
    frames = [
        spark.read.parquet(str(outputs[name]))
        .select("id", F.posexplode("embeddings").alias("n", "e"))
        .select("id", "n", "e.begin", "e.embeddings")
        for name in ("fp32", "bf16")
    ]
    joined = (
        frames[0]
        .alias("a")
        .join(frames[1].alias("b"), ["id", "n"], "full_outer")
        .select("a.begin", "b.begin", "a.embeddings", "b.embeddings")
        .collect()
    )
    assert joined and all(row[0] == row[1] for row in joined)  # token for token
    a = np.asarray([row[2] for row in joined], np.float32)
    b = np.asarray([row[3] for row in joined], np.float32)
    cosine = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cosine.min() >= BF16_MIN_COSINE
    assert 0 < np.abs(a - b).max() <= BF16_MAX_DIFFERENCE


@needs_bf16
def test_one_liner_takes_engine_and_precision() -> None:
    text = CASES["english"]["text"]
    frame = nlu.load("en.embed.deberta_v3_tiny_random", engine="openvino", precision="bf16")
    default = nlu.load("en.embed.deberta_v3_tiny_random").predict(text)
    got = frame.predict(text)
    assert got["token"].tolist() == default["token"].tolist()
    a, b = np.stack(got["embedding"].tolist()), np.stack(default["embedding"].tolist())
    assert 0 < np.abs(a - b).max() <= BF16_MAX_DIFFERENCE
    with pytest.raises(EngineError, match="'bf16' does not run on engine 'onnxruntime'"):
        nlu.load("en.embed.deberta_v3_tiny_random", precision="bf16")
