"""DeBertaForQuestionAnswering: question document + context document -> one ``chunk`` answer.

The model reads ``[CLS] question [SEP] context [SEP]`` and scores every position as the answer's
start and end. The answer is the span (start <= end, inside one context document) with the
highest start-times-end probability, each a softmax over its sequence's positions, as the
reference scores them. ``metadata`` holds, as in Spark NLP, ``start`` and ``end`` (positions in
that sequence, ``[CLS]`` = 0), ``start_score``, ``end_score``, ``score`` (their mean),
``sentence`` and ``chunk``.

Beyond the reference:
- ``begin``/``end`` are the answer's offsets in the context document, so
  ``context[begin:end + 1] == result``: the text exactly as the context has it, sub-word pieces
  included, instead of pieces re-joined with spaces;
- a context longer than ``maxSentenceLength`` is read in half-overlapping windows and the best
  answer of any window wins, instead of everything past the cut being ignored;
- a question longer than half the sequence is cut to half, so every window holds context.

A row with an empty question or context gets no answer (an empty list; the row is kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from annotators.annotation import CHUNK, DOCUMENT, AnnotationDict
from annotators.deberta.answering import MIN_QA_SENTENCE_LENGTH, answer_rows
from annotators.deberta.model_folder import ModelFolder
from annotators.errors import StageInputError
from annotators.model_stage import DebertaModelStage
from annotators.stage import BatchAnnotateFn, keyword_only

__all__ = ["DeBertaForQuestionAnswering"]


class DeBertaForQuestionAnswering(DebertaModelStage):
    """Extractive answers from a DeBERTa-v3 question-answering model in ONNX.

    ``inputCols`` name the question's column first, then the context's.

    ========================== ======================
    Input Annotation types     Output Annotation type
    ========================== ======================
    ``DOCUMENT, DOCUMENT``     ``CHUNK``
    ========================== ======================

    Parameters
    ----------
    outputCol
        The answer column, ``answer`` by default.
    caseSensitive
        False lower-cases the words before they are encoded; False until a model is loaded,
        then the model's own setting.
    batchSize, maxSentenceLength, longSentenceStrategy
        As in ``DeBertaEmbeddings``: 8, 128 and ``window`` by default (a long context is read
        in half-overlapping windows, the best answer of any wins).
    engine, precision, executionProvider, threads
        As in ``DeBertaEmbeddings``: ``onnxruntime``, ``fp32``, ``cpu`` and 0 by default.

    Examples
    --------
    The test model has random weights: its answers mean nothing.

    >>> from pyspark.ml import PipelineModel
    >>> from annotators import (
    ...     DeBertaForQuestionAnswering,
    ...     LightPipeline,
    ...     MultiDocumentAssembler,
    ... )
    >>> assembler = MultiDocumentAssembler(
    ...     inputCols=["question", "context"],
    ...     outputCols=["document_question", "document_context"],
    ... )
    >>> folder = "tests/fixtures/models/deberta_v3_tiny_qa"
    >>> qa = (
    ...     DeBertaForQuestionAnswering.loadSavedModel(folder)
    ...     .setInputCols(["document_question", "document_context"])
    ...     .setOutputCol("answer")
    ... )
    >>> model = PipelineModel([assembler, qa])
    >>> context = "My name is Clara and I live in Berkeley."
    >>> question = "What's my name?"
    >>> [row] = LightPipeline(model).fullAnnotate({"question": question, "context": context})
    >>> [answer] = row["answer"]
    >>> answer.result, context[answer.begin : answer.end + 1]
    ('I live in', 'I live in')
    >>> sorted(answer.metadata)
    ['chunk', 'end', 'end_score', 'score', 'sentence', 'start', 'start_score']

    On Spark:

    >>> data = spark.createDataFrame([(question, context)], "question string, context string")
    >>> model.transform(data).select("answer.result").show()
    +-----------+
    |     result|
    +-----------+
    |[I live in]|
    +-----------+
    <BLANKLINE>
    """

    model_task = "question-answering"
    input_annotator_types = (DOCUMENT, DOCUMENT)
    output_annotator_type = CHUNK

    @keyword_only
    def __init__(
        self, *, inputCols: list[str] | None = None, outputCol: str = "answer", **params: Any
    ) -> None:
        """Any of the stage's parameters as keywords (``batchSize=16``)."""
        super().__init__()
        self._setDefault(outputCol="answer", caseSensitive=False)
        self._set_keywords(self._input_kwargs)

    def _output_size(self, folder: ModelFolder) -> int:
        return 2  # start and end logits

    def input_columns(self, types_by_column: Mapping[str, str | None]) -> list[str]:
        """The question column, then the context column: both of type document, in order."""
        name = type(self).__name__
        columns = self.getInputCols() if self.isDefined(self.inputCols) else []
        if len(columns) != 2:
            raise StageInputError(
                f"{name}: inputCols must name two {DOCUMENT} columns, the question's and the "
                f"context's (e.g. from MultiDocumentAssembler), got {columns}"
            )
        for column in columns:
            if column not in types_by_column:
                available = ", ".join(sorted(types_by_column)) or "none"
                raise StageInputError(
                    f"{name}: input column '{column}' does not exist; available columns: "
                    f"{available}"
                )
            if types_by_column[column] != DOCUMENT:
                raise StageInputError(
                    f"{name}: input column '{column}' has annotator type "
                    f"'{types_by_column[column]}', but {name} needs two {DOCUMENT} columns"
                )
        return list(columns)

    def batch_core(self) -> BatchAnnotateFn:
        if self.getMaxSentenceLength() < MIN_QA_SENTENCE_LENGTH:
            raise StageInputError(
                f"{type(self).__name__}: maxSentenceLength {self.getMaxSentenceLength()} cannot "
                f"hold [CLS] question [SEP] context [SEP] (at least {MIN_QA_SENTENCE_LENGTH}); "
                "raise it"
            )
        settings = self.shipped_settings()

        def annotate_rows(
            rows: list[tuple[list[AnnotationDict], ...]],
        ) -> list[list[AnnotationDict]]:
            return answer_rows(rows, settings)

        return annotate_rows
