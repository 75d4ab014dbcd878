"""NerConverter: document/sentence + token + named_entity -> one ``chunk`` per entity.

Reads IOB, IOB2 and BIOES (BILOU) tags. A chunk starts at ``B-``/``S-``/``U-``, at an ``I-`` or
``E-``/``L-`` that does not continue the open entity (IOB1, or a type change), and ends before
``O``, at ``E-``/``L-``/``S-``/``U-``, or when the type changes. With ``nerHasNoSchema`` the
tags are bare entity names and a run of equal tags is one chunk.

Each chunk has the first token's ``begin`` and the last token's ``end``; ``result`` is the text
between them as the document holds it (``preservePosition=True``, the default), or the tokens
joined by one space (``False``); ``metadata`` holds ``entity``, ``sentence``, ``chunk`` (its index
in the row) and ``confidence``: the mean over its tokens of each token's score for its own tag,
when the tagger wrote scores. ``whiteList`` keeps only the listed entities, ``blackList`` drops
them (names without the ``B-``/``I-`` prefix).

Differences from the reference, which reads IOB/IOB2 only: a change of entity type inside a run
(``B-PER I-LOC``) splits the chunk instead of extending the first entity, and the confidence is
the tokens' own-tag scores instead of the mean of every numeric metadata value (which mixes in
the sentence index and the other labels' scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import (
    CHUNK,
    DOCUMENT,
    NAMED_ENTITY,
    TOKEN,
    AnnotationDict,
    make_annotation,
    sentence_key,
)
from annotators.stage import AnnotateFn, AnnotatorModel, keyword_only

if TYPE_CHECKING:
    from typing import Self

__all__ = ["NerConverter", "entity_spans"]

OUTSIDE = "O"
_BEGIN, _INSIDE, _END, _SINGLE = ("B", "I", "E", "S")
_PREFIXES = {"B": _BEGIN, "I": _INSIDE, "E": _END, "L": _END, "S": _SINGLE, "U": _SINGLE}


def _split_tag(tag: str, has_no_schema: bool) -> tuple[str, str | None]:
    """(position, entity) of a tag; entity None for outside."""
    if tag == OUTSIDE or not tag:
        return _INSIDE, None
    if has_no_schema:
        return _INSIDE, tag
    if len(tag) > 2 and tag[1] in "-_" and tag[0].upper() in _PREFIXES:
        return _PREFIXES[tag[0].upper()], tag[2:]
    return _INSIDE, tag  # a bare name in a schema'd tag set: treat as inside


def entity_spans(tags: Sequence[str], has_no_schema: bool = False) -> list[tuple[int, int, str]]:
    """``(first, last, entity)`` token index ranges of the entities in one sentence's tags."""
    spans: list[tuple[int, int, str]] = []
    open_start, open_entity = -1, None
    for index, tag in enumerate(tags):
        position, entity = _split_tag(tag, has_no_schema)
        continues = (
            open_entity is not None and entity == open_entity and position in (_INSIDE, _END)
        )
        if open_entity is not None and not continues:
            spans.append((open_start, index - 1, open_entity))
            open_entity = None
        if entity is not None and not continues:
            open_start, open_entity = index, entity
        if open_entity is not None and position in (_END, _SINGLE):
            spans.append((open_start, index, open_entity))
            open_entity = None
    if open_entity is not None:
        spans.append((open_start, len(tags) - 1, open_entity))
    return spans


def _document_text(documents: list[AnnotationDict], begin: int, end: int) -> str | None:
    for document in documents:
        if document["begin"] <= begin and end <= document["end"]:
            start = begin - document["begin"]
            return document["result"][start : start + end - begin + 1]
    return None


def _confidence(tags: list[AnnotationDict]) -> str | None:
    scores = []
    for tag in tags:
        value = (tag.get("metadata") or {}).get(tag["result"])
        try:
            scores.append(float(value))
        except (TypeError, ValueError):
            return None
    return str(sum(scores) / len(scores)) if scores else None


def convert(
    documents: list[AnnotationDict],
    tokens: list[AnnotationDict],
    tags: list[AnnotationDict],
    *,
    preserve_position: bool = True,
    has_no_schema: bool = False,
    white_list: Sequence[str] | None = None,
    black_list: Sequence[str] | None = None,
) -> list[AnnotationDict]:
    """The chunks of one row (the stage's core)."""
    tag_at = {(t["begin"], t["end"]): t for t in tags}
    by_sentence: dict[str, list[tuple[AnnotationDict, AnnotationDict]]] = {}
    for token in tokens:  # tokens without a tag (past a truncation) end any open entity
        tag = tag_at.get((token["begin"], token["end"]))
        by_sentence.setdefault(sentence_key(token), []).append(
            (token, tag or make_annotation(NAMED_ENTITY, token["begin"], token["end"], OUTSIDE))
        )
    chunks: list[AnnotationDict] = []
    for sentence, pairs in by_sentence.items():
        for first, last, entity in entity_spans([tag["result"] for _, tag in pairs], has_no_schema):
            if white_list and entity not in white_list:
                continue
            if black_list and entity in black_list:
                continue
            begin, end = pairs[first][0]["begin"], pairs[last][0]["end"]
            words = [token["result"] for token, _ in pairs[first : last + 1]]
            text = _document_text(documents, begin, end) if preserve_position else None
            metadata = {"entity": entity, "sentence": sentence, "chunk": str(len(chunks))}
            confidence = _confidence([tag for _, tag in pairs[first : last + 1]])
            if confidence is not None:
                metadata["confidence"] = confidence
            chunks.append(make_annotation(CHUNK, begin, end, text or " ".join(words), metadata))
    return chunks


class NerConverter(AnnotatorModel):
    """IOB/IOB2/BIOES tags -> entity chunks with exact offsets (Spark NLP's NerConverter).

    ================================== ======================
    Input Annotation types             Output Annotation type
    ================================== ======================
    ``DOCUMENT, TOKEN, NAMED_ENTITY``  ``CHUNK``
    ================================== ======================

    Parameters
    ----------
    outputCol
        The chunk column, ``ner_chunk`` by default.
    whiteList
        Entities to keep (names without ``B-``/``I-``), the rest dropped; unset by default.
    blackList
        Entities to drop (names without ``B-``/``I-``); unset by default.
    preservePosition
        True (the default): a chunk's text as the document holds it; False: its tokens joined
        by one space.
    nerHasNoSchema
        The tags are bare entity names (no ``B-``/``I-``), a run of equal tags one chunk;
        False by default.

    Examples
    --------
    The test tagger has random weights: its tags mean nothing, the chunks follow them.

    >>> from pyspark.ml import Pipeline
    >>> from annotators import (
    ...     DeBertaForTokenClassification,
    ...     DocumentAssembler,
    ...     LightPipeline,
    ...     NerConverter,
    ...     SentenceDetector,
    ...     Tokenizer,
    ... )
    >>> folder = "tests/fixtures/models/deberta_v3_tiny_ner"
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
    ...     Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
    ...     DeBertaForTokenClassification.loadSavedModel(folder)
    ...     .setInputCols(["sentence", "token"])
    ...     .setOutputCol("ner"),
    ...     NerConverter().setInputCols(["sentence", "token", "ner"]).setOutputCol("ner_chunk"),
    ... ]
    >>> model = Pipeline(stages=stages).fit(spark.createDataFrame([("",)], "text string"))
    >>> text = "John Lennon was born in Liverpool. 김철수는 서울에 산다."
    >>> result = LightPipeline(model).annotate(text)
    >>> result["ner"]
    ['B-PER', 'B-PER', 'O', 'I-PER', 'B-PER', 'I-PER', 'B-PER', 'I-LOC', 'I-LOC', 'I-PER', 'I-PER']
    >>> result["ner_chunk"]
    ['John', 'Lennon', 'born', 'in Liverpool', '.', '김철수는 서울에', '산다.']
    >>> places = NerConverter(
    ...     inputCols=["sentence", "token", "ner"], outputCol="place", whiteList=["LOC"]
    ... )
    >>> [chunk] = LightPipeline([*model.stages, places]).fullAnnotate(text)[0]["place"]
    >>> chunk.result, text[chunk.begin : chunk.end + 1], chunk.metadata["entity"]
    ('김철수는 서울에', '김철수는 서울에', 'LOC')
    """

    whiteList = Param(
        Params._dummy(),
        "whiteList",
        "entities to keep (without the B-/I- prefix); the rest are dropped",
        TypeConverters.toListString,
    )
    blackList = Param(
        Params._dummy(),
        "blackList",
        "entities to drop (without the B-/I- prefix)",
        TypeConverters.toListString,
    )
    preservePosition = Param(
        Params._dummy(),
        "preservePosition",
        "chunk text as the document holds it (true) or the tokens joined by a space (false)",
        TypeConverters.toBoolean,
    )
    nerHasNoSchema = Param(
        Params._dummy(),
        "nerHasNoSchema",
        "tags are bare entity names without B-/I- prefixes",
        TypeConverters.toBoolean,
    )

    input_annotator_types = (DOCUMENT, TOKEN, NAMED_ENTITY)
    output_annotator_type = CHUNK

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "ner_chunk",
        whiteList: list[str] | None = None,
        blackList: list[str] | None = None,
        preservePosition: bool = True,
        nerHasNoSchema: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(outputCol="ner_chunk", preservePosition=True, nerHasNoSchema=False)
        self._set_keywords(self._input_kwargs)

    def setWhiteList(self, entities: list[str]) -> Self:
        return self._set(whiteList=entities)

    def getWhiteList(self) -> list[str] | None:
        return self.getOrDefault(self.whiteList) if self.isDefined(self.whiteList) else None

    def setBlackList(self, value: list[str]) -> Self:
        return self._set(blackList=value)

    def getBlackList(self) -> list[str] | None:
        return self.getOrDefault(self.blackList) if self.isDefined(self.blackList) else None

    def setPreservePosition(self, value: bool) -> Self:
        return self._set(preservePosition=value)

    def getPreservePosition(self) -> bool:
        return self.getOrDefault(self.preservePosition)

    def setNerHasNoSchema(self, value: bool) -> Self:
        return self._set(nerHasNoSchema=value)

    def getNerHasNoSchema(self) -> bool:
        return self.getOrDefault(self.nerHasNoSchema)

    def row_core(self) -> AnnotateFn:
        options = {
            "preserve_position": self.getPreservePosition(),
            "has_no_schema": self.getNerHasNoSchema(),
            "white_list": tuple(self.getWhiteList() or ()),
            "black_list": tuple(self.getBlackList() or ()),
        }

        def annotate(documents, tokens, tags):  # type: ignore[no-untyped-def]
            return convert(documents, tokens, tags, **options)

        return annotate
