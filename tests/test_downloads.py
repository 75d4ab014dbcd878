"""pretrained() against a real HTTP server on 127.0.0.1: verified, atomic, locked, and bounded in
time when the server stalls."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotators.deberta.package import (
    BUNDLED_DIR,
    ModelFolderError,
    download_pretrained,
    load_model_folder,
    resolve_pretrained,
)
from tests.test_model_folder import publish

ROOT = Path(__file__).resolve().parents[1]
MODEL = BUNDLED_DIR / "deberta_v3_tiny_random_en"


class Remote:
    """A model index served over HTTP; ``behaviour`` changes how the zip is sent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.behaviour = "normal"  # normal | slow | stall
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
                    time.sleep(1.0)  # slow: both clients overlap
                    self.wfile.write(data[100:])
                    return
                super().do_GET()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, sha: str | None = None) -> None:
        publish(self.root, MODEL, "tiny", "xx", sha=sha)


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
from annotators.deberta.package import resolve_pretrained
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
