"""One crossing: a fused pipeline gives exactly what its stages give one by one.

The oracle is the staged pipeline itself. Every stage the library has (the saved pipelines of
every stage) and generated pipelines of text stages, with explodeSentences, columns written
twice and stages that cannot join a chain in the middle, run fused and staged on
the same rows, on each transport the session offers; schema, column metadata and every row
must be equal.
"""

from __future__ import annotations

import random

import pytest
from pyspark.ml import Pipeline, PipelineModel

from annotators.chain import FUSE_ENV, StageChain, fuse, stage_groups
from annotators.spark_compat import MAP_IN_ARROW, TRANSPORT_ENV, transport_for
from tests.fixtures import make_saved_pipelines as saved

TEXTS = [
    "Mr. Bennet replied that he had not. But it is, returned she; for Mrs. Long told me.",
    "서울은 한국의 수도입니다. 날씨가 좋네요!",
    "",
    "   ",
    None,
    "Zero\u200bwidth, combin\u0301ing, RTL \u05e9\u05dc\u05d5\u05dd. Tabs\tand\nnewlines. 😀 ...",
    "One sentence without an end",
    "A. B. C. " * 40,
]


def transports(spark) -> list[str]:
    """The session's own transport, and mapInArrow where that is not it."""
    own = transport_for(spark)
    return [own] if own == MAP_IN_ARROW else [own, MAP_IN_ARROW]


def assert_fused_equals_staged(model: PipelineModel, frame, monkeypatch, spark) -> None:
    for transport in transports(spark):
        monkeypatch.setenv(TRANSPORT_ENV, transport)
        staged = model.transform(frame)
        fused = fuse(model).transform(frame)
        assert fused.schema == staged.schema, transport
        assert [f.metadata for f in fused.schema.fields] == [
            f.metadata for f in staged.schema.fields
        ], transport
        order = [c for c in ("id",) if c in frame.columns]
        want = (staged.orderBy(*order) if order else staged).collect()
        got = (fused.orderBy(*order) if order else fused).collect()
        assert got == want, transport


# slow: about 25 s alone on PySpark 3.5, and 66 s in the compatibility run while the other
# environments install beside it (CI, 2026-12-02), over the spark tier's 60 s budget.
@pytest.mark.slow
@pytest.mark.compat
@pytest.mark.parametrize("pipeline", ["text", "question"])
def test_every_stage_fused_gives_what_it_gives_alone(spark, monkeypatch, pipeline) -> None:
    model = saved.fitted(spark)[pipeline]
    frame = saved.inputs(spark)[pipeline]
    if pipeline == "text":
        # DocumentAssembler | the text stages and embeddings | EmbeddingsFinisher | classifiers
        assert [
            type(s).__name__ if not isinstance(s, StageChain) else len(s.stages)
            for s in fuse(model).stages
        ] == ["DocumentAssembler", 4, "EmbeddingsFinisher", 4]
    assert_fused_equals_staged(model, frame, monkeypatch, spark)


def random_text_pipeline(rng: random.Random, frame) -> tuple[PipelineModel, list[str]]:
    """A pipeline of text stages with random settings and column names, fitted on ``frame``;
    with what it does, for the failure message."""
    from annotators import (
        Chunk2Doc,
        DeBertaEmbeddings,
        DocumentAssembler,
        Finisher,
        Normalizer,
        RegexTokenizer,
        SentenceDetector,
        SentenceEmbeddings,
        Stemmer,
        StopWordsCleaner,
        Token2Chunk,
        TokenAssembler,
        Tokenizer,
    )

    said: list[str] = []
    document = rng.choice(["document", "doc"])
    sentence = rng.choice(["sentence", "sent"])
    token = rng.choice(["token", "tok"])
    stages = [DocumentAssembler().setInputCol("text").setOutputCol(document)]
    explode = rng.random() < 0.3
    max_length = rng.choice([None, 20])
    detector = SentenceDetector().setInputCols(document).setOutputCol(sentence)
    detector.setExplodeSentences(explode)
    if max_length:
        detector.setMaxLength(max_length)
    stages.append(detector)
    said.append(f"SentenceDetector(explode={explode}, maxLength={max_length})")
    if rng.random() < 0.2:
        # a stage that writes its own input's column: a chain must break before it
        stages.append(SentenceDetector().setInputCols(sentence).setOutputCol(sentence))
        said.append("SentenceDetector over its own column")
    tokenizer = rng.choice([Tokenizer(), RegexTokenizer().setPattern("\\s+")])
    stages.append(tokenizer.setInputCols(sentence).setOutputCol(token))
    said.append(type(tokenizer).__name__)
    if rng.random() < 0.3:
        finisher = Finisher().setInputCols(sentence).setOutputCols("finished")
        stages.append(finisher.setCleanAnnotations(False))
        said.append("Finisher (not chainable) in the middle")
    last = token
    for name, make in rng.sample(
        [
            ("normalized", lambda: Normalizer().setLowercase(True)),
            ("cleaned", lambda: StopWordsCleaner()),
            ("stem", lambda: Stemmer()),
        ],
        k=rng.randint(0, 3),
    ):
        out = token if rng.random() < 0.25 else name  # sometimes rewrite the token column
        stages.append(make().setInputCols(last).setOutputCol(out))
        said.append(f"{name} -> {out}")
        last = out
    if rng.random() < 0.5:
        stages.append(TokenAssembler().setInputCols(document, last).setOutputCol("assembled"))
        said.append("TokenAssembler")
    if rng.random() < 0.4:
        stages.append(Token2Chunk().setInputCols(last).setOutputCol("chunk"))
        stages.append(Chunk2Doc().setInputCols("chunk").setOutputCol("chunk_doc"))
        said.append("Token2Chunk, Chunk2Doc")
    if rng.random() < 0.5:
        stages.append(
            DeBertaEmbeddings.loadSavedModel(saved.BUNDLED)
            .setInputCols(sentence, last)
            .setOutputCol("embeddings")
            .setBatchSize(rng.choice([1, 4]))
        )
        stages.append(
            SentenceEmbeddings().setInputCols(sentence, "embeddings").setOutputCol("pooled")
        )
        said.append("DeBertaEmbeddings, SentenceEmbeddings")
    return Pipeline(stages=stages).fit(frame), said


@pytest.mark.slow
def test_generated_text_pipelines_fused_give_what_they_give_alone(spark, monkeypatch) -> None:
    rows = [(i, t) for i, t in enumerate(TEXTS)]
    frame = spark.createDataFrame(rows, "id int, text string").repartition(2)
    rng = random.Random(2026_12_02)
    for case in range(8):
        model, said = random_text_pipeline(rng, frame)
        try:
            assert_fused_equals_staged(model, frame, monkeypatch, spark)
        except AssertionError as error:
            raise AssertionError(f"case {case}: {said}: {error}") from error


def test_groups_break_where_a_chain_cannot_continue() -> None:
    from annotators import DocumentAssembler, EmbeddingsFinisher, SentenceDetector
    from annotators.tokenizer import TokenizerModel

    assembler = DocumentAssembler().setInputCol("text").setOutputCol("document")
    detector = SentenceDetector().setInputCols("document").setOutputCol("sentence")
    tokens = TokenizerModel().setInputCols("sentence").setOutputCol("token")
    again = SentenceDetector().setInputCols("sentence").setOutputCol("sentence")
    finisher = EmbeddingsFinisher().setInputCols("sentence").setOutputCols("x")

    def shape(stages) -> list[list[str]]:
        return [[s.uid for s in group] for group in stage_groups(stages)]

    assert shape([assembler, detector, tokens]) == [[assembler.uid], [detector.uid, tokens.uid]]
    # the same column written twice: the second writer starts a new chain
    assert shape([detector, again, tokens]) == [[detector.uid], [again.uid, tokens.uid]]
    # a stage of its own transform ends the chain and starts none
    assert shape([detector, finisher, tokens]) == [[detector.uid], [finisher.uid], [tokens.uid]]
    # explodeSentences reshapes rows: nothing joins after it
    exploding = SentenceDetector().setInputCols("document").setOutputCol("s")
    exploding.setExplodeSentences(True)
    assert shape([exploding, tokens]) == [[exploding.uid], [tokens.uid]]


def test_the_off_switch_runs_every_stage_alone(monkeypatch) -> None:
    from annotators import SentenceDetector
    from annotators.tokenizer import TokenizerModel

    stages = [
        SentenceDetector().setInputCols("document").setOutputCol("sentence"),
        TokenizerModel().setInputCols("sentence").setOutputCol("token"),
    ]
    assert len(stage_groups(stages)) == 1
    for off in ("0", "false", "OFF", "no"):
        monkeypatch.setenv(FUSE_ENV, off)
        assert len(stage_groups(stages)) == 2
        assert not any(isinstance(s, StageChain) for s in fuse(stages).stages)


@pytest.mark.parametrize("name", ["to.ken", "to`ken"])
def test_a_column_name_spark_reads_as_a_path_is_refused_by_name(spark, name) -> None:
    from annotators import DocumentAssembler, SentenceDetector
    from annotators.errors import StageInputError

    frame = spark.createDataFrame([("One. Two.",)], "text string")
    documents = DocumentAssembler().setInputCol("text").transform(frame)
    detector = SentenceDetector().setInputCols("document").setOutputCol(name)
    with pytest.raises(StageInputError, match=f"SentenceDetector: column name '{name}' has"):
        detector.transform(documents)
    with pytest.raises(StageInputError, match=f"DocumentAssembler: column name '{name}' has"):
        DocumentAssembler().setInputCol("text").setOutputCol(name).transform(frame)
