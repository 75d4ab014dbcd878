"""``from annotators.annotator import *``: what ``from sparknlp.annotator import *`` gives a
script, for the stages this library has (DocumentAssembler too, which leaks into the
reference's star import; Pipeline, LightPipeline, Finisher, TokenAssembler and Doc2Chunk do
not, as there)."""

from annotators import (
    Chunk2Doc,
    DeBertaEmbeddings,
    DeBertaForQuestionAnswering,
    DeBertaForSequenceClassification,
    DeBertaForTokenClassification,
    DeBertaForZeroShotClassification,
    DocumentAssembler,
    Lemmatizer,
    LemmatizerModel,
    NerConverter,
    Normalizer,
    NormalizerModel,
    RegexTokenizer,
    SentenceDetector,
    SentenceEmbeddings,
    Stemmer,
    StopWordsCleaner,
    Token2Chunk,
    Tokenizer,
    TokenizerModel,
)
from annotators.text_resources import ReadAs

__all__ = [
    "Chunk2Doc",
    "DeBertaEmbeddings",
    "DeBertaForQuestionAnswering",
    "DeBertaForSequenceClassification",
    "DeBertaForTokenClassification",
    "DeBertaForZeroShotClassification",
    "DocumentAssembler",
    "Lemmatizer",
    "LemmatizerModel",
    "NerConverter",
    "Normalizer",
    "NormalizerModel",
    "ReadAs",
    "RegexTokenizer",
    "SentenceDetector",
    "SentenceEmbeddings",
    "Stemmer",
    "StopWordsCleaner",
    "Token2Chunk",
    "Tokenizer",
    "TokenizerModel",
]
