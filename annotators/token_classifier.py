"""DeBertaForTokenClassification: document/sentence + token -> one ``named_entity`` per token.

As in Spark NLP, each token's label is the model's choice at the token's first piece; ``result``
is the label and ``metadata`` holds ``sentence``, ``word`` (the token) and every label's softmax
score. Unlike the reference, a sentence longer than ``maxSentenceLength`` is read in
half-overlapping windows (``longSentenceStrategy="window"``, the default), so every token gets a
label; ``"truncate"`` keeps the reference's cut, after which tokens get none. A token with no
piece at all (a zero-width space) is labelled from its sequence's ``[CLS]`` output, as the
embeddings give it that vector.
"""

from __future__ import annotations

from typing import Any

from annotators.annotation import (
    DOCUMENT,
    NAMED_ENTITY,
    TOKEN,
    AnnotationDict,
)
from annotators.deberta.tagging import tag_rows
from annotators.model_stage import LabelledModelStage
from annotators.stage import BatchAnnotateFn, keyword_only

__all__ = ["DeBertaForTokenClassification"]


class DeBertaForTokenClassification(LabelledModelStage):
    """Named-entity (or any per-token) labels from a DeBERTa-v3 token classifier in ONNX.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT, TOKEN``    ``NAMED_ENTITY``
    ====================== ======================

    Parameters
    ----------
    outputCol
        The tag column, ``ner`` by default.
    batchSize, caseSensitive, maxSentenceLength, longSentenceStrategy
        As in ``DeBertaEmbeddings``: 8, the model's own setting, 128 and ``window`` by default.
    engine, precision, executionProvider, threads
        As in ``DeBertaEmbeddings``: ``onnxruntime``, ``fp32``, ``cpu`` and 0 by default.

    Examples
    --------
    The test tagger has random weights: its tags mean nothing.

    >>> from pyspark.ml import Pipeline
    >>> from annotators import (
    ...     DeBertaForTokenClassification,
    ...     DocumentAssembler,
    ...     LightPipeline,
    ...     Tokenizer,
    ... )
    >>> folder = "tests/fixtures/models/deberta_v3_tiny_ner"
    >>> ner = (
    ...     DeBertaForTokenClassification.loadSavedModel(folder)
    ...     .setInputCols(["document", "token"])
    ...     .setOutputCol("ner")
    ... )
    >>> ner.getClasses()
    ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC']
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token"),
    ...     ner,
    ... ]
    >>> model = Pipeline(stages=stages).fit(spark.createDataFrame([("",)], "text string"))
    >>> [row] = LightPipeline(model).fullAnnotate("Clara lives in Berkeley.")
    >>> [(tag.metadata["word"], tag.result) for tag in row["ner"]][:3]
    [('Clara', 'B-PER'), ('lives', 'I-LOC'), ('in', 'B-PER')]
    >>> sorted(row["ner"][0].metadata)
    ['B-LOC', 'B-PER', 'I-LOC', 'I-PER', 'O', 'sentence', 'word']
    """

    model_task = "token-classification"
    input_annotator_types = (DOCUMENT, TOKEN)
    output_annotator_type = NAMED_ENTITY

    @keyword_only
    def __init__(
        self, *, inputCols: list[str] | None = None, outputCol: str = "ner", **params: Any
    ) -> None:
        """Any of the stage's parameters as keywords (``batchSize=16``)."""
        super().__init__()
        self._setDefault(outputCol="ner")
        self._set_keywords(self._input_kwargs)

    def batch_core(self) -> BatchAnnotateFn:
        settings, labels = self.shipped_settings(), tuple(self.getClasses())

        def annotate_rows(
            rows: list[tuple[list[AnnotationDict], ...]],
        ) -> list[list[AnnotationDict]]:
            return tag_rows([row[1] for row in rows], settings, labels)

        return annotate_rows
