"""The rest of the DeBERTa family against PyTorch: token classification with NerConverter,
question answering with MultiDocumentAssembler, zero-shot classification.

tests/fixtures/tiny_family_reference.json was written by ``make_tiny_model.py --family`` from
PyTorch (softmax of DebertaV2ForTokenClassification's logits, DebertaV2ForQuestionAnswering's
start and end logits with a brute-force span search, DebertaV2ForSequenceClassification's NLI
logits), one sequence at a time, with its own plain reading of the rules. The cases are English
and Korean.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.ml import Pipeline, PipelineModel

from annotators import (
    DeBertaEmbeddings,
    DeBertaForQuestionAnswering,
    DeBertaForTokenClassification,
    DeBertaForZeroShotClassification,
    DocumentAssembler,
    LightPipeline,
    MultiDocumentAssembler,
    NerConverter,
    SentenceDetector,
    Tokenizer,
)
from annotators.errors import ModelFolderError, StageInputError
from annotators.ner_converter import entity_spans
from tests.support import annotations_of

pytestmark = pytest.mark.compat

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NER_MODEL = FIXTURES / "models" / "deberta_v3_tiny_ner"
QA_MODEL = FIXTURES / "models" / "deberta_v3_tiny_qa"
NLI_MODEL = FIXTURES / "models" / "deberta_v3_tiny_nli"
REFERENCE = json.loads((FIXTURES / "tiny_family_reference.json").read_text(encoding="utf-8"))
NER_CASES = {case["name"]: case for case in REFERENCE["ner"]}
QA_CASES = {case["name"]: case for case in REFERENCE["qa"]}
ZERO_SHOT_CASES = {case["name"]: case for case in REFERENCE["zero_shot"]}
TOLERANCE = 1e-4


def plain(annotations) -> list[dict]:  # type: ignore[no-untyped-def]
    """LightPipeline's Annotation objects as the dicts Spark rows give."""
    return [
        {"begin": a.begin, "end": a.end, "result": a.result, "metadata": dict(a.metadata)}
        for a in annotations
    ]


# -- token classification and NerConverter ---------------------------------------------------


def ner_pipeline(spark, case: dict) -> PipelineModel:
    tagger = (
        DeBertaForTokenClassification.loadSavedModel(str(NER_MODEL))
        .setInputCols(["sentence", "token"])
        .setOutputCol("ner")
        .setCaseSensitive(case.get("case_sensitive", True))
        .setMaxSentenceLength(case.get("max_sentence_length", 128))
        .setLongSentenceStrategy(case.get("strategy", "window"))
    )
    stages = [
        DocumentAssembler().setInputCol("text"),
        SentenceDetector().setInputCols("document"),
        Tokenizer().setInputCols("sentence"),
        tagger,
        NerConverter().setInputCols(["sentence", "token", "ner"]).setOutputCol("chunk"),
    ]
    return Pipeline(stages=stages).fit(spark.createDataFrame([("x",)], "text string"))


def assert_tags(case: dict, found: list[dict]) -> None:
    expected = case["expected"]
    assert len(found) == len(expected), case["name"]
    for tag, (begin, end, word, sentence, label, scores) in zip(found, expected, strict=True):
        assert (tag["begin"], tag["end"], tag["result"]) == (begin, end, label), case["name"]
        assert tag["metadata"]["word"] == word and tag["metadata"]["sentence"] == sentence
        assert set(tag["metadata"]) == {"word", "sentence", *scores}
        for name, score in scores.items():
            assert abs(float(tag["metadata"][name]) - score) <= TOLERANCE, (case["name"], name)


def expected_chunks(case: dict) -> list[tuple[int, int, str, str]]:
    """Chunks from the reference tags, by sentence, with the text sliced from the input."""
    by_sentence: dict[str, list] = {}
    for row in case["expected"]:
        by_sentence.setdefault(row[3], []).append(row)
    chunks = []
    for rows in by_sentence.values():
        for first, last, entity in entity_spans([row[4] for row in rows]):
            begin, end = rows[first][0], rows[last][1]
            chunks.append((begin, end, case["text"][begin : end + 1], entity))
    return chunks


@pytest.mark.parametrize("name", sorted(NER_CASES))
def test_token_classifier_and_chunks_match_pytorch_through_spark(spark, name: str) -> None:
    case = NER_CASES[name]
    rows = (
        ner_pipeline(spark, case)
        .transform(spark.createDataFrame([(case["text"],)], "text string"))
        .collect()
    )
    [tags] = annotations_of(rows, "ner")
    assert_tags(case, tags)
    [chunks] = annotations_of(rows, "chunk")
    found = [(c["begin"], c["end"], c["result"], c["metadata"]["entity"]) for c in chunks]
    assert found == expected_chunks(case)
    assert [c["metadata"]["chunk"] for c in chunks] == [str(i) for i in range(len(chunks))]
    for chunk in chunks:
        assert chunk["annotatorType"] == "chunk"
        assert case["text"][chunk["begin"] : chunk["end"] + 1] == chunk["result"]


@pytest.mark.parametrize("name", sorted(NER_CASES))
def test_token_classifier_matches_pytorch_through_light_pipeline(spark, name: str) -> None:
    case = NER_CASES[name]
    [result] = LightPipeline(ner_pipeline(spark, case)).fullAnnotate(case["text"])
    assert_tags(case, plain(result["ner"]))


def test_every_token_gets_a_label_with_windows_and_truncate_drops_the_tail() -> None:
    window, truncate = NER_CASES["ner_long_window"], NER_CASES["ner_long_truncate"]
    light = LightPipeline(
        [
            DocumentAssembler().setInputCol("text"),
            SentenceDetector().setInputCols("document"),
            Tokenizer().setInputCols("sentence").fit(None),  # type: ignore[arg-type]
        ]
    )
    window_tokens = light.annotate(window["text"])["token"]
    truncate_tokens = light.annotate(truncate["text"])["token"]
    assert len(window["expected"]) == len(window_tokens)
    # the reference's cut: tokens whose first piece is past maxSentenceLength - 2 get no label
    assert 0 < len(truncate["expected"]) <= truncate["max_sentence_length"] - 2
    assert len(truncate["expected"]) < len(truncate_tokens)


@pytest.mark.parametrize(
    ("tags", "spans"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [(0, 1, "PER"), (3, 3, "LOC")]),  # IOB2
        (["I-PER", "I-PER", "O", "I-LOC", "B-LOC"], [(0, 1, "PER"), (3, 3, "LOC"), (4, 4, "LOC")]),
        (["B-PER", "I-LOC"], [(0, 0, "PER"), (1, 1, "LOC")]),  # a type change splits
        (
            ["B-ORG", "I-ORG", "E-ORG", "S-PER", "O", "B-X", "E-X", "I-X"],
            [(0, 2, "ORG"), (3, 3, "PER"), (5, 6, "X"), (7, 7, "X")],
        ),  # BIOES
        (["U-LOC", "B-PER", "L-PER"], [(0, 0, "LOC"), (1, 2, "PER")]),  # BILOU
        (["O", "O"], []),
        ([], []),
    ],
)
def test_entity_spans_read_iob_iob2_and_bioes(tags: list[str], spans: list) -> None:
    assert entity_spans(tags) == spans


def test_ner_converter_lists_position_and_schema_options() -> None:
    text = "Ann Lee met Bob in Rome today"
    words = text.split()
    tokens, tags, position = [], [], 0
    labels = ["B-PER", "I-PER", "O", "B-PER", "O", "B-LOC", "O"]
    for word, label in zip(words, labels, strict=True):
        begin = text.index(word, position)
        position = begin + len(word)
        meta = {"sentence": "0"}
        tokens.append(
            {
                "annotatorType": "token",
                "begin": begin,
                "end": position - 1,
                "result": word,
                "metadata": meta,
                "embeddings": [],
            }
        )
        tags.append(
            {
                "annotatorType": "named_entity",
                "begin": begin,
                "end": position - 1,
                "result": label,
                "metadata": {**meta, label: "0.5", "word": word},
                "embeddings": [],
            }
        )
    document = [
        {
            "annotatorType": "document",
            "begin": 0,
            "end": len(text) - 1,
            "result": text,
            "metadata": {"sentence": "0"},
            "embeddings": [],
        }
    ]

    def run(converter: NerConverter) -> list[tuple]:
        found = converter.row_core()(document, tokens, tags)
        return [(c["result"], c["metadata"]["entity"], c["metadata"]["chunk"]) for c in found]

    assert run(NerConverter()) == [
        ("Ann Lee", "PER", "0"),
        ("Bob", "PER", "1"),
        ("Rome", "LOC", "2"),
    ]
    assert run(NerConverter(whiteList=["LOC"])) == [("Rome", "LOC", "0")]
    assert run(NerConverter(blackList=["LOC"])) == [("Ann Lee", "PER", "0"), ("Bob", "PER", "1")]
    assert NerConverter().row_core()(document, tokens, tags)[0]["metadata"]["confidence"] == "0.5"
    bare = [{**t, "result": t["result"][2:] if t["result"] != "O" else "O"} for t in tags]
    found = NerConverter(nerHasNoSchema=True).row_core()(document, tokens, bare)
    assert [c["result"] for c in found] == ["Ann Lee", "Bob", "Rome"]
    spaced = "Ann   Lee"
    doc2 = [{**document[0], "end": len(spaced) - 1, "result": spaced}]
    tok2 = [{**tokens[0]}, {**tokens[1], "begin": 6, "end": 8}]
    tag2 = [{**tags[0]}, {**tags[1], "begin": 6, "end": 8}]
    assert NerConverter().row_core()(doc2, tok2, tag2)[0]["result"] == "Ann   Lee"
    joined = NerConverter(preservePosition=False).row_core()(doc2, tok2, tag2)[0]
    assert (joined["result"], joined["begin"], joined["end"]) == ("Ann Lee", 0, 8)


# -- question answering ------------------------------------------------------------------------


def qa_pipeline(spark, case: dict) -> PipelineModel:
    answerer = (
        DeBertaForQuestionAnswering.loadSavedModel(str(QA_MODEL))
        .setInputCols(["document_question", "document_context"])
        .setCaseSensitive(case.get("case_sensitive", False))
        .setMaxSentenceLength(case.get("max_sentence_length", 128))
    )
    assembler = MultiDocumentAssembler(
        inputCols=["question", "context"], outputCols=["document_question", "document_context"]
    )
    data = spark.createDataFrame([("q", "c")], "question string, context string")
    return Pipeline(stages=[assembler, answerer]).fit(data)


def assert_answer(case: dict, answers: list[dict]) -> None:
    expected = case["expected"]
    [answer] = answers
    assert (answer["begin"], answer["end"], answer["result"]) == (
        expected["begin"],
        expected["end"],
        expected["result"],
    ), case["name"]
    assert case["context"][answer["begin"] : answer["end"] + 1] == answer["result"]
    metadata = answer["metadata"]
    assert (metadata["start"], metadata["end"]) == (
        str(expected["start"]),
        str(expected["end_index"]),
    )
    for key in ("start_score", "end_score"):
        assert abs(float(metadata[key]) - expected[key]) <= TOLERANCE
    mean = (expected["start_score"] + expected["end_score"]) / 2
    assert abs(float(metadata["score"]) - mean) <= TOLERANCE
    assert metadata["sentence"] == "0" and metadata["chunk"] == "0"


@pytest.mark.parametrize("name", sorted(QA_CASES))
def test_question_answering_matches_pytorch_through_spark(spark, name: str) -> None:
    case = QA_CASES[name]
    data = spark.createDataFrame(
        [(case["question"], case["context"])], "question string, context string"
    )
    [answers] = annotations_of(qa_pipeline(spark, case).transform(data).collect(), "answer")
    assert_answer(case, answers)
    assert answers[0]["annotatorType"] == "chunk"


@pytest.mark.parametrize("name", sorted(QA_CASES))
def test_question_answering_matches_pytorch_through_light_pipeline(spark, name: str) -> None:
    case = QA_CASES[name]
    light = LightPipeline(qa_pipeline(spark, case))
    [result] = light.fullAnnotate({"question": case["question"], "context": case["context"]})
    assert_answer(case, plain(result["answer"]))


def test_question_answering_keeps_rows_without_question_or_context(spark) -> None:
    case = QA_CASES["qa_en"]
    data = spark.createDataFrame(
        [
            (None, "ctx"),
            ("", "ctx"),
            ("Who?", None),
            ("Who?", "   "),
            (case["question"], case["context"]),
        ],
        "question string, context string",
    )
    found = annotations_of(qa_pipeline(spark, case).transform(data).collect(), "answer")
    assert [len(row) for row in found] == [0, 0, 0, 0, 1]


def test_question_answering_needs_two_document_columns() -> None:
    stage = DeBertaForQuestionAnswering.loadSavedModel(str(QA_MODEL))
    with pytest.raises(StageInputError, match="two document columns"):
        stage.setInputCols(["q"]).input_columns({"q": "document"})
    with pytest.raises(StageInputError, match="has annotator type 'token'"):
        stage.setInputCols(["q", "t"]).input_columns({"q": "document", "t": "token"})
    with pytest.raises(StageInputError, match="maxSentenceLength 4 cannot hold"):
        stage.setMaxSentenceLength(4).batch_core()
    with pytest.raises(ValueError, match="same number of columns"):
        MultiDocumentAssembler(inputCols=["a", "b"], outputCols=["x"]).assemblers()


# -- zero-shot classification ------------------------------------------------------------------


def zero_shot_pipeline(spark, case: dict) -> PipelineModel:
    classifier = (
        DeBertaForZeroShotClassification.loadSavedModel(str(NLI_MODEL))
        .setInputCols(["sentence", "token"])
        .setCandidateLabels(case["candidates"])
        .setMultilabel(case.get("multilabel", False))
        .setThreshold(case.get("threshold", 0.5))
        .setCoalesceSentences(case.get("coalesce", False))
        .setMaxSentenceLength(case.get("max_sentence_length", 128))
    )
    stages = [
        DocumentAssembler().setInputCol("text"),
        SentenceDetector().setInputCols("document"),
        Tokenizer().setInputCols("sentence"),
        classifier,
    ]
    return Pipeline(stages=stages).fit(spark.createDataFrame([("x",)], "text string"))


def assert_categories(case: dict, found: list[dict]) -> None:
    expected = case["expected"]
    assert len(found) == len(expected), case["name"]
    for annotation, (begin, end, label, metadata) in zip(found, expected, strict=True):
        assert (annotation["begin"], annotation["end"], annotation["result"]) == (begin, end, label)
        assert set(annotation["metadata"]) == set(metadata)
        assert annotation["metadata"]["sentence"] == metadata["sentence"]
        for name in case["candidates"]:
            assert abs(float(annotation["metadata"][name]) - metadata[name]) <= TOLERANCE


@pytest.mark.parametrize("name", sorted(ZERO_SHOT_CASES))
def test_zero_shot_matches_pytorch_through_spark(spark, name: str) -> None:
    case = ZERO_SHOT_CASES[name]
    data = spark.createDataFrame([(case["text"],)], "text string")
    [found] = annotations_of(zero_shot_pipeline(spark, case).transform(data).collect(), "category")
    assert_categories(case, found)


@pytest.mark.parametrize("name", sorted(ZERO_SHOT_CASES))
def test_zero_shot_matches_pytorch_through_light_pipeline(spark, name: str) -> None:
    case = ZERO_SHOT_CASES[name]
    [result] = LightPipeline(zero_shot_pipeline(spark, case)).fullAnnotate(case["text"])
    assert_categories(case, plain(result["category"]))


def test_zero_shot_takes_entailment_from_the_model_labels_and_checks_ids() -> None:
    stage = DeBertaForZeroShotClassification.loadSavedModel(str(NLI_MODEL))
    assert stage.getClasses() == ["entailment", "neutral", "contradiction"]
    # the reference's defaults (2, 0) would read this model's contradiction as entailment
    assert (stage.getEntailmentIdParam(), stage.getContradictionIdParam()) == (0, 2)
    with pytest.raises(StageInputError, match="candidateLabels is not set"):
        stage.zero_shot_settings()
    stage.setCandidateLabels(["a", "b"]).setEntailmentIdParam(5)
    with pytest.raises(StageInputError, match="entailmentIdParam 5"):
        stage.zero_shot_settings()
    with pytest.raises(ValueError, match="repeat"):
        stage.setCandidateLabels(["a", "a"])


# -- all heads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "folder", "task"),
    [
        (DeBertaEmbeddings, NER_MODEL, "token-classification model.*DeBertaForTokenClassification"),
        (DeBertaForTokenClassification, QA_MODEL, "question-answering model.*DeBertaForQuestion"),
        (DeBertaForQuestionAnswering, NLI_MODEL, "zero-shot-classification model.*ZeroShot"),
    ],
)
def test_each_head_refuses_a_model_of_another_task(stage, folder: Path, task: str) -> None:
    with pytest.raises(ModelFolderError, match=task):
        stage.loadSavedModel(str(folder))


@pytest.mark.ml_persistence
def test_family_pipelines_save_and_load(spark, tmp_path: Path) -> None:
    ner_case, qa_case = NER_CASES["ner_en"], QA_CASES["qa_ko"]
    ner_model = ner_pipeline(spark, ner_case)
    ner_model.write().overwrite().save(str(tmp_path / "ner"))
    loaded = PipelineModel.load(str(tmp_path / "ner"))
    data = spark.createDataFrame([(ner_case["text"],)], "text string")
    assert annotations_of(loaded.transform(data).collect(), "chunk") == annotations_of(
        ner_model.transform(data).collect(), "chunk"
    )
    qa_model = qa_pipeline(spark, qa_case)
    qa_model.write().overwrite().save(str(tmp_path / "qa"))
    qa_data = spark.createDataFrame(
        [(qa_case["question"], qa_case["context"])], "question string, context string"
    )
    [answers] = annotations_of(
        PipelineModel.load(str(tmp_path / "qa")).transform(qa_data).collect(), "answer"
    )
    assert_answer(qa_case, answers)


def test_labels_stay_with_their_sentences_across_batches(spark) -> None:
    """More sentences than batchSize: every batch size gives every sentence the same labels."""
    text = " ".join(case["text"] for case in NER_CASES.values() if "strategy" not in case)
    results = []
    for batch_size in (1, 3, 64):
        case = {"name": "batches"}
        model = ner_pipeline(spark, case)
        model.stages[3].setBatchSize(batch_size)
        [result] = LightPipeline(model).fullAnnotate(text)
        results.append(plain(result["ner"]))
    assert len({s["metadata"]["sentence"] for s in results[0]}) > 3
    for other in results[1:]:
        assert [(t["begin"], t["result"], t["metadata"]["sentence"]) for t in other] == [
            (t["begin"], t["result"], t["metadata"]["sentence"]) for t in results[0]
        ]
        for mine, theirs in zip(other, results[0], strict=True):
            for label in NER_CASES["ner_en"]["expected"][0][5]:
                assert abs(float(mine["metadata"][label]) - float(theirs["metadata"][label])) < 1e-5
