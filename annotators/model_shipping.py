"""Shipping a model's files to the executors.

A classic session in local mode shares the driver's disk, so executors read the folder in place.
Elsewhere the model and spm files travel under names prefixed with the graph's checksum (so any
number of models can share an application): with ``SparkContext.addFile`` on a classic session,
and with ``SparkSession.addArtifacts`` on a Spark Connect session, whose client has no
SparkContext and may not share a disk with the server. Executors find them with
``SparkFiles.get`` either way and check their checksum on arrival.

A graph that keeps its weights in external-data files (a model past 2 GB, a Spark NLP import
with its ``*_data`` file) names each file by its plain name and ONNX Runtime looks for it beside
the graph. Every data file the graph names travels too, and the prefix is then a digest of the
graph's and the data files' checksums (two fine-tuned models of one architecture can have the
very same graph bytes). On the executor the first task builds a private folder beside the shipped
files holding links to the graph, the spm model and the data under their own names, and the
graph is loaded from there; each data file's sha256 is checked against the manifest's before
that folder is put in place (once per executor, not per worker), as the graph's is.

What travels once per executor is loaded once per Python worker: each worker that runs a model
stage makes its own engine (``encoder.runtime_for``), so an executor running N tasks at once
holds at least N copies of the weights (more when reused workers swap stages between tasks).
``spark.task.cpus`` equal to ``spark.executor.cores`` bounds it to one: the stage's ``threads``
(0: the task's ``spark.task.cpus``) then gives that one engine every core of the executor.
docs/where-it-runs.md, "On a cluster", has the measurements.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from annotators.deberta.manifest import SPM_FILE
from annotators.deberta.model_folder import (
    FOLDER_OWN_FILES,
    ModelFolder,
    file_sha256,
    graph_tensors,
)
from annotators.errors import ModelFolderError
from annotators.spark_compat import is_connect

_SHIPPED: dict[tuple[str, str], ShippedFiles] = {}
_SHIP_LOCK = threading.Lock()


def shipped_file_name(prefix: str, file_name: str) -> str:
    """The name a model file travels under: SparkFiles is one flat folder for every model."""
    return f"{prefix}-{file_name}"


@dataclass(frozen=True)
class ShippedFiles:
    """A model's files as shipped: the prefix their names travel under, and the graph's
    external-data files with their sha256. Picklable; the encoder settings carry it to the
    workers, which ask it where the files landed."""

    prefix: str
    #: (file name, sha256) of each external-data file the graph names, in the manifest's words.
    data: tuple[tuple[str, str], ...] = ()

    def locate(self, names: Sequence[str]) -> list[Path] | None:
        """The shipped files on this executor, or None outside a Spark task (the driver, a
        LightPipeline), where the model folder is read in place.

        With external data, ``names[0]`` is the graph: the files come back inside the folder of
        links (``linked_folder``), where the graph finds its data by plain name, and every data
        file has been checked against its sha256.
        """
        from pyspark import TaskContext

        if TaskContext.get() is None:
            return None
        wanted = [*names, *(name for name, _ in self.data)]
        files = {name: _shipped_file(shipped_file_name(self.prefix, name)) for name in wanted}
        missing = [f.name for f in files.values() if not f.is_file()]
        if missing:
            raise ModelFolderError(
                f"the model files {missing} did not reach this executor; they are shipped "
                "with SparkContext.addFile (classic) or SparkSession.addArtifacts (Connect) "
                "when the stage runs"
            )
        if not self.data:
            return [files[name] for name in names]
        folder = linked_folder(files, files[names[0]].parent / self.prefix, self.data)
        return [folder / name for name in names]


def linked_folder(
    files: Mapping[str, Path], target: Path, data: Sequence[tuple[str, str]] = ()
) -> Path:
    """``target``, a folder holding each of ``files`` under its key (its own name), made once.

    Every Python worker of an executor may get here at once: each builds a staging folder beside
    ``target``, checks the ``data`` files in it (``check_data_files``) and renames it into
    place; the first rename wins and the others use its folder, so no worker sees a half-built
    or unchecked one, and the gigabytes of a big model are hashed once per executor, not once
    per worker.
    """
    if target.is_dir():
        return target
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as exc:
        raise ModelFolderError(
            f"cannot make the folder for the model's external data beside {target}: {exc}"
        ) from exc
    try:
        for name, source in files.items():
            link_or_copy(source, staging / name)
        check_data_files(staging, data)
        try:
            os.rename(staging, target)
        except OSError:
            if not target.is_dir():  # anything but another worker's folder being there first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link, else a copy. Not a symbolic link: ONNX Runtime resolves links and refuses
    external data whose real path lies outside the graph's folder."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def check_data_files(folder: Path, data: Sequence[tuple[str, str]]) -> None:
    """Refuse external-data files that differ from what the driver checked (the graph's own
    checksum is checked when its session is made)."""
    for name, sha256 in data:
        file = folder / name
        if not file.is_file() or file_sha256(file) != sha256:
            raise ModelFolderError(
                f"the external-data file {name} that reached this executor ({file}) does not "
                "match the sha256 checked on the driver: the copy is corrupt or a different file"
            )


def _shipped_file(name: str) -> Path:
    """Where Spark put a shipped file on this executor (missing: the expected path).

    ``SparkFiles.get`` names it. A Spark Connect session's files sit in a per-session folder
    under the root, and a streaming query's tasks on Connect see only the root, so the session
    folders are searched too: names carry the model's checksum, which is checked on load.
    """
    from pyspark import SparkFiles

    expected = Path(SparkFiles.get(name))
    if expected.is_file():
        return expected
    root = Path(SparkFiles.getRootDirectory())
    for found in sorted([*root.glob(f"*/{name}"), *root.parent.glob(f"*/{name}")]):
        if found.is_file():
            return found
    return expected


def data_files(folder: ModelFolder, precision: str) -> tuple[tuple[str, str], ...]:
    """(name, sha256) of each external-data file the precision's graph names, in its order.

    The folder's loading checked that every name is a plain file name the manifest lists; a
    manifest that lists no data file spares reading the graph.
    """
    if all(name in FOLDER_OWN_FILES for name in folder.manifest.files):
        return ()
    names = dict.fromkeys(
        tensor.location
        for tensor in graph_tensors(folder.model_file(precision))
        if tensor.location is not None
    )
    return tuple((name, folder.manifest.files[name].sha256) for name in names)


def shipped_prefix(checksum: str, data: Sequence[tuple[str, str]] = ()) -> str:
    """The prefix a model's files travel under: the graph's sha256, or with external data a
    digest of it and the data files' (the weights live there, and two models of one
    architecture can share the graph's bytes)."""
    if data:
        checksums = "\n".join([checksum, *(f"{name} {sha256}" for name, sha256 in data)])
        checksum = hashlib.sha256(checksums.encode()).hexdigest()
    return f"deberta-{checksum[:16]}"


def ship_model_files(
    spark: SparkSession, folder: ModelFolder, precision: str
) -> ShippedFiles | None:
    """Ship the folder's model file for ``precision``, its external-data files and its spm
    model, once per application (classic) or session (Connect); how executors find them, or
    None in local mode (where they read the folder in place)."""
    connect = is_connect(spark)
    if not connect and spark.sparkContext.master.startswith("local"):
        return None
    data = data_files(folder, precision)
    prefix = shipped_prefix(folder.checksum(precision), data)
    # Shipped files live as long as the application (classic) or the session (Connect).
    owner = f"connect:{spark.session_id}" if connect else spark.sparkContext.applicationId
    key = (owner, prefix)
    with _SHIP_LOCK:
        if key not in _SHIPPED:
            staging = Path(tempfile.mkdtemp(prefix="spark-deberta-ship-"))
            names = (folder.model_file(precision).name, SPM_FILE, *(name for name, _ in data))
            for file in names:
                shipped = staging / shipped_file_name(prefix, file)
                link_or_copy(folder.path / file, shipped)
                if connect:
                    spark.addArtifacts(str(shipped), file=True)
                else:
                    spark.sparkContext.addFile(str(shipped))
            _SHIPPED[key] = ShippedFiles(prefix, data)
    return _SHIPPED[key]
