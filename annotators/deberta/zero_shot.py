"""Zero-shot classification's core: each candidate label as an NLI hypothesis against each
sentence, scored by entailment (Spark-free; the stage is ``annotators.zero_shot``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from annotators.annotation import AnnotationDict, sentence_key
from annotators.deberta.classification import (
    ScoredUnit,
    ScoringSettings,
    Unit,
    sentence_spans,
    softmax,
    unit_categories,
)
from annotators.deberta.encoder import (
    EncoderSettings,
    PieceSequence,
    encode,
    group_by_sentence,
    piece_windows,
    runtime_for,
    text_pieces,
)


@dataclass(frozen=True)
class ZeroShotSettings:
    candidates: tuple[str, ...]
    entailment: int
    contradiction: int
    multi_label: bool
    threshold: float
    coalesce: bool


def label_index(labels: list[str] | None, prefix: str) -> int | None:
    for index, label in enumerate(labels or []):
        if label.lower().startswith(prefix):
            return index
    return None


def zero_shot_rows(
    rows: list[tuple[list[AnnotationDict], ...]],
    settings: EncoderSettings,
    zero_shot: ZeroShotSettings,
) -> list[list[AnnotationDict]]:
    """Category annotations per (documents, tokens) row (the stage's core)."""
    runtime = runtime_for(settings)
    lower = not settings.case_sensitive
    sep = settings.special_tokens["[SEP]"]
    room_total = settings.max_sentence_length - 3
    hypotheses = [
        [
            p
            for word in label.split()
            for p in runtime.token_pieces(word.lower() if lower else word)
        ][: max(1, room_total // 2)]
        for label in zero_shot.candidates
    ]
    room = room_total - max(len(h) for h in hypotheses)
    sequences: list[PieceSequence] = []
    # per row: its sentences, each over windows x candidates outputs
    units: list[list[Unit]] = []
    for documents, tokens in rows:
        spans = sentence_spans(documents)
        row_units = []
        for sentence in group_by_sentence(tokens):
            premise = [p for pieces in text_pieces(sentence, runtime, lower) for p in pieces]
            parts = piece_windows(premise, room, settings.long_sentence_strategy)
            first = len(sequences)
            for part in parts:
                for hypothesis in hypotheses:
                    sequences.append(
                        PieceSequence([*part, sep, *hypothesis], [(len(sequences), 0)])
                    )
            key = sentence_key(sentence[0])
            begin, end = spans.get(key, (sentence[0]["begin"], sentence[-1]["end"]))
            row_units.append(Unit(begin, end, key, range(first, len(sequences)), {}))
        units.append(row_units)
    logits = encode(sequences, len(sequences), runtime, settings)
    scoring = ScoringSettings(
        labels=zero_shot.candidates,
        activation="sigmoid" if zero_shot.multi_label else "softmax",
        threshold=zero_shot.threshold,
        coalesce=zero_shot.coalesce,
    )
    labels = len(zero_shot.candidates)
    outputs: list[list[AnnotationDict]] = []
    for row_units in units:
        scored = []
        for unit in row_units:
            windows = len(unit.outputs) // labels
            block = logits[unit.outputs.start : unit.outputs.stop].reshape(windows, labels, -1)
            entail = block[:, :, zero_shot.entailment]
            if zero_shot.multi_label:
                pair = np.stack([block[:, :, zero_shot.contradiction], entail], axis=-1)
                scores = softmax(pair)[..., 1]
            else:
                scores = softmax(entail, axis=-1)
            scored.append(ScoredUnit(unit.begin, unit.end, unit.sentence, scores.mean(axis=0), {}))
        outputs.append(unit_categories(scored, scoring, zero_shot.coalesce))
    return outputs
