"""Scores to labels: the classifiers' shared numerics and the sequence classifier's core.

Spark-free, like the rest of the runtime: softmax and sigmoid in float64 (scores are compared
with PyTorch's to 1e-4), scores written as the reference writes them (a float32's shortest
repr), category annotations per scored unit, and ``classify_rows``, the batch core of
``DeBertaForSequenceClassification``. The token classifier, the question answerer and the
zero-shot classifier use the numerics too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from annotators.annotation import CATEGORY, AnnotationDict, make_annotation
from annotators.deberta.encoder import (
    EncoderSettings,
    PieceSequence,
    encode,
    group_by_sentence,
    plan_pair,
    plan_text,
    runtime_for,
    text_pieces,
)

ACTIVATIONS = ("softmax", "sigmoid")


class Unit(NamedTuple):
    """A span of a row that gets its own scores: a sentence, a whole document or a pair."""

    begin: int
    end: int
    sentence: str
    #: The model outputs (rows of the logits) its scores come from.
    outputs: range
    #: Metadata added to its annotations.
    extra: dict[str, str]


class ScoredUnit(NamedTuple):
    """A unit with its scores, one per label."""

    begin: int
    end: int
    sentence: str
    scores: np.ndarray
    extra: dict[str, str]


@dataclass(frozen=True)
class ScoringSettings:
    """How logits become labels; small and picklable, shipped with the core."""

    labels: tuple[str, ...]
    activation: str = "softmax"
    threshold: float = 0.5
    coalesce: bool = False
    regression: bool = False


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax in float64 (scores are compared with PyTorch's to 1e-4)."""
    logits = logits.astype(np.float64)
    shifted = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))


def _activate(logits: np.ndarray, scoring: ScoringSettings) -> np.ndarray:
    if scoring.regression:
        return logits.astype(np.float64)
    return sigmoid(logits) if scoring.activation == "sigmoid" else softmax(logits)


def score_text(value: float) -> str:
    """A score as metadata text: a float32's shortest repr, as the reference writes it."""
    return str(np.float32(value))


def category_annotations(
    begin: int, end: int, sentence: str, scores: np.ndarray, scoring: ScoringSettings
) -> list[AnnotationDict]:
    """The category annotations for one scored unit (a sentence, a document or a pair)."""
    if scoring.regression:
        score = score_text(scores[0])
        return [
            make_annotation(CATEGORY, begin, end, score, {"sentence": sentence, "score": score})
        ]
    metadata = {"sentence": sentence}
    metadata.update({label: score_text(s) for label, s in zip(scoring.labels, scores, strict=True)})
    if scoring.activation == "sigmoid":
        chosen = [
            label for label, s in zip(scoring.labels, scores, strict=True) if s > scoring.threshold
        ]
    else:
        chosen = [scoring.labels[int(np.argmax(scores))]]
    return [make_annotation(CATEGORY, begin, end, label, dict(metadata)) for label in chosen]


def sentence_spans(documents: list[AnnotationDict]) -> dict[str, tuple[int, int]]:
    spans = {}
    for index, document in enumerate(documents):
        key = (document.get("metadata") or {}).get("sentence", str(index))
        spans.setdefault(key, (document["begin"], document["end"]))
    return spans


def classify_rows(
    rows: list[tuple[list[AnnotationDict], ...]],
    settings: EncoderSettings,
    scoring: ScoringSettings,
) -> list[list[AnnotationDict]]:
    """Category annotations per row; rows are (documents, tokens[, second tokens])."""
    runtime = runtime_for(settings)
    lower = not settings.case_sensitive
    sequences: list[PieceSequence] = []
    # per row: its units, whose output rows are averaged
    units: list[list[Unit]] = []
    pairs = [len(row) == 3 for row in rows]
    for row in rows:
        documents, tokens = row[0], row[1]
        row_units = []
        if len(row) == 3:  # a pair: the whole first text against the whole second text
            first, second = text_pieces(tokens, runtime, lower), text_pieces(row[2], runtime, lower)
            if tokens or row[2]:
                sequence, truncated = plan_pair(
                    [p for ps in first for p in ps],
                    [p for ps in second for p in ps],
                    settings,
                    len(sequences),
                )
                sequences.append(sequence)
                begin, end = _document_span(documents, tokens)
                row_units.append(
                    Unit(
                        begin,
                        end,
                        "0",
                        range(len(sequences) - 1, len(sequences)),
                        {"truncated": str(truncated).lower()},
                    )
                )
            units.append(row_units)
            continue
        spans = sentence_spans(documents)
        for sentence in group_by_sentence(tokens):
            key = (sentence[0].get("metadata") or {}).get("sentence", "0")
            planned = plan_text(text_pieces(sentence, runtime, lower), settings, len(sequences))
            begin, end = spans.get(key, (sentence[0]["begin"], sentence[-1]["end"]))
            row_units.append(
                Unit(begin, end, key, range(len(sequences), len(sequences) + len(planned)), {})
            )
            sequences.extend(planned)
        units.append(row_units)
    logits = encode(sequences, len(sequences), runtime, settings)
    scores = _activate(logits, scoring)
    outputs: list[list[AnnotationDict]] = []
    for row_units, pair in zip(units, pairs, strict=True):
        scored = [
            ScoredUnit(u.begin, u.end, u.sentence, scores[list(u.outputs)].mean(axis=0), u.extra)
            for u in row_units
        ]
        # a pair is one unit already
        outputs.append(unit_categories(scored, scoring, scoring.coalesce and not pair))
    return outputs


def unit_categories(
    units: list[ScoredUnit],
    scoring: ScoringSettings,
    coalesce: bool,
) -> list[AnnotationDict]:
    """One row's category annotations from its scored units: one per unit, or with
    ``coalesce`` one for the row from the mean scores."""
    if coalesce and units:
        averaged = np.mean([unit.scores for unit in units], axis=0)
        return category_annotations(units[0].begin, units[-1].end, "0", averaged, scoring)
    out: list[AnnotationDict] = []
    for begin, end, key, unit_scores, extra in units:
        for annotation in category_annotations(begin, end, key, unit_scores, scoring):
            annotation["metadata"].update(extra)
            out.append(annotation)
    return out


def _document_span(
    documents: list[AnnotationDict], tokens: list[AnnotationDict]
) -> tuple[int, int]:
    if documents:
        return documents[0]["begin"], documents[-1]["end"]
    return (tokens[0]["begin"], tokens[-1]["end"]) if tokens else (0, -1)
