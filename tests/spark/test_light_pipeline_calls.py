"""LightPipeline takes the reference's call forms: the form of any arguments is the one the
reference's own ``LightPipeline`` reads (a generated diff against the installed sparknlp), and
each form gives the reference's output shape; anything else is a TypeError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.ml import PipelineModel

from annotators import (
    DocumentAssembler,
    LightPipeline,
    MultiDocumentAssembler,
    SentenceDetector,
    TokenizerModel,
)
from annotators.annotation import Annotation
from annotators.errors import StageInputError
from annotators.light import _call_form

reference = pytest.importorskip("sparknlp.base").LightPipeline


def reference_form(args: tuple) -> str:
    """The reference's reading of the arguments (no JVM: the strings hold no '/')."""
    return reference._LightPipeline__detectInputType(object.__new__(reference), args)


#: Values of every shape a caller might pass (strings without '/', which the reference would
#: look up as image files through its JVM).
texts = st.text(alphabet=st.characters(blacklist_characters="/"), max_size=5)
scalars = st.one_of(texts, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6)
arguments = st.one_of(st.tuples(values), st.tuples(values, values))
#: Our form -> the reference's; ours refuses what it calls audio, image or unknown.
SAME = {"ids_texts": "ids_texts", "qa": "qa", "qas": "qa", "text": "text", "texts": "text"}


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(arguments)
def test_every_argument_shape_is_read_as_the_reference_reads_it(args) -> None:
    theirs = reference_form(args)
    try:
        ours, _, _ = _call_form("fullAnnotate", args, {})
    except TypeError:
        assert theirs in ("audio", "image", "unknown"), (args, theirs)
        return
    assert SAME[ours] == theirs, (args, ours, theirs)


@pytest.fixture(scope="module")
def light() -> LightPipeline:
    return LightPipeline(
        PipelineModel(
            [
                DocumentAssembler().setInputCol("text").setOutputCol("document"),
                SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
                TokenizerModel().setInputCols(["sentence"]).setOutputCol("token"),
            ]
        )
    )


def test_text_forms_and_their_shapes(light) -> None:
    one = light.annotate("Hi there.")
    assert one["token"] == ["Hi", "there", "."]
    assert light.annotate(["Hi there.", "Bye."]) == [one, light.annotate("Bye.")]
    assert light.annotate(target="Hi there.") == one
    [full] = light.fullAnnotate("Hi there.")  # always a list
    assert isinstance(full["token"][0], Annotation)
    assert light.annotate("Hi there.", {"source": ["web"]}) == one  # metadata: read by no stage
    assert light.annotate(["a.", "b."], metadata={"source": ["x", "y"]})[1]["token"] == ["b", "."]
    assert len(light.fullAnnotate(["a.", "b."], [{"k": ["1"]}, {"k": ["2"]}])) == 2


def test_ids_and_texts_carry_the_ids(light) -> None:
    first, second = light.annotate([7, 9], ["One.", "Two."])
    assert first["doc_id"] == ["7"] and second["token"] == ["Two", "."]
    [full, _] = light.fullAnnotate([7, 9], ["One.", "Two."])
    assert full["document"][0].metadata["id"] == "7"
    dummy = full["doc_id"][0]
    assert (dummy.annotatorType, dummy.begin, dummy.end, dummy.metadata) == (
        "dummy",
        0,
        1,
        {"id": "7"},
    )
    assert light.annotate([], []) == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((123,), {}, "Unsupported input for annotate"),
        ((None,), {}, "Unsupported input for annotate"),
        (([],), {}, "Unsupported input for annotate"),
        (([1.5, 2.5],), {}, "Unsupported input for annotate"),
        ((("q", "c"),), {}, "Unsupported input for annotate"),
        (([1], ["a"]), {"metadata": {"k": ["v"]}}, "metadata is only supported for text inputs"),
        ((["a", "b"],), {"metadata": {"k": "v"}}, "each metadata value must be a list"),
        ((["a", "b"],), {"metadata": {"k": ["v"]}}, "same length as target"),
        ((["a", "b"],), {"metadata": [{"k": ["v"]}]}, "metadata and target must have the same"),
        ((["a", "b"],), {"metadata": "v"}, "list of dicts or a dict of lists"),
        (("a",), {"colour": "red"}, "unexpected keyword"),
    ],
)
def test_anything_else_is_a_type_error(light, args, kwargs, message) -> None:
    with pytest.raises(TypeError, match=message):
        light.annotate(*args, **kwargs)


def test_question_and_context_need_a_multi_document_assembler(light, spark) -> None:
    with pytest.raises(TypeError, match="MultiDocumentAssembler"):
        light.annotate("Who?", "Me.")
    pair = LightPipeline(
        PipelineModel(
            [
                MultiDocumentAssembler(
                    inputCols=["question", "context"], outputCols=["q_doc", "c_doc"]
                )
            ]
        )
    )
    assert pair.annotate("Who?", "Me.") == {"q_doc": ["Who?"], "c_doc": ["Me."]}
    assert pair.annotate(["Who?", "Why?"], ["Me.", "So."])[1] == {
        "q_doc": ["Why?"],
        "c_doc": ["So."],
    }
    assert len(pair.fullAnnotate("Who?", "Me.")) == 1
    with pytest.raises(TypeError, match="metadata is only supported"):
        pair.fullAnnotate("Who?", "Me.", metadata={"k": ["v"]})


def test_output_cols_and_unsupported_stages(light, spark) -> None:
    narrow = LightPipeline(PipelineModel(light._stages), output_cols=["token"])
    assert set(narrow.annotate("Hi.")) == {"document", "token"}
    frame = spark.createDataFrame([("Hi.", 1)], "text string, n int")
    assert narrow.transform(frame).columns == ["text", "n", "token"]

    from pyspark.ml.feature import SQLTransformer  # a stage LightPipeline cannot run

    foreign = SQLTransformer(statement="SELECT * FROM __THIS__")
    odd = LightPipeline(PipelineModel([*light._stages, foreign]))
    with pytest.raises(StageInputError, match="setIgnoreUnsupported"):
        odd.annotate("Hi.")
    assert odd.getIgnoreUnsupported() is False
    assert odd.setIgnoreUnsupported(True).annotate("Hi.")["token"] == ["Hi", "."]
