"""spark-deberta: Spark NLP-compatible annotators, pure Python, DeBERTa-v3 in ONNX Runtime.

The stages are imported when first named (``from annotators import DeBertaEmbeddings``), so
the model runtime (``annotators.deberta``), the task registry and the errors import without
PySpark. Naming a stage where PySpark cannot be imported raises ``SparkMissingError``, which
says what to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from annotators.errors import SparkMissingError
from annotators.version import library_version

#: Each public name and the module that defines it.
_EXPORTS = {
    "CATEGORY": "annotators.annotation",
    "CHUNK": "annotators.annotation",
    "DOCUMENT": "annotators.annotation",
    "NAMED_ENTITY": "annotators.annotation",
    "SENTENCE_EMBEDDINGS": "annotators.annotation",
    "TOKEN": "annotators.annotation",
    "WORD_EMBEDDINGS": "annotators.annotation",
    "Annotation": "annotators.annotation",
    "Chunk2Doc": "annotators.chunks",
    "DeBertaEmbeddings": "annotators.embeddings",
    "DeBertaForQuestionAnswering": "annotators.question_answering",
    "DeBertaForSequenceClassification": "annotators.classifier",
    "DeBertaForTokenClassification": "annotators.token_classifier",
    "DeBertaForZeroShotClassification": "annotators.zero_shot",
    "Doc2Chunk": "annotators.chunks",
    "DocumentAssembler": "annotators.document",
    "EmbeddingsFinisher": "annotators.finisher",
    "Finisher": "annotators.finisher",
    "Lemmatizer": "annotators.lemmatizer",
    "LemmatizerModel": "annotators.lemmatizer",
    "LightPipeline": "annotators.light",
    "MultiDocumentAssembler": "annotators.document",
    "NerConverter": "annotators.ner_converter",
    "Normalizer": "annotators.normalizer",
    "NormalizerModel": "annotators.normalizer",
    "Pipeline": "pyspark.ml",
    "PipelineModel": "pyspark.ml",
    "RegexTokenizer": "annotators.regex_tokenizer",
    "SentenceDetector": "annotators.sentence",
    "SentenceEmbeddings": "annotators.embeddings",
    "Stemmer": "annotators.stemmer",
    "StopWordsCleaner": "annotators.stop_words_cleaner",
    "Token2Chunk": "annotators.chunks",
    "TokenAssembler": "annotators.token_assembler",
    "Tokenizer": "annotators.tokenizer",
    "TokenizerModel": "annotators.tokenizer",
    "fuse": "annotators.chain",
    "start": "annotators.session",
}

__all__ = sorted(_EXPORTS)
__version__ = library_version()


def version() -> str:
    """This library's version (``sparknlp.version()``'s counterpart)."""
    return __version__


if TYPE_CHECKING:
    from pyspark.ml import Pipeline, PipelineModel

    from annotators.annotation import (
        CATEGORY,
        CHUNK,
        DOCUMENT,
        NAMED_ENTITY,
        SENTENCE_EMBEDDINGS,
        TOKEN,
        WORD_EMBEDDINGS,
        Annotation,
    )
    from annotators.chain import fuse
    from annotators.chunks import Chunk2Doc, Doc2Chunk, Token2Chunk
    from annotators.classifier import DeBertaForSequenceClassification
    from annotators.document import DocumentAssembler, MultiDocumentAssembler
    from annotators.embeddings import DeBertaEmbeddings, SentenceEmbeddings
    from annotators.finisher import EmbeddingsFinisher, Finisher
    from annotators.lemmatizer import Lemmatizer, LemmatizerModel
    from annotators.light import LightPipeline
    from annotators.ner_converter import NerConverter
    from annotators.normalizer import Normalizer, NormalizerModel
    from annotators.question_answering import DeBertaForQuestionAnswering
    from annotators.regex_tokenizer import RegexTokenizer
    from annotators.sentence import SentenceDetector
    from annotators.session import start
    from annotators.stemmer import Stemmer
    from annotators.stop_words_cleaner import StopWordsCleaner
    from annotators.token_assembler import TokenAssembler
    from annotators.token_classifier import DeBertaForTokenClassification
    from annotators.tokenizer import Tokenizer, TokenizerModel
    from annotators.zero_shot import DeBertaForZeroShotClassification


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'annotators' has no attribute {name!r}")
    try:
        import pyspark  # the wheel does not depend on it: a Spark runtime has its own
    except ImportError as missing:
        raise SparkMissingError(
            f"annotators.{name} needs PySpark, which this Python cannot import. On a Spark "
            "runtime (Databricks, a cluster image) use its Python; on a plain Python install "
            "the extra: pip install 'spark-deberta[spark]'"
        ) from missing
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
