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


#: The random checkpoints the exporter tests build: small enough to export in seconds.
TINY_SHAPE = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
}


def local_session(app: str) -> Any:
    """The local[2] session of the tests (conftest's fixture, the compat environments' seed)."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def full_annotation(light: Any, text: str | None) -> dict[str, list[Any]]:
    """``light.fullAnnotate(text)[0]``, for a null text too: the call refuses None as the
    reference's does, and the rows API (what a null DataFrame row goes through) takes it."""
    from annotators.annotation import to_annotation

    return {
        column: [to_annotation(a, light.parse_embeddings) for a in annotations]
        for column, annotations in light.run_row(text).items()
    }


def library_classes() -> dict[str, type]:
    """The classes ``annotators`` exports that are this library's own (its ``__all__`` also
    has annotation-type strings, and pyspark.ml's Pipeline and PipelineModel for the
    reference's star imports)."""
    import annotators

    found = {name: getattr(annotators, name) for name in annotators.__all__}
    return {
        name: value
        for name, value in found.items()
        if isinstance(value, type) and value.__module__.startswith("annotators.")
    }


def param_stages() -> dict[str, type]:
    """The library's classes that are pyspark.ml stages (they have Params)."""
    from pyspark.ml.param import Params

    return {name: cls for name, cls in library_classes().items() if issubclass(cls, Params)}
