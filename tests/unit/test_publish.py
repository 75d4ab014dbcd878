"""``spark-deberta publish``: model folders -> zips and the index.json that pretrained() reads,
proved by a round trip through a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import json
import shutil
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from annotators.deberta.manifest import sha256_of
from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.pretrained import (
    BUNDLED_DIR,
    check_index,
    publish_models,
    resolve_pretrained,
)
from annotators.errors import ModelFolderError
from pipelines.cli import main as cli

MODEL = BUNDLED_DIR / "deberta_v3_tiny_random_en"
NER = Path(__file__).resolve().parents[1] / "fixtures" / "models" / "deberta_v3_tiny_ner"


def renamed(source: Path, target: Path, name: str, lang: str) -> Path:
    """A copy of a model folder under another pretrained name (the manifest is not hashed)."""
    shutil.copytree(source, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest.update(name=name, language=lang)
    (target / "manifest.json").write_text(json.dumps(manifest))
    return target


@pytest.fixture
def served(tmp_path) -> Iterator[tuple[Path, str]]:
    site = tmp_path / "site"
    site.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield site, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_publish_writes_the_index_pretrained_reads(served, tmp_path, monkeypatch) -> None:
    site, url = served
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    tiny = renamed(MODEL, tmp_path / "tiny", "tiny_published", "xx")
    index_path = publish_models([tiny, NER], site)
    index = json.loads(index_path.read_text())
    entries = check_index(index, str(index_path))  # the reader's own checks
    assert [(e["name"], e["lang"], e["file"]) for e in entries] == [
        ("tiny_published", "xx", "tiny_published_xx.zip"),
        ("deberta_v3_tiny_ner", "xx", "deberta_v3_tiny_ner_xx.zip"),
    ]
    for entry in entries:
        archive = site / entry["file"]
        assert entry["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
        assert entry["bytes"] == archive.stat().st_size
        with zipfile.ZipFile(archive) as zipped:
            assert entry["unpacked_bytes"] == sum(i.file_size for i in zipped.infolist())
    folder = resolve_pretrained("tiny_published", "xx", url)
    assert folder == tmp_path / "cache" / "tiny_published_xx"
    assert sha256_of(folder / "model.onnx") == sha256_of(MODEL / "model.onnx")
    ner = load_model_folder(resolve_pretrained("deberta_v3_tiny_ner", "xx", url))
    assert ner.manifest.task == "token-classification" and ner.labels


def test_publishing_again_is_reproducible_and_keeps_other_entries(served, tmp_path) -> None:
    site, _ = served
    tiny = renamed(MODEL, tmp_path / "tiny", "tiny_published", "xx")
    publish_models([tiny, NER], site)
    first = json.loads((site / "index.json").read_text())["models"]
    publish_models([tiny], site)  # the same folder again: same zip, same sha256
    again = json.loads((site / "index.json").read_text())["models"]
    assert sorted(again, key=lambda e: e["name"]) == sorted(first, key=lambda e: e["name"])
    assert sorted(p.name for p in site.iterdir()) == [
        "deberta_v3_tiny_ner_xx.zip",
        "index.json",
        "tiny_published_xx.zip",
    ]


def test_publish_refuses_a_broken_folder_and_leaves_the_index(served, tmp_path) -> None:
    site, _ = served
    publish_models([NER], site)
    before = (site / "index.json").read_bytes()
    broken = renamed(MODEL, tmp_path / "broken", "broken", "xx")
    (broken / "spm.model").write_bytes(b"changed")
    with pytest.raises(ModelFolderError, match="spm.model"):
        publish_models([broken], site)
    with pytest.raises(ModelFolderError, match="again: publish one folder per name"):
        publish_models([NER, NER], site)
    assert (site / "index.json").read_bytes() == before
    assert sorted(p.name for p in site.iterdir()) == ["deberta_v3_tiny_ner_xx.zip", "index.json"]


def test_the_publish_command(served, tmp_path, capsys) -> None:
    site, _ = served
    tiny = renamed(MODEL, tmp_path / "tiny", "tiny_published", "xx")
    assert cli(["publish", str(tiny), "--out", str(site)]) == 0
    printed = capsys.readouterr().out
    assert "tiny_published_xx.zip  tiny_published (xx)  sha256 " in printed
    assert f"wrote {site / 'index.json'}" in printed
    assert cli(["publish", str(tmp_path / "missing"), "--out", str(site)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("spark-deberta publish: ") and err.count("\n") == 1
    assert cli(["publish", str(tiny)]) == 2  # --out is required
    assert "--out" in capsys.readouterr().err
    assert cli(["help", "publish"]) == 0
    assert "index.json" in capsys.readouterr().out
