"""The task registry agrees with what it names: our stages, the reference's classes, Hugging
Face's heads, the job's config and the one-liners."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from annotators.tasks import ACTIONS, ARCHITECTURE_TASKS, TASKS, job_slots, task_named

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", TASKS)
def test_each_task_names_a_stage_that_loads_it(name) -> None:
    import annotators

    task = TASKS[name]
    stage = task.stage_class()
    assert stage.__name__ == task.stage and stage.model_task == name
    assert getattr(annotators, task.stage) is stage, (
        "every task's stage is importable from annotators"
    )


@pytest.mark.parametrize("name", TASKS)
def test_each_task_names_the_references_class(name) -> None:
    import sparknlp.annotator

    task = TASKS[name]
    reference = getattr(sparknlp.annotator, task.stage)
    # The Python class wraps the Scala class the registry names (its _java_obj path).
    source = inspect.getsource(reference)
    assert task.reference_class in source


@pytest.mark.parametrize("name", TASKS)
def test_each_task_names_a_real_hugging_face_head(name) -> None:
    transformers = pytest.importorskip("transformers")
    task = TASKS[name]
    assert hasattr(transformers, task.head)
    for architecture in task.architectures:
        assert hasattr(transformers, architecture)
        assert ARCHITECTURE_TASKS[architecture] == name
    if task.exported_from is not None:
        assert TASKS[task.exported_from].head == task.head


def test_action_words_and_job_names_are_unique() -> None:
    assert len(ACTIONS) == sum(len(t.actions) for t in TASKS.values())
    slots = [slot for _, slot in job_slots()]
    for field in ("model_section", "stage_section", "option", "output_col"):
        values = [getattr(slot, field) for slot in slots]
        assert len(set(values)) == len(values), field
    assert sum(slot.default_model is not None for slot in slots) == 1, "one task runs by default"


def test_the_job_config_has_each_tasks_sections() -> None:
    from pipelines.config import defaults, stage_classes

    shipped = yaml.safe_load((ROOT / "conf" / "job.yaml").read_text(encoding="utf-8"))
    for task, slot in job_slots():
        assert slot.model_section in defaults() and slot.stage_section in defaults()
        assert stage_classes()[slot.stage_section] is task.stage_class()
        assert slot.model_section in shipped, f"conf/job.yaml documents {slot.model_section}"


def test_an_unknown_task_is_a_model_folder_error() -> None:
    from annotators.errors import ModelFolderError

    with pytest.raises(ModelFolderError, match="multiple-choice"):
        task_named("multiple-choice")
