"""The ``pyspark.ml`` stage base: Params, input column checks, the Arrow transport, save/load.

Every annotator's logic is a plain Python function of annotation lists (see ``row_core()``);
this module only moves Spark data to and from that function. The same function serves a Spark
partition (through an Arrow UDF), a ``LightPipeline`` call on the driver, and a unit test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import keyword_only
from pyspark.ml import Estimator, Model, Transformer
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import DefaultParamsReadable, DefaultParamsWritable
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructField, StructType

from annotators import faults
from annotators.annotation import (
    ANNOTATOR_TYPE_KEY,
    AnnotationDict,
    annotation_column_type,
    annotations_from_arrow,
    annotations_to_arrow,
    column_metadata,
)
from annotators.errors import RowTooLargeError, StageInputError
from annotators.params import ParamDocs
from annotators.spark_compat import ARROW_UDF, restore_metadata, transport_for, with_column

#: A stage's core: one annotation list per input column in, the output annotation list out.
AnnotateFn = Callable[..., list[AnnotationDict]]
#: The same over a chunk of rows (each row a tuple of input annotation lists), for cores that
#: batch across rows, such as the encoder.
BatchAnnotateFn = Callable[[list[tuple[list[AnnotationDict], ...]]], list[list[AnnotationDict]]]
#: A chunk of rows handed to a core at once holds at most this many rows and about
#: ``CHUNK_BYTES`` of output annotations (estimated from its input annotations), so a worker's
#: memory is bounded by bytes, whatever the documents' sizes and the model's dimension.
ROWS_PER_CHUNK = 256
CHUNK_BYTES = 64 * 2**20
#: Estimated bytes of one output annotation (strings, metadata, Python objects) besides its
#: vector; stages with vectors add theirs (``AnnotatorModel.output_annotation_bytes``).
ANNOTATION_BYTES = 640


def chunk_bounds(counts: Sequence[int], annotation_bytes: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` row ranges: at most ``ROWS_PER_CHUNK`` rows and, unless one row alone
    is bigger, ``CHUNK_BYTES``, with a row's output estimated from its input annotations."""
    start, weight = 0, 0
    for index, count in enumerate(counts):
        cost = (int(count) + 1) * annotation_bytes
        if index > start and (index - start >= ROWS_PER_CHUNK or weight + cost > CHUNK_BYTES):
            yield start, index
            start, weight = index, 0
        weight += cost
    if start < len(counts):
        yield start, len(counts)


def row_by_row(fn: AnnotateFn) -> BatchAnnotateFn:
    """Lift a row-level core to the chunk level."""

    def annotate_rows(rows: list[tuple[list[AnnotationDict], ...]]) -> list[list[AnnotationDict]]:
        return [fn(*row) for row in rows]

    return annotate_rows


__all__ = [
    "AnnotateFn",
    "AnnotatorModel",
    "AnnotatorParams",
    "annotate_with_map_in_arrow",
    "annotation_udf",
    "annotator_types_of",
    "keyword_only",
    "resolve_input_columns",
]


#: The largest output a stage may give one row (estimated bytes in the JVM). A Spark row is
#: limited to 2 GB and the JVM builds it with copies, so a document whose per-token vectors are
#: bigger would kill the executor with OutOfMemoryError; this fails it with a clear error instead.
MAX_ROW_BYTES = 256 * 2**20


def annotation_bytes(annotation: AnnotationDict) -> int:
    """Roughly what one annotation takes in a Spark row: headers, strings, map, floats."""
    metadata = annotation["metadata"]
    return (
        64
        + len(annotation["result"])
        + sum(len(k) + len(v) + 16 for k, v in metadata.items())
        + 4 * len(annotation["embeddings"])
    )


def check_row_sizes(stage: str, rows: list[list[AnnotationDict]]) -> None:
    """Refuse an output row that would not fit in a Spark row (see ``MAX_ROW_BYTES``)."""
    for row in rows:
        size = sum(map(annotation_bytes, row))
        if size > MAX_ROW_BYTES:
            raise RowTooLargeError(
                f"{stage}: one row's output has {len(row)} annotations (about {size >> 20} MB), "
                f"more than a Spark row can safely carry ({MAX_ROW_BYTES >> 20} MB); split long "
                "documents into rows of sentences with SentenceDetector.setExplodeSentences(True) "
                "(job: --set sentence_detector.explodeSentences=true)"
            )


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


def inject_fault() -> None:
    """Kill this worker or its executor when the test hook asks for it (``annotators.faults``)."""
    faults.inject("worker")
    faults.inject("executor")


def _annotate_arrays(
    fn: BatchAnnotateFn, arrays: tuple[pa.Array, ...], stage: str, annotation_bytes: int
) -> Iterator[pa.Array]:
    """Answer one Arrow batch's input columns chunk by chunk (see ``chunk_bounds``).

    Spark checks the total row count, not each batch's, so one batch of huge documents never
    holds all its output at once. Null input arrays reach the core as empty lists; the core's
    output is never null.
    """
    counts = np.zeros(len(arrays[0]), dtype=np.int64)
    for array in arrays:
        counts += pc.fill_null(pc.list_value_length(array), 0).to_numpy(zero_copy_only=False)
    for start, stop in chunk_bounds(counts, annotation_bytes):
        chunk = [a.slice(start, stop - start) for a in arrays]
        columns = [annotations_from_arrow(a) for a in chunk]
        rows = [tuple(value or [] for value in row) for row in zip(*columns, strict=True)]
        out = fn(rows)
        check_row_sizes(stage, out)
        yield annotations_to_arrow(out)


def annotation_udf(
    fn: BatchAnnotateFn, inputs: int, stage: str = "", annotation_bytes: int = ANNOTATION_BYTES
) -> Callable[..., Column]:
    """Wrap a core in an iterator Arrow UDF (Spark 4.1+) that returns an annotation column.

    The core is pickled from the driver; state that must not travel (a model session) is created
    lazily inside the core, once per Python worker.
    """

    def annotate_stream(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        for number, batch in enumerate(batches):
            if number == 1:
                inject_fault()
            yield from _annotate_arrays(fn, batch, stage, annotation_bytes)

    # Spark reads the UDF's shape from its type hints: one column, or a tuple of several.
    if inputs == 1:

        def run_one(batches: Iterator[pa.Array]) -> Iterator[pa.Array]:
            yield from annotate_stream((batch,) for batch in batches)

        return F.arrow_udf(run_one, annotation_column_type())

    def run_many(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        yield from annotate_stream(batches)

    return F.arrow_udf(run_many, annotation_column_type())


def annotate_with_map_in_arrow(
    dataset: DataFrame,
    fn: BatchAnnotateFn,
    inputs: Sequence[str],
    output: str,
    metadata: Mapping[str, str],
    stage: str = "",
    annotation_bytes: int = ANNOTATION_BYTES,
) -> DataFrame:
    """Run a core with ``mapInArrow`` (Spark 3.5 and 4.0, classic or Connect).

    Whole rows travel as Arrow record batches: the input columns feed the core, every other
    column passes through untouched, and the output column (with ``metadata``) is appended, or
    replaced in place as ``withColumn`` would. Rows keep their order and their partition, and
    every column keeps its metadata.
    """
    names = dataset.columns
    input_indices = [names.index(c) for c in inputs]
    replace_at = names.index(output) if output in names else None
    fields = list(dataset.schema.fields)
    output_field = StructField(output, annotation_column_type(), True, dict(metadata))
    if replace_at is None:
        fields.append(output_field)
        out_names = [*names, output]
    else:
        fields[replace_at] = output_field
        out_names = list(names)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for number, batch in enumerate(batches):
            if number == 1:
                inject_fault()
            arrays = tuple(batch.column(i) for i in input_indices)
            offset = 0
            for annotated in _annotate_arrays(fn, arrays, stage, annotation_bytes):
                rows = batch.slice(offset, len(annotated))
                offset += len(annotated)
                columns = list(rows.columns)
                if replace_at is None:
                    columns.append(annotated)
                else:
                    columns[replace_at] = annotated
                yield pa.RecordBatch.from_arrays(columns, names=out_names)

    annotated = dataset.mapInArrow(run, StructType(fields))
    return restore_metadata(annotated, {f.name: f.metadata for f in fields})


def column_names(value: tuple[str | Sequence[str], ...]) -> list[str]:
    """Spark NLP's column setters take names as arguments or one list: ``("a", "b")`` or
    ``(["a", "b"],)``."""
    return list(value[0] if len(value) == 1 and not isinstance(value[0], str) else value)


class AnnotatorParams(ParamDocs, Params):
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
    lazyAnnotator = Param(
        Params._dummy(),
        "lazyAnnotator",
        "the reference's RecursivePipeline flag; kept for ported code, no effect here",
        TypeConverters.toBoolean,
    )

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(lazyAnnotator=False)

    def setLazyAnnotator(self, value: bool) -> AnnotatorParams:
        return self._set(lazyAnnotator=value)

    def getLazyAnnotator(self) -> bool:
        return (
            self.getOrDefault(self.lazyAnnotator) if self.isDefined(self.lazyAnnotator) else False
        )

    def setInputCols(self, *value: str | Sequence[str]) -> AnnotatorParams:
        return self._set(inputCols=column_names(value))

    def inputColsValidation(self, value: Sequence[str | Sequence[str]]) -> None:
        """The reference's check of ``setInputCols`` arguments: as many columns as the stage
        has input types (the stage checks the columns' types too when it runs)."""
        columns = column_names(value)
        types = list(getattr(self, "input_annotator_types", ()))
        if types and len(columns) != len(types):
            raise TypeError(
                f"setInputCols in {self.uid} expecting {len(types)} columns. Provided column "
                f"amount: {len(columns)}. Which should be columns from the following "
                f"annotators: {types}"
            )

    def getInputCols(self) -> list[str]:
        return self.getOrDefault(self.inputCols)

    def setOutputCol(self, value: str) -> AnnotatorParams:
        return self._set(outputCol=value)

    def getOutputCol(self) -> str:
        return self.getOrDefault(self.outputCol)


class AnnotatorModel(Transformer, AnnotatorParams, DefaultParamsReadable, DefaultParamsWritable):
    """A transformer whose work is a pure function of its input annotation columns.

    Subclasses set ``input_annotator_types`` and ``output_annotator_type`` and implement
    ``row_core()``. Spark runs it through ``annotation_udf``; ``LightPipeline`` calls it directly.
    """

    input_annotator_types: ClassVar[tuple[str, ...]] = ()
    output_annotator_type: ClassVar[str] = ""

    def row_core(self) -> AnnotateFn:
        """Return the core: a picklable function of one annotation list per input type."""
        raise NotImplementedError

    def batch_core(self) -> BatchAnnotateFn:
        """The core over a chunk of rows; stages that batch across rows override this."""
        return row_by_row(self.row_core())

    def _prepare(self, dataset: DataFrame) -> None:
        """Driver-side work before the UDF is built (ship model files to executors)."""

    def output_annotation_bytes(self) -> int:
        """Estimated bytes of one output annotation while a worker holds it (chunk sizing)."""
        return ANNOTATION_BYTES

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
        stage = type(self).__name__
        metadata = column_metadata(self.output_annotator_type)
        if transport_for(dataset.sparkSession) == ARROW_UDF:
            size = self.output_annotation_bytes()
            udf = annotation_udf(self.batch_core(), len(columns), stage, size)
            annotated = with_column(dataset, output, udf(*[F.col(c) for c in columns]), metadata)
        else:
            annotated = annotate_with_map_in_arrow(
                dataset,
                self.batch_core(),
                columns,
                output,
                metadata,
                stage,
                self.output_annotation_bytes(),
            )
        return self._after_transform(annotated)

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
