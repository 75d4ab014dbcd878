"""The batch job: read documents, run the annotator pipeline, write Parquet.

Run it with ``spark-submit pipelines/embed.py --input PATH --output PATH`` on a cluster, or
``spark-deberta run ...`` / ``python -m pipelines.embed ...`` on one machine (local[*] unless a
master is configured).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.param import Params
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from annotators import (
    DeBertaEmbeddings,
    DeBertaForSequenceClassification,
    DeBertaForTokenClassification,
    DeBertaForZeroShotClassification,
    DocumentAssembler,
    EmbeddingsFinisher,
    NerConverter,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
)
from annotators.deberta.encoder import ENGINES
from annotators.deberta.package import (
    PRECISIONS,
    ModelFolderError,
    load_model_folder,
    resolve_model,
)
from annotators.spark_compat import is_connect
from pipelines.config import (
    ConfigError,
    apply_params,
    build_config,
    default_config_file,
    parse_override,
)
from pipelines.errors import JobError
from pipelines.inputs import INPUT_FORMATS, checked_documents, read_documents
from pipelines.storage import OUTPUT_MODES, OutputCommit

#: The model bundled with the package: tiny, random weights (its vectors mean nothing); real
#: models come from ``spark-deberta export``.
DEFAULT_MODEL = "deberta_v3_tiny_random"

_SUFFIX_FORMATS = {
    ".txt": "text",
    ".parquet": "parquet",
    ".jsonl": "json",
    ".json": "json",
    ".csv": "csv",
}
#: Command-line shortcuts: option -> (section, key).
SHORTCUTS = {
    "input": ("input", "path"),
    "format": ("input", "format"),
    "text_col": ("input", "text_col"),
    "id_col": ("input", "id_col"),
    "output": ("output", "path"),
    "mode": ("output", "mode"),
    "model": ("model", "name"),
    "lang": ("model", "lang"),
    "classifier": ("classifier_model", "name"),
    "ner": ("ner_model", "name"),
    "zero_shot": ("zero_shot_model", "name"),
    "batch_size": ("embeddings", "batchSize"),
    "max_sentence_length": ("embeddings", "maxSentenceLength"),
    "precision": ("embeddings", "precision"),
    "engine": ("embeddings", "engine"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; each shortcut and ``--set section.key=value`` overrides the config file."""
    parser = argparse.ArgumentParser(prog="spark-deberta run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", default=None, help="job YAML file (default: the package's conf/job.yaml)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override one config value (YAML syntax), e.g. --set embeddings.batchSize=16",
    )
    parser.add_argument("--input", help="file or folder of documents (input.path)")
    parser.add_argument("--output", help="Parquet folder to write (output.path)")
    parser.add_argument("--format", choices=INPUT_FORMATS, help="input format (default: suffix)")
    parser.add_argument("--text-col", help="text column for parquet/json/csv (default: text)")
    parser.add_argument("--id-col", help="id column to keep (default: generated stable ids)")
    parser.add_argument(
        "--mode", choices=OUTPUT_MODES, help="when the output exists (default: error)"
    )
    parser.add_argument(
        "--model", help=f"model folder or pretrained name (default: the bundled {DEFAULT_MODEL})"
    )
    parser.add_argument("--lang", help="language of a pretrained name (default: en)")
    parser.add_argument("--classifier", help="also classify with this model folder or name")
    parser.add_argument("--ner", help="also tag entities with this token-classification model")
    parser.add_argument(
        "--zero-shot",
        help="also classify with this NLI model (set zero_shot.candidateLabels in the config)",
    )
    parser.add_argument("--batch-size", type=int, help="sentences per inference batch")
    parser.add_argument("--max-sentence-length", type=int, help="pieces per sequence")
    parser.add_argument("--precision", choices=tuple(PRECISIONS))
    parser.add_argument("--engine", choices=ENGINES, help="inference engine (embeddings)")
    parser.add_argument(
        "--spark-conf",
        help="spark-defaults style file applied when this command starts Spark "
        "(with spark-submit use --properties-file)",
    )
    return parser.parse_args(argv)


def job_config(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The validated configuration: defaults < config file < --set < shortcuts."""
    overrides = [parse_override(text) for text in args.set]
    for option, (section, key) in SHORTCUTS.items():
        value = getattr(args, option, None)
        if value is not None:
            overrides.append((section, key, value))
    if args.config is not None:
        file: Path | str | None = args.config
    else:  # the checkout's conf/job.yaml, or the one installed with the package
        file = default_config_file()
    return build_config(file, overrides)


def model_note(model: str, lang: str) -> str | None:
    """A warning for a model with random weights (the bundled default): its vectors prove the
    pipeline, not the language."""
    manifest = load_model_folder(resolve_model(model, lang)).manifest
    if str(manifest["source"].get("checkpoint", "")).startswith("random init"):
        return (
            f"model {manifest['name']} has random weights, so its vectors are not meaningful; "
            "pass --model with an exported model (README: Export a model)"
        )
    return None


def load_model_stage(cls: type, model: str, lang: str) -> Any:
    """The stage for a model folder or a pretrained name."""
    return cls.loadSavedModel(resolve_model(model, lang))


def input_format(path: str, given: str | None) -> str:
    if given:
        return given
    suffix = Path(path).suffix.lower()
    if suffix in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[suffix]
    raise JobError(f"cannot tell the format of {path}; pass --format ({', '.join(INPUT_FORMATS)})")


def spread(documents: DataFrame, partitions: int | None) -> DataFrame:
    """Repartition the documents so that every core gets work.

    A small text file is read as one partition, which would leave all but one core idle while
    the model runs; the text is cheap to shuffle compared with encoding it. Spark sorts rows
    before a round-robin repartition, so a retried task gets the same rows.
    """
    wanted = partitions or documents.sparkSession.sparkContext.defaultParallelism
    if partitions is None and documents.rdd.getNumPartitions() >= wanted:
        return documents
    return documents.repartition(wanted)


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
    if config["classifier_model"]["name"]:
        model = config["classifier_model"]
        stages.append(
            apply_params(
                load_model_stage(DeBertaForSequenceClassification, model["name"], model["lang"])
                .setInputCols(["sentence", "token"])
                .setOutputCol("category"),
                config["classifier"],
            )
        )
    if config["ner_model"]["name"]:
        model = config["ner_model"]
        stages.append(
            apply_params(
                load_model_stage(DeBertaForTokenClassification, model["name"], model["lang"])
                .setInputCols(["sentence", "token"])
                .setOutputCol("ner"),
                config["ner"],
            )
        )
        stages.append(
            apply_params(
                NerConverter(inputCols=["sentence", "token", "ner"], outputCol="ner_chunk"),
                config["ner_converter"],
            )
        )
    if config["zero_shot_model"]["name"]:
        model = config["zero_shot_model"]
        stage = apply_params(
            load_model_stage(DeBertaForZeroShotClassification, model["name"], model["lang"])
            .setInputCols(["sentence", "token"])
            .setOutputCol("zero_shot"),
            config["zero_shot"],
        )
        stage.zero_shot_settings()  # candidateLabels and the NLI ids, checked before Spark runs
        stages.append(stage)
    stages.append(
        apply_params(
            load_model_stage(DeBertaEmbeddings, config["model"]["name"], config["model"]["lang"])
            .setInputCols(["sentence", "token"])
            .setOutputCol("embeddings"),
            config["embeddings"],
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
    """Run the fitted stages; with a row per sentence, drop the document's text right away.

    Copying a document's text into each of its sentence rows would multiply it. No stage after
    the SentenceDetector reads it, and on Spark 3.5/4.0 (whose transport carries whole rows
    through Python) it must not even reach them.
    """
    annotated = documents
    for stage in model.stages:
        annotated = stage.transform(annotated)
        if exploded and isinstance(stage, SentenceDetector):
            annotated = annotated.drop("text", "document")
    return annotated


def finish(annotated: DataFrame, config: dict[str, dict[str, Any]]) -> DataFrame:
    """Plain columns instead of annotations: vectors as array<array<float>>, labels as strings."""
    vector_columns = ["embeddings"]
    if config["job"]["sentence_embeddings"]:
        vector_columns.append("sentence_embeddings")
    finished = (
        EmbeddingsFinisher()
        .setInputCols(vector_columns)
        .setOutputCols([f"finished_{c}" for c in vector_columns])
        .transform(annotated)
    )
    columns = [
        F.col("id"),
        *([F.col("text")] if "text" in annotated.columns else []),
        F.expr("transform(sentence, s -> s.result)").alias("sentences"),
        F.expr("transform(token, t -> t.result)").alias("tokens"),
        *[F.col(f"finished_{c}") for c in vector_columns],
    ]
    if "category" in annotated.columns:
        columns.append(F.expr("transform(category, c -> c.result)").alias("labels"))
    if "ner_chunk" in annotated.columns:
        columns.append(
            F.expr(
                "transform(ner_chunk, c -> named_struct('entity', c.metadata['entity'], "
                "'chunk', c.result, 'begin', c.begin, 'end', c.end))"
            ).alias("entities")
        )
    if "zero_shot" in annotated.columns:
        columns.append(F.expr("transform(zero_shot, c -> c.result)").alias("zero_shot_labels"))
    return finished.select(*columns)


@contextmanager
def progress(spark: SparkSession, interval: float) -> Iterator[None]:
    """Print the running stages' task counts every ``interval`` seconds (0: never)."""
    stop = threading.Event()

    def report() -> None:
        tracker = spark.sparkContext.statusTracker()
        started = time.monotonic()
        while not stop.wait(interval):
            for stage_id in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage_id)
                if info is not None:
                    print(
                        f"[{time.monotonic() - started:6.0f}s] stage {stage_id}: "
                        f"{info.numCompletedTasks}/{info.numTasks} tasks done, "
                        f"{info.numActiveTasks} running",
                        file=sys.stderr,
                        flush=True,
                    )

    thread = threading.Thread(target=report, name="spark-deberta-progress", daemon=True)
    if interval > 0:
        thread.start()
    try:
        yield
    finally:
        stop.set()


def failure_reason(exc: BaseException) -> str:
    """The line that says why a Spark job failed: a Python worker's own error if there is one."""
    text = str(exc)
    errors = re.findall(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception): .+)$", text, re.MULTILINE)
    python = [e for e in errors if not e.startswith(("Py4JJavaError", "SparkException"))]
    if python:
        return python[-1][:500]
    task = re.search(r"most recent failure: (Lost task [^(]*)\(.*?\): (?:[\w.]+\.)?([^\n]+)", text)
    if task and "TASK_WRITE_FAILED" not in task.group(2):
        return f"{task.group(1).strip()}: {task.group(2)}"[:500]
    # Spark 3.5 reports a failed write as TASK_WRITE_FAILED and keeps the reason in the deepest
    # "Caused by" line.
    causes = re.findall(r"^Caused by: (?:[\w.$]+\.)?(\w+(?:Error|Exception): .+)$", text, re.M)
    real = [c for c in causes if "TASK_WRITE_FAILED" not in c]
    if real:
        return real[-1][:500]
    if task:
        return f"{task.group(1).strip()}: {task.group(2)}"[:500]
    return (text.strip().splitlines() or [repr(exc)])[0][:500]


def write_all_or_nothing(
    frame: DataFrame,
    output: OutputCommit,
    rows_in: int,
    sizes: Mapping[str, str] | None = None,
    row_key: str | None = None,
) -> dict[str, int]:
    """Write into the output's staging folder, check the row count, then commit.

    A failed or short write leaves the target as it was (absent, or the old output). Returns
    the rows written and, for each ``name: array column`` in ``sizes``, the summed array
    sizes, counted from the written files in the same pass as the row check.
    """
    spark = frame.sparkSession
    try:
        frame.write.parquet(output.staging)
    except Exception as exc:  # Py4J/Spark errors: the job failed after its retries
        raise JobError(
            f"the Spark job failed ({failure_reason(exc)}); nothing was written to {output.target}"
        ) from exc
    sums = [F.sum(F.size(column)).alias(name) for name, column in (sizes or {}).items()]
    # With exploded sentences a document spans rows: count its key instead of its rows.
    rows = F.count_distinct(row_key) if row_key else F.count(F.lit(1))
    # The part files by name: Spark's reader warns about a hidden folder's name, and a glob
    # sends it looking for a streaming metadata folder (another warning, with a stack trace).
    parts = [
        f"{output.staging}/{name}"
        for name in output.files.files(output.staging)
        if name.endswith(".parquet")
    ]
    if parts:
        counted = spark.read.parquet(*parts).select(rows.alias("rows"), *sums).first().asDict()
    else:  # no rows, no files
        counted = dict.fromkeys(["rows", *(sizes or {})], 0)
    totals = {name: int(value or 0) for name, value in counted.items()}
    rows_out = totals["rows"]
    if rows_out != rows_in:
        raise JobError(f"rows out ({rows_out}) != rows in ({rows_in}); nothing was written")
    output.commit()
    return totals


def run(args: argparse.Namespace, spark: SparkSession | None = None) -> dict[str, object]:
    """Validate the config, load the models, then (only then) run the job on Spark."""
    started = time.perf_counter()
    config = job_config(args)
    source, target = config["input"], config["output"]
    fmt = input_format(source["path"], source["format"])
    pipeline = build_pipeline(config)
    note = model_note(config["model"]["name"], config["model"]["lang"])
    if note:
        print(f"spark-deberta run: WARNING: {note}", file=sys.stderr)
    exploded = bool(config["sentence_detector"].get("explodeSentences"))
    spark = spark or session(args.spark_conf)
    if is_connect(spark):
        refuse_connect()
    with OutputCommit(
        spark, target["path"], target["mode"], target["commit"], float(target["lock_lease_s"])
    ) as output:
        read = read_documents(spark, source["path"], fmt, source["text_col"], source["id_col"])
        cached = spread(read, source["partitions"]).cache()
        try:
            with progress(spark, float(config["job"]["progress_interval_s"])):
                documents = checked_documents(
                    cached, source["bad_records"], explicit_ids=bool(source["id_col"])
                )
                model: PipelineModel = pipeline.fit(documents.frame)
                annotated = transform(model, documents.frame, exploded)
                if target["partitions"]:
                    annotated = annotated.repartition(target["partitions"])
                finished = target["finish"]
                totals = write_all_or_nothing(
                    finish(annotated, config) if finished else annotated,
                    output,
                    documents.rows,
                    sizes={
                        "sentences": "sentences" if finished else "sentence",
                        "tokens": "tokens" if finished else "token",
                    },
                    row_key="id" if exploded else None,
                )
        finally:
            cached.unpersist()
    seconds = time.perf_counter() - started
    tokens = totals["tokens"]
    return {
        "rows": documents.rows,
        "skipped_records": documents.skipped,
        "sentences": totals["sentences"],
        "tokens": tokens,
        "model": config["model"]["name"] + (f" (WARNING: {note})" if note else ""),
        "master": spark.sparkContext.master,
        "seconds": round(seconds, 2),
        "tokens_per_second": round(tokens / seconds, 1),
        "output": target["path"],
    }


def read_spark_conf(path: str) -> dict[str, str]:
    """``spark.key value`` (or ``spark.key=value``) lines of a spark-defaults file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"Spark settings file {file} does not exist")
    settings = {}
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"(spark\.[^\s=]+)\s*[=\s]\s*(\S.*)", line)
        if found is None:
            raise ConfigError(f"{file}:{number}: expected 'spark.key value', got '{line}'")
        settings[found.group(1)] = found.group(2).strip()
    return settings


def refuse_connect() -> None:
    """The job needs the driver's JVM; say so before any work instead of failing midway."""
    raise JobError(
        "the job needs a classic Spark session: it commits its output with the Hadoop "
        "FileSystem API of the driver's JVM, which a Spark Connect client does not have. Run it "
        "with spark-submit or `spark-deberta run` (no SPARK_REMOTE, no spark.remote); on Spark "
        "Connect (Databricks serverless, shared clusters) use the stages in a notebook and "
        "write with df.write (README: Where it runs)"
    )


def session(spark_conf: str | None = None) -> SparkSession:
    """The active session, or a new one: local[*] when no master is configured.

    A local session's Python workers run this interpreter (unless PYSPARK_PYTHON says
    otherwise), so the job works from a virtual environment that is not activated.
    """
    settings = read_spark_conf(spark_conf) if spark_conf else {}
    if os.environ.get("SPARK_REMOTE") or "spark.remote" in settings:
        refuse_connect()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from pyspark import SparkConf, SparkContext

    builder = SparkSession.builder.appName("spark-deberta")
    for key, value in settings.items():
        builder = builder.config(key, value)
    # Under spark-submit the JVM is already up and holds --master; a SparkConf made before the
    # gateway is initialised would not see it (and the job would silently run in local[*]).
    # Otherwise this launches the JVM, with the settings that only apply at launch (memory).
    SparkContext._ensure_initialized(conf=SparkConf(loadDefaults=False).setAll(settings.items()))
    master = settings.get("spark.master") or SparkConf().get("spark.master", None)
    if master is None:
        builder = builder.master("local[*]")
    if master is None or master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = run(args)
    except (ConfigError, ModelFolderError) as exc:
        print(f"spark-deberta run: {exc}", file=sys.stderr)
        return 2
    except JobError as exc:
        print(f"spark-deberta run: {exc}", file=sys.stderr)
        return 1
    for key, value in summary.items():
        print(f"{key:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
