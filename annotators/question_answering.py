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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotators.annotation import CHUNK, DOCUMENT, AnnotationDict, make_annotation, sentence_key
from annotators.base import BatchAnnotateFn, keyword_only
from annotators.deberta.classification import score_text, softmax
from annotators.deberta.encoder import (
    CLS_POSITION,
    EncoderSettings,
    PieceSequence,
    Runtime,
    encode,
    runtime_for,
    window_starts,
)
from annotators.deberta.model_folder import ModelFolder
from annotators.errors import StageInputError
from annotators.model_stage import DebertaModelStage

__all__ = ["DeBertaForQuestionAnswering", "answer_rows"]

_WORD = re.compile(r"\S+")
#: [CLS] question [SEP] context [SEP] with one piece of each.
MIN_QA_SENTENCE_LENGTH = 5


@dataclass(frozen=True)
class ContextPiece:
    piece: int
    document: int  # index into the row's context documents
    begin: int  # offsets in that document's text, end exclusive
    end: int


def _encode_with_offsets(runtime: Runtime, text: str) -> list[tuple[int, int, int]]:
    """(piece id, begin, end) per piece of one word, offsets in characters of ``text``."""
    try:
        proto = runtime.processor.encode(text, return_type="proto")
    except TypeError:  # sentencepiece before return_type
        proto = runtime.processor.encode(text, out_type="immutable_proto")
    out, position = [], 0
    for piece in proto.pieces:
        length = len(piece.surface)
        if piece.id != runtime.delimiter:
            out.append((piece.id, position, position + max(length, 0)))
        position += length
    return out


def word_pieces(runtime: Runtime, word: str, lower: bool) -> list[tuple[int, int, int]]:
    """A word's pieces with their character offsets in the word.

    The ids are ``runtime.token_pieces``'s, so a word reads the same as a token does in the other
    stages. When lower-casing changes the word's length (rare letters such as 'İ'), each piece
    spans the whole word.
    """
    text = word.lower() if lower else word
    ids = runtime.token_pieces(text)
    spans = _encode_with_offsets(runtime, text)
    if len(text) != len(word) or [s[0] for s in spans] != ids:
        return [(piece, 0, len(word)) for piece in ids]
    return spans


def context_pieces(
    documents: list[AnnotationDict], runtime: Runtime, lower: bool
) -> list[ContextPiece]:
    out = []
    for index, document in enumerate(documents):
        for match in _WORD.finditer(document["result"]):
            for piece, begin, end in word_pieces(runtime, match.group(), lower):
                out.append(ContextPiece(piece, index, match.start() + begin, match.start() + end))
    return out


def question_pieces(documents: list[AnnotationDict], runtime: Runtime, lower: bool) -> list[int]:
    return [
        piece
        for document in documents
        for word in _WORD.findall(document["result"])
        for piece in runtime.token_pieces(word.lower() if lower else word)
    ]


@dataclass
class _Window:
    row: int
    first_output: int  # output row of the sequence's [CLS]
    length: int  # positions, [CLS] and the last [SEP] included
    context_start: int  # position of the window's first context piece
    pieces: list[ContextPiece]


def best_span(
    start_logits: np.ndarray, end_logits: np.ndarray, segments: list[int]
) -> tuple[int, int]:
    """(i, j), i <= j, maximising start_logits[i] + end_logits[j] with i and j in the same
    segment (context document)."""
    best, best_i, best_j = -np.inf, 0, 0
    running, running_i = -np.inf, 0
    for j in range(len(end_logits)):
        if j == 0 or segments[j] != segments[j - 1]:
            running, running_i = -np.inf, j
        if start_logits[j] > running:
            running, running_i = float(start_logits[j]), j
        if running + end_logits[j] > best:
            best, best_i, best_j = running + float(end_logits[j]), running_i, j
    return best_i, best_j


def answer_rows(
    rows: list[tuple[list[AnnotationDict], ...]], settings: EncoderSettings
) -> list[list[AnnotationDict]]:
    """The answer of each (questions, contexts) row (the stage's core)."""
    runtime = runtime_for(settings)
    lower = not settings.case_sensitive
    sep = settings.special_tokens["[SEP]"]
    room_total = settings.max_sentence_length - 3
    sequences: list[PieceSequence] = []
    windows: list[_Window] = []
    count = 0
    for row_index, (questions, contexts) in enumerate(rows):
        question = question_pieces(questions, runtime, lower)[: max(1, room_total // 2)]
        context = context_pieces(contexts, runtime, lower)
        if not question or not context:
            continue
        room = room_total - len(question)
        for start in window_starts(len(context), room):
            part = context[start : start + room]
            piece_ids = [*question, sep, *(p.piece for p in part)]
            length = len(piece_ids) + 2
            # one output row per position: [CLS] (CLS_POSITION) to the last [SEP]
            targets = [(count + k, k + CLS_POSITION) for k in range(length)]
            sequences.append(PieceSequence(piece_ids, targets))
            windows.append(_Window(row_index, count, length, len(question) + 2, part))
            count += length
    logits = encode(sequences, count, runtime, settings)
    best: dict[int, tuple[float, AnnotationDict]] = {}
    for window in windows:
        rows_of = logits[window.first_output : window.first_output + window.length]
        start_scores, end_scores = softmax(rows_of[:, 0]), softmax(rows_of[:, 1])
        first = window.context_start
        last = first + len(window.pieces)
        i, j = best_span(
            rows_of[first:last, 0], rows_of[first:last, 1], [p.document for p in window.pieces]
        )
        start_piece, end_piece = window.pieces[i], window.pieces[j]
        probability = float(start_scores[first + i] * end_scores[first + j])
        if window.row in best and best[window.row][0] >= probability:
            continue
        document = rows[window.row][1][start_piece.document]
        begin, end = start_piece.begin, end_piece.end - 1
        start_score, end_score = start_scores[first + i], end_scores[first + j]
        metadata = {
            "sentence": sentence_key(document),
            "chunk": "0",
            "start": str(first + i),
            "start_score": score_text(start_score),
            "end": str(first + j),
            "end_score": score_text(end_score),
            "score": score_text((start_score + end_score) / 2),
        }
        offset = document["begin"]
        answer = make_annotation(
            CHUNK, offset + begin, offset + end, document["result"][begin : end + 1], metadata
        )
        best[window.row] = (probability, answer)
    return [[best[index][1]] if index in best else [] for index in range(len(rows))]


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
