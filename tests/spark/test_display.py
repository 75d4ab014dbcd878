"""spark-nlp-display's NerVisualizer on LightPipeline output of a DeBERTa NER pipeline.

``NerVisualizer().display(result, label_col, document_col, return_html=True)`` takes one
``LightPipeline(...).fullAnnotate(text)[0]`` dict: it reads the chunks' ``begin``, ``end`` and
``metadata["entity"]`` and slices the document's text with them (``text[begin:end + 1]``), so
it needs code-point offsets and NerConverter's ``entity`` key, which these stages give.
"""

from __future__ import annotations

import re

import pytest

from annotators import LightPipeline
from tests.spark.test_family import NER_CASES, expected_chunks, ner_pipeline

NerVisualizer = pytest.importorskip("sparknlp_display").NerVisualizer

ENTITY = re.compile(
    r'<span class="spark-nlp-display-entity-name">(.*?) </span>'
    r'<span class="spark-nlp-display-entity-type">(.*?)</span>',
    re.S,
)
SPAN = re.compile(
    r'<span class="spark-nlp-display-others" style="background-color: white">(.*?)</span>'
    r'|<span class="spark-nlp-display-entity-wrapper"[^>]*>' + ENTITY.pattern + "</span>",
    re.S,
)


@pytest.mark.parametrize("name", ["ner_en", "ner_uncased_unicode"])
def test_ner_visualizer_shows_every_chunk_with_its_label(spark, name: str) -> None:
    case = NER_CASES[name]
    chunks = expected_chunks(case)  # from the PyTorch reference tags
    assert chunks, name
    light = LightPipeline(ner_pipeline(spark, case))
    [result] = light.fullAnnotate(case["text"])
    assert [(c.begin, c.end, c.result, c.metadata["entity"]) for c in result["chunk"]] == chunks

    page = NerVisualizer().display(result, "chunk", "document", return_html=True)

    assert isinstance(page, str)
    shown = ENTITY.findall(page)
    assert shown == [(text, label) for _, _, text, label in chunks]
    assert_page_is_the_text(page, case["text"])

    # Characters outside the BMP before the entities: offsets in UTF-16 units (the JVM
    # reference's) would shift every chunk the visualizer slices.
    text = "🙂🙂 " + case["text"]
    [result] = light.fullAnnotate(text)
    page = NerVisualizer().display(result, "chunk", "document", return_html=True)
    found = [(c.result, c.metadata["entity"]) for c in result["chunk"]]
    assert found and ENTITY.findall(page) == found
    assert_page_is_the_text(page, text)


def assert_page_is_the_text(page: str, text: str) -> None:
    """The page holds the document's text once, in order: chunks neither overlap nor repeat."""
    pieces = [others or entity for others, entity, _ in SPAN.findall(page)]
    assert "".join(pieces).replace("<br>", "\n") == text
