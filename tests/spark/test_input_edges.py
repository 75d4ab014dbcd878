"""The job's reader loses nothing at the edges a user's review found (issue 24, findings 1, 2, 4,
5, 14, 17): files in subfolders or with hidden names, an unclosed CSV quote, files that are not
UTF-8 text, compressed files cut short, stores without a connector, duplicate keys and headers.
Every input record comes out once as a row, or the job refuses it by name.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
from pathlib import Path

import pytest

from annotators.errors import JobError
from pipelines.arguments import parse_args
from pipelines.inputs import checked_documents, read_documents
from pipelines.job import run

pytestmark = pytest.mark.classic


def documents(spark, path: Path, fmt: str, mode: str = "fail", id_col: str | None = None):
    """The checked documents of an input and their texts by id."""
    frame = read_documents(spark, str(path), fmt, "text", id_col).cache()
    try:
        checked = checked_documents(frame, mode, explicit_ids=bool(id_col))
        return checked, {row.id: row.text for row in checked.frame.collect()}
    finally:
        frame.unpersist()


def test_files_in_subfolders_are_read_and_files_spark_skips_are_refused(spark, tmp_path) -> None:
    folder = tmp_path / "in"
    for name, text in {
        "2024-01-01/a.txt": "dated one\n",
        "2024-01-02/deeper/b.txt": "dated two\n",
        "lang=en/c.txt": "partition folder\n",
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    # Spark's own markers are ignored by rule.
    (folder / "_SUCCESS").write_text("")
    (folder / "2024-01-01" / ".gone.txt.crc").write_bytes(b"crc\0\0\0\2\0")
    (folder / "_committed_123").write_text("{}")
    _, texts = documents(spark, folder, "text")
    assert sorted(texts.values()) == ["dated one", "dated two", "partition folder"]
    assert f"file:{folder}/lang=en/c.txt:1" in texts

    hidden = folder / "_drafts" / "d.txt"
    hidden.parent.mkdir()
    hidden.write_text("a record Spark would skip\n")
    (folder / ".e.txt").write_text("another\n")
    with pytest.raises(JobError, match=r"2 file\(s\) that Spark does not read") as refused:
        read_documents(spark, str(folder), "text", "text", None)
    assert "_drafts/d.txt" in str(refused.value) and ".e.txt" in str(refused.value)
    # Named on its own, a hidden file is still skipped by Spark: refused, not read as empty.
    with pytest.raises(JobError, match=r"1 file\(s\) that Spark does not read.*\.e\.txt"):
        read_documents(spark, str(folder / ".e.txt"), "text", "text", None)
    # Parquet follows the same rule: rows in subfolders are read.
    parquet = tmp_path / "table"
    spark.createDataFrame([("p1",)], "text string").write.parquet(str(parquet / "day=1"))
    spark.createDataFrame([("p2",)], "text string").write.parquet(str(parquet / "day=2"))
    _, rows = documents(spark, parquet, "parquet")
    assert sorted(rows.values()) == ["p1", "p2"]


def test_an_unclosed_csv_quote_costs_one_record_and_is_named(spark, tmp_path) -> None:
    path = tmp_path / "docs.csv"
    records = [f'{n},"record {n}"' for n in range(3, 2001)]
    path.write_text("\n".join(["id,text", '1,"never closed', '2,"fine"', *records]) + "\n")
    with pytest.raises(JobError, match=r"docs.csv:2: malformed CSV \(unclosed quote"):
        documents(spark, path, "csv", id_col="id")
    checked, texts = documents(spark, path, "csv", "skip", id_col="id")
    assert (checked.rows, checked.skipped) == (1999, 1)
    assert texts["2"] == "fine" and texts["2000"] == "record 2000"

    # Fields past Python's default 131,072-character limit, and NUL bytes, are read and kept.
    long = tmp_path / "long.csv"
    long.write_text('id,text\n1,"' + "x" * 200_000 + '"\n2,"a\0b"\n')
    _, texts = documents(spark, long, "csv", id_col="id")
    assert (len(texts["1"]), texts["2"]) == (200_000, "a\0b")


def test_a_csv_header_that_names_its_column_twice_refuses_the_file(spark, tmp_path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("id,text,text\n1,first,second\n")
    for mode in ("fail", "skip"):
        with pytest.raises(JobError, match=r"twice.csv:1: the header names column 'text' 2 times"):
            documents(spark, path, "csv", mode, id_col="id")


def test_json_duplicate_keys_and_unicode_space_lines_are_bad_records(spark, tmp_path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(
        '{"text": "kept"}\n'
        '{"text": "first", "text": "second"}\n'
        "\u00a0\u2003\n"  # no-break and em spaces: not a blank line
        " \t\f\n"  # ASCII whitespace: a blank line
        '{"text": "also kept", "meta": {"k": 1, "k": 2}}\n'
    )
    with pytest.raises(JobError, match="3 input record") as raised:
        documents(spark, path, "json")
    message = str(raised.value)
    assert "docs.jsonl:2: the key 'text' appears twice in one object" in message
    assert "docs.jsonl:3: not valid JSON" in message
    assert "docs.jsonl:5: the key 'k' appears twice" in message
    checked, texts = documents(spark, path, "json", "skip")
    assert (checked.rows, checked.skipped, list(texts.values())) == (1, 3, ["kept"])


def test_files_that_are_not_utf8_text_are_refused_by_name(spark, tmp_path) -> None:
    cases = {
        "utf16.txt": ("Hello\nworld\n".encode("utf-16"), "UTF-16 LE text"),
        "utf32.jsonl": ('{"text": "x"}\n'.encode("utf-32"), "UTF-32 LE text"),
        "gzipped.txt": (gzip.compress(b"hello\n" * 50), "gzip-compressed data"),
        "docs.txt.xz": (lzma.compress(b"hello\n"), "xz-compressed data"),
        "docs.csv": (bz2.compress(b"id,text\n1,a\n"), "bzip2-compressed data"),
    }
    for name, (data, what) in cases.items():
        folder = tmp_path / name.replace(".", "_")
        folder.mkdir()
        (folder / name).write_bytes(data)
        fmt = {".txt": "text", ".xz": "text", ".jsonl": "json", ".csv": "csv"}[Path(name).suffix]
        # Refused in skip mode too: a whole file is not a bad record.
        mode = "skip" if fmt != "json" else "fail"
        with pytest.raises(JobError, match=rf"{name}: the file holds {what}.*, not UTF-8"):
            documents(spark, folder, fmt, mode)


def test_compressed_files_cut_short_and_unknown_stores_end_in_one_line(spark, tmp_path) -> None:
    whole = gzip.compress(b"".join(b"line %d\n" % n for n in range(20_000)))
    (tmp_path / "cut.txt.gz").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(
        JobError, match=r"input file (\S+cut.txt.gz|\(Spark did not say which\)) cannot be read \("
    ) as raised:
        documents(spark, tmp_path / "cut.txt.gz", "text")
    assert "\n" not in str(raised.value) and "gzip -t" in str(raised.value)
    # Hadoop's bzip2 reader returns what it could read without an error: refused before reading.
    whole = bz2.compress(b"".join(b"line %d\n" % n for n in range(20_000)))
    (tmp_path / "cut.txt.bz2").write_bytes(whole[:-20])
    with pytest.raises(JobError, match=r"cut.txt.bz2 is a bzip2 file cut short"):
        documents(spark, tmp_path / "cut.txt.bz2", "text")
    (tmp_path / "whole.txt.bz2").write_bytes(whole)
    checked, _ = documents(spark, tmp_path / "whole.txt.bz2", "text")
    assert checked.rows == 20_000
    # A garbage checksum header beside a local file would make Hadoop allocate gigabytes.
    (tmp_path / ".whole.txt.bz2.crc").write_bytes(b"crc\0garbage")
    with pytest.raises(JobError, match=r"whole.txt.bz2: its Hadoop checksum file .* is corrupt"):
        documents(spark, tmp_path / "whole.txt.bz2", "text")
    with pytest.raises(JobError, match=r"no filesystem for s3a:// paths") as raised:
        read_documents(spark, "s3a://bucket/docs.txt", "text", "text", None)
    assert "\n" not in str(raised.value)


def test_repaired_characters_are_counted_in_the_summary(spark, tmp_path) -> None:
    path = tmp_path / "docs.txt"
    # A leading byte order mark is a signature, not text: dropped, not counted. Latin-1 bytes
    # (2) and a second file's mark in the middle (1) are repaired and counted.
    # A U+FEFF inside a line is a character, kept; a literal U+FFFD is text, not a repair.
    path.write_bytes(
        b"\xef\xbb\xbfOne caf\xe9.\n\xef\xbb\xbfTwo na\xefve.\nThree \xef\xbf\xbd \xef\xbb\xbf.\n"
    )
    checked, texts = documents(spark, path, "text")
    assert (checked.rows, checked.skipped, checked.repaired) == (3, 0, 3)
    assert sorted(texts.values()) == ["One caf\ufffd.", "Three \ufffd \ufeff.", "Two na\ufffdve."]
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_bytes(b'{"text": "caf\xe9"}\n\xef\xbb\xbf\n')
    checked, texts = documents(spark, jsonl, "json")
    assert (checked.rows, checked.repaired, list(texts.values())) == (1, 2, ["caf\ufffd"])
    summary = run(parse_args(["--input", str(path), "--output", str(tmp_path / "out")]), spark)
    assert (summary["rows"], summary["repaired_characters"]) == (3, 3)
    assert json.dumps(summary)  # the summary stays printable as before
