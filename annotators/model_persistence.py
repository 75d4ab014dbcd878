"""Saving and loading a DeBERTa stage with its model folder, through Hadoop on a classic
session (any store the driver's JVM reaches) or the client's disk on Spark Connect."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReader
from pyspark.sql import SparkSession

from annotators.deberta.manifest import MANIFEST
from annotators.errors import ModelFolderError
from annotators.hadoop_files import HadoopFiles
from annotators.spark_compat import is_connect

#: Where a saved stage keeps its copy of the model folder.
MODEL_SUBDIR = "model"


class ModelFolderWriter(DefaultParamsWriter):
    """Saves the params and a copy of the model files, so a saved pipeline is self-contained."""

    def saveImpl(self, path: str) -> None:
        _check_connect_path(path, self.sparkSession, "save")
        stage = self.instance
        # The params without modelPath: the folder's absolute path on this machine means nothing
        # where the save is loaded (which reads the copy below), and should not leak into it.
        self.instance = stage.copy()
        self.instance.clear(self.instance.modelPath)
        try:
            super().saveImpl(path)
        finally:
            self.instance = stage
        _check_connect_path(path, self.sparkSession, "save", written=True)
        folder = stage.model_folder()
        files = [MANIFEST, *folder.manifest.files]  # the whole folder, so it stays consistent
        _copy_tree(folder.path, path, MODEL_SUBDIR, files, self.sparkSession)


class ModelFolderReader(MLReader):
    def __init__(self, cls: type) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> Any:
        if (Path(path) / MANIFEST).is_file():  # a model folder, not a saved stage
            return self.cls.loadSavedModel(path)
        _check_connect_path(path, self.sparkSession, "load", written=True)
        stage = DefaultParamsReader(self.cls).load(path)
        local = _local_copy(path, MODEL_SUBDIR, self.sparkSession)
        stage._set(modelPath=str(local))
        stage.model_folder()  # check it now, on the driver
        return stage


def _check_connect_path(path: str, spark: SparkSession, action: str, written: bool = False) -> None:
    """On Spark Connect, the stage's params go through the server and its model files through
    this client's disk: both must be the same place, or the save would be split in two.

    A non-local path would need the driver's JVM (Hadoop FileSystem), which a Connect client
    does not have. With ``written``, the server's metadata must be visible here.
    """
    if not is_connect(spark):
        return
    where = (
        "save and load with a classic session, or use a path that this client and the server "
        "share (a local path with a local server; /dbfs/... or /Volumes/... on Databricks)"
    )
    if not _is_local(path):
        raise ModelFolderError(
            f"cannot {action} a DeBERTa stage at {path} from a Spark Connect client: its model "
            f"files are copied by this process, which can reach local paths only; {where}"
        )
    if written and not (Path(_local_path(path)) / "metadata").is_dir():
        raise ModelFolderError(
            f"cannot {action} a DeBERTa stage at {path} from a Spark Connect client: the server "
            f"keeps the stage's metadata where this client cannot see it; {where}"
        )


def _is_local(path: str) -> bool:
    from urllib.parse import urlparse

    return urlparse(path).scheme in ("", "file")


def _local_path(path: str) -> str:
    from urllib.parse import urlparse

    parsed = urlparse(path)
    return parsed.path if parsed.scheme == "file" else path


def _copy_tree(
    source: Path, target: str, subdir: str, names: list[str], spark: SparkSession
) -> None:
    """Copy the model files into ``<target>/<subdir>/``, on the store where Spark saved the
    params: through Hadoop on a classic session (a path without a scheme is on the default
    filesystem, as the params are); on the client's disk on Connect (checked local before)."""
    if is_connect(spark):
        destination = Path(_local_path(target)) / subdir
        destination.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(source / name, destination / name)
        return
    files = HadoopFiles(spark, target)
    destination = f"{target.rstrip('/')}/{subdir}"
    files.mkdirs(destination)
    for name in names:
        files.copy_from_local(source / name, f"{destination}/{name}")


def _local_copy(path: str, subdir: str, spark: SparkSession) -> Path:
    """The saved model files as a local folder: where they are, or a temporary copy."""
    if is_connect(spark):
        return Path(_local_path(path)) / subdir
    saved = f"{path.rstrip('/')}/{subdir}"
    files = HadoopFiles(spark, saved)
    local = files.local_path(saved)
    if local is not None:
        return local
    copy = Path(tempfile.mkdtemp(prefix="spark-deberta-model-")) / subdir
    files.copy_to_local(saved, copy)
    return copy
