"""``from annotators.common import ...``: the reference's ``sparknlp.common`` names that user code
reaches for: the annotation types (``AnnotatorType``), the stage base (``AnnotatorModel``) and
how a dictionary is read (``ReadAs``)."""

from annotators import annotation
from annotators.stage import AnnotatorModel
from annotators.text_resources import ReadAs


class AnnotatorType:
    """The annotation types as the reference names them (``AnnotatorType.DOCUMENT``...)."""

    DOCUMENT = annotation.DOCUMENT
    TOKEN = annotation.TOKEN
    WORD_EMBEDDINGS = annotation.WORD_EMBEDDINGS
    SENTENCE_EMBEDDINGS = annotation.SENTENCE_EMBEDDINGS
    CATEGORY = annotation.CATEGORY
    NAMED_ENTITY = annotation.NAMED_ENTITY
    CHUNK = annotation.CHUNK


__all__ = ["AnnotatorModel", "AnnotatorType", "ReadAs"]
