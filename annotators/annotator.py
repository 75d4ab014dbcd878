"""``from annotators.annotator import *``: what ``from sparknlp.annotator import *`` gives a
script, for the stages this library has (DocumentAssembler too, which leaks into the
reference's star import; Pipeline and LightPipeline do not, as there)."""

from annotators import (
    DeBertaEmbeddings,
    DeBertaForQuestionAnswering,
    DeBertaForSequenceClassification,
    DeBertaForTokenClassification,
    DeBertaForZeroShotClassification,
    DocumentAssembler,
    NerConverter,
    SentenceDetector,
    SentenceEmbeddings,
    Tokenizer,
    TokenizerModel,
)

__all__ = [
    "DeBertaEmbeddings",
    "DeBertaForQuestionAnswering",
    "DeBertaForSequenceClassification",
    "DeBertaForTokenClassification",
    "DeBertaForZeroShotClassification",
    "DocumentAssembler",
    "NerConverter",
    "SentenceDetector",
    "SentenceEmbeddings",
    "Tokenizer",
    "TokenizerModel",
]
