"""EmbeddingsFinisher: annotation columns -> plain vectors, for Spark ML and for storage.

Pure Spark SQL: ``transform(col, a -> a.embeddings)`` gives ``array<array<float>>``, and
``array_to_vector`` inside it gives ``array<vector>`` when ``outputAsVector`` is set.
"""

from __future__ import annotations

from pyspark.ml import Transformer
from pyspark.ml.functions import array_to_vector
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from annotators.annotation import ANNOTATOR_TYPE_KEY, SENTENCE_EMBEDDINGS, WORD_EMBEDDINGS
from annotators.errors import StageInputError
from annotators.params import ParamDocs
from annotators.stage import annotator_types_of, column_names, keyword_only

EMBEDDING_TYPES = (WORD_EMBEDDINGS, SENTENCE_EMBEDDINGS)


class EmbeddingsFinisher(ParamDocs, Transformer, DefaultParamsReadable, DefaultParamsWritable):
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

    inputCols = Param(
        Params._dummy(), "inputCols", "embedding annotation columns", TypeConverters.toListString
    )
    outputCols = Param(
        Params._dummy(),
        "outputCols",
        "output columns (default finished_<input>)",
        TypeConverters.toListString,
    )
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

    def setInputCols(self, *value: str | list[str]) -> EmbeddingsFinisher:
        return self._set(inputCols=column_names(value))

    def getInputCols(self) -> list[str]:
        return self.getOrDefault(self.inputCols)

    def setOutputCols(self, *value: str | list[str]) -> EmbeddingsFinisher:
        return self._set(outputCols=column_names(value))

    def getOutputCols(self) -> list[str]:
        """The output columns; when none are given (the default, []) ``finished_<input>``."""
        return self.getOrDefault(self.outputCols) or [f"finished_{c}" for c in self.getInputCols()]

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
