"""The batch job on the bundled sample, in the test session's Spark."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import functions as F

from pipelines.embed import JobError, parse_args, run, write_all_or_nothing
from pipelines.storage import OutputCommit

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "frankenstein.txt"
CLASSIFIER = ROOT / "tests" / "fixtures" / "models" / "deberta_v3_tiny_ko_classifier"

pytestmark = [pytest.mark.compat, pytest.mark.classic]


def test_job_writes_every_document_with_annotations(spark, tmp_path) -> None:
    output = tmp_path / "out"
    summary = run(parse_args(["--input", str(SAMPLE), "--output", str(output)]), spark)
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    assert summary["rows"] == len(lines)
    written = spark.read.parquet(str(output))
    assert written.count() == len(lines)
    assert written.select("id").distinct().count() == len(lines)
    assert summary["sentences"] > len(lines) and summary["tokens"] > summary["sentences"]
    assert set(written.columns) >= {"id", "text", "document", "sentence", "token", "embeddings"}
    vectors, tokens = written.select(F.sum(F.size("embeddings")), F.sum(F.size("token"))).first()
    assert vectors == tokens == summary["tokens"]  # window strategy: every token has a vector
    first = written.select("embeddings").first().embeddings[0]
    assert len(first.embeddings) == 32 and first.metadata["isWordStart"] == "true"
    assert not list(tmp_path.glob("out.__*"))  # no staging folder left behind
    # One small file is read as one partition; the job spreads it over every core.
    assert len(list(output.glob("part-*.parquet"))) >= spark.sparkContext.defaultParallelism


def test_job_finishes_vectors_and_classifies(spark, tmp_path) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text(
        '{"doc": "a", "body": "정말 재미있었어요! 또 볼래요."}\n'
        '{"doc": "b", "body": null}\n'
        '{"doc": "c", "body": "Plain English here."}\n',
        encoding="utf-8",
    )
    output = tmp_path / "out"
    args = [
        "--input", str(source), "--output", str(output), "--text-col", "body",
        "--id-col", "doc", "--classifier", str(CLASSIFIER),
        "--set", "output.finish=true", "--set", "job.sentence_embeddings=true",
        "--set", "classifier.coalesceSentences=true",
    ]  # fmt: skip
    summary = run(parse_args(args), spark)
    written = {r.id: r for r in spark.read.parquet(str(output)).collect()}
    assert summary["rows"] == 3 and sorted(written) == ["a", "b", "c"]
    assert written["a"].labels[0] in ("negative", "neutral", "positive")
    assert written["b"].labels == [] and written["b"].tokens == []
    assert written["c"].sentences == ["Plain English here."]
    assert len(written["c"].finished_embeddings) == len(written["c"].tokens) == 4
    assert len(written["c"].finished_sentence_embeddings) == 1
    assert len(written["c"].finished_embeddings[0]) == 32


def test_job_refuses_an_existing_output_without_overwrite(spark, tmp_path) -> None:
    output = tmp_path / "out"
    args = ["--input", str(SAMPLE), "--output", str(output)]
    run(parse_args(args), spark)
    with pytest.raises(JobError, match="already exists; pass --mode overwrite"):
        run(parse_args(args), spark)
    assert run(parse_args([*args, "--mode", "overwrite"]), spark)["rows"] > 0


def _failing_frame(spark):
    """Rows whose computation fails in one task after other tasks have written their files."""
    return spark.range(0, 400, numPartitions=4).withColumn(
        "check", F.when(F.col("id") == 350, F.raise_error(F.lit("boom"))).otherwise("ok")
    )


def write(frame, target: str, mode: str, rows_in: int) -> None:
    with OutputCommit(frame.sparkSession, target, mode) as output:
        write_all_or_nothing(frame, output, rows_in)


def leftovers(folder: Path) -> list[str]:
    """What the commit keeps beside a target named ``out``: nothing once a job has ended."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".out."))


def test_a_failed_write_leaves_no_output_and_keeps_an_old_one(spark, tmp_path) -> None:
    target = str(tmp_path / "out")
    with pytest.raises(Exception, match="boom"):
        write(_failing_frame(spark), target, "error", 400)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []

    write(spark.range(0, 7), target, "error", 7)
    with pytest.raises(Exception, match="boom"):
        write(_failing_frame(spark), target, "overwrite", 400)
    assert spark.read.parquet(target).count() == 7  # the old output, untouched
    assert leftovers(tmp_path) == []


def test_a_row_count_mismatch_writes_nothing(spark, tmp_path) -> None:
    target = str(tmp_path / "out")
    with pytest.raises(JobError, match=r"rows out \(5\) != rows in \(6\); nothing was written"):
        write(spark.range(0, 5), target, "error", 6)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
