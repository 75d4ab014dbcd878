"""Helpers the tests share (conftest.py holds only fixtures and collection hooks)."""

from __future__ import annotations

from typing import Any


def annotations_of(rows: list[Any], column: str) -> list[list[dict]]:
    """Collected annotation column as plain dicts, row by row."""
    from annotators.annotation import from_row

    return [[from_row(a) for a in (row[column] or [])] for row in rows]
