"""spark-deberta: Spark NLP-compatible annotators, pure Python, DeBERTa-v3 in ONNX Runtime."""

from annotators.annotation import (
    CATEGORY,
    DOCUMENT,
    SENTENCE_EMBEDDINGS,
    TOKEN,
    WORD_EMBEDDINGS,
)
from annotators.classifier import DeBertaForSequenceClassification
from annotators.document import DocumentAssembler
from annotators.embeddings import DeBertaEmbeddings, SentenceEmbeddings
from annotators.finisher import EmbeddingsFinisher
from annotators.light import LightPipeline
from annotators.sentence import SentenceDetector
from annotators.tokenizer import Tokenizer, TokenizerModel

__all__ = [
    "CATEGORY",
    "DOCUMENT",
    "SENTENCE_EMBEDDINGS",
    "TOKEN",
    "WORD_EMBEDDINGS",
    "DeBertaEmbeddings",
    "DeBertaForSequenceClassification",
    "DocumentAssembler",
    "EmbeddingsFinisher",
    "LightPipeline",
    "SentenceDetector",
    "SentenceEmbeddings",
    "Tokenizer",
    "TokenizerModel",
]
