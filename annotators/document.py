"""DocumentAssembler: raw text column -> one ``document`` annotation per text.

On Spark it is built from SQL expressions only (no Python round trip); ``assemble`` is the same
logic in Python for ``LightPipeline``. Both read the one ``CLEANUP_RULES`` table. Its patterns
are written with explicit ASCII classes so that Java's regex (Spark's ``regexp_replace``) and
Python's ``re`` mean the same thing: Java's ``\\s`` is ``[ \\t\\n\\x0B\\f\\r]``, Python's is all
Unicode whitespace, so neither engine's ``\\s`` is used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.ml import Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from annotators.annotation import (
    DOCUMENT,
    AnnotationDict,
    annotation_column_type,
    column_metadata,
    make_annotation,
)
from annotators.errors import StageInputError
from annotators.params import ParamDocs, choice
from annotators.spark_compat import check_column_name, valid_utf8, with_column
from annotators.stage import column_names, keyword_only

_WS = "[ \\t\\n\\x0B\\f\\r]"  # Java's \s
_ESCAPED_NEWLINE = "(?:\\\\r)?(?:\\\\n)"  # the two-character text \n, optionally after \r
_ESCAPED_TAB = "(?:\\\\t)"
#: Characters Java's String.trim removes: everything up to and including U+0020.
_TRIM_CHARS = "".join(chr(c) for c in range(0x21))


@dataclass(frozen=True)
class CleanupRule:
    """Trim first (Java String.trim semantics) or not, then replace every match of a pattern."""

    trim: bool
    pattern: str | None
    replacement: str


CLEANUP_RULES: dict[str, CleanupRule] = {
    "disabled": CleanupRule(False, None, ""),
    "inplace": CleanupRule(False, _WS, " "),
    "inplace_full": CleanupRule(False, f"{_WS}|{_ESCAPED_NEWLINE}|{_ESCAPED_TAB}", " "),
    "shrink": CleanupRule(True, f"{_WS}+", " "),
    "shrink_full": CleanupRule(True, f"{_WS}+|(?:\\\\r)*(?:\\\\n)+|(?:\\\\t)+", " "),
    "each": CleanupRule(False, f"{_WS}[\\n\\t]", " "),
    "each_full": CleanupRule(False, f"{_WS}(?:\\n|\\t|{_ESCAPED_NEWLINE}|{_ESCAPED_TAB})", " "),
    "delete_full": CleanupRule(True, f"{_ESCAPED_NEWLINE}|{_ESCAPED_TAB}", ""),
}
CLEANUP_MODES = tuple(CLEANUP_RULES)


def clean_text(text: str, mode: str) -> str:
    """Apply a cleanup mode in Python (the LightPipeline twin of ``_clean_column``).

    A lone surrogate (possible in a Python string, never in UTF-8) becomes ``?``, as the JVM
    makes it when such a string enters Spark, so both paths see the same valid text.
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    rule = CLEANUP_RULES[mode]
    if rule.trim:
        text = text.strip(_TRIM_CHARS)
    if rule.pattern is not None:
        text = re.sub(rule.pattern, rule.replacement, text)
    return text


def _clean_column(text: Column, mode: str) -> Column:
    rule = CLEANUP_RULES[mode]
    if rule.trim:
        text = F.btrim(text, F.lit(_TRIM_CHARS))
    if rule.pattern is not None:
        text = F.regexp_replace(text, rule.pattern, rule.replacement)
    return text


class DocumentAssembler(ParamDocs, Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Turn a string (or array<string>) column into a ``document`` annotation column.

    Null text gives an empty annotation array; empty text gives one annotation with
    ``begin=0, end=-1`` (as the reference does). With an array<string> input, each non-null
    element becomes one annotation whose ``sentence`` metadata is its position in the array.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``NONE``               ``DOCUMENT``
    ====================== ======================

    Parameters
    ----------
    inputCol
        The text column, string or array<string>; it must be set.
    outputCol
        The annotation column, ``document`` by default.
    idCol
        A column whose value goes into each annotation's metadata as ``id``; unset by default.
    metadataCol
        A map<string,string> column merged into each annotation's metadata; unset by default.
    cleanupMode
        How the text is cleaned first: ``disabled`` (the default: as it is), ``inplace``,
        ``inplace_full``, ``shrink``, ``shrink_full``, ``each``, ``each_full`` or
        ``delete_full``. Offsets count the cleaned text.

    Examples
    --------
    >>> from annotators import DocumentAssembler
    >>> data = spark.createDataFrame([(7, "  Spark   NLP rocks ")], "id int, text string")
    >>> assembler = DocumentAssembler(inputCol="text", idCol="id", cleanupMode="shrink")
    >>> result = assembler.transform(data)
    >>> result.select("document.result").show(truncate=False)
    +-----------------+
    |result           |
    +-----------------+
    |[Spark NLP rocks]|
    +-----------------+
    <BLANKLINE>
    >>> [document] = result.first().document
    >>> document.begin, document.end, sorted(document.metadata.items())
    (0, 14, [('id', '7'), ('sentence', '0')])
    """

    inputCol = Param(Params._dummy(), "inputCol", "input text column", TypeConverters.toString)
    outputCol = Param(
        Params._dummy(), "outputCol", "output annotation column", TypeConverters.toString
    )
    idCol = Param(Params._dummy(), "idCol", "id column for row reference", TypeConverters.toString)
    metadataCol = Param(
        Params._dummy(),
        "metadataCol",
        "map<string,string> column merged into metadata",
        TypeConverters.toString,
    )
    cleanupMode = Param(
        Params._dummy(),
        "cleanupMode",
        "possible values: " + ", ".join(CLEANUP_MODES),
        choice("cleanupMode", CLEANUP_MODES, normalize=lambda mode: mode.strip().lower()),
    )

    output_annotator_type = DOCUMENT

    @keyword_only
    def __init__(
        self,
        *,
        inputCol: str | None = None,
        outputCol: str = DOCUMENT,
        idCol: str | None = None,
        metadataCol: str | None = None,
        cleanupMode: str = "disabled",
    ) -> None:
        super().__init__()
        self._setDefault(outputCol=DOCUMENT, cleanupMode="disabled")
        self._set_keywords(self._input_kwargs)

    def setInputCol(self, value: str) -> DocumentAssembler:
        return self._set(inputCol=value)

    def getInputCol(self) -> str:
        return self.getOrDefault(self.inputCol)

    def setOutputCol(self, value: str) -> DocumentAssembler:
        return self._set(outputCol=value)

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)

    def setIdCol(self, value: str) -> DocumentAssembler:
        return self._set(idCol=value)

    def getIdCol(self) -> str:
        return self.getOrDefault(self.idCol)

    def setMetadataCol(self, value: str) -> DocumentAssembler:
        return self._set(metadataCol=value)

    def getMetadataCol(self) -> str:
        return self.getOrDefault(self.metadataCol)

    def setCleanupMode(self, value: str) -> DocumentAssembler:
        return self._set(cleanupMode=value)

    def getCleanupMode(self) -> str:
        return self.getOrDefault(self.cleanupMode)

    # -- the Python core (LightPipeline) -------------------------------------------------------

    def assemble(
        self,
        text: str | list[str | None] | None,
        id_value: Any = None,
        metadata: Mapping[str, str] | None = None,
    ) -> list[AnnotationDict]:
        """The annotations this stage gives for one row, computed in Python."""
        mode = self.getCleanupMode()
        if text is None:
            return []
        if isinstance(text, str):
            extra = dict(metadata or {})
            if self.isDefined(self.idCol):
                extra["id"] = None if id_value is None else str(id_value)
            extra["sentence"] = "0"
            cleaned = clean_text(text, mode)
            return [make_annotation(DOCUMENT, 0, len(cleaned) - 1, cleaned, extra)]
        out = []
        for index, item in enumerate(text):
            if item is not None:
                cleaned = clean_text(item, mode)
                out.append(
                    make_annotation(
                        DOCUMENT, 0, len(cleaned) - 1, cleaned, {"sentence": str(index)}
                    )
                )
        return out

    # -- Spark -----------------------------------------------------------------------------

    def _document(self, text: Column, metadata: Column) -> Column:
        # Invalid UTF-8 (bytes from a Parquet file written by any tool) becomes U+FFFD here, once,
        # so every later stage sees valid text and offsets count the repaired characters.
        cleaned = _clean_column(valid_utf8(text), self.getCleanupMode())
        return F.struct(
            F.lit(DOCUMENT).alias("annotatorType"),
            F.lit(0).alias("begin"),
            # never null (Spark cannot see that ``cleaned`` is not null here): the column
            # type says so, as the reference's
            F.coalesce(F.length(cleaned) - 1, F.lit(-1)).alias("end"),
            cleaned.alias("result"),
            metadata.alias("metadata"),
            F.array().cast(T.ArrayType(T.FloatType(), False)).alias("embeddings"),
        )

    def _row_metadata(self) -> Column:
        reserved = ["sentence"]
        pairs: list[Column] = []
        if self.isDefined(self.idCol):
            reserved.append("id")
            pairs += [F.lit("id"), F.col(self.getIdCol()).cast("string")]
        pairs += [F.lit("sentence"), F.lit("0")]
        own = F.create_map(*pairs)
        if not self.isDefined(self.metadataCol):
            return own
        user = F.coalesce(
            F.col(self.getMetadataCol()).cast(T.MapType(T.StringType(), T.StringType())),
            F.create_map().cast(T.MapType(T.StringType(), T.StringType())),
        )
        # id and sentence are ours; drop the user's copies so map_concat never sees duplicate keys.
        user = F.map_filter(user, lambda k, _v: ~k.isin(*reserved))
        return F.map_concat(user, own)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if not self.isDefined(self.inputCol):
            raise StageInputError(
                "DocumentAssembler: inputCol is not set; call setInputCol('text')"
            )
        name = check_column_name("DocumentAssembler", self.getInputCol())
        check_column_name("DocumentAssembler", self.getOutputCol())
        fields = {f.name: f for f in dataset.schema.fields}
        if name not in fields:
            raise StageInputError(
                f"DocumentAssembler: input column '{name}' does not exist; available columns: "
                f"{', '.join(sorted(fields)) or 'none'}"
            )
        for param in (self.idCol, self.metadataCol):
            if self.isDefined(param) and self.getOrDefault(param) not in fields:
                raise StageInputError(
                    f"DocumentAssembler: {param.name} '{self.getOrDefault(param)}' does not exist"
                )
        kind = fields[name].dataType
        text = F.col(name)
        if isinstance(kind, T.ArrayType) and isinstance(kind.elementType, T.StringType):
            docs = F.transform(
                text,
                lambda item, i: F.when(
                    item.isNotNull(),
                    self._document(item, F.create_map(F.lit("sentence"), i.cast("string"))),
                ),
            )
            docs = F.filter(docs, lambda d: d.isNotNull())
        elif isinstance(kind, T.StringType):
            docs = F.when(text.isNull(), F.array()).otherwise(
                F.array(self._document(text, self._row_metadata()))
            )
        else:
            raise StageInputError(
                f"DocumentAssembler: input column '{name}' has type {kind.simpleString()}; "
                "it needs string or array<string>"
            )
        column_type = annotation_column_type()
        docs = F.coalesce(docs.cast(column_type), F.array().cast(column_type))
        # The reference's column is nullable (its rows never are). A ``when`` without
        # ``otherwise`` is; a literal condition would be folded away, so it reads the input.
        docs = F.when(text.isNull() | text.isNotNull(), docs)
        output = self.getOutputCol()
        return with_column(dataset, output, docs, column_metadata(DOCUMENT))


class MultiDocumentAssembler(ParamDocs, Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """Several text columns -> several ``document`` columns, the i-th input to the i-th output
    (Spark NLP's MultiDocumentAssembler; question answering takes a question and a context).

    Each pair behaves exactly as a ``DocumentAssembler`` with the same ``idCol``,
    ``metadataCol`` and ``cleanupMode``.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``NONE``               ``DOCUMENT``
    ====================== ======================

    Parameters
    ----------
    inputCols
        The text columns; they must be set.
    outputCols
        One annotation column per input column, in the same order; they must be set.
    idCol, metadataCol
        As in ``DocumentAssembler``, for every pair; unset by default.
    cleanupMode
        As in ``DocumentAssembler``, for every pair; ``disabled`` by default.

    Examples
    --------
    >>> from annotators import MultiDocumentAssembler
    >>> data = spark.createDataFrame(
    ...     [("What's my name?", "My name is Clara.")], "question string, context string"
    ... )
    >>> assembler = MultiDocumentAssembler(
    ...     inputCols=["question", "context"],
    ...     outputCols=["document_question", "document_context"],
    ... )
    >>> row = assembler.transform(data).first()
    >>> [(a.result, a.begin, a.end) for a in row.document_question + row.document_context]
    [("What's my name?", 0, 14), ('My name is Clara.', 0, 16)]
    """

    inputCols = Param(
        Params._dummy(), "inputCols", "input text columns", TypeConverters.toListString
    )
    outputCols = Param(
        Params._dummy(), "outputCols", "output annotation columns", TypeConverters.toListString
    )
    idCol = DocumentAssembler.idCol
    metadataCol = DocumentAssembler.metadataCol
    cleanupMode = DocumentAssembler.cleanupMode

    output_annotator_type = DOCUMENT

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCols: list[str] | None = None,
        idCol: str | None = None,
        metadataCol: str | None = None,
        cleanupMode: str = "disabled",
    ) -> None:
        super().__init__()
        self._setDefault(cleanupMode="disabled")
        self._set_keywords(self._input_kwargs)

    def setInputCols(self, *value: str | list[str]) -> MultiDocumentAssembler:
        return self._set(inputCols=column_names(value))

    def getInputCols(self) -> list[str]:
        return self.getOrDefault(self.inputCols)

    def setOutputCols(self, *value: str | list[str]) -> MultiDocumentAssembler:
        return self._set(outputCols=column_names(value))

    def getOutputCols(self) -> list[str]:
        return self.getOrDefault(self.outputCols)

    def setIdCol(self, value: str) -> MultiDocumentAssembler:
        return self._set(idCol=value)

    def setMetadataCol(self, value: str) -> MultiDocumentAssembler:
        return self._set(metadataCol=value)

    def setCleanupMode(self, value: str) -> MultiDocumentAssembler:
        return self._set(cleanupMode=value)

    def getCleanupMode(self) -> str:
        return self.getOrDefault(self.cleanupMode)

    def assemblers(self) -> list[DocumentAssembler]:
        """One DocumentAssembler per input column: what this stage runs, on Spark and in
        LightPipeline."""
        for param in (self.inputCols, self.outputCols):
            if not self.isDefined(param):
                raise StageInputError(
                    f"MultiDocumentAssembler: {param.name} is not set; call "
                    f"set{param.name[0].upper()}{param.name[1:]}([...])"
                )
        inputs, outputs = self.getInputCols(), self.getOutputCols()
        if len(inputs) != len(outputs) or not inputs:
            raise StageInputError(
                f"MultiDocumentAssembler: inputCols {inputs} and outputCols {outputs} must "
                "name the same number of columns (at least one)"
            )
        if len(set(outputs)) != len(outputs):
            raise StageInputError(f"MultiDocumentAssembler: outputCols {outputs} repeat a name")
        stages = []
        for source, target in zip(inputs, outputs, strict=True):
            stage = DocumentAssembler(
                inputCol=source, outputCol=target, cleanupMode=self.getCleanupMode()
            )
            for param in (self.idCol, self.metadataCol):
                if self.isDefined(param):
                    stage._set(**{param.name: self.getOrDefault(param)})
            stages.append(stage)
        return stages

    def _transform(self, dataset: DataFrame) -> DataFrame:
        for stage in self.assemblers():
            dataset = stage.transform(dataset)
        return dataset
