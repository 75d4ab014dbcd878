"""``manifest.json``: what a model folder holds, as one typed record, and the one writer of
model folders (export, import from Spark NLP, and anything later that makes one).

The fields are the dataclass's; each says whether it is required (no default) and, for the
scalars, the JSON type it must have (``kind``: a string "false" must not read as true). Reading
is strict: unknown or missing fields, a newer ``format_version``, a task no stage runs and file
names that leave the folder are refused with a message that names the file and says what to do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from annotators.errors import ModelFolderError
from annotators.tasks import TASK_NAMES

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_FILE = "model.onnx"
INT8_MODEL_FILE = "model_int8.onnx"
SPM_FILE = "spm.model"
#: The graph inputs the encoder feeds.
MODEL_INPUTS = ("input_ids", "attention_mask")
EXPORT_HINT = (
    "export one with: spark-deberta export --checkpoint microsoft/deberta-v3-xsmall "
    "--out MODEL_DIR (needs the export extra and torch)"
)
#: How a refusal names a JSON type.
TYPE_NAMES = {
    int: "an integer",
    str: "a string",
    bool: "true or false",
    dict: "an object",
    list: "a list",
}


@dataclass(frozen=True, eq=False)
class FileEntry:
    """One file of the folder, as the manifest pins it."""

    sha256: str
    bytes: int

    @classmethod
    def of(cls, path: Path) -> FileEntry:
        return cls(sha256=sha256_of(path), bytes=path.stat().st_size)


@dataclass(frozen=True, eq=False)
class Manifest:
    """The manifest of a model folder."""

    format_version: int = field(metadata={"kind": int})
    name: str = field(metadata={"kind": str})
    language: str = field(metadata={"kind": str})
    #: One of ``annotators.tasks.TASK_NAMES``.
    task: str = field(metadata={"kind": str})
    #: Hidden size: the width of an embeddings model's vectors.
    dimension: int = field(metadata={"kind": int})
    max_position_embeddings: int = field(metadata={"kind": int})
    case_sensitive: bool = field(metadata={"kind": bool})
    vocab_size: int = field(metadata={"kind": int})
    #: [PAD], [CLS], [SEP], [UNK] and their ids.
    special_tokens: dict[str, int] = field(metadata={"kind": dict})
    inputs: list[str] = field(metadata={"kind": list})
    #: The graph output (a name), or several (question answering's start and end logits).
    output: str | list[str] = field(metadata={"kind": None})
    #: The labels in the logits' order; None for embeddings and question answering.
    labels: list[str] | None = field(metadata={"kind": None})
    files: dict[str, FileEntry] = field(metadata={"kind": None})
    #: Where it came from, how it was made and how close it is to the reference model:
    #: free-form provenance, shown by ``spark-deberta export`` and kept for people.
    source: dict[str, Any] = field(metadata={"kind": dict})
    exporter: dict[str, Any] = field(metadata={"kind": dict})
    parity: dict[str, Any] = field(metadata={"kind": dict})
    problem_type: str | None = field(default=None, metadata={"kind": None})
    quantization: dict[str, Any] | None = field(default=None, metadata={"kind": None})

    @property
    def outputs(self) -> tuple[str, ...]:
        return (self.output,) if isinstance(self.output, str) else tuple(self.output)

    @classmethod
    def from_json(cls, data: object, path: Path) -> Manifest:
        """The manifest in ``data`` (read from ``path``), every field checked."""
        if not isinstance(data, dict):
            raise ModelFolderError(f"{path} must hold a JSON object; re-export the model")
        version = data.get("format_version")
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise ModelFolderError(
                f"{path} has format_version {version}, newer than this library reads "
                f"({FORMAT_VERSION}); upgrade spark-deberta"
            )
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ModelFolderError(f"{path} has unknown fields {unknown}; re-export the model")
        missing = sorted(
            name for name, f in known.items() if f.default is MISSING and name not in data
        )
        if missing:
            raise ModelFolderError(f"{path} lacks the fields {missing}; re-export the model")
        if version != FORMAT_VERSION:
            raise ModelFolderError(
                f"{path} has format_version {version!r}; expected {FORMAT_VERSION}"
            )
        for name, f in known.items():
            kind = f.metadata["kind"]
            if kind is None or name not in data:
                continue
            value = data[name]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ModelFolderError(
                    f"{path}: field '{name}' must be {TYPE_NAMES[kind]}, not {value!r}; "
                    "re-export the model"
                )
        if data["task"] not in TASK_NAMES:
            raise ModelFolderError(
                f"{path}: task {data['task']!r} is not one of {list(TASK_NAMES)}"
            )
        files = data["files"]
        if not isinstance(files, dict) or MODEL_FILE not in files:
            raise ModelFolderError(f"{path}: 'files' must list {MODEL_FILE} and {SPM_FILE}")
        output = data["output"]
        if not (
            isinstance(output, str)
            or (isinstance(output, list) and output and all(isinstance(o, str) for o in output))
        ):
            raise ModelFolderError(
                f"{path}: field 'output' must be a string or a list of strings, not {output!r}; "
                "re-export the model"
            )
        _check_contents(data, path)
        entries = {}
        for name, info in files.items():
            if not is_plain_file_name(name):
                raise ModelFolderError(
                    f"{path}: 'files' names {name!r}, which is not a plain file name inside the "
                    "model folder; re-export the model"
                )
            if not (
                isinstance(info, dict)
                and set(info) == {"sha256", "bytes"}
                and _is_count(info["bytes"])
                and isinstance(info["sha256"], str)
                and SHA256.fullmatch(info["sha256"])
            ):
                raise ModelFolderError(
                    f"{path}: 'files' entry {name!r} must be {{\"sha256\": 64 hex digits, "
                    '"bytes": integer >= 0}; re-export the model'
                )
            entries[name] = FileEntry(sha256=info["sha256"], bytes=info["bytes"])
        if SPM_FILE not in entries:
            raise ModelFolderError(f"{path}: 'files' does not list {SPM_FILE}")
        return cls(**{**data, "files": entries})

    def to_json(self) -> dict[str, Any]:
        """The manifest as ``manifest.json`` holds it."""
        return asdict(self)


#: A sha256 as the manifest writes it: 64 lower-case hex digits.
SHA256 = re.compile(r"[0-9a-f]{64}")


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_contents(data: dict[str, Any], path: Path) -> None:
    """What the JSON types alone do not say: sizes are counts, lists hold strings, ids are
    integers. A value outside these would fail far from here (in a worker, at its first batch)."""
    wrong = []
    for name in ("dimension", "vocab_size", "max_position_embeddings"):
        if data[name] < (0 if name == "dimension" else 1):
            wrong.append(f"'{name}' must be {'>= 0' if name == 'dimension' else '>= 1'}")
    if not _is_strings(data["inputs"]):
        wrong.append("'inputs' must be a list of strings")
    labels = data["labels"]
    if labels is not None and not (_is_strings(labels) and labels):
        wrong.append("'labels' must be null or a non-empty list of strings")
    if not all(_is_count(v) for v in data["special_tokens"].values()):
        wrong.append("'special_tokens' must map each piece to an id (an integer >= 0)")
    if data.get("problem_type") is not None and not isinstance(data["problem_type"], str):
        wrong.append("'problem_type' must be null or a string")
    if data.get("quantization") is not None and not isinstance(data["quantization"], dict):
        wrong.append("'quantization' must be null or an object")
    if wrong:
        raise ModelFolderError(f"{path}: field {'; field '.join(wrong)}; re-export the model")


def is_plain_file_name(name: object) -> bool:
    """A name that stays inside its folder: no separators, not '.', '..' or empty."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\x00" not in name
    )


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ModelFolderError(f"model folder {folder} does not exist; {EXPORT_HINT}")
    if not path.is_file():
        raise ModelFolderError(f"model file {MANIFEST} is missing in {folder}; {EXPORT_HINT}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelFolderError(f"{path} cannot be read ({exc})") from exc
    except (ValueError, RecursionError) as exc:  # bad UTF-8, bad JSON, nesting too deep
        raise ModelFolderError(f"{path} is not valid JSON ({exc}); re-export the model") from exc
    return Manifest.from_json(data, path)


def file_entries(folder: Path) -> dict[str, FileEntry]:
    """Every file in ``folder``, pinned by size and sha256 (the manifest itself excluded)."""
    return {
        file.name: FileEntry.of(file)
        for file in sorted(folder.iterdir())
        if file.is_file() and file.name != MANIFEST
    }


def write_model_folder(staged: Path, manifest: Manifest, target: Path) -> Path:
    """Write ``manifest`` into ``staged`` (a folder beside ``target`` holding the files it
    lists), check the whole folder as a reader would, then move it to ``target`` in one rename,
    replacing what was there: a reader sees the old folder or the new one, never half."""
    from annotators.deberta.model_folder import load_model_folder

    text = json.dumps(manifest.to_json(), indent=2) + "\n"
    (staged / MANIFEST).write_text(text, encoding="utf-8")
    load_model_folder(staged)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staged, target)
    return target
