"""A model past ONNX's 2 GB limit: the exporter gathers the per-tensor data files that
torch.onnx.export writes beside such a graph into one ``model.onnx.data``, which the manifest
lists, and quantizes such a graph into one with external data too.

No 2 GB model is built: the bundled tiny graph is saved the way torch saves a large one (each
initializer in its own file, named after the tensor with ``\\/:?"<>|`` made ``_``), and the
real onnx and ONNX Runtime run on it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from annotators.deberta.export import gather_external_data, quantize_int8  # noqa: E402
from annotators.deberta.manifest import (  # noqa: E402
    INT8_MODEL_FILE,
    MODEL_FILE,
    SPM_FILE,
    FileEntry,
    read_manifest,
    write_model_folder,
)
from annotators.deberta.model_folder import graph_tensors, load_model_folder  # noqa: E402
from annotators.deberta.pretrained import BUNDLED_DIR  # noqa: E402
from annotators.errors import ExportError, ModelFolderError  # noqa: E402

BUNDLED = BUNDLED_DIR / "deberta_v3_tiny_random_en"


def torch_file_name(tensor: str) -> str:
    """The file torch's exporter (export.cpp, GetExternalFileName) keeps a tensor in."""
    return re.sub(r'[\\/:?"<>|]', "_", tensor)


def save_as_torch_does(source: Path, target: Path) -> list[str]:
    """Save the graph ``source`` at ``target`` with every initializer in its own file beside
    it, as torch.onnx.export writes a model past 2 GB; return those files' names."""
    from onnx import external_data_helper

    model = onnx.load(str(source))
    names = []
    for tensor in model.graph.initializer:
        names.append(torch_file_name(tensor.name))
        external_data_helper.set_external_data(tensor, location=names[-1])
    onnx.save_model(model, str(target))  # writes each tensor's raw data to its location
    return names


def batch() -> dict[str, np.ndarray]:
    ids = np.array([[1, 40, 41, 42, 43, 2, 0], [1, 500, 7, 2, 0, 0, 0]], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": (ids != 0).astype(np.int64)}


def run(graph: Path) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    return session.run(None, batch())


def folder_with(staged: Path, target: Path, graphs: list[str]) -> Path:
    """The bundled folder's manifest over ``staged`` (holding ``graphs``, their data files and
    spm.model), every file listed; written and checked by ``write_model_folder``."""
    shutil.copyfile(BUNDLED / SPM_FILE, staged / SPM_FILE)
    files = {path.name: FileEntry.of(path) for path in sorted(staged.iterdir())}
    manifest = read_manifest(BUNDLED)
    quantization = manifest.quantization if INT8_MODEL_FILE in graphs else None
    manifest = dataclasses.replace(manifest, files=files, quantization=quantization)
    return write_model_folder(staged, manifest, target)


@pytest.fixture
def torch_layout(tmp_path: Path) -> tuple[Path, list[str]]:
    """A folder holding the bundled fp32 graph saved as torch saves a large one."""
    staged = tmp_path / "staged"
    staged.mkdir()
    return staged / MODEL_FILE, save_as_torch_does(BUNDLED / MODEL_FILE, staged / MODEL_FILE)


def test_per_tensor_files_are_gathered_into_one_data_file(torch_layout) -> None:
    graph, per_tensor = torch_layout
    folder = graph.parent
    assert len(per_tensor) > 10 and all((folder / name).is_file() for name in per_tensor)
    before = run(graph)

    assert gather_external_data(graph) == [folder / "model.onnx.data"]

    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "model.onnx.data"]
    assert {t.location for t in graph_tensors(graph)} == {"model.onnx.data"}
    onnx.checker.check_model(str(graph))
    after = run(graph)
    assert len(after) == len(before)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old, new)
    # A graph already in that layout is left as it is.
    data = (folder / "model.onnx.data").read_bytes()
    assert gather_external_data(graph) == [folder / "model.onnx.data"]
    assert (folder / "model.onnx.data").read_bytes() == data


def test_the_gathered_folder_loads_where_the_per_tensor_one_is_refused(
    torch_layout, tmp_path
) -> None:
    """The manifest of an export lists the graph, its data file and spm.model: with the
    per-tensor files the folder is refused (what an export past 2 GB used to write)."""
    graph, _ = torch_layout
    refused = tmp_path / "refused"
    shutil.copytree(graph.parent, refused)  # the graph and its files, as torch left them
    shutil.copyfile(BUNDLED / SPM_FILE, refused / SPM_FILE)
    files = {name: FileEntry.of(refused / name) for name in (MODEL_FILE, SPM_FILE)}
    manifest = dataclasses.replace(read_manifest(BUNDLED), files=files, quantization=None)
    with pytest.raises(ModelFolderError, match="which the manifest does not list"):
        write_model_folder(refused, manifest, tmp_path / "never")
    assert not (tmp_path / "never").exists()

    gather_external_data(graph)
    folder = load_model_folder(folder_with(graph.parent, tmp_path / "out", [MODEL_FILE]))
    assert sorted(folder.manifest.files) == ["model.onnx", "model.onnx.data", "spm.model"]


def test_a_graph_without_external_data_is_left_alone(tmp_path) -> None:
    graph = tmp_path / MODEL_FILE
    shutil.copyfile(BUNDLED / MODEL_FILE, graph)
    assert gather_external_data(graph) == []
    assert graph.read_bytes() == (BUNDLED / MODEL_FILE).read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == [MODEL_FILE]


def test_int8_of_a_graph_with_external_data_keeps_external_data(torch_layout, tmp_path) -> None:
    graph, _ = torch_layout
    gather_external_data(graph)
    int8 = graph.parent / INT8_MODEL_FILE

    assert quantize_int8(graph, int8) == [graph.parent / "model_int8.onnx.data"]

    assert {t.location for t in graph_tensors(int8)} == {"model_int8.onnx.data"}
    fp32, got = run(graph)[0], run(int8)[0]
    keep = batch()["attention_mask"].astype(bool)
    cosine = (fp32[keep] * got[keep]).sum(-1) / (
        np.linalg.norm(fp32[keep], axis=-1) * np.linalg.norm(got[keep], axis=-1)
    )
    assert cosine.min() > 0.99
    written = folder_with(graph.parent, tmp_path / "out", [MODEL_FILE, INT8_MODEL_FILE])
    folder = load_model_folder(written)
    assert sorted(folder.manifest.files) == [
        "model.onnx",
        "model.onnx.data",
        "model_int8.onnx",
        "model_int8.onnx.data",
        "spm.model",
    ]


def test_int8_of_a_graph_without_external_data_is_one_file(tmp_path) -> None:
    shutil.copyfile(BUNDLED / MODEL_FILE, tmp_path / MODEL_FILE)
    assert quantize_int8(tmp_path / MODEL_FILE, tmp_path / INT8_MODEL_FILE) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == [MODEL_FILE, INT8_MODEL_FILE]


def test_external_data_outside_the_graphs_folder_is_not_gathered(tmp_path) -> None:
    """Only files beside the graph are read and removed (torch writes nothing elsewhere)."""
    (tmp_path / "sub").mkdir()
    model = onnx.load(str(BUNDLED / MODEL_FILE))
    from onnx import external_data_helper

    external_data_helper.set_external_data(model.graph.initializer[0], location="sub/w.bin")
    onnx.save_model(model, str(tmp_path / MODEL_FILE))
    with pytest.raises(ExportError, match="'sub/w.bin', not a data file beside it"):
        gather_external_data(tmp_path / MODEL_FILE)
    assert (tmp_path / "sub" / "w.bin").is_file()
