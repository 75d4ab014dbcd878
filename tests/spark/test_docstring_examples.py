"""Every public stage documents its parameters and a runnable example in its class docstring.

The examples run as doctests: each class's own docstring (``DocTestFinder(recurse=False)``), from
the repository root (fixture models are named by relative paths), with the shared ``spark``
session as their one global (they import the rest themselves). What an example prints must be
exactly what its docstring shows. A public stage without an ``Examples`` section with ``>>>``
lines, or without a ``Parameters`` section, fails here, so a new stage cannot go undocumented.
"""

from __future__ import annotations

import doctest
import inspect
import re
from pathlib import Path

import pytest

import annotators
from tests.support import library_classes

ROOT = Path(__file__).resolve().parents[2]
#: Every public class of this library (the annotation type names in ``__all__`` are strings;
#: pyspark.ml's Pipeline and PipelineModel are there for the reference's star imports).
CLASSES = list(library_classes())
#: Public classes that are not stages: no parameters to document, an example optional.
NOT_STAGES = {"Annotation"}
STAGES = [name for name in CLASSES if name not in NOT_STAGES]


def own_docstring(name: str) -> str:
    """The class's own docstring (``__doc__`` is never inherited from a base class)."""
    return inspect.cleandoc(getattr(annotators, name).__doc__ or "")


def section(docstring: str, title: str) -> str | None:
    """The text of a numpydoc section (``Title`` over a dashed line), or None without one."""
    found = re.search(
        rf"^{title}\n-{{{len(title)}}}\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)", docstring, re.M | re.S
    )
    return found.group(1) if found else None


def test_the_public_classes_are_found() -> None:
    assert {"DeBertaEmbeddings", "LightPipeline", "Tokenizer"} <= set(STAGES)
    assert "CATEGORY" not in CLASSES


@pytest.mark.parametrize("name", STAGES)
def test_every_stage_documents_its_parameters_and_an_example(name: str) -> None:
    docstring = own_docstring(name)
    parameters = section(docstring, "Parameters")
    assert parameters and parameters.strip(), f"{name}'s docstring has no Parameters section"
    examples = section(docstring, "Examples")
    assert examples is not None, f"{name}'s docstring has no Examples section"
    assert re.search(r"^>>> ", examples, re.M), f"{name}'s Examples section has no >>> lines"


@pytest.mark.parametrize("name", CLASSES)
def test_the_docstring_examples_run(name: str, spark, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    finder = doctest.DocTestFinder(recurse=False)
    tests = [
        test
        for test in finder.find(getattr(annotators, name), name, globs={"spark": spark})
        if test.examples
    ]
    if name in NOT_STAGES and not tests:
        return
    assert tests, f"{name}'s docstring has no examples to run"
    runner = doctest.DocTestRunner()
    report: list[str] = []
    for test in tests:
        runner.run(test, out=report.append)
    if runner.failures:
        pytest.fail(
            f"{runner.failures} of {runner.tries} examples in {name}'s docstring failed:\n"
            + "".join(report),
            pytrace=False,
        )
