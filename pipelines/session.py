"""The job's Spark session: settings files, the classic-session check, progress on stderr."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from pipelines.config import ConfigError
from pipelines.errors import JobError


@contextmanager
def progress(spark: SparkSession, interval: float) -> Iterator[None]:
    """Print the running stages' task counts every ``interval`` seconds (0: never)."""
    stop = threading.Event()

    def report() -> None:
        tracker = spark.sparkContext.statusTracker()
        started = time.monotonic()
        while not stop.wait(interval):
            for stage_id in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage_id)
                if info is not None:
                    print(
                        f"[{time.monotonic() - started:6.0f}s] stage {stage_id}: "
                        f"{info.numCompletedTasks}/{info.numTasks} tasks done, "
                        f"{info.numActiveTasks} running",
                        file=sys.stderr,
                        flush=True,
                    )

    thread = threading.Thread(target=report, name="spark-deberta-progress", daemon=True)
    if interval > 0:
        thread.start()
    try:
        yield
    finally:
        stop.set()


def read_spark_conf(path: str) -> dict[str, str]:
    """``spark.key value`` (or ``spark.key=value``) lines of a spark-defaults file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"Spark settings file {file} does not exist")
    settings = {}
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"(spark\.[^\s=]+)\s*[=\s]\s*(\S.*)", line)
        if found is None:
            raise ConfigError(f"{file}:{number}: expected 'spark.key value', got '{line}'")
        settings[found.group(1)] = found.group(2).strip()
    return settings


def refuse_connect() -> None:
    """The job needs the driver's JVM; say so before any work instead of failing midway."""
    raise JobError(
        "the job needs a classic Spark session: it commits its output with the Hadoop "
        "FileSystem API of the driver's JVM, which a Spark Connect client does not have. Run it "
        "with spark-submit or `spark-deberta run` (no SPARK_REMOTE, no spark.remote); on Spark "
        "Connect (Databricks serverless, shared clusters) use the stages in a notebook and "
        "write with df.write (README: Where it runs)"
    )


def session(spark_conf: str | None = None) -> SparkSession:
    """The active session, or a new one: local[*] when no master is configured.

    A local session's Python workers run this interpreter (unless PYSPARK_PYTHON says
    otherwise), so the job works from a virtual environment that is not activated.
    """
    settings = read_spark_conf(spark_conf) if spark_conf else {}
    if os.environ.get("SPARK_REMOTE") or "spark.remote" in settings:
        refuse_connect()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from pyspark import SparkConf, SparkContext

    builder = SparkSession.builder.appName("spark-deberta")
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
