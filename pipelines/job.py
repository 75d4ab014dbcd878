"""The batch job: read documents, run the annotator pipeline, write Parquet all or nothing.

The command line is in ``arguments``, the Spark session in ``session``, the pipeline in
``stages``, reading in ``inputs`` and the commit in ``storage``. Run it with ``spark-submit
pipelines/embed.py --input PATH --output PATH`` on a cluster, or ``spark-deberta run ...`` /
``python -m pipelines.job ...`` on one machine (local[*] unless a master is configured).
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
import time
from collections.abc import Mapping

from pyspark.ml import PipelineModel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from annotators.errors import JobError
from annotators.spark_compat import is_connect
from pipelines.arguments import job_config, parse_args
from pipelines.exits import jvm_lost_error, run_command
from pipelines.inputs import (
    check_input_exists,
    check_paths_apart,
    checked_documents,
    input_format,
    read_documents,
)
from pipelines.session import JobProgress, refuse_connect, session
from pipelines.stages import (
    ModelLoads,
    build_pipeline,
    count_model_loads,
    count_progress,
    finish,
    model_note,
    sentences_cut,
    transform,
)
from pipelines.storage import OutputCommit

#: Most tasks per core when Spark chooses the partitioning: the progress counts move as tasks
#: end, so a long job wants several tasks per core...
TASKS_PER_CORE = 4
#: ...but each task has a fixed cost (Python workers, their set-up), so a task gets at least
#: this many records: a small job keeps one task per core.
MIN_RECORDS_PER_TASK = 1000


def task_count(records: int, cores: int) -> int:
    """Tasks for ``records`` documents on ``cores`` cores: one per core, up to
    ``TASKS_PER_CORE`` per core as the input grows (``MIN_RECORDS_PER_TASK`` each)."""
    per_core = records // max(cores * MIN_RECORDS_PER_TASK, 1)
    return cores * min(max(per_core, 1), TASKS_PER_CORE)


def spread(documents: DataFrame, partitions: int | None, records: int = 0) -> DataFrame:
    """Repartition the documents so that every core gets work, and a long job several tasks.

    A small text file is read as one partition, which would leave all but one core idle while
    the model runs; the text is cheap to shuffle compared with encoding it. A large input gets
    several tasks per core (``task_count``) so that the progress counts, which arrive as tasks
    end, move during the job. Spark sorts rows before a round-robin repartition, so a retried
    task gets the same rows.
    """
    cores = documents.sparkSession.sparkContext.defaultParallelism
    wanted = partitions or task_count(records, cores)
    if partitions is None and documents.rdd.getNumPartitions() >= wanted:
        return documents
    return documents.repartition(wanted)


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


def output_counts(finished: bool) -> dict[str, Column]:
    """The summary's per-row counts, read from the written output: sentences, the sentences
    the detector cut at maxLength, tokens, and tokens without a vector (past the cut with
    ``longSentenceStrategy=truncate``; 0 with window)."""

    def size(array: str) -> Column:
        return F.size(F.coalesce(F.col(array), F.array()))

    if finished:
        return {
            "sentences": size("sentences"),
            "sentences_cut": F.col("sentences_cut"),
            "tokens": size("tokens"),
            "tokens_without_vector": F.expr(
                "size(filter(coalesce(finished_embeddings, array()), v -> v IS NULL))"
            ),
        }
    # One small field of each annotation: Parquet then reads that column alone, not the
    # annotations' texts, metadata and vectors (a whole-struct read of 50,000 documents' tokens
    # exhausted a 1 GB driver in local mode).
    return {
        "sentences": size("sentence.begin"),
        "sentences_cut": sentences_cut("sentence"),
        "tokens": size("token.begin"),
        "tokens_without_vector": size("token.begin") - size("embeddings.begin"),
    }


def write_all_or_nothing(
    frame: DataFrame,
    output: OutputCommit,
    rows_in: int,
    counts: Mapping[str, Column] | None = None,
    row_key: str | None = None,
) -> dict[str, int]:
    """Write into the output's staging folder, check the row count, then commit.

    A failed or short write leaves the target as it was (absent, or the old output). Returns
    the rows written and, for each ``name: per-row count`` in ``counts``, its sum, counted
    from the written files in the same pass as the row check.
    """
    spark = frame.sparkSession
    try:
        frame.write.parquet(output.staging)
    except Exception as exc:  # Py4J/Spark errors: the job failed after its retries
        if (lost := jvm_lost_error(exc)) is not None:
            raise lost from exc
        raise JobError(
            f"the Spark job failed ({failure_reason(exc)}); nothing was written to {output.target}"
        ) from exc
    sums = [F.sum(count).alias(name) for name, count in (counts or {}).items()]
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
        try:
            written = spark.read.parquet(*parts).select(rows.alias("rows"), *sums)
            counted = written.first().asDict()
        except Exception as exc:  # Py4J/Spark errors: the check could not read the output
            if (lost := jvm_lost_error(exc)) is not None:
                raise lost from exc
            raise JobError(
                f"the check of the written rows failed ({failure_reason(exc)}); nothing was "
                f"committed to {output.target}"
            ) from exc
    else:  # no rows, no files
        counted = dict.fromkeys(["rows", *(counts or {})], 0)
    totals = {name: int(value or 0) for name, value in counted.items()}
    rows_out = totals["rows"]
    if rows_out != rows_in:
        raise JobError(f"rows out ({rows_out}) != rows in ({rows_in}); nothing was written")
    output.commit(rows_out)
    return totals


def run(args: argparse.Namespace, spark: SparkSession | None = None) -> dict[str, object]:
    """Validate the config, load the models, then (only then) run the job on Spark.

    The summary keeps start-up (config, model loading and checks, the Spark session) apart from
    the run (read, annotate, write, commit): ``tokens_per_second`` is over the run alone.
    """
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
    check_input_exists(spark, source["path"])
    check_paths_apart(spark, source["path"], target["path"])
    running = time.perf_counter()
    loads = ModelLoads.on(spark)
    with OutputCommit(
        spark, target["path"], target["mode"], target["commit"], float(target["lock_lease_s"])
    ) as output:
        # Cached as read: the records are counted (and checked) before the job chooses its
        # number of tasks, and the model's work reads them from the cache.
        cached = read_documents(
            spark, source["path"], fmt, source["text_col"], source["id_col"]
        ).cache()
        try:
            with JobProgress(spark, float(config["job"]["progress_interval_s"])) as progress:
                documents = checked_documents(
                    cached, source["bad_records"], explicit_ids=bool(source["id_col"])
                )
                frame = spread(documents.frame, source["partitions"], documents.rows)
                model: PipelineModel = pipeline.fit(frame)
                count_model_loads(model, loads)
                if progress.enabled:
                    count_progress(model, progress.records, progress.tokens, exploded)
                annotated = transform(model, frame, exploded)
                if target["partitions"]:
                    annotated = annotated.repartition(target["partitions"])
                finished = target["finish"]
                progress.annotating(documents.rows)
                totals = write_all_or_nothing(
                    finish(annotated, config) if finished else annotated,
                    output,
                    documents.rows,
                    counts=output_counts(finished),
                    row_key="id" if exploded else None,
                )
        except BaseException:
            # The job's own error is the one to report; with the JVM gone this cannot run.
            with contextlib.suppress(Exception):
                cached.unpersist()
            raise
        cached.unpersist()
    ended = time.perf_counter()
    tokens = totals["tokens"]
    run_seconds = ended - running
    return {
        "records_read": documents.rows + documents.skipped,
        "rows": documents.rows,
        "skipped_records": documents.skipped,
        "repaired_characters": documents.repaired,
        "sentences": totals["sentences"],
        "sentences_cut": totals["sentences_cut"],
        "tokens": tokens,
        "tokens_without_vector": totals["tokens_without_vector"],
        "model": config["model"]["name"] + (f" (WARNING: {note})" if note else ""),
        "master": spark.sparkContext.master,
        "seconds": round(ended - started, 2),
        "startup_seconds": round(running - started, 2),
        "run_seconds": round(run_seconds, 2),
        "worker_model_loads": loads.count.value,
        "worker_model_load_seconds": round(loads.seconds.value, 3),
        "worker_model_load_longest_seconds": round(loads.longest.value, 3),
        "tokens_per_second": round(tokens / run_seconds, 1) if run_seconds > 0 else 0.0,
        "output": target["path"],
    }


def execute(args: argparse.Namespace) -> int:
    """Run the job from parsed options; a refusal becomes one line on stderr and its exit code
    (``pipelines.exits``)."""

    def job() -> int:
        summary = run(args)
        width = max(map(len, summary))
        for key, value in summary.items():
            print(f"{key:>{width}}: {value}")
        return 0

    return run_command("spark-deberta run", job)


def main(argv: list[str] | None = None) -> int:
    """``spark-submit pipelines/embed.py [run options]`` and ``python -m pipelines.job``."""
    return execute(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
