"""The typed manifest: every committed model folder's manifest reads and writes back unchanged,
and every field refuses a value of the wrong type, a missing required field or an unknown one,
naming the field (generated from the dataclass's own fields, so a new field is covered)."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from annotators.deberta.manifest import Manifest, read_manifest
from annotators.errors import ModelFolderError

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = sorted(
    [*ROOT.glob("tests/fixtures/models/*"), *ROOT.glob("annotators/deberta/bundled/*")]
)
#: A value of another JSON type than each kind.
WRONG = {int: "1", str: 1, bool: "false", dict: [], list: {}}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_committed_manifests_read_and_write_back_unchanged(folder) -> None:
    on_disk = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest = read_manifest(folder)
    assert {k: v for k, v in manifest.to_json().items() if k in on_disk} == on_disk
    assert set(manifest.to_json()) - set(on_disk) <= {"problem_type", "quantization"}


def _bundled() -> dict:
    return json.loads((FOLDERS[-1] / "manifest.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "field", [f for f in fields(Manifest) if f.metadata["kind"]], ids=lambda f: f.name
)
def test_each_typed_field_refuses_a_value_of_another_type(field) -> None:
    data = {**_bundled(), field.name: WRONG[field.metadata["kind"]]}
    with pytest.raises(ModelFolderError, match=field.name):
        Manifest.from_json(data, Path("manifest.json"))


@pytest.mark.parametrize(
    "field", [f for f in fields(Manifest) if f.default is MISSING], ids=lambda f: f.name
)
def test_each_required_field_is_required(field) -> None:
    data = {k: v for k, v in _bundled().items() if k != field.name}
    with pytest.raises(ModelFolderError, match=f"lacks the fields \\['{field.name}'\\]"):
        Manifest.from_json(data, Path("manifest.json"))


def test_an_unknown_field_and_a_newer_format_are_refused() -> None:
    with pytest.raises(ModelFolderError, match="unknown fields \\['extra'\\]"):
        Manifest.from_json({**_bundled(), "extra": 1}, Path("manifest.json"))
    with pytest.raises(ModelFolderError, match="upgrade spark-deberta"):
        Manifest.from_json({**_bundled(), "format_version": 99}, Path("manifest.json"))
