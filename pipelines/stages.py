"""The job's annotator pipeline: its stages from the config, run, and finished to plain columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.accumulators import AccumulatorParam
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.param import Params
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from annotators import (
    DeBertaEmbeddings,
    DocumentAssembler,
    EmbeddingsFinisher,
    NerConverter,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)
from annotators.chain import run_group, stage_groups
from annotators.deberta.encoder import model_loads
from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.pretrained import resolve_model
from annotators.model_stage import DebertaModelStage
from annotators.sentence import CUT_KEY
from annotators.tasks import job_slots
from pipelines.config import apply_params

if TYPE_CHECKING:
    from pyspark.accumulators import Accumulator

    from annotators.stage import BatchAnnotateFn


def model_note(model: str, lang: str) -> str | None:
    """A warning for a model with random weights (the bundled default): its vectors prove the
    pipeline, not the language."""
    manifest = load_model_folder(resolve_model(model, lang)).manifest
    if str(manifest.source.get("checkpoint", "")).startswith("random init"):
        return (
            f"model {manifest.name} has random weights, so its vectors are not meaningful; "
            "pass --model with an exported model (README: Export a model)"
        )
    return None


def load_model_stage(cls: type, model: str, lang: str) -> Any:
    """The stage for a model folder or a pretrained name (``model_task``: the manifest task the
    stage needs, named in the message on a folder that is not one)."""
    return cls.loadSavedModel(resolve_model(model, lang, task=cls.model_task))


def build_pipeline(config: dict[str, dict[str, Any]]) -> Pipeline:
    """The stages, configured; model files are loaded and checked here, before any Spark job.

    The classifier runs before the embeddings: where the transport carries whole rows through
    Python (Spark 3.5/4.0), it then never carries the token vectors.
    """
    stages: list[Params] = [
        apply_params(
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            config["document_assembler"],
        ),
        apply_params(
            SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
            config["sentence_detector"],
        ),
        apply_params(
            Tokenizer().setInputCols(["sentence"]).setOutputCol("token"), config["tokenizer"]
        ),
    ]
    for task, slot in job_slots():
        model = config[slot.model_section]
        if not model["name"] and slot.default_model is None:
            continue  # an optional task nobody asked for
        stage = apply_params(
            load_model_stage(task.stage_class(), model["name"], model["lang"])
            .setInputCols(list(task.input_cols))
            .setOutputCol(slot.output_col),
            config[slot.stage_section],
        )
        stage.check_ready()
        stages.append(stage)
        if task.frame == "chunks":
            stages.append(
                apply_params(
                    NerConverter(
                        inputCols=["sentence", "token", slot.output_col], outputCol="ner_chunk"
                    ),
                    config["ner_converter"],
                )
            )
    if config["job"]["sentence_embeddings"]:
        stages.append(
            apply_params(
                SentenceEmbeddings()
                .setInputCols(["sentence", "embeddings"])
                .setOutputCol("sentence_embeddings"),
                config["sentence_embeddings"],
            )
        )
    return Pipeline(stages=stages)


def transform(model: PipelineModel, documents: DataFrame, exploded: bool) -> DataFrame:
    """Run the fitted stages, consecutive annotators as one chain (``annotators.chain``: one
    crossing into Python for the text stages and the model); with a row per sentence, drop the
    document's text right after the SentenceDetector.

    Copying a document's text into each of its sentence rows would multiply it. No stage after
    the SentenceDetector reads it, and on Spark 3.5/4.0 (whose transport carries whole rows
    through Python) it must not even reach them. An exploding SentenceDetector ends its chain,
    so the drop comes before the next one.
    """
    annotated = documents
    for group in stage_groups(model.stages):
        annotated = run_group(group, annotated)
        if exploded and isinstance(group[-1], SentenceDetector):
            annotated = annotated.drop("text", "document")
    return annotated


#: A column ``finish`` adds and drops: each row's vectors keyed by their tokens' offsets.
_VECTORS_BY_OFFSET = "_vectors_by_offset"


def with_token_vectors(frame: DataFrame, tokens: str, embeddings: str, output: str) -> DataFrame:
    """``output``: each token's vector from the embeddings column, matched by ``(begin, end)``,
    null where the token has none.

    Spark's map lookup scans the map's keys, so a lookup per token is quadratic in a row's
    tokens (minutes for a 300,000-character document). Where every token has its vector at its
    own position (the window strategy: the usual case), the arrays are zipped, checked pair by
    pair; only a row where they differ (truncate) takes the lookup, whose map then holds only
    the vectors the model gave.
    """

    def key(annotation: str) -> str:
        return (
            f"concat_ws(':', cast({annotation}.begin as string), cast({annotation}.end as string))"
        )

    annotations = f"coalesce({embeddings}, array())"
    token_list = f"coalesce({tokens}, array())"
    aligned = (
        f"size({annotations}) = size({token_list}) AND "
        f"forall(zip_with({token_list}, {annotations}, "
        "(t, e) -> t.begin = e.begin AND t.end = e.end), same -> same)"
    )
    by_offset = (
        f"CASE WHEN {aligned} THEN NULL ELSE map_from_arrays("
        f"transform({annotations}, e -> {key('e')}), "
        f"transform({annotations}, e -> e.embeddings)) END"
    )
    # The map is null exactly where the arrays line up (an unaligned row's map is never null).
    lookup = (
        f"CASE WHEN {_VECTORS_BY_OFFSET} IS NULL THEN transform({annotations}, e -> e.embeddings) "
        f"ELSE transform({token_list}, t -> try_element_at({_VECTORS_BY_OFFSET}, {key('t')})) END"
    )
    return (
        frame.withColumn(_VECTORS_BY_OFFSET, F.expr(by_offset))
        .withColumn(output, F.expr(lookup))
        .drop(_VECTORS_BY_OFFSET)
    )


def sentences_cut(sentences: str) -> Column:
    """How many of a row's sentence annotations the detector cut at maxLength."""
    return F.expr(
        f"size(filter(coalesce({sentences}.metadata, array()), m -> m['{CUT_KEY}'] IS NOT NULL))"
    )


def finish(annotated: DataFrame, config: dict[str, dict[str, Any]]) -> DataFrame:
    """Plain columns instead of annotations: vectors as array<array<float>>, labels as strings.

    ``tokens`` and ``finished_embeddings`` are parallel: the vector at position i is token i's,
    found by its offsets, and null for a token the model did not encode (past the cut with
    ``longSentenceStrategy=truncate``), so no token is paired with another's vector.
    """
    vector_columns = ["embeddings"]
    if config["job"]["sentence_embeddings"]:
        vector_columns.append("sentence_embeddings")
    finished = with_token_vectors(annotated, "token", "embeddings", "finished_embeddings")
    if "sentence_embeddings" in vector_columns:
        finished = (
            EmbeddingsFinisher()
            .setInputCols(["sentence_embeddings"])
            .setOutputCols(["finished_sentence_embeddings"])
            .transform(finished)
        )
    columns = [
        F.col("id"),
        *([F.col("text")] if "text" in annotated.columns else []),
        F.expr("transform(sentence, s -> s.result)").alias("sentences"),
        sentences_cut("sentence").alias("sentences_cut"),
        F.expr("transform(token, t -> t.result)").alias("tokens"),
        *[F.col(f"finished_{c}") for c in vector_columns],
    ]
    for _, slot in job_slots():
        if slot.finished is not None and slot.output_col in annotated.columns:
            name, expression = slot.finished
            columns.append(F.expr(expression).alias(name))
    return finished.select(*columns)


def count_progress(
    model: PipelineModel, records: Accumulator[int], tokens: Accumulator[int], exploded: bool
) -> None:
    """Make the fitted embeddings stage add the records and tokens it has encoded to two
    accumulators, per chunk of rows, for the job's progress line.

    Counting inside the stage's own Python function adds no Spark operator and no data
    movement: a few additions per chunk. With one row per sentence, a record is counted at its
    first sentence (or its empty row).
    """
    for stage in model.stages:
        if isinstance(stage, DeBertaEmbeddings):
            # An instance attribute wins over the class's method: only this stage object counts.
            stage.batch_core = _counted(  # type: ignore[method-assign]
                stage.batch_core, records, tokens, exploded
            )


class LongestParam(AccumulatorParam):
    """An accumulator that keeps the largest value added (Spark merges task updates with it)."""

    def zero(self, value: float) -> float:
        return 0.0

    def addInPlace(self, value1: float, value2: float) -> float:
        return max(value1, value2)


@dataclass
class ModelLoads:
    """The Python workers' model loads during one job: how many, their seconds summed, and
    the longest (accumulators, merged on the driver as tasks end; a failed task's are dropped)."""

    count: Accumulator[int]
    seconds: Accumulator[float]
    longest: Accumulator[float]

    @classmethod
    def on(cls, spark: SparkSession) -> ModelLoads:
        context = spark.sparkContext
        return cls(
            context.accumulator(0),
            context.accumulator(0.0),
            context.accumulator(0.0, LongestParam()),
        )


def count_model_loads(model: PipelineModel, loads: ModelLoads) -> None:
    """Make every fitted model stage report the model loads its chunks did in the Python
    worker, so that the job's summary gives the workers' start-up apart from their steady work.

    A chunk counts only the loads it did itself (not the worker's earlier ones: another
    pipeline, a LightPipeline); a worker that already holds the model with the same settings
    loads nothing.
    """
    for stage in model.stages:
        if isinstance(stage, DebertaModelStage):
            stage.batch_core = _load_counted(stage.batch_core, loads)  # type: ignore[method-assign]


def _load_counted(
    batch_core: Callable[[], BatchAnnotateFn], loads: ModelLoads
) -> Callable[[], BatchAnnotateFn]:
    def core() -> BatchAnnotateFn:
        inner = batch_core()

        def annotate_rows(rows: list[tuple[list[dict[str, Any]], ...]]) -> list[Any]:
            earlier = len(model_loads())  # the worker's loads before this chunk are not counted
            out = inner(rows)
            for seconds in model_loads()[earlier:]:
                loads.count.add(1)
                loads.seconds.add(seconds)
                loads.longest.add(seconds)
            return out

        return annotate_rows

    return core


def _counted(
    batch_core: Callable[[], BatchAnnotateFn],
    records: Accumulator[int],
    tokens: Accumulator[int],
    exploded: bool,
) -> Callable[[], BatchAnnotateFn]:
    """``batch_core`` whose core counts; still called only when the stage transforms (after
    it has shipped its model files)."""
    return lambda: _counting(batch_core(), records, tokens, exploded)


def _counting(
    core: BatchAnnotateFn, records: Accumulator[int], tokens: Accumulator[int], exploded: bool
) -> BatchAnnotateFn:
    """``core``, adding each chunk's records and tokens to the accumulators (in the worker)."""

    def annotate_rows(rows: list[tuple[list[dict[str, Any]], ...]]) -> list[list[dict[str, Any]]]:
        out = core(rows)
        if exploded:
            records.add(
                sum(
                    1
                    for row in rows
                    if not row[0] or row[0][0].get("metadata", {}).get("sentence") in (None, "0")
                )
            )
        else:
            records.add(len(rows))
        tokens.add(sum(len(row[1]) for row in rows))
        return out

    return annotate_rows
