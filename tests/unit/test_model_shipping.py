"""Where shipped model files land on an executor: a graph with external data gets a folder of
links in which it finds its data by plain name, built once however many workers race for it,
and a data file that differs from the manifest's sha256 is refused (the Spark side:
tests/system/test_cluster.py)."""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from annotators.deberta.manifest import MODEL_FILE, SPM_FILE, file_entries, write_model_folder
from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.pretrained import BUNDLED_DIR
from annotators.errors import ModelFolderError
from annotators.model_shipping import (
    ShippedFiles,
    check_data_files,
    data_files,
    linked_folder,
    shipped_file_name,
    shipped_prefix,
)
from tests.cluster import EXTERNAL_DATA_FILE, external_data_model

BUNDLED = BUNDLED_DIR / "deberta_v3_tiny_random_en"


def shipped(tmp_path: Path, files: dict[str, bytes], prefix: str = "deberta-0123") -> dict:
    """Files as Spark leaves them on an executor: one flat folder, names prefixed."""
    root = tmp_path / "userFiles"
    root.mkdir(exist_ok=True)
    found = {}
    for name, data in files.items():
        found[name] = root / shipped_file_name(prefix, name)
        found[name].write_bytes(data)
    return found


def test_the_folder_holds_each_file_under_its_own_name_as_a_hard_link(tmp_path) -> None:
    files = shipped(tmp_path, {"model.onnx": b"graph", "w.bin": b"weights"})
    folder = linked_folder(files, tmp_path / "userFiles" / "deberta-0123")
    assert sorted(p.name for p in folder.iterdir()) == ["model.onnx", "w.bin"]
    for name, source in files.items():
        assert (folder / name).stat().st_ino == source.stat().st_ino
        assert not (folder / name).is_symlink()
    # Nothing else is left beside it (no staging folder).
    assert sorted(p.name for p in (tmp_path / "userFiles").iterdir()) == sorted(
        [folder.name, *(f.name for f in files.values())]
    )


def test_an_existing_folder_is_used_as_it_is(tmp_path) -> None:
    files = shipped(tmp_path, {"model.onnx": b"graph", "w.bin": b"weights"})
    target = tmp_path / "userFiles" / "deberta-0123"
    first = linked_folder(files, target)
    made = (first / "w.bin").stat().st_ino
    assert linked_folder(files, target) == first
    assert (first / "w.bin").stat().st_ino == made


def test_workers_racing_for_the_folder_all_get_one_whole_folder(tmp_path) -> None:
    """Python workers of one executor build it at once: one rename wins, none sees half."""
    files = shipped(tmp_path, {f"w{i}.bin": bytes([i]) * 1000 for i in range(20)})
    target = tmp_path / "userFiles" / "deberta-0123"
    start = threading.Barrier(8)
    results: list[Path | BaseException] = []

    def worker() -> None:
        start.wait()
        try:
            folder = linked_folder(files, target)
            assert sorted(p.name for p in folder.iterdir()) == sorted(files)
            results.append(folder)
        except BaseException as exc:  # reported below, with the others
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [target] * 8
    assert not [p for p in (tmp_path / "userFiles").iterdir() if p.name.startswith(".")]


def test_a_file_that_cannot_be_hard_linked_is_copied(tmp_path, monkeypatch) -> None:
    files = shipped(tmp_path, {"model.onnx": b"graph", "w.bin": b"weights"})

    def refuse(source, target):  # type: ignore[no-untyped-def]
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refuse)
    folder = linked_folder(files, tmp_path / "userFiles" / "deberta-0123")
    for name, source in files.items():
        assert (folder / name).read_bytes() == source.read_bytes()
        assert (folder / name).stat().st_ino != source.stat().st_ino
        assert not (folder / name).is_symlink()


def test_a_swapped_data_file_is_refused_naming_it(tmp_path) -> None:
    import hashlib

    expected = hashlib.sha256(b"weights").hexdigest()
    files = shipped(tmp_path, {"model.onnx": b"graph", "w.bin": b"WEIGHTS"})
    folder = linked_folder(files, tmp_path / "userFiles" / "deberta-0123")
    with pytest.raises(ModelFolderError, match=r"external-data file w\.bin .* does not match"):
        check_data_files(folder, [("w.bin", expected)])
    check_data_files(folder, [("w.bin", hashlib.sha256(b"WEIGHTS").hexdigest())])


def test_data_files_are_checked_once_before_the_folder_is_put_in_place(
    tmp_path, monkeypatch
) -> None:
    """A big model's data is hashed by the worker that builds the folder, not by every worker;
    a file that fails the check leaves no folder behind, so the next worker checks again."""
    import hashlib

    from annotators import model_shipping

    files = shipped(tmp_path, {"model.onnx": b"graph", "w.bin": b"WEIGHTS"})
    target = tmp_path / "userFiles" / "deberta-0123"
    with pytest.raises(ModelFolderError, match=r"external-data file w\.bin"):
        linked_folder(files, target, [("w.bin", hashlib.sha256(b"weights").hexdigest())])
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]
    hashed: list[Path] = []
    real = model_shipping.file_sha256

    def counting(path: Path) -> str:
        hashed.append(path)
        return real(path)

    monkeypatch.setattr(model_shipping, "file_sha256", counting)
    good = [("w.bin", hashlib.sha256(b"WEIGHTS").hexdigest())]
    for _ in range(3):
        assert linked_folder(files, target, good) == target
    assert len(hashed) == 1


def test_outside_a_spark_task_the_folder_is_read_in_place() -> None:
    assert ShippedFiles("deberta-0123", (("w.bin", "0" * 64),)).locate([MODEL_FILE]) is None


def outputs(model: Path) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    ids = np.array([[1, 10, 20, 2]], dtype=np.int64)
    return session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]


def test_a_graph_with_external_data_runs_from_the_folder_of_links(tmp_path) -> None:
    """Under its shipped name the graph cannot find its data; in the folder it can, and gives
    the bundled model's outputs."""
    pytest.importorskip("onnx")
    folder = load_model_folder(external_data_model(BUNDLED, tmp_path / "external"))
    data = data_files(folder, "fp32")
    assert [name for name, _ in data] == [EXTERNAL_DATA_FILE]
    assert data_files(folder, "int8") == ()  # the int8 graph keeps its weights inside
    prefix = shipped_prefix(folder.checksum("fp32"), data)
    names = [MODEL_FILE, SPM_FILE, EXTERNAL_DATA_FILE]
    files = shipped(tmp_path, {n: (folder.path / n).read_bytes() for n in names}, prefix)
    with pytest.raises(Exception, match=EXTERNAL_DATA_FILE.replace(".", r"\.")):
        outputs(files[MODEL_FILE])
    linked = linked_folder(files, files[MODEL_FILE].parent / prefix)
    check_data_files(linked, data)
    assert np.allclose(outputs(linked / MODEL_FILE), outputs(BUNDLED / MODEL_FILE), atol=1e-6)


def test_a_model_without_external_data_ships_under_its_graph_checksum() -> None:
    folder = load_model_folder(BUNDLED)
    assert data_files(folder, "fp32") == ()
    assert shipped_prefix(folder.checksum("fp32")) == f"deberta-{folder.checksum('fp32')[:16]}"


def test_models_sharing_a_graph_but_not_its_data_ship_under_different_prefixes(
    tmp_path,
) -> None:
    """Two fine-tunings of one architecture saved with external data can have the same graph
    bytes: the prefix covers the data, or the second model would run the first one's weights."""
    pytest.importorskip("onnx")
    one = load_model_folder(external_data_model(BUNDLED, tmp_path / "one"))
    copy = tmp_path / "two"
    shutil.copytree(one.path, copy)
    weights = bytearray((copy / EXTERNAL_DATA_FILE).read_bytes())
    weights[:4] = bytes(4) if weights[:4] != bytes(4) else b"\x01\x02\x03\x04"
    (copy / EXTERNAL_DATA_FILE).write_bytes(weights)
    pinned = dataclasses.replace(one.manifest, files=file_entries(copy))
    two = load_model_folder(write_model_folder(copy, pinned, tmp_path / "two_pinned"))
    assert two.checksum("fp32") == one.checksum("fp32")  # the same graph bytes
    assert shipped_prefix(one.checksum("fp32"), data_files(one, "fp32")) != shipped_prefix(
        two.checksum("fp32"), data_files(two, "fp32")
    )
