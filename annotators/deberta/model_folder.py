"""The model folder: ``model.onnx`` (+ ``model_int8.onnx``), ``spm.model``, ``manifest.json``.

Loading is strict and happens on the driver before any Spark job: every file listed in the
manifest must exist and match its sha256, the manifest must have exactly the known fields, and a
folder written by a newer format is refused. Each error names the file and says what to do.
Only ONNX, SentencePiece and JSON are read; nothing is unpickled.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from annotators.deberta.manifest import (
    EXPORT_HINT,
    INT8_MODEL_FILE,
    MANIFEST,
    MODEL_FILE,
    MODEL_INPUTS,
    SPM_FILE,
    Manifest,
    read_manifest,
    sha256_of,
)
from annotators.errors import ModelFolderError

#: The model file each precision reads: bf16 is computed by the engine from the fp32 graph.
PRECISIONS = {"fp32": MODEL_FILE, "bf16": MODEL_FILE, "int8": INT8_MODEL_FILE}
SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[UNK]")


@dataclass(frozen=True)
class ModelFolder:
    """A checked model folder: its path and manifest."""

    path: Path
    manifest: Manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def dimension(self) -> int:
        return self.manifest.dimension

    @property
    def case_sensitive(self) -> bool:
        return self.manifest.case_sensitive

    @property
    def labels(self) -> list[str] | None:
        return self.manifest.labels

    def model_file(self, precision: str = "fp32") -> Path:
        if precision not in PRECISIONS:
            raise ModelFolderError(
                f"precision '{precision}' is not supported; choose one of: {', '.join(PRECISIONS)}"
            )
        name = PRECISIONS[precision]
        if name not in self.manifest.files:
            raise ModelFolderError(
                f"{self.path} has no {precision} model ({name}); export it with "
                "spark-deberta export ... --quantize int8"
            )
        return self.path / name

    def checksum(self, precision: str = "fp32") -> str:
        return self.manifest.files[PRECISIONS[precision]].sha256

    @property
    def spm_file(self) -> Path:
        return self.path / SPM_FILE


def load_model_folder(folder: str | os.PathLike[str]) -> ModelFolder:
    """Read and check a model folder; raise ModelFolderError naming what is wrong."""
    path = Path(folder).expanduser().resolve()
    manifest = read_manifest(path)
    for name, info in manifest.files.items():
        file = path / name
        if not file.is_file():
            raise ModelFolderError(f"model file {name} is missing in {path}; {EXPORT_HINT}")
        if file.stat().st_size != info.bytes:
            raise ModelFolderError(
                f"model file {file} has {file.stat().st_size} bytes, the manifest says "
                f"{info.bytes}: it is truncated or replaced; re-export or re-download it"
            )
        if file_sha256(file) != info.sha256:
            raise ModelFolderError(
                f"model file {file} does not match its sha256 in {MANIFEST}: it is corrupt or "
                "was changed; re-export or re-download it"
            )
    folder_ = ModelFolder(path, manifest)
    check_vocabulary(folder_)
    check_graphs(folder_)
    return folder_


#: Files already hashed and graphs already checked in this process, by (path, size, mtime):
#: a job loads its model several times on the driver, and hashing 200 MB costs half a second.
_CHECKED: dict[tuple[str, int, int, str], str] = {}


def _stat_key(file: Path, what: str) -> tuple[str, int, int, str]:
    stat = file.stat()
    return (str(file), stat.st_size, stat.st_mtime_ns, what)


def file_sha256(file: Path) -> str:
    """``sha256_of``, remembered while the file's size and mtime stay the same."""
    key = _stat_key(file, "sha256")
    if key not in _CHECKED:
        _CHECKED[key] = sha256_of(file)
    return _CHECKED[key]


def check_graphs(folder: ModelFolder) -> None:
    """Each ONNX file must load and have the manifest's inputs and output.

    A graph exported by other tools (``token_type_ids``, other names) would otherwise fail in
    every worker at its first batch.
    """
    import onnxruntime as ort

    expected = list(folder.manifest.inputs)
    if sorted(expected) != sorted(MODEL_INPUTS):
        raise ModelFolderError(
            f"{folder.path / MANIFEST} lists inputs {expected}; this library feeds "
            f"{list(MODEL_INPUTS)}: re-export the model with spark-deberta export"
        )
    for name in dict.fromkeys(PRECISIONS.values()):
        if name not in folder.manifest.files:
            continue
        file = folder.path / name
        key = _stat_key(file, "graph")
        if key in _CHECKED:
            continue
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            session = ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelFolderError(
                f"model file {file} is not a loadable ONNX model ({exc}); re-export it with "
                "spark-deberta export"
            ) from exc
        inputs = sorted(i.name for i in session.get_inputs())
        outputs = [o.name for o in session.get_outputs()]
        if inputs != sorted(MODEL_INPUTS):
            raise ModelFolderError(
                f"model file {file} takes inputs {inputs}; this library feeds "
                f"{list(MODEL_INPUTS)}: export the model with spark-deberta export"
            )
        wanted = folder.manifest.output
        if any(name not in outputs for name in folder.manifest.outputs):
            raise ModelFolderError(
                f"model file {file} has outputs {outputs}, not the manifest's "
                f"{wanted!r}: re-export the model with spark-deberta export"
            )
        _CHECKED[key] = "ok"


def check_vocabulary(folder: ModelFolder) -> None:
    """The spm.model must hold the special pieces at the manifest's ids and fit the vocabulary."""
    import sentencepiece as spm

    processor = spm.SentencePieceProcessor()
    try:
        processor.LoadFromSerializedProto(folder.spm_file.read_bytes())
    except Exception as exc:  # sentencepiece raises RuntimeError/OSError variants
        raise ModelFolderError(f"{folder.spm_file} is not a SentencePiece model: {exc}") from exc
    special = folder.manifest.special_tokens
    for piece in SPECIAL_TOKENS:
        found = processor.PieceToId(piece)
        if processor.IdToPiece(found) != piece or special.get(piece) != found:
            raise ModelFolderError(
                f"{folder.spm_file} gives {piece} id {found}, the manifest says "
                f"{special.get(piece)}: the spm.model does not belong to this model"
            )
    if processor.GetPieceSize() > folder.manifest.vocab_size:
        raise ModelFolderError(
            f"{folder.spm_file} has {processor.GetPieceSize()} pieces, more than the model's "
            f"vocabulary of {folder.manifest.vocab_size}: it does not belong to this model"
        )
