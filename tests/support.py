"""Helpers the tests share (conftest.py holds only fixtures and collection hooks)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def annotations_of(rows: list[Any], column: str) -> list[list[dict]]:
    """Collected annotation column as plain dicts, row by row."""
    from annotators.annotation import from_row

    return [[from_row(a) for a in (row[column] or [])] for row in rows]


def build_wheel(root: Path, work: Path) -> Path:
    """The project's wheel, built from a copy of ``root`` (building in the checkout would leave
    build/ there), the way a user builds it: ``pip wheel --no-deps``."""
    source = work / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "annotators", "pipelines", "conf"):
        copy = shutil.copytree if (root / name).is_dir() else shutil.copyfile
        copy(root / name, source / name)
    wheels = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    [wheel] = wheels.glob("spark_deberta-*.whl")
    return wheel
