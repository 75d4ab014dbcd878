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
  metadata is set with ``withMetadata``, which every kind of session keeps.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

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
        raise RuntimeError(
            f"spark-deberta needs Spark {MIN_SPARK[0]}.{MIN_SPARK[1]} or newer; this session "
            f"runs Spark {spark.version}"
        )
    available = hasattr(F, "arrow_udf") and version >= ARROW_UDF_SPARK
    forced = os.environ.get(TRANSPORT_ENV)
    if forced == MAP_IN_ARROW or (forced == ARROW_UDF and available):
        return forced
    if forced:
        raise RuntimeError(
            f"{TRANSPORT_ENV}={forced} cannot be used with Spark {spark.version}; leave it unset "
            f"or set it to {MAP_IN_ARROW}"
        )
    return ARROW_UDF if available else MAP_IN_ARROW


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
