"""Each stage against the installed reference's class of the same name (Spark NLP's Python API
is the contract): what a script can reach, the Params' defaults and the methods' argument names.
Every difference must be listed, with its reason, in docs/migrating.md's API differences."""

from __future__ import annotations

import ast
import contextlib
import inspect
import re
import textwrap
from pathlib import Path

import pytest
from pyspark.ml.param import Param

import annotators
from tests.support import library_classes

reference_annotator = pytest.importorskip("sparknlp.annotator")
reference_base = pytest.importorskip("sparknlp.base")

ROOT = Path(__file__).resolve().parents[2]
STAGES = [name for name in library_classes() if name != "Annotation"]


def reference_class(name: str) -> type:
    return getattr(reference_annotator, name, None) or getattr(reference_base, name)


def listed() -> set[tuple[str, str]]:
    """(stage, member) pairs of the table; "DeBERTa stages" stands for every DeBerta* class."""
    text = (ROOT / "docs" / "migrating.md").read_text(encoding="utf-8")
    table = text.split("## API differences", 1)[1].split("\n## ", 1)[0]
    pairs = set()
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("stage", "---"):
            continue
        stages = (
            [s for s in STAGES if s.startswith("DeBerta")]
            if cells[0] == "DeBERTa stages"
            else [cells[0]]
        )
        for member in re.findall(r"`(\w+)`( default)?", cells[1]):
            pairs |= {(stage, member[0] + member[1]) for stage in stages}
    return pairs


def _params(cls: type) -> set[str]:
    return {n for n in dir(cls) if isinstance(getattr(cls, n, None), Param)}


def _members(cls: type) -> set[str]:
    """Public methods and Params the reference's own classes define (its data attributes,
    such as ``getter_attrs`` or ``inputAnnotatorTypes``, are its machinery, not API)."""
    names = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("sparknlp"):
            names |= {
                n
                for n, v in vars(klass).items()
                if not n.startswith("_")
                and (callable(v) or isinstance(v, Param | classmethod | staticmethod | property))
            }
    return names


def _reference_defaults(cls: type) -> dict[str, object]:
    """The literal defaults the reference's classes set with ``_setDefault``."""
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if not klass.__module__.startswith("sparknlp"):
            continue
        source = textwrap.dedent(inspect.getsource(klass))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "_setDefault":
                for keyword in node.keywords:
                    with contextlib.suppress(ValueError):
                        found[keyword.arg] = ast.literal_eval(keyword.value)
    return found


def differences(name: str) -> set[str]:
    ours, theirs = getattr(annotators, name), reference_class(name)
    found = {
        m
        for m in _members(theirs)
        if not hasattr(ours, m)
        or (isinstance(getattr(theirs, m), Param) and not isinstance(getattr(ours, m), Param))
    }
    if _params(ours):
        stage = ours()
        for param, default in _reference_defaults(theirs).items():
            if stage.hasParam(param) and (
                not stage.hasDefault(param) or stage.getOrDefault(param) != default
            ):
                found.add(f"{param} default")
    for member in _members(theirs) & set(dir(ours)):
        mine, reference = getattr(ours, member), getattr(theirs, member)
        if isinstance(reference, Param) or not callable(reference):
            continue
        arguments = [
            [p for p in inspect.signature(f).parameters if p not in ("self", "cls")]
            for f in (reference, mine)
        ]
        if arguments[0] != arguments[1]:
            found.add(f"{member} arguments")
    return found


@pytest.mark.parametrize("name", STAGES)
def test_every_difference_from_the_reference_is_listed(name) -> None:
    found = differences(name)
    allowed = {member for stage, member in listed() if stage == name}
    assert found - allowed == set(), "not listed in docs/migrating.md's API differences"
    assert allowed - found == set(), "listed in docs/migrating.md but no longer a difference"


def test_every_row_names_a_stage_we_have() -> None:
    assert {stage for stage, _ in listed()} <= set(STAGES)
