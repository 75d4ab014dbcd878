"""The model folder: ``model.onnx`` (+ ``model_int8.onnx``), ``spm.model``, ``manifest.json``.

Loading is strict and happens on the driver before any Spark job: every file listed in the
manifest must exist, be a plain file inside the folder (no link) and match its sha256, the
manifest must have exactly the known fields, and a folder written by a newer format is refused.
Each error names the file and says what to do. Only ONNX, SentencePiece and JSON are read;
nothing is unpickled.

A graph may keep tensors in external-data files (``location`` in each tensor's
``external_data``). ONNX Runtime before 1.20 opens whatever path that names, ``../`` and absolute
ones included, so every location is checked here, on the bytes of the protobuf and before any
session exists, whatever the runtime's version: a plain file name listed (so checksummed) in the
manifest. The protobuf is walked by hand (wire format, a few field numbers of ``onnx.proto``)
because ``onnx`` is not a runtime dependency; tensors inside node attributes, subgraphs, sparse
tensors, training graphs and model-local functions are walked too.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Collection, Iterator
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
    is_plain_file_name,
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
        if file.is_symlink() or file.resolve().parent != path:
            raise ModelFolderError(
                f"model file {file} is a link: a model folder holds its own files, not links "
                "to files elsewhere; copy the file into the folder"
            )
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
        check_external_data(file, folder.manifest.files)
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


# --- ONNX external data, read from the protobuf's wire format -----------------------------------

#: Protobuf wire types.
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
#: ``onnx.proto`` field numbers of the messages that lead to a tensor (tests check them against
#: onnx's own descriptors when onnx is installed).
MODEL_GRAPH, MODEL_TRAINING_INFO, MODEL_FUNCTIONS = 7, 20, 25
TRAINING_GRAPHS = (1, 2)  # initialization, algorithm
FUNCTION_NODE, FUNCTION_ATTRIBUTE_PROTO = 7, 11
GRAPH_NODE, GRAPH_INITIALIZER, GRAPH_SPARSE_INITIALIZER = 1, 5, 15
NODE_OP_TYPE, NODE_ATTRIBUTE = 4, 5
ATTRIBUTE_TENSORS = (5, 10)  # t, tensors
ATTRIBUTE_GRAPHS = (6, 11)  # g, graphs
ATTRIBUTE_SPARSE_TENSORS = (22, 23)  # sparse_tensor, sparse_tensors
SPARSE_TENSORS = (1, 2)  # values, indices
TENSOR_NAME, TENSOR_EXTERNAL_DATA, TENSOR_DATA_LOCATION = 8, 13, 14
ENTRY_KEY, ENTRY_VALUE = 1, 2
EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
#: Nodes whose attributes name files for an execution provider to read (``ep_cache_context``).
FILE_READING_OPS = frozenset({"EPContext"})
#: Deeper nesting of subgraphs than any real model has: refused rather than recursed into.
MAX_DEPTH = 64


class _MalformedError(Exception):
    """The bytes are not a well-formed protobuf message."""


def _fields(data: memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """(field number, wire type, value) of each field of one message; a length-delimited value
    is a view of its bytes, a varint its number, fixed-width values are skipped as 0."""
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _MalformedError("field number 0")
        if wire == _VARINT:
            value, position = _varint(data, position)
            yield number, wire, value
        elif wire == _BYTES:
            size, position = _varint(data, position)
            if position + size > end:
                raise _MalformedError("a field runs past the end of its message")
            yield number, wire, data[position : position + size]
            position += size
        elif wire in (_FIXED64, _FIXED32):
            position += 8 if wire == _FIXED64 else 4
            if position > end:
                raise _MalformedError("a field runs past the end of its message")
            yield number, wire, 0
        else:  # groups (3, 4) are not used by onnx.proto; 6 and 7 do not exist
            raise _MalformedError(f"wire type {wire}")


def _varint(data: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise _MalformedError("a truncated or overlong varint")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _messages(data: memoryview, numbers: Collection[int]) -> Iterator[memoryview]:
    for number, wire, value in _fields(data):
        if number in numbers:
            if wire != _BYTES or not isinstance(value, memoryview):
                raise _MalformedError(f"field {number} is not a message")
            yield value


def _text(value: int | memoryview) -> str:
    if not isinstance(value, memoryview):
        raise _MalformedError("a string field is not length-delimited")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _MalformedError("a string field is not UTF-8") from exc


@dataclass(frozen=True)
class ExternalTensor:
    """One tensor that keeps its data outside the graph file."""

    tensor: str
    #: ``location``, or None when the tensor says EXTERNAL without naming a file.
    location: str | None
    offset: str | None
    length: str | None


def external_tensors(graph: bytes | memoryview) -> list[ExternalTensor]:
    """Every tensor in the serialized ModelProto ``graph`` that names external data (or says
    its data is external), wherever it sits. Raises ModelFolderError (a ValueError) when the
    bytes are malformed."""
    found: list[ExternalTensor] = []
    try:
        _walk_model(memoryview(graph), found)
    except _MalformedError as exc:
        raise ModelFolderError(f"not a well-formed ONNX protobuf ({exc})") from exc
    return found


def _walk_model(data: memoryview, found: list[ExternalTensor]) -> None:
    for number, wire, value in _fields(data):
        if wire != _BYTES or not isinstance(value, memoryview):
            continue
        if number == MODEL_GRAPH:
            _walk_graph(value, found, 1)
        elif number == MODEL_TRAINING_INFO:
            for graph in _messages(value, TRAINING_GRAPHS):
                _walk_graph(graph, found, 1)
        elif number == MODEL_FUNCTIONS:
            for inner, inner_wire, item in _fields(value):
                if inner_wire == _BYTES and isinstance(item, memoryview):
                    if inner == FUNCTION_NODE:
                        _walk_node(item, found, 1)
                    elif inner == FUNCTION_ATTRIBUTE_PROTO:
                        _walk_attribute(item, found, 1)


def _walk_graph(data: memoryview, found: list[ExternalTensor], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise _MalformedError(f"subgraphs nested deeper than {MAX_DEPTH}")
    for number, wire, value in _fields(data):
        if wire != _BYTES or not isinstance(value, memoryview):
            continue
        if number == GRAPH_NODE:
            _walk_node(value, found, depth)
        elif number == GRAPH_INITIALIZER:
            _walk_tensor(value, found)
        elif number == GRAPH_SPARSE_INITIALIZER:
            for tensor in _messages(value, SPARSE_TENSORS):
                _walk_tensor(tensor, found)


def _walk_node(data: memoryview, found: list[ExternalTensor], depth: int) -> None:
    for number, _wire, value in _fields(data):
        if number == NODE_OP_TYPE and _text(value) in FILE_READING_OPS:
            raise _MalformedError(
                f"a {_text(value)} node, which makes the runtime read a file the graph names"
            )
        if number == NODE_ATTRIBUTE and isinstance(value, memoryview):
            _walk_attribute(value, found, depth)


def _walk_attribute(data: memoryview, found: list[ExternalTensor], depth: int) -> None:
    for number, wire, value in _fields(data):
        if wire != _BYTES or not isinstance(value, memoryview):
            continue
        if number in ATTRIBUTE_TENSORS:
            _walk_tensor(value, found)
        elif number in ATTRIBUTE_GRAPHS:
            _walk_graph(value, found, depth + 1)
        elif number in ATTRIBUTE_SPARSE_TENSORS:
            for tensor in _messages(value, SPARSE_TENSORS):
                _walk_tensor(tensor, found)


def _walk_tensor(data: memoryview, found: list[ExternalTensor]) -> None:
    name, external, entries = "", False, {}
    for number, wire, value in _fields(data):
        if number == TENSOR_NAME:
            name = _text(value)
        elif number == TENSOR_DATA_LOCATION:
            external = wire == _VARINT and value == EXTERNAL
        elif number == TENSOR_EXTERNAL_DATA:
            if not isinstance(value, memoryview):
                raise _MalformedError("external_data is not a message")
            key = entry = ""
            for inner, _inner_wire, item in _fields(value):
                if inner == ENTRY_KEY:
                    key = _text(item)
                elif inner == ENTRY_VALUE:
                    entry = _text(item)
            if key in entries:
                raise _MalformedError(f"tensor {name!r} names its external {key!r} twice")
            entries[key] = entry
    if external or entries:
        found.append(
            ExternalTensor(
                name, entries.get("location"), entries.get("offset"), entries.get("length")
            )
        )


#: The folder's own files, which are never a tensor's external data.
FOLDER_OWN_FILES = frozenset({MANIFEST, MODEL_FILE, INT8_MODEL_FILE, SPM_FILE})


def check_external_data(file: Path, listed: Collection[str]) -> None:
    """Refuse a graph whose tensors take data from anywhere but a plain file name in ``listed``
    (the manifest's files, checksummed) beside it, or from beyond that file's end.

    Reads the protobuf without loading anything it names; runs before any session is created.
    """
    try:
        tensors = graph_tensors(file)
    except (OSError, ValueError) as exc:
        raise ModelFolderError(
            f"model file {file} is not a loadable ONNX model ({exc}); re-export it with "
            "spark-deberta export"
        ) from exc
    for tensor in tensors:
        where = f"model file {file}: tensor {tensor.tensor!r}"
        location = tensor.location
        if location is None:
            raise ModelFolderError(f"{where} says its data is external but names no file")
        if not is_plain_file_name(location) or ":" in location:
            raise ModelFolderError(
                f"{where} takes its data from {location!r}, which is not a plain file name in "
                "the model folder: refusing a graph that reads outside its folder"
            )
        if location in FOLDER_OWN_FILES or location not in listed:
            raise ModelFolderError(
                f"{where} takes its data from {location!r}, which the manifest does not list "
                "as a data file (so it is not checksummed); re-export the model"
            )
        data_file = file.parent / location
        size = data_file.stat().st_size if data_file.is_file() else 0
        offset = _decimal(tensor.offset, 0, where, "offset")
        length = _decimal(tensor.length, max(size - offset, 0), where, "length")
        if offset > size or offset + length > size:
            raise ModelFolderError(
                f"{where} reads bytes {offset} to {offset + length} of {location}, which has "
                f"{size}: the data file is truncated or does not belong to this graph"
            )


def graph_tensors(file: Path) -> list[ExternalTensor]:
    """``external_tensors`` of the file, memory-mapped (a graph can be 2 GB)."""
    with open(file, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return external_tensors(b"")
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        try:
            return external_tensors(mapped)
        finally:
            # Views still held by a traceback keep it open until they are collected.
            with contextlib.suppress(BufferError):
                mapped.close()


def _decimal(text: str | None, default: int, where: str, what: str) -> int:
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()):
        raise ModelFolderError(f"{where} has external data {what} {text!r}, not a number")
    return int(text)
