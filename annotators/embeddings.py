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
from annotators.base import AnnotateFn, AnnotatorModel, BatchAnnotateFn, keyword_only
from annotators.deberta.encoder import EncoderSettings, embed_rows
from annotators.deberta.model_folder import ModelFolder
from annotators.errors import ParamError
from annotators.model_stage import MAX_SENTENCE_LENGTH_LIMIT, DebertaModelStage
from annotators.params import choice

if TYPE_CHECKING:
    from typing import Self

__all__ = ["MAX_SENTENCE_LENGTH_LIMIT", "DeBertaEmbeddings", "SentenceEmbeddings"]


class DeBertaEmbeddings(DebertaModelStage):
    """Token vectors from a DeBERTa-v3 encoder exported to ONNX, with Spark NLP's parameters.

    Load with ``DeBertaEmbeddings.loadSavedModel(folder, spark)``, ``.pretrained(name, lang)`` or
    ``.load(path)`` (a saved stage or a model folder).
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
    """One vector per sentence: the AVERAGE (default) or SUM of its tokens' vectors."""

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
    ) -> None:
        super().__init__()
        self._setDefault(outputCol="sentence_embeddings", poolingStrategy="AVERAGE")
        self._set_keywords(self._input_kwargs)

    def setPoolingStrategy(self, value: str) -> SentenceEmbeddings:
        return self._set(poolingStrategy=value)

    def getPoolingStrategy(self) -> str:
        return self.getOrDefault(self.poolingStrategy)

    def row_core(self) -> AnnotateFn:
        strategy = self.getPoolingStrategy()
        return lambda sentences, vectors: _pool(sentences, vectors, strategy)
