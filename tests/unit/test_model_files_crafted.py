"""Oracle: crafted model folders, archives and Spark NLP folders are all refused as
ModelFolderError, never another exception type, and never load (issue 24, findings 12, 13, 15).

Each case mutates a copy of the bundled model folder (or a Spark NLP folder built from it) in
one way and re-pins the manifest to the mutated bytes, so that the only thing wrong is the
mutation: a tensor whose external data lies outside the folder or is not checksummed (in the
graph, a node attribute, a subgraph, a sparse initializer, a function, a training graph), links,
truncated and garbage files, wrong-typed manifest and params fields, and zips with traversal
names, too many members, a bad CRC and other corruption. The graphs are edited at the protobuf
wire level here (the ``onnx`` package is not needed); where onnx is installed, the edits and the
library's own reader are cross-checked against it. Positive controls (a listed, checksummed data
file; ``"caseSensitive": "false"`` as a string) show the crafting itself is sound.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotators.deberta import model_folder as folder_module
from annotators.deberta.model_folder import external_tensors, load_model_folder
from annotators.deberta.pretrained import BUNDLED_DIR, MAX_ZIP_ENTRIES, safe_extract
from annotators.deberta.spark_nlp_folder import import_spark_nlp_folder
from annotators.errors import ModelFolderError
from tests.unit.test_spark_nlp_folders import PACKAGE, spark_nlp_folder

BUNDLED = BUNDLED_DIR / "deberta_v3_tiny_random_en"
EMBEDDINGS_CLASS = f"{PACKAGE}.embeddings.DeBertaEmbeddings"
TOKEN_CLASS = f"{PACKAGE}.annotators.classifier.dl.DeBertaForTokenClassification"

# --- a small protobuf wire-format editor (independent of the library's reader) ------------------

Field = tuple[int, int, "bytes | int"]


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def parse(data: bytes) -> list[Field]:
    fields: list[Field] = []
    position = 0
    while position < len(data):
        key, position = read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = read_varint(data, position)
            fields.append((number, wire, value))
        elif wire == 2:
            size, position = read_varint(data, position)
            fields.append((number, wire, data[position : position + size]))
            position += size
        else:
            width = 8 if wire == 1 else 4
            fields.append((number, wire, data[position : position + width]))
            position += width
    return fields


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def serialize(fields: list[Field]) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += varint(number << 3 | wire)
        if wire == 0:
            out += varint(int(value))
        elif wire == 2:
            out += varint(len(value)) + bytes(value)  # type: ignore[arg-type]
        else:
            out += bytes(value)  # type: ignore[arg-type]
    return bytes(out)


def message(*fields: Field) -> bytes:
    return serialize(list(fields))


def text(number: int, value: str) -> Field:
    return (number, 2, value.encode())


def external_tensor(name: str, location: str | None, size: int, **extra: str) -> bytes:
    """A float TensorProto of ``size // 4`` values kept in ``location``."""
    entries = {**({"location": location} if location is not None else {}), **extra}
    return message(
        (1, 0, size // 4),  # dims
        (2, 0, 1),  # data_type FLOAT
        text(8, name),
        *[(13, 2, message(text(1, key), text(2, value))) for key, value in entries.items()],
        (14, 0, 1),  # data_location EXTERNAL
    )


def constant_node(tensor: bytes) -> bytes:
    attribute = message(text(1, "value"), (20, 0, 4), (5, 2, tensor))  # type TENSOR, t
    return message(text(2, "crafted"), text(4, "Constant"), (5, 2, attribute))


def rewrite_graph(model: bytes, change: Callable[[list[Field]], None]) -> bytes:
    fields = parse(model)
    for index, (number, wire, value) in enumerate(fields):
        if number == 7:
            graph = parse(value)  # type: ignore[arg-type]
            change(graph)
            fields[index] = (7, wire, serialize(graph))
    return serialize(fields)


def externalize_first_initializer(model: bytes, location: str | None) -> tuple[bytes, bytes]:
    """The model with its first initializer's raw_data moved to ``location``; and that data."""
    moved: list[bytes] = []

    def change(graph: list[Field]) -> None:
        for index, (number, wire, value) in enumerate(graph):
            if number == 5 and not moved:
                tensor = parse(value)  # type: ignore[arg-type]
                moved.append(next(v for n, _, v in tensor if n == 9))  # type: ignore[misc]
                kept = [f for f in tensor if f[0] != 9]
                size = str(len(moved[0]))
                entries = {"location": location, "offset": "0", "length": size}
                kept += [
                    (13, 2, message(text(1, k), text(2, v)))
                    for k, v in entries.items()
                    if v is not None
                ]
                graph[index] = (5, wire, serialize([*kept, (14, 0, 1)]))

    return rewrite_graph(model, change), moved[0]


# Where a crafted tensor sits; each takes the model bytes and the tensor.
def in_initializer(model: bytes, tensor: bytes) -> bytes:
    return rewrite_graph(model, lambda graph: graph.append((5, 2, tensor)))


def in_node_attribute(model: bytes, tensor: bytes) -> bytes:
    return rewrite_graph(model, lambda graph: graph.insert(0, (1, 2, constant_node(tensor))))


def in_subgraph(model: bytes, tensor: bytes) -> bytes:
    branch = message(text(2, "then"), (1, 2, constant_node(tensor)))
    attribute = message(text(1, "then_branch"), (20, 0, 5), (6, 2, branch))  # type GRAPH, g
    node = message(text(1, "cond"), text(2, "if_out"), text(4, "If"), (5, 2, attribute))
    return rewrite_graph(model, lambda graph: graph.insert(0, (1, 2, node)))


def in_sparse_initializer(model: bytes, tensor: bytes) -> bytes:
    indices = message((1, 0, 1), (2, 0, 7), text(8, "idx"), (9, 2, struct.pack("<q", 0)))
    sparse = message((1, 2, tensor), (2, 2, indices), (3, 0, 8))
    return rewrite_graph(model, lambda graph: graph.append((15, 2, sparse)))


def in_function(model: bytes, tensor: bytes) -> bytes:
    function = message(text(1, "f"), (7, 2, constant_node(tensor)), text(10, "crafted"))
    return model + message((25, 2, function))


def in_training_graph(model: bytes, tensor: bytes) -> bytes:
    graph = message(text(2, "init"), (5, 2, tensor))
    return model + message((20, 2, message((1, 2, graph))))


PLACES = {
    f.__name__: f
    for f in (
        in_initializer,
        in_node_attribute,
        in_subgraph,
        in_sparse_initializer,
        in_function,
        in_training_graph,
    )
}

# --- folders -------------------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def copy_bundled(where: Path) -> Path:
    folder = where / "model"
    shutil.copytree(BUNDLED, folder)
    return folder


def pin(folder: Path, **extra: bytes | None) -> None:
    """Re-pin the manifest to the files on disk, listing ``extra`` (name -> pinned bytes, or
    None for the file's own bytes) beside them."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in list(manifest["files"]) + list(extra):
        pinned = extra.get(name) or (folder / name).read_bytes()
        manifest["files"][name] = {"sha256": sha256(pinned), "bytes": len(pinned)}
    (folder / "manifest.json").write_text(json.dumps(manifest))


def refused(folder: Path, match: str | None = None) -> ModelFolderError:
    folder_module._CHECKED.clear()
    with pytest.raises(ModelFolderError, match=match) as caught:
        load_model_folder(folder)
    return caught.value


def outputs(model: Path) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    ids = np.array([[1, 10, 20, 2]], dtype=np.int64)
    return session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]


# --- finding 12: external data -------------------------------------------------------------------


def test_a_listed_checksummed_data_file_loads_and_gives_the_same_vectors(tmp_path) -> None:
    """Positive control: the wire-level edit makes a graph ONNX Runtime runs."""
    folder = copy_bundled(tmp_path)
    model, data = externalize_first_initializer((BUNDLED / "model.onnx").read_bytes(), "w.bin")
    (folder / "model.onnx").write_bytes(model)
    (folder / "w.bin").write_bytes(data)
    pin(folder, **{"w.bin": None})
    loaded = load_model_folder(folder)
    assert "w.bin" in loaded.manifest.files
    assert [t.location for t in external_tensors(model)] == ["w.bin"]
    assert np.allclose(outputs(folder / "model.onnx"), outputs(BUNDLED / "model.onnx"))


#: (location, what the folder holds, whether the manifest lists it, the refusal).
LOCATION_CASES = {
    "parent": ("../secret.bin", "outside", False, "not a plain file name"),
    "absolute": ("ABSOLUTE", "outside", False, "not a plain file name"),
    "subfolder": ("sub/w.bin", "sub", False, "not a plain file name"),
    "backslash": ("sub\\w.bin", "sub", False, "not a plain file name"),
    "drive": ("c:w.bin", "none", False, "not a plain file name"),
    "dot-dot": ("..", "none", False, "not a plain file name"),
    "unlisted": ("w.bin", "beside", False, "does not list"),
    "own file": ("spm.model", "none", False, "does not list"),
    "wrong sha": ("w.bin", "beside", "wrong-sha", "does not match its sha256"),
    "no location": (None, "none", False, "names no file"),
}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("case", LOCATION_CASES)
def test_external_data_outside_the_manifest_is_refused_before_any_session(
    tmp_path, place, case
) -> None:
    location, held, listed, message_ = LOCATION_CASES[case]
    folder = copy_bundled(tmp_path)
    secret = tmp_path / "secret.bin"
    data = np.arange(8, dtype=np.float32).tobytes()
    secret.write_bytes(data)
    if location == "ABSOLUTE":
        location = str(secret)
    if held == "sub":
        (folder / "sub").mkdir()
        (folder / "sub" / "w.bin").write_bytes(data)
    elif held == "beside":
        (folder / "w.bin").write_bytes(data)
    model = PLACES[place]((BUNDLED / "model.onnx").read_bytes(), external_tensor("t", location, 32))
    (folder / "model.onnx").write_bytes(model)
    pin(folder, **({"w.bin": b"\x01" * 32} if listed == "wrong-sha" else {}))
    refused(folder, message_)


@pytest.mark.parametrize(
    ("extra", "message_"),
    [
        ({"offset": "16", "length": "32"}, "reads bytes 16 to 48 of w.bin, which has 32"),
        ({"offset": "64"}, "reads bytes 64 to 64 of w.bin, which has 32"),
        ({"offset": "-1"}, "offset '-1', not a number"),
        ({"length": "1e3"}, "length '1e3', not a number"),
    ],
)
def test_external_data_past_the_end_of_its_file_is_refused(tmp_path, extra, message_) -> None:
    folder = copy_bundled(tmp_path)
    (folder / "w.bin").write_bytes(bytes(32))
    tensor = external_tensor("t", "w.bin", 32, **extra)
    (folder / "model.onnx").write_bytes(
        in_initializer((BUNDLED / "model.onnx").read_bytes(), tensor)
    )
    pin(folder, **{"w.bin": None})
    refused(folder, message_)


def test_the_int8_graph_is_checked_too(tmp_path) -> None:
    folder = copy_bundled(tmp_path)
    (tmp_path / "secret.bin").write_bytes(bytes(32))
    graph = in_node_attribute(
        (BUNDLED / "model_int8.onnx").read_bytes(), external_tensor("t", "../secret.bin", 32)
    )
    (folder / "model_int8.onnx").write_bytes(graph)
    pin(folder)
    refused(folder, "model_int8.onnx: tensor 't' takes its data from '../secret.bin'")


def test_a_node_that_reads_a_named_file_is_refused(tmp_path) -> None:
    folder = copy_bundled(tmp_path)
    attribute = message(text(1, "ep_cache_context"), (20, 0, 3), (4, 2, b"/etc/passwd"))
    node = message(text(4, "EPContext"), text(7, "com.microsoft"), (5, 2, attribute))
    graph = rewrite_graph(
        (BUNDLED / "model.onnx").read_bytes(), lambda g: g.insert(0, (1, 2, node))
    )
    (folder / "model.onnx").write_bytes(graph)
    pin(folder)
    refused(folder, "EPContext node")


def test_the_reader_agrees_with_onnx(tmp_path) -> None:
    """The field numbers are onnx.proto's, and the crafted graphs parse in onnx with the same
    external tensors the library finds."""
    onnx = pytest.importorskip("onnx")
    from onnx import external_data_helper

    proto = onnx.onnx_ml_pb2
    numbers = {
        (proto.ModelProto, "graph"): folder_module.MODEL_GRAPH,
        (proto.ModelProto, "training_info"): folder_module.MODEL_TRAINING_INFO,
        (proto.ModelProto, "functions"): folder_module.MODEL_FUNCTIONS,
        (proto.TrainingInfoProto, "initialization"): folder_module.TRAINING_GRAPHS[0],
        (proto.TrainingInfoProto, "algorithm"): folder_module.TRAINING_GRAPHS[1],
        (proto.FunctionProto, "node"): folder_module.FUNCTION_NODE,
        (proto.FunctionProto, "attribute_proto"): folder_module.FUNCTION_ATTRIBUTE_PROTO,
        (proto.GraphProto, "node"): folder_module.GRAPH_NODE,
        (proto.GraphProto, "initializer"): folder_module.GRAPH_INITIALIZER,
        (proto.GraphProto, "sparse_initializer"): folder_module.GRAPH_SPARSE_INITIALIZER,
        (proto.NodeProto, "op_type"): folder_module.NODE_OP_TYPE,
        (proto.NodeProto, "attribute"): folder_module.NODE_ATTRIBUTE,
        (proto.AttributeProto, "t"): folder_module.ATTRIBUTE_TENSORS[0],
        (proto.AttributeProto, "tensors"): folder_module.ATTRIBUTE_TENSORS[1],
        (proto.AttributeProto, "g"): folder_module.ATTRIBUTE_GRAPHS[0],
        (proto.AttributeProto, "graphs"): folder_module.ATTRIBUTE_GRAPHS[1],
        (proto.AttributeProto, "sparse_tensor"): folder_module.ATTRIBUTE_SPARSE_TENSORS[0],
        (proto.AttributeProto, "sparse_tensors"): folder_module.ATTRIBUTE_SPARSE_TENSORS[1],
        (proto.SparseTensorProto, "values"): folder_module.SPARSE_TENSORS[0],
        (proto.SparseTensorProto, "indices"): folder_module.SPARSE_TENSORS[1],
        (proto.TensorProto, "name"): folder_module.TENSOR_NAME,
        (proto.TensorProto, "external_data"): folder_module.TENSOR_EXTERNAL_DATA,
        (proto.TensorProto, "data_location"): folder_module.TENSOR_DATA_LOCATION,
        (proto.StringStringEntryProto, "key"): folder_module.ENTRY_KEY,
        (proto.StringStringEntryProto, "value"): folder_module.ENTRY_VALUE,
    }
    for (kind, name), number in numbers.items():
        assert kind.DESCRIPTOR.fields_by_name[name].number == number, (kind, name)
    assert proto.TensorProto.EXTERNAL == folder_module.EXTERNAL
    base = (BUNDLED / "model.onnx").read_bytes()
    for place in ("in_initializer", "in_node_attribute", "in_subgraph"):
        crafted = PLACES[place](base, external_tensor("t", "w.bin", 32))
        model = onnx.load_from_string(crafted)
        theirs = [
            {e.key: e.value for e in t.external_data}["location"]
            for t in external_data_helper._get_all_tensors(model)
            if external_data_helper.uses_external_data(t)
        ]
        assert theirs == [t.location for t in external_tensors(crafted)] == ["w.bin"]
    # A graph onnx itself saves with external data reads the same.
    onnx.save_model(
        onnx.load(str(BUNDLED / "model.onnx")),
        str(tmp_path / "m.onnx"),
        save_as_external_data=True,
        location="m.onnx_data",
        size_threshold=0,
    )
    found = external_tensors((tmp_path / "m.onnx").read_bytes())
    assert len(found) == 17 and {t.location for t in found} == {"m.onnx_data"}


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_the_reader_refuses_garbage_as_value_error_only(data) -> None:
    try:
        external_tensors(data)
    except ValueError as exc:
        assert "not a well-formed ONNX protobuf" in str(exc)


# --- finding 13 and links: nothing is read from outside the folder -------------------------------


def test_a_listed_file_that_is_a_link_is_refused(tmp_path) -> None:
    folder = copy_bundled(tmp_path)
    outside = tmp_path / "elsewhere.model"
    shutil.copyfile(BUNDLED / "spm.model", outside)
    (folder / "spm.model").unlink()
    (folder / "spm.model").symlink_to(outside)
    refused(folder, "spm.model is a link")


def test_a_data_file_that_is_a_link_is_refused(tmp_path) -> None:
    folder = copy_bundled(tmp_path)
    model, data = externalize_first_initializer((BUNDLED / "model.onnx").read_bytes(), "w.bin")
    (folder / "model.onnx").write_bytes(model)
    (tmp_path / "w.bin").write_bytes(data)
    (folder / "w.bin").symlink_to(tmp_path / "w.bin")
    pin(folder, **{"w.bin": None})
    refused(folder, "w.bin is a link")


def test_a_linked_model_folder_itself_is_fine(tmp_path) -> None:
    (tmp_path / "link").symlink_to(BUNDLED, target_is_directory=True)
    assert load_model_folder(tmp_path / "link").name == "deberta_v3_tiny_random"


@pytest.mark.parametrize("linked", ["deberta.onnx_data", "deberta_spp", "metadata"])
def test_a_spark_nlp_folder_with_a_link_is_refused_naming_it(tmp_path, linked) -> None:
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", EMBEDDINGS_CLASS)
    outside = tmp_path / "outside"
    if linked == "deberta.onnx_data":
        outside.write_bytes(b"secret")
    else:
        shutil.move(source / linked, outside)
    (source / linked).symlink_to(outside)
    with pytest.raises(ModelFolderError, match=f"{linked} is a link"):
        import_spark_nlp_folder(source, tmp_path / "ours")
    assert not (tmp_path / "ours").exists()


# --- truncated and garbage files -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["model.onnx", "model_int8.onnx", "spm.model"])
@pytest.mark.parametrize("seed", range(4))
def test_truncated_and_garbage_files_pinned_by_the_manifest_are_refused(
    tmp_path, name, seed
) -> None:
    folder = copy_bundled(tmp_path)
    rng = random.Random(seed)
    original = (folder / name).read_bytes()
    if seed % 2:
        (folder / name).write_bytes(rng.randbytes(rng.randrange(1, 4096)))
    else:
        (folder / name).write_bytes(original[: rng.randrange(1, 200)])
    pin(folder)
    refused(folder)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_corrupted_graphs_either_load_or_are_refused(tmp_path_factory, data) -> None:
    """Law: a graph with a byte changed or cut short, pinned by its manifest, loads (a weight
    byte changed is still a model) or raises ModelFolderError, nothing else."""
    folder = copy_bundled(tmp_path_factory.mktemp("corrupt"))
    graph = bytearray((folder / "model.onnx").read_bytes())
    # Corrupt the graph's structure, not its weights: the last 32 KiB hold the nodes.
    at = data.draw(st.integers(len(graph) - 32768, len(graph) - 1))
    if data.draw(st.booleans()):
        graph[at] = data.draw(st.integers(0, 255))
    else:
        del graph[at:]
    (folder / "model.onnx").write_bytes(bytes(graph))
    pin(folder)
    folder_module._CHECKED.clear()
    with contextlib.suppress(ModelFolderError):
        load_model_folder(folder)


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not utf-8", b'{"format_version": 1', b"[" * 100_000, b"1" * 5000, b"[]", b""],
    ids=["not-utf8", "truncated", "deep", "huge-int", "list", "empty"],
)
def test_a_manifest_that_is_not_a_manifest_is_refused(tmp_path, content) -> None:
    folder = copy_bundled(tmp_path)
    (folder / "manifest.json").write_bytes(content)
    refused(folder, "manifest.json")


# --- wrong-typed manifest fields -----------------------------------------------------------------

WRONG_FIELDS = [
    ("inputs", [1, "input_ids"], "'inputs' must be a list of strings"),
    ("labels", [1, 2], "'labels' must be null or a non-empty list"),
    ("labels", [], "'labels' must be null or a non-empty list"),
    ("special_tokens", {"[PAD]": "0"}, "'special_tokens' must map"),
    ("special_tokens", {"[PAD]": True}, "'special_tokens' must map"),
    ("dimension", -1, "'dimension' must be >= 0"),
    ("vocab_size", 0, "'vocab_size' must be >= 1"),
    ("max_position_embeddings", -512, "'max_position_embeddings' must be >= 1"),
    ("case_sensitive", "false", "'case_sensitive' must be true or false"),
    ("case_sensitive", 0, "'case_sensitive' must be true or false"),
    ("task", ["embeddings"], "'task' must be a string"),
    ("output", [], "'output' must be a string or a list of strings"),
    ("source", "a checkpoint", "'source' must be an object"),
    ("exporter", None, "'exporter' must be an object"),
    ("parity", [], "'parity' must be an object"),
    ("problem_type", 3, "'problem_type' must be null or a string"),
    ("quantization", "int8", "'quantization' must be null or an object"),
    ("format_version", True, "'format_version' must be an integer, not True"),
    ("format_version", "1", "format_version '1'"),
    ("files", [], "'files' must list"),
]


@pytest.mark.parametrize(("field", "value", "message_"), WRONG_FIELDS)
def test_wrong_typed_manifest_fields_are_refused(tmp_path, field, value, message_) -> None:
    folder = copy_bundled(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest[field] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    refused(folder, message_)


@pytest.mark.parametrize(
    "entry",
    [
        {"sha256": "0" * 63, "bytes": 1},
        {"sha256": "G" * 64, "bytes": 1},
        {"sha256": "0" * 64, "bytes": -1},
        {"sha256": "0" * 64, "bytes": True},
        {"sha256": "0" * 64, "bytes": 1, "extra": 1},
        ["0" * 64, 1],
    ],
)
def test_wrong_typed_file_entries_are_refused(tmp_path, entry) -> None:
    folder = copy_bundled(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["spm.model"] = entry
    (folder / "manifest.json").write_text(json.dumps(manifest))
    refused(folder, "'files' entry 'spm.model' must be")


# --- finding 15: zips ----------------------------------------------------------------------------


def zip_with(path: Path, members: list[tuple[str, bytes]], **info: int) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, content in members:
            member = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            for key, value in info.items():
                setattr(member, key, value)
            zipped.writestr(member, content)
    return path


def patch_zip(path: Path, change: Callable[[bytearray], None]) -> Path:
    data = bytearray(path.read_bytes())
    change(data)
    path.write_bytes(bytes(data))
    return path


def set_method(data: bytearray, method: int) -> None:
    """The compression method in the local header (offset 8) and the central directory (10)."""
    struct.pack_into("<H", data, 8, method)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 10, method)


def set_encrypted(data: bytearray) -> None:
    struct.pack_into("<H", data, 6, 1)
    central = data.rfind(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 8, 1)


def flip_stored_byte(data: bytearray) -> None:
    data[30 + len("a.onnx")] ^= 0xFF  # the first byte after the local header and its name


ZIP_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "parent": (lambda p: zip_with(p, [("../x", b"x")]), "points outside"),
    "nested parent": (lambda p: zip_with(p, [("a/../../x", b"x")]), "points outside"),
    "absolute": (lambda p: zip_with(p, [("/tmp/x", b"x")]), "points outside"),
    "backslash": (lambda p: zip_with(p, [("a\\..\\..\\x", b"x")]), "points outside"),
    "drive": (lambda p: zip_with(p, [("c:x", b"x")]), "points outside"),
    "dot": (lambda p: zip_with(p, [("./", b"")]), "points outside"),
    "link": (
        lambda p: zip_with(p, [("a.onnx", b"/etc/passwd")], external_attr=0o120777 << 16),
        "symbolic link",
    ),
    "twice": (lambda p: zip_with(p, [("a.onnx", b"1"), ("./a.onnx", b"2")]), "given twice"),
    "too many": (
        lambda p: zip_with(p, [(f"{i}.txt", b"") for i in range(MAX_ZIP_ENTRIES + 1)]),
        f"more than the {MAX_ZIP_ENTRIES}",
    ),
    "bad crc": (
        lambda p: patch_zip(zip_with(p, [("a.onnx", b"graph bytes")]), flip_stored_byte),
        "member 'a.onnx' cannot be unpacked .*CRC",
    ),
    "unknown method": (
        lambda p: patch_zip(zip_with(p, [("a.onnx", b"x")]), lambda d: set_method(d, 99)),
        "member 'a.onnx' cannot be unpacked",
    ),
    "encrypted": (
        lambda p: patch_zip(zip_with(p, [("a.onnx", b"x")]), set_encrypted),
        "member 'a.onnx' cannot be unpacked .*encrypted",
    ),
    "bad deflate": (
        lambda p: patch_zip(
            zip_with(p, [("a.onnx", b"x" * 1000)], compress_type=zipfile.ZIP_DEFLATED),
            lambda d: d.__setitem__(slice(36, 40), b"\xff\xff\xff\xff"),
        ),
        "member 'a.onnx' cannot be unpacked",
    ),
    "truncated": (
        lambda p: patch_zip(zip_with(p, [("a.onnx", b"x" * 100)]), lambda d: d.__delitem__(-30)),
        "is not a readable zip archive",
    ),
    "not a zip": (lambda p: p.write_bytes(b"PK\x03\x04 garbage") and p, "not a readable zip"),
}


@pytest.mark.parametrize("case", ZIP_CASES)
def test_bad_archives_are_refused_as_model_folder_errors(tmp_path, case) -> None:
    make, message_ = ZIP_CASES[case]
    archive = make(tmp_path / "a.zip")
    with pytest.raises(ModelFolderError, match=message_):
        safe_extract(archive, tmp_path / "out", max_bytes=1 << 20)
    assert not (tmp_path / "x").exists()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_a_damaged_archive_unpacks_or_is_refused(tmp_path_factory, data) -> None:
    """Law: any byte of a valid archive changed, unpacking succeeds or is a ModelFolderError,
    and nothing is written outside the target."""
    work = tmp_path_factory.mktemp("zip")
    archive = zip_with(work / "a.zip", [("m/a.onnx", b"a" * 300), ("m/b", b"b")], compress_type=8)
    damaged = bytearray(archive.read_bytes())
    damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    archive.write_bytes(bytes(damaged))
    with contextlib.suppress(ModelFolderError):
        safe_extract(archive, work / "out", max_bytes=1 << 16)
    assert sorted(p.name for p in work.iterdir()) in (["a.zip"], ["a.zip", "out"])


def test_a_spark_nlp_folder_with_a_corrupt_graph_zip_is_refused(tmp_path) -> None:
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", EMBEDDINGS_CLASS)
    zipped = source / "deberta_onnx"
    header = zipped.read_bytes()
    zipped.write_bytes(header[:40] + bytes(b ^ 0x55 for b in header[40:200]) + header[200:])
    with pytest.raises(ModelFolderError, match="deberta_onnx"):
        import_spark_nlp_folder(source, tmp_path / "ours")


def test_a_spark_nlp_graph_reading_outside_the_folder_is_refused(tmp_path) -> None:
    graph = tmp_path / "deberta.onnx"
    (tmp_path / "secret.bin").write_bytes(bytes(32))
    graph.write_bytes(
        in_initializer(
            (BUNDLED / "model.onnx").read_bytes(),
            external_tensor("t", "../../../../secret.bin", 32),
        )
    )
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", EMBEDDINGS_CLASS, graph=graph)
    with pytest.raises(ModelFolderError, match="not a plain file name in the model folder"):
        import_spark_nlp_folder(source, tmp_path / "ours")


# --- finding 15: Spark NLP params -----------------------------------------------------------------


def with_params(source: Path, change: Callable[[dict], None]) -> Path:
    metadata = source / "metadata" / "part-00000"
    saved = json.loads(metadata.read_text())
    change(saved)
    metadata.write_text(json.dumps(saved) + "\n")
    return source


@pytest.mark.parametrize(("given_", "expected"), [("false", False), ("TRUE", True), (False, False)])
def test_case_sensitive_reads_strictly(tmp_path, given_, expected) -> None:
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", EMBEDDINGS_CLASS)
    with_params(source, lambda saved: saved["paramMap"].update(caseSensitive=given_))
    assert import_spark_nlp_folder(source, tmp_path / "ours").case_sensitive is expected


PARAM_CASES = {
    "case maybe": (lambda s: s["paramMap"].update(caseSensitive="maybe"), "caseSensitive"),
    "case one": (lambda s: s["paramMap"].update(caseSensitive=1), "caseSensitive"),
    "case null": (lambda s: s["paramMap"].update(caseSensitive=None), "caseSensitive"),
    "params list": (lambda s: s.update(paramMap=[1]), "paramMap must be a JSON object"),
    "defaults text": (lambda s: s.update(defaultParamMap="x"), "defaultParamMap must be"),
    "class number": (lambda s: s.update({"class": 3}), "names no class"),
}


@pytest.mark.parametrize("case", PARAM_CASES)
def test_malformed_spark_nlp_params_are_refused(tmp_path, case) -> None:
    change, message_ = PARAM_CASES[case]
    source = with_params(spark_nlp_folder(BUNDLED, tmp_path / "snlp", EMBEDDINGS_CLASS), change)
    with pytest.raises(ModelFolderError, match=message_):
        import_spark_nlp_folder(source, tmp_path / "ours")


def test_a_classifier_dimension_that_is_not_a_count_is_refused(tmp_path) -> None:
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", TOKEN_CLASS)
    with_params(source, lambda saved: saved["paramMap"].update(dimension="wide"))
    with pytest.raises(ModelFolderError, match="param dimension must be an integer"):
        import_spark_nlp_folder(source, tmp_path / "ours", labels=["O", "B"])


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe", b"[" * 100_000, b'{"class": "x"'],
    ids=["empty", "not-utf8", "deep", "truncated"],
)
def test_spark_nlp_metadata_that_is_not_params_json_is_refused(tmp_path, content) -> None:
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", EMBEDDINGS_CLASS)
    (source / "metadata" / "part-00000").write_bytes(content)
    with pytest.raises(ModelFolderError, match="part-00000"):
        import_spark_nlp_folder(source, tmp_path / "ours")


def test_labels_that_cannot_be_read_are_refused(tmp_path) -> None:
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", TOKEN_CLASS)
    (tmp_path / "labels.txt").write_bytes(b"\xff\xfe")
    for labels in (tmp_path / "labels.txt", tmp_path / "missing.txt"):
        with pytest.raises(ModelFolderError, match="labels file"):
            import_spark_nlp_folder(source, tmp_path / "ours", labels=labels)


def test_an_output_path_that_is_a_file_is_refused(tmp_path) -> None:
    source = spark_nlp_folder(BUNDLED, tmp_path / "snlp", EMBEDDINGS_CLASS)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFolderError, match="is not a folder"):
        import_spark_nlp_folder(source, tmp_path / "file")
    with pytest.raises(ModelFolderError, match="is not a folder"):
        import_spark_nlp_folder(tmp_path / "file", tmp_path / "ours")


# --- the exporter: safetensors, or pickle only when asked ----------------------------------------


def test_a_pickle_only_checkpoint_is_refused_unless_allowed(tmp_path) -> None:
    from annotators.deberta.export import weights_loading
    from annotators.errors import ExportError

    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(
        ExportError, match="only weights are pytorch_model.bin.*--allow-unsafe-bin-checkpoint"
    ):
        weights_loading(checkpoint, "ckpt", allow_unsafe_bin=False)
    assert weights_loading(checkpoint, "ckpt", allow_unsafe_bin=True) == {"use_safetensors": False}
    (checkpoint / "model.safetensors").write_bytes(b"")
    assert weights_loading(checkpoint, "ckpt", allow_unsafe_bin=False) == {"use_safetensors": True}
    os.remove(checkpoint / "pytorch_model.bin")
    os.remove(checkpoint / "model.safetensors")
    with pytest.raises(ExportError, match="has no weights"):
        weights_loading(checkpoint, "ckpt", allow_unsafe_bin=True)


def test_the_export_command_refuses_a_pickle_checkpoint_before_reading_it(tmp_path, capsys) -> None:
    from pipelines.export import main, parse_args

    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "deberta-v2"}))
    (checkpoint / "pytorch_model.bin").write_bytes(b"\x80\x04 never unpickled")
    assert parse_args(["--checkpoint", "c", "--out", "o"]).allow_unsafe_bin_checkpoint is False
    flag = ["--checkpoint", "c", "--out", "o", "--allow-unsafe-bin-checkpoint"]
    assert parse_args(flag).allow_unsafe_bin_checkpoint is True
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    code = main(["--checkpoint", str(checkpoint), "--out", str(tmp_path / "out")])
    assert code != 0
    assert "--allow-unsafe-bin-checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
