"""The finishers: annotation columns -> plain Spark columns, for Spark ML, SQL and storage.

Both are pure Spark SQL (higher-order functions over the annotation arrays, no Python UDF), so
they cost no serialisation and run alike on classic and Connect sessions.

- ``Finisher`` gives each annotation's ``result`` (or an embedding's numbers) as
  ``array<string>`` or one joined string, optionally with the metadata.
- ``EmbeddingsFinisher`` gives the vectors: ``transform(col, a -> a.embeddings)`` is
  ``array<array<float>>``, and ``array_to_vector`` inside it ``array<vector>`` with
  ``outputAsVector``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyspark.ml import Transformer
from pyspark.ml.functions import array_to_vector
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from annotators.annotation import ANNOTATOR_TYPE_KEY, SENTENCE_EMBEDDINGS, WORD_EMBEDDINGS
from annotators.errors import StageInputError
from annotators.params import ParamDocs
from annotators.stage import annotator_types_of, column_names, keyword_only

if TYPE_CHECKING:
    from typing import Self

EMBEDDING_TYPES = (WORD_EMBEDDINGS, SENTENCE_EMBEDDINGS)
#: The fields of an annotation struct, in schema order.
ANNOTATION_FIELDS = ("annotatorType", "begin", "end", "result", "metadata", "embeddings")


def is_annotation_column(data_type: T.DataType) -> bool:
    """Whether a column type is an array of annotation structs (nullability aside, so columns
    that lost their metadata, or were built by hand, still count)."""
    if not isinstance(data_type, T.ArrayType):
        return False
    element = data_type.elementType
    return isinstance(element, T.StructType) and tuple(element.names) == ANNOTATION_FIELDS


def annotation_columns(dataset: DataFrame) -> list[str]:
    """Every annotation column of a DataFrame, whatever stage wrote it."""
    return [f.name for f in dataset.schema.fields if is_annotation_column(f.dataType)]


class ColumnFinisher(ParamDocs, Transformer, DefaultParamsReadable, DefaultParamsWritable):
    """What both finishers share: annotation columns in, one plain output column each."""

    inputCols = Param(
        Params._dummy(), "inputCols", "annotation columns to finish", TypeConverters.toListString
    )
    outputCols = Param(
        Params._dummy(),
        "outputCols",
        "output columns, one per input column (default finished_<input>)",
        TypeConverters.toListString,
    )

    def setInputCols(self, *value: str | list[str]) -> Self:
        return self._set(inputCols=column_names(value))

    def getInputCols(self) -> list[str]:
        return self.getOrDefault(self.inputCols)

    def setOutputCols(self, *value: str | list[str]) -> Self:
        return self._set(outputCols=column_names(value))

    def getOutputCols(self) -> list[str]:
        """The output columns; when none are given (the default, []) ``finished_<input>``."""
        return self.getOrDefault(self.outputCols) or [f"finished_{c}" for c in self.getInputCols()]


class EmbeddingsFinisher(ColumnFinisher):
    """Extract the vectors of word or sentence embedding columns.

    Each output column holds a row's vectors: ``array<array<float>>``, or ``array<vector>`` with
    ``outputAsVector``; a row without annotations gives an empty array.

    ============================================== ======================
    Input Annotation types                         Output Annotation type
    ============================================== ======================
    ``WORD_EMBEDDINGS`` or ``SENTENCE_EMBEDDINGS`` ``NONE``
    ============================================== ======================

    Parameters
    ----------
    inputCols
        The embedding annotation columns; they must be set.
    outputCols
        One output column per input column; ``finished_<input column>`` by default.
    outputAsVector
        Spark ML vectors instead of arrays of floats; False by default.
    cleanAnnotations
        Drop every annotation column from the result; False by default.

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from annotators import (
    ...     DeBertaEmbeddings,
    ...     DocumentAssembler,
    ...     EmbeddingsFinisher,
    ...     Tokenizer,
    ... )
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token"),
    ...     DeBertaEmbeddings.pretrained("deberta_v3_tiny_random", "en")
    ...     .setInputCols(["document", "token"])
    ...     .setOutputCol("embeddings"),
    ...     EmbeddingsFinisher().setInputCols(["embeddings"]).setOutputAsVector(True),
    ... ]
    >>> data = spark.createDataFrame([("I love Spark.",)], "text string")
    >>> result = Pipeline(stages=stages).fit(data).transform(data)
    >>> result.schema["finished_embeddings"].dataType.simpleString()
    'array<vector>'
    >>> [vector.size for vector in result.first().finished_embeddings]
    [32, 32, 32, 32]
    >>> plain = EmbeddingsFinisher(
    ...     inputCols=["embeddings"], outputCols=["vectors"], cleanAnnotations=True
    ... ).transform(result.select("text", "embeddings"))
    >>> plain.columns, plain.schema["vectors"].dataType.simpleString()
    (['text', 'vectors'], 'array<array<float>>')
    """

    outputAsVector = Param(
        Params._dummy(),
        "outputAsVector",
        "Spark ML vectors instead of array<float>",
        TypeConverters.toBoolean,
    )
    cleanAnnotations = Param(
        Params._dummy(),
        "cleanAnnotations",
        "drop every annotation column",
        TypeConverters.toBoolean,
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCols: list[str] | None = None,
        outputAsVector: bool = False,
        cleanAnnotations: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(outputCols=[], outputAsVector=False, cleanAnnotations=False)
        self._set_keywords(self._input_kwargs)

    def setOutputAsVector(self, value: bool) -> EmbeddingsFinisher:
        return self._set(outputAsVector=value)

    def getOutputAsVector(self) -> bool:
        return self.getOrDefault(self.outputAsVector)

    def setCleanAnnotations(self, value: bool) -> EmbeddingsFinisher:
        return self._set(cleanAnnotations=value)

    def getCleanAnnotations(self) -> bool:
        return self.getOrDefault(self.cleanAnnotations)

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if not self.isDefined(self.inputCols):
            raise StageInputError("EmbeddingsFinisher: inputCols is not set")
        inputs, outputs = self.getInputCols(), self.getOutputCols()
        if len(inputs) != len(outputs):
            raise StageInputError(
                f"EmbeddingsFinisher: {len(inputs)} inputCols but {len(outputs)} outputCols; "
                "give one output per input"
            )
        types = annotator_types_of(dataset.schema)
        for column in inputs:
            if types.get(column, "missing") not in EMBEDDING_TYPES:
                found = types.get(column, "missing")
                raise StageInputError(
                    f"EmbeddingsFinisher: input column '{column}' has annotator type '{found}', "
                    f"but it needs one of {', '.join(EMBEDDING_TYPES)}"
                )
        as_vector = self.getOutputAsVector()
        for source, target in zip(inputs, outputs, strict=True):

            def vector(a):  # type: ignore[no-untyped-def]
                return array_to_vector(a["embeddings"]) if as_vector else a["embeddings"]

            dataset = dataset.withColumn(
                target, F.coalesce(F.transform(F.col(source), vector), F.array())
            )
        if self.getCleanAnnotations():
            annotation_columns = [
                f.name for f in dataset.schema.fields if ANNOTATOR_TYPE_KEY in (f.metadata or {})
            ]
            dataset = dataset.drop(*annotation_columns)
        return dataset


def _valid_annotations(column: Column) -> Column:
    """The column's annotations without null elements; a null row reads as no annotations."""
    return F.coalesce(F.filter(column, lambda a: a.isNotNull()), F.array())


def _joined_vector(annotation: Column, separator: str) -> Column:
    """An embedding annotation's numbers as text (Java's float form), joined by
    ``separator``."""
    numbers = F.transform(
        F.coalesce(annotation["embeddings"], F.array()), lambda x: x.cast("string")
    )
    return F.array_join(numbers, separator)


def _result_text(parse_embeddings: bool, separator: str) -> Callable[[Column], Column]:
    """An annotation's text: its ``result``, or with ``parse_embeddings`` an embedding
    annotation's vector joined by ``separator``."""

    def text(annotation: Column) -> Column:
        if not parse_embeddings:
            return annotation["result"]
        is_vector = annotation["annotatorType"].isin(*EMBEDDING_TYPES)
        return F.when(is_vector, _joined_vector(annotation, separator)).otherwise(
            annotation["result"]
        )

    return text


def _detail_text(parse_embeddings: bool, value_split: str) -> Callable[[Column], Column]:
    """One annotation as ``key->value`` pairs joined by ``value_split``: its metadata in the
    map's own (insertion) order, then ``result``, then ``embeddings`` when parsed; a metadata key
    of the same name gives way to the annotation's own value, as in the reference, whose
    rendering also turns any `` -> `` inside a key or value into ``->``."""

    def text(annotation: Column) -> Column:
        is_vector = annotation["annotatorType"].isin(*EMBEDDING_TYPES)
        parsed = F.lit(parse_embeddings) & is_vector
        metadata = F.map_entries(F.coalesce(annotation["metadata"], F.create_map()))
        pairs = F.transform(
            F.filter(
                metadata,
                lambda e: (e["key"] != "result") & ~(parsed & (e["key"] == "embeddings")),
            ),
            lambda e: F.concat(e["key"], F.lit(" -> "), F.coalesce(e["value"], F.lit("null"))),
        )
        result = F.concat(F.lit("result -> "), F.coalesce(annotation["result"], F.lit("null")))
        vector = F.concat(F.lit("embeddings -> "), _joined_vector(annotation, value_split))
        tail = F.when(parsed, F.array(result, vector)).otherwise(F.array(result))
        rendered = F.array_join(F.concat(pairs, tail), value_split)
        return F.regexp_replace(rendered, F.lit(" -> "), F.lit("->"))

    return text


def _merged_metadata(annotations: Column) -> Column:
    """The union of the annotations' metadata maps, a later annotation's value winning."""
    entries = F.flatten(
        F.transform(annotations, lambda a: F.map_entries(F.coalesce(a["metadata"], F.create_map())))
    )
    last = F.filter(
        entries,
        lambda e, i: (
            ~F.exists(
                F.slice(entries, i + 2, F.size(entries)), lambda later: later["key"] == e["key"]
            )
        ),
    )
    return F.coalesce(F.map_from_entries(last), F.create_map()).cast("map<string,string>")


class Finisher(ColumnFinisher):
    """Turn annotation columns into plain columns: their results as arrays or strings.

    The last step of most pipelines: Spark ML, SQL and file formats want strings, not
    annotation structs. Each input column gives one output column (``finished_<input>`` unless
    ``outputCols`` says otherwise), in one of four shapes:

    ============= =============== ======================================================
    outputAsArray includeMetadata columns
    ============= =============== ======================================================
    True          False           ``<out>`` array<string> (never null): each ``result``
    True          True            the same, and ``<out>_metadata`` map<string,string>:
                                  every annotation's metadata merged, later keys winning
    False         False           ``<out>`` string: the results joined by
                                  ``annotationSplitSymbol``
    False         True            ``<out>`` string: each annotation as ``key->value``
                                  pairs (its metadata in insertion order, then
                                  ``result``) joined by ``valueSplitSymbol``, the
                                  annotations joined by ``annotationSplitSymbol``
    ============= =============== ======================================================

    With ``parseEmbeddingsVectors``, embedding annotations give their numbers instead of their
    ``result``: joined by a space in arrays, by ``valueSplitSymbol`` in strings. A null row
    reads as no annotations. ``cleanAnnotations`` (the default) drops every annotation column,
    not only the inputs.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``ANY``                ``NONE``
    ====================== ======================

    Parameters
    ----------
    inputCols
        The annotation columns to finish; they must be set.
    outputCols
        One output column per input column; ``finished_<input column>`` by default.
    valueSplitSymbol
        Separates the values inside one annotation in string output; ``#`` by default.
    annotationSplitSymbol
        Separates the annotations in string output; ``@`` by default.
    cleanAnnotations
        Drop every annotation column from the result; True by default.
    includeMetadata
        Give the metadata too (a ``<out>_metadata`` map, or ``key->value`` pairs in string
        output); False by default.
    outputAsArray
        An ``array<string>`` per row instead of one string; True by default.
    parseEmbeddingsVectors
        Embedding annotations give their vectors instead of their results; False by default.

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, Finisher, Tokenizer
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token"),
    ...     Finisher().setInputCols("token").setOutputCols("words"),
    ... ]
    >>> data = spark.createDataFrame([(1, "New York is far.")], "id int, text string")
    >>> result = Pipeline(stages=stages).fit(data).transform(data)
    >>> result.show(truncate=False)
    +---+----------------+-----------------------+
    |id |text            |words                  |
    +---+----------------+-----------------------+
    |1  |New York is far.|[New, York, is, far, .]|
    +---+----------------+-----------------------+
    <BLANKLINE>

    As strings, with the metadata:

    >>> annotated = Pipeline(stages=stages[:2]).fit(data).transform(data)
    >>> detail = Finisher(
    ...     inputCols=["token"], outputAsArray=False, includeMetadata=True
    ... ).transform(annotated)
    >>> detail.first().finished_token
    'sentence->0#result->New@sentence->0#result->York@sentence->0#result->is@sentence->0#result->far@sentence->0#result->.'
    """

    valueSplitSymbol = Param(
        Params._dummy(),
        "valueSplitSymbol",
        "separator of the values inside one annotation in string output",
        TypeConverters.toString,
    )
    annotationSplitSymbol = Param(
        Params._dummy(),
        "annotationSplitSymbol",
        "separator of the annotations in string output",
        TypeConverters.toString,
    )
    cleanAnnotations = Param(
        Params._dummy(),
        "cleanAnnotations",
        "drop every annotation column from the result",
        TypeConverters.toBoolean,
    )
    includeMetadata = Param(
        Params._dummy(),
        "includeMetadata",
        "give the annotations' metadata too",
        TypeConverters.toBoolean,
    )
    outputAsArray = Param(
        Params._dummy(),
        "outputAsArray",
        "an array of strings per row instead of one joined string",
        TypeConverters.toBoolean,
    )
    parseEmbeddingsVectors = Param(
        Params._dummy(),
        "parseEmbeddingsVectors",
        "embedding annotations give their vectors instead of their results",
        TypeConverters.toBoolean,
    )

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCols: list[str] | None = None,
        valueSplitSymbol: str = "#",
        annotationSplitSymbol: str = "@",
        cleanAnnotations: bool = True,
        includeMetadata: bool = False,
        outputAsArray: bool = True,
        parseEmbeddingsVectors: bool = False,
    ) -> None:
        super().__init__()
        self._setDefault(
            outputCols=[],
            valueSplitSymbol="#",
            annotationSplitSymbol="@",
            cleanAnnotations=True,
            includeMetadata=False,
            outputAsArray=True,
            parseEmbeddingsVectors=False,
        )
        self._set_keywords(self._input_kwargs)

    def setValueSplitSymbol(self, value: str) -> Self:
        return self._set(valueSplitSymbol=value)

    def getValueSplitSymbol(self) -> str:
        return self.getOrDefault(self.valueSplitSymbol)

    def setAnnotationSplitSymbol(self, value: str) -> Self:
        return self._set(annotationSplitSymbol=value)

    def getAnnotationSplitSymbol(self) -> str:
        return self.getOrDefault(self.annotationSplitSymbol)

    def setCleanAnnotations(self, value: bool) -> Self:
        return self._set(cleanAnnotations=value)

    def getCleanAnnotations(self) -> bool:
        return self.getOrDefault(self.cleanAnnotations)

    def setIncludeMetadata(self, value: bool) -> Self:
        return self._set(includeMetadata=value)

    def getIncludeMetadata(self) -> bool:
        return self.getOrDefault(self.includeMetadata)

    def setOutputAsArray(self, value: bool) -> Self:
        return self._set(outputAsArray=value)

    def getOutputAsArray(self) -> bool:
        return self.getOrDefault(self.outputAsArray)

    def setParseEmbeddingsVectors(self, value: bool) -> Self:
        return self._set(parseEmbeddingsVectors=value)

    def getParseEmbeddingsVectors(self) -> bool:
        return self.getOrDefault(self.parseEmbeddingsVectors)

    def _check_columns(self, dataset: DataFrame) -> tuple[list[str], list[str]]:
        """The input and output columns, or a clear refusal (before Spark runs anything)."""
        if not self.isDefined(self.inputCols) or not self.getInputCols():
            raise StageInputError("Finisher: inputCols is not set; name the annotation columns")
        inputs, outputs = self.getInputCols(), self.getOutputCols()
        if len(inputs) != len(outputs):
            raise StageInputError(
                f"Finisher: inputCols and outputCols length must match ({len(inputs)} inputCols "
                f"{inputs}, {len(outputs)} outputCols {outputs})"
            )
        names = list(outputs)
        if self.getOutputAsArray() and self.getIncludeMetadata():
            names += [f"{c}_metadata" for c in outputs]
        repeated = sorted({c for c in names if names.count(c) > 1})
        if repeated:
            raise StageInputError(f"Finisher: output columns {repeated} are given more than once")
        types = {f.name: f.dataType for f in dataset.schema.fields}
        found = annotation_columns(dataset)
        for column in inputs:
            if column not in types:
                raise StageInputError(
                    f"Finisher: input column '{column}' does not exist; annotation columns: "
                    f"{', '.join(found) or 'none'}; all columns: {', '.join(types)}"
                )
            if not is_annotation_column(types[column]):
                raise StageInputError(
                    f"Finisher: input column '{column}' must be an annotation column, but it is "
                    f"{types[column].simpleString()}"
                )
        return inputs, outputs

    def _transform(self, dataset: DataFrame) -> DataFrame:
        inputs, outputs = self._check_columns(dataset)
        as_array, with_metadata = self.getOutputAsArray(), self.getIncludeMetadata()
        parse = self.getParseEmbeddingsVectors()
        value_split, annotation_split = self.getValueSplitSymbol(), self.getAnnotationSplitSymbol()
        finished: dict[str, Column] = {}
        merged: dict[str, Column] = {}
        for source, target in zip(inputs, outputs, strict=True):
            if as_array:
                annotations = _valid_annotations(F.col(source))
                results = F.transform(annotations, _result_text(parse, " "))
                finished[target] = F.coalesce(results, F.array()).cast("array<string>")
                if with_metadata:
                    merged[f"{target}_metadata"] = _merged_metadata(annotations)
            else:
                render = _detail_text if with_metadata else _result_text
                present = F.filter(F.col(source), lambda a: a.isNotNull())
                joined = F.array_join(  # a null result reads "null", as the JVM prints it
                    F.transform(present, render(parse, value_split)), annotation_split, "null"
                )
                # "" for a null row, yet declared nullable, as the reference's string column
                finished[target] = F.when(F.col(source).isNull(), F.lit("")).otherwise(joined)
        # Every output is computed from the input as it came (an output may replace an input).
        dataset = dataset.withColumns({**finished, **merged})
        if self.getCleanAnnotations():
            dataset = dataset.drop(*annotation_columns(dataset))
        return dataset
