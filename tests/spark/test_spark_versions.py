"""What must hold on every Spark the package supports (marked ``compat``: tests/system/test_compat.py
runs these on PySpark 3.5 and 4.0 and on Spark Connect too)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyspark.sql import types as T

from annotators import LightPipeline
from annotators.errors import JobError, ModelFolderError
from annotators.spark_compat import (
    ARROW_UDF,
    MAP_IN_ARROW,
    is_connect,
    spark_version,
    transport_for,
)
from pipelines.arguments import parse_args
from pipelines.job import run
from tests.compat_seed import (
    COLUMNS,
    TEXTS,
    assert_same_record,
    seed_pipeline,
    seed_record,
    write_record,
)

pytestmark = pytest.mark.compat


def test_the_transport_is_the_fastest_this_spark_offers(spark) -> None:
    expected = ARROW_UDF if spark_version(spark) >= (4, 1) else MAP_IN_ARROW
    assert transport_for(spark) == expected


def test_seed_pipeline_equals_light_pipeline_and_is_recorded(spark) -> None:
    record = seed_record(spark)
    assert record["metadata"]["embeddings"] == {"annotatorType": "word_embeddings"}
    assert [len(record["rows"][k]["token"]) for k in "abcdef"] == [16, 11, 0, 0, 0, 301]
    assert all(len(t["embeddings"]) == 32 for t in record["rows"]["f"]["embeddings"])
    # The same pipeline on the driver, without Spark, gives the same annotations.
    data = spark.createDataFrame(TEXTS, "id string, text string")
    light = LightPipeline(seed_pipeline().fit(data), parse_embeddings=True)
    for key, text in TEXTS:
        if text is None:
            continue
        [annotated] = light.fullAnnotate(text)
        expected = {"metadata": {}, "rows": {key: {}}}
        for column in COLUMNS:
            expected["rows"][key][column] = [
                {
                    "annotatorType": a.annotatorType,
                    "begin": a.begin,
                    "end": a.end,
                    "result": a.result,
                    "metadata": dict(a.metadata),
                    "embeddings": [float(x) for x in a.embeddings],
                }
                for a in annotated[column]
            ]
        found = {"metadata": {}, "rows": {key: record["rows"][key]}}
        assert_same_record(found, expected, f"LightPipeline {key}")
    target = os.environ.get("SPARK_DEBERTA_COMPAT_RECORD")
    if target:
        write_record(spark, Path(target))


def test_whole_rows_pass_through_with_their_types_and_metadata(spark) -> None:
    """Columns the stages do not read come out unchanged, whatever the transport."""
    schema = T.StructType(
        [
            T.StructField("text", T.StringType()),
            T.StructField("when", T.TimestampType()),
            T.StructField("tags", T.MapType(T.StringType(), T.ArrayType(T.LongType()))),
            T.StructField("score", T.DecimalType(10, 3), metadata={"unit": "points"}),
        ]
    )
    import datetime
    import decimal

    rows = [
        (
            "One. Two.",
            datetime.datetime(2024, 1, 2, 3, 4, 5),
            {"a": [1, 2]},
            decimal.Decimal("1.5"),
        ),
        (None, None, None, None),
    ]
    data = spark.createDataFrame(rows, schema)
    out = seed_pipeline().fit(data).transform(data)
    assert out.schema["score"].metadata == {"unit": "points"}
    for name in ("when", "tags", "score"):
        assert out.schema[name].dataType == schema[name].dataType
    got = out.select("text", "when", "tags", "score").collect()
    assert sorted(map(tuple, got), key=str) == sorted(rows, key=str)


def test_structured_streaming_query_from_files_to_parquet_with_a_checkpoint(
    spark, tmp_path
) -> None:
    source, sink, checkpoint = tmp_path / "in", tmp_path / "out", tmp_path / "checkpoint"
    source.mkdir()
    (source / "part1.txt").write_text("First line here. Two sentences.\nSecond line.\n")
    stream = spark.readStream.format("text").load(str(source)).withColumnRenamed("value", "text")
    model = seed_pipeline().fit(spark.createDataFrame([("x",)], "text string"))

    def run_until_caught_up() -> None:
        query = (
            model.transform(stream)
            .selectExpr("text", "transform(token, t -> t.result) AS tokens", "embeddings")
            .writeStream.format("parquet")
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start(str(sink))
        )
        query.awaitTermination(300)  # raises if the query failed

    run_until_caught_up()
    (source / "part2.txt").write_text("A later file.\n")
    run_until_caught_up()
    written = spark.read.parquet(str(sink)).collect()
    # Every line exactly once across both runs (the checkpoint remembers the first file).
    texts = sorted(r.text for r in written)
    assert texts == ["A later file.", "First line here. Two sentences.", "Second line."]
    [first] = [r for r in written if r.text.startswith("First")]
    assert first.tokens == ["First", "line", "here", ".", "Two", "sentences", "."]
    assert [len(e.embeddings) for e in first.embeddings] == [32] * 7


def test_the_job_refuses_a_connect_session_at_once(spark, tmp_path) -> None:
    if not is_connect(spark):
        pytest.skip("only a Spark Connect session is refused")
    source = tmp_path / "in.txt"
    source.write_text("Hello there.\n")
    args = parse_args(["--input", str(source), "--output", str(tmp_path / "out")])
    with pytest.raises(JobError, match="needs a classic Spark session"):
        run(args, spark)
    assert not (tmp_path / "out").exists()


def test_a_connect_client_refuses_to_save_a_model_stage_where_it_cannot_copy_the_model(
    spark,
) -> None:
    if not is_connect(spark):
        pytest.skip("only a Spark Connect client is refused")
    stage = seed_pipeline().getStages()[4]
    with pytest.raises(ModelFolderError, match="from a Spark Connect client"):
        stage.write().save("hdfs://127.0.0.1:1/nowhere/stage")
