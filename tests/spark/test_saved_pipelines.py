"""Pipelines saved by earlier versions keep loading and give what the same stages give today.

tests/fixtures/saved/<version>/ holds a pipeline of every stage as that version saved it (made
by tests/fixtures/make_saved_pipelines.py): Spark ML stores each stage's class path and params,
so a moved module or a renamed param shows here. Nothing committed may carry the paths of the
machine that made it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures import make_saved_pipelines as saved
from tests.support import annotations_of

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = sorted(p.name for p in saved.SAVED.iterdir() if p.is_dir())
OUTPUTS = {
    "text": [
        "document",
        "sentence",
        "token",
        "embeddings",
        "sentence_embeddings",
        "category",
        "ner",
        "ner_chunk",
        "zero_shot",
    ],
    "question": ["question_document", "context_document", "answer"],
}


def test_there_is_a_save_of_the_current_version() -> None:
    from importlib.metadata import version

    assert version("spark-deberta") in VERSIONS, (
        "no saved pipelines of this version: run python tests/fixtures/make_saved_pipelines.py"
    )


@pytest.fixture(scope="module")
def today(spark) -> dict:
    """Each pipeline as this version builds it, and its outputs."""
    frames = saved.inputs(spark)
    return {
        name: model.transform(frames[name]).collect() for name, model in saved.fitted(spark).items()
    }


@pytest.mark.compat
@pytest.mark.ml_persistence
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("pipeline", sorted(OUTPUTS))
def test_saved_pipeline_loads_and_gives_todays_outputs(spark, today, version, pipeline) -> None:
    from pyspark.ml import PipelineModel

    model = PipelineModel.load(str(saved.SAVED / version / pipeline))
    rows = model.transform(saved.inputs(spark)[pipeline]).collect()
    assert len(rows) == len(today[pipeline])
    for column in OUTPUTS[pipeline]:
        assert annotations_of(rows, column) == annotations_of(today[pipeline], column), column
    if pipeline == "text":
        loaded = [r["finished_sentence_embeddings"] for r in rows]
        assert loaded == [r["finished_sentence_embeddings"] for r in today[pipeline]]


def _machine_paths() -> list[str]:
    """Absolute paths that would mean a file leaks where it was made."""
    return [str(ROOT), str(Path.home()), "/tmp/", "/work/"]


def test_saved_pipelines_hold_no_machine_paths() -> None:
    leaks = [
        str(file.relative_to(ROOT))
        for file in saved.SAVED.rglob("*")
        if file.is_file() and any(path.encode() in file.read_bytes() for path in _machine_paths())
    ]
    assert leaks == []


def test_committed_spm_models_hold_no_machine_paths() -> None:
    from sentencepiece import sentencepiece_model_pb2

    files = [
        *ROOT.glob("tests/fixtures/models/*/spm.model"),
        *ROOT.glob("annotators/deberta/bundled/*/spm.model"),
    ]
    assert files
    for file in files:
        proto = sentencepiece_model_pb2.ModelProto()
        proto.ParseFromString(file.read_bytes())
        spec = proto.trainer_spec
        assert all("/" not in name for name in [*spec.input, spec.model_prefix]), file


@pytest.mark.ml_persistence
def test_a_saved_stage_does_not_record_where_its_model_was(spark, tmp_path) -> None:
    from annotators import DeBertaEmbeddings

    stage = DeBertaEmbeddings.loadSavedModel(saved.BUNDLED)
    stage.write().save(str(tmp_path / "stage"))
    metadata = next((tmp_path / "stage" / "metadata").glob("part-*")).read_text()
    assert "modelPath" not in metadata and str(saved.BUNDLED) not in metadata
    loaded = DeBertaEmbeddings.load(str(tmp_path / "stage"))
    assert Path(loaded.getOrDefault(loaded.modelPath)).parent == tmp_path / "stage"
    assert stage.isDefined(stage.modelPath)  # saving left the stage itself as it was
