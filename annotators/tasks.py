"""The model tasks, each described once: every place that differs by task reads this registry.

A task is what a model folder's manifest says its graph computes (``manifest.json``'s ``task``).
Its record names the Hugging Face head that exports it, the Spark NLP class and folder that hold
it in the reference, the stage that runs it here, the one-liner's words for it and the job's
section, option and columns for it. Adding a task means adding a record here and its stage.

Spark-free: the records name stages by module and class, imported only when asked for.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from annotators.errors import ModelFolderError

#: Spark NLP's packages for the DeBERTa classes.
_REFERENCE_EMBEDDINGS = "com.johnsnowlabs.nlp.embeddings"
_REFERENCE_CLASSIFIERS = "com.johnsnowlabs.nlp.annotators.classifier.dl"


@dataclass(frozen=True)
class JobSlot:
    """How the batch job runs a task: its config sections, command-line option and columns."""

    #: Config section naming the model (``name``, ``lang``).
    model_section: str
    #: Config section setting the stage's own Params.
    stage_section: str
    #: The ``spark-deberta run`` option that names the model (``--<option>``), and its help.
    option: str
    help: str
    #: The model when the config names none (None: the task runs only when asked for).
    default_model: str | None
    #: The stage's output column in the annotated DataFrame.
    output_col: str
    #: The finished output: column name and the SQL expression that makes it (None: the job's
    #: own finishing, for vectors).
    finished: tuple[str, str] | None
    #: Where the job places the stage: lower runs first. The embeddings run last, so that where
    #: the transport carries whole rows through Python (Spark 3.5/4.0) no classifier carries
    #: the token vectors.
    position: int


@dataclass(frozen=True)
class ModelTask:
    """One task: everything that differs between the five DeBERTa stages."""

    #: The manifest's ``task``.
    name: str
    #: Our stage: class name (the reference's) and the module that defines it.
    stage: str
    stage_module: str
    #: The transformers class that exports it, its graph outputs (Hugging Face's names) and
    #: whether they are per position (compared at every unpadded position) or per sequence.
    head: str
    outputs: tuple[str, ...]
    per_token: bool
    #: ``config.json`` architectures whose weights carry this task.
    architectures: tuple[str, ...]
    #: A task exported from another task's checkpoint (zero-shot from an NLI classifier).
    exported_from: str | None
    #: Whether the manifest lists labels (the output order of the logits).
    labelled: bool
    #: The reference's class (fully qualified) and the ONNX folder name in its saved stages.
    reference_class: str
    reference_model_dir: str
    #: The one-liner's action words (``<lang>.<action>.<name>``) and the pipeline it builds:
    #: the stage's input and output columns, and whether labels cover a whole document.
    actions: tuple[str, ...]
    input_cols: tuple[str, ...]
    output_col: str
    coalesce_sentences: bool
    #: What ``predict`` returns: a row per token with its vector (``tokens``), per text with its
    #: labels' scores (``labels``), per entity chunk after a NerConverter (``chunks``) or per
    #: question (``answers``).
    frame: str
    #: Whether the labels are given at run time (``setCandidateLabels``), not by the model.
    candidate_labels: bool
    #: The batch job's use of it (None: the job does not run it).
    job: JobSlot | None

    def stage_class(self) -> type[Any]:
        """The stage class (imports Spark)."""
        return getattr(importlib.import_module(self.stage_module), self.stage)


TASKS: dict[str, ModelTask] = {
    task.name: task
    for task in (
        ModelTask(
            name="embeddings",
            stage="DeBertaEmbeddings",
            stage_module="annotators.embeddings",
            head="DebertaV2Model",
            outputs=("last_hidden_state",),
            per_token=True,
            # A masked-LM checkpoint (the pre-trained microsoft/deberta-v3-*) is an encoder.
            architectures=("DebertaV2Model", "DebertaV2ForMaskedLM"),
            exported_from=None,
            labelled=False,
            reference_class=f"{_REFERENCE_EMBEDDINGS}.DeBertaEmbeddings",
            reference_model_dir="deberta_onnx",
            actions=("embed",),
            input_cols=("sentence", "token"),
            output_col="embeddings",
            coalesce_sentences=False,
            frame="tokens",
            candidate_labels=False,
            job=JobSlot(
                model_section="model",
                stage_section="embeddings",
                option="model",
                help="model folder or pretrained name (default: the bundled "
                "deberta_v3_tiny_random, random weights); a Hugging Face checkpoint must be "
                "exported first (spark-deberta export)",
                default_model="deberta_v3_tiny_random",
                output_col="embeddings",
                finished=None,
                position=100,
            ),
        ),
        ModelTask(
            name="sequence-classification",
            stage="DeBertaForSequenceClassification",
            stage_module="annotators.classifier",
            head="DebertaV2ForSequenceClassification",
            outputs=("logits",),
            per_token=False,
            architectures=("DebertaV2ForSequenceClassification",),
            exported_from=None,
            labelled=True,
            reference_class=f"{_REFERENCE_CLASSIFIERS}.DeBertaForSequenceClassification",
            reference_model_dir="deberta_classification_onnx",
            actions=("classify",),
            input_cols=("sentence", "token"),
            output_col="category",
            coalesce_sentences=True,
            frame="labels",
            candidate_labels=False,
            job=JobSlot(
                model_section="classifier_model",
                stage_section="classifier",
                option="classifier",
                help="also classify with this model folder or name",
                default_model=None,
                output_col="category",
                finished=("labels", "transform(category, c -> c.result)"),
                position=10,
            ),
        ),
        ModelTask(
            name="token-classification",
            stage="DeBertaForTokenClassification",
            stage_module="annotators.token_classifier",
            head="DebertaV2ForTokenClassification",
            outputs=("logits",),
            per_token=True,
            architectures=("DebertaV2ForTokenClassification",),
            exported_from=None,
            labelled=True,
            reference_class=f"{_REFERENCE_CLASSIFIERS}.DeBertaForTokenClassification",
            reference_model_dir="deberta_classification_onnx",
            actions=("ner",),
            input_cols=("sentence", "token"),
            output_col="ner",
            coalesce_sentences=False,
            frame="chunks",
            candidate_labels=False,
            job=JobSlot(
                model_section="ner_model",
                stage_section="ner",
                option="ner",
                help="also tag entities with this token-classification model",
                default_model=None,
                output_col="ner",
                finished=(
                    "entities",
                    "transform(ner_chunk, c -> named_struct('entity', c.metadata['entity'], "
                    "'chunk', c.result, 'begin', c.begin, 'end', c.end))",
                ),
                position=20,
            ),
        ),
        ModelTask(
            name="question-answering",
            stage="DeBertaForQuestionAnswering",
            stage_module="annotators.question_answering",
            head="DebertaV2ForQuestionAnswering",
            outputs=("start_logits", "end_logits"),
            per_token=True,
            architectures=("DebertaV2ForQuestionAnswering",),
            exported_from=None,
            labelled=False,
            reference_class=f"{_REFERENCE_CLASSIFIERS}.DeBertaForQuestionAnswering",
            reference_model_dir="deberta_classification_onnx",
            actions=("answer_question",),
            input_cols=("question_document", "context_document"),
            output_col="answer",
            coalesce_sentences=False,
            frame="answers",
            candidate_labels=False,
            job=None,
        ),
        ModelTask(
            name="zero-shot-classification",
            stage="DeBertaForZeroShotClassification",
            stage_module="annotators.zero_shot",
            head="DebertaV2ForSequenceClassification",
            outputs=("logits",),
            per_token=False,
            architectures=(),
            exported_from="sequence-classification",
            labelled=True,
            reference_class=f"{_REFERENCE_CLASSIFIERS}.DeBertaForZeroShotClassification",
            reference_model_dir="deberta_classification_onnx",
            actions=("classify.zero_shot", "zero_shot"),
            input_cols=("sentence", "token"),
            output_col="category",
            coalesce_sentences=True,
            frame="labels",
            candidate_labels=True,
            job=JobSlot(
                model_section="zero_shot_model",
                stage_section="zero_shot",
                option="zero_shot",
                help="also classify with this NLI model (set zero_shot.candidateLabels in the "
                "config)",
                default_model=None,
                output_col="zero_shot",
                finished=("zero_shot_labels", "transform(zero_shot, c -> c.result)"),
                position=30,
            ),
        ),
    )
}
#: The manifest's task names, in the registry's order.
TASK_NAMES = tuple(TASKS)
#: The task each ``config.json`` architecture's weights carry.
ARCHITECTURE_TASKS = {
    architecture: task.name for task in TASKS.values() for architecture in task.architectures
}
#: The one-liner's action words and the task each asks for.
ACTIONS = {action: task.name for task in TASKS.values() for action in task.actions}
#: The reference's classes and the task each holds.
REFERENCE_CLASSES = {task.reference_class: task for task in TASKS.values()}


def task_named(name: str) -> ModelTask:
    """The task a manifest names; a name no record has is a corrupt or newer folder."""
    try:
        return TASKS[name]
    except KeyError:
        raise ModelFolderError(
            f"task {name!r} is not one of {list(TASK_NAMES)}; re-export the model, or upgrade "
            "spark-deberta if a newer version wrote it"
        ) from None


def job_slots() -> list[tuple[ModelTask, JobSlot]]:
    """The tasks the batch job runs with their slots, in the order it places their stages."""
    slotted = [(task, task.job) for task in TASKS.values() if task.job is not None]
    return sorted(slotted, key=lambda pair: pair[1].position)
