"""The ``pyspark.ml`` stage base: Params, input column checks, the Arrow transport, save/load.

Every annotator's logic is a plain Python function of annotation lists (see ``row_core()``);
this module only moves Spark data to and from that function. The same function serves a Spark
partition (through an Arrow UDF), a ``LightPipeline`` call on the driver, and a unit test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
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
from annotators.spark_compat import (
    ARROW_UDF,
    check_column_name,
    restore_metadata,
    transport_for,
    with_column,
)

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
    "ChainStep",
    "annotate_chain",
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
    faults.inject("driver-jvm")


@dataclass(frozen=True)
class ChainStep:
    """One stage's part in a chain of stages run in one Python pass: its core, where its inputs
    are among the columns so far (the chain's inputs, then each earlier step's output), its
    name for errors, and its output annotation size estimate (chunk sizing)."""

    core: BatchAnnotateFn
    inputs: tuple[int, ...]
    stage: str = ""
    annotation_bytes: int = ANNOTATION_BYTES


Columns = list[list[list[AnnotationDict]]]


def run_steps(steps: Sequence[ChainStep], columns: Columns, level: int = 0) -> Iterator[Columns]:
    """Run the steps from ``level`` on, each over chunks sized by its own inputs
    (``chunk_bounds``), and yield, for consecutive row ranges in order, every column: the
    given ones and one more per step.

    A step that turns one document into thousands of vectors is chunked by what it reads, so a
    worker holds no more than it would running the stages one by one.
    """
    if level == len(steps):
        yield columns
        return
    step = steps[level]
    counts = [sum(len(columns[i][row]) for i in step.inputs) for row in range(len(columns[0]))]
    for start, stop in chunk_bounds(counts, step.annotation_bytes):
        part = [column[start:stop] for column in columns]
        yield from run_steps(steps, [*part, _run_step(step, part)], level + 1)


def _run_step(step: ChainStep, columns: Columns) -> list[list[AnnotationDict]]:
    """One step's core over one chunk of rows, its output checked against ``MAX_ROW_BYTES``."""
    out = step.core(list(zip(*(columns[i] for i in step.inputs), strict=True)))
    check_row_sizes(step.stage, out)
    return out


def _annotate_arrays(
    steps: Sequence[ChainStep], arrays: Sequence[pa.Array]
) -> Iterator[list[pa.Array]]:
    """Answer one Arrow batch: the chain's input arrays in, each step's output array out, for
    consecutive row ranges (see ``run_steps``).

    Spark checks the total row count, not each batch's, so one batch of huge documents never
    holds all its output at once. Null input arrays reach the cores as empty lists; the cores'
    outputs are never null. Only the chain's inputs are converted from Arrow, and only its
    outputs back.
    """
    first = steps[0]
    counts = np.zeros(len(arrays[0]), dtype=np.int64)
    for i in first.inputs:
        counts += pc.fill_null(pc.list_value_length(arrays[i]), 0).to_numpy(zero_copy_only=False)
    for start, stop in chunk_bounds(counts, first.annotation_bytes):
        columns = [
            [value or [] for value in annotations_from_arrow(a.slice(start, stop - start))]
            for a in arrays
        ]
        # The chunk is already sized by the first step's inputs: run it, then chunk the rest.
        for done in run_steps(steps, [*columns, _run_step(first, columns)], 1):
            yield [annotations_to_arrow(column) for column in done[len(arrays) :]]


def chain_udf(
    steps: Sequence[ChainStep], inputs: int, outputs: Sequence[str]
) -> Callable[..., Column]:
    """Wrap a chain in an iterator Arrow UDF (Spark 4.1+): one annotation column for one step,
    a struct of them, named ``outputs``, for several.

    The cores are pickled from the driver; state that must not travel (a model session) is
    created lazily inside a core, once per Python worker.
    """
    single = len(outputs) == 1
    names = list(outputs)
    kind = (
        annotation_column_type()
        if single
        else StructType([StructField(name, annotation_column_type(), True) for name in names])
    )

    def annotate_stream(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        for number, batch in enumerate(batches):
            if number == 1:
                inject_fault()
            for arrays in _annotate_arrays(steps, batch):
                yield arrays[0] if single else pa.StructArray.from_arrays(arrays, names=names)

    # Spark reads the UDF's shape from its type hints: one column, or a tuple of several.
    if inputs == 1:

        def run_one(batches: Iterator[pa.Array]) -> Iterator[pa.Array]:
            yield from annotate_stream((batch,) for batch in batches)

        return F.arrow_udf(run_one, kind)

    def run_many(batches: Iterator[tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        yield from annotate_stream(batches)

    return F.arrow_udf(run_many, kind)


def annotation_udf(
    fn: BatchAnnotateFn, inputs: int, stage: str = "", annotation_bytes: int = ANNOTATION_BYTES
) -> Callable[..., Column]:
    """One core as an iterator Arrow UDF that returns an annotation column (``chain_udf``)."""
    step = ChainStep(fn, tuple(range(inputs)), stage, annotation_bytes)
    return chain_udf([step], inputs, ["annotations"])


def map_chain_in_arrow(
    dataset: DataFrame,
    steps: Sequence[ChainStep],
    inputs: Sequence[str],
    outputs: Mapping[str, Mapping[str, str]],
) -> DataFrame:
    """Run a chain with ``mapInArrow`` (Spark 3.5 and 4.0, classic or Connect).

    Whole rows travel as Arrow record batches: the input columns feed the chain, every other
    column passes through untouched, and each output column (with its metadata) is appended,
    or replaced in place as ``withColumn`` would. Rows keep their order and their partition,
    and every column keeps its metadata.
    """
    names = dataset.columns
    input_indices = [names.index(c) for c in inputs]
    fields = list(dataset.schema.fields)
    out_names = list(names)
    places = []
    for output, metadata in outputs.items():
        field = StructField(output, annotation_column_type(), True, dict(metadata))
        if output in out_names:
            places.append(out_names.index(output))
            fields[places[-1]] = field
        else:
            places.append(len(out_names))
            out_names.append(output)
            fields.append(field)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for number, batch in enumerate(batches):
            if number == 1:
                inject_fault()
            arrays = [batch.column(i) for i in input_indices]
            offset = 0
            for annotated in _annotate_arrays(steps, arrays):
                rows = batch.slice(offset, len(annotated[0]))
                offset += len(annotated[0])
                columns = list(rows.columns)
                for place, array in zip(places, annotated, strict=True):
                    if place == len(columns):
                        columns.append(array)
                    else:
                        columns[place] = array
                yield pa.RecordBatch.from_arrays(columns, names=out_names)

    annotated = dataset.mapInArrow(run, StructType(fields))
    return restore_metadata(annotated, {f.name: f.metadata for f in fields})


def annotate_with_map_in_arrow(
    dataset: DataFrame,
    fn: BatchAnnotateFn,
    inputs: Sequence[str],
    output: str,
    metadata: Mapping[str, str],
    stage: str = "",
    annotation_bytes: int = ANNOTATION_BYTES,
) -> DataFrame:
    """One core with ``mapInArrow`` (``map_chain_in_arrow``)."""
    step = ChainStep(fn, tuple(range(len(inputs))), stage, annotation_bytes)
    return map_chain_in_arrow(dataset, [step], inputs, {output: metadata})


def annotate_chain(dataset: DataFrame, stages: Sequence[AnnotatorModel]) -> DataFrame:
    """Run consecutive annotators in one Python pass per Arrow batch: their input columns enter
    Python once and every output column leaves once, each where ``withColumn`` would put it.

    Each stage reads its input columns as it would alone: an earlier stage's output if one in
    the chain wrote it, otherwise the dataset's column. Output names must differ (see
    ``annotators.chain.stage_groups``).
    """
    types = annotator_types_of(dataset.schema)
    reads: list[list[str]] = []
    outputs: dict[str, dict[str, str]] = {}
    for stage in stages:
        reads.append(stage.input_columns(types))
        output = check_column_name(type(stage).__name__, stage.getOutputCol())
        if output in outputs:
            raise StageInputError(
                f"{type(stage).__name__}: column '{output}' is written by an earlier stage of "
                "the same chain; run them as separate chains (annotators.chain.stage_groups)"
            )
        outputs[output] = column_metadata(stage.output_annotator_type)
        types[output] = stage.output_annotator_type
    produced = list(outputs)
    inputs: list[str] = []
    for index, columns in enumerate(reads):
        for column in columns:
            if column not in produced[:index] and column not in inputs:
                inputs.append(column)
    steps = []
    for index, (stage, columns) in enumerate(zip(stages, reads, strict=True)):
        stage._prepare(dataset)
        positions = tuple(
            len(inputs) + produced.index(c) if c in produced[:index] else inputs.index(c)
            for c in columns
        )
        steps.append(
            ChainStep(
                stage.batch_core(), positions, type(stage).__name__, stage.output_annotation_bytes()
            )
        )
    if transport_for(dataset.sparkSession) != ARROW_UDF:
        return map_chain_in_arrow(dataset, steps, inputs, outputs)
    udf = chain_udf(steps, len(inputs), produced)(*[F.col(quoted(c)) for c in inputs])
    if len(produced) == 1:
        return with_column(dataset, produced[0], udf, outputs[produced[0]])
    scratch = "__chain_" + "_".join(stage.uid for stage in stages)
    annotated = dataset.withColumn(scratch, udf)
    for output, metadata in outputs.items():
        annotated = with_column(annotated, output, F.col(scratch).getField(output), metadata)
    return annotated.drop(scratch)


def quoted(name: str) -> str:
    """A column name as ``F.col`` reads it literally (dots and backticks included)."""
    return "`" + name.replace("`", "``") + "`"


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
        return self._after_transform(annotate_chain(dataset, [self]))

    def reshapes_rows(self) -> bool:
        """Whether ``_after_transform`` changes the rows (so no stage may join its chain after
        it); explodeSentences does."""
        return False

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
