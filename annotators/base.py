"""The ``pyspark.ml`` stage base: Params, input column checks, the Arrow transport, save/load.

Every annotator's logic is a plain Python function of annotation lists (see ``annotator()``);
this module only moves Spark data to and from that function. The same function serves a Spark
partition (through an Arrow UDF), a ``LightPipeline`` call on the driver, and a unit test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import ClassVar

import pyarrow as pa
from pyspark import keyword_only
from pyspark.ml import Estimator, Model, Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from annotators.annotation import (
    ANNOTATION_ARRAY_TYPE,
    ANNOTATOR_TYPE_KEY,
    AnnotationDict,
    annotations_to_arrow,
    column_metadata,
)

#: A stage's core: one annotation list per input column in, the output annotation list out.
AnnotateFn = Callable[..., list[AnnotationDict]]
#: The same over a chunk of rows (each row a tuple of input annotation lists), for cores that
#: batch across rows, such as the encoder.
BatchAnnotateFn = Callable[[list[tuple[list[AnnotationDict], ...]]], list[list[AnnotationDict]]]
#: Rows handed to a core at once: bounds the memory of one chunk's output annotations.
ROWS_PER_CHUNK = 256


def row_by_row(fn: AnnotateFn) -> BatchAnnotateFn:
    """Lift a row-level core to the chunk level."""

    def annotate_rows(rows: list[tuple[list[AnnotationDict], ...]]) -> list[list[AnnotationDict]]:
        return [fn(*row) for row in rows]

    return annotate_rows


__all__ = [
    "AnnotateFn",
    "AnnotatorModel",
    "AnnotatorParams",
    "annotation_udf",
    "annotator_types_of",
    "keyword_only",
    "resolve_input_columns",
]


class StageInputError(ValueError):
    """An input column is missing or holds the wrong annotator type."""


def annotator_types_of(schema: StructType) -> dict[str, str | None]:
    """Map each column of a schema to the annotator type in its metadata (None if it has none)."""
    return {f.name: (f.metadata or {}).get(ANNOTATOR_TYPE_KEY) for f in schema.fields}


def resolve_input_columns(
    stage: str,
    input_cols: Sequence[str] | None,
    required_types: Sequence[str],
    types_by_column: Mapping[str, str | None],
) -> list[str]:
    """Match the stage's inputCols to its required annotator types, or say exactly what is wrong.

    Like Spark NLP, the order of inputCols does not matter: each required type is served by the
    input column that carries it. The result is ordered as ``required_types``.
    """
    needed = ", ".join(required_types)
    if not input_cols:
        raise StageInputError(
            f"{stage}: inputCols is not set; call setInputCols(...) with columns of type {needed}"
        )
    found: dict[str, str] = {}
    for name in input_cols:
        if name not in types_by_column:
            available = ", ".join(sorted(types_by_column)) or "none"
            raise StageInputError(
                f"{stage}: input column '{name}' does not exist; available columns: {available}"
            )
        kind = types_by_column[name]
        if kind is None:
            raise StageInputError(
                f"{stage}: input column '{name}' is not an annotation column (its metadata has no "
                f"annotatorType); {stage} needs columns of type {needed}"
            )
        if kind not in required_types:
            raise StageInputError(
                f"{stage}: input column '{name}' has annotator type '{kind}', but {stage} needs "
                f"columns of type {needed}"
            )
        if kind in found:
            raise StageInputError(
                f"{stage}: input columns '{found[kind]}' and '{name}' both have type '{kind}'; "
                f"give one column per type ({needed})"
            )
        found[kind] = name
    missing = [t for t in required_types if t not in found]
    if missing:
        raise StageInputError(
            f"{stage}: no input column of type {', '.join(missing)} among inputCols "
            f"{list(input_cols)}; {stage} needs columns of type {needed}"
        )
    return [found[t] for t in required_types]


def annotation_udf(fn: BatchAnnotateFn, inputs: int) -> Callable[..., Column]:
    """Wrap a core in an iterator Arrow UDF that returns an annotation column.

    The core is pickled from the driver; state that must not travel (a model session) is created
    lazily inside the core, once per Python worker. Each Arrow batch is handed over in chunks of
    ``ROWS_PER_CHUNK`` rows and answered chunk by chunk (Spark checks the total row count, not
    each batch's), so one batch of huge documents never holds all its output at once. Null input
    arrays reach the core as empty lists; the core's output is never null.
    """

    def annotate_batch(arrays: tuple[pa.Array, ...]) -> Iterator[pa.Array]:
        for offset in range(0, len(arrays[0]), ROWS_PER_CHUNK):
            chunk = [a.slice(offset, ROWS_PER_CHUNK) for a in arrays]
            columns = [a.to_pylist(maps_as_pydicts="lossy") for a in chunk]
            rows = [tuple(value or [] for value in row) for row in zip(*columns, strict=True)]
            yield annotations_to_arrow(fn(rows))

    # Spark reads the UDF's shape from its type hints: one column, or a tuple of several.
    if inputs == 1:

        def run_one(batches: Iterator[pa.Array]) -> Iterator[pa.Array]:
            for batch in batches:
                yield from annotate_batch((batch,))

        return F.arrow_udf(run_one, ANNOTATION_ARRAY_TYPE)

    def run_many(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        for batch in batches:
            yield from annotate_batch(batch)

    return F.arrow_udf(run_many, ANNOTATION_ARRAY_TYPE)


class AnnotatorParams(Params):
    """inputCols/outputCol with Spark NLP's setters (``setInputCols("a", "b")`` or a list)."""

    inputCols = Param(
        Params._dummy(),
        "inputCols",
        "previous annotation columns to read",
        TypeConverters.toListString,
    )
    outputCol = Param(
        Params._dummy(), "outputCol", "output annotation column", TypeConverters.toString
    )

    def setInputCols(self, *value: str | Sequence[str]) -> AnnotatorParams:
        cols = value[0] if len(value) == 1 and not isinstance(value[0], str) else value
        return self._set(inputCols=list(cols))

    def getInputCols(self) -> list[str]:
        return self.getOrDefault(self.inputCols)

    def setOutputCol(self, value: str) -> AnnotatorParams:
        return self._set(outputCol=value)

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)


class AnnotatorModel(Transformer, AnnotatorParams, DefaultParamsReadable, DefaultParamsWritable):
    """A transformer whose work is a pure function of its input annotation columns.

    Subclasses set ``input_annotator_types`` and ``output_annotator_type`` and implement
    ``annotator()``. Spark runs it through ``annotation_udf``; ``LightPipeline`` calls it directly.
    """

    input_annotator_types: ClassVar[tuple[str, ...]] = ()
    output_annotator_type: ClassVar[str] = ""

    def annotator(self) -> AnnotateFn:
        """Return the core: a picklable function of one annotation list per input type."""
        raise NotImplementedError

    def batch_annotator(self) -> BatchAnnotateFn:
        """The core over a chunk of rows; stages that batch across rows override this."""
        return row_by_row(self.annotator())

    def _prepare(self, dataset: DataFrame) -> None:
        """Driver-side work before the UDF is built (ship model files to executors)."""

    def input_columns(self, types_by_column: Mapping[str, str | None]) -> list[str]:
        """The input columns in ``input_annotator_types`` order, checked against their types."""
        input_cols = self.getInputCols() if self.isDefined(self.inputCols) else None
        return resolve_input_columns(
            type(self).__name__, input_cols, self.input_annotator_types, types_by_column
        )

    def _transform(self, dataset: DataFrame) -> DataFrame:
        columns = self.input_columns(annotator_types_of(dataset.schema))
        output = self.getOutputCol()
        self._prepare(dataset)
        udf = annotation_udf(self.batch_annotator(), len(columns))
        annotated = udf(*[F.col(c) for c in columns]).alias(
            output, metadata=column_metadata(self.output_annotator_type)
        )
        return self._after_transform(dataset.withColumn(output, annotated))

    def _after_transform(self, dataset: DataFrame) -> DataFrame:
        """Hook for stages that reshape rows after annotating (explodeSentences)."""
        return dataset


class AnnotatorEstimator(Estimator, AnnotatorParams, DefaultParamsReadable, DefaultParamsWritable):
    """An estimator whose fitted model is an ``AnnotatorModel`` (Spark NLP's Tokenizer is one)."""

    def _fit(self, dataset: DataFrame) -> Model:
        raise NotImplementedError


def copy_params(source: Params, target: Params) -> None:
    """Copy every explicitly set or defaulted Param that the target also has."""
    for param in source.params:
        if target.hasParam(param.name) and source.isDefined(param):
            target._set(**{param.name: source.getOrDefault(param)})
