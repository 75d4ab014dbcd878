"""The batch job on the bundled sample, in the test session's Spark."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.embed import parse_args, run

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "frankenstein.txt"


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
    assert summary["vectors"] == summary["tokens"]  # window strategy: every token has a vector
    first = written.select("embeddings").first().embeddings[0]
    assert len(first.embeddings) == 32 and first.metadata["isWordStart"] == "true"


def test_job_refuses_an_existing_output_without_overwrite(spark, tmp_path) -> None:
    output = tmp_path / "out"
    args = ["--input", str(SAMPLE), "--output", str(output)]
    run(parse_args(args), spark)
    with pytest.raises(Exception, match="already exists"):
        run(parse_args(args), spark)
    assert run(parse_args([*args, "--mode", "overwrite"]), spark)["rows"] > 0
