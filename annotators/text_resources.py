"""User dictionaries for the token stages (Normalizer's slang, Lemmatizer's lemmas) and the
Java string rules their parsing follows.

A dictionary is named the reference's way, as an *external resource*: a path, how to read it
(``ReadAs.TEXT``: plain UTF-8 lines, a folder read recursively; ``ReadAs.SPARK``: Spark's reader
with the given format and options), and options such as the delimiters. Here it is a plain
``{"path", "readAs", "options"}`` dict, so a stage that holds one saves as JSON.

Spark NLP users write delimiters as Java regexes and expect Java's ``String.split`` (trailing
empty pieces dropped) and ``String.trim`` (only characters up to U+0020 removed); ``java_split``
and ``java_trim`` give exactly that.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlparse

import regex
from pyspark.sql import DataFrame, SparkSession

from annotators.errors import ParamError, StageInputError
from annotators.patterns import compile_java_pattern

__all__ = [
    "ReadAs",
    "external_resource",
    "java_split",
    "java_trim",
    "make_resource",
    "read_lines",
    "read_with_spark",
]

Resource = dict[str, Any]


class ReadAs:
    """How a dictionary is read, as the reference spells it (``ReadAs.TEXT``...)."""

    TEXT = "TEXT"
    SPARK = "SPARK"
    BINARY = "BINARY"


#: What the token stages can read: BINARY has no meaning for a text dictionary.
READABLE = (ReadAs.TEXT, ReadAs.SPARK)


def java_split(pattern: regex.Pattern[str], text: str) -> list[str]:
    """``text.split(pattern)`` as Java does it: a zero-width match at the very start makes no
    leading empty piece, trailing empty pieces are dropped, and no match gives ``[text]``."""
    pieces: list[str] = []
    index = 0
    for match in pattern.finditer(text):
        if index == 0 and match.start() == 0 and match.end() == 0:
            continue
        pieces.append(text[index : match.start()])
        index = match.end()
    if index == 0 and not pieces:
        return [text]
    pieces.append(text[index:])
    while pieces and not pieces[-1]:
        pieces.pop()
    return pieces


def java_trim(text: str) -> str:
    """Java's ``String.trim``: strip characters up to U+0020 (not Unicode spaces)."""
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def make_resource(path: str, read_as: str, options: Mapping[str, str]) -> Resource:
    """The plain form of an external resource."""
    return {"path": path, "readAs": str(read_as).upper(), "options": dict(options)}


def external_resource(name: str, required: tuple[str, ...] = ()) -> Any:
    """A Param converter: an external resource dict whose ``readAs`` this library can read and
    whose options hold ``required`` keys (delimiters, checked as Java regexes)."""

    def convert(value: Any) -> Resource:
        if not isinstance(value, Mapping) or not isinstance(value.get("path"), str):
            raise ParamError(
                f"{name} must be an external resource {{'path': str, 'readAs': str, "
                f"'options': dict}}, got {value!r}"
            )
        read_as = str(value.get("readAs", ReadAs.TEXT)).upper()
        if read_as not in READABLE:
            raise ParamError(
                f"{name}: read_as '{value.get('readAs')}' is not supported; choose TEXT (plain "
                "text lines) or SPARK (Spark's reader with options['format'])"
            )
        options = value.get("options") or {}
        if not isinstance(options, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.items()
        ):
            raise ParamError(f"{name}: options must map strings to strings, got {options!r}")
        missing = [key for key in required if key not in options]
        if missing:
            raise ParamError(f"{name}: options need {' and '.join(repr(k) for k in missing)}")
        for key in required:
            compile_java_pattern(options[key], f"{name} {key}")
        return make_resource(value["path"], read_as, options)

    return convert


def _local_path(path: str) -> str | None:
    """The local filesystem path of ``path``, or None when it names another filesystem."""
    parsed = urlparse(path)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return path
    return None


def _local_files(path: str) -> Iterator[str]:
    if os.path.isdir(path):
        for folder, folders, files in os.walk(path):
            folders.sort()
            for name in sorted(files):
                if not name.startswith((".", "_")):  # Hadoop's checksums and markers
                    yield os.path.join(folder, name)
    else:
        yield path


def read_lines(name: str, path: str, spark: SparkSession | None) -> list[str]:
    """Every line of a UTF-8 text file, or of every file under a folder (recursively, in name
    order). A local path is read here; any other (``hdfs://``, ``s3a://``, ``dbfs:``) through
    Spark, which also works on Spark Connect."""
    local = _local_path(path)
    if local is not None:
        if not os.path.exists(local):
            raise StageInputError(f"{name}: {path} does not exist")
        lines: list[str] = []
        for file in _local_files(local):
            try:
                with open(file, encoding="utf-8") as handle:
                    lines.extend(line.rstrip("\r\n") for line in handle)
            except (OSError, UnicodeDecodeError) as exc:
                raise StageInputError(f"{name}: cannot read {file} as UTF-8 text: {exc}") from exc
        return lines
    if spark is None:
        raise StageInputError(f"{name}: reading {path} needs a Spark session")
    frame = spark.read.option("recursiveFileLookup", "true").text(path)
    return [row[0] for row in frame.collect() if row[0] is not None]


def read_with_spark(name: str, resource: Resource, spark: SparkSession) -> DataFrame:
    """A SPARK resource: ``spark.read.options(options).format(options['format']).load(path)``."""
    options = dict(resource["options"])
    file_format = options.get("format")
    if not file_format:
        raise ParamError(f"{name}: read_as SPARK needs options['format'] (text, csv, ...)")
    try:
        return spark.read.options(**options).format(file_format).load(resource["path"])
    except Exception as exc:  # the reader's AnalysisException: a path or format it cannot read
        raise StageInputError(f"{name}: Spark cannot read {resource['path']}: {exc}") from exc
