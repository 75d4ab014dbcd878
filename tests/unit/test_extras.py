"""What ``pip install "spark-deberta[spark]"`` (or ``[connect]``) lets a resolver pick on each
Python is what the compatibility suite runs there: the newest PySpark the extra allows on a
Python is tested on that Python.

A resolver takes the newest release an extra allows, so an extra that admits a PySpark no test
runs on that Python (as Python 3.10 once got PySpark 4.2) fails here.
"""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.cluster import ROOT
from tests.system.test_compat import ENVIRONMENTS, NEWEST, interpreter

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
#: PySpark releases by minor version, newest last (a fixed list: no index is asked).
RELEASES = [Version(v) for v in ("3.5.0", "3.5.9", "4.0.5", "4.1.4", "4.2.1", "4.3.0")]
PYTHONS = sorted({env.python for env in ENVIRONMENTS.values()} | {NEWEST[0]})


def minors_tested_on(python: str) -> set[tuple[int, int]]:
    """The PySpark minor versions the suite runs on ``python``."""
    found: set[tuple[int, int]] = set()
    for env in [*ENVIRONMENTS.values()]:
        if env.python != python:
            continue
        pins = [Version(p.split("==")[1]) for p in env.pins if p.startswith("pyspark==")]
        found |= {(v.major, v.minor) for v in pins} or {_newest()}
    if python == NEWEST[0]:
        found.add(_newest())
    return found


def _newest() -> tuple[int, int]:
    return RELEASES[-1].major, RELEASES[-1].minor


@pytest.mark.parametrize("extra", ["spark", "connect"])
@pytest.mark.parametrize("python", PYTHONS)
def test_the_newest_pyspark_an_extra_allows_is_tested_on_that_python(
    extra: str, python: str
) -> None:
    environment = {"python_version": python, "extra": extra}
    allowed = [
        version
        for line in PYPROJECT["project"]["optional-dependencies"][extra]
        for requirement in [Requirement(line)]
        if requirement.name == "pyspark"
        and (requirement.marker is None or requirement.marker.evaluate(environment))
        for version in RELEASES
        if requirement.specifier.contains(version)
    ]
    assert allowed, f"[{extra}] allows no PySpark on Python {python}"
    picked = max(allowed)
    minor = (picked.major, picked.minor)
    assert minor in minors_tested_on(python), (
        f"[{extra}] on Python {python} resolves PySpark {picked}, which no test runs there"
    )


def test_every_python_of_the_suite_is_installed_here() -> None:
    for python in PYTHONS:
        assert interpreter(python)
