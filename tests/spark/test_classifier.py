"""DeBertaForSequenceClassification and Korean text end to end, against PyTorch references.

tests/fixtures/tiny_korean_reference.json was written by ``make_tiny_model.py --korean`` from
PyTorch (softmax/sigmoid of DebertaV2ForSequenceClassification's logits; DebertaV2Model's
last_hidden_state), with its own plain reading of the alignment, window and pair rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel

from annotators import (
    DeBertaEmbeddings,
    DeBertaForSequenceClassification,
    DocumentAssembler,
    LightPipeline,
    SentenceDetector,
    Tokenizer,
    TokenizerModel,
)
from annotators.errors import ModelFolderError, StageInputError
from tests.support import annotations_of

pytestmark = pytest.mark.compat

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CLASSIFIER = FIXTURES / "models" / "deberta_v3_tiny_ko_classifier"
KOREAN_EMBEDDINGS = FIXTURES / "models" / "deberta_v3_tiny_ko"
REFERENCE = json.loads((FIXTURES / "tiny_korean_reference.json").read_text(encoding="utf-8"))
CLASSIFIER_CASES = {case["name"]: case for case in REFERENCE["classifier"]}
EMBEDDINGS_CASES = {case["name"]: case for case in REFERENCE["embeddings"]}
TOLERANCE = 1e-4


def classifier_for(case: dict) -> DeBertaForSequenceClassification:
    stage = (
        DeBertaForSequenceClassification.loadSavedModel(str(CLASSIFIER))
        .setOutputCol("category")
        .setCaseSensitive(case.get("case_sensitive", True))
        .setMaxSentenceLength(case.get("max_sentence_length", 128))
        .setLongSentenceStrategy(case.get("strategy", "window"))
        .setCoalesceSentences(case.get("coalesce", False))
        .setActivation(case.get("activation", "softmax"))
        .setThreshold(case.get("threshold", 0.5))
    )
    if "pair" in case:
        return stage.setInputCols(["document", "token"]).setPairInputCol("token_b")
    return stage.setInputCols(["sentence", "token"])


def pipeline_for(spark, case: dict) -> PipelineModel:
    if "pair" in case:
        stages = [
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            DocumentAssembler().setInputCol("text_b").setOutputCol("document_b"),
            Tokenizer().setInputCols("document").setOutputCol("token"),
            Tokenizer().setInputCols("document_b").setOutputCol("token_b"),
        ]
    else:
        stages = [
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            Tokenizer().setInputCols("sentence"),
        ]
    data = spark.createDataFrame([("x", "y")], "text string, text_b string")
    return Pipeline(stages=[*stages, classifier_for(case)]).fit(data)


def assert_categories(case: dict, found: list[dict]) -> None:
    expected = case["expected"]
    assert len(found) == len(expected), case["name"]
    for annotation, (begin, end, label, metadata) in zip(found, expected, strict=True):
        assert (annotation["begin"], annotation["end"], annotation["result"]) == (begin, end, label)
        assert annotation["annotatorType"] == "category"
        assert set(annotation["metadata"]) == set(metadata)
        for key, value in metadata.items():
            if isinstance(value, str):
                assert annotation["metadata"][key] == value, (case["name"], key)
            else:
                difference = abs(float(annotation["metadata"][key]) - value)
                assert difference <= TOLERANCE, (case["name"], key, difference)


@pytest.mark.parametrize("name", sorted(CLASSIFIER_CASES))
def test_classifier_matches_pytorch_through_spark(spark, name: str) -> None:
    case = CLASSIFIER_CASES[name]
    model = pipeline_for(spark, case)
    data = spark.createDataFrame([(case["text"], case.get("pair"))], "text string, text_b string")
    [found] = annotations_of(model.transform(data).collect(), "category")
    assert_categories(case, found)


@pytest.mark.parametrize("name", sorted(CLASSIFIER_CASES))
def test_classifier_matches_pytorch_through_light_pipeline(spark, name: str) -> None:
    case = CLASSIFIER_CASES[name]
    light = LightPipeline(pipeline_for(spark, case))
    row = {"text": case["text"], "text_b": case["pair"]} if "pair" in case else case["text"]
    [result] = light.fullAnnotate(row)
    found = [
        {
            "annotatorType": a.annotatorType,
            "begin": a.begin,
            "end": a.end,
            "result": a.result,
            "metadata": a.metadata,
        }
        for a in result["category"]
    ]
    assert_categories(case, found)


def test_classifier_labels_come_from_the_manifest_and_scores_sum_to_one() -> None:
    stage = DeBertaForSequenceClassification.loadSavedModel(str(CLASSIFIER))
    assert stage.getClasses() == ["negative", "neutral", "positive"]
    core = classifier_for(CLASSIFIER_CASES["ko_sentences"]).row_core()
    light = LightPipeline(
        [
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            TokenizerModel().setInputCols("sentence").setOutputCol("token"),
        ]
    )
    tokens = light.run_row("정말 좋아요. 별로예요.")
    categories = core(tokens["sentence"], tokens["token"])
    assert len(categories) == 2
    for category in categories:
        scores = [float(category["metadata"][label]) for label in stage.getClasses()]
        assert abs(sum(scores) - 1.0) < 1e-5
        assert category["result"] == stage.getClasses()[int(np.argmax(scores))]


def test_empty_and_null_text_give_no_category_and_keep_the_row(spark) -> None:
    case = CLASSIFIER_CASES["ko_sentences"]
    model = pipeline_for(spark, case)
    data = spark.createDataFrame(
        [("",), (None,), ("   ",), ("좋아요!",)], "text string"
    ).selectExpr("text", "cast(null as string) as text_b")
    found = annotations_of(model.transform(data).collect(), "category")
    assert [len(row) for row in found] == [0, 0, 0, 1]


def test_stages_refuse_a_model_of_the_other_task() -> None:
    with pytest.raises(ModelFolderError, match="sequence-classification model.*DeBertaForSeq"):
        DeBertaEmbeddings.loadSavedModel(str(CLASSIFIER))
    with pytest.raises(ModelFolderError, match="embeddings model.*DeBertaEmbeddings"):
        DeBertaForSequenceClassification.loadSavedModel(str(KOREAN_EMBEDDINGS))


def test_pair_column_of_the_wrong_type_is_refused_by_name(spark) -> None:
    case = CLASSIFIER_CASES["pair"]
    stages = pipeline_for(spark, case).stages
    stages[-1].setPairInputCol("document_b")
    data = spark.createDataFrame([("a", "b")], "text string, text_b string")
    with pytest.raises(StageInputError, match="pairInputCol 'document_b'.*'document'.*token"):
        PipelineModel(stages).transform(data)
    stages[-1].setPairInputCol("nothing")
    with pytest.raises(StageInputError, match="'nothing' does not exist"):
        PipelineModel(stages).transform(data)
    stages[-1].setPairInputCol("token_b").setMaxSentenceLength(4)
    with pytest.raises(StageInputError, match="maxSentenceLength 4 cannot hold a sentence pair"):
        PipelineModel(stages).transform(data)


@pytest.mark.ml_persistence
def test_classifier_pipeline_saves_and_loads_with_its_model(spark, tmp_path) -> None:
    case = CLASSIFIER_CASES["ko_coalesce"]
    model = pipeline_for(spark, case)
    model.write().overwrite().save(str(tmp_path / "saved"))
    loaded = PipelineModel.load(str(tmp_path / "saved"))
    data = spark.createDataFrame([(case["text"], None)], "text string, text_b string")
    [found] = annotations_of(loaded.transform(data).collect(), "category")
    assert_categories(case, found)
    assert loaded.stages[-1].getCoalesceSentences() is True


# -- Korean end to end ---------------------------------------------------------------------


def korean_embeddings_pipeline(spark, case: dict) -> PipelineModel:
    embeddings = (
        DeBertaEmbeddings.loadSavedModel(str(KOREAN_EMBEDDINGS))
        .setInputCols(["sentence", "token"])
        .setOutputCol("embeddings")
        .setCaseSensitive(case["case_sensitive"])
    )
    stages = [
        DocumentAssembler().setInputCol("text"),
        SentenceDetector().setInputCols("document"),
        Tokenizer().setInputCols("sentence"),
        embeddings,
    ]
    return Pipeline(stages=stages).fit(spark.createDataFrame([("x",)], "text string"))


@pytest.mark.parametrize("name", sorted(EMBEDDINGS_CASES))
def test_korean_embeddings_match_pytorch_with_exact_offsets(spark, name: str) -> None:
    case = EMBEDDINGS_CASES[name]
    model = korean_embeddings_pipeline(spark, case)
    text = case["text"]
    annotated = model.transform(spark.createDataFrame([(text,)], "text string")).collect()
    [sentences] = annotations_of(annotated, "sentence")
    [found] = annotations_of(annotated, "embeddings")
    light = LightPipeline(model).run_row(text)["embeddings"]
    for annotation in sentences:
        assert text[annotation["begin"] : annotation["end"] + 1] == annotation["result"]
    assert len(found) == len(case["tokens"]) == len(light)
    for spark_row, light_row, (begin, end, token, sentence), vector in zip(
        found, light, case["tokens"], case["vectors"], strict=True
    ):
        assert text[begin : end + 1] == token
        expected = token if case["case_sensitive"] else token.lower()
        assert (spark_row["begin"], spark_row["end"], spark_row["result"]) == (begin, end, expected)
        assert spark_row["metadata"]["sentence"] == sentence
        for row in (spark_row, light_row):
            difference = np.abs(np.asarray(row["embeddings"]) - np.asarray(vector)).max()
            assert difference <= TOLERANCE, (name, token, difference)


def test_lower_casing_leaves_hangul_alone() -> None:
    """caseSensitive=false lower-cases Latin letters only: Hangul tokens keep the same pieces."""
    cased = DeBertaEmbeddings.loadSavedModel(str(KOREAN_EMBEDDINGS)).setCaseSensitive(True)
    uncased = DeBertaEmbeddings.loadSavedModel(str(KOREAN_EMBEDDINGS)).setCaseSensitive(False)
    text = "서울역에서 KTX를 탔다"
    tokens = [
        {
            "annotatorType": "token",
            "begin": b,
            "end": e,
            "result": text[b : e + 1],
            "metadata": {"sentence": "0"},
            "embeddings": [],
        }
        for b, e in ((0, 4), (6, 9), (11, 12))
    ]
    cased_out = cased.row_core()([], tokens)
    uncased_out = uncased.row_core()([], tokens)
    assert [a["result"] for a in uncased_out] == ["서울역에서", "ktx를", "탔다"]
    # Each token's first piece is SentencePiece's own for the text as expected (Hangul as
    # written, Latin lower-cased), checked against the spm model directly, not against the
    # other stage.
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor(model_file=str(KOREAN_EMBEDDINGS / "spm.model"))

    def first_piece(word: str) -> str:
        pieces = [p for p in processor.EncodeAsPieces(word) if p != "▁"]
        return str(processor.PieceToId(pieces[0]))

    expected_uncased = [first_piece(w) for w in ("서울역에서", "ktx를", "탔다")]
    expected_cased = [first_piece(w) for w in ("서울역에서", "KTX를", "탔다")]
    assert [a["metadata"]["pieceId"] for a in uncased_out] == expected_uncased
    assert [a["metadata"]["pieceId"] for a in cased_out] == expected_cased
    assert expected_uncased[1] != expected_cased[1]  # the Latin token did change
