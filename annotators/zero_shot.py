"""DeBertaForZeroShotClassification: labels chosen at run time, scored by an NLI model.

Each sentence (the premise) is read against each candidate label (the hypothesis, the label's
own words, as in the reference) as ``[CLS] sentence [SEP] label [SEP]``. With
``multilabel=False`` and ``activation="softmax"`` (the defaults) the candidates' entailment
logits go through one softmax, so the scores sum to 1 and the best label is the result. With
``multilabel=True`` or ``activation="sigmoid"`` each candidate is scored on its own, as the
softmax of its (contradiction, entailment) logits, and every candidate over ``threshold`` is a
result. ``metadata`` holds ``sentence`` and every candidate's score; ``coalesceSentences``
averages a document's sentences into one annotation.

The entailment and contradiction outputs default to the model's own labels (an NLI model names
them); ``entailmentIdParam`` and ``contradictionIdParam`` override them. Unlike the reference,
the contradiction id is used as given (the reference replaces it with 0 unless the entailment id
is 0), and a sentence longer than ``maxSentenceLength`` is read in half-overlapping windows whose
scores are averaged (``longSentenceStrategy="window"``) rather than cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import CATEGORY, DOCUMENT, TOKEN, AnnotationDict
from annotators.classifier import ScoringParams
from annotators.deberta.model_folder import ModelFolder
from annotators.deberta.zero_shot import ZeroShotSettings, label_index, zero_shot_rows
from annotators.errors import ParamError, StageInputError
from annotators.model_stage import LabelledModelStage
from annotators.stage import BatchAnnotateFn, keyword_only

if TYPE_CHECKING:
    from typing import Self

__all__ = ["DeBertaForZeroShotClassification"]


def _label_list(value: Any) -> list[str]:
    labels = TypeConverters.toListString(value)
    if not labels or any(not label.strip() for label in labels):
        raise ParamError(f"candidateLabels must be non-empty labels, got {labels}")
    if len(set(labels)) != len(labels):
        raise ParamError(f"candidateLabels repeat a label: {labels}")
    return labels


class DeBertaForZeroShotClassification(LabelledModelStage, ScoringParams):
    """Zero-shot text classification with a DeBERTa-v3 NLI model in ONNX.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT, TOKEN``    ``CATEGORY``
    ====================== ======================

    Parameters
    ----------
    outputCol
        The label column, ``category`` by default.
    candidateLabels
        The labels to choose from, each read as a hypothesis; they must be set.
    multilabel
        Score each label on its own and keep every one over ``threshold``; False by default.
    activation, threshold, coalesceSentences
        As in ``DeBertaForSequenceClassification``: ``softmax``, 0.5 and False by default
        (``sigmoid`` works as ``multilabel``).
    entailmentIdParam, contradictionIdParam
        The model's entailment and contradiction outputs: those its labels name, else 2 and 0.
    batchSize, caseSensitive, maxSentenceLength, longSentenceStrategy
        As in ``DeBertaEmbeddings``: 8, the model's own setting, 128 and ``window`` by default.
    engine, precision, executionProvider, threads
        As in ``DeBertaEmbeddings``: ``onnxruntime``, ``fp32``, ``cpu`` and 0 by default.

    Examples
    --------
    The test NLI model has random weights: its choices mean nothing.

    >>> from pyspark.ml import Pipeline
    >>> from annotators import (
    ...     DeBertaForZeroShotClassification,
    ...     DocumentAssembler,
    ...     LightPipeline,
    ...     SentenceDetector,
    ...     Tokenizer,
    ... )
    >>> folder = "tests/fixtures/models/deberta_v3_tiny_nli"
    >>> zero_shot = (
    ...     DeBertaForZeroShotClassification.loadSavedModel(folder)
    ...     .setInputCols(["sentence", "token"])
    ...     .setOutputCol("category")
    ...     .setCandidateLabels(["music", "travel", "sports"])
    ... )
    >>> zero_shot.getClasses(), zero_shot.getEntailmentIdParam()
    (['entailment', 'neutral', 'contradiction'], 0)
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
    ...     Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
    ...     zero_shot,
    ... ]
    >>> model = Pipeline(stages=stages).fit(spark.createDataFrame([("",)], "text string"))
    >>> [row] = LightPipeline(model).fullAnnotate("I love this song. The flight was late.")
    >>> [category.result for category in row["category"]]
    ['travel', 'sports']
    >>> scores = row["category"][0].metadata
    >>> round(sum(float(scores[label]) for label in ("music", "travel", "sports")), 4)
    1.0
    """

    candidateLabels = Param(
        Params._dummy(), "candidateLabels", "the labels to choose from", _label_list
    )
    entailmentIdParam = Param(
        Params._dummy(),
        "entailmentIdParam",
        "the model's entailment output (default: the label named entailment)",
        TypeConverters.toInt,
    )
    contradictionIdParam = Param(
        Params._dummy(),
        "contradictionIdParam",
        "the model's contradiction output (default: the label named contradiction)",
        TypeConverters.toInt,
    )
    multilabel = Param(
        Params._dummy(),
        "multilabel",
        "score each candidate on its own (every one over the threshold is a result)",
        TypeConverters.toBoolean,
    )

    model_task = "zero-shot-classification"
    input_annotator_types = (DOCUMENT, TOKEN)
    output_annotator_type = CATEGORY

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "category",
        candidateLabels: list[str] | None = None,
        **params: Any,
    ) -> None:
        """Any of the stage's parameters as keywords (``multilabel=True``)."""
        super().__init__()
        self._setDefault(
            outputCol="category", entailmentIdParam=2, contradictionIdParam=0, multilabel=False
        )
        self._set_scoring_defaults()
        self._set_keywords(self._input_kwargs)

    def _configure_from(self, model: ModelFolder) -> None:
        entailment = label_index(model.labels, "entail")
        contradiction = label_index(model.labels, "contradict")
        if entailment is not None:
            self._setDefault(entailmentIdParam=entailment)
        if contradiction is not None:
            self._setDefault(contradictionIdParam=contradiction)

    def setCandidateLabels(self, v: list[str]) -> Self:
        return self._set(candidateLabels=v)

    def getCandidateLabels(self) -> list[str]:
        return self.getOrDefault(self.candidateLabels)

    def setEntailmentIdParam(self, v: int) -> Self:
        return self._set(entailmentIdParam=v)

    def getEntailmentIdParam(self) -> int:
        return self.getOrDefault(self.entailmentIdParam)

    def setContradictionIdParam(self, v: int) -> Self:
        return self._set(contradictionIdParam=v)

    def getContradictionIdParam(self) -> int:
        return self.getOrDefault(self.contradictionIdParam)

    def setMultilabel(self, value: bool) -> Self:
        return self._set(multilabel=value)

    def getMultilabel(self) -> bool:
        return self.getOrDefault(self.multilabel)

    def check_ready(self) -> None:
        super().check_ready()
        self.zero_shot_settings()

    def zero_shot_settings(self) -> ZeroShotSettings:
        name = type(self).__name__
        if not self.isDefined(self.candidateLabels):
            raise StageInputError(
                f"{name}: candidateLabels is not set; call setCandidateLabels([...])"
            )
        outputs = len(self.getClasses())
        entailment, contradiction = self.getEntailmentIdParam(), self.getContradictionIdParam()
        for param, value in (
            ("entailmentIdParam", entailment),
            ("contradictionIdParam", contradiction),
        ):
            if not 0 <= value < outputs:
                raise StageInputError(
                    f"{name}: {param} {value} is not one of the model's {outputs} outputs "
                    f"{self.getClasses()}"
                )
        if entailment == contradiction:
            raise StageInputError(
                f"{name}: entailmentIdParam and contradictionIdParam are both {entailment}"
            )
        if self.getMaxSentenceLength() < 5:
            raise StageInputError(
                f"{name}: maxSentenceLength {self.getMaxSentenceLength()} cannot hold "
                "[CLS] sentence [SEP] label [SEP]; raise it"
            )
        return ZeroShotSettings(
            candidates=tuple(self.getCandidateLabels()),
            entailment=entailment,
            contradiction=contradiction,
            multi_label=self.getMultilabel() or self.getActivation() == "sigmoid",
            threshold=float(self.getThreshold()),
            coalesce=self.getCoalesceSentences(),
        )

    def batch_core(self) -> BatchAnnotateFn:
        settings, zero_shot = self.shipped_settings(), self.zero_shot_settings()

        def annotate_rows(
            rows: list[tuple[list[AnnotationDict], ...]],
        ) -> list[list[AnnotationDict]]:
            return zero_shot_rows(rows, settings, zero_shot)

        return annotate_rows
