"""pretrained() resolving the reference's own names from a Spark NLP model repository, and
Hugging Face hub ids, each against a real HTTP server on 127.0.0.1.

The repository is laid out as the reference's S3 downloader reads it (REFERENCE_FACTS.md §5):
``<bucket>/public/models/metadata.json`` (JSON lines: name, language, libVersion/sparkVersion
``{"parts": [...]}``, readyToUse, time, isZipped, checksum, annotator, engine) beside zips named
``<name>_<lang>_<lib>_<spark>_<epoch ms>.zip`` that hold a saved Spark NLP model folder
(metadata/part-00000, deberta_onnx or deberta_tensorflow, deberta_spp), built here from the
bundled tiny model. The server answers HTTP range requests as S3 does, unless told not to.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import shutil
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from annotators.deberta.manifest import sha256_of
from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.model_repository import (
    Build,
    candidates,
    download_reference_model,
    forget_indexes,
    is_compatible,
    parse_metadata,
    parse_version,
)
from annotators.deberta.pretrained import BUNDLED_DIR, resolve_pretrained
from annotators.errors import ModelFolderError
from tests.unit.test_spark_nlp_folders import NER, NER_LABELS, PACKAGE, spark_nlp_folder

MODEL = BUNDLED_DIR / "deberta_v3_tiny_random_en"
FOLDER = "/auxdata.johnsnowlabs.com/public/models"
EMBEDDINGS_CLASS = f"{PACKAGE}.embeddings.DeBertaEmbeddings"
#: The build the deberta_v3_xsmall model card links (a TensorFlow one).
CARD_ZIP = "deberta_v3_xsmall_en_3.4.2_3.0_1646908120895.zip"
CARD_TIME = "2022-03-10T10:28:40.895Z"


class Repository:
    """A bucket served over HTTP: GET and HEAD, ranges answered with 206 unless ``ranges`` is
    False; every request is recorded as (path, Range header)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ranges = True
        self.requests: list[tuple[str, str | None]] = []
        repository = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

            def answer(self, body: bool) -> None:
                wanted = self.headers.get("Range")
                repository.requests.append((self.path, wanted))
                file = repository.root / self.path.lstrip("/")
                if not file.is_file():
                    self.send_error(404)
                    return
                data = file.read_bytes()
                found = re.fullmatch(r"bytes=(\d+)-(\d+)", wanted or "")
                if found and repository.ranges:
                    start, end = int(found.group(1)), min(int(found.group(2)), len(data) - 1)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                    data = data[start : end + 1]
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{FOLDER}"
        self.folder = root / FOLDER.lstrip("/")
        self.folder.mkdir(parents=True)
        self.lines: list[str] = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(
        self,
        build: Path,
        name: str,
        lib: list[int],
        spark: list[int],
        time_: str,
        *,
        lang: str = "en",
        engine: str | None = None,
        checksum: str | None = None,
        wrap: bool = False,
    ) -> str:
        """Zip a saved model folder under the reference's file name and list it."""
        millis = _millis(time_)
        key = f"{name}_{lang}_{'.'.join(map(str, lib))}_{'.'.join(map(str, spark))}_{millis}"
        archive = self.folder / f"{key}.zip"
        with zipfile.ZipFile(archive, "w") as zipped:
            for file in sorted(p for p in build.rglob("*") if p.is_file()):
                inside = file.relative_to(build).as_posix()
                zipped.write(file, f"{key}/{inside}" if wrap else inside)
        entry = {
            "name": name,
            "language": lang,
            "libVersion": {"parts": lib},
            "sparkVersion": {"parts": spark},
            "readyToUse": True,
            "time": time_,
            "isZipped": True,
            "category": "ml",
            "checksum": "" if checksum is None else checksum,
        }
        if engine is not None:
            entry.update(annotator="DeBertaEmbeddings", engine=engine)
        self.lines.append(json.dumps(entry))
        self.write()
        return archive.name

    def write(self) -> None:
        (self.folder / "metadata.json").write_text("\n".join(self.lines) + "\n")

    def fetched(self, file: str) -> list[str | None]:
        """The Range headers of the requests for ``file`` (None: the whole file)."""
        return [r for path, r in self.requests if path == f"{FOLDER}/{file}"]


def _millis(stamp: str) -> int:
    """Epoch milliseconds, computed apart from the library's own parser."""
    seconds = time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return int(seconds) * 1000 + int(stamp[20:23])


@pytest.fixture
def repository(tmp_path, monkeypatch) -> Iterator[Repository]:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARK_DEBERTA_REMOTE", raising=False)
    served = Repository(tmp_path / "bucket")
    monkeypatch.setenv("SPARK_DEBERTA_SPARK_NLP_REPOSITORY", served.url)
    yield served
    served.server.shutdown()
    served.server.server_close()


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict[str, Path]:
    """Saved Spark NLP folders: an ONNX and a TensorFlow embeddings build, an ONNX NER one."""
    root = tmp_path_factory.mktemp("builds")
    onnx = spark_nlp_folder(MODEL, root / "onnx", EMBEDDINGS_CLASS)
    tensorflow = spark_nlp_folder(MODEL, root / "tf", EMBEDDINGS_CLASS)
    (tensorflow / "deberta_onnx").rename(tensorflow / "deberta_tensorflow")
    ner_class = f"{PACKAGE}.annotators.classifier.dl.DeBertaForTokenClassification"
    ner = spark_nlp_folder(NER, root / "ner", ner_class)
    return {"onnx": onnx, "tf": tensorflow, "ner": ner}


def imported_graph(folder: Path) -> str:
    return sha256_of(folder / "model.onnx")


# -- the index: names, versions, order ---------------------------------------------------------


def test_zip_names_follow_the_reference_key() -> None:
    # The deberta_v3_xsmall model card's link, and the index example in REFERENCE_FACTS.md §5.
    card = {
        "name": "deberta_v3_xsmall",
        "language": "en",
        "libVersion": {"parts": [3, 4, 2]},
        "sparkVersion": {"parts": [3, 0]},
        "readyToUse": True,
        "time": CARD_TIME,
        "isZipped": True,
        "checksum": "",
    }
    example = (
        '{"name": "bert_base_uncased", "language": "en", "libVersion": {"parts": [6, 1, 5]}, '
        '"sparkVersion": {"parts": [3]}, "readyToUse": true, "time": "2025-03-27T20:09:07.222Z",'
        ' "isZipped": true, "checksum": "", "annotator": "BertEmbeddings","engine":"onnx"}'
    )
    found, malformed = parse_metadata(f"{json.dumps(card)}\n\n{example}\n".encode())
    assert malformed == 0
    assert [b.file_name for b in found] == [
        CARD_ZIP,
        "bert_base_uncased_en_6.1.5_3_1743106147222.zip",
    ]
    assert (found[1].engine, found[1].annotator) == ("onnx", "BertEmbeddings")


def test_versions_parse_and_compare_as_the_reference_does() -> None:
    # Version.parse and isCompatible, REFERENCE_FACTS.md §5.
    assert parse_version("3.5.1-rc2") == (3, 5, 1)
    assert parse_version("4.0.0-preview1") == (4, 0, 0)
    assert parse_version("7.0.0.1") == (7, 0, 0)
    assert is_compatible((7, 0, 0), (6, 1, 5))
    assert is_compatible((3, 5), (3,)) and is_compatible((3, 5), (2, 4))
    assert is_compatible((4, 3, 0), (3,)) and is_compatible((4, 3, 0), (3, 0))
    assert not is_compatible((7, 0, 0), (7, 1, 0))
    assert not is_compatible((3,), (3, 0))  # found has more parts than current
    assert is_compatible((7, 0, 0), None) and is_compatible((7, 0, 0), ())


def build(lib: tuple[int, ...], spark: tuple[int, ...], millis: int = 0, **fields) -> Build:
    values = dict(name="m", language="en", is_zipped=True, checksum="", annotator=None, engine=None)
    values.update(fields)
    return Build(lib_version=lib, spark_version=spark, epoch_ms=millis, **values)  # type: ignore[arg-type]


def test_candidates_order_versions_as_numbers_not_floats() -> None:
    # The reference's toFloat ranks 5.10.0 (5.100) below 5.9.0 (5.90); here 5.10 is newer.
    found = [build((5, 9, 0), (3, 0)), build((5, 10, 0), (3, 0)), build((3, 4, 2), (3, 0), 9)]
    ranked = candidates(found, "m", "en", (7, 0, 0), (4, 3, 0))
    assert [b.lib_version for b in ranked] == [(5, 10, 0), (5, 9, 0), (3, 4, 2)]
    # Spark [3] and [3, 0] rank alike, so the newer library version wins, then the later time.
    mixed = [build((6, 1, 5), (3,)), build((5, 5, 0), (3, 0)), build((6, 1, 5), (3,), 7)]
    ranked = candidates(mixed, "m", "en", (7, 0, 0), (4, 3, 0))
    assert [(b.lib_version, b.epoch_ms) for b in ranked][:2] == [((6, 1, 5), 7), ((6, 1, 5), 0)]
    # Too new for the library or for Spark, another language or name: not candidates.
    others = [
        build((7, 1, 0), (3, 0)),
        build((6, 0, 0), (5,)),
        build((6, 0, 0), (3,), language="de"),
        build((6, 0, 0), (3,), name="x"),
    ]
    assert candidates(others, "m", "en", (7, 0, 0), (4, 3, 0)) == []
    assert len(candidates([build((6, 0, 0), (3,), language=None)], "m", "xx", (7, 0, 0), (4,))) == 1


versions = st.lists(st.integers(0, 20), min_size=1, max_size=3).map(tuple)


@given(versions, versions)
def test_compatibility_is_the_older_or_equal_version(current, found) -> None:
    # isCompatible: not longer, and no newer than current over found's own parts.
    assert is_compatible(current, current)
    if len(found) <= len(current):
        assert is_compatible(current, found) == (found <= current[: len(found)])
    else:
        assert not is_compatible(current, found)


def test_malformed_lines_are_skipped_and_counted() -> None:
    good = {
        "name": "m",
        "libVersion": {"parts": [5]},
        "sparkVersion": {"parts": [3]},
        "readyToUse": True,
        "time": "2024-01-01T00:00:00Z",
    }
    body = (
        "\n".join(
            [
                json.dumps(good),
                "{not json",
                "[1, 2]",
                json.dumps({**good, "libVersion": {"parts": ["5"]}}),
                json.dumps({**good, "time": "yesterday"}),
                json.dumps({**good, "readyToUse": "yes"}),
                json.dumps({**good, "readyToUse": False}),  # valid, not ready: not a candidate
                json.dumps({**good, "sparkVersion": None}),  # valid, unversioned: not a candidate
            ]
        ).encode()
        + b"\n\xff\xfe\n"
    )
    found, malformed = parse_metadata(body)
    assert (len(found), malformed) == (1, 6)
    assert found[0].language is None and found[0].file_name.startswith("m__5_3_1704067200000")


# -- resolving against the served repository ---------------------------------------------------


def test_the_newest_onnx_build_is_downloaded_and_imported(repository, builds, tmp_path) -> None:
    card = repository.add(builds["tf"], "deberta_v3_xsmall", [3, 4, 2], [3, 0], CARD_TIME)
    assert card == CARD_ZIP
    old_onnx = repository.add(
        builds["onnx"], "deberta_v3_xsmall", [5, 9, 0], [3, 0], "2023-01-01T00:00:00.000Z",
        engine="onnx",
    )  # fmt: skip
    onnx = repository.add(
        builds["onnx"], "deberta_v3_xsmall", [5, 10, 0], [3, 0], "2023-06-01T00:00:00.000Z",
        engine="onnx", wrap=True,
    )  # fmt: skip
    newest_tf = repository.add(
        builds["tf"], "deberta_v3_xsmall", [6, 1, 5], [3], "2025-03-27T20:09:07.222Z",
        engine="tensorflow",
    )  # fmt: skip
    too_new = repository.add(
        builds["onnx"], "deberta_v3_xsmall", [7, 1, 0], [3], "2026-01-01T00:00:00.000Z",
        engine="onnx",
    )  # fmt: skip
    repository.lines.insert(1, "{broken")
    repository.write()
    folder = resolve_pretrained("deberta_v3_xsmall", "en")
    assert folder == tmp_path / "cache" / "deberta_v3_xsmall_en"
    manifest = load_model_folder(folder).manifest
    assert (manifest.name, manifest.language, manifest.task) == (
        "deberta_v3_xsmall",
        "en",
        "embeddings",
    )
    assert manifest.source["class"] == EMBEDDINGS_CLASS
    assert imported_graph(folder) == sha256_of(MODEL / "model.onnx")
    assert repository.fetched(onnx) == [None]  # downloaded once, whole
    for untouched in (card, old_onnx, newest_tf, too_new):
        assert repository.fetched(untouched) == []  # the index said what they hold
    assert sorted(
        p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")
    ) == ["deberta_v3_xsmall_en"]
    before = len(repository.requests)
    assert resolve_pretrained("deberta_v3_xsmall", "en") == folder  # from the cache
    assert len(repository.requests) == before


def test_builds_without_an_engine_are_listed_through_ranges(repository, builds) -> None:
    onnx = repository.add(builds["onnx"], "deberta_v3_xsmall", [4, 2, 0], [3, 0], CARD_TIME)
    tf = repository.add(builds["tf"], "deberta_v3_xsmall", [4, 3, 0], [3, 0], CARD_TIME)
    folder = resolve_pretrained("deberta_v3_xsmall", "en")
    assert imported_graph(folder) == sha256_of(MODEL / "model.onnx")
    assert repository.fetched(tf) and all(r is not None for r in repository.fetched(tf))
    size = (repository.folder / tf).stat().st_size
    asked = [tuple(map(int, r.removeprefix("bytes=").split("-"))) for r in repository.fetched(tf)]
    assert sum(end - start + 1 for start, end in asked) < size  # only its directory was read
    assert repository.fetched(onnx)[-1] is None


def test_only_tensorflow_builds_are_refused_with_the_export_command(repository, builds) -> None:
    repository.ranges = False  # a server that ignores ranges: the zip is fetched to look inside
    repository.add(builds["tf"], "deberta_v3_xsmall", [3, 4, 2], [3, 0], CARD_TIME)
    repository.add(
        builds["tf"], "deberta_v3_xsmall", [6, 1, 5], [3], CARD_TIME, engine="tensorflow"
    )
    repository.add(
        builds["onnx"], "deberta_v3_xsmall", [5, 0, 0], [3], CARD_TIME, engine="openvino"
    )
    with pytest.raises(ModelFolderError) as refused:
        resolve_pretrained("deberta_v3_xsmall", "en")
    message = str(refused.value)
    assert message.startswith("model deberta_v3_xsmall (en) is not in the cache")
    assert "holds it only as builds this library cannot run" in message
    assert f"{CARD_ZIP} (TensorFlow)" in message and "(OpenVINO)" in message
    assert "spark-deberta export --checkpoint microsoft/deberta-v3-xsmall --out " in message
    assert repository.fetched(CARD_ZIP)[-1] is None


def test_an_unknown_name_is_refused_naming_the_skipped_lines(repository, builds) -> None:
    repository.add(builds["onnx"], "deberta_v3_xsmall", [5, 0, 0], [3], CARD_TIME, engine="onnx")
    repository.lines += ["nonsense", '{"name": 5}']
    repository.write()
    with pytest.raises(ModelFolderError) as refused:
        resolve_pretrained("deberta_v3_nothing", "en")
    message = str(refused.value)
    assert "lists no build of it for Spark NLP 7.0.0 on Spark" in message
    assert "2 malformed index lines were skipped" in message
    assert "--checkpoint CHECKPOINT" in message
    (repository.folder / "metadata.json").write_text("<html>not an index</html>\n")
    forget_indexes()  # else the index read a moment ago is used again
    with pytest.raises(ModelFolderError, match="is not a Spark NLP model index"):
        download_reference_model(
            "x", "en", repository.url, Path("unused"), timeout=5, deadline_s=30
        )


def test_a_listed_zip_that_is_not_there_is_passed_over(repository, builds) -> None:
    older = repository.add(builds["onnx"], "m", [5, 0, 0], [3], CARD_TIME, engine="onnx")
    gone = repository.add(builds["onnx"], "m", [6, 0, 0], [3], CARD_TIME, engine="onnx")
    unlisted = repository.add(builds["onnx"], "m", [6, 1, 0], [3], CARD_TIME)
    (repository.folder / gone).unlink()
    (repository.folder / unlisted).unlink()
    folder = resolve_pretrained("m", "en")
    assert imported_graph(folder) == sha256_of(MODEL / "model.onnx")
    assert repository.fetched(gone) == [None] and repository.fetched(older) == [None]
    (repository.folder / older).unlink()
    shutil.rmtree(folder)
    with pytest.raises(ModelFolderError, match=r"m_en_6.1.0_3_\d+.zip \(zip missing\), m_en_6"):
        resolve_pretrained("m", "en")


@pytest.mark.parametrize("algorithm", ["md5", "sha256"])
def test_the_index_checksum_is_verified(repository, builds, tmp_path, algorithm) -> None:
    name = repository.add(builds["onnx"], "good", [5, 0, 0], [3], CARD_TIME, engine="onnx")
    digest = hashlib.new(algorithm, (repository.folder / name).read_bytes()).hexdigest()
    repository.lines = []
    repository.add(
        builds["onnx"], "good", [5, 0, 0], [3], CARD_TIME, engine="onnx", checksum=digest.upper()
    )
    repository.add(
        builds["onnx"], "bad", [5, 0, 0], [3], CARD_TIME, engine="onnx", checksum="0" * len(digest)
    )
    repository.add(builds["onnx"], "odd", [5, 0, 0], [3], CARD_TIME, engine="onnx", checksum="abc")
    assert load_model_folder(resolve_pretrained("good", "en")).dimension == 32
    with pytest.raises(ModelFolderError, match="does not match the index's checksum 0000"):
        resolve_pretrained("bad", "en")
    with pytest.raises(ModelFolderError, match="neither MD5 nor SHA-256 hex"):
        resolve_pretrained("odd", "en")
    left = [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")]
    assert left == ["good_en"]


def test_an_oversized_zip_is_refused(repository, builds, tmp_path) -> None:
    repository.add(builds["onnx"], "big", [5, 0, 0], [3], CARD_TIME, engine="onnx")
    with pytest.raises(ModelFolderError, match="larger than 1000 bytes: refusing it"):
        download_reference_model(
            "big", "en", repository.url, tmp_path / "cache" / "big_en",
            timeout=5, deadline_s=30, max_archive_bytes=1000,
        )  # fmt: skip
    assert not (tmp_path / "cache" / "big_en").exists()


def test_an_unreachable_repository_is_a_clear_and_quick_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SPARK_DEBERTA_REMOTE", raising=False)
    monkeypatch.setenv("SPARK_DEBERTA_SPARK_NLP_REPOSITORY", "http://127.0.0.1:9/public/models")
    monkeypatch.setenv("SPARK_DEBERTA_DOWNLOAD_TIMEOUT", "2")
    started = time.monotonic()
    with pytest.raises(ModelFolderError) as refused:
        resolve_pretrained("deberta_v3_base", "en")
    assert time.monotonic() - started < 10
    message = str(refused.value)
    assert "cannot be read (http://127.0.0.1:9/public/models/metadata.json: " in message
    assert "--checkpoint microsoft/deberta-v3-base" in message
    monkeypatch.setenv("SPARK_DEBERTA_SPARK_NLP_REPOSITORY", "off")
    with pytest.raises(ModelFolderError, match="no remote location is set"):
        resolve_pretrained("deberta_v3_base", "en")


def test_a_classifier_build_is_kept_and_named_with_its_import_call(
    repository, builds, tmp_path
) -> None:
    from annotators import DeBertaForTokenClassification

    name = "deberta_v3_xsmall_token_classifier_conll03"
    repository.add(builds["ner"], name, [5, 1, 0], [3, 0], CARD_TIME, engine="onnx")
    with pytest.raises(ModelFolderError) as refused:
        resolve_pretrained(name, "en")
    message = str(refused.value)
    assert "is a Spark NLP DeBertaForTokenClassification, whose labels are kept" in message
    kept = re.search(r"loadSparkNlpModel\('([^']+)'", message).group(1)
    model = DeBertaForTokenClassification.loadSparkNlpModel(
        kept, out=tmp_path / "ner", labels=NER_LABELS
    )
    assert model.getClasses() == NER_LABELS


def test_public_models_and_the_one_liner_use_the_repository(repository, builds) -> None:
    from annotators import DeBertaEmbeddings, nlu

    repository.add(builds["onnx"], "deberta_v3_xsmall", [5, 0, 0], [3], CARD_TIME, engine="onnx")
    stage = DeBertaEmbeddings.pretrained("deberta_v3_xsmall", "en", "public/models")
    assert stage.getDimension() == 32
    rows = nlu.load("en.embed.deberta_v3_xsmall").predict("Hello there")
    assert list(rows["token"]) == ["Hello", "there"]
    assert len(rows["embedding"][0]) == 32


# -- Hugging Face hub ids ----------------------------------------------------------------------


def test_a_hub_id_without_the_export_extra_says_what_to_install(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPARK_DEBERTA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    with pytest.raises(ModelFolderError) as refused:
        resolve_pretrained("microsoft/deberta-v3-xsmall")
    message = str(refused.value)
    assert "microsoft/deberta-v3-xsmall is a Hugging Face hub id" in message
    assert "pip install 'spark-deberta[export]' torch==2.13.0" in message
    assert "spark-deberta export --checkpoint microsoft/deberta-v3-xsmall --out " in message


class Hub:
    """Files of one model repository served as the Hugging Face hub serves them to
    ``huggingface_hub`` (its ``HF_ENDPOINT``): the revision's info, the tree listing, and
    ``resolve`` with the X-Repo-Commit, ETag and Content-Length headers it needs."""

    def __init__(self, repo_id: str, files: Path) -> None:
        self.requests: list[str] = []
        commit = hashlib.sha1(repo_id.encode()).hexdigest()
        names = sorted(p.name for p in files.iterdir() if p.is_file())
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

            def send(self, data: bytes, body: bool, headers: dict[str, str]) -> None:
                self.send_response(200)
                for header, value in {**headers, "Content-Length": str(len(data))}.items():
                    self.send_header(header, value)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def answer(self, body: bool) -> None:
                path = self.path.split("?")[0]
                hub.requests.append(path)
                if path == f"/api/models/{repo_id}/revision/main":
                    info = {
                        "id": repo_id,
                        "sha": commit,
                        "siblings": [{"rfilename": n} for n in names],
                    }
                    self.send(json.dumps(info).encode(), body, {"Content-Type": "application/json"})
                elif path == f"/api/models/{repo_id}/tree/{commit}":
                    tree = [
                        {
                            "type": "file",
                            "path": n,
                            "size": (files / n).stat().st_size,
                            "oid": hashlib.sha1((files / n).read_bytes()).hexdigest(),
                        }
                        for n in names
                    ]
                    self.send(json.dumps(tree).encode(), body, {"Content-Type": "application/json"})
                elif path.startswith(f"/{repo_id}/resolve/") and path.rsplit("/", 1)[-1] in names:
                    data = (files / path.rsplit("/", 1)[-1]).read_bytes()
                    etag = f'"{hashlib.sha256(data).hexdigest()}"'
                    self.send(data, body, {"X-Repo-Commit": commit, "ETag": etag})
                else:
                    self.send_error(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


HUB_EXPORT = """
import sys
from annotators.deberta.pretrained import resolve_pretrained
print(resolve_pretrained(sys.argv[1], "xx"))
"""


@pytest.mark.slow
def test_a_hub_id_is_exported_into_the_cache_once_with_its_parity_proof(tmp_path) -> None:
    import subprocess

    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from annotators.deberta.synthetic import build_random_checkpoint, train_spm
    from tests.fixtures.make_tiny_model import CORPUS
    from tests.support import TINY_SHAPE

    spm_model = train_spm(tmp_path, CORPUS, vocab_size=600)
    checkpoint = build_random_checkpoint(tmp_path / "hf", spm_model, TINY_SHAPE, seed=5)
    hub = Hub("tester/tiny-deberta", checkpoint)
    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(root),
        "HF_ENDPOINT": hub.url,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "SPARK_DEBERTA_CACHE": str(tmp_path / "cache"),
    }
    try:
        fetched = []
        for _ in range(2):  # the second run finds the export in the cache
            done = subprocess.run(
                [sys.executable, "-c", HUB_EXPORT, "tester/tiny-deberta"],
                capture_output=True, text=True, env=env, timeout=600,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr[-3000:]
            assert done.stdout.strip() == str(tmp_path / "cache" / "hf--tester--tiny-deberta_xx")
            fetched.append([r for r in hub.requests if "/resolve/" in r])
            hub.requests.clear()
        assert any(r.endswith("/model.safetensors") for r in fetched[0])
        assert fetched[1] == []
    finally:
        hub.server.shutdown()
        hub.server.server_close()
    manifest = load_model_folder(tmp_path / "cache" / "hf--tester--tiny-deberta_xx").manifest
    assert (manifest.name, manifest.language, manifest.dimension) == (
        "tester/tiny-deberta",
        "xx",
        16,
    )
    assert manifest.parity["max_abs_diff"] <= 1e-4
