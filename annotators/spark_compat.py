"""Which Spark a DataFrame runs on, decided in one place.

The stages run on classic PySpark 3.5, 4.0 and 4.1+, and on Spark Connect clients of those
versions. Everything that differs between them is answered here:

- the session kind: classic (a JVM behind Py4J, ``SparkContext``) or Connect (a gRPC client
  with no ``SparkContext`` and no JVM on the client side);
- the transport of an annotation column through Python: the Arrow-native iterator UDF
  (``pyspark.sql.functions.arrow_udf``, new in Spark 4.1) where both the client library and the
  server have it, else ``DataFrame.mapInArrow`` (Spark 3.3+; classic and Connect), which carries
  whole rows as Arrow record batches;
- a column with annotation metadata: Connect's ``withColumn`` drops an alias's metadata, so the
  metadata is set with ``withMetadata``, which every kind of session keeps;
- the interpreter a classic session's Python workers start (``PYSPARK_PYTHON``, else ``python3``
  from the PATH): a local session gets this process's own when nothing was set, and one set to an
  interpreter that cannot import this package is refused before the first task runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from annotators.errors import SparkVersionError, StageInputError, WorkerPythonError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

#: The oldest Spark the stages support (the Databricks 14.3/15.4/16.4 LTS runtimes run 3.5).
MIN_SPARK = (3, 5)
#: The first Spark whose server and client both have ``arrow_udf``.
ARROW_UDF_SPARK = (4, 1)

ARROW_UDF = "arrow_udf"
MAP_IN_ARROW = "mapInArrow"
#: Set to ``mapInArrow`` to use the older transport where the newer one exists (the benchmark
#: measures the two in one run this way; also a way around a bug in either).
TRANSPORT_ENV = "SPARK_DEBERTA_TRANSPORT"


def version_tuple(version: str) -> tuple[int, int]:
    """``"3.5.9"`` -> ``(3, 5)``; suffixes such as ``"4.1.0.dev1"`` are ignored."""
    major, minor = version.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def is_connect(obj: DataFrame | SparkSession) -> bool:
    """Whether a DataFrame or session is a Spark Connect client's (no SparkContext there)."""
    return type(obj).__module__.startswith("pyspark.sql.connect")


def spark_version(spark: SparkSession) -> tuple[int, int]:
    """The version the session's server (or JVM) runs, which is what executes the plan."""
    return version_tuple(spark.version)


def transport_for(spark: SparkSession) -> str:
    """The fastest way this session offers to run an annotation core over a column."""
    version = spark_version(spark)
    if version < MIN_SPARK:
        raise SparkVersionError(
            f"spark-deberta needs Spark {MIN_SPARK[0]}.{MIN_SPARK[1]} or newer; this session "
            f"runs Spark {spark.version}"
        )
    available = hasattr(F, "arrow_udf") and version >= ARROW_UDF_SPARK
    forced = os.environ.get(TRANSPORT_ENV)
    if forced == MAP_IN_ARROW or (forced == ARROW_UDF and available):
        return forced
    if forced:
        raise SparkVersionError(
            f"{TRANSPORT_ENV}={forced} cannot be used with Spark {spark.version}; leave it unset "
            f"or set it to {MAP_IN_ARROW}"
        )
    if not is_connect(spark):
        ensure_worker_python(spark)
    return ARROW_UDF if available else MAP_IN_ARROW


#: Interpreters already shown to import this package (a probe costs a Python start-up).
_WORKER_PYTHONS_SEEN: set[str] = set()


def _warn_if_other_python(default: str) -> None:
    """Say so when PySpark's default worker Python is another version than this one.

    The stages' own functions get this interpreter, but Python work PySpark made before the first
    stage ran (``createDataFrame`` of Python objects, RDDs) keeps the default, and PySpark refuses
    a worker of another minor version.
    """
    found = shutil.which(default)
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        theirs = (
            subprocess.run(
                [found, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=60,
            ).stdout.strip()
            if found
            else "not found"
        )  # fmt: skip
    except OSError:
        theirs = "not runnable"
    if theirs != ours:
        warnings.warn(
            f"PYSPARK_PYTHON is not set, so PySpark's own Python workers start {default} "
            f"(Python {theirs}) while this is Python {ours}: spark-deberta's stages use "
            f"{sys.executable}, but DataFrames made from Python objects before them fail. Set "
            f"PYSPARK_PYTHON={sys.executable} before the session starts",
            RuntimeWarning,
            stacklevel=4,
        )


def ensure_worker_python(spark: SparkSession) -> None:
    """Make a local session's Python workers able to import this package, or say what to set.

    PySpark starts workers with ``PYSPARK_PYTHON`` or, when it is unset, whatever ``python3`` is
    first on the PATH: from a virtual environment that is not activated, that is the system
    Python, and every task would fail deep in a Java stack trace. On a local master the workers
    run on this machine, so an unset interpreter is set to this one (what the user meant). An
    interpreter that was set on purpose is probed once. A cluster's executors choose their own
    Python (``spark.pyspark.python``, the image), which the driver cannot check.
    """
    context = spark.sparkContext
    if not context.master.startswith("local"):
        return
    # Outside spark-submit PySpark reads only PYSPARK_PYTHON (spark-submit turns the setting
    # spark.pyspark.python into it), so that is what says the choice was made on purpose.
    if not os.environ.get("PYSPARK_PYTHON"):
        if context.pythonExec != sys.executable:
            _warn_if_other_python(context.pythonExec)
            context.pythonExec = sys.executable
        return
    executable = shutil.which(context.pythonExec) or context.pythonExec
    if executable == sys.executable or executable in _WORKER_PYTHONS_SEEN:
        return
    # What a worker needs: the stages (which import PySpark), on the driver's Python version
    # (PySpark refuses another minor version, but only inside the first task).
    check = "import sys, annotators.stage; print('%d.%d' % sys.version_info[:2])"
    ours = f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        probe = subprocess.run(
            [executable, "-c", check], capture_output=True, text=True, timeout=120
        )
        failed = probe.returncode != 0 or probe.stdout.strip() != ours
        reason = (
            (probe.stderr.strip().splitlines() or ["exit " + str(probe.returncode)])[-1]
            if probe.returncode
            else f"it is Python {probe.stdout.strip()}, this is Python {ours}"
        )
    except OSError as error:
        failed, reason = True, str(error)
    if failed:
        raise WorkerPythonError(
            f"Spark's Python workers start {context.pythonExec} (PYSPARK_PYTHON), which cannot "
            f"import spark-deberta ({reason}). Set PYSPARK_PYTHON={sys.executable} before the "
            "session starts, or install spark-deberta into that Python"
        )
    _WORKER_PYTHONS_SEEN.add(executable)


def check_column_name(stage: str, name: str) -> str:
    """Refuse a column name that Spark would read as a path (``a.b``) or a quoted part, so the
    user gets one clear error instead of an unresolved column deep in a plan; return it."""
    if "." in name or "`" in name:
        raise StageInputError(
            f"{stage}: column name '{name}' has a '.' or a '`', which Spark reads as a nested "
            "field or a quoted name; give annotation columns names without them"
        )
    return name


def with_column(
    dataset: DataFrame, name: str, column: Column, metadata: Mapping[str, Any] | None = None
) -> DataFrame:
    """``withColumn`` whose column metadata survives on classic and Connect sessions alike."""
    result = dataset.withColumn(name, column)
    if metadata is not None:
        result = result.withMetadata(name, dict(metadata))
    return result


def restore_metadata(dataset: DataFrame, metadata: Mapping[str, Mapping[str, Any]]) -> DataFrame:
    """Put back column metadata that a transformation (``mapInArrow``) may not have carried."""
    current = {f.name: f.metadata or {} for f in dataset.schema.fields}
    for name, wanted in metadata.items():
        if wanted and current.get(name) != dict(wanted):
            dataset = dataset.withMetadata(name, dict(wanted))
    return dataset


def valid_utf8(text: Column) -> Column:
    """Text with invalid UTF-8 bytes replaced by U+FFFD, so Python workers can decode it.

    Spark 4.0+ has ``make_valid_utf8``. On 3.5 the round trip through Java's decoder does the
    same repair; the two can differ in how many U+FFFD a malformed run becomes.
    """
    if hasattr(F, "make_valid_utf8"):
        return F.make_valid_utf8(text)
    return F.decode(F.encode(text, "UTF-8"), "UTF-8")
