"""One real Spark session for the whole test run: local[2], or a Spark Connect server's.

With ``SPARK_DEBERTA_TEST_CONNECT=sc://host:port`` the ``spark`` fixture is a Spark Connect session
on that server (tests/test_compat.py starts one and runs the ``compat`` tests against it);
tests that need the classic API (SparkContext, the driver's JVM) are marked ``classic`` and are
skipped there.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


REMOTE = os.environ.get("SPARK_DEBERTA_TEST_CONNECT")


def pytest_collection_modifyitems(config, items) -> None:
    if not REMOTE:
        return
    import pyspark

    from annotators.spark_compat import version_tuple

    skip = pytest.mark.skip(reason="needs a classic session (SparkContext or the driver's JVM)")
    # PySpark 3.5's ML persistence (Pipeline.save/load) needs a SparkContext; 4.0's does not.
    old_client = version_tuple(pyspark.__version__) < (4, 0)
    skip_persistence = pytest.mark.skip(reason="ML persistence on Connect needs PySpark 4.0+")
    for item in items:
        if "classic" in item.keywords:
            item.add_marker(skip)
        elif old_client and "ml_persistence" in item.keywords:
            item.add_marker(skip_persistence)


@pytest.fixture(scope="session")
def spark() -> Iterator:
    from pyspark.sql import SparkSession

    if REMOTE:
        remote = SparkSession.builder.remote(REMOTE).getOrCreate()
        yield remote
        remote.stop()
        return
    from tests.support import local_session

    session = local_session("spark-deberta-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def project_wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once per test run."""
    from tests.cluster import ROOT
    from tests.support import build_wheel

    return build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))
