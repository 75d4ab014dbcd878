"""DocumentAssembler: Spark SQL path and Python path give the reference's output."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from annotators import DocumentAssembler
from annotators.document import CLEANUP_MODES, clean_text
from tests.support import annotations_of

MESSY = "  Hello\tworld \n\n second\\nline \\t tab\\r\\n end.  "


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("disabled", MESSY),
        ("inplace", "  Hello world    second\\nline \\t tab\\r\\n end.  "),
        ("inplace_full", "  Hello world    second line   tab  end.  "),
        ("shrink", "Hello world second\\nline \\t tab\\r\\n end."),
        ("shrink_full", "Hello world second line   tab  end."),
        ("each", "  Hello\tworld \n second\\nline \\t tab\\r\\n end.  "),
        ("each_full", "  Hello\tworld \n second\\nline  tab\\r\\n end.  "),
        ("delete_full", "Hello\tworld \n\n secondline  tab end."),
    ],
)
def test_cleanup_modes_match_the_reference_rules(mode: str, expected: str) -> None:
    assert clean_text(MESSY, mode) == expected


def test_every_cleanup_mode_gives_the_same_text_in_spark_and_python(spark) -> None:
    texts = [
        MESSY,
        "",
        " ",
        "\u00a0nbsp\u3000ideographic ",
        "한국어\r\n텍스트 😀",
        "\x00\x1f ctrl \x7f",
    ]
    df = spark.createDataFrame([(t,) for t in texts], "text string")
    for mode in CLEANUP_MODES:
        assembler = DocumentAssembler().setInputCol("text").setCleanupMode(mode)
        rows = assembler.transform(df).collect()
        assert annotations_of(rows, "document") == [assembler.assemble(t) for t in texts], mode


def test_document_annotation_shape_and_offsets(spark) -> None:
    text = "Spark NLP is an open-source text processing library. 😀"
    df = spark.createDataFrame([(text,)], "text string")
    [row] = DocumentAssembler().setInputCol("text").transform(df).collect()
    [doc] = annotations_of([row], "document")[0]
    assert doc == {
        "annotatorType": "document",
        "begin": 0,
        "end": len(text) - 1,
        "result": text,
        "metadata": {"sentence": "0"},
        "embeddings": [],
    }


def test_null_text_gives_no_annotation_and_empty_text_gives_an_empty_one(spark) -> None:
    df = spark.createDataFrame([(None,), ("",)], "text string")
    rows = DocumentAssembler().setInputCol("text").transform(df).collect()
    null_row, empty_row = annotations_of(rows, "document")
    assert null_row == []
    assert [(a["begin"], a["end"], a["result"]) for a in empty_row] == [(0, -1, "")]


def test_id_and_metadata_columns_are_merged_into_metadata(spark) -> None:
    df = spark.createDataFrame(
        [(7, "a b", {"source": "web", "id": "theirs", "sentence": "9"}), (8, "c", None)],
        "id long, text string, meta map<string,string>",
    )
    assembler = DocumentAssembler().setInputCol("text").setIdCol("id").setMetadataCol("meta")
    rows = assembler.transform(df).collect()
    first, second = annotations_of(rows, "document")
    assert first[0]["metadata"] == {"source": "web", "id": "7", "sentence": "0"}
    assert second[0]["metadata"] == {"id": "8", "sentence": "0"}
    assert first == assembler.assemble("a b", 7, {"source": "web", "id": "theirs", "sentence": "9"})


def test_array_input_gives_one_document_per_element(spark) -> None:
    df = spark.createDataFrame([(["one", None, "three"],)], "texts array<string>")
    rows = DocumentAssembler().setInputCol("texts").transform(df).collect()
    [docs] = annotations_of(rows, "document")
    assert [(d["result"], d["metadata"]["sentence"]) for d in docs] == [
        ("one", "0"),
        ("three", "2"),
    ]


def test_output_column_carries_annotator_type_metadata(spark) -> None:
    df = spark.createDataFrame([("x",)], "text string")
    out = DocumentAssembler().setInputCol("text").setOutputCol("doc").transform(df)
    assert out.schema["doc"].metadata == {"annotatorType": "document"}
    element = out.schema["doc"].dataType.elementType
    assert isinstance(element, T.StructType)
    assert [f.name for f in element.fields] == [
        "annotatorType",
        "begin",
        "end",
        "result",
        "metadata",
        "embeddings",
    ]


def test_unknown_cleanup_mode_is_refused_when_set() -> None:
    with pytest.raises(ValueError, match="cleanupMode 'squash' is not supported; choose one of"):
        DocumentAssembler().setCleanupMode("squash")


def test_cleanup_mode_is_normalised_like_the_reference() -> None:
    assert DocumentAssembler().setCleanupMode(" Shrink_Full ").getCleanupMode() == "shrink_full"


def test_missing_or_wrongly_typed_input_column_is_named(spark) -> None:
    df = spark.createDataFrame([(1,)], "number int")
    with pytest.raises(
        ValueError, match="input column 'text' does not exist; available columns: number"
    ):
        DocumentAssembler().setInputCol("text").transform(df)
    with pytest.raises(ValueError, match="'number' has type int; it needs string or array<string>"):
        DocumentAssembler().setInputCol("number").transform(df)
    with pytest.raises(ValueError, match="inputCol is not set"):
        DocumentAssembler().transform(df)
