"""Pretrained models: the local cache, the models bundled with the package, and downloads.

``resolve_pretrained`` finds ``name``/``lang`` in the local cache (``SPARK_DEBERTA_CACHE``, else
``~/.cache/spark-deberta``), then among the models bundled with the package, then in our own
index when ``remote_loc`` (or ``SPARK_DEBERTA_REMOTE``) names one: an http(s) URL, a ``file://``
URL or a folder holding ``index.json`` and the zips (``spark-deberta publish`` writes them).
Otherwise it asks Spark NLP's public model repository for the reference's own names
(``model_repository``). A Hugging Face hub id (``owner/name``) is exported into the cache once,
with the exporter's parity proof, when the export extra is installed. Downloads go to a temp
file, are checked against the index's checksum, unpacked safely (no path leaves the target, no
links) and renamed into place under a lock. ``resolve_model`` takes a model folder's path or a
pretrained name, as users give one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import tempfile
import time
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from annotators.deberta.manifest import MANIFEST, TYPE_NAMES, is_plain_file_name
from annotators.deberta.model_folder import load_model_folder
from annotators.errors import ExportError, ModelFolderError

BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"
DOWNLOAD_TIMEOUT_S = 60.0
#: The whole download of one model (index and zip) must finish within this many seconds.
DOWNLOAD_DEADLINE_S = 3600.0
#: Largest index.json read, and largest zip when the index does not give its ``bytes``.
INDEX_MAX_BYTES = 1 << 20
DEFAULT_MAX_ARCHIVE_BYTES = 8 << 30
#: Unpacked bytes allowed when the index gives no ``unpacked_bytes``: model weights barely
#: compress, so a zip that expands more than this many times over is refused as a zip bomb.
DEFAULT_MAX_EXPANSION = 20
_INDEX_FIELDS: dict[str, tuple[type, bool]] = {  # field -> (type, required)
    "name": (str, True),
    "lang": (str, True),
    "file": (str, True),
    "sha256": (str, True),
    "bytes": (int, False),
    "unpacked_bytes": (int, False),
}


def cache_dir() -> Path:
    return Path(os.environ.get("SPARK_DEBERTA_CACHE", "~/.cache/spark-deberta")).expanduser()


def model_key(name: str, lang: str) -> str:
    return f"{name}_{lang}"


#: Hub checkpoints behind the pretrained names the README uses, for the export command that
#: fills the cache; other names get a CHECKPOINT placeholder.
KNOWN_CHECKPOINTS = {
    "deberta_v3_xsmall": "microsoft/deberta-v3-xsmall",
    "deberta_v3_small": "microsoft/deberta-v3-small",
    "deberta_v3_base": "microsoft/deberta-v3-base",
    "deberta_v3_large": "microsoft/deberta-v3-large",
    "mdeberta_v3_base": "microsoft/mdeberta-v3-base",
}
#: Weight files of a Hugging Face checkpoint folder (single or sharded).
CHECKPOINT_WEIGHTS = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)


def looks_like_path(value: str) -> bool:
    """A value written as a path (a separator, or starting with ``.`` or ``~``): never a
    pretrained name, so a missing folder is reported as one."""
    separators = {"/", os.sep, os.altsep} - {None}
    return any(sep in value for sep in separators) or value.startswith((".", "~"))


def resolve_model(
    name_or_folder: str,
    lang: str = "en",
    remote_loc: str | None = None,
    task: str | None = None,
) -> Path:
    """A model folder when ``name_or_folder`` is a path to one, else a pretrained name's folder.

    A path that does not exist, or a name spelled like an exported folder (``<name>_<lang>``)
    that is neither a folder nor a cached model, is refused as a missing folder instead of being
    looked up (or downloaded) as a pretrained name. A Hugging Face checkpoint folder is refused
    with the ``spark-deberta export`` command that makes a model folder of it (``task``: the
    task the caller needs, passed to the exporter as ``--task``).
    """
    path = Path(name_or_folder).expanduser()
    if path.is_dir():
        _refuse_checkpoint(path, name_or_folder, task)
        return path
    folder_like = name_or_folder.endswith(f"_{lang}")
    if looks_like_path(name_or_folder) or (
        folder_like
        and _local_pretrained(name_or_folder, lang) is None
        and not (remote_loc or os.environ.get("SPARK_DEBERTA_REMOTE"))
    ):
        where = "" if path.is_absolute() else f" (looked in {path.absolute()})"
        hint = ""
        if folder_like and not looks_like_path(name_or_folder):
            name = name_or_folder[: -len(lang) - 1]
            hint = f"; for the pretrained model {name} ({lang}), give the name without _{lang}"
        raise ModelFolderError(f"model folder not found: {name_or_folder}{where}{hint}")
    return resolve_pretrained(name_or_folder, lang, remote_loc, task=task)


def _refuse_checkpoint(path: Path, given: str, task: str | None) -> None:
    """Raise for a Hugging Face DeBERTa-v2/v3 checkpoint (config.json, weights, no manifest),
    naming the export command for it; return for anything else (checked when it loads)."""
    config = path / "config.json"
    if (path / MANIFEST).exists() or not config.is_file():
        return
    if not any((path / name).is_file() for name in CHECKPOINT_WEIGHTS):
        return
    try:
        settings = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return
    if not isinstance(settings, dict) or settings.get("model_type") != "deberta-v2":
        return
    folder = str(path)  # ~ expanded: the shell would not expand it inside quotes
    out = f"{folder}_onnx"
    command = f"spark-deberta export --checkpoint {shlex.quote(folder)} --out {shlex.quote(out)}"
    if task is not None:  # else the exporter takes the checkpoint's own task
        command += f" --task {task}"
    raise ModelFolderError(
        f"{given} is a Hugging Face checkpoint (model_type deberta-v2), not an exported model "
        f"folder (no {MANIFEST}); export it with: {command} (needs the export extra and "
        f"torch), then use {out}"
    )


def _local_pretrained(name: str, lang: str) -> Path | None:
    """The cached or bundled folder of a pretrained name, if there is one."""
    key = model_key(name, lang)
    for candidate in (cache_dir() / key, BUNDLED_DIR / key):
        if (candidate / MANIFEST).is_file():
            return candidate
    return None


def _export_command(name: str, lang: str) -> str:
    """The export that fills the cache folder ``resolve_pretrained`` looks in for ``name``."""
    target = cache_dir() / model_key(name, lang)
    checkpoint = KNOWN_CHECKPOINTS.get(name, "CHECKPOINT")
    return (
        f"spark-deberta export --checkpoint {checkpoint} --out {shlex.quote(str(target))} "
        f"--name {shlex.quote(name)} --lang {shlex.quote(lang)} (needs the export extra and torch)"
    )


#: A Hugging Face hub id: ``owner/name``, each part starting with a letter or digit.
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def is_hub_id(name: str) -> bool:
    """``owner/name`` and no such path here: ``pretrained("microsoft/deberta-v3-xsmall")``."""
    return HUB_ID.fullmatch(name) is not None and not Path(name).exists()


def resolve_pretrained(
    name: str, lang: str = "en", remote_loc: str | None = None, task: str | None = None
) -> Path:
    """The folder of a pretrained model, downloading (or, for a hub id, exporting) it into the
    cache when needed. ``task``: the task a hub checkpoint is exported for (None: its own)."""
    from annotators.deberta.model_repository import (
        PUBLIC_FOLDER,
        RepositoryMissError,
        download_reference_model,
        repository_url,
    )

    if is_hub_id(name):
        return export_hub_checkpoint(name, lang, task)
    local = _local_pretrained(name, lang)
    if local is not None:
        return local
    remote = remote_loc or os.environ.get("SPARK_DEBERTA_REMOTE")
    if remote and remote.strip("/") != PUBLIC_FOLDER:
        return download_pretrained(name, lang, remote)
    base = repository_url()
    if base is None:
        raise ModelFolderError(
            f"model {name} ({lang}) is not in the cache {cache_dir()} and no remote location is "
            f"set (SPARK_DEBERTA_REMOTE); export it into the cache with: "
            f"{_export_command(name, lang)}"
        )
    key = model_key(name, lang)
    target = cache_dir() / key
    try:
        with _locked(cache_dir() / f".{key}.lock"):
            if (target / MANIFEST).is_file():  # another process filled it while we waited
                return target
            return download_reference_model(
                name,
                lang,
                base,
                target,
                timeout=reference_timeout(),
                deadline_s=DOWNLOAD_DEADLINE_S,
            )
    except RepositoryMissError as miss:
        raise ModelFolderError(
            f"model {name} ({lang}) is not in the cache {cache_dir()} and {miss}; export it "
            f"into the cache with: {_export_command(name, lang)}"
        ) from miss


def reference_timeout() -> float:
    """Seconds each read from Spark NLP's repository may wait
    (``SPARK_DEBERTA_DOWNLOAD_TIMEOUT``, default ``DOWNLOAD_TIMEOUT_S``)."""
    value = os.environ.get("SPARK_DEBERTA_DOWNLOAD_TIMEOUT", "")
    try:
        seconds = float(value) if value else DOWNLOAD_TIMEOUT_S
    except ValueError as exc:
        raise ModelFolderError(
            f"SPARK_DEBERTA_DOWNLOAD_TIMEOUT must be a number of seconds, got {value!r}"
        ) from exc
    if not seconds > 0:
        raise ModelFolderError(f"SPARK_DEBERTA_DOWNLOAD_TIMEOUT must be positive, got {value!r}")
    return seconds


def hub_key(hub_id: str, lang: str, task: str | None) -> str:
    """The cache folder of an exported hub checkpoint: ``hf--owner--name_<lang>[--task]``."""
    key = "hf--" + hub_id.replace("/", "--") + f"_{lang}"
    return key if task is None else f"{key}--{task}"


EXPORT_INSTALL = "pip install 'spark-deberta[export]' torch==2.13.0"


def export_hub_checkpoint(hub_id: str, lang: str = "en", task: str | None = None) -> Path:
    """Export the hub checkpoint ``hub_id`` into the cache, once (under a lock), with the
    exporter's parity proof; later calls find the folder in the cache."""
    key = hub_key(hub_id, lang, task)
    target = cache_dir() / key
    if (target / MANIFEST).is_file():
        return target
    try:
        import onnx  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelFolderError(
            f"{hub_id} is a Hugging Face hub id; exporting it into the cache needs the export "
            f"extra ({exc.name or exc} is missing): {EXPORT_INSTALL} (the CPU wheel: "
            "--index-url https://download.pytorch.org/whl/cpu); or export it where those are "
            f"installed with: spark-deberta export --checkpoint {hub_id} --out "
            f"{shlex.quote(str(target))} and load that folder"
        ) from exc
    from annotators.deberta.export import PICKLE_WEIGHTS, export_checkpoint

    with _locked(cache_dir() / f".{key}.lock"):
        if (target / MANIFEST).is_file():  # another process exported it while we waited
            return target
        try:
            export_checkpoint(hub_id, target, task=task, name=hub_id, lang=lang, overwrite=True)
        except ExportError as refused:
            if PICKLE_WEIGHTS.split("*")[0] not in str(refused):
                raise
            # pretrained() never opts in to reading pickled weights; the user may, by name.
            raise ModelFolderError(
                f"{refused}. pretrained() does not read such weights; if you trust "
                f"{hub_id}, export it yourself: spark-deberta export --checkpoint {hub_id} "
                f"--allow-unsafe-bin-checkpoint --out {shlex.quote(str(target))} --lang {lang}"
            ) from refused
    return target


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_remote(location: str, timeout: float) -> Any:
    parsed = urllib.parse.urlparse(location)
    if parsed.scheme in ("http", "https", "file"):
        return urllib.request.urlopen(location, timeout=timeout)  # schemes checked above
    if parsed.scheme == "":
        return open(location, "rb")
    raise ModelFolderError(f"remote location {location} must be http(s)://, file:// or a path")


def _join(base: str, name: str) -> str:
    if urllib.parse.urlparse(base).scheme in ("http", "https", "file"):
        return base.rstrip("/") + "/" + urllib.parse.quote(name)
    return str(Path(base) / name)


def _read_bounded(
    location: str, timeout: float, deadline: float, limit: int, sink: Any, what: str
) -> int:
    """Copy a remote body into ``sink`` (``write``), refusing more than ``limit`` bytes and
    stopping at ``deadline`` (a ``time.monotonic`` value): a server that drips bytes cannot
    hold the download, and the cache lock, for longer."""
    received = 0
    with _open_remote(location, min(timeout, max(deadline - time.monotonic(), 0.1))) as response:
        read = getattr(response, "read1", response.read)
        while block := read(1 << 16):
            received += len(block)
            if received > limit:
                raise ModelFolderError(f"{what} is larger than {limit} bytes: refusing it")
            if time.monotonic() > deadline:
                raise ModelFolderError(f"{what} did not arrive within the download deadline")
            sink(block)
    return received


def check_index(index: object, where: str) -> list[dict[str, Any]]:
    """The index's model entries, every field type-checked; errors name the entry and field."""
    if not isinstance(index, dict) or not isinstance(index.get("models"), list):
        raise ModelFolderError(f"{where}: expected an object with a 'models' list")
    entries = []
    for number, entry in enumerate(index["models"]):
        if not isinstance(entry, dict):
            raise ModelFolderError(f"{where}: models[{number}] is not an object")
        for field, (kind, required) in _INDEX_FIELDS.items():
            value = entry.get(field)
            if value is None and not required:
                continue
            if not isinstance(value, kind) or isinstance(value, bool) or value == "":
                raise ModelFolderError(
                    f"{where}: models[{number}].{field} must be {TYPE_NAMES[kind]}, got {value!r}"
                )
            if kind is int and value < 0:
                raise ModelFolderError(f"{where}: models[{number}].{field} is negative")
        if not is_plain_file_name(entry["file"]):
            raise ModelFolderError(
                f"{where}: models[{number}].file {entry['file']!r} must be a plain file name "
                "beside index.json"
            )
        if not re.fullmatch(r"[0-9a-f]{64}", entry["sha256"]):
            raise ModelFolderError(
                f"{where}: models[{number}].sha256 must be 64 lowercase hex digits"
            )
        entries.append(entry)
    return entries


def download_pretrained(
    name: str,
    lang: str,
    remote: str,
    timeout: float = DOWNLOAD_TIMEOUT_S,
    deadline_s: float = DOWNLOAD_DEADLINE_S,
) -> Path:
    """Fetch ``index.json`` and the model's zip from ``remote``; verify, unpack, move into place.

    Bounded: each read waits at most ``timeout`` seconds, the whole download ``deadline_s``,
    and the zip and its unpacked files may not exceed the sizes the index gives (or defaults).
    """
    key = model_key(name, lang)
    target = cache_dir() / key
    with _locked(cache_dir() / f".{key}.lock"):
        if (target / MANIFEST).is_file():  # another process filled it while we waited
            return target
        deadline = time.monotonic() + deadline_s
        where = _join(remote, "index.json")
        body = bytearray()
        try:
            _read_bounded(where, timeout, deadline, INDEX_MAX_BYTES, body.extend, where)
            index = json.loads(body.decode("utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFolderError(f"cannot read index.json at {remote}: {exc}") from exc
        listed = check_index(index, where)
        entry = next((e for e in listed if (e["name"], e["lang"]) == (name, lang)), None)
        if entry is None:
            raise ModelFolderError(f"model {name} ({lang}) is not listed in {remote}/index.json")
        cache_dir().mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix=f".{key}.") as work:
            archive = Path(work) / "model.zip"
            digest = hashlib.sha256()
            what = f"{entry['file']} from {remote}"
            try:
                with open(archive, "wb") as out:

                    def sink(block: bytes) -> None:
                        digest.update(block)
                        out.write(block)

                    size = _read_bounded(
                        _join(remote, entry["file"]),
                        timeout,
                        deadline,
                        entry.get("bytes", DEFAULT_MAX_ARCHIVE_BYTES),
                        sink,
                        what,
                    )
            except OSError as exc:
                raise ModelFolderError(f"download of {what} failed: {exc}") from exc
            if "bytes" in entry and size != entry["bytes"]:
                raise ModelFolderError(
                    f"{what} has {size} bytes, the index says {entry['bytes']}: refusing it"
                )
            if digest.hexdigest() != entry["sha256"]:
                raise ModelFolderError(
                    f"{what} has sha256 {digest.hexdigest()}, the index says "
                    f"{entry['sha256']}: refusing it"
                )
            unpacked = Path(work) / key
            limit = entry.get("unpacked_bytes", DEFAULT_MAX_EXPANSION * size + (1 << 20))
            safe_extract(archive, unpacked, max_bytes=limit)
            root = unpacked if (unpacked / MANIFEST).is_file() else _single_child(unpacked)
            load_model_folder(root)
            os.replace(root, target)
    return target


def _single_child(folder: Path) -> Path:
    children = [c for c in folder.iterdir()]
    if len(children) == 1 and (children[0] / MANIFEST).is_file():
        return children[0]
    raise ModelFolderError(f"the archive holds no {MANIFEST} at its top level")


#: At most this many members in one archive: a model folder has a handful of files, and each
#: member costs a file and its checks before any byte limit is reached.
MAX_ZIP_ENTRIES = 10_000


def safe_extract(archive: Path, target: Path, max_bytes: int | None = None) -> None:
    """Unzip refusing absolute paths, ``..`` components, backslashes, symbolic links, names
    given twice, more than ``MAX_ZIP_ENTRIES`` members and, with ``max_bytes``, more unpacked
    bytes than that (counted as written, not as declared). An archive that cannot be read (not
    a zip, a bad CRC, a truncated stream, an encrypted member or an unknown compression) is a
    ModelFolderError naming the archive and the member."""
    import struct
    import zlib

    unreadable = (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        struct.error,
        EOFError,
        NotImplementedError,  # a compression method Python does not have
        RuntimeError,  # an encrypted member
        UnicodeDecodeError,
        OSError,
        ValueError,
    )
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    try:
        zipped = zipfile.ZipFile(archive)
    except unreadable as exc:
        raise ModelFolderError(f"{archive} is not a readable zip archive ({exc})") from exc
    with zipped:
        members = zipped.infolist()
        if len(members) > MAX_ZIP_ENTRIES:
            raise ModelFolderError(
                f"{archive.name} holds {len(members)} members, more than the "
                f"{MAX_ZIP_ENTRIES} a model archive may have: refusing it"
            )
        seen: set[str] = set()
        for info in members:
            name = info.filename
            mode = info.external_attr >> 16
            if (mode & 0o170000) == 0o120000:
                raise ModelFolderError(f"archive member {name} is a symbolic link: refusing it")
            if (
                not name.strip("/")
                or name.startswith("/")
                or "\\" in name
                or ".." in Path(name).parts
                or ":" in name
            ):
                raise ModelFolderError(
                    f"archive member {name!r} points outside the target: refusing it"
                )
            destination = (root / name).resolve()
            if root not in destination.parents:
                raise ModelFolderError(
                    f"archive member {name!r} points outside the target: refusing it"
                )
            if str(destination) in seen:
                raise ModelFolderError(f"archive member {name!r} is given twice: refusing it")
            seen.add(str(destination))
        written = 0
        for info in members:
            destination = root / info.filename
            try:
                if info.is_dir():
                    destination.mkdir(parents=True, exist_ok=True)
                    continue
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, open(destination, "xb") as out:
                    while block := source.read(1 << 20):
                        written += len(block)
                        if max_bytes is not None and written > max_bytes:
                            raise ModelFolderError(
                                f"{archive.name} unpacks to more than {max_bytes} bytes: "
                                "refusing it"
                            )
                        out.write(block)
            except ModelFolderError:
                raise
            except unreadable as exc:
                raise ModelFolderError(
                    f"{archive.name}: member {info.filename!r} cannot be unpacked ({exc}): the "
                    "archive is corrupt"
                ) from exc


#: A fixed time for every zip member, so publishing the same folder twice gives the same zip.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def publish_models(folders: list[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    """Zip each model folder into ``out`` as ``<name>_<lang>.zip`` and list them in
    ``out/index.json`` (``name``, ``lang``, ``file``, ``sha256``, ``bytes``, ``unpacked_bytes``),
    the index ``download_pretrained`` reads. Entries already there for other models are kept;
    one for the same name and language is replaced. Each folder is checked as a reader would
    check it first (manifest, files, checksums)."""
    target = Path(out).expanduser()
    target.mkdir(parents=True, exist_ok=True)
    index_path = target / "index.json"
    entries: list[dict[str, Any]] = []
    if index_path.exists():
        try:
            found = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelFolderError(f"{index_path} is not an index: {exc}") from exc
        entries = check_index(found, str(index_path))
    models = {}
    for given in folders:  # every folder is checked before anything is written
        model = load_model_folder(given)
        name, lang = model.manifest.name, model.manifest.language
        if (name, lang) in models:
            raise ModelFolderError(
                f"{given} is {name} ({lang}) again: publish one folder per name and language"
            )
        if not is_plain_file_name(f"{model_key(name, lang)}.zip"):
            raise ModelFolderError(f"{given}: the name {name!r} cannot make a zip file name")
        models[(name, lang)] = model
    published: dict[tuple[str, str], dict[str, Any]] = {}
    staged: dict[Path, Path] = {}
    try:
        for (name, lang), model in models.items():
            key = model_key(name, lang)
            with tempfile.NamedTemporaryFile(dir=target, prefix=f".{key}.", delete=False) as zip_:
                staged[Path(zip_.name)] = target / f"{key}.zip"
            published[(name, lang)] = {
                "name": name,
                "lang": lang,
                "file": f"{key}.zip",
                **_zip_model(model.path, [MANIFEST, *sorted(model.manifest.files)], key, zip_.name),
            }
        for temp, final in staged.items():
            os.replace(temp, final)
    finally:
        for temp in staged:
            temp.unlink(missing_ok=True)
    kept = [e for e in entries if (e["name"], e["lang"]) not in published]
    index = {"models": kept + list(published.values())}
    check_index(index, str(index_path))
    with tempfile.NamedTemporaryFile(
        "w", dir=target, prefix=".index.", suffix=".json", delete=False, encoding="utf-8"
    ) as handle:
        json.dump(index, handle, indent=2)
        handle.write("\n")
    os.replace(handle.name, index_path)
    return index_path


def _zip_model(folder: Path, members: list[str], key: str, archive: str) -> dict[str, Any]:
    """Write ``members`` of ``folder`` under ``key/`` into ``archive``; its index fields."""
    unpacked = 0
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in members:
            info = zipfile.ZipInfo(f"{key}/{member}", date_time=_ZIP_TIME)
            info.external_attr = 0o644 << 16
            graph = member.endswith((".onnx", "_data"))  # weights barely compress
            info.compress_type = zipfile.ZIP_STORED if graph else zipfile.ZIP_DEFLATED
            with open(folder / member, "rb") as reader, zipped.open(info, "w") as writer:
                while block := reader.read(1 << 20):
                    unpacked += len(block)
                    writer.write(block)
    digest = hashlib.sha256()
    with open(archive, "rb") as reader:
        while block := reader.read(1 << 20):
            digest.update(block)
    return {
        "sha256": digest.hexdigest(),
        "bytes": Path(archive).stat().st_size,
        "unpacked_bytes": unpacked,
    }
