"""One-liners for a single machine: ``nlu.load("en.embed.deberta_v3_xsmall").predict("text")``.

``load`` takes a reference (``"<lang>.embed.<name>"``, ``"<lang>.classify.<name>"``,
``"<lang>.ner.<name>"``, ``"<lang>.answer_question.<name>"``,
``"<lang>.classify.zero_shot.<name>"``), a bare pretrained name, or a model folder, and returns a
ready pipeline: DocumentAssembler -> SentenceDetector -> Tokenizer -> the model's stage (plus
NerConverter for NER; MultiDocumentAssembler -> the answerer for question answering).
``predict`` runs it on the driver through ``LightPipeline`` (no Spark job, no SparkSession
needed) and returns a pandas DataFrame:

- embeddings: one row per token with its vector;
- classifiers (and zero-shot, with ``candidate_labels``): one row per text with its label and
  every label's score;
- NER: one row per entity chunk (``entity``, ``chunk``, offsets, ``confidence``);
- question answering: one row per (question, context) pair with the answer and its offsets.

A text that gives nothing still gets one row, with empty fields. ``pipeline_model`` is the same
pipeline as a Spark ``PipelineModel`` for ``transform(df)`` on a cluster.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from annotators.deberta.model_folder import load_model_folder
from annotators.deberta.pretrained import resolve_model, resolve_pretrained
from annotators.document import DocumentAssembler, MultiDocumentAssembler
from annotators.errors import ConfigError
from annotators.light import LightPipeline
from annotators.model_stage import DebertaModelStage
from annotators.ner_converter import NerConverter
from annotators.sentence import SentenceDetector
from annotators.tasks import ACTIONS, ModelTask, task_named
from annotators.tokenizer import TokenizerModel

__all__ = ["OneLiner", "load"]


def _folder_for(
    reference: str, lang: str | None, remote_loc: str | None
) -> tuple[Path, str | None]:
    """The model folder a reference names, and the task it asks for (None: any)."""
    parts = reference.split(".")
    action = ".".join(parts[1:-1])
    if len(parts) >= 3 and action in ACTIONS and not Path(reference).expanduser().is_dir():
        return resolve_pretrained(parts[-1], parts[0], remote_loc), ACTIONS[action]
    if len(parts) == 1 or Path(reference).expanduser().is_dir():
        return resolve_model(reference, lang or "en", remote_loc), None
    raise ConfigError(
        f"cannot read the model reference '{reference}': use '<lang>.<action>.<name>' with "
        f"action one of {', '.join(ACTIONS)}, a pretrained name, or a model folder"
    )


def load(
    reference: str,
    lang: str | None = None,
    *,
    remote_loc: str | None = None,
    case_sensitive: bool | None = None,
    max_sentence_length: int | None = None,
    engine: str | None = None,
    precision: str | None = None,
    candidate_labels: list[str] | None = None,
) -> OneLiner:
    """A ready pipeline for ``reference`` (see the module docstring); ``engine`` and
    ``precision`` as on the stage (``engine="openvino", precision="bf16"``); a zero-shot model
    needs ``candidate_labels``."""
    folder, wanted = _folder_for(reference, lang, remote_loc)
    task = task_named(load_model_folder(folder).manifest.task)
    if wanted is not None and task.name != wanted:
        raise ConfigError(
            f"'{reference}' asks for the {wanted} task, but {folder} holds a {task.name} model"
        )
    if task.candidate_labels and not candidate_labels:
        raise ConfigError(f"'{reference}' is a {task.name} model: pass candidate_labels=[...]")
    stage: DebertaModelStage = (
        task.stage_class()
        .loadSavedModel(folder)
        .setInputCols(list(task.input_cols))
        .setOutputCol(task.output_col)
    )
    if task.candidate_labels:
        stage.setCandidateLabels(candidate_labels)
    if task.coalesce_sentences:
        stage.setCoalesceSentences(True)
    if case_sensitive is not None:
        stage.setCaseSensitive(case_sensitive)
    if max_sentence_length is not None:
        stage.setMaxSentenceLength(max_sentence_length)
    if engine is not None:
        stage.setEngine(engine)
    if precision is not None:
        stage.setPrecision(precision)
    stage.check_ready()
    if task.frame == "answers":
        assembler = MultiDocumentAssembler(
            inputCols=["question", "context"], outputCols=list(task.input_cols)
        )
        return OneLiner(PipelineModel([assembler, stage]), stage, task)
    stages: list[Any] = [
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
        TokenizerModel().setInputCols(["sentence"]).setOutputCol("token"),
        stage,
    ]
    if task.frame == "chunks":
        stages.append(
            NerConverter(inputCols=["sentence", "token", task.output_col])  # into ner_chunk
        )
    return OneLiner(PipelineModel(stages), stage, task)


class OneLiner:
    """A loaded pipeline with ``predict`` for pandas and ``pipeline_model`` for Spark."""

    def __init__(
        self, pipeline_model: PipelineModel, stage: DebertaModelStage, task: ModelTask
    ) -> None:
        self.pipeline_model = pipeline_model
        self.stage = stage
        self.task = task
        self.light = LightPipeline(pipeline_model)

    def transform(self, dataset: DataFrame) -> DataFrame:
        """The Spark path: a DataFrame with a ``text`` column in, annotation columns out."""
        return self.pipeline_model.transform(dataset)

    def predict(self, data: Any) -> pd.DataFrame:
        """Tokens with vectors (embeddings), labels with scores (classifiers), entity chunks
        (NER) or answers (question answering, given ``(question, context)`` pairs or a pandas
        DataFrame with those columns), as pandas.

        Column ``index`` holds the text's position (a Series' own index). A text with no tokens
        (null, empty, whitespace) still gives one row, with empty token and label fields.
        """
        if self.task.frame == "answers":
            return self._answers(data)
        if isinstance(data, str) or data is None:
            series = pd.Series([data])
        elif isinstance(data, pd.Series):
            series = data
        else:
            series = pd.Series(list(data))
        texts = [None if _missing(t) else str(t) for t in series.tolist()]
        rows = self.light.run_rows(texts)
        if self.task.frame == "tokens":
            return _token_frame(series.index, rows, self.task.output_col, self.stage.getDimension())
        if self.task.frame == "chunks":
            converter = self.pipeline_model.stages[-1]
            return _chunk_frame(series.index, rows, converter.getOutputCol())
        stage = self.stage
        labels = stage.getCandidateLabels() if self.task.candidate_labels else stage.getClasses()
        return _label_frame(series.index, texts, rows, self.task.output_col, labels)

    def _answers(self, data: Any) -> pd.DataFrame:
        if isinstance(data, pd.DataFrame):
            frame = data[["question", "context"]]
        else:
            pairs = [data] if isinstance(data, tuple) else list(data)
            frame = pd.DataFrame(pairs, columns=["question", "context"])
        inputs = [
            {
                c: None if _missing(v) else str(v)
                for c, v in zip(("question", "context"), row, strict=True)
            }
            for row in frame.itertuples(index=False)
        ]
        records = []
        for key, given, row in zip(frame.index, inputs, self.light.run_rows(inputs), strict=True):
            record: dict[str, Any] = {"index": key, **given, "answer": None, "begin": None}
            record.update({"end": None, "score": float("nan")})
            if row[self.task.output_col]:
                answer = row[self.task.output_col][0]
                record.update(
                    answer=answer["result"],
                    begin=answer["begin"],
                    end=answer["end"],
                    score=float(answer["metadata"]["score"]),
                )
            records.append(record)
        return pd.DataFrame.from_records(records).astype({"begin": "Int64", "end": "Int64"})


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _token_frame(index: pd.Index, rows: list[dict], column: str, dimension: int) -> pd.DataFrame:
    records = []
    for key, row in zip(index, rows, strict=True):
        vectors = row[column]
        if not vectors:
            records.append((key, None, None, None, None, None))
        for vector in vectors:
            records.append(
                (
                    key,
                    int(vector["metadata"]["sentence"]),
                    vector["result"],
                    vector["begin"],
                    vector["end"],
                    np.asarray(vector["embeddings"], dtype=np.float32).reshape(dimension),
                )
            )
    return pd.DataFrame.from_records(
        records, columns=["index", "sentence", "token", "begin", "end", "embedding"]
    )


def _label_frame(
    index: pd.Index, texts: list[str | None], rows: list[dict], column: str, labels: list[str]
) -> pd.DataFrame:
    records = []
    for key, text, row in zip(index, texts, rows, strict=True):
        categories = row[column]
        record: dict[str, Any] = {"index": key, "text": text, "label": None}
        if categories:
            record["label"] = (
                categories[0]["result"]
                if len(categories) == 1
                else [c["result"] for c in categories]
            )
        metadata = categories[0]["metadata"] if categories else {}
        for label in labels if len(labels) > 1 else ["score"]:
            record[label] = float(metadata[label]) if label in metadata else float("nan")
        records.append(record)
    return pd.DataFrame.from_records(records)


def _chunk_frame(index: pd.Index, rows: list[dict], column: str) -> pd.DataFrame:
    records = []
    for key, row in zip(index, rows, strict=True):
        chunks = row[column]
        if not chunks:
            records.append((key, None, None, None, None, None, float("nan")))
        for chunk in chunks:
            metadata = chunk["metadata"]
            records.append(
                (
                    key,
                    int(metadata["sentence"]),
                    metadata["entity"],
                    chunk["result"],
                    chunk["begin"],
                    chunk["end"],
                    float(metadata.get("confidence", "nan")),
                )
            )
    frame = pd.DataFrame.from_records(
        records, columns=["index", "sentence", "entity", "chunk", "begin", "end", "confidence"]
    )
    # a text without entities has empty fields: integers that can be missing
    return frame.astype({"sentence": "Int64", "begin": "Int64", "end": "Int64"})
