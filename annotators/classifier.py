"""DeBertaForSequenceClassification: document/sentence + token -> category.

As in Spark NLP, one ``category`` annotation per sentence (``coalesceSentences=False``) or one
per document (``True``: the sentences' scores averaged), ``result`` the label and ``metadata``
every label's score plus ``sentence``. With ``activation="sigmoid"`` (multi-label) a sentence gets
one annotation per label whose score exceeds ``threshold``, and none when no label does. A
regression head (one output, ``problem_type`` regression) gives its raw score: ``result`` is the
number and ``metadata["score"]`` holds it too.

Long text: ``longSentenceStrategy="window"`` (default) classifies a text longer than
``maxSentenceLength`` in half-overlapping windows and averages their scores, so no part of it is
ignored; ``"truncate"`` keeps the reference's cut.

Sentence pairs (NLI, paraphrase, STS): set ``pairInputCol`` to the token column of each row's
second text; each row is then classified once as ``[CLS] a [SEP] b [SEP]``, cut longest-first to
``maxSentenceLength`` with ``metadata["truncated"]`` saying whether anything was cut.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import CATEGORY, DOCUMENT, TOKEN, AnnotationDict, make_annotation
from annotators.base import BatchAnnotateFn, StageInputError, keyword_only
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
from annotators.model_stage import LabelledModelStage
from annotators.params import ParamDocs, choice

#: [CLS] a [SEP] b [SEP] with one piece of each text.
MIN_PAIR_SENTENCE_LENGTH = 5

if TYPE_CHECKING:
    from typing import Self

ACTIVATIONS = ("softmax", "sigmoid")

__all__ = ["ACTIVATIONS", "DeBertaForSequenceClassification"]


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
    # per row: list of (begin, end, sentence key, output rows to average, extra metadata)
    units: list[list[tuple[int, int, str, range, dict[str, str]]]] = []
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
                    (
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
                (begin, end, key, range(len(sequences), len(sequences) + len(planned)), {})
            )
            sequences.extend(planned)
        units.append(row_units)
    logits = encode(sequences, len(sequences), runtime, settings)
    scores = _activate(logits, scoring)
    outputs: list[list[AnnotationDict]] = []
    for row_units, pair in zip(units, pairs, strict=True):
        scored = [
            (begin, end, key, scores[list(outputs_of)].mean(axis=0), extra)
            for begin, end, key, outputs_of, extra in row_units
        ]
        # a pair is one unit already
        outputs.append(unit_categories(scored, scoring, scoring.coalesce and not pair))
    return outputs


def unit_categories(
    units: list[tuple[int, int, str, np.ndarray, dict[str, str]]],
    scoring: ScoringSettings,
    coalesce: bool,
) -> list[AnnotationDict]:
    """One row's category annotations from its scored units (begin, end, sentence key, scores,
    extra metadata): one per unit, or with ``coalesce`` one for the row from the mean scores."""
    if coalesce and units:
        averaged = np.mean([unit[3] for unit in units], axis=0)
        return category_annotations(units[0][0], units[-1][1], "0", averaged, scoring)
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


class ScoringParams(ParamDocs, Params):
    """coalesceSentences, activation and threshold: how the classifiers (sequence and zero-shot)
    turn scores into labels. Defaults: false, softmax, 0.5."""

    coalesceSentences = Param(
        Params._dummy(),
        "coalesceSentences",
        "one label per document (averaged sentence scores) instead of one per sentence",
        TypeConverters.toBoolean,
    )
    activation = Param(
        Params._dummy(),
        "activation",
        "softmax (one label) or sigmoid (every label over the threshold)",
        choice("activation", ACTIVATIONS),
    )
    threshold = Param(
        Params._dummy(),
        "threshold",
        "score a label must exceed with sigmoid activation",
        TypeConverters.toFloat,
    )

    def _set_scoring_defaults(self) -> None:
        self._setDefault(coalesceSentences=False, activation="softmax", threshold=0.5)

    def setCoalesceSentences(self, value: bool) -> Self:
        return self._set(coalesceSentences=value)

    def getCoalesceSentences(self) -> bool:
        return self.getOrDefault(self.coalesceSentences)

    def setActivation(self, value: str) -> Self:
        return self._set(activation=value)

    def getActivation(self) -> str:
        return self.getOrDefault(self.activation)

    def setThreshold(self, value: float) -> Self:
        return self._set(threshold=value)

    def getThreshold(self) -> float:
        return self.getOrDefault(self.threshold)


class DeBertaForSequenceClassification(LabelledModelStage, ScoringParams):
    """Labels and scores from a DeBERTa-v3 sequence classifier exported to ONNX."""

    pairInputCol = Param(
        Params._dummy(),
        "pairInputCol",
        "token column of each row's second text: classify the pair [CLS] a [SEP] b [SEP]",
        TypeConverters.toString,
    )

    model_task = "sequence-classification"
    input_annotator_types = (DOCUMENT, TOKEN)
    output_annotator_type = CATEGORY

    @keyword_only
    def __init__(
        self, *, inputCols: list[str] | None = None, outputCol: str = "category", **params: Any
    ) -> None:
        """Any of the stage's parameters as keywords (``coalesceSentences=True``)."""
        super().__init__()
        self._setDefault(outputCol="category")
        self._set_scoring_defaults()
        self._set_keywords(self._input_kwargs)

    def setPairInputCol(self, value: str) -> Self:
        return self._set(pairInputCol=value)

    def getPairInputCol(self) -> str | None:
        return self.getOrDefault(self.pairInputCol) if self.isDefined(self.pairInputCol) else None

    def input_columns(self, types_by_column: Mapping[str, str | None]) -> list[str]:
        columns = super().input_columns(types_by_column)
        pair = self.getPairInputCol()
        if pair is None:
            return columns
        if pair not in types_by_column:
            raise StageInputError(
                f"DeBertaForSequenceClassification: pairInputCol '{pair}' does not exist; it "
                f"must name the {TOKEN} column of each row's second text"
            )
        if types_by_column[pair] != TOKEN:
            raise StageInputError(
                f"DeBertaForSequenceClassification: pairInputCol '{pair}' has annotator type "
                f"'{types_by_column[pair]}', but it needs a column of type {TOKEN} (the second "
                "text's tokens)"
            )
        if self.getMaxSentenceLength() < MIN_PAIR_SENTENCE_LENGTH:
            raise StageInputError(
                f"DeBertaForSequenceClassification: maxSentenceLength "
                f"{self.getMaxSentenceLength()} cannot hold a sentence pair ([CLS] a [SEP] b "
                f"[SEP] needs at least {MIN_PAIR_SENTENCE_LENGTH}); raise it"
            )
        return [*columns, pair]

    def scoring(self) -> ScoringSettings:
        folder = self.model_folder()
        labels = tuple(folder.labels or ())
        regression = folder.manifest.get("problem_type") == "regression" or len(labels) == 1
        return ScoringSettings(
            labels=labels,
            activation=self.getActivation(),
            threshold=float(self.getThreshold()),
            coalesce=self.getCoalesceSentences(),
            regression=regression,
        )

    def batch_annotator(self) -> BatchAnnotateFn:
        settings, scoring = self.shipped_settings(), self.scoring()

        def annotate_rows(
            rows: list[tuple[list[AnnotationDict], ...]],
        ) -> list[list[AnnotationDict]]:
            return classify_rows(rows, settings, scoring)

        return annotate_rows
