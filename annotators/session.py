"""``annotators.start()``: the counterpart of ``sparknlp.start()``, and the one place that
starts a Spark session for this library (the batch job's ``pipelines.session`` uses it too).

It takes the reference's arguments, so a script that calls ``sparknlp.start(memory="8G",
params={...})`` runs after the rename. There is no jar to fetch, so the Maven and hardware
flags (``gpu``, ``apple_silicon``, ``aarch64``, ``skip_sparknlp_maven``) change nothing: a stage
runs on a GPU with ``setExecutionProvider("cuda")``. ``cache_folder`` is where ``pretrained()``
keeps models (``SPARK_DEBERTA_CACHE``). An existing session is returned as it is, with a
warning that settings given now may not take, as the reference does.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

APP_NAME = "spark-deberta"


def start(
    gpu: bool = False,
    apple_silicon: bool = False,
    aarch64: bool = False,
    memory: str = "16G",
    cache_folder: str = "",
    log_folder: str = "",
    cluster_tmp_dir: str = "",
    params: Mapping[str, Any] | None = None,
    real_time_output: bool = False,
    output_level: int = 1,
    skip_sparknlp_maven: bool = False,
) -> SparkSession:
    """A SparkSession for the stages: the active one if there is one, else a new one on the
    configured master (``spark-submit --master``, ``params["spark.master"]``) or ``local[*]``.

    ``memory`` is the driver's memory; every ``params`` entry goes to the session's builder.
    ``log_folder`` and ``cluster_tmp_dir`` are the reference's JVM settings and are passed on
    as such (no stage here reads them).
    """
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise TypeError('params must be a dictionary like {"spark.executor.memory": "8G"}')
    settings = {str(k): str(v) for k, v in params.items() if k != "skip_sparknlp_maven"}
    settings.setdefault("spark.driver.memory", memory)
    for value, key in (
        (log_folder, "spark.jsl.settings.annotator.log_folder"),
        (cluster_tmp_dir, "spark.jsl.settings.storage.cluster_tmp_dir"),
    ):
        if value:
            settings[key] = value
    if cache_folder:
        os.environ["SPARK_DEBERTA_CACHE"] = cache_folder
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        warnings.warn(
            "a Spark session is already running: start() returns it, and settings given now "
            "may not take",
            RuntimeWarning,
            stacklevel=2,
        )
        return active
    return new_session(settings)


def new_session(settings: Mapping[str, str], app_name: str = APP_NAME) -> SparkSession:
    """A session with ``settings``: on the master Spark was given (spark-submit, the settings),
    else ``local[*]``, whose Python workers then run this interpreter (unless PYSPARK_PYTHON
    says otherwise), so it works from a virtual environment that is not activated."""
    from pyspark import SparkConf, SparkContext
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(settings.get("spark.app.name", app_name))
    for key, value in settings.items():
        builder = builder.config(key, value)
    # Under spark-submit the JVM is already up and holds --master; a SparkConf made before the
    # gateway is initialised would not see it (and the job would silently run in local[*]).
    # Otherwise this launches the JVM, with the settings that only apply at launch (memory).
    SparkContext._ensure_initialized(conf=SparkConf(loadDefaults=False).setAll(settings.items()))
    master = settings.get("spark.master") or SparkConf().get("spark.master", None)
    if master is None:
        builder = builder.master("local[*]")
    if master is None or master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate()
