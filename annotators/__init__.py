"""spark-deberta: Spark NLP-compatible annotators, pure Python, DeBERTa-v3 in ONNX Runtime."""

from annotators.errors import SparkMissingError

try:
    import pyspark  # noqa: F401  (the wheel does not depend on it: a Spark runtime brings its own)
except ImportError as missing:
    raise SparkMissingError(
        "spark-deberta needs PySpark, which this Python cannot import. On a Spark runtime "
        "(Databricks, a cluster image) use its Python; on a plain Python install the extra: "
        "pip install 'spark-deberta[spark]'"
    ) from missing

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
from annotators.classifier import DeBertaForSequenceClassification
from annotators.document import DocumentAssembler, MultiDocumentAssembler
from annotators.embeddings import DeBertaEmbeddings, SentenceEmbeddings
from annotators.finisher import EmbeddingsFinisher
from annotators.light import LightPipeline
from annotators.ner_converter import NerConverter
from annotators.question_answering import DeBertaForQuestionAnswering
from annotators.sentence import SentenceDetector
from annotators.token_classifier import DeBertaForTokenClassification
from annotators.tokenizer import Tokenizer, TokenizerModel
from annotators.zero_shot import DeBertaForZeroShotClassification

__all__ = [
    "CATEGORY",
    "CHUNK",
    "DOCUMENT",
    "NAMED_ENTITY",
    "SENTENCE_EMBEDDINGS",
    "TOKEN",
    "WORD_EMBEDDINGS",
    "Annotation",
    "DeBertaEmbeddings",
    "DeBertaForQuestionAnswering",
    "DeBertaForSequenceClassification",
    "DeBertaForTokenClassification",
    "DeBertaForZeroShotClassification",
    "DocumentAssembler",
    "EmbeddingsFinisher",
    "LightPipeline",
    "MultiDocumentAssembler",
    "NerConverter",
    "SentenceDetector",
    "SentenceEmbeddings",
    "Tokenizer",
    "TokenizerModel",
]
