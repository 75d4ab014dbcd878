"""Pipelines of our stages: fit, transform, save/load, input checks, LightPipeline parity."""

from __future__ import annotations

import pytest
from pyspark.ml import Pipeline, PipelineModel

from annotators import DocumentAssembler, LightPipeline, SentenceDetector, Tokenizer
from annotators.annotation import to_annotation
from annotators.errors import StageInputError
from tests.support import annotations_of

pytestmark = pytest.mark.compat

TEXTS = [
    "Hello World. My name is Jonas E. Smith. I live in the U.S. How about you?",
    "안녕하세요. 저는 서울에 살아요! 날씨가 좋네요 😀.",
    "1) The first item 2) The second item",
    "   ",
    "",
    "Zero\u200bwidth, combin\u0301ing, RTL \u05e9\u05dc\u05d5\u05dd. Tabs\tand\nnewlines.",
    "Ellipsis... And more. . . . Next one!",
]


def text_pipeline() -> Pipeline:
    return Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
            Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
        ]
    )


@pytest.fixture(scope="module")
def texts_df(spark):
    rows = [(i, t) for i, t in enumerate(TEXTS)] + [(len(TEXTS), None)]
    return spark.createDataFrame(rows, "id int, text string")


@pytest.fixture(scope="module")
def fitted(texts_df) -> PipelineModel:
    return text_pipeline().fit(texts_df)


def test_light_pipeline_equals_the_dataframe_path(fitted, texts_df) -> None:
    rows = fitted.transform(texts_df).orderBy("id").collect()
    light = LightPipeline(fitted)
    for row in rows:
        # a null text is refused by the call (as the reference's); run_row gives the DataFrame's
        [expected] = (
            light.fullAnnotate(row.text)
            if row.text is not None
            else [{c: [to_annotation(a) for a in v] for c, v in light.run_row(None).items()}]
        )
        for column in ("document", "sentence", "token"):
            got = [a.__dict__ for a in expected[column]]
            assert annotations_of([row], column)[0] == got, (row.id, column)


def test_annotate_returns_results_per_output_column(fitted) -> None:
    light = LightPipeline(fitted)
    result = light.annotate("Hello there. General Kenobi!")
    assert result == {
        "document": ["Hello there. General Kenobi!"],
        "sentence": ["Hello there.", "General Kenobi!"],
        "token": ["Hello", "there", ".", "General", "Kenobi", "!"],
    }
    assert light.annotate(["One.", "Two."]) == [light.annotate("One."), light.annotate("Two.")]
    assert light.run_row(None) == {"document": [], "sentence": [], "token": []}
    with pytest.raises(TypeError, match="Unsupported input for annotate"):
        light.annotate(None)


def test_every_input_row_comes_out(fitted, texts_df) -> None:
    out = fitted.transform(texts_df)
    assert out.count() == texts_df.count()
    assert out.filter("token is null or sentence is null or document is null").count() == 0


@pytest.mark.ml_persistence
def test_pipeline_model_save_and_load_round_trip(fitted, texts_df, tmp_path) -> None:
    path = str(tmp_path / "text_pipeline")
    fitted.write().overwrite().save(path)
    loaded = PipelineModel.load(path)
    assert [type(s).__name__ for s in loaded.stages] == [
        "DocumentAssembler",
        "SentenceDetector",
        "TokenizerModel",
    ]
    before = fitted.transform(texts_df).orderBy("id").select("token").collect()
    after = loaded.transform(texts_df).orderBy("id").select("token").collect()
    assert before == after


@pytest.mark.ml_persistence
def test_unfitted_pipeline_saves_and_loads_with_its_parameters(tmp_path) -> None:
    pipeline = Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setCleanupMode("shrink"),
            SentenceDetector().setInputCols("document").setCustomBounds([";"]).setSplitLength(50),
            Tokenizer().setInputCols("sentence").setExceptions(["New York"]).setSplitChars(["-"]),
        ]
    )
    path = str(tmp_path / "pipeline")
    pipeline.save(path)
    assembler, detector, tokenizer = Pipeline.load(path).getStages()
    assert assembler.getCleanupMode() == "shrink"
    assert (detector.getCustomBounds(), detector.getSplitLength()) == ([";"], 50)
    assert (tokenizer.getExceptions(), tokenizer.getSplitChars()) == (["New York"], ["-"])


def test_wrong_input_type_names_column_found_and_needed(fitted, texts_df) -> None:
    annotated = fitted.transform(texts_df)
    detector = SentenceDetector().setInputCols(["token"])
    with pytest.raises(
        ValueError,
        match="input column 'token' has annotator type 'token', but SentenceDetector needs columns of type document",
    ):
        detector.transform(annotated)


def test_missing_and_plain_input_columns_are_refused(texts_df) -> None:
    with pytest.raises(
        ValueError, match="input column 'document' does not exist; available columns: id, text"
    ):
        SentenceDetector().setInputCols("document").transform(texts_df)
    with pytest.raises(ValueError, match="input column 'text' is not an annotation column"):
        SentenceDetector().setInputCols("text").transform(texts_df)
    with pytest.raises(ValueError, match="inputCols is not set"):
        SentenceDetector().transform(texts_df)


def test_light_pipeline_refuses_unfitted_stages() -> None:
    with pytest.raises(StageInputError, match="Tokenizer .* is not fitted; fit the Pipeline"):
        LightPipeline(text_pipeline().getStages())


def test_light_pipeline_skips_finishers_and_transforms_dataframes(texts_df) -> None:
    """The reference's LightPipeline skips finishers and has transform(df); a row given without
    an assembler's column is refused with the library's own error."""
    from annotators import EmbeddingsFinisher
    from annotators.errors import SparkDebertaError

    fitted = text_pipeline().fit(texts_df)
    finisher = EmbeddingsFinisher().setInputCols(["token"]).setOutputCols(["finished"])
    light = LightPipeline([*fitted.stages, finisher])
    assert light.annotate("Hi there.") == LightPipeline(fitted).annotate("Hi there.")
    transformed = LightPipeline(fitted).transform(texts_df.select("text"))
    assert transformed.columns == ["text", "document", "sentence", "token"]
    assert [r.token for r in transformed.collect()] == [
        r.token for r in fitted.transform(texts_df.select("text")).collect()
    ]
    with pytest.raises(SparkDebertaError, match="has no text for the DocumentAssembler"):
        light.annotate({"other": "text"})
