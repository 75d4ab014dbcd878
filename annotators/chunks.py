"""Conversions between documents, tokens and chunks: Doc2Chunk, Chunk2Doc, Token2Chunk.

``Chunk2Doc`` (chunk -> document) and ``Token2Chunk`` (token -> chunk) copy each annotation's
``begin``, ``end``, ``result`` and ``metadata``, changing only its type, so that a stage that
wants documents can read chunks (re-tokenize an entity) and one that wants chunks can read
tokens.

``Doc2Chunk`` (document + a plain text column -> chunk) marks given strings in the documents:
for each document and each string of ``chunkCol`` (one string, or an array with ``isArray``) it
finds the string's first occurrence at or after a start index (0, or the ``startCol`` value:
a character index, or with ``startColByTokenIndex`` the index of a space-separated word; a null
start reads as 0, a word index past the last word finds nothing). As in
the reference, ``begin`` is the index inside the document's text (the document's own ``begin``
is not added; it is 0 for a DocumentAssembler's document), ``end = begin + len - 1``, ``result``
is the string as given, and ``metadata`` is the document's plus ``chunk``: the string's position
in the array (0 for a single string). A string that is null, blank or not found is skipped with
a warning, or with ``failOnMissing`` fails the job naming the string and the document. Without
``chunkCol`` each document becomes one chunk of its whole text.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from annotators.annotation import (
    CHUNK,
    DOCUMENT,
    TOKEN,
    AnnotationDict,
    column_metadata,
    make_annotation,
)
from annotators.errors import StageInputError
from annotators.spark_compat import ARROW_UDF, transport_for, with_column
from annotators.stage import (
    AnnotateFn,
    AnnotatorModel,
    annotate_with_map_in_arrow,
    annotation_udf,
    annotator_types_of,
    keyword_only,
    row_by_row,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "Chunk2Doc",
    "Doc2Chunk",
    "Token2Chunk",
    "chunks_to_documents",
    "documents_to_chunks",
    "find_chunks",
    "tokens_to_chunks",
]

log = logging.getLogger(__name__)

#: Integer column types startCol may have.
START_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)


def _retyped(annotations: list[AnnotationDict], annotator_type: str) -> list[AnnotationDict]:
    return [
        make_annotation(annotator_type, a["begin"], a["end"], a["result"], a["metadata"])
        for a in annotations
    ]


def chunks_to_documents(chunks: list[AnnotationDict]) -> list[AnnotationDict]:
    """Chunk2Doc's core: each chunk as a document, offsets, text and metadata kept."""
    return _retyped(chunks, DOCUMENT)


def tokens_to_chunks(tokens: list[AnnotationDict]) -> list[AnnotationDict]:
    """Token2Chunk's core: each token as a chunk, offsets, text and metadata kept (no ``chunk``
    key is added)."""
    return _retyped(tokens, CHUNK)


def documents_to_chunks(documents: list[AnnotationDict]) -> list[AnnotationDict]:
    """Doc2Chunk without a chunkCol: each document as one chunk, ``chunk`` 0."""
    return [
        make_annotation(CHUNK, d["begin"], d["end"], d["result"], {**d["metadata"], "chunk": "0"})
        for d in documents
    ]


def _lower(text: str) -> str:
    """Lowercase character by character, keeping the length (``"İ".lower()`` has two), so an
    index in the lowered text is an index in the original."""
    return "".join(c if len(low := c.lower()) != 1 else low for c in text)


def _word_start(text: str, word_index: int) -> int | None:
    """Where the ``word_index``-th piece of ``text`` split on single spaces starts; None when
    there is no such piece."""
    pieces = text.split(" ")
    if not 0 <= word_index < len(pieces):
        return None
    return sum(len(piece) + 1 for piece in pieces[:word_index])


def find_chunks(
    documents: list[AnnotationDict],
    targets: list[AnnotationDict],
    *,
    by_token_index: bool = False,
    lower_case: bool = False,
    fail_on_missing: bool = False,
) -> list[AnnotationDict]:
    """Doc2Chunk's core. ``targets`` carry each wanted string as ``result`` and its start
    index (or None) as ``begin``, in chunkCol's order."""
    chunks = []
    for document in documents:
        text = document["result"] or ""
        searched = _lower(text) if lower_case else text
        for index, target in enumerate(targets):
            chunk, start = target["result"], target["begin"] or 0
            if by_token_index and target["begin"] is not None:
                start = _word_start(text, start)
            found = -1
            if chunk is not None and chunk.strip() and start is not None:
                found = searched.find(_lower(chunk) if lower_case else chunk, max(start, 0))
            if found == -1:
                message = f"Doc2Chunk: cannot find the chunk {chunk!r} in the document {text!r}" + (
                    f" from index {target['begin']}" if target["begin"] else ""
                )
                if fail_on_missing:
                    raise StageInputError(
                        f"{message}; fix the chunk column, or unset failOnMissing to skip it"
                    )
                log.warning("%s; skipped", message)
                continue
            metadata = {**document["metadata"], "chunk": str(index)}
            chunks.append(make_annotation(CHUNK, found, found + len(chunk) - 1, chunk, metadata))
    return chunks


class Chunk2Doc(AnnotatorModel):
    """Turn chunks back into documents, to tokenize or embed an entity on its own.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``CHUNK``              ``DOCUMENT``
    ====================== ======================

    Parameters
    ----------
    inputCols
        The chunk column.
    outputCol
        The document column it writes.

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from annotators import Chunk2Doc, Doc2Chunk, DocumentAssembler
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Doc2Chunk().setInputCols("document").setChunkCol("place").setOutputCol("chunk"),
    ...     Chunk2Doc().setInputCols("chunk").setOutputCol("place_document"),
    ... ]
    >>> data = spark.createDataFrame(
    ...     [("New York and New Jersey aren't that far apart actually.", "New Jersey")],
    ...     "text string, place string",
    ... )
    >>> result = Pipeline(stages=stages).fit(data).transform(data)
    >>> result.selectExpr("explode(place_document)").show(truncate=False)
    +---------------------------------------------------------------+
    |col                                                            |
    +---------------------------------------------------------------+
    |{document, 13, 22, New Jersey, {sentence -> 0, chunk -> 0}, []}|
    +---------------------------------------------------------------+
    <BLANKLINE>
    """

    input_annotator_types = (CHUNK,)
    output_annotator_type = DOCUMENT

    @keyword_only
    def __init__(self, *, inputCols: list[str] | None = None, outputCol: str | None = None) -> None:
        super().__init__()
        self._set_keywords(self._input_kwargs)

    def row_core(self) -> AnnotateFn:
        return chunks_to_documents


class Token2Chunk(AnnotatorModel):
    """Turn tokens into chunks, for stages that want chunks when entities already are tokens.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``TOKEN``              ``CHUNK``
    ====================== ======================

    Parameters
    ----------
    inputCols
        The token column.
    outputCol
        The chunk column it writes.

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, Token2Chunk, Tokenizer
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token"),
    ...     Token2Chunk().setInputCols(["token"]).setOutputCol("chunk"),
    ... ]
    >>> data = spark.createDataFrame([("One Two Three Four",)], "text string")
    >>> result = Pipeline(stages=stages).fit(data).transform(data)
    >>> result.selectExpr("explode(chunk) as result").show(truncate=False)
    +------------------------------------------+
    |result                                    |
    +------------------------------------------+
    |{chunk, 0, 2, One, {sentence -> 0}, []}   |
    |{chunk, 4, 6, Two, {sentence -> 0}, []}   |
    |{chunk, 8, 12, Three, {sentence -> 0}, []}|
    |{chunk, 14, 17, Four, {sentence -> 0}, []}|
    +------------------------------------------+
    <BLANKLINE>
    """

    input_annotator_types = (TOKEN,)
    output_annotator_type = CHUNK

    @keyword_only
    def __init__(self, *, inputCols: list[str] | None = None, outputCol: str | None = None) -> None:
        super().__init__()
        self._set_keywords(self._input_kwargs)

    def row_core(self) -> AnnotateFn:
        return tokens_to_chunks


class Doc2Chunk(AnnotatorModel):
    """Mark the strings of a plain text column as chunks of the documents that contain them.

    Useful to feed known entities (labels of a training set, a list of terms) to stages that
    want chunks. ``chunkCol`` is a string column, or with ``isArray`` an array<string> column;
    ``startCol``, an integer column, says where to start looking (not read with ``isArray``).

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT``           ``CHUNK``
    ====================== ======================

    LightPipeline cannot run it (its input is a DataFrame column, not annotations): it refuses
    it unless ``setIgnoreUnsupported(True)``, as the reference does.

    Parameters
    ----------
    inputCols
        The document column.
    outputCol
        The chunk column it writes.
    chunkCol
        The column of the strings to find; unset, each document becomes one chunk.
    startCol
        An integer column: where in the document to start looking; unset, from 0.
    startColByTokenIndex
        Read ``startCol`` as the index of a word of the document split on single spaces;
        False by default.
    isArray
        ``chunkCol`` holds an array of strings; False by default.
    failOnMissing
        Fail the job when a string is not in its document; False by default (skipped with a
        warning).
    lowerCase
        Match ignoring case; False by default (the reference's effective default; see
        docs/migrating.md for how True differs).

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from annotators import Doc2Chunk, DocumentAssembler
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Doc2Chunk()
    ...     .setInputCols("document")
    ...     .setChunkCol("target")
    ...     .setOutputCol("chunk")
    ...     .setIsArray(True),
    ... ]
    >>> data = spark.createDataFrame(
    ...     [
    ...         (
    ...             "Spark NLP is an open-source text processing library for advanced natural "
    ...             "language processing.",
    ...             ["Spark NLP", "text processing library", "natural language processing"],
    ...         )
    ...     ],
    ...     "text string, target array<string>",
    ... )
    >>> result = Pipeline(stages=stages).fit(data).transform(data)
    >>> result.selectExpr("chunk.result", "chunk.annotatorType").show(truncate=False)
    +-----------------------------------------------------------------+---------------------+
    |result                                                           |annotatorType        |
    +-----------------------------------------------------------------+---------------------+
    |[Spark NLP, text processing library, natural language processing]|[chunk, chunk, chunk]|
    +-----------------------------------------------------------------+---------------------+
    <BLANKLINE>
    >>> [(c.begin, c.end, c.metadata["chunk"]) for c in result.first().chunk]
    [(0, 8, '0'), (28, 50, '1'), (65, 91, '2')]
    """

    chunkCol = Param(
        Params._dummy(),
        "chunkCol",
        "column of the strings to find in the documents (string, or array<string> with isArray)",
        TypeConverters.toString,
    )
    startCol = Param(
        Params._dummy(),
        "startCol",
        "integer column: where in the document to start looking for the chunk",
        TypeConverters.toString,
    )
    startColByTokenIndex = Param(
        Params._dummy(),
        "startColByTokenIndex",
        "read startCol as the index of a word of the document split on single spaces",
        TypeConverters.toBoolean,
    )
    isArray = Param(
        Params._dummy(),
        "isArray",
        "chunkCol holds an array of strings",
        TypeConverters.toBoolean,
    )
    failOnMissing = Param(
        Params._dummy(),
        "failOnMissing",
        "fail the job when a chunk is not in its document, instead of skipping it",
        TypeConverters.toBoolean,
    )
    lowerCase = Param(
        Params._dummy(),
        "lowerCase",
        "find the chunks ignoring case",
        TypeConverters.toBoolean,
    )

    input_annotator_types = (DOCUMENT,)
    output_annotator_type = CHUNK
    #: Its input is a plain DataFrame column, which LightPipeline does not have.
    light_pipeline_supported = False

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str | None = None,
        chunkCol: str | None = None,
        startCol: str | None = None,
        startColByTokenIndex: bool = False,
        isArray: bool = False,
        failOnMissing: bool = False,
        lowerCase: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(
            startColByTokenIndex=False, isArray=False, failOnMissing=False, lowerCase=False
        )
        self._set_keywords(self._input_kwargs)

    def setChunkCol(self, value: str) -> Self:
        return self._set(chunkCol=value)

    def getChunkCol(self) -> str | None:
        return self.getOrDefault(self.chunkCol) if self.isDefined(self.chunkCol) else None

    def setStartCol(self, value: str) -> Self:
        return self._set(startCol=value)

    def getStartCol(self) -> str | None:
        return self.getOrDefault(self.startCol) if self.isDefined(self.startCol) else None

    def setStartColByTokenIndex(self, value: bool) -> Self:
        return self._set(startColByTokenIndex=value)

    def getStartColByTokenIndex(self) -> bool:
        return self.getOrDefault(self.startColByTokenIndex)

    def setIsArray(self, value: bool) -> Self:
        return self._set(isArray=value)

    def getIsArray(self) -> bool:
        return self.getOrDefault(self.isArray)

    def setFailOnMissing(self, value: bool) -> Self:
        return self._set(failOnMissing=value)

    def getFailOnMissing(self) -> bool:
        return self.getOrDefault(self.failOnMissing)

    def setLowerCase(self, value: bool) -> Self:
        return self._set(lowerCase=value)

    def getLowerCase(self) -> bool:
        return self.getOrDefault(self.lowerCase)

    def row_core(self) -> AnnotateFn:
        """The core of the stage without a chunkCol (documents only)."""
        return documents_to_chunks

    def _targets(self, dataset: DataFrame) -> Column:
        """The chunkCol (and startCol) values as an annotation-like array per row: each string
        as ``result``, its start index as ``begin``, so the Arrow transport carries them."""
        types = {f.name: f.dataType for f in dataset.schema.fields}
        chunk_column, start_column = self.getChunkCol(), self.getStartCol()
        wanted = "array<string>" if self.getIsArray() else "string"
        found = types.get(chunk_column)
        fits = (
            isinstance(found, T.ArrayType) and isinstance(found.elementType, T.StringType)
            if self.getIsArray()
            else isinstance(found, T.StringType)
        )
        if not fits:
            what = "does not exist" if found is None else f"is {found.simpleString()}"
            raise StageInputError(
                f"Doc2Chunk: chunkCol '{chunk_column}' {what}; it must be a {wanted} column"
                + ("" if self.getIsArray() else " (setIsArray(True) for array<string>)")
            )

        def target(text: Column, start: Column) -> Column:
            return F.struct(
                F.lit(CHUNK).alias("annotatorType"),
                start.cast("int").alias("begin"),
                F.lit(0).alias("end"),
                text.alias("result"),
                F.create_map().cast("map<string,string>").alias("metadata"),
                F.array().cast("array<float>").alias("embeddings"),
            )

        if self.getIsArray():
            return F.transform(F.col(chunk_column), lambda text: target(text, F.lit(None)))
        start = F.lit(None)
        if start_column is not None:
            if not isinstance(types.get(start_column), START_TYPES):
                found_start = types.get(start_column)
                what = (
                    "does not exist" if found_start is None else f"is {found_start.simpleString()}"
                )
                raise StageInputError(
                    f"Doc2Chunk: startCol '{start_column}' {what}; it must be an integer column"
                )
            start = F.col(start_column)
        return F.array(target(F.col(chunk_column), start))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        [document] = self.input_columns(annotator_types_of(dataset.schema))
        if self.getChunkCol() is None:
            return super()._transform(dataset)
        targets = self._targets(dataset)
        core = row_by_row(
            functools.partial(
                find_chunks,
                by_token_index=self.getStartColByTokenIndex(),
                lower_case=self.getLowerCase(),
                fail_on_missing=self.getFailOnMissing(),
            )
        )
        output, stage = self.getOutputCol(), type(self).__name__
        metadata = column_metadata(CHUNK)
        size = self.output_annotation_bytes()
        if transport_for(dataset.sparkSession) == ARROW_UDF:
            udf = annotation_udf(core, 2, stage, size)
            return with_column(dataset, output, udf(F.col(document), targets), metadata)
        scratch = f"__{self.uid}_targets"
        with_targets = dataset.withColumn(scratch, targets)
        annotated = annotate_with_map_in_arrow(
            with_targets, core, [document, scratch], output, metadata, stage, size
        )
        return annotated.drop(scratch)
