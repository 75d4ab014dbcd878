"""The job's reader: every input record becomes one document row with a stable id, or the job
stops and names the file and line of each bad record.

Spark's own CSV and JSON readers are lenient where the job must not be: a backslash escape
merges RFC 4180 records, PERMISSIVE mode turns a broken JSON line into a row of nulls, and a
``[]`` line disappears. Text, CSV and JSON Lines input is therefore read as lines (only ``\\n``
ends one), numbered by their place in their file, and parsed in Python with strict parsers.
Generated ids are ``<file>:<line>`` (``<file>:<row>`` for Parquet): the same whatever the cluster
and split sizes.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from annotators.errors import JobError
from annotators.spark_compat import valid_utf8
from pipelines.storage import HadoopFiles

#: What the job does with a record it cannot read: stop (default) or leave it out and count it.
BAD_RECORD_MODES = ("fail", "skip")
#: Each input format and the file suffixes that name it when --format is not given.
FORMAT_SUFFIXES = {
    "text": (".txt",),
    "parquet": (".parquet",),
    "json": (".jsonl", ".json"),
    "csv": (".csv",),
}
INPUT_FORMATS = tuple(FORMAT_SUFFIXES)


def input_format(path: str, given: str | None) -> str:
    """The format given, else the one the path's suffix names."""
    if given:
        return given
    suffix = Path(path).suffix.lower()
    for fmt, suffixes in FORMAT_SUFFIXES.items():
        if suffix in suffixes:
            return fmt
    raise JobError(f"cannot tell the format of {path}; pass --format ({', '.join(INPUT_FORMATS)})")


def check_input_exists(spark: SparkSession, path: str) -> None:
    """Refuse an input that matches no file, before the output is locked or anything read.

    Checked with the session's filesystems (a path without a scheme is on the default one,
    HDFS on many clusters), so only once Spark has started.
    """
    if not HadoopFiles(spark, path).matches(path):
        raise JobError(f"input {path} does not exist (or matches no file)")


_GLOB_CHARACTERS = frozenset("*?[{")


def _fixed_prefix(path: str) -> str:
    """The part of a path or glob before its first wildcard component (``in/2024-*/x`` ->
    ``in``): every file the glob can name lies under it."""
    parts = path.split("/")
    for index, part in enumerate(parts):
        if _GLOB_CHARACTERS & set(part):
            return "/".join(parts[:index]) or "/"
    return path


def _components(files: HadoopFiles, path: str) -> list[str]:
    """A path's qualified components, with local symbolic links resolved."""
    local = files.local_path(path)
    qualified = f"file:{os.path.realpath(local)}" if local is not None else files.qualified(path)
    return [part for part in qualified.rstrip("/").split("/") if part]


def check_paths_apart(spark: SparkSession, input_path: str, output_path: str) -> None:
    """Refuse an output that is the input, lies inside it or holds it, before anything is
    locked, read or written: replacing such an output would delete the input, and writing
    into the input would change what the next run reads."""
    source, target = _fixed_prefix(input_path), output_path
    source_parts = _components(HadoopFiles(spark, source), source)
    target_parts = _components(HadoopFiles(spark, target), target)
    shorter = min(len(source_parts), len(target_parts))
    if source_parts[:shorter] == target_parts[:shorter]:
        if len(target_parts) <= len(source_parts):
            where = "is the input" if len(target_parts) == len(source_parts) else "holds it"
        else:
            where = "lies inside it"
        raise JobError(
            f"output {output_path} overlaps input {input_path}: the output {where}, so the "
            "job would delete or change its own input; choose an output outside the input"
        )


#: Rows of parsed CSV/JSON records (all strings); ``error`` says why one could not be read.
PARSED_FIELDS = ("id", "text", "error")
PARSED_SCHEMA = ", ".join(f"{name} string" for name in PARSED_FIELDS)
_PARSED_ARROW_SCHEMA = pa.schema([(name, pa.string()) for name in PARSED_FIELDS])
#: Parsed records per Arrow batch handed back to Spark.
_BATCH_ROWS = 1024
#: Bad records quoted in the job's error.
_QUOTED_ERRORS = 5


@dataclass(frozen=True)
class Documents:
    """The documents to annotate (``id``, ``text``) and what reading them found."""

    frame: DataFrame
    rows: int
    skipped: int


def numbered(scan: DataFrame, *columns: Column | str, position: str = "line") -> DataFrame:
    """The rows of a file scan as ``file``, ``position`` (1-based within the file), ``columns``.

    A row's number is the rows before its split in the same file plus its place in the split.
    Rows of one split are read in file order into one partition, where
    ``monotonically_increasing_id`` counts them, so the number does not depend on how the
    files were split or packed into partitions.
    """
    scanned = scan.select(
        F.col("_metadata.file_path").alias("file"),
        F.col("_metadata.file_block_start").alias("start"),
        F.monotonically_increasing_id().alias("seq"),
        *columns,
    )
    splits = scanned.groupBy("file", "start").agg(
        F.count(F.lit(1)).alias("rows"), F.min("seq").alias("first")
    )
    earlier = Window.partitionBy("file").orderBy("start").rowsBetween(Window.unboundedPreceding, -1)
    bases = splits.select(
        "file",
        "start",
        (F.coalesce(F.sum("rows").over(earlier), F.lit(0)) + 1 - F.col("first")).alias("base"),
    )
    return scanned.join(F.broadcast(bases), ["file", "start"]).select(
        "file", (F.col("seq") + F.col("base")).alias(position), *scanned.columns[3:]
    )


def numbered_lines(spark: SparkSession, path: str) -> DataFrame:
    """``file``, ``line``, ``value`` for every line of every file under ``path``.

    Only ``\\n`` ends a line, so a lone ``\\r`` stays inside its document; a ``\\r\\n``
    ending keeps its ``\\r`` here (text input drops it, CSV's parser reads it). A UTF-8 byte
    order mark on a file's first line is dropped; invalid UTF-8 becomes U+FFFD.
    """
    scan = spark.read.option("lineSep", "\n").text(path)
    lines = numbered(scan, valid_utf8(F.col("value")).alias("value"))
    without_bom = F.when(
        (F.col("line") == 1) & F.col("value").startswith("\ufeff"), F.expr("substring(value, 2)")
    ).otherwise(F.col("value"))
    return lines.withColumn("value", without_bom)


def _where(file: str, line: int) -> str:
    return f"{file}:{line}"


def _batches(records: Iterable[tuple[Any, Any, Any]]) -> Iterator[pa.RecordBatch]:
    """Parsed ``(id, text, error)`` records as Arrow batches of at most ``_BATCH_ROWS``."""
    records = iter(records)
    while chunk := list(itertools.islice(records, _BATCH_ROWS)):
        yield pa.RecordBatch.from_arrays(
            [pa.array(list(column), pa.string()) for column in zip(*chunk, strict=True)],
            schema=_PARSED_ARROW_SCHEMA,
        )


def _rows(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[str, int, str | None]]:
    for batch in batches:
        yield from zip(*(batch.column(i).to_pylist() for i in range(3)), strict=True)


def _storable(text: str) -> str:
    """Text that UTF-8 can carry: lone surrogates (from JSON escapes) become '?'."""
    return text.encode("utf-8", "replace").decode("utf-8")


_JSON_KINDS = {bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}


def _json_kind(value: Any) -> str:
    return "null" if value is None else _JSON_KINDS.get(type(value), type(value).__name__)


def _plain_id(value: Any, where: str, id_col: str) -> tuple[str | None, str | None]:
    """A record's id as text, or why it cannot be one."""
    if value is None or (isinstance(value, str | int) and not isinstance(value, bool)):
        return (None if value is None else _storable(str(value))), None
    kind = _json_kind(value)
    return None, f"{where}: id '{id_col}' holds a JSON {kind}, not a string or an integer"


def parse_json_lines(text_col: str, id_col: str | None):
    """The mapInArrow function that parses JSON Lines: one object per non-blank line."""

    def record(file: str, line: int, value: str) -> tuple[Any, Any, Any]:
        where = _where(file, line)
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            return where, None, f"{where}: not valid JSON ({exc})"
        if not isinstance(parsed, dict):
            kind = _json_kind(parsed)
            return where, None, f"{where}: the line holds a JSON {kind}; a record is an object"
        missing = [key for key in (text_col, id_col) if key and key not in parsed]
        if missing:
            return where, None, f"{where}: the record has no key '{missing[0]}'"
        text = parsed[text_col]
        if text is not None and not isinstance(text, str):
            kind = _json_kind(text)
            return where, None, f"{where}: text '{text_col}' holds a JSON {kind}, not a string"
        ident: str | None = where
        if id_col:
            ident, error = _plain_id(parsed[id_col], where, id_col)
            if error:
                return where, None, error
        return ident, None if text is None else _storable(text), None

    def parse(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from _batches(
            record(file, line, value)
            for file, line, value in _rows(batches)
            if value is not None and value.strip()
        )

    return parse


#: Python 3.10's csv refuses NUL bytes ("line contains NUL") where 3.11 keeps them in the field.
#: Lines holding NUL (or the escape character) go through csv escaped with two Unicode
#: noncharacters, and each field comes back exactly, so every Python gives the same records.
_ESCAPE, _ESCAPED_ESCAPE, _ESCAPED_NUL = "\ufdd0", "\ufdd0\ufdd1", "\ufdd0\ufdd2"
_UNESCAPE = {"\ufdd1": _ESCAPE, "\ufdd2": "\0"}


def _csv_line(line: str) -> str:
    if "\0" in line or _ESCAPE in line:
        line = line.replace(_ESCAPE, _ESCAPED_ESCAPE).replace("\0", _ESCAPED_NUL)
    return line + "\n"


def _csv_field(field: str) -> str:
    if _ESCAPE not in field:
        return field
    parts = field.split(_ESCAPE)
    return parts[0] + "".join(_UNESCAPE[part[0]] + part[1:] for part in parts[1:])


def _csv_file(
    file: str, lines: Iterable[str], text_col: str, id_col: str | None
) -> Iterator[tuple[Any, Any, Any]]:
    """The records of one CSV file (its lines in order), header first, RFC 4180 quoting."""
    reader = csv.reader(map(_csv_line, lines), strict=True)
    header: list[str] | None = None
    columns: tuple[int, int | None] = (0, None)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield _where(file, start), None, f"{_where(file, start)}: malformed CSV ({exc})"
            continue
        if not row:  # a blank line between records
            continue
        row = [_csv_field(field) for field in row]
        where = _where(file, start)
        if header is None:
            header = row
            missing = [key for key in (text_col, id_col) if key and key not in header]
            if missing:
                found = ", ".join(header)
                yield where, None, f"{where}: no column '{missing[0]}' in the header ({found})"
                return
            columns = (header.index(text_col), header.index(id_col) if id_col else None)
            continue
        if len(row) != len(header):
            yield (
                where,
                None,
                f"{where}: {len(row)} fields where the header has {len(header)}",
            )
            continue
        text_at, id_at = columns
        yield (where if id_at is None else row[id_at]), row[text_at], None


def parse_csv(text_col: str, id_col: str | None):
    """The mapInArrow function that parses CSV files whose lines arrive grouped and in order."""

    def parse(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        csv.field_size_limit(sys.maxsize)  # here: this runs in the Python worker, not the driver
        rows = _rows(batches)
        records = itertools.chain.from_iterable(
            _csv_file(file, (value for _, _, value in group), text_col, id_col)
            for file, group in itertools.groupby(rows, key=lambda row: row[0])
        )
        yield from _batches(records)

    return parse


def read_documents(
    spark: SparkSession, path: str, fmt: str, text_col: str, id_col: str | None
) -> DataFrame:
    """Documents as ``id``, ``text``, ``error`` (null unless the record could not be read).

    Text files: one document per line, id ``<file>:<line>``. CSV (a header line, RFC 4180
    quoting) and JSON Lines (one object per line; blank lines are skipped): one per record, id
    ``<file>:<line>`` of the record's first line, or the ``id_col`` value as a string. Parquet:
    one per row, id ``<file>:<row>`` or the ``id_col`` value as it is.
    """
    check_input_exists(spark, path)
    no_error = F.lit(None).cast("string").alias("error")
    if fmt == "text":
        if id_col:
            raise JobError("text input has no id column; leave input.id_col unset")
        lines = numbered_lines(spark, path)
        text = F.regexp_replace("value", "\r$", "").alias("text")
        return lines.select(F.concat_ws(":", "file", "line").alias("id"), text, no_error)
    if fmt == "json":
        return numbered_lines(spark, path).mapInArrow(
            parse_json_lines(text_col, id_col), PARSED_SCHEMA
        )
    if fmt == "csv":
        lines = numbered_lines(spark, path)
        in_order = lines.repartition("file").sortWithinPartitions("file", "line")
        return in_order.mapInArrow(parse_csv(text_col, id_col), PARSED_SCHEMA)
    frame = spark.read.format(fmt).load(path)
    types = dict(frame.dtypes)
    for role, column in (("text", text_col), ("id", id_col)):
        if column and column not in types:
            found = ", ".join(frame.columns)
            raise JobError(f"input {path} has no {role} column '{column}'; columns: {found}")
    if types[text_col] != "string":
        raise JobError(
            f"input {path}: text column '{text_col}' is {types[text_col]}, not string; "
            "convert it, or name the text column with --text-col"
        )
    text = F.col(text_col).alias("text")
    if id_col:
        return frame.select(F.col(id_col).alias("id"), text, no_error)
    rows = numbered(frame, text, position="row")
    return rows.select(F.concat_ws(":", "file", "row").alias("id"), "text", no_error)


def checked_documents(documents: DataFrame, bad_records: str, explicit_ids: bool) -> Documents:
    """The readable documents, after the checks that must pass before any model work.

    ``documents`` should be cached: it is read here and again by the pipeline. Bad records stop
    the job (``fail``) or are left out and counted (``skip``); ids given by an id column must
    be unique and present, since the output is checked (and exploded sentences are grouped) by
    id.
    """
    counts = documents.agg(
        F.count(F.lit(1)).alias("records"), F.count("error").alias("bad")
    ).first()
    bad = int(counts["bad"])
    if bad and bad_records == "fail":
        quoted = [
            row.error
            for row in documents.where(F.col("error").isNotNull())
            .orderBy("id")
            .limit(_QUOTED_ERRORS)
            .collect()
        ]
        raise JobError(
            f"{bad} input record(s) cannot be read; the first: "
            + "; ".join(quoted)
            + ". Fix them, or pass --set input.bad_records=skip to leave them out (counted in "
            "the summary)"
        )
    readable = (documents.where(F.col("error").isNull()) if bad else documents).drop("error")
    if explicit_ids:
        _check_ids(readable)
    return Documents(readable, int(counts["records"]) - bad, bad)


def _check_ids(documents: DataFrame) -> None:
    """Refuse null or repeated ids, naming some, before the model runs."""
    missing = documents.where(F.col("id").isNull()).count()
    repeated = (
        documents.where(F.col("id").isNotNull())
        .groupBy("id")
        .count()
        .where(F.col("count") > 1)
        .orderBy(F.col("count").desc(), "id")
        .limit(_QUOTED_ERRORS)
        .collect()
    )
    problems = []
    if missing:
        problems.append(f"{missing} record(s) have no id")
    if repeated:
        shown = ", ".join(f"{row['id']!r} ({row['count']} times)" for row in repeated)
        problems.append(f"ids are repeated: {shown}")
    if problems:
        raise JobError(
            "the id column must give every record its own id: "
            + "; ".join(problems)
            + ". Fix the input, or leave input.id_col unset to use generated ids (file:line)"
        )
