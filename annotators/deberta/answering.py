"""Extractive question answering's core: the question and the context's pieces, windows over a
long context, and the best span mapped back to the context's characters (Spark-free; the stage
is ``annotators.question_answering``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from annotators.annotation import CHUNK, AnnotationDict, make_annotation, sentence_key
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
