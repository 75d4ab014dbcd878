"""Print the requirements of pyproject.toml: build-system, dependencies and the extras named.

The image installs these in a layer of their own, before any source is copied, so that a change
to the sources (or to README.md) reuses the dependencies already installed:

    python3 docker/pyproject_requirements.py pyproject.toml spark openvino > requirements.txt

An extra that pyproject.toml does not define is left out with a note on stderr (so the image
builds before and after an extra is added); the project's own extras (`name[extra]`) are expanded.
"""

from __future__ import annotations

import re
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pip install tomli first
    import tomli as tomllib

SELF_REFERENCE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\[([^\]]*)\]\s*(;.*)?$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(pyproject: str, extras: list[str]) -> list[str]:
    with open(pyproject, "rb") as file:
        data = tomllib.load(file)
    project = data["project"]
    optional = project.get("optional-dependencies", {})
    found = list(data.get("build-system", {}).get("requires", []))
    found += project.get("dependencies", [])
    pending, seen = list(extras), set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        seen.add(extra)
        if extra not in optional:  # a renamed extra must not build an image without it
            raise SystemExit(f"{pyproject}: no extra {extra!r} (extras: {', '.join(optional)})")
        for requirement in optional[extra]:
            own = SELF_REFERENCE.match(requirement)
            if own and normalize(own.group(1)) == normalize(project["name"]):
                pending += [name.strip() for name in own.group(2).split(",") if name.strip()]
            else:
                found.append(requirement)
    return list(dict.fromkeys(found))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit("usage: pyproject_requirements.py PYPROJECT [EXTRA...]")
    print("\n".join(requirements(sys.argv[1], sys.argv[2:])))
