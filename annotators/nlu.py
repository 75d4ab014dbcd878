"""One-liners for a single machine: ``nlu.load("en.embed.deberta_v3_xsmall").predict("text")``.

``load`` takes a reference (``"<lang>.embed.<name>"``, ``"<lang>.classify.<name>"``), a bare
pretrained name, or a model folder, and returns a ready pipeline: DocumentAssembler ->
SentenceDetector -> Tokenizer -> the model's stage. ``predict`` runs it on the driver through
``LightPipeline`` (no Spark job, no SparkSession needed) and returns a pandas DataFrame: one row
per token with its vector for an embeddings model, one row per text with its label and every
label's score for a classifier. ``pipeline_model`` is the same pipeline as a Spark
``PipelineModel`` for ``transform(df)`` on a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame

from annotators.classifier import DeBertaForSequenceClassification
from annotators.deberta.package import load_model_folder, resolve_model, resolve_pretrained
from annotators.document import DocumentAssembler
from annotators.embeddings import DeBertaEmbeddings
from annotators.light import LightPipeline
from annotators.model_stage import DebertaModelStage
from annotators.sentence import SentenceDetector
from annotators.tokenizer import TokenizerModel

#: The action word in a reference, and the manifest task it asks for.
ACTIONS = {"embed": "embeddings", "classify": "sequence-classification"}

__all__ = ["OneLiner", "load"]


def _folder_for(
    reference: str, lang: str | None, remote_loc: str | None
) -> tuple[Path, str | None]:
    """The model folder a reference names, and the task it asks for (None: any)."""
    parts = reference.split(".")
    if len(parts) == 3 and parts[1] in ACTIONS and not Path(reference).expanduser().is_dir():
        language, action, name = parts
        return resolve_pretrained(name, language, remote_loc), ACTIONS[action]
    if len(parts) == 1 or Path(reference).expanduser().is_dir():
        return resolve_model(reference, lang or "en", remote_loc), None
    raise ValueError(
        f"cannot read the model reference '{reference}': use '<lang>.embed.<name>', "
        "'<lang>.classify.<name>', a pretrained name, or a model folder"
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
) -> OneLiner:
    """A ready pipeline for ``reference`` (see the module docstring); ``engine`` and
    ``precision`` as on the stage (``engine="openvino", precision="bf16"``)."""
    folder, wanted = _folder_for(reference, lang, remote_loc)
    task = load_model_folder(folder).manifest["task"]
    if wanted is not None and task != wanted:
        raise ValueError(
            f"'{reference}' asks for the {wanted} task, but {folder} holds a {task} model"
        )
    stage: DebertaModelStage
    if task == "embeddings":
        stage = DeBertaEmbeddings.loadSavedModel(folder).setOutputCol("embeddings")
    else:
        stage = (
            DeBertaForSequenceClassification.loadSavedModel(folder)
            .setOutputCol("category")
            .setCoalesceSentences(True)
        )
    stage.setInputCols(["sentence", "token"])
    if case_sensitive is not None:
        stage.setCaseSensitive(case_sensitive)
    if max_sentence_length is not None:
        stage.setMaxSentenceLength(max_sentence_length)
    if engine is not None:
        stage.setEngine(engine)
    if precision is not None:
        stage.setPrecision(precision)
    stage.settings()  # refuse an engine and precision that cannot run, now
    model = PipelineModel(
        [
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
            TokenizerModel().setInputCols(["sentence"]).setOutputCol("token"),
            stage,
        ]
    )
    return OneLiner(model, stage)


class OneLiner:
    """A loaded pipeline with ``predict`` for pandas and ``pipeline_model`` for Spark."""

    def __init__(self, pipeline_model: PipelineModel, stage: DebertaModelStage) -> None:
        self.pipeline_model = pipeline_model
        self.stage = stage
        self.light = LightPipeline(pipeline_model)

    def transform(self, dataset: DataFrame) -> DataFrame:
        """The Spark path: a DataFrame with a ``text`` column in, annotation columns out."""
        return self.pipeline_model.transform(dataset)

    def predict(self, data: str | Iterable[str | None] | pd.Series) -> pd.DataFrame:
        """Tokens with vectors (embeddings) or labels with scores (classifier), as pandas.

        Column ``index`` holds the text's position (a Series' own index). A text with no tokens
        (null, empty, whitespace) still gives one row, with empty token and label fields.
        """
        if isinstance(data, str) or data is None:
            series = pd.Series([data])
        elif isinstance(data, pd.Series):
            series = data
        else:
            series = pd.Series(list(data))
        texts = [None if _missing(t) else str(t) for t in series.tolist()]
        rows = self.light._run_many(texts)
        if isinstance(self.stage, DeBertaEmbeddings):
            return _token_frame(series.index, rows, self.stage.getDimension())
        return _label_frame(series.index, texts, rows, self.stage.getClasses())


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _token_frame(index: pd.Index, rows: list[dict], dimension: int) -> pd.DataFrame:
    records = []
    for key, row in zip(index, rows, strict=True):
        vectors = row["embeddings"]
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
    index: pd.Index, texts: list[str | None], rows: list[dict], labels: list[str]
) -> pd.DataFrame:
    records = []
    for key, text, row in zip(index, texts, rows, strict=True):
        categories = row["category"]
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
