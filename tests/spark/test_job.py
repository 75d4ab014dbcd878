"""The batch job on the bundled sample, in the test session's Spark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from annotators.errors import JobError
from pipelines.arguments import job_config, parse_args
from pipelines.job import TASKS_PER_CORE, run, spread, task_count, write_all_or_nothing
from pipelines.stages import build_pipeline, count_progress, transform
from pipelines.storage import OutputCommit

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "frankenstein.txt"
CLASSIFIER = ROOT / "tests" / "fixtures" / "models" / "deberta_v3_tiny_ko_classifier"

pytestmark = [pytest.mark.compat, pytest.mark.classic]


def test_job_writes_every_document_with_annotations(spark, tmp_path, capsys) -> None:
    output = tmp_path / "out"
    summary = run(parse_args(["--input", str(SAMPLE), "--output", str(output)]), spark)
    # the bundled default has random weights: said on stderr and in the summary
    assert "WARNING: model deberta_v3_tiny_random has random weights" in capsys.readouterr().err
    assert "random weights" in str(summary["model"])
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
    # Start-up (models, session) and the run are apart; the rate is over the run alone.
    assert summary["startup_seconds"] + summary["run_seconds"] <= summary["seconds"] + 0.02
    assert summary["tokens_per_second"] == pytest.approx(
        summary["tokens"] / summary["run_seconds"], rel=0.01
    )


def test_the_summary_gives_the_workers_model_loads_apart(spark, tmp_path) -> None:
    # Three engine threads are this test's own: no Python worker of the session has loaded the
    # models with them (a load is per process and per settings), so the job's workers load them.
    argv = ["--input", str(SAMPLE), "--output", str(tmp_path / "out"), "--mode", "overwrite"]
    argv += ["--set", "embeddings.threads=3", "--set", "classifier.threads=3"]
    argv += ["--classifier", str(CLASSIFIER)]
    summary = run(parse_args(argv), spark)
    tasks = len(list((tmp_path / "out").glob("part-*.parquet")))
    # Two model stages, each loaded at most once per Python worker that ran a task.
    loads = summary["worker_model_loads"]
    assert 2 <= loads <= 2 * max(tasks, spark.sparkContext.defaultParallelism)
    longest, total = (
        summary["worker_model_load_longest_seconds"],
        summary["worker_model_load_seconds"],
    )
    assert 0 < longest <= total <= loads * longest + 0.001
    assert total < summary["run_seconds"] * spark.sparkContext.defaultParallelism


def test_model_loads_are_counted_once_by_the_chunk_that_did_them(spark) -> None:
    """The counting core, run on the driver by LightPipeline (the same core the workers run):
    a load is counted once, by its own chunk; loads the process did before are not counted."""
    from annotators import LightPipeline
    from pipelines.stages import ModelLoads, count_model_loads

    config = job_config(parse_args(["--input", str(SAMPLE), "--output", "unused"]))
    config["embeddings"]["threads"] = 6
    earlier = build_pipeline(config).fit(spark.createDataFrame([("x",)], "text string"))
    LightPipeline(earlier).annotate("A load before the counted pipeline.")  # not taken
    config["embeddings"]["threads"] = 5  # settings of this test's own: a fresh load
    model = build_pipeline(config).fit(spark.createDataFrame([("x",)], "text string"))
    loads = ModelLoads.on(spark)
    count_model_loads(model, loads)
    light = LightPipeline(model)
    light.annotate("The first chunk loads the model.")
    assert loads.count.value == 1
    assert 0 < loads.longest.value == loads.seconds.value
    light.annotate("The second finds it loaded.")
    assert loads.count.value == 1


def test_a_small_job_keeps_a_task_per_core_and_a_large_one_gets_several() -> None:
    assert [task_count(n, 2) for n in (0, 19, 3999, 4000, 6000, 8000, 10**9)] == [
        2, 2, 2, 4, 6, 8, 2 * TASKS_PER_CORE,
    ]  # fmt: skip
    assert task_count(10**9, 16) == 16 * TASKS_PER_CORE


def test_spread_repartitions_only_what_needs_more_tasks(spark) -> None:
    cores = spark.sparkContext.defaultParallelism
    one = spark.range(0, 50, numPartitions=1)
    assert spread(one, None, 50).rdd.getNumPartitions() == cores
    assert spread(one, None, 10**9).rdd.getNumPartitions() == cores * TASKS_PER_CORE
    many = spark.range(0, 50, numPartitions=cores * TASKS_PER_CORE + 1)
    assert spread(many, None, 10**9) is many
    assert spread(many, 3, 50).rdd.getNumPartitions() == 3  # input.partitions decides


@pytest.mark.parametrize("exploded", [False, True])
def test_the_embeddings_stage_counts_records_and_tokens_for_progress(spark, exploded) -> None:
    """The accumulators reach the driver as tasks end: after the job, every record (once,
    whatever its number of sentence rows) and every token."""
    texts = ["One sentence here.", None, "", "Two sentences. Here they are!", "한국어 문장입니다."]
    frame = spark.createDataFrame(
        [(str(i), text) for i, text in enumerate(texts)], "id string, text string"
    ).repartition(3)
    argv = ["--input", "x.txt", "--output", "out"]
    if exploded:
        argv += ["--set", "sentence_detector.explodeSentences=true"]
    model = build_pipeline(job_config(parse_args(argv))).fit(frame)
    records, tokens = spark.sparkContext.accumulator(0), spark.sparkContext.accumulator(0)
    count_progress(model, records, tokens, exploded)
    annotated = transform(model, frame, exploded)
    rows = annotated.select(
        F.size("token").alias("tokens"), F.size("embeddings").alias("vectors")
    ).collect()
    assert len(rows) == (6 if exploded else 5)  # two sentences: two rows; no text: one
    assert records.value == len(texts)
    assert tokens.value == sum(row.tokens for row in rows) == sum(row.vectors for row in rows) > 0


@pytest.mark.slow
def test_the_job_reports_progress_on_stderr(spark, tmp_path, capsys) -> None:
    args = ["--input", str(SAMPLE), "--output", str(tmp_path / "out")]
    run(parse_args([*args, "--set", "job.progress_interval_s=0.05"]), spark)
    lines = capsys.readouterr().err.splitlines()
    # A line every 0.05 s while the job runs, which takes seconds; the counts are the input's.
    total = len(SAMPLE.read_text(encoding="utf-8").splitlines())
    counted = [line for line in lines if " records (" in line]
    assert counted
    for line in counted:
        assert re.match(rf"\[ *\d+s\] \d+/{total} records \(\d+%\), [\d,]+ tokens, ", line)
    assert f"{total}/{total} records (100%)" in counted[-1], counted[-1]


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


def test_job_tags_entities_and_zero_shot_labels(spark, tmp_path) -> None:
    """The optional NER (with NerConverter) and zero-shot stages, equal to the same stages run
    directly, in the finished output."""
    from annotators import LightPipeline
    from pipelines.arguments import job_config
    from pipelines.stages import build_pipeline

    models = ROOT / "tests" / "fixtures" / "models"
    source = tmp_path / "docs.jsonl"
    texts = {"a": "John Lennon was born in Liverpool. 김철수는 서울에서 태어났다.", "b": None}
    source.write_text(
        '{"doc": "a", "body": "John Lennon was born in Liverpool. 김철수는 서울에서 태어났다."}\n'
        '{"doc": "b", "body": null}\n',
        encoding="utf-8",
    )
    args = [
        "--input", str(source), "--output", str(tmp_path / "out"), "--text-col", "body",
        "--id-col", "doc", "--ner", str(models / "deberta_v3_tiny_ner"),
        "--zero-shot", str(models / "deberta_v3_tiny_nli"),
        "--set", "zero_shot.candidateLabels=[music, travel]", "--set", "output.finish=true",
        "--set", "ner_converter.blackList=[LOC]",
    ]  # fmt: skip
    parsed = parse_args(args)
    run(parsed, spark)
    written = {r.id: r for r in spark.read.parquet(str(tmp_path / "out")).collect()}
    fitted = build_pipeline(job_config(parsed)).fit(spark.createDataFrame([("x",)], "text string"))
    expected = LightPipeline(fitted).annotate(texts["a"])
    assert [e.chunk for e in written["a"].entities] == expected["ner_chunk"]
    assert all(e.entity != "LOC" for e in written["a"].entities)
    for entity in written["a"].entities:
        assert texts["a"][entity.begin : entity.end + 1] == entity.chunk
    assert written["a"].zero_shot_labels == expected["zero_shot"]
    assert len(written["a"].zero_shot_labels) == 2  # one per sentence
    assert written["b"].entities == [] and written["b"].zero_shot_labels == []


def test_job_refuses_zero_shot_without_candidate_labels(spark, tmp_path) -> None:
    models = ROOT / "tests" / "fixtures" / "models"
    args = [
        "--input", str(SAMPLE), "--output", str(tmp_path / "out"),
        "--zero-shot", str(models / "deberta_v3_tiny_nli"),
    ]  # fmt: skip
    with pytest.raises(Exception, match="candidateLabels is not set"):
        run(parse_args(args), spark)
    assert not (tmp_path / "out").exists()


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
