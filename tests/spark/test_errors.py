"""One error family: every refusal the library makes is a SparkDebertaError, and keeps its
builtin base (ValueError or RuntimeError) for code that already catches that."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from annotators import DocumentAssembler, EmbeddingsFinisher, MultiDocumentAssembler, nlu
from annotators.errors import (
    ConfigError,
    EngineError,
    ExportError,
    JobError,
    ModelFolderError,
    RowTooLargeError,
    SparkDebertaError,
    StageInputError,
)


@pytest.mark.parametrize(
    ("kind", "builtin"),
    [
        (StageInputError, ValueError),
        (RowTooLargeError, ValueError),
        (ModelFolderError, ValueError),
        (ConfigError, ValueError),
        (EngineError, RuntimeError),
        (ExportError, RuntimeError),
        (JobError, RuntimeError),
    ],
)
def test_every_kind_is_in_the_family(kind: type, builtin: type) -> None:
    assert issubclass(kind, SparkDebertaError) and issubclass(kind, builtin)


ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(
    p
    for folder in ("annotators", "pipelines", "bench", "tests")
    for p in (ROOT / folder).rglob("*.py")
)
#: Raises of builtin exceptions that are meant: each one's reason.
DELIBERATE_BUILTINS = {
    # fault injection for the tests: a worker or commit step failing as the OS would fail it
    ("annotators/faults.py", "RuntimeError"): "SPARK_DEBERTA_FAULT=executor in a test",
    ("annotators/faults.py", "OSError"): "an injected fault, failing as the OS would",
    ("pipelines/storage.py", "OSError "): "a rename Hadoop reports as failed, as os.rename would",
    ("annotators/hadoop_files.py", "OSError"): "renameat2's errno, as the OS reports it",
    # the reference's contract: its LightPipeline, setInputCols check and start() raise TypeError
    ("annotators/light.py", "TypeError"): "LightPipeline's call forms, as the reference's",
    ("annotators/stage.py", "TypeError"): "inputColsValidation, as the reference's",
    ("annotators/session.py", "TypeError"): "start(params=...) not a dict, as the reference's",
}
BUILTINS = {"ValueError", "RuntimeError", "TypeError", "KeyError", "OSError", "Exception"}


def test_every_kind_says_its_exit_code() -> None:
    import annotators.errors as errors

    kinds = [getattr(errors, name) for name in errors.__all__ if name.endswith("Error")]
    assert {kind.exit_code for kind in kinds} == {errors.BAD_REQUEST, errors.FAILED}
    for kind in kinds:
        bad_request = issubclass(kind, ValueError | ImportError) and kind is not RowTooLargeError
        if bad_request:
            assert kind.exit_code == errors.BAD_REQUEST, kind


def test_errors_are_imported_from_one_place() -> None:
    import annotators.errors as errors

    family = set(errors.__all__)
    strays = [
        f"{path.relative_to(ROOT)}:{node.lineno} from {node.module}"
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        and node.module not in ("annotators.errors", None)
        and (node.module.startswith(("annotators", "pipelines")))
        and any(alias.name in family for alias in node.names)
    ]
    assert strays == []


def test_the_library_raises_only_its_family() -> None:
    found = []
    for path in SOURCES:
        relative = str(path.relative_to(ROOT))
        if not relative.startswith(("annotators/", "pipelines/")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                call = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = getattr(call, "id", None)
                if name in BUILTINS:
                    found.append((relative, name))
    allowed = {(path, name.strip()) for path, name in DELIBERATE_BUILTINS}
    assert [f for f in found if f not in allowed] == []


def test_a_stage_refusal_while_the_job_builds_is_one_line_and_exit_2(capsys, tmp_path) -> None:
    from pipelines.cli import main

    nli = ROOT / "tests" / "fixtures" / "models" / "deberta_v3_tiny_nli"
    sample = ROOT / "data" / "sample" / "pride_and_prejudice.txt"
    code = main(
        ["run", "--input", str(sample), "--output", str(tmp_path / "out"), "--zero-shot", str(nli)]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "candidateLabels" in err, err
    assert not (tmp_path / "out").exists()


def test_assemblers_finisher_and_one_liners_refuse_with_the_family(spark) -> None:
    data = spark.createDataFrame([("a",)], "text string")
    with pytest.raises(StageInputError, match="input column 'body' does not exist"):
        DocumentAssembler().setInputCol("body").transform(data)
    with pytest.raises(StageInputError, match="outputCols .* must name the same number"):
        MultiDocumentAssembler(inputCols=["text"], outputCols=["a", "b"]).transform(data)
    with pytest.raises(StageInputError, match="input column 'text' has annotator type"):
        EmbeddingsFinisher().setInputCols(["text"]).setOutputCols(["x"]).transform(data)
    with pytest.raises(ConfigError, match="cannot read the model reference"):
        nlu.load("en.nothing")
