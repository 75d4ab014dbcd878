"""One real Spark session for the whole test run: local[2], or a Spark Connect server's; and
the test tiers.

Tiers are folders: ``tests/unit`` (no Spark session: cores, files, commands that stop before
Spark), ``tests/spark`` (the shared session) and ``tests/system`` (clusters, Connect servers,
containers, installs, other Pythons: every test there is ``slow``). The quick tier, the inner
loop, is ``pytest -m "not slow"``. So that tiers do not drift, a unit test that asks for the
``spark`` fixture is an error, and a test not marked ``slow`` whose call takes longer than its
tier's budget (``TIME_BUDGET_S``) fails: mark it ``slow`` or make it faster.

With ``SPARK_DEBERTA_TEST_CONNECT=sc://host:port`` the ``spark`` fixture is a Spark Connect session
on that server (tests/system/test_compat.py starts one and runs the ``compat`` tests against it);
tests that need the classic API (SparkContext, the driver's JVM) are marked ``classic`` and are
skipped there.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
# No test reaches the internet: pretrained() must not ask Spark NLP's public model repository
# (tests that exercise it point this at a server on 127.0.0.1).
os.environ["SPARK_DEBERTA_SPARK_NLP_REPOSITORY"] = "off"


REMOTE = os.environ.get("SPARK_DEBERTA_TEST_CONNECT")


#: Seconds a test's call may take in each tier unless it is marked ``slow``.
TIME_BUDGET_S = {"unit": 10.0, "spark": 60.0}
TESTS = Path(__file__).resolve().parent


def tier_of(item: pytest.Item) -> str:
    """The tier folder a test lives in."""
    return Path(item.fspath).resolve().relative_to(TESTS).parts[0]


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        tier = tier_of(item)
        if tier not in ("unit", "spark", "system"):
            raise pytest.UsageError(f"{item.nodeid}: tests live in tests/unit, spark or system")
        item.add_marker(getattr(pytest.mark, tier))
        if tier == "system":
            item.add_marker(pytest.mark.slow)
        if tier == "unit" and "spark" in getattr(item, "fixturenames", ()):
            raise pytest.UsageError(
                f"{item.nodeid} uses a Spark session: move it to tests/spark (unit tests start no "
                "JVM)"
            )
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


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a test outside its tier's time budget (see the module docstring)."""
    started = time.perf_counter()
    result = yield
    budget = TIME_BUDGET_S.get(tier_of(item))
    took = time.perf_counter() - started
    if budget is not None and "slow" not in item.keywords and took > budget:
        pytest.fail(
            f"took {took:.1f} s, over the {tier_of(item)} tier's budget of {budget:.0f} s: mark "
            "it slow (pytest.mark.slow) or make it faster",
            pytrace=False,
        )
    return result


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
