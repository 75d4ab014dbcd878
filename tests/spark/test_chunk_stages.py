"""Finisher, TokenAssembler, Doc2Chunk, Chunk2Doc and Token2Chunk on Spark: the reference's
documented examples (each names its source), Finisher's four output shapes with exact schemas,
both Arrow transports, Pipeline save/load, and LightPipeline (Finisher narrows, Doc2Chunk is
refused or skipped). Reference facts: /work/shared/REFERENCE_FACTS.md §1.1, §1.5-§1.8, §2."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.ml import Pipeline, PipelineModel
from pyspark.sql import functions as F
from pyspark.sql import types as T

from annotators import (
    Chunk2Doc,
    DeBertaEmbeddings,
    Doc2Chunk,
    DocumentAssembler,
    Finisher,
    LightPipeline,
    SentenceDetector,
    Token2Chunk,
    TokenAssembler,
    Tokenizer,
)
from annotators.errors import StageInputError
from annotators.spark_compat import MAP_IN_ARROW, TRANSPORT_ENV
from tests.support import annotations_of

SPARK_NLP = (
    "Spark NLP is an open-source text processing library for advanced natural language processing."
)
NEW_YORK = "New York and New Jersey aren't that far apart actually."

ARRAY_OF_STRINGS = T.ArrayType(T.StringType(), True)
STRING_MAP = T.MapType(T.StringType(), T.StringType(), True)


def assembler() -> DocumentAssembler:
    return DocumentAssembler().setInputCol("text").setOutputCol("document")


def tokenizer(source: str = "document") -> Tokenizer:
    return Tokenizer().setInputCols([source]).setOutputCol("token")


def rows_of(annotations: list[dict]) -> list[tuple]:
    return [
        (a["annotatorType"], a["begin"], a["end"], a["result"], a["metadata"]) for a in annotations
    ]


#: One annotation struct in SQL (result, metadata); SQL keeps a map's insertion order.
TAG = (
    "named_struct('annotatorType', 'tag', 'begin', 0, 'end', 2, 'result', {}, "
    "'metadata', CAST({} AS map<string,string>), 'embeddings', CAST(array() AS array<float>))"
)


@pytest.fixture(scope="module")
def tokens_df(spark):
    """id, text, document, token for two texts, a null text, and a hand-made annotation column
    ``tags`` (no column metadata, as a user might build) whose metadata keys repeat."""
    data = spark.createDataFrame([(1, NEW_YORK), (2, "One two"), (3, None)], "id int, text string")
    annotated = Pipeline(stages=[assembler(), tokenizer()]).fit(data).transform(data)
    tags = spark.sql(
        f"""
        SELECT 1 AS id, array({TAG.format("'LOC'", "map('entity', 'LOC', 'b', 'x')")},
                              {TAG.format("CAST(NULL AS STRING)", "map('entity', 'PER')")}) AS tags
        UNION ALL SELECT 2, array(NULL, {TAG.format("'O'", "map()")})
        UNION ALL SELECT 3, NULL
        """
    )
    return annotated.join(tags, "id").orderBy("id")


# -- Finisher -----------------------------------------------------------------------------------


def test_finisher_arrays_and_cleaning(tokens_df) -> None:
    """outputAsArray (default): array<string> never null, each result; cleanAnnotations
    (default) drops every annotation column, not only the input (FinisherUtil)."""
    out = (
        Finisher()
        .setInputCols("token", "tags")
        .setOutputCols("words", "labels")
        .transform(tokens_df)
    )
    assert out.columns == ["id", "text", "words", "labels"]
    assert out.schema["words"] == T.StructField("words", ARRAY_OF_STRINGS, False)
    assert out.schema["labels"] == T.StructField("labels", ARRAY_OF_STRINGS, False)
    rows = out.collect()
    assert rows[0].words == [
        "New",
        "York",
        "and",
        "New",
        "Jersey",
        "aren't",
        "that",
        "far",
        "apart",
        "actually",
        ".",
    ]
    assert [r.labels for r in rows] == [["LOC", None], ["O"], []]
    assert rows[2].words == []
    kept = Finisher(inputCols=["token"], cleanAnnotations=False).transform(tokens_df)
    assert kept.columns == [*tokens_df.columns, "finished_token"]


def test_finisher_array_with_metadata(tokens_df) -> None:
    """includeMetadata with arrays: ``<out>_metadata`` map, the union with later keys winning."""
    out = Finisher(inputCols=["tags", "token"], includeMetadata=True).transform(tokens_df)
    assert out.columns == [
        "id", "text", "finished_tags", "finished_token", "finished_tags_metadata", "finished_token_metadata",
    ]  # fmt: skip
    assert out.schema["finished_tags_metadata"] == T.StructField(
        "finished_tags_metadata", STRING_MAP, False
    )
    assert out.schema["finished_tags"] == T.StructField("finished_tags", ARRAY_OF_STRINGS, False)
    rows = out.collect()
    assert [r.finished_tags_metadata for r in rows] == [{"entity": "PER", "b": "x"}, {}, {}]
    assert rows[0].finished_token_metadata == {"sentence": "0"}


def test_finisher_strings(tokens_df) -> None:
    """outputAsArray=False: one string, results joined by annotationSplitSymbol (nullable
    string, "" for a row without annotations)."""
    out = Finisher(inputCols=["token", "tags"], outputAsArray=False).transform(tokens_df)
    assert out.schema["finished_token"] == T.StructField("finished_token", T.StringType(), True)
    rows = out.collect()
    assert rows[1].finished_token == "One@two"
    assert [r.finished_tags for r in rows] == ["LOC@null", "O", ""]
    assert [r.finished_token for r in rows][2] == ""
    custom = Finisher(inputCols=["token"], outputAsArray=False, annotationSplitSymbol=" | ")
    assert custom.transform(tokens_df).collect()[1].finished_token == "One | two"


def test_finisher_strings_with_metadata(tokens_df) -> None:
    """outputAsArray=False with includeMetadata: each annotation as key->value pairs (its
    metadata in insertion order, then result) joined by valueSplitSymbol (Finisher.scala
    flattenAnnotationRowsDetail)."""
    out = Finisher(
        inputCols=["token", "tags"], outputAsArray=False, includeMetadata=True
    ).transform(tokens_df)
    assert out.columns == ["id", "text", "finished_token", "finished_tags"]
    assert out.schema["finished_tags"] == T.StructField("finished_tags", T.StringType(), True)
    rows = out.collect()
    assert rows[1].finished_token == "sentence->0#result->One@sentence->0#result->two"
    assert rows[0].finished_tags == "entity->LOC#b->x#result->LOC@entity->PER#result->null"
    assert rows[1].finished_tags == "result->O"
    semicolons = Finisher(
        inputCols=["token"], outputAsArray=False, includeMetadata=True, valueSplitSymbol=";"
    )
    assert (
        semicolons.transform(tokens_df).collect()[1].finished_token
        == "sentence->0;result->One@sentence->0;result->two"
    )


def test_finisher_refusals(tokens_df) -> None:
    with pytest.raises(StageInputError, match="inputCols and outputCols length must match"):
        Finisher(inputCols=["token", "document"], outputCols=["a"]).transform(tokens_df)
    with pytest.raises(
        StageInputError,
        match="input column 'tokens' does not exist; annotation columns: document, token, tags",
    ):
        Finisher(inputCols=["tokens"]).transform(tokens_df)
    with pytest.raises(
        StageInputError, match="'text' must be an annotation column, but it is string"
    ):
        Finisher(inputCols=["text"]).transform(tokens_df)
    with pytest.raises(StageInputError, match="inputCols is not set"):
        Finisher().transform(tokens_df)
    with pytest.raises(StageInputError, match=r"output columns \['x'\] are given more than once"):
        Finisher(inputCols=["token", "document"], outputCols=["x", "x"]).transform(tokens_df)


def test_finisher_parses_embedding_vectors(spark) -> None:
    """parseEmbeddingsVectors: an embedding annotation gives its floats (Java's float text),
    joined by a space in arrays and by valueSplitSymbol in strings; other columns keep their
    results. The bundled random test model (deberta_v3_tiny_random) gives the vectors."""
    data = spark.createDataFrame([("I love Spark.",)], "text string")
    embeddings = (
        DeBertaEmbeddings.pretrained("deberta_v3_tiny_random", "en")
        .setInputCols(["document", "token"])
        .setOutputCol("embeddings")
    )
    annotated = (
        Pipeline(stages=[assembler(), tokenizer(), embeddings]).fit(data).transform(data).cache()
    )
    [row] = annotated.collect()
    vectors = [np.asarray(a.embeddings, dtype=np.float32) for a in row.embeddings]
    arrays = (
        Finisher(inputCols=["embeddings", "token"], parseEmbeddingsVectors=True)
        .transform(annotated)
        .first()
    )
    assert arrays.finished_token == ["I", "love", "Spark", "."]
    assert len(arrays.finished_embeddings) == len(vectors) == 4
    for text, vector in zip(arrays.finished_embeddings, vectors, strict=True):
        numbers = text.split(" ")
        assert len(numbers) == 32 and np.array_equal(np.array(numbers, dtype=np.float32), vector)
    strings = Finisher(inputCols=["embeddings"], parseEmbeddingsVectors=True, outputAsArray=False)
    joined = strings.transform(annotated).first().finished_embeddings.split("@")
    assert [np.array(t.split("#"), dtype=np.float32).tolist() for t in joined] == [
        v.tolist() for v in vectors
    ]
    plain = Finisher(inputCols=["embeddings"]).transform(annotated).first()
    assert plain.finished_embeddings == ["I", "love", "Spark", "."]
    detail = Finisher(
        inputCols=["embeddings"],
        parseEmbeddingsVectors=True,
        outputAsArray=False,
        includeMetadata=True,
    )
    first = detail.transform(annotated).first().finished_embeddings.split("@")[0]
    assert first.startswith("sentence->0#") and "#result->I#embeddings->" in first
    annotated.unpersist()


# -- TokenAssembler ------------------------------------------------------------------------------


def test_token_assembler_reference_example_from_cleaned_tokens(spark) -> None:
    """The reference's docstring example (sparknlp/base/token_assembler.py) prints
    ``[document, 0, 80, Spark NLP opensource text processing library advanced natural language
    processing, [sentence -> 0], []]`` after Normalizer and StopWordsCleaner. Those stages are
    emulated here in SQL on our Tokenizer's tokens (drop is/an/for and punctuation, strip
    non-letters), so this proves the assembly on the reference's token layout, not those stages."""
    data = spark.createDataFrame([(SPARK_NLP,)], "text string")
    stages = [
        assembler(),
        SentenceDetector().setInputCols(["document"]).setOutputCol("sentences"),
        tokenizer("sentences"),
    ]
    annotated = Pipeline(stages=stages).fit(data).transform(data)
    cleaned = annotated.withColumn(
        "cleanTokens",
        F.filter(
            F.transform(
                "token",
                lambda t: t.withField("result", F.regexp_replace(t["result"], "[^A-Za-z]", "")),
            ),
            lambda t: (t["result"] != "") & ~F.lower(t["result"]).isin("is", "an", "for"),
        ),
    ).withMetadata("cleanTokens", {"annotatorType": "token"})
    assembled = (
        TokenAssembler().setInputCols(["sentences", "cleanTokens"]).setOutputCol("cleanText")
    )
    [row] = assembled.transform(cleaned).collect()
    assert rows_of(annotations_of([row], "cleanText")[0]) == [
        (
            "document",
            0,
            80,
            "Spark NLP opensource text processing library advanced natural language processing",
            {"sentence": "0"},
        )
    ]


# -- Doc2Chunk, Chunk2Doc, Token2Chunk ---------------------------------------------------------


@pytest.mark.parametrize("transport", ["default", MAP_IN_ARROW])
def test_doc2chunk_reference_example_on_both_transports(spark, monkeypatch, transport) -> None:
    """The reference's docstring example (sparknlp/base/doc2_chunk.py) with isArray."""
    if transport != "default":
        monkeypatch.setenv(TRANSPORT_ENV, transport)
    data = spark.createDataFrame(
        [
            (SPARK_NLP, ["Spark NLP", "text processing library", "natural language processing"]),
            ("No.", None),
        ],
        "text string, target array<string>",
    )
    chunker = (
        Doc2Chunk()
        .setInputCols("document")
        .setChunkCol("target")
        .setOutputCol("chunk")
        .setIsArray(True)
    )
    result = Pipeline(stages=[assembler(), chunker]).fit(data).transform(data)
    assert result.columns == ["text", "target", "document", "chunk"]
    assert result.schema["chunk"].metadata == {"annotatorType": "chunk"}
    first, second = result.collect()
    assert rows_of(annotations_of([first], "chunk")[0]) == [
        ("chunk", 0, 8, "Spark NLP", {"sentence": "0", "chunk": "0"}),
        ("chunk", 28, 50, "text processing library", {"sentence": "0", "chunk": "1"}),
        ("chunk", 65, 91, "natural language processing", {"sentence": "0", "chunk": "2"}),
    ]
    assert second.chunk == []


def test_doc2chunk_single_strings_and_start_columns(spark) -> None:
    data = spark.createDataFrame(
        [
            ("a b a b", "a", 1, 2),
            ("a b a b", "b", None, 3),
            ("x", None, 0, 0),
            ("Spark", "spark", 0, 0),
        ],
        "text string, word string, start int, word_index long",
    )
    document = assembler().transform(data)
    plain = Doc2Chunk(inputCols=["document"], outputCol="chunk", chunkCol="word")
    starts = plain.copy().setStartCol("start")
    by_word = plain.copy().setStartCol("word_index").setStartColByTokenIndex(True)
    begins = [
        [[c.begin for c in r.chunk] for r in stage.transform(document).collect()]
        for stage in (plain, starts, by_word)
    ]
    assert begins == [[[0], [2], [], []], [[4], [2], [], []], [[4], [6], [], []]]
    lowered = plain.copy().setLowerCase(True).transform(document).collect()
    assert [(c.begin, c.result) for c in lowered[3].chunk] == [(0, "spark")]
    whole = Doc2Chunk(inputCols=["document"], outputCol="chunk").transform(document).first()
    assert rows_of(annotations_of([whole], "chunk")[0]) == [
        ("chunk", 0, 6, "a b a b", {"sentence": "0", "chunk": "0"})
    ]


def test_doc2chunk_refusals(spark) -> None:
    data = spark.createDataFrame(
        [("Spark NLP", "Flink", ["Flink"])], "text string, word string, words array<string>"
    )
    document = assembler().transform(data)
    with pytest.raises(
        StageInputError,
        match=r"chunkCol 'words' is array<string>; it must be a string column \(setIsArray",
    ):
        Doc2Chunk(inputCols=["document"], outputCol="c", chunkCol="words").transform(document)
    with pytest.raises(
        StageInputError, match="chunkCol 'word' is string; it must be a array<string> column"
    ):
        Doc2Chunk(inputCols=["document"], outputCol="c", chunkCol="word", isArray=True).transform(
            document
        )
    with pytest.raises(
        StageInputError, match="startCol 'word' is string; it must be an integer column"
    ):
        Doc2Chunk(
            inputCols=["document"], outputCol="c", chunkCol="word", startCol="word"
        ).transform(document)
    with pytest.raises(StageInputError, match="chunkCol 'nope' does not exist"):
        Doc2Chunk(inputCols=["document"], outputCol="c", chunkCol="nope").transform(document)
    failing = Doc2Chunk(inputCols=["document"], outputCol="c", chunkCol="word", failOnMissing=True)
    with pytest.raises(
        Exception, match="cannot find the chunk 'Flink' in the document 'Spark NLP'"
    ):
        failing.transform(document).collect()


def test_token2chunk_and_chunk2doc_reference_examples(spark) -> None:
    """Token2Chunk's docstring example (sparknlp/annotator/token2_chunk.py): ``One Two Three
    Four``, no chunk key; Chunk2Doc (sparknlp/annotator/chunk2_doc.py) copies chunks back,
    here New Jersey's from Doc2Chunk."""
    data = spark.createDataFrame([("One Two Three Four", "Two")], "text string, target string")
    stages = [
        assembler(),
        tokenizer(),
        Token2Chunk().setInputCols(["token"]).setOutputCol("chunk"),
        Doc2Chunk().setInputCols("document").setChunkCol("target").setOutputCol("target_chunk"),
        Chunk2Doc().setInputCols("target_chunk").setOutputCol("target_document"),
    ]
    [row] = Pipeline(stages=stages).fit(data).transform(data).collect()
    assert rows_of(annotations_of([row], "chunk")[0]) == [
        ("chunk", 0, 2, "One", {"sentence": "0"}),
        ("chunk", 4, 6, "Two", {"sentence": "0"}),
        ("chunk", 8, 12, "Three", {"sentence": "0"}),
        ("chunk", 14, 17, "Four", {"sentence": "0"}),
    ]
    assert rows_of(annotations_of([row], "target_document")[0]) == [
        ("document", 4, 6, "Two", {"sentence": "0", "chunk": "0"})
    ]


# -- Pipelines: save/load, LightPipeline, compat ----------------------------------------------


def all_five() -> Pipeline:
    """A pipeline with every stage of this module."""
    return Pipeline(
        stages=[
            assembler(),
            tokenizer(),
            Token2Chunk(inputCols=["token"], outputCol="token_chunk"),
            Chunk2Doc(inputCols=["token_chunk"], outputCol="token_document"),
            TokenAssembler(
                inputCols=["document", "token"], outputCol="rebuilt", preservePosition=True
            ),
            Doc2Chunk(
                inputCols=["document"],
                outputCol="place",
                chunkCol="target",
                isArray=True,
                lowerCase=True,
            ),
            Finisher(
                inputCols=["rebuilt", "place", "token_document"],
                outputCols=["text_again", "places", "words"],
                includeMetadata=True,
            ),
        ]
    )


ROWS = [(NEW_YORK, ["new jersey", "Nowhere"]), ("Tabs\tand  spaces.", [])]


@pytest.mark.compat
def test_all_five_in_one_pipeline(spark) -> None:
    data = spark.createDataFrame(ROWS, "text string, target array<string>")
    out = all_five().fit(data).transform(data).collect()
    assert out[0].text_again == [NEW_YORK]
    assert out[0].places == ["new jersey"]
    assert out[0].places_metadata == {"sentence": "0", "chunk": "0"}
    assert out[0].words[:3] == ["New", "York", "and"]
    assert out[1].text_again == ["Tabs\tand  spaces."]
    assert out[1].places == []
    assert out[1].words == ["Tabs", "and", "spaces", "."]
    assert set(out[0].asDict()) == {
        "text",
        "target",
        "text_again",
        "places",
        "words",
        *(f"{c}_metadata" for c in ("text_again", "places", "words")),
    }


@pytest.mark.ml_persistence
def test_pipeline_save_and_load_keeps_every_stage(spark, tmp_path) -> None:
    data = spark.createDataFrame(ROWS, "text string, target array<string>")
    model = all_five().fit(data)
    model.write().overwrite().save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    assert [type(s).__name__ for s in loaded.stages] == [type(s).__name__ for s in model.stages]
    for saved, original in zip(loaded.stages, model.stages, strict=True):
        assert {p.name: v for p, v in saved.extractParamMap().items()} == {
            p.name: v for p, v in original.extractParamMap().items()
        }
    assert loaded.transform(data).collect() == model.transform(data).collect()


def test_light_pipeline_finisher_narrows_and_doc2chunk_is_refused(spark) -> None:
    """A Finisher keeps only its inputCols (no finished_* keys); Doc2Chunk, whose input is a
    DataFrame column, is refused unless setIgnoreUnsupported(True), then skipped and the stage
    reading its output gets no annotations (LightPipeline.scala)."""
    data = spark.createDataFrame([("One Two", "Two")], "text string, target string")
    stages = [
        assembler(),
        tokenizer(),
        TokenAssembler(inputCols=["document", "token"], outputCol="rebuilt"),
        Finisher(inputCols=["token", "rebuilt"], cleanAnnotations=False),
        Token2Chunk(inputCols=["token"], outputCol="chunk"),
    ]
    model = Pipeline(stages=stages).fit(data)
    light = LightPipeline(model)
    assert light.annotate("One  Two") == {
        "token": ["One", "Two"],
        "rebuilt": ["One Two"],
        "chunk": ["One", "Two"],
    }
    assert list(light.annotate([1], ["One"])[0]) == ["token", "rebuilt", "chunk"]
    spark_row = model.transform(data).first()
    assert spark_row.finished_rebuilt == light.annotate("One Two")["rebuilt"]
    with_doc2chunk = Pipeline(
        stages=[
            assembler(),
            Doc2Chunk(inputCols=["document"], outputCol="chunk", chunkCol="target"),
            Chunk2Doc(inputCols=["chunk"], outputCol="chunk_document"),
        ]
    ).fit(data)
    refusing = LightPipeline(with_doc2chunk)
    with pytest.raises(
        StageInputError, match=r"does not support LightPipeline.*setIgnoreUnsupported\(True\)"
    ):
        refusing.annotate("One Two")
    skipping = refusing.setIgnoreUnsupported(True)
    assert skipping.annotate("One Two") == {"document": ["One Two"], "chunk_document": []}
