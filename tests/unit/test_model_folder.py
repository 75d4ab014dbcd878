"""Model folders are checked strictly on the driver; pretrained() downloads safely."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from annotators import DeBertaEmbeddings
from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.pretrained import BUNDLED_DIR, resolve_pretrained
from annotators.errors import ModelFolderError

MODEL = BUNDLED_DIR / "deberta_v3_tiny_random_en"


@pytest.fixture
def folder(tmp_path) -> Path:
    copy = tmp_path / "model"
    shutil.copytree(MODEL, copy)
    return copy


def edit_manifest(folder: Path, change) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_bundled_model_loads(folder) -> None:
    model = load_model_folder(folder)
    assert (model.dimension, model.case_sensitive, model.labels) == (32, True, None)


def test_missing_folder_and_missing_files_are_named(folder, tmp_path) -> None:
    with pytest.raises(
        ModelFolderError, match="does not exist; export one with: spark-deberta export"
    ):
        load_model_folder(tmp_path / "nowhere")
    (folder / "spm.model").unlink()
    with pytest.raises(ModelFolderError, match="model file spm.model is missing in"):
        load_model_folder(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ModelFolderError, match="model file manifest.json is missing"):
        load_model_folder(folder)


def test_truncated_and_corrupt_onnx_are_refused(folder) -> None:
    data = (folder / "model.onnx").read_bytes()
    (folder / "model.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ModelFolderError, match="model.onnx has .* bytes, the manifest says .*truncated"
    ):
        load_model_folder(folder)
    (folder / "model.onnx").write_bytes(bytes(reversed(data)))
    with pytest.raises(ModelFolderError, match="model.onnx does not match its sha256"):
        load_model_folder(folder)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.update(shiny=True), "unknown fields \\['shiny'\\]"),
        (lambda m: m.pop("dimension"), "lacks the fields \\['dimension'\\]"),
        (lambda m: m.update(format_version=99), "format_version 99, newer than this library reads"),
        (lambda m: m.update(task="translation"), "task 'translation' is not one of"),
        (
            lambda m: m["special_tokens"].update({"[CLS]": 7}),
            "gives \\[CLS\\] id 1, the manifest says 7",
        ),
        (lambda m: m.update(vocab_size=10), "more than the model's vocabulary of 10"),
        (lambda m: m.update(case_sensitive="false"), "'case_sensitive' must be true or false"),
        (lambda m: m.update(dimension="32"), "'dimension' must be an integer, not '32'"),
        (lambda m: m.update(dimension=True), "'dimension' must be an integer, not True"),
        (lambda m: m.update(special_tokens=[0, 1]), "'special_tokens' must be an object"),
        (
            lambda m: m["files"].update({"../../etc/passwd": {"sha256": "0", "bytes": 1}}),
            "names '../../etc/passwd', which is not a plain file name",
        ),
        (
            lambda m: m["files"].update({"/etc/passwd": {"sha256": "0", "bytes": 1}}),
            "names '/etc/passwd', which is not a plain file name",
        ),
        (lambda m: m["files"].update({"model.onnx": "abc"}), "entry 'model.onnx' must be"),
        (
            lambda m: m["files"]["spm.model"].update(bytes="12"),
            "entry 'spm.model' must be",
        ),
    ],
)
def test_bad_manifests_are_refused(folder, change, message: str) -> None:
    edit_manifest(folder, change)
    with pytest.raises(ModelFolderError, match=message):
        load_model_folder(folder)


def test_manifest_that_is_not_json_is_refused(folder) -> None:
    (folder / "manifest.json").write_text("{ not json")
    with pytest.raises(ModelFolderError, match="manifest.json is not valid JSON"):
        load_model_folder(folder)


def test_spm_that_is_not_sentencepiece_is_refused(folder) -> None:
    (folder / "spm.model").write_bytes(b"\x00garbage" * 10)
    edit_manifest(
        folder,
        lambda m: m["files"]["spm.model"].update(
            sha256=hashlib.sha256(b"\x00garbage" * 10).hexdigest(), bytes=80
        ),
    )
    with pytest.raises(ModelFolderError, match="spm.model is not a SentencePiece model"):
        load_model_folder(folder)


def test_a_bad_model_fails_on_the_driver_before_any_job(folder) -> None:
    (folder / "model.onnx").write_bytes(b"x" * (folder / "model.onnx").stat().st_size)
    with pytest.raises(ModelFolderError, match="does not match its sha256"):
        DeBertaEmbeddings.loadSavedModel(str(folder))


def publish(
    remote: Path, folder: Path, name: str, lang: str, *, sha: str | None = None, extra=None
) -> Path:
    """A remote location as pretrained() expects it: index.json and a zip per model."""
    remote.mkdir(parents=True, exist_ok=True)
    archive = remote / f"{name}_{lang}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in sorted(folder.iterdir()):
            zipped.write(file, f"{name}_{lang}/{file.name}")
        if extra:
            extra(zipped)
    digest = sha or hashlib.sha256(archive.read_bytes()).hexdigest()
    index = {"models": [{"name": name, "lang": lang, "file": archive.name, "sha256": digest}]}
    (remote / "index.json").write_text(json.dumps(index))
    return remote


def test_pretrained_downloads_verifies_and_caches(monkeypatch, tmp_path, folder) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    remote = publish(tmp_path / "remote", folder, "tiny", "xx")
    first = resolve_pretrained("tiny", "xx", remote.as_uri())
    assert first == tmp_path / "cache" / "tiny_xx"
    shutil.rmtree(remote)  # cached now: no remote needed
    assert resolve_pretrained("tiny", "xx") == first
    assert DeBertaEmbeddings.pretrained("tiny", "xx").getDimension() == 32


def test_pretrained_refuses_a_wrong_checksum_and_leaves_no_cache(
    monkeypatch, tmp_path, folder
) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    remote = publish(tmp_path / "remote", folder, "tiny", "xx", sha="0" * 64)
    with pytest.raises(ModelFolderError, match="has sha256 .* the index says 0000"):
        resolve_pretrained("tiny", "xx", str(remote))
    assert not (tmp_path / "cache" / "tiny_xx").exists()


@pytest.mark.parametrize("member", ["../escape.txt", "/abs/escape.txt", "tiny_xx/../../escape.txt"])
def test_pretrained_refuses_archives_that_escape_the_target(
    monkeypatch, tmp_path, folder, member
) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    remote = publish(
        tmp_path / "remote", folder, "tiny", "xx", extra=lambda z: z.writestr(member, "x")
    )
    with pytest.raises(ModelFolderError, match="points outside the target"):
        resolve_pretrained("tiny", "xx", str(remote))
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "cache" / "tiny_xx").exists()


def test_pretrained_refuses_symbolic_links_in_archives(monkeypatch, tmp_path, folder) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))

    def add_link(zipped: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo("tiny_xx/link")
        info.external_attr = 0o120777 << 16
        zipped.writestr(info, "/etc/passwd")

    remote = publish(tmp_path / "remote", folder, "tiny", "xx", extra=add_link)
    with pytest.raises(ModelFolderError, match="is a symbolic link"):
        resolve_pretrained("tiny", "xx", str(remote))


def test_unknown_model_in_index_is_named(monkeypatch, tmp_path, folder) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    remote = publish(tmp_path / "remote", folder, "tiny", "xx")
    with pytest.raises(ModelFolderError, match="model other \\(xx\\) is not listed"):
        resolve_pretrained("other", "xx", str(remote))


def rewrite_file(folder: Path, name: str, data: bytes) -> None:
    """Replace a model file and make the manifest agree, as a careless re-export would."""
    (folder / name).write_bytes(data)
    edit_manifest(
        folder,
        lambda m: m["files"][name].update(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)),
    )


def test_a_graph_with_other_input_names_is_refused(folder) -> None:
    onnx = pytest.importorskip("onnx")
    graph = onnx.load(str(folder / "model.onnx"))
    for node in graph.graph.node:
        node.input[:] = ["token_type_ids" if i == "attention_mask" else i for i in node.input]
    for value in graph.graph.input:
        if value.name == "attention_mask":
            value.name = "token_type_ids"
    rewrite_file(folder, "model.onnx", graph.SerializeToString())
    with pytest.raises(
        ModelFolderError,
        match="model.onnx takes inputs \\['input_ids', 'token_type_ids'\\]; this library feeds",
    ):
        DeBertaEmbeddings.loadSavedModel(str(folder))


def test_a_graph_that_is_not_onnx_but_matches_its_manifest_is_refused(folder) -> None:
    rewrite_file(folder, "model_int8.onnx", b"not a graph" * 100)
    with pytest.raises(ModelFolderError, match="model_int8.onnx is not a loadable ONNX model"):
        load_model_folder(folder)


def test_a_manifest_with_other_inputs_is_refused(folder) -> None:
    edit_manifest(folder, lambda m: m.update(inputs=["input_ids", "token_type_ids"]))
    with pytest.raises(ModelFolderError, match="lists inputs .*re-export the model"):
        load_model_folder(folder)
