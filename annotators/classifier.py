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
from typing import TYPE_CHECKING, Any

from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import CATEGORY, DOCUMENT, TOKEN, AnnotationDict
from annotators.deberta.classification import (
    ACTIVATIONS,
    ScoringSettings,
    classify_rows,
)
from annotators.errors import StageInputError
from annotators.model_stage import LabelledModelStage
from annotators.params import ParamDocs, choice
from annotators.stage import BatchAnnotateFn, keyword_only

#: [CLS] a [SEP] b [SEP] with one piece of each text.
MIN_PAIR_SENTENCE_LENGTH = 5

if TYPE_CHECKING:
    from typing import Self

__all__ = ["ACTIVATIONS", "DeBertaForSequenceClassification"]


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
    """Labels and scores from a DeBERTa-v3 sequence classifier exported to ONNX.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT, TOKEN``    ``CATEGORY``
    ====================== ======================

    Parameters
    ----------
    outputCol
        The label column, ``category`` by default.
    coalesceSentences
        One label per document, from its sentences' averaged scores, instead of one per
        sentence; False by default.
    activation
        ``softmax`` (the default: the best label) or ``sigmoid`` (every label whose score
        exceeds ``threshold``).
    threshold
        The score a label must exceed with ``sigmoid``; 0.5 by default.
    pairInputCol
        The token column of each row's second text: the pair is then classified as one
        sequence, ``[CLS] a [SEP] b [SEP]`` (NLI, paraphrase); unset by default.
    batchSize, caseSensitive, maxSentenceLength, longSentenceStrategy
        As in ``DeBertaEmbeddings``: 8, the model's own setting, 128 and ``window`` by default.
    engine, precision, executionProvider, threads
        As in ``DeBertaEmbeddings``: ``onnxruntime``, ``fp32``, ``cpu`` and 0 by default.

    Examples
    --------
    The test classifier has random weights: its labels mean nothing.

    >>> from pyspark.ml import Pipeline
    >>> from annotators import (
    ...     DeBertaForSequenceClassification,
    ...     DocumentAssembler,
    ...     LightPipeline,
    ...     SentenceDetector,
    ...     Tokenizer,
    ... )
    >>> folder = "tests/fixtures/models/deberta_v3_tiny_ko_classifier"
    >>> classifier = (
    ...     DeBertaForSequenceClassification.loadSavedModel(folder)
    ...     .setInputCols(["sentence", "token"])
    ...     .setOutputCol("category")
    ... )
    >>> classifier.getClasses()
    ['negative', 'neutral', 'positive']
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
    ...     Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
    ...     classifier,
    ... ]
    >>> model = Pipeline(stages=stages).fit(spark.createDataFrame([("",)], "text string"))
    >>> light = LightPipeline(model)
    >>> text = "이 영화는 정말 재미있었어요! 다음에 또 보고 싶네요."
    >>> light.annotate(text)["category"]
    ['negative', 'negative']
    >>> first = light.fullAnnotate(text)[0]["category"][0]
    >>> first.begin, first.end, sorted(first.metadata)
    (0, 15, ['negative', 'neutral', 'positive', 'sentence'])
    """

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
        regression = folder.manifest.problem_type == "regression" or len(labels) == 1
        return ScoringSettings(
            labels=labels,
            activation=self.getActivation(),
            threshold=float(self.getThreshold()),
            coalesce=self.getCoalesceSentences(),
            regression=regression,
        )

    def batch_core(self) -> BatchAnnotateFn:
        settings, scoring = self.shipped_settings(), self.scoring()

        def annotate_rows(
            rows: list[tuple[list[AnnotationDict], ...]],
        ) -> list[list[AnnotationDict]]:
            return classify_rows(rows, settings, scoring)

        return annotate_rows
