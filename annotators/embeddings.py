"""DeBertaEmbeddings (document/sentence + token -> word_embeddings) and SentenceEmbeddings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import (
    DOCUMENT,
    SENTENCE_EMBEDDINGS,
    TOKEN,
    WORD_EMBEDDINGS,
    AnnotationDict,
    make_annotation,
)
from annotators.deberta.encoder import EncoderSettings, embed_rows
from annotators.deberta.model_folder import ModelFolder
from annotators.errors import ParamError
from annotators.model_stage import MAX_SENTENCE_LENGTH_LIMIT, DebertaModelStage
from annotators.params import choice
from annotators.stage import AnnotateFn, AnnotatorModel, BatchAnnotateFn, keyword_only

if TYPE_CHECKING:
    from typing import Self

__all__ = ["MAX_SENTENCE_LENGTH_LIMIT", "DeBertaEmbeddings", "SentenceEmbeddings"]


class DeBertaEmbeddings(DebertaModelStage):
    """Token vectors from a DeBERTa-v3 encoder exported to ONNX, with Spark NLP's parameters.

    Load with ``DeBertaEmbeddings.loadSavedModel(folder, spark)``, ``.pretrained(name, lang)`` or
    ``.load(path)`` (a saved stage or a model folder).

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT, TOKEN``    ``WORD_EMBEDDINGS``
    ====================== ======================

    Parameters
    ----------
    outputCol
        The vector column, ``embeddings`` by default.
    batchSize
        Sentences per inference batch (1 to 4096), 8 by default.
    caseSensitive
        False lower-cases tokens before they are encoded; the model's own setting when loaded.
    maxSentenceLength
        Pieces per sequence, ``[CLS]`` and ``[SEP]`` included (3 to 512); 128 by default, or
        the model's limit if that is lower.
    longSentenceStrategy
        ``window`` (the default: a longer sentence is read in half-overlapping windows) or
        ``truncate`` (the reference's cut: tokens past it get no vector).
    engine, precision, executionProvider, threads
        ``onnxruntime`` or ``openvino``; ``fp32``, ``int8`` or ``bf16``; ``cpu`` or ``cuda``;
        the engine's threads (0, the default, for the task's CPUs). Defaults: ``onnxruntime``,
        ``fp32``, ``cpu``.
    dimension, storageRef
        The vector size and the model's name, taken from the model.

    Examples
    --------
    The bundled tiny model has random weights: its vectors mean nothing.

    >>> from pyspark.ml import Pipeline
    >>> from annotators import DeBertaEmbeddings, DocumentAssembler, LightPipeline, Tokenizer
    >>> embeddings = (
    ...     DeBertaEmbeddings.pretrained("deberta_v3_tiny_random", "en")
    ...     .setInputCols(["document", "token"])
    ...     .setOutputCol("embeddings")
    ... )
    >>> embeddings.getDimension(), embeddings.getStorageRef(), embeddings.getBatchSize()
    (32, 'deberta_v3_tiny_random', 8)
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token"),
    ...     embeddings,
    ... ]
    >>> data = spark.createDataFrame([("I love Spark.",)], "text string")
    >>> model = Pipeline(stages=stages).fit(data)
    >>> [row] = LightPipeline(model, parse_embeddings=True).fullAnnotate("I love Spark.")
    >>> [(vector.result, len(vector.embeddings)) for vector in row["embeddings"]]
    [('I', 32), ('love', 32), ('Spark', 32), ('.', 32)]
    >>> row["embeddings"][0].metadata
    {'sentence': '0', 'token': 'I', 'pieceId': '12', 'isWordStart': 'true'}

    On Spark:

    >>> result = model.transform(data)
    >>> sizes = ["size(embeddings) AS tokens", "size(embeddings[0].embeddings) AS dim"]
    >>> result.selectExpr(*sizes).show()
    +------+---+
    |tokens|dim|
    +------+---+
    |     4| 32|
    +------+---+
    <BLANKLINE>
    """

    dimension = Param(
        Params._dummy(), "dimension", "vector size (from the model)", TypeConverters.toInt
    )
    storageRef = Param(
        Params._dummy(),
        "storageRef",
        "name that ties embeddings to the model",
        TypeConverters.toString,
    )

    model_task = "embeddings"
    input_annotator_types = (DOCUMENT, TOKEN)
    output_annotator_type = WORD_EMBEDDINGS

    @keyword_only
    def __init__(
        self, *, inputCols: list[str] | None = None, outputCol: str = "embeddings", **params: Any
    ) -> None:
        """Any of the stage's parameters as keywords (``batchSize=16``)."""
        super().__init__()
        self._setDefault(outputCol="embeddings")
        self._set_keywords(self._input_kwargs)

    def _configure_from(self, model: ModelFolder) -> None:
        self._set(dimension=model.dimension, storageRef=model.name)

    def _output_size(self, folder: ModelFolder) -> int:
        return folder.dimension

    def setDimension(self, value: int) -> Self:
        if self.isDefined(self.modelPath) and value != self.model_folder().dimension:
            raise ParamError(
                f"dimension {value} does not match the model's {self.model_folder().dimension}"
            )
        return self._set(dimension=value)

    def getDimension(self) -> int:
        return self.getOrDefault(self.dimension)

    def setStorageRef(self, value: str) -> Self:
        return self._set(storageRef=value)

    def getStorageRef(self) -> str:
        return self.getOrDefault(self.storageRef)

    def batch_core(self) -> BatchAnnotateFn:
        return _embeddings_core(self.shipped_settings())


def _embeddings_core(settings: EncoderSettings) -> BatchAnnotateFn:
    def annotate_rows(rows: list[tuple[list[AnnotationDict], ...]]) -> list[list[AnnotationDict]]:
        return embed_rows([tokens for _documents, tokens in rows], settings)

    return annotate_rows


# -- SentenceEmbeddings ---------------------------------------------------------------------

POOLING_STRATEGIES = ("AVERAGE", "SUM")


def _pool(
    sentences: list[AnnotationDict], vectors: list[AnnotationDict], strategy: str
) -> list[AnnotationDict]:
    by_sentence: dict[str, list[np.ndarray]] = {}
    for vector in vectors:
        key = (vector.get("metadata") or {}).get("sentence", "0")
        by_sentence.setdefault(key, []).append(np.asarray(vector["embeddings"], dtype=np.float32))
    out = []
    for index, sentence in enumerate(sentences):
        key = (sentence.get("metadata") or {}).get("sentence", str(index))
        found = by_sentence.get(key)
        if not found:
            continue
        stacked = np.stack(found)
        pooled = stacked.mean(axis=0) if strategy == "AVERAGE" else stacked.sum(axis=0)
        out.append(
            make_annotation(
                SENTENCE_EMBEDDINGS,
                sentence["begin"],
                sentence["end"],
                sentence["result"],
                {
                    "sentence": key,
                    "token": sentence["result"],
                    "pieceId": "-1",
                    "isWordStart": "true",
                },
                pooled,
            )
        )
    return out


class SentenceEmbeddings(AnnotatorModel):
    """One vector per sentence: the AVERAGE (default) or SUM of its tokens' vectors.

    Its metadata holds ``sentence`` and, as ``token``, the sentence's text.

    ============================= =======================
    Input Annotation types        Output Annotation type
    ============================= =======================
    ``DOCUMENT, WORD_EMBEDDINGS`` ``SENTENCE_EMBEDDINGS``
    ============================= =======================

    Parameters
    ----------
    outputCol
        The vector column, ``sentence_embeddings`` by default.
    poolingStrategy
        ``AVERAGE`` (the default) or ``SUM`` of the sentence's token vectors.

    Examples
    --------
    >>> import numpy as np
    >>> from pyspark.ml import Pipeline
    >>> from annotators import (
    ...     DeBertaEmbeddings,
    ...     DocumentAssembler,
    ...     LightPipeline,
    ...     SentenceDetector,
    ...     SentenceEmbeddings,
    ...     Tokenizer,
    ... )
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
    ...     Tokenizer().setInputCols(["sentence"]).setOutputCol("token"),
    ...     DeBertaEmbeddings.pretrained("deberta_v3_tiny_random", "en")
    ...     .setInputCols(["sentence", "token"])
    ...     .setOutputCol("embeddings"),
    ...     SentenceEmbeddings()
    ...     .setInputCols(["sentence", "embeddings"])
    ...     .setOutputCol("sentence_embeddings")
    ...     .setPoolingStrategy("AVERAGE"),
    ... ]
    >>> model = Pipeline(stages=stages).fit(spark.createDataFrame([("",)], "text string"))
    >>> light = LightPipeline(model, parse_embeddings=True)
    >>> [row] = light.fullAnnotate("I love Spark. It is fast.")
    >>> [(pooled.result, len(pooled.embeddings)) for pooled in row["sentence_embeddings"]]
    [('I love Spark.', 32), ('It is fast.', 32)]
    >>> first = [v.embeddings for v in row["embeddings"] if v.metadata["sentence"] == "0"]
    >>> np.allclose(row["sentence_embeddings"][0].embeddings, np.mean(first, axis=0), atol=1e-6)
    True
    """

    poolingStrategy = Param(
        Params._dummy(),
        "poolingStrategy",
        "AVERAGE or SUM",
        choice("poolingStrategy", POOLING_STRATEGIES, normalize=str.upper),
    )
    dimension = Param(Params._dummy(), "dimension", "vector size", TypeConverters.toInt)
    storageRef = Param(
        Params._dummy(),
        "storageRef",
        "the word embeddings' storage reference",
        TypeConverters.toString,
    )

    input_annotator_types = (DOCUMENT, WORD_EMBEDDINGS)
    output_annotator_type = SENTENCE_EMBEDDINGS

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "sentence_embeddings",
        poolingStrategy: str = "AVERAGE",
        dimension: int | None = None,
        storageRef: str | None = None,
    ) -> None:
        super().__init__()
        self._setDefault(outputCol="sentence_embeddings", poolingStrategy="AVERAGE")
        self._set_keywords(self._input_kwargs)

    def setDimension(self, value: int) -> SentenceEmbeddings:
        return self._set(dimension=value)

    def getDimension(self) -> int:
        return self.getOrDefault(self.dimension)

    def setStorageRef(self, value: str) -> SentenceEmbeddings:
        return self._set(storageRef=value)

    def getStorageRef(self) -> str:
        return self.getOrDefault(self.storageRef)

    def setPoolingStrategy(self, strategy: str) -> SentenceEmbeddings:
        return self._set(poolingStrategy=strategy)

    def getPoolingStrategy(self) -> str:
        return self.getOrDefault(self.poolingStrategy)

    def row_core(self) -> AnnotateFn:
        strategy = self.getPoolingStrategy()
        return lambda sentences, vectors: _pool(sentences, vectors, strategy)
