"""Property: every annotation's offsets are exact, for any text, on both execution paths.

``document_text[begin:end + 1] == result`` for sentences and tokens, where document_text is the
text the document annotation holds (after cleanup). Lone surrogates are excluded here: they
cannot be encoded as UTF-8, so they never reach a Spark column (see the reliability tests).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotators import DocumentAssembler, LightPipeline, SentenceDetector, Tokenizer
from annotators.light import flatten_stages
from tests.support import annotations_of

SPECIAL_CHARS = (
    ".!?…‽。！？\"'“”‘’«»()[]{}•⁃-*:;, \t\n\r\u00a0\u3000\u200b\u200d\u0301\u202e\u05d0\ufeff"
    "aZ19한국어😀👍🏽\x00\x1f\x7f"
)
SPECIAL = [
    *SPECIAL_CHARS,
    "Mr.",
    "U.S.",
    "e.g.",
    "1.",
    "2)",
    "a.",
    " . . .",
    "...",
    "http://x.io/a.b",
    "a@b.co",
]
TEXT = st.lists(
    st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(SPECIAL)), max_size=80
).map("".join)
CLEANUP = ["disabled", "shrink_full"]


def pipeline_model(spark, cleanup: str):
    from pyspark.ml import Pipeline

    stages = [
        DocumentAssembler().setInputCol("text").setCleanupMode(cleanup),
        SentenceDetector().setInputCols("document"),
        Tokenizer().setInputCols("sentence"),
    ]
    return Pipeline(stages=stages).fit(spark.createDataFrame([("x",)], "text string"))


def assert_exact_offsets(annotated: dict[str, list[dict]]) -> None:
    documents = annotated["document"]
    assert len(documents) <= 1
    doc_text = documents[0]["result"] if documents else ""
    previous_end = -1
    for sentence in annotated["sentence"]:
        assert doc_text[sentence["begin"] : sentence["end"] + 1] == sentence["result"]
        assert sentence["result"] and sentence["begin"] > previous_end
        previous_end = sentence["end"]
    spans = {s["metadata"]["sentence"]: (s["begin"], s["end"]) for s in annotated["sentence"]}
    for token in annotated["token"]:
        assert doc_text[token["begin"] : token["end"] + 1] == token["result"] != ""
        begin, end = spans[token["metadata"]["sentence"]]
        assert begin <= token["begin"] <= token["end"] <= end


@pytest.fixture(scope="module")
def models(spark):
    return {mode: pipeline_model(spark, mode) for mode in CLEANUP}


@pytest.mark.parametrize("cleanup", CLEANUP)
def test_light_pipeline_offsets_are_exact_for_any_text(models, cleanup: str) -> None:
    light = LightPipeline(models[cleanup])

    @settings(max_examples=400, deadline=None)
    @given(TEXT)
    def check(text: str) -> None:
        assert_exact_offsets(light.run_row(text))

    check()


def test_spark_offsets_are_exact_and_equal_light_pipeline(spark, models) -> None:
    model = models["disabled"]
    light = LightPipeline(model)
    assert [type(s).__name__ for s in flatten_stages(model.stages)][-1] == "TokenizerModel"

    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(TEXT, min_size=40, max_size=40))
    def check(texts: list[str]) -> None:
        df = spark.createDataFrame(list(enumerate(texts)), "id int, text string")
        rows = model.transform(df).orderBy("id").collect()
        assert len(rows) == len(texts)
        for row in rows:
            annotated = {c: annotations_of([row], c)[0] for c in ("document", "sentence", "token")}
            assert_exact_offsets(annotated)
            assert annotated == light.run_row(row.text)

    check()
