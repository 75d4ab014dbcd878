"""pretrained() against a real HTTP server on 127.0.0.1: verified, atomic, locked, and bounded in
time when the server stalls."""

from __future__ import annotations

import http.server
import json
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.pretrained import BUNDLED_DIR, download_pretrained, resolve_pretrained
from annotators.errors import ModelFolderError
from tests.unit.test_model_folder import publish

ROOT = Path(__file__).resolve().parents[2]
MODEL = BUNDLED_DIR / "deberta_v3_tiny_random_en"


class Remote:
    """A model index served over HTTP; ``behaviour`` changes how the zip is sent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.behaviour = "normal"  # normal | slow | stall | drip
        self.requests: list[str] = []
        self.release = threading.Event()
        remote = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                remote.requests.append(self.path)
                if self.path.endswith(".zip") and remote.behaviour != "normal":
                    data = (root / self.path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:100])
                    self.wfile.flush()
                    if remote.behaviour == "stall":
                        remote.release.wait(30)  # sends nothing more
                        return
                    if remote.behaviour == "drip":  # a byte at a time, never a read timeout
                        for byte in data[100:]:
                            if remote.release.wait(0.2):
                                return
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        return
                    time.sleep(1.0)  # slow: both clients overlap
                    self.wfile.write(data[100:])
                    return
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, sha: str | None = None, extra=None, **fields) -> None:
        publish(self.root, MODEL, "tiny", "xx", sha=sha, extra=extra)
        if fields:
            index = json.loads((self.root / "index.json").read_text())
            index["models"][0].update(fields)
            (self.root / "index.json").write_text(json.dumps(index))


@pytest.fixture
def remote(tmp_path, monkeypatch) -> Iterator[Remote]:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    (tmp_path / "remote").mkdir()
    server = Remote(tmp_path / "remote")
    server.thread.start()
    yield server
    server.release.set()
    server.server.shutdown()
    server.server.server_close()


def leftovers(cache: Path) -> list[str]:
    """Anything in the cache but finished model folders and lock files."""
    if not cache.exists():
        return []
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))


def test_download_over_http_is_verified_cached_and_not_repeated(remote, tmp_path) -> None:
    remote.publish()
    folder = resolve_pretrained("tiny", "xx", remote.url)
    assert folder == tmp_path / "cache" / "tiny_xx"
    assert load_model_folder(folder).dimension == 32
    assert leftovers(tmp_path / "cache") == ["tiny_xx"]
    fetched = len(remote.requests)
    assert resolve_pretrained("tiny", "xx", remote.url) == folder
    assert len(remote.requests) == fetched  # served from the cache


def test_a_wrong_checksum_over_http_is_refused_and_nothing_is_cached(remote, tmp_path) -> None:
    remote.publish(sha="f" * 64)
    with pytest.raises(ModelFolderError, match="has sha256 .* the index says ffff.*refusing it"):
        resolve_pretrained("tiny", "xx", remote.url)
    assert leftovers(tmp_path / "cache") == []


def test_a_stalled_server_times_out_and_leaves_nothing(remote, tmp_path) -> None:
    remote.publish()
    remote.behaviour = "stall"
    started = time.monotonic()
    with pytest.raises(ModelFolderError, match="download of tiny_xx.zip from .* failed.*timed out"):
        download_pretrained("tiny", "xx", remote.url, timeout=1.0)
    assert time.monotonic() - started < 15
    assert leftovers(tmp_path / "cache") == []


def test_a_missing_server_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelFolderError, match="cannot read index.json at http://127.0.0.1:9"):
        download_pretrained("tiny", "xx", "http://127.0.0.1:9", timeout=2.0)


FILL = """
import sys
from annotators.deberta.pretrained import resolve_pretrained
print(resolve_pretrained("tiny", "xx", sys.argv[1]))
"""


def test_two_processes_filling_the_cache_at_once_download_once(remote, tmp_path) -> None:
    remote.publish()
    remote.behaviour = "slow"
    env = {"SPARK_DEBERTA_CACHE": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", FILL, remote.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**env, "PATH": "/usr/bin:/bin"},
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    assert {out.strip() for out, _ in outputs} == {str(tmp_path / "cache" / "tiny_xx")}
    assert sum(r.endswith(".zip") for r in remote.requests) == 1
    assert load_model_folder(tmp_path / "cache" / "tiny_xx").dimension == 32
    assert leftovers(tmp_path / "cache") == ["tiny_xx"]
    shutil.rmtree(tmp_path / "cache")


def test_a_dripping_server_is_stopped_by_the_deadline(remote, tmp_path) -> None:
    remote.publish()
    remote.behaviour = "drip"
    started = time.monotonic()
    with pytest.raises(ModelFolderError, match="did not arrive within the download deadline"):
        download_pretrained("tiny", "xx", remote.url, timeout=5.0, deadline_s=2.0)
    assert time.monotonic() - started < 10
    assert leftovers(tmp_path / "cache") == []


def test_a_zip_bomb_and_an_oversized_body_are_refused(remote, tmp_path) -> None:
    def bomb(zipped) -> None:
        zipped.writestr("tiny_xx/padding.bin", bytes(64 << 20), zipfile.ZIP_DEFLATED)

    remote.publish(extra=bomb)
    with pytest.raises(ModelFolderError, match="unpacks to more than .* bytes: refusing it"):
        resolve_pretrained("tiny", "xx", remote.url)
    remote.publish(bytes=100)
    with pytest.raises(ModelFolderError, match="larger than 100 bytes: refusing it"):
        resolve_pretrained("tiny", "xx", remote.url)
    remote.publish(unpacked_bytes=1000)
    with pytest.raises(ModelFolderError, match="unpacks to more than 1000 bytes"):
        resolve_pretrained("tiny", "xx", remote.url)
    assert leftovers(tmp_path / "cache") == []
    archive = remote.root / "tiny_xx.zip"
    remote.publish(bytes=archive.stat().st_size, unpacked_bytes=10 << 20)
    assert load_model_folder(resolve_pretrained("tiny", "xx", remote.url)).dimension == 32


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"bytes": "12"}, r"models\[0\]\.bytes must be an integer, got '12'"),
        ({"file": "../elsewhere.zip"}, r"models\[0\]\.file '../elsewhere.zip' must be a plain"),
        ({"sha256": "XYZ"}, r"models\[0\]\.sha256 must be 64 lowercase hex digits"),
        ({"name": 7}, r"models\[0\]\.name must be a string, got 7"),
        ({"unpacked_bytes": -1}, r"models\[0\]\.unpacked_bytes is negative"),
    ],
)
def test_index_fields_are_type_checked(remote, tmp_path, fields, message) -> None:
    remote.publish(**fields)
    with pytest.raises(ModelFolderError, match=message):
        resolve_pretrained("tiny", "xx", remote.url)
    assert leftovers(tmp_path / "cache") == []


def test_an_index_that_is_not_an_index_is_refused(remote) -> None:
    for body in ("[]", '{"models": {}}', '{"models": [5]}', " " * (2 << 20)):
        (remote.root / "index.json").write_text(body)
        with pytest.raises(ModelFolderError, match="index.json"):
            resolve_pretrained("tiny", "xx", remote.url)
