"""One error family: every refusal the library makes is a SparkDebertaError, and keeps its
builtin base (ValueError or RuntimeError) for code that already catches that."""

from __future__ import annotations

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


def test_the_old_import_paths_name_the_same_classes() -> None:
    import annotators.base
    import annotators.deberta.encoder
    import annotators.deberta.export
    import annotators.deberta.package
    import pipelines.config
    import pipelines.errors

    assert annotators.base.StageInputError is StageInputError
    assert annotators.base.RowTooLargeError is RowTooLargeError
    assert annotators.deberta.package.ModelFolderError is ModelFolderError
    assert annotators.deberta.export.ExportError is ExportError
    assert annotators.deberta.encoder.EngineError is EngineError
    assert pipelines.config.ConfigError is ConfigError
    assert pipelines.errors.JobError is JobError


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
