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
import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

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
    try:
        found = HadoopFiles(spark, path).matches(path)
    except Exception as exc:  # Py4J: no filesystem for the scheme, no access, store down
        raise JobError(f"input {path}: {_store_problem(path, exc)}") from exc
    if not found:
        raise JobError(f"input {path} does not exist (or matches no file)")


def _store_problem(path: str, exc: BaseException) -> str:
    """One line for a failed listing: what, and what to do."""
    text = str(exc)
    scheme = urlsplit(path).scheme
    if "No FileSystem for scheme" in text or re.search(r"ClassNotFoundException.*FileSystem", text):
        return (
            f"this Spark has no filesystem for {scheme}:// paths (its connector is not on the "
            "classpath); add the connector (for s3a: --packages org.apache.hadoop:hadoop-aws:"
            "<Spark's Hadoop version>) or copy the input to a path Spark can read"
        )
    causes = re.findall(r"^(?:Caused by: )?(?:[\w.$]+\.)?(\w+(?:Exception|Error): .+)$", text, re.M)
    return f"cannot be listed ({(causes or [text.strip().splitlines()[0]])[-1][:300]})"


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


#: What each record row carries: ``error`` says why a record could not be read, ``repaired``
#: counts the characters repaired in its lines, ``refused`` says why a whole file cannot be read
#: (the job stops in every mode), and ``record`` is false for a row that only carries counts or a
#: refusal (one such row per parsing task).
PARSED_FIELDS = {
    "id": pa.string(),
    "text": pa.string(),
    "error": pa.string(),
    "repaired": pa.int64(),
    "refused": pa.string(),
    "record": pa.bool_(),
}
PARSED_SCHEMA = (
    "id string, text string, error string, repaired bigint, refused string, record boolean"
)
_PARSED_ARROW_SCHEMA = pa.schema(list(PARSED_FIELDS.items()))
#: Parsed records per Arrow batch handed back to Spark.
_BATCH_ROWS = 1024
#: Bad records (and refused or unread files) quoted in the job's error.
_QUOTED_ERRORS = 5


@dataclass(frozen=True)
class Documents:
    """The documents to annotate (``id``, ``text``) and what reading them found."""

    frame: DataFrame
    rows: int
    skipped: int
    repaired: int = 0


def _is_spark_marker(name: str) -> bool:
    """Files Spark and Hadoop write beside data: commit markers and checksums, never records."""
    return (
        name in ("_SUCCESS", "_metadata", "_common_metadata")
        or name.startswith(("_committed_", "_started_"))
        or (name.startswith(".") and name.endswith(".crc"))
    )


def _file_key(uri: str) -> str:
    """A file's path in one spelling (``file:/x``, ``file:///x`` and ``%20`` escapes agree)."""
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}{unquote(parts.path)}"


def _listed_files(spark: SparkSession, path: str) -> list[str]:
    """Every file a path or glob names, folders listed recursively, as the store names them."""
    files = HadoopFiles(spark, path)
    found = []
    for status in files.fs.globStatus(files.path(path)) or []:
        if status.isFile():
            found.append(str(status.getPath().toString()))
            continue
        listing = files.fs.listFiles(status.getPath(), True)
        while listing.hasNext():
            found.append(str(listing.next().getPath().toString()))
    return found


def _check_every_file_is_read(spark: SparkSession, path: str, scan: DataFrame) -> list[str]:
    """The files Spark will read; refuse an input holding others.

    Spark's file sources leave out every file whose name, or whose folder's name below the
    input, starts with ``_`` or ``.`` (even a file named on its own), and a file still being
    copied (``._COPYING_``). Only Spark's own markers (``_SUCCESS``, ``_committed_*``,
    ``_started_*``, Parquet summaries, ``.crc`` checksums) may be left out silently.
    """
    read = list(scan.inputFiles())
    keys = {_file_key(uri) for uri in read}
    left_out = sorted(
        uri
        for uri in _listed_files(spark, path)
        if _file_key(uri) not in keys and not _is_spark_marker(PurePosixPath(uri).name)
    )
    if left_out:
        shown = ", ".join(left_out[:_QUOTED_ERRORS]) + (
            ", ..." if len(left_out) > _QUOTED_ERRORS else ""
        )
        raise JobError(
            f"input {path}: {len(left_out)} file(s) that Spark does not read (a name or folder "
            f"starting with '_' or '.', or a copy in progress): {shown}; rename them or move "
            "them out of the input (Spark's _SUCCESS, _committed_*, _started_* and .crc files "
            "are ignored)"
        )
    return read


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


#: The 48-bit mark that ends a bzip2 stream; it is followed by a 32-bit CRC and 0-7 bits of padding.
_BZIP2_END = 0x177245385090
_BZIP2_TAIL_BYTES = 11


def _bzip2_complete(tail: bytes) -> bool:
    """Whether a bzip2 file's last bytes hold its end-of-stream mark (at any bit alignment)."""
    value = int.from_bytes(tail, "big")
    return any((value >> (32 + pad)) & 0xFFFFFFFFFFFF == _BZIP2_END for pad in range(8))


#: The largest ``bytesPerSum`` a Hadoop checksum file's header may give (Hadoop writes 512).
_MAX_BYTES_PER_SUM = 1 << 24


def _check_local_checksums(files: list[str]) -> None:
    """Refuse a local input file whose ``.<name>.crc`` beside it has a corrupt header: Hadoop's
    local reader sizes a buffer from that header, and a garbage one exhausts the driver's
    memory in local mode instead of failing the read."""
    for uri in files:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            continue
        path = Path(unquote(parts.path))
        checksum = path.with_name(f".{path.name}.crc")
        try:
            with checksum.open("rb") as stream:
                head = stream.read(8)
        except OSError:  # no checksum file: nothing to check
            continue
        per_sum = int.from_bytes(head[4:8], "big")
        if len(head) < 8 or head[:4] != b"crc\0" or not 0 < per_sum <= _MAX_BYTES_PER_SUM:
            raise JobError(
                f"input file {uri}: its Hadoop checksum file {checksum.name} beside it is "
                "corrupt (Hadoop's reader would fail or exhaust memory); delete the .crc file "
                "if the data file is good"
            )


def _unchecked(fs: Any) -> Any:
    """The store under Hadoop's local checksum layer, where there is one: a corrupt ``.crc``
    file beside the input can make that layer allocate gigabytes on the driver just to open
    the file (Spark's own read then reports the checksum)."""
    try:
        return fs.getRawFileSystem()
    except Exception:  # Py4J: a store without a checksum layer (HDFS, object stores)
        return fs


def _check_bzip2_files_end(spark: SparkSession, files: list[str]) -> None:
    """Refuse a ``.bz2`` file cut short: Hadoop's bzip2 reader returns the blocks it could read
    and no error, so a truncated file would lose its last records silently."""
    for uri in files:
        if not uri.lower().endswith(".bz2"):
            continue
        store = HadoopFiles(spark, uri)
        where = store.path(uri)
        size = int(store.fs.getFileStatus(where).getLen())
        if size == 0:
            continue
        stream = _unchecked(store.fs).open(where)
        try:
            stream.seek(max(size - _BZIP2_TAIL_BYTES, 0))
            tail = bytes(stream.readNBytes(_BZIP2_TAIL_BYTES))
        finally:
            stream.close()
        if not _bzip2_complete(tail):
            raise JobError(
                f"input file {uri} is a bzip2 file cut short (its end-of-stream mark is "
                "missing; Spark would read part of it without an error): test it with "
                "bzip2 -t, then fix or remove it"
            )


#: The first bytes of files the job cannot read as UTF-8 text, as a regex on their hex, and
#: what they are. None of them begins valid UTF-8 text but bzip2's, which is 10 bytes long.
_NOT_UTF8 = (
    ("^FFFE0000", "UTF-32 LE text (byte order mark FF FE 00 00)"),
    ("^0000FEFF", "UTF-32 BE text (byte order mark 00 00 FE FF)"),
    ("^FFFE", "UTF-16 LE text (byte order mark FF FE)"),
    ("^FEFF", "UTF-16 BE text (byte order mark FE FF)"),
    ("^1F8B08", "gzip-compressed data"),
    ("^425A683[1-9](314159265359|177245385090)", "bzip2-compressed data"),
    ("^FD377A585A00", "xz-compressed data"),
    ("^504B0(304|506)", "a zip archive"),
    ("^28B52FFD", "zstd-compressed data"),
    ("^377ABCAF271C", "a 7z archive"),
)
_BOM = "\ufeff"


def _occurrences(column: Column, character: str) -> Column:
    """How many times a character occurs, counted on the bytes (works on invalid UTF-8)."""
    without = F.call_function("replace", column, F.lit(character), F.lit(""))
    width = len(character.encode("utf-8"))
    return ((F.octet_length(column) - F.octet_length(without)) / width).cast("long")


def numbered_lines(spark: SparkSession, path: str) -> DataFrame:
    """``file``, ``line``, ``value``, ``repaired``, ``refused`` for every line of every file
    under ``path`` (read recursively; an input holding files Spark skips is refused).

    Only ``\\n`` ends a line, so a lone ``\\r`` stays inside its document; a ``\\r\\n``
    ending keeps its ``\\r`` here (text input drops it, CSV's parser reads it). Invalid UTF-8
    becomes U+FFFD and byte order marks (U+FEFF) at a line's start are dropped; ``repaired``
    counts both, except the mark at a file's start, which is an encoding signature, not text.
    ``refused``, on a file's first line, names a file that is not UTF-8 text (UTF-16/32,
    compressed data without its suffix, an archive).
    """
    scan = spark.read.option("lineSep", "\n").option("recursiveFileLookup", "true").text(path)
    files = _check_every_file_is_read(spark, path, scan)
    _check_local_checksums(files)
    _check_bzip2_files_end(spark, files)
    lines = numbered(scan, "value")
    raw = F.col("value")
    valid = F.col("valid")
    fixed = F.when(raw.cast("binary") == valid.cast("binary"), F.lit(0)).otherwise(
        _occurrences(valid, "\ufffd") - _occurrences(raw, "\ufffd")
    )
    leading = (F.col("line") == 1) & valid.startswith(_BOM)
    # Marks at a line's start (a file's, or another file's after concatenation) are dropped;
    # one inside a line is the character U+FEFF (a zero-width no-break space) and is kept.
    unmarked = F.regexp_replace(valid, f"^{_BOM}+", "")
    boms = F.when(valid.startswith(_BOM), F.length(valid) - F.length(unmarked)).otherwise(0)
    start = F.hex(F.substring(raw.cast("binary"), 1, 12))
    what: Column = F.lit(None).cast("string")
    for pattern, name in reversed(_NOT_UTF8):
        what = F.when(start.rlike(pattern), F.lit(name)).otherwise(what)
    # Only first lines are sniffed; the concatenation is null where nothing was found.
    refused = F.when(
        F.col("line") == 1,
        F.concat(
            F.col("file"),
            F.lit(": the file holds "),
            what,
            F.lit(
                ", not UTF-8 text; convert it to UTF-8 (iconv), or decompress it, or give it "
                "its .gz or .bz2 name so that Spark decompresses it"
            ),
        ),
    )
    return lines.withColumn("valid", valid_utf8(raw)).select(
        "file",
        "line",
        F.when(valid.startswith(_BOM), unmarked).otherwise(valid).alias("value"),
        (fixed + boms - F.when(leading, 1).otherwise(0)).cast("long").alias("repaired"),
        refused.alias("refused"),
    )


def _where(file: str, line: int) -> str:
    return f"{file}:{line}"


def _batches(records: Iterable[tuple[Any, ...]]) -> Iterator[pa.RecordBatch]:
    """Parsed rows (``PARSED_FIELDS``) as Arrow batches of at most ``_BATCH_ROWS``."""
    records = iter(records)
    while chunk := list(itertools.islice(records, _BATCH_ROWS)):
        columns = zip(*chunk, strict=True)
        yield pa.RecordBatch.from_arrays(
            [
                pa.array(list(column), kind)
                for column, kind in zip(columns, PARSED_FIELDS.values(), strict=True)
            ],
            schema=_PARSED_ARROW_SCHEMA,
        )


def _record(ident: Any, text: Any, error: Any) -> tuple[Any, ...]:
    return ident, text, error, 0, None, True


def _carrier(repaired: int = 0, refused: str | None = None) -> tuple[Any, ...]:
    """A row that is no record: a task's count of repaired characters, or a refused file."""
    return None, None, None, repaired, refused, False


#: A parser's input rows: ``file``, ``line``, ``value``, ``repaired``, ``refused``.
_LINE_FIELDS = 5


def _rows(batches: Iterable[pa.RecordBatch]) -> Iterator[tuple[Any, ...]]:
    for batch in batches:
        columns = (batch.column(i).to_pylist() for i in range(_LINE_FIELDS))
        yield from zip(*columns, strict=True)


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


class _DuplicateKeyError(ValueError):
    """A JSON object names one key twice: which value was meant is unknown."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKeyError(key)
        found[key] = value
    return found


#: Only ASCII whitespace makes a JSON line blank; a line of other (Unicode) spaces is a bad record.
_ASCII_WHITESPACE = " \t\n\r\f\v"


def parse_json_lines(text_col: str, id_col: str | None):
    """The mapInArrow function that parses JSON Lines: one object per non-blank line."""

    def record(file: str, line: int, value: str) -> tuple[Any, Any, Any]:
        where = _where(file, line)
        try:
            parsed = json.loads(value, object_pairs_hook=_unique_keys)
        except _DuplicateKeyError as exc:
            return where, None, f"{where}: the key '{exc}' appears twice in one object"
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
        repaired = 0

        def records() -> Iterator[tuple[Any, ...]]:
            nonlocal repaired
            for file, line, value, fixed, refused in _rows(batches):
                repaired += fixed or 0
                if refused:
                    yield _carrier(refused=refused)
                elif value is not None and value.strip(_ASCII_WHITESPACE):
                    yield _record(*record(file, line, value))
            if repaired:
                yield _carrier(repaired)

        yield from _batches(records())

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


class _CsvFileRefusedError(JobError):
    """A CSV file whose header does not say which column to read: none of it can be read."""


class _NumberedLines:
    """A file's lines for ``csv.reader``, numbered from 1, that can be read again: after a
    malformed record, reading resumes at the line after the record's first line."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._source = iter(lines)
        self._again: deque[tuple[int, str]] = deque()
        self._count = 0
        #: The lines handed out since ``start_record``, with their numbers.
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _NumberedLines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.popleft()
        else:
            line = next(self._source)
            self._count += 1
            number = self._count
        self.taken.append((number, line))
        return _csv_line(line)

    def start_record(self) -> None:
        self.taken = []

    def first_line(self) -> int:
        if self.taken:
            return self.taken[0][0]
        return self._again[0][0] if self._again else self._count + 1

    def resume_after_first(self) -> None:
        """Read the record's lines after its first again, as the start of new records."""
        self._again.extendleft(reversed(self.taken[1:]))
        self.taken = []


def _malformed(exc: csv.Error, start: int, last: int, ran_out: bool) -> str:
    """Why a record starting on line ``start`` is malformed; an error on a later line than the
    record's first, or at the end of the file, means a quote opened in it was never closed."""
    if ran_out:
        reason = "a quoted field opened in this record is never closed"
    elif last > start:
        reason = f"a quoted field opened in this record runs on to line {last}, where {exc}"
    else:
        return str(exc)
    return f"unclosed quote: {reason}; reading resumes at line {start + 1}"


def _csv_file(
    file: str, lines: Iterable[str], text_col: str, id_col: str | None
) -> Iterator[tuple[Any, Any, Any]]:
    """The records of one CSV file (its lines in order), header first, RFC 4180 quoting.

    A malformed record is reported at its first line and reading resumes at the next line, so
    one bad quote costs one record, not the rest of the file. A quote never closed runs to the
    end of the file before it is found: each one costs a second read of the rest of the file.
    A header without the text (or id) column, or naming it twice, refuses the whole file.
    """
    numbered_lines = _NumberedLines(lines)
    reader = csv.reader(numbered_lines, strict=True)
    header: list[str] | None = None
    columns: tuple[int, int | None] = (0, None)
    while True:
        numbered_lines.start_record()
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start = numbered_lines.first_line()
            where = _where(file, start)
            last = numbered_lines.taken[-1][0] if numbered_lines.taken else start
            ran_out = "unexpected end of data" in str(exc)
            reason = _malformed(exc, start, last, ran_out)
            numbered_lines.resume_after_first()
            if ran_out:  # the reader reached the end of the file: a new one reads the rest
                reader = csv.reader(numbered_lines, strict=True)
            yield where, None, f"{where}: malformed CSV ({reason})"
            continue
        if not row:  # a blank line between records
            continue
        row = [_csv_field(field) for field in row]
        where = _where(file, numbered_lines.first_line())
        if header is None:
            header = row
            for key in (text_col, id_col):
                if key and header.count(key) != 1:
                    found = ", ".join(header)
                    problem = (
                        f"no column '{key}' in the header ({found})"
                        if key not in header
                        else f"the header names column '{key}' {header.count(key)} times "
                        f"({found}); rename the others"
                    )
                    raise _CsvFileRefusedError(f"{where}: {problem}")
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
        repaired = 0

        def lines(rows: Iterable[tuple[Any, ...]]) -> Iterator[str]:
            nonlocal repaired
            for _, _, value, fixed, _ in rows:
                repaired += fixed or 0
                yield value

        def records() -> Iterator[tuple[Any, ...]]:
            for file, group in itertools.groupby(_rows(batches), key=lambda row: row[0]):
                first = next(group)
                if first[4]:  # the first line names a file that is not UTF-8 text
                    yield _carrier(refused=first[4])
                    continue
                try:
                    for found in _csv_file(
                        file, lines(itertools.chain([first], group)), text_col, id_col
                    ):
                        yield _record(*found)
                except _CsvFileRefusedError as refused:
                    yield _carrier(refused=str(refused))
            if repaired:
                yield _carrier(repaired)

        yield from _batches(records())

    return parse


def read_documents(
    spark: SparkSession, path: str, fmt: str, text_col: str, id_col: str | None
) -> DataFrame:
    """Documents as ``id``, ``text``, ``error`` (null unless the record could not be read), and
    ``repaired``, ``refused``, ``record`` (see ``PARSED_FIELDS``), for ``checked_documents``.

    Every file under ``path`` is read, in subfolders too (``key=value`` folders are ordinary
    folders: no partition column), or the input is refused. Text files: one document per line,
    id ``<file>:<line>``. CSV (a header line, RFC 4180 quoting) and JSON Lines (one object per
    line; blank lines are skipped): one per record, id ``<file>:<line>`` of the record's first
    line, or the ``id_col`` value as a string. Parquet: one per row, id ``<file>:<row>`` or the
    ``id_col`` value as it is.
    """
    check_input_exists(spark, path)
    no_error = F.lit(None).cast("string").alias("error")
    if fmt == "text":
        if id_col:
            raise JobError("text input has no id column; leave input.id_col unset")
        lines = numbered_lines(spark, path)
        text = F.regexp_replace("value", "\r$", "").alias("text")
        ident = F.concat_ws(":", "file", "line").alias("id")
        return lines.select(
            ident, text, no_error, "repaired", "refused", F.lit(True).alias("record")
        )
    if fmt == "json":
        return numbered_lines(spark, path).mapInArrow(
            parse_json_lines(text_col, id_col), PARSED_SCHEMA
        )
    if fmt == "csv":
        lines = numbered_lines(spark, path)
        in_order = lines.repartition("file").sortWithinPartitions("file", "line")
        return in_order.mapInArrow(parse_csv(text_col, id_col), PARSED_SCHEMA)
    frame = spark.read.option("recursiveFileLookup", "true").format(fmt).load(path)
    _check_local_checksums(_check_every_file_is_read(spark, path, frame))
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
    counts = (
        F.lit(0).cast("long").alias("repaired"),
        F.lit(None).cast("string").alias("refused"),
        F.lit(True).alias("record"),
    )
    text = F.col(text_col).alias("text")
    if id_col:
        return frame.select(F.col(id_col).alias("id"), text, no_error, *counts)
    rows = numbered(frame, text, position="row")
    return rows.select(F.concat_ws(":", "file", "row").alias("id"), "text", no_error, *counts)


def _read_failure(exc: BaseException) -> str | None:
    """One line for a file Spark could not read (a compressed file cut short, a bad checksum, a
    store gone), or None for any other failure. Spark 4 names the file; 3.5 does not."""
    text = str(exc)
    file = re.search(r"while reading file (\S+?)\.?(?:\s|$)", text)
    if file is None and "FileScanRDD" not in text:
        return None
    causes = re.findall(r"^Caused by: (?:[\w.$]+\.)?(\w+(?:Exception|Error): .+)$", text, re.M)
    lost = re.findall(r"most recent failure: Lost task [^\n]*?: (?:[\w.$]+\.)?(\w+: [^\n]+)", text)
    cause = (causes or lost or ["no reason given"])[-1][:300]
    what = f"input file {file.group(1)}" if file else "an input file (Spark did not say which)"
    return (
        f"{what} cannot be read ({cause}): a compressed file may be cut short (test it with "
        "gzip -t or bzip2 -t), a checksum wrong or the store unreachable; fix or remove it"
    )


def checked_documents(documents: DataFrame, bad_records: str, explicit_ids: bool) -> Documents:
    """The readable documents, after the checks that must pass before any model work.

    ``documents`` (from ``read_documents``) should be cached: it is read here and again by the
    pipeline. A file that is not UTF-8 text, or a CSV file whose header does not name its
    columns once, stops the job in every mode. Bad records stop the job (``fail``) or are left
    out and counted (``skip``); ids given by an id column must be unique and present, since the
    output is checked (and exploded sentences are grouped) by id.
    """
    is_record = F.col("record")
    try:
        counts = documents.agg(
            F.sum(is_record.cast("long")).alias("records"),
            F.count(F.when(is_record, F.col("error"))).alias("bad"),
            F.sum("repaired").alias("repaired"),
            F.count("refused").alias("refused"),
        ).first()
    except Exception as exc:  # Py4J: Spark could not read a file
        reason = _read_failure(exc)
        if reason is None:
            raise
        raise JobError(reason) from exc
    if counts["refused"]:
        refused = [
            row.refused
            for row in documents.where(F.col("refused").isNotNull())
            .select("refused")
            .distinct()
            .orderBy("refused")
            .limit(_QUOTED_ERRORS)
            .collect()
        ]
        raise JobError(f"{counts['refused']} input file(s) cannot be read: " + "; ".join(refused))
    bad = int(counts["bad"])
    if bad and bad_records == "fail":
        quoted = [
            row.error
            for row in documents.where(is_record & F.col("error").isNotNull())
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
    readable = documents.where(is_record & F.col("error").isNull()).select("id", "text")
    if explicit_ids:
        _check_ids(readable)
    records = int(counts["records"] or 0)
    return Documents(readable, records - bad, bad, int(counts["repaired"] or 0))


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
