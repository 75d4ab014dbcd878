"""Our ``Annotation`` against the reference's ``sparknlp.annotation.Annotation``: the same schema,
``str`` form, equality (both ways), ``copy`` and Row conversions, on generated annotations.

The library never imports ``sparknlp`` (its package ``__init__`` needs ``distutils``, gone in
Python 3.12); the tests do, as the reference. Marked ``compat``: every Python of the suite runs it.
"""

from __future__ import annotations

import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotators import Annotation
from annotators.annotation import ANNOTATION_ARRAY_TYPE, ANNOTATION_TYPE

pytestmark = pytest.mark.compat

reference = pytest.importorskip("sparknlp.annotation").Annotation

FIELDS = st.tuples(
    st.sampled_from(["document", "token", "word_embeddings", "named_entity", "chunk"]),
    st.integers(min_value=0, max_value=2**31 - 1),
    st.integers(min_value=-1, max_value=2**31 - 1),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4),
    st.lists(st.floats(allow_nan=False, width=32), max_size=4),
)


def test_schema_is_the_references() -> None:
    assert Annotation.dataType() == reference.dataType() == ANNOTATION_TYPE
    assert Annotation.arrayType() == reference.arrayType()
    assert ANNOTATION_ARRAY_TYPE.elementType == reference.dataType()


@settings(max_examples=200, deadline=None)
@given(FIELDS, FIELDS)
def test_str_equality_copy_and_rows_match_the_reference(one: tuple, other: tuple) -> None:
    ours, theirs = Annotation(*one), reference(*one)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert ours == theirs and theirs == ours
    assert (Annotation(*other) == theirs) == (reference(*other) == theirs)
    assert str(ours.copy("changed")) == str(theirs.copy("changed"))
    assert tuple(Annotation.toRow(ours)) == tuple(reference.toRow(theirs))
    row = reference.toRow(theirs)
    named = type("NamedRow", (), dict(zip(ANNOTATION_TYPE.names, row, strict=True)))
    assert str(Annotation.fromRow(named)) == str(reference.fromRow(named))


def test_comparing_with_something_else_is_false_not_an_error() -> None:
    assert Annotation("token", 0, 0, "a", {}, []) != "a"
    assert sys.modules.get("sparknlp") is not None  # the reference really was imported here


def test_the_library_never_imports_the_reference() -> None:
    """What broke Python 3.12: importing sparknlp runs its __init__, which needs distutils."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c",
         "import sys, annotators, pipelines.job, annotators.light;"
         "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sparknlp'))"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
