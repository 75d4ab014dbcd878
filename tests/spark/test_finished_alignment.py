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
