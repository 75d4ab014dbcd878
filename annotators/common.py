"""``from annotators.common import ...``: the reference's ``sparknlp.common`` names that user code
reaches for: the annotation types (``AnnotatorType``) and the stage base (``AnnotatorModel``)."""

from annotators import annotation
from annotators.stage import AnnotatorModel


class AnnotatorType:
    """The annotation types as the reference names them (``AnnotatorType.DOCUMENT``...)."""

    DOCUMENT = annotation.DOCUMENT
    TOKEN = annotation.TOKEN
    WORD_EMBEDDINGS = annotation.WORD_EMBEDDINGS
    SENTENCE_EMBEDDINGS = annotation.SENTENCE_EMBEDDINGS
    CATEGORY = annotation.CATEGORY
    NAMED_ENTITY = annotation.NAMED_ENTITY
    CHUNK = annotation.CHUNK


__all__ = ["AnnotatorModel", "AnnotatorType"]
