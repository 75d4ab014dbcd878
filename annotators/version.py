"""This library's version, for ``--version`` and the manifests it writes (Spark-free)."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "spark-deberta"


def library_version() -> str:
    """The installed distribution's version; in a bare checkout, pyproject.toml's."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        if pyproject.is_file():
            found = re.search(
                r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.MULTILINE
            )
            if found:
                return found.group(1)
        return "unknown"
