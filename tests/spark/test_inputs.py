"""The job's reader: every record in with a stable id, or an error naming its file and line.

Files are written the way users' tools write them (pandas CSV, JSON Lines from json.dumps,
Windows line ends) and read by the job's reader on the test session's real Spark.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from annotators.errors import JobError
from pipelines.arguments import parse_args
from pipelines.inputs import checked_documents, read_documents
from pipelines.job import run

pytestmark = [pytest.mark.compat, pytest.mark.classic]

#: Texts that a lenient CSV reader cuts or merges: doubled quotes, a backslash before the
#: closing quote, line ends inside a field, commas, and a field that is only a quote.
AWKWARD = [
    'He said "hi", then left.',
    "C:\\Users\\me\\",
    "first line\nsecond line\r\nthird, with a comma",
    '"',
    "plain",
    "Ünïcödé — 你好 👍",
]


def read(spark, path: Path, fmt: str, id_col: str | None = "id") -> dict[str, str | None]:
    frame = read_documents(spark, str(path), fmt, "text", id_col).cache()
    try:
        documents = checked_documents(frame, "fail", explicit_ids=bool(id_col))
        return {row.id: row.text for row in documents.frame.collect()}
    finally:
        frame.unpersist()


def test_csv_as_pandas_writes_it_comes_back_record_for_record(spark, tmp_path) -> None:
    path = tmp_path / "docs.csv"
    pd.DataFrame({"id": range(len(AWKWARD)), "text": AWKWARD}).to_csv(path, index=False)
    assert read(spark, path, "csv") == {str(i): text for i, text in enumerate(AWKWARD)}
    windows = tmp_path / "windows.csv"
    frame = pd.DataFrame({"id": [1, 2], "text": ["one", "two\nlines"]})
    frame.to_csv(windows, index=False, lineterminator="\r\n")
    assert read(spark, windows, "csv") == {"1": "one", "2": "two\nlines"}


def test_malformed_csv_records_are_named_by_line(spark, tmp_path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text('id,text\n1,"ok"\n2,"closed"then more\n3,a,b\n\n4,"never closed\n5,x\n')
    frame = read_documents(spark, str(path), "csv", "text", "id").cache()
    with pytest.raises(JobError, match="3 input record") as raised:
        checked_documents(frame, "fail", explicit_ids=True)
    message = str(raised.value)
    assert "bad.csv:3: malformed CSV" in message
    assert "bad.csv:4: 3 fields where the header has 2" in message
    assert "bad.csv:6: malformed CSV (unclosed quote" in message
    kept = checked_documents(frame, "skip", explicit_ids=True)
    # Reading resumes after the unclosed quote's line: record 5 is not lost (issue 24 finding 2).
    assert (kept.rows, kept.skipped) == (2, 3)
    assert sorted(tuple(r) for r in kept.frame.collect()) == [("1", "ok"), ("5", "x")]


def test_a_csv_without_the_text_column_is_refused(spark, tmp_path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("id,body\n1,hello\n")
    frame = read_documents(spark, str(path), "csv", "text", "id")
    with pytest.raises(JobError, match=r"other.csv:1: no column 'text' in the header \(id, body\)"):
        checked_documents(frame, "fail", explicit_ids=True)


def test_json_lines_that_are_not_records_are_named_by_line(spark, tmp_path) -> None:
    path = tmp_path / "docs.jsonl"
    lines = [
        {"id": "a", "text": "fine"},
        [],
        "not json",
        None,
        {"id": "b", "text": 5},
        {"id": "c"},
        {"id": True, "text": "x"},
        {"id": "d", "text": None},
    ]
    path.write_text(
        "".join(
            (line if line == "not json" else "" if line is None else json.dumps(line)) + "\n"
            for line in lines
        )
    )
    frame = read_documents(spark, str(path), "json", "text", "id").cache()
    with pytest.raises(JobError, match="5 input record") as raised:
        checked_documents(frame, "fail", explicit_ids=True)
    for expected in (
        "docs.jsonl:2: the line holds a JSON array; a record is an object",
        "docs.jsonl:3: not valid JSON",
        "docs.jsonl:5: text 'text' holds a JSON number, not a string",
        "docs.jsonl:6: the record has no key 'text'",
        "docs.jsonl:7: id 'id' holds a JSON boolean",
    ):
        assert expected in str(raised.value)
    kept = checked_documents(frame, "skip", explicit_ids=True)
    assert (kept.rows, kept.skipped) == (2, 5)  # the blank line 4 is not a record
    assert dict(kept.frame.collect()) == {"a": "fine", "d": None}


def test_text_lines_end_only_at_newline(spark, tmp_path) -> None:
    path = tmp_path / "docs.txt"
    path.write_bytes("\ufeffBOM first\r\ncarriage\rreturn inside\n\nlast".encode())
    documents = read(spark, path, "text", id_col=None)
    name = f"file:{path}"
    assert documents == {
        f"{name}:1": "BOM first",
        f"{name}:2": "carriage\rreturn inside",
        f"{name}:3": "",
        f"{name}:4": "last",
    }


@contextmanager
def split_size(spark, size: str):
    key = "spark.sql.files.maxPartitionBytes"
    before = spark.conf.get(key)
    spark.conf.set(key, size)
    try:
        yield
    finally:
        spark.conf.set(key, before)


def test_generated_ids_are_the_same_whatever_the_split_size(spark, tmp_path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    lines = [f"Line {n} of the first file, padded to split often." for n in range(1, 3001)]
    (folder / "a.txt").write_text("\n".join(lines) + "\n")
    (folder / "b.txt").write_text("only line of b\n")
    table = pa.table({"text": [f"row {n}" for n in range(1, 2001)]})
    pq.write_table(table, tmp_path / "rows.parquet", row_group_size=100)
    for path, fmt in ((folder, "text"), (tmp_path / "rows.parquet", "parquet")):
        with split_size(spark, "8k"):
            small = read(spark, path, fmt, id_col=None)
        whole = read(spark, path, fmt, id_col=None)
        assert small == whole, fmt
    texts = read(spark, folder, "text", id_col=None)
    assert texts[f"file:{folder}/a.txt:1500"] == lines[1499]
    assert texts[f"file:{folder}/b.txt:1"] == "only line of b"
    rows = read(spark, tmp_path / "rows.parquet", "parquet", id_col=None)
    assert rows[f"file:{tmp_path}/rows.parquet:1234"] == "row 1234"


def test_input_that_cannot_be_documents_is_refused_before_any_work(spark, tmp_path) -> None:
    with pytest.raises(JobError, match="does not exist"):
        read_documents(spark, str(tmp_path / "missing.txt"), "text", "text", None)
    pq.write_table(pa.table({"id": [1], "text": [3]}), tmp_path / "numbers.parquet")
    with pytest.raises(JobError, match="text column 'text' is bigint, not string"):
        read_documents(spark, str(tmp_path / "numbers.parquet"), "parquet", "text", None)
    with pytest.raises(JobError, match="text input has no id column"):
        read_documents(spark, str(tmp_path), "text", "text", "id")


def test_repeated_or_missing_ids_stop_the_job_before_the_model_runs(spark, tmp_path) -> None:
    path = tmp_path / "docs.jsonl"
    records = [("a", "one."), ("b", "two."), ("a", "three."), (None, "four.")]
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in records))
    output = tmp_path / "out"
    args = ["--input", str(path), "--id-col", "id", "--output", str(output)]
    for extra in ([], ["--set", "sentence_detector.explodeSentences=true"]):
        with pytest.raises(JobError, match=r"1 record\(s\) have no id; ids are repeated: 'a' \(2"):
            run(parse_args([*args, *extra]), spark)
        assert not output.exists()


def test_the_job_counts_skipped_records_in_its_summary(spark, tmp_path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": "One."}\n{"text": 1}\n\n{"text": "Two."}\n')  # a blank line
    args = ["--input", str(path), "--output", str(tmp_path / "out")]
    with pytest.raises(JobError, match=r"docs.jsonl:2: text 'text' holds a JSON number"):
        run(parse_args(args), spark)
    summary = run(parse_args([*args, "--set", "input.bad_records=skip"]), spark)
    counts = (summary["records_read"], summary["rows"], summary["skipped_records"])
    assert counts == (3, 2, 1)  # a blank line is no record
    written = spark.read.parquet(str(tmp_path / "out")).select("id").collect()
    assert sorted(r.id for r in written) == [f"file:{path}:1", f"file:{path}:4"]


def test_an_empty_input_file_gives_an_empty_output(spark, tmp_path) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("")
    output = tmp_path / "out"
    summary = run(parse_args(["--input", str(path), "--output", str(output)]), spark)
    assert (summary["rows"], summary["tokens"]) == (0, 0)
    assert (output / "_SUCCESS").exists()
