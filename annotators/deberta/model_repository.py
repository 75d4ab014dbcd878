"""Spark NLP's public model repository: find a build of a reference name, fetch it, import it.

The repository is a folder served over plain HTTP(S) (by default the S3 REST URL of the bucket
``auxdata.johnsnowlabs.com``, folder ``public/models``; ``SPARK_DEBERTA_SPARK_NLP_REPOSITORY``
replaces it, ``off`` turns it off). It holds ``metadata.json``, one JSON object a line
(``name``, ``language``, ``libVersion``/``sparkVersion`` as ``{"parts": [...]}``, ``readyToUse``,
``time``, ``isZipped``, ``checksum``, and in newer lines ``annotator`` and ``engine``), and one
zip per build named ``<name>_<lang>_<lib>_<spark>_<epoch ms of time>.zip``.

A build is a candidate as in the reference: ready to use, both versions given, the same name,
the same language (or none on either side), and versions compatible with what is asked
(``is_compatible``: Spark NLP ``REFERENCE_LIB_VERSION``, the one this library mirrors, and the
installed PySpark's version). Unlike the reference, which orders versions as floats (so 5.10
came before 5.9), builds are ordered by version tuples padded to three parts, then by time.
The newest candidate that holds an ONNX graph wins: an ``engine`` field says so, and a build
without one is asked by reading its zip's directory through HTTP range requests (or, from a
server that ignores ranges, by downloading it). Lines that are not valid entries are skipped
and counted; the count is part of every refusal. The chosen zip is downloaded with the same
timeout, deadline and size limits as our own index, its ``checksum`` checked when the index
gives one (32 hex digits: MD5, 64: SHA-256; any other form is refused), unpacked safely and
imported with ``import_spark_nlp_folder``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from annotators.errors import ModelFolderError

DEFAULT_REPOSITORY = "https://s3.amazonaws.com/auxdata.johnsnowlabs.com/public/models"
REPOSITORY_ENV = "SPARK_DEBERTA_SPARK_NLP_REPOSITORY"
#: ``remote_loc`` values that name the reference's public folder rather than our own index.
PUBLIC_FOLDER = "public/models"
_OFF = {"", "off", "none", "false", "0"}
METADATA = "metadata.json"
#: The Spark NLP release whose API this library mirrors: builds for it or older are compatible.
REFERENCE_LIB_VERSION = "7.0.0"
#: The public metadata.json has tens of thousands of lines (some MB); refuse far larger bodies.
METADATA_MAX_BYTES = 256 << 20
#: The index is read again when the copy in memory is older than this (as the reference does).
METADATA_TTL_S = 300.0
#: At most this many builds without an ``engine`` field are opened to see what they hold.
MAX_PROBES = 8
_ENGINE_SUFFIXES = {"_onnx": "onnx", "_tensorflow": "tensorflow", "_openvino": "openvino"}
_ENGINE_NAMES = {
    "onnx": "ONNX",
    "tensorflow": "TensorFlow",
    "openvino": "OpenVINO",
    "unk": "engine unknown",
    "missing": "zip missing",
}


class RepositoryMissError(ModelFolderError):
    """The repository has no build this library can run (or cannot be read): exporting the
    checkpoint is the way on, so callers add the export command."""


@dataclass(frozen=True)
class Build:
    """One line of ``metadata.json``."""

    name: str
    language: str | None
    lib_version: tuple[int, ...]
    spark_version: tuple[int, ...]
    epoch_ms: int
    is_zipped: bool
    checksum: str
    annotator: str | None
    engine: str | None

    @property
    def key(self) -> str:
        """The reference's key: also the zip's name without ``.zip``."""
        parts = [self.name, self.language or "", _dotted(self.lib_version)]
        return "_".join([*parts, _dotted(self.spark_version), str(self.epoch_ms)])

    @property
    def file_name(self) -> str:
        return f"{self.key}.zip" if self.is_zipped else self.key

    @property
    def order(self) -> tuple[tuple[int, ...], tuple[int, ...], int]:
        return (_padded(self.spark_version), _padded(self.lib_version), self.epoch_ms)


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def _padded(version: tuple[int, ...]) -> tuple[int, ...]:
    """Three parts, so Spark ``[3]`` and ``[3, 0]`` rank the same and the lib version decides."""
    return (*version, 0, 0, 0)[:3]


def parse_version(text: str) -> tuple[int, ...]:
    """The reference's ``Version.parse``: drop ``-rcN``, split on ``.``/``-``, keep up to three
    leading integer parts (``"3.5.1-rc2"`` -> ``(3, 5, 1)``)."""
    parts = []
    for piece in re.split(r"[.-]", re.sub(r"-rc\d+", "", text)):
        if not piece.isdigit() or len(parts) == 3:
            break
        parts.append(int(piece))
    return tuple(parts)


def is_compatible(current: tuple[int, ...], found: tuple[int, ...] | None) -> bool:
    """The reference's ``isCompatible``: a build for ``found`` runs on ``current`` when found
    is not longer and, at the first part that differs, is the older one."""
    if not found:
        return True
    if len(found) > len(current):
        return False
    for have, need in zip(current, found, strict=False):
        if have != need:
            return have > need
    return True


def running_spark_version() -> tuple[int, ...]:
    """The installed PySpark's version (what the reference reads from the session); without
    PySpark, the Spark major this library targets."""
    try:
        import pyspark
    except ImportError:
        return (4,)
    return parse_version(pyspark.__version__)


def _epoch_ms(text: str) -> int:
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return (stamp - datetime(1970, 1, 1, tzinfo=timezone.utc)) // _ONE_MS


_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=timezone.utc) - datetime(
    1970, 1, 1, tzinfo=timezone.utc
)


def _version_field(value: object) -> tuple[int, ...] | None:
    if value is None:
        return None
    parts = value.get("parts") if isinstance(value, dict) else None
    if not isinstance(parts, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in parts
    ):
        raise ModelFolderError(f"bad version {value!r}")
    return tuple(parts)


def _optional_str(entry: dict[str, Any], field: str) -> str | None:
    value = entry.get(field)
    if value is not None and not isinstance(value, str):
        raise ModelFolderError(f"{field} is not a string")
    return value


def parse_metadata(body: bytes) -> tuple[list[Build], int]:
    """Every ready, versioned build in a ``metadata.json`` body, and how many non-empty lines
    were skipped as malformed (not JSON, not an object, a field of the wrong type)."""
    builds, malformed = [], 0
    for line in body.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line.decode("utf-8"))
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise ModelFolderError("no name")
            lib = _version_field(entry.get("libVersion"))
            spark = _version_field(entry.get("sparkVersion"))
            ready, zipped = entry.get("readyToUse"), entry.get("isZipped", False)
            if not isinstance(ready, bool) or not isinstance(zipped, bool):
                raise ModelFolderError("readyToUse/isZipped are not booleans")
            if not isinstance(entry.get("time"), str):
                raise ModelFolderError("no time")
            build = Build(
                name=entry["name"],
                language=_optional_str(entry, "language") or None,
                lib_version=lib or (),
                spark_version=spark or (),
                epoch_ms=_epoch_ms(entry["time"]),
                is_zipped=zipped,
                checksum=_optional_str(entry, "checksum") or "",
                annotator=_optional_str(entry, "annotator"),
                engine=_optional_str(entry, "engine"),
            )
        except (ValueError, UnicodeDecodeError):  # JSONDecodeError is a ValueError
            malformed += 1
            continue
        if ready and lib and spark:
            builds.append(build)
    return builds, malformed


def candidates(
    builds: list[Build],
    name: str,
    lang: str,
    lib: tuple[int, ...],
    spark: tuple[int, ...],
) -> list[Build]:
    """The builds of ``name`` that may run here, newest first."""
    found = [
        b
        for b in builds
        if b.name == name
        and (b.language is None or not lang or b.language == lang)
        and is_compatible(lib, b.lib_version)
        and is_compatible(spark, b.spark_version)
    ]
    return sorted(found, key=lambda b: b.order, reverse=True)


def repository_url(remote_loc: str | None = None) -> str | None:
    """The repository's base URL, or None when turned off (``SPARK_DEBERTA_SPARK_NLP_REPOSITORY``
    set to ``off``). ``remote_loc="public/models"`` (the reference's own default) means it too."""
    configured = os.environ.get(REPOSITORY_ENV)
    if configured is None:
        return DEFAULT_REPOSITORY
    if configured.strip().lower() in _OFF:
        return None
    return configured.strip().rstrip("/")


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + urllib.parse.quote(name)


def _check_scheme(url: str) -> None:
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ModelFolderError(
            f"the Spark NLP model repository {url} must be an http(s) URL ({REPOSITORY_ENV})"
        )


_metadata_lock = threading.Lock()
_metadata_memory: dict[str, tuple[float, list[Build], int]] = {}


def forget_indexes() -> None:
    """Drop the indexes kept in memory: the next lookup reads them again."""
    with _metadata_lock:
        _metadata_memory.clear()


def read_repository(base: str, timeout: float, deadline: float) -> tuple[list[Build], int]:
    """The repository's builds and malformed-line count, kept in memory for ``METADATA_TTL_S``."""
    from annotators.deberta.pretrained import _read_bounded

    _check_scheme(base)
    base = base.rstrip("/")
    with _metadata_lock:
        kept = _metadata_memory.get(base)
        if kept is not None and time.monotonic() - kept[0] < METADATA_TTL_S:
            return kept[1], kept[2]
    where = _join(base, METADATA)
    body = bytearray()
    try:
        _read_bounded(where, timeout, deadline, METADATA_MAX_BYTES, body.extend, where)
    except OSError as exc:
        raise RepositoryMissError(
            f"the Spark NLP model repository cannot be read ({where}: {exc})"
        ) from exc
    builds, malformed = parse_metadata(bytes(body))
    if not builds and malformed:
        raise RepositoryMissError(
            f"{where} is not a Spark NLP model index: none of its lines is a valid entry "
            f"({malformed} malformed)"
        )
    with _metadata_lock:
        _metadata_memory[base] = (time.monotonic(), builds, malformed)
    return builds, malformed


class _RangeFile(io.RawIOBase):
    """A remote file read through HTTP range requests, enough for ``zipfile`` to list a zip's
    members without downloading it. ``size`` None on a server that ignores ranges."""

    TAIL = 1 << 17  # the end of the file is fetched once: the zip's directory lives there

    def __init__(self, url: str, timeout: float, deadline: float) -> None:
        super().__init__()
        self.url, self.timeout, self.deadline = url, timeout, deadline
        self.position, self.requests = 0, 0
        self.size: int | None = None
        self.tail, self.tail_start = b"", 0
        _, total = self._get(0, 0)
        if total is not None:
            self.size = total
            start = max(0, total - self.TAIL)
            self.tail, _ = self._get(start, total - 1)
            self.tail_start = start

    def _get(self, start: int, end: int) -> tuple[bytes, int | None]:
        """Bytes ``start..end`` and the file's total size, or (b"", None) without range support."""
        if time.monotonic() > self.deadline or self.requests > 64:
            raise ModelFolderError(f"listing {self.url} did not finish within the deadline")
        self.requests += 1
        request = urllib.request.Request(self.url, headers={"Range": f"bytes={start}-{end}"})
        limit = end - start + 1
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            found = re.fullmatch(
                r"bytes (\d+)-(\d+)/(\d+)", response.headers.get("Content-Range", "")
            )
            if response.status != 206 or found is None or int(found.group(1)) != start:
                return b"", None
            data = response.read(limit + 1)
        if len(data) != limit:
            raise ModelFolderError(f"{self.url} sent {len(data)} bytes for a range of {limit}")
        return data, int(found.group(3))

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = 0) -> int:
        assert self.size is not None
        base = {0: 0, 1: self.position, 2: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size: int = -1) -> bytes:
        assert self.size is not None
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        if self.position >= self.tail_start:
            data = self.tail[self.position - self.tail_start : end - self.tail_start]
        else:
            data, _ = self._get(self.position, end - 1)
        self.position += len(data)
        return data


def engine_of(names: list[str]) -> str:
    """The engine a Spark NLP model folder's file names show (``deberta_onnx`` and the like)."""
    found = {
        engine
        for name in names
        for suffix, engine in _ENGINE_SUFFIXES.items()
        if name.rstrip("/").rsplit("/", 1)[-1].endswith(suffix)
    }
    for engine in ("onnx", "tensorflow", "openvino"):
        if engine in found:
            return engine
    return "unk"


def _listed_engine(url: str, timeout: float, deadline: float) -> str | None:
    """The engine a remote zip holds, from its directory; None when the server gives no ranges."""
    try:
        remote = _RangeFile(url, timeout, deadline)
        if remote.size is None:
            return None
        with zipfile.ZipFile(remote) as zipped:
            return engine_of(zipped.namelist())
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):  # listed but not there (S3 answers 403 without list rights)
            return "missing"
        raise ModelFolderError(f"cannot list {url}: {exc}") from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise ModelFolderError(f"cannot list {url}: {exc}") from exc


def _checksum_matches(expected: str, md5: str, sha256: str) -> bool:
    wanted = expected.strip().lower()
    if re.fullmatch(r"[0-9a-f]{32}", wanted):
        return wanted == md5
    if re.fullmatch(r"[0-9a-f]{64}", wanted):
        return wanted == sha256
    raise ModelFolderError(
        f"the index gives the checksum {expected!r}, which is neither MD5 nor SHA-256 hex: "
        "the download cannot be verified, so it is refused"
    )


def _spark_nlp_root(unpacked: Path) -> Path:
    """The folder holding ``metadata/part-00000``: the zip's top level or its one folder."""
    if (unpacked / "metadata" / "part-00000").is_file():
        return unpacked
    children = [c for c in unpacked.iterdir() if c.is_dir()]
    if len(children) == 1 and (children[0] / "metadata" / "part-00000").is_file():
        return children[0]
    raise ModelFolderError("the zip holds no Spark NLP model (no metadata/part-00000)")


def _describe(builds: list[Build], engines: dict[str, str]) -> str:
    shown = [f"{b.file_name} ({_ENGINE_NAMES.get(engines[b.key], engines[b.key])})" for b in builds]
    return ", ".join(shown[:5]) + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")


def download_reference_model(
    name: str,
    lang: str,
    base: str,
    target: Path,
    *,
    timeout: float,
    deadline_s: float,
    max_archive_bytes: int | None = None,
) -> Path:
    """Fetch the newest ONNX build of ``name``/``lang`` from the repository at ``base`` and
    import it as the model folder ``target`` (the caller holds the cache lock). The index gives
    no sizes: a zip may have at most ``max_archive_bytes`` (default: the downloader's limit)."""
    from annotators.deberta.pretrained import (
        DEFAULT_MAX_ARCHIVE_BYTES,
        DEFAULT_MAX_EXPANSION,
        cache_dir,
        safe_extract,
    )

    limit = DEFAULT_MAX_ARCHIVE_BYTES if max_archive_bytes is None else max_archive_bytes

    deadline = time.monotonic() + deadline_s
    builds, malformed = read_repository(base, timeout, deadline)
    lib, spark = parse_version(REFERENCE_LIB_VERSION), running_spark_version()
    found = candidates(builds, name, lang, lib, spark)
    skipped = f"; {malformed} malformed index lines were skipped" if malformed else ""
    if not found:
        raise RepositoryMissError(
            f"the Spark NLP model repository {base} lists no build of it for Spark NLP "
            f"{_dotted(lib)} on Spark {_dotted(spark)}{skipped}"
        )
    engines: dict[str, str] = {}
    probes = 0
    for build in found:
        url = _join(base, build.file_name)
        engine = (build.engine or "unk").lower()
        if engine == "unk" and build.is_zipped:
            probes += 1
            if probes > MAX_PROBES:
                engines[build.key] = engine
                continue
            engine = _listed_engine(url, timeout, deadline) or "unk"  # unk: fetch it to see
        engines[build.key] = engine
        if engine not in ("onnx", "unk") or not build.is_zipped:
            continue
        cache_dir().mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=f".{build.key}.") as work:
            archive = Path(work) / build.file_name
            try:
                size, md5, sha256 = _fetch(url, archive, timeout, deadline, limit)
            except _MissingZipError:
                engines[build.key] = "missing"
                continue
            if build.checksum and not _checksum_matches(build.checksum, md5, sha256):
                raise ModelFolderError(
                    f"{url} does not match the index's checksum {build.checksum}: refusing it"
                )
            unpacked = Path(work) / "unpacked"
            try:
                safe_extract(archive, unpacked, max_bytes=DEFAULT_MAX_EXPANSION * size + (1 << 20))
            except zipfile.BadZipFile as exc:
                raise ModelFolderError(f"{url} is not a zip file: {exc}") from exc
            archive.unlink()
            root = _spark_nlp_root(unpacked)
            engines[build.key] = engine_of([p.name for p in root.iterdir()])
            if engines[build.key] != "onnx":
                continue  # the index did not say, and the zip holds another engine
            return _import(root, build, name, lang, target)
    raise RepositoryMissError(
        f"the Spark NLP model repository {base} holds it only as builds this library cannot "
        f"run: {_describe(found, engines)}; it runs ONNX graphs{skipped}"
    )


class _MissingZipError(Exception):
    """The index lists a zip the repository does not have: the reference treats it as absent."""


def _fetch(
    url: str, archive: Path, timeout: float, deadline: float, limit: int
) -> tuple[int, str, str]:
    """Download ``url`` to ``archive`` within the limits; its size, MD5 and SHA-256 (hex)."""
    from annotators.deberta.pretrained import _read_bounded

    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    try:
        with open(archive, "wb") as out:

            def sink(block: bytes) -> None:
                md5.update(block)
                sha256.update(block)
                out.write(block)

            size = _read_bounded(url, timeout, deadline, limit, sink, url)
    except urllib.error.HTTPError as exc:
        if exc.code in (403, 404):
            raise _MissingZipError(url) from exc
        raise ModelFolderError(f"download of {url} failed: {exc}") from exc
    except OSError as exc:
        raise ModelFolderError(f"download of {url} failed: {exc}") from exc
    return size, md5.hexdigest(), sha256.hexdigest()


def _import(root: Path, build: Build, name: str, lang: str, target: Path) -> Path:
    """Import an unpacked ONNX build; a classifier's build is kept (its labels are a JVM object
    file this library does not read) and refused with the call that imports it."""
    from annotators.deberta.pretrained import cache_dir
    from annotators.deberta.spark_nlp_folder import _read_params, import_spark_nlp_folder
    from annotators.tasks import REFERENCE_CLASSES, TASKS

    spark_class, _ = _read_params(root)
    held = REFERENCE_CLASSES.get(spark_class)
    if held is not None and TASKS[held.name].labelled:
        kept = cache_dir() / "spark-nlp" / build.key
        kept.parent.mkdir(parents=True, exist_ok=True)
        if kept.exists():
            shutil.rmtree(kept)
        os.replace(root, kept)
        simple = spark_class.rsplit(".", 1)[-1]
        raise ModelFolderError(
            f"{build.file_name} is a Spark NLP {simple}, whose labels are kept in a JVM object "
            f"file that this library does not read; it is unpacked at {kept}: load it with "
            f"{simple}.loadSparkNlpModel({str(kept)!r}, labels=[...]) giving the labels in the "
            "model's output order (its model card lists them)"
        )
    import_spark_nlp_folder(root, target, name=name, lang=lang, overwrite=True)
    return target
