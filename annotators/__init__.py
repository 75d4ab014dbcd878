"""spark-deberta: Spark NLP-compatible annotators, pure Python, DeBERTa-v3 in ONNX Runtime."""

from annotators.annotation import (
    CATEGORY,
    CHUNK,
    DOCUMENT,
    NAMED_ENTITY,
    SENTENCE_EMBEDDINGS,
    TOKEN,
    WORD_EMBEDDINGS,
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
