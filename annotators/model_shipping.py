"""Shipping a model's files to the executors.

A classic session in local mode shares the driver's disk, so executors read the folder in place.
Elsewhere the model and spm files travel under names prefixed with the model's checksum (so any
number of models can share an application): with ``SparkContext.addFile`` on a classic session,
and with ``SparkSession.addArtifacts`` on a Spark Connect session, whose client has no
SparkContext and may not share a disk with the server. Executors find them with
``SparkFiles.get`` either way and check their checksum on arrival. (A graph's external-data file
is not shipped: such a model runs in local mode or from a folder every executor reads.)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from annotators.deberta.manifest import SPM_FILE
from annotators.deberta.model_folder import ModelFolder
from annotators.errors import ModelFolderError
from annotators.spark_compat import is_connect

_SHIPPED: dict[tuple[str, str], ShippedFiles] = {}
_SHIP_LOCK = threading.Lock()


def shipped_file_name(prefix: str, file_name: str) -> str:
    """The name a model file travels under: SparkFiles is one flat folder for every model."""
    return f"{prefix}-{file_name}"


@dataclass(frozen=True)
class ShippedFiles:
    """A model's files as shipped: the prefix their names travel under. Picklable; the
    encoder settings carry it to the workers, which ask it where the files landed."""

    prefix: str

    def locate(self, names: Sequence[str]) -> list[Path] | None:
        """The shipped files on this executor, or None outside a Spark task (the driver, a
        LightPipeline), where the model folder is read in place."""
        from pyspark import TaskContext

        if TaskContext.get() is None:
            return None
        files = [_shipped_file(shipped_file_name(self.prefix, name)) for name in names]
        missing = [f.name for f in files if not f.is_file()]
        if missing:
            raise ModelFolderError(
                f"the model files {missing} did not reach this executor; they are shipped "
                "with SparkContext.addFile (classic) or SparkSession.addArtifacts (Connect) "
                "when the stage runs"
            )
        return files


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


def ship_model_files(
    spark: SparkSession, folder: ModelFolder, precision: str
) -> ShippedFiles | None:
    """Ship the folder's model file for ``precision`` and its spm model, once per application
    (classic) or session (Connect); how executors find them, or None in local mode (where
    they read the folder in place)."""
    connect = is_connect(spark)
    if not connect and spark.sparkContext.master.startswith("local"):
        return None
    prefix = f"deberta-{folder.checksum(precision)[:16]}"
    # Shipped files live as long as the application (classic) or the session (Connect).
    owner = f"connect:{spark.session_id}" if connect else spark.sparkContext.applicationId
    key = (owner, prefix)
    with _SHIP_LOCK:
        if key not in _SHIPPED:
            staging = Path(tempfile.mkdtemp(prefix="spark-deberta-ship-"))
            for file in (folder.model_file(precision).name, SPM_FILE):
                shipped = staging / shipped_file_name(prefix, file)
                try:
                    os.link(folder.path / file, shipped)
                except OSError:
                    shutil.copyfile(folder.path / file, shipped)
                if connect:
                    spark.addArtifacts(str(shipped), file=True)
                else:
                    spark.sparkContext.addFile(str(shipped))
            _SHIPPED[key] = ShippedFiles(prefix)
    return _SHIPPED[key]
