"""The job's finished output keeps tokens and vectors parallel (issue: ``output.finish=true``
with ``longSentenceStrategy=truncate`` gave 16 tokens and 6 vectors, token 5 paired with
another token's vector)."""

from __future__ import annotations

import pytest

from pipelines.arguments import parse_args
from pipelines.job import run

pytestmark = pytest.mark.classic

TEXT = "It is a truth universally acknowledged, that a single man must be in want of a wife."


@pytest.mark.parametrize("strategy", ["truncate", "window"])
def test_finished_vectors_line_up_with_their_tokens(spark, tmp_path, strategy) -> None:
    source = tmp_path / "docs.txt"
    source.write_text(f"{TEXT}\n\nShort one.\n", encoding="utf-8")
    common = ["--input", str(source), "--set", "embeddings.maxSentenceLength=8"]
    common += ["--set", f"embeddings.longSentenceStrategy={strategy}"]
    run(parse_args([*common, "--output", str(tmp_path / "plain")]), spark)
    run(
        parse_args([*common, "--output", str(tmp_path / "done"), "--set", "output.finish=true"]),
        spark,
    )
    plain = {r.id: r for r in spark.read.parquet(str(tmp_path / "plain")).collect()}
    done = {r.id: r for r in spark.read.parquet(str(tmp_path / "done")).collect()}
    assert sorted(plain) == sorted(done)
    cut = 0
    for key, row in done.items():
        by_offset = {(e.begin, e.end): list(e.embeddings) for e in plain[key].embeddings}
        expected = [by_offset.get((t.begin, t.end)) for t in plain[key].token]
        assert row.tokens == [t.result for t in plain[key].token]
        assert len(row.finished_embeddings) == len(row.tokens)
        got = [None if v is None else list(v) for v in row.finished_embeddings]
        assert got == expected
        cut += sum(v is None for v in got)
    assert (cut > 0) == (strategy == "truncate")


@pytest.mark.slow
@pytest.mark.parametrize(("finished", "strategy"), [(False, "truncate"), (True, "window")])
def test_the_summary_counts_cut_sentences_and_tokens_without_vectors(
    spark, tmp_path, finished, strategy
) -> None:
    """A 120,000-character line without sentence punctuation is cut at the default maxLength
    into two pieces, each marked and counted; the tokens past the truncate cut are counted.
    (Finished, its 25,000 tokens are matched to their vectors in linear time: the lookup by
    offsets alone was quadratic, minutes for this row.)"""
    words = " ".join(f"w{i % 89}" for i in range(30_000))[:120_000]
    source = tmp_path / "docs.txt"
    source.write_text(f"{TEXT}\n{words}\n", encoding="utf-8")
    args = ["--input", str(source), "--output", str(tmp_path / "out")]
    args += ["--set", f"embeddings.longSentenceStrategy={strategy}"]
    args += ["--set", f"output.finish={str(finished).lower()}"]
    summary = run(parse_args(args), spark)
    written = spark.read.parquet(str(tmp_path / "out"))
    if finished:
        rows = written.collect()
        cut = sum(row.sentences_cut for row in rows)
        missing = sum(v is None for row in rows for v in row.finished_embeddings)
        tokens = sum(len(row.tokens) for row in rows)
        assert missing == 0 and all(len(r.tokens) == len(r.finished_embeddings) for r in rows)
    else:
        rows = written.select("sentence", "token", "embeddings").collect()
        cut = sum(s.metadata.get("cut") == "maxLength" for row in rows for s in row.sentence)
        tokens = sum(len(row.token) for row in rows)
        missing = tokens - sum(len(row.embeddings) for row in rows)
        assert missing > 0
    assert cut == summary["sentences_cut"] == 2
    assert summary["tokens"] == tokens == 30_000 + len(TEXT.split()) + 2  # "," and "."
    assert summary["tokens_without_vector"] == missing
