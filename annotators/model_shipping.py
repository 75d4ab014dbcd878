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
from pathlib import Path

from pyspark.sql import SparkSession

from annotators.deberta.encoder import shipped_file_name
from annotators.deberta.package import SPM_FILE, ModelFolder
from annotators.spark_compat import is_connect

_SHIPPED: dict[tuple[str, str], str] = {}
_SHIP_LOCK = threading.Lock()


def ship_model_files(spark: SparkSession, folder: ModelFolder, precision: str) -> str | None:
    """Ship the folder's model file for ``precision`` and its spm model, once per application
    (classic) or session (Connect); the prefix their names travel under, or None in local mode."""
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
            _SHIPPED[key] = prefix
    return prefix
