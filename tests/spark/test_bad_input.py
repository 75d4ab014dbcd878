"""Untrusted text: every row comes out, offsets stay exact, nothing crashes in a worker.

The job's own reader and pipeline (bundled tiny model) run on real local Spark; text arrives
through Parquet, CSV and JSON files as users' data does, including bytes that are not UTF-8.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from annotators.deberta.encoder import plan_batches
from annotators.errors import JobError, RowTooLargeError
from annotators.stage import (
    ANNOTATION_BYTES,
    CHUNK_BYTES,
    ROWS_PER_CHUNK,
    check_row_sizes,
    chunk_bounds,
)
from pipelines.arguments import parse_args
from pipelines.config import defaults
from pipelines.inputs import checked_documents, read_documents
from pipelines.job import run
from pipelines.stages import build_pipeline
from tests.support import annotations_of

ROOT = Path(__file__).resolve().parents[2]

TEXTS = {
    "null": None,
    "empty": "",
    "whitespace": " \t\n\r\u3000 ",
    "control": "bell\x07 null\x00 escape\x1b[31m red\x1b[0m. Form\x0cfeed.",
    "zero_width": "zero\u200bwidth\u200cnon\u200djoiner\ufeff and BOM. Soft\u00adhyphen.",
    "combining": "Cafe\u0301 na\u0131\u0308ve Z\u0351\u0323a\u0300l\u0317g\u0336o\u0334. e\u0301\u0301\u0301.",
    "rtl": "مرحبا بالعالم. שלום עולם! \u202eoverride\u202c text.",
    "emoji": "Family 👨‍👩‍👧‍👦, flag 🇰🇷, skin 👍🏽. Keycap 1️⃣!",
    "cjk": "안녕하세요, 세계! 你好，世界。こんにちは、世界。カタカナ。",
    "huge_token": "x" * 20_000 + " tail.",
    "replacement": "Broken \ufffd bytes \ufffd here.",
    "lone_surrogate": "lone \ud800 surrogate \udfff here.",
}


def pipeline_model(spark, **sections):
    """The job's pipeline, with stage settings by config section."""
    config = defaults()
    for section, values in sections.items():
        config[section].update(values)
    documents = spark.createDataFrame([("x", "Fit.")], "id string, text string")
    return build_pipeline(config).fit(documents)


def assert_offsets_exact(rows) -> None:
    """Every annotation's result is its text slice; every token has its vector."""
    for row in rows:
        text = row.document[0].result if row.document else ""
        for column in ("sentence", "token"):
            for annotation in annotations_of([row], column)[0]:
                piece = text[annotation["begin"] : annotation["end"] + 1]
                assert piece == annotation["result"], (row.id, column, annotation)
        tokens = annotations_of([row], "token")[0]
        vectors = annotations_of([row], "embeddings")[0]
        assert [(t["begin"], t["end"]) for t in tokens] == [(v["begin"], v["end"]) for v in vectors]
        assert all(len(v["embeddings"]) == 32 for v in vectors)


def run_file(spark, path: Path, fmt: str):
    # As the job reads: the reader's rows also carry counts (repaired characters) for the check.
    read = read_documents(spark, str(path), fmt, "text", "id")
    documents = checked_documents(read, "fail", explicit_ids=True).frame
    return pipeline_model(spark).transform(documents).collect()


def test_every_kind_of_bad_text_comes_out_with_exact_offsets(spark, tmp_path) -> None:
    # Python strings with lone surrogates cannot be UTF-8: they travel as JSON escapes.
    source = tmp_path / "texts.jsonl"
    source.write_text(
        "".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in TEXTS.items()),
        encoding="utf-8",
    )
    rows = {r.id: r for r in run_file(spark, source, "json")}
    assert sorted(rows) == sorted(TEXTS)
    assert_offsets_exact(rows.values())
    assert [len(rows[k].token) for k in ("null", "empty", "whitespace")] == [0, 0, 0]
    assert rows["huge_token"].token[0].result == "x" * 20_000
    assert rows["lone_surrogate"].document[0].result == "lone ? surrogate ? here."
    assert all(
        len(rows[k].embeddings) > 0 for k in TEXTS if k not in ("null", "empty", "whitespace")
    )


def test_invalid_utf8_through_parquet_and_csv_is_repaired_not_fatal(spark, tmp_path) -> None:
    raw = [b"valid text.", b"bad \xff\xfe bytes.", b"cut \xe2\x82 short.", b"\xc3", None]
    ids = [str(i) for i in range(len(raw))]
    # A string column holding bytes that are not UTF-8, as other writers can produce.
    text = pa.array(raw, pa.binary()).view(pa.string())
    pq.write_table(pa.table({"id": ids, "text": text}), tmp_path / "bad.parquet")
    csv = tmp_path / "bad.csv"
    csv.write_bytes(
        b"id,text\n"
        + b"".join(f"{i},".encode() + (r or b"") + b"\n" for i, r in zip(ids, raw, strict=True))
    )
    for path, fmt in ((tmp_path / "bad.parquet", "parquet"), (csv, "csv")):
        rows = {r.id: r for r in run_file(spark, path, fmt)}
        assert sorted(rows) == ids, fmt
        assert_offsets_exact(rows.values())
        assert rows["1"].document[0].result == "bad \ufffd\ufffd bytes.", fmt
        assert "\ufffd" in rows["2"].document[0].result and len(rows["2"].embeddings) == 4


@pytest.mark.slow
def test_a_five_megabyte_document_is_refused_whole_and_comes_out_by_sentence(
    spark, tmp_path
) -> None:
    sample = ROOT / "data" / "sample" / "frankenstein.txt"
    paragraph = sample.read_text(encoding="utf-8").replace("\n", " ")
    huge = (paragraph + " ") * (5_000_000 // (len(paragraph) + 1) + 1)
    assert len(huge.encode("utf-8")) >= 5_000_000
    source = tmp_path / "docs.txt"
    source.write_text(f"{huge}\nSmall one.\n\n", encoding="utf-8")
    argv = ["--input", str(source), "--set", "job.progress_interval_s=0"]
    # As one row, its ~1M token vectors would not fit in a Spark row: a clear error, no output,
    # and the worker and the session live on.
    with pytest.raises(JobError, match="RowTooLargeError: DeBertaEmbeddings: one row's output"):
        run(parse_args([*argv, "--output", str(tmp_path / "whole")]), spark)
    assert not (tmp_path / "whole").exists()
    # A row per sentence: every sentence and token of it comes out, with its vector.
    exploded = tmp_path / "by_sentence"
    summary = run(
        parse_args(
            [*argv, "--output", str(exploded), "--set", "sentence_detector.explodeSentences=true"]
        ),
        spark,
    )
    assert summary["rows"] == 3 and summary["tokens"] > 800_000
    written = spark.read.parquet(str(exploded))
    assert "text" not in written.columns  # not copied into every sentence's row
    big, small, empty = (
        written.groupBy("id")
        .agg(
            F.count(F.lit(1)).alias("rows"),
            F.sum(F.size("token")).alias("tokens"),
            F.sum(F.size("embeddings")).alias("vectors"),
            F.max(F.expr("get(sentence, 0).end")).alias("last_end"),
        )
        .orderBy(F.desc("tokens"))
        .collect()
    )
    assert big.tokens == big.vectors == summary["tokens"] - 3 and big.rows > 30_000
    assert big.last_end == len(huge.rstrip()) - 1
    assert small.vectors == 3 and small.rows == 1
    assert empty.rows == 1 and empty.tokens == 0  # the empty line keeps its row


def test_a_sentence_of_100000_tokens_gets_every_vector_or_the_reference_cut(spark) -> None:
    words = " ".join(f"w{i % 97}" for i in range(100_000))
    frame = spark.createDataFrame([("long", words)], "id string, text string")
    one_sentence = {"maxLength": 10_000_000}  # the default splits sentences at 99,999 chars
    window = pipeline_model(spark, sentence_detector=one_sentence).transform(frame).selectExpr(
        "size(sentence) as sentences", "size(token) as tokens", "size(embeddings) as vectors",
        "embeddings[99999].begin as last_begin",
    ).first()  # fmt: skip
    assert window.sentences == 1 and window.tokens == window.vectors == 100_000
    assert window.last_begin == words.rindex(" ") + 1
    truncated = pipeline_model(
        spark,
        sentence_detector=one_sentence,
        embeddings={"longSentenceStrategy": "truncate"},
    ).transform(frame)
    # The reference's cut: the first 126 pieces (these words take several pieces each).
    kept = truncated.selectExpr("transform(embeddings, e -> e.begin) as begins").first().begins
    begins = [0, *(i + 1 for i, c in enumerate(words) if c == " ")]
    assert 0 < len(kept) < 126 and kept == begins[: len(kept)]


@pytest.mark.parametrize("batch_size", [1, 8, 32])
def test_batches_never_exceed_the_token_budget(batch_size) -> None:
    lengths = [3, 512, 7, 128, 128, 40, 2, 512, 90, 300, 5] * 20
    budget = batch_size * 128
    batches = plan_batches(lengths, batch_size, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        width = max(lengths[i] for i in batch)
        assert len(batch) <= batch_size
        assert len(batch) == 1 or len(batch) * width <= budget


@pytest.mark.parametrize("dimension", [32, 384, 1024])
def test_chunks_of_rows_are_bounded_by_bytes_for_the_models_dimension(dimension) -> None:
    per_annotation = ANNOTATION_BYTES + 12 * dimension
    counts = [20_000] * 256 + [3] * 1000 + [500_000] + [10] * 5
    bounds = list(chunk_bounds(counts, per_annotation))
    assert [b[0] for b in bounds][1:] == [b[1] for b in bounds][:-1]  # contiguous, in order
    assert (bounds[0][0], bounds[-1][1]) == (0, len(counts))
    for start, stop in bounds:
        size = sum((c + 1) * per_annotation for c in counts[start:stop])
        assert stop - start <= ROWS_PER_CHUNK
        assert stop - start == 1 or size <= CHUNK_BYTES


def test_a_row_too_big_for_spark_is_refused_whatever_its_annotation_count() -> None:
    # 99,999 vectors of 768 floats: about 300 MB, over the limit below the old 100,000 floor.
    vector = np.zeros(768, np.float32)
    row = [
        {"annotatorType": "word_embeddings", "begin": 0, "end": 0, "result": "x",
         "metadata": {"sentence": "0"}, "embeddings": vector}
        for _ in range(99_999)
    ]  # fmt: skip
    with pytest.raises(RowTooLargeError, match="99999 annotations"):
        check_row_sizes("DeBertaEmbeddings", [row])
    check_row_sizes("DeBertaEmbeddings", [row[:50_000]])  # about 150 MB: fine


def test_light_pipeline_takes_the_same_bad_text(spark) -> None:
    from annotators import LightPipeline

    light = LightPipeline(pipeline_model(spark))
    for text in TEXTS.values():
        # a null text: the call refuses it as the reference's does; the rows API takes it
        result = light.fullAnnotate(text)[0] if text is not None else light.run_row(None)
        documents = [a if isinstance(a, dict) else a.__dict__ for a in result["document"]]
        document = documents[0]["result"] if documents else ""
        for token in result["token"]:
            token = token if isinstance(token, dict) else token.__dict__
            assert document[token["begin"] : token["end"] + 1] == token["result"]
        assert len(result["embeddings"]) == len(result["token"])
    lone = light.annotate(TEXTS["lone_surrogate"])
    assert lone["document"] == ["lone ? surrogate ? here."]  # as the Spark path gives it
