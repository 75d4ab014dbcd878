"""TokenAssembler: document + token -> one document per input document, rebuilt from its tokens.

After tokens were cleaned (normalized, stop words removed, lemmatized) later stages often want
text again; this joins each document's tokens back into one ``document`` annotation. Tokens
that touch or overlap the previous one are joined directly; a gap becomes one space, or with
``preservePosition`` the whitespace characters the document holds in that gap (one space when
there are none; other characters in the gap, such as removed punctuation, are left out).

Each output has the input document's ``begin``, ``end = begin + len(text) - 1`` and the metadata
``{"sentence": "<i>"}``, ``i`` the document's position in the row (the reference's rule: the
document's own metadata is not kept). A token belongs to every document that contains it
(``begin >= document.begin`` and ``end <= document.end``), in its input order; a document
without tokens gives an empty text with ``end = begin - 1``.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import DOCUMENT, TOKEN, AnnotationDict, make_annotation
from annotators.stage import AnnotateFn, AnnotatorModel, keyword_only

if TYPE_CHECKING:
    from typing import Self

__all__ = ["TokenAssembler", "assemble_tokens"]

#: The whitespace kept between tokens with preservePosition: the reference's class
#: ``[\r\t\f\v\n ]`` as the JVM reads it, where ``\v`` is every vertical whitespace character.
GAP_WHITESPACE = re.compile("[\r\t\f\n \x0b\x85\u2028\u2029]+")


def _separator(document: AnnotationDict, previous_end: int, token_begin: int) -> str:
    """What preservePosition puts between two tokens: the gap's whitespace, else a space."""
    start = max(previous_end + 1 - document["begin"], 0)
    gap = document["result"][start : max(token_begin - document["begin"], start)]
    return "".join(GAP_WHITESPACE.findall(gap)) or " "


def assemble_tokens(
    documents: list[AnnotationDict], tokens: list[AnnotationDict], preserve_position: bool = False
) -> list[AnnotationDict]:
    """One document annotation per input document, its text rebuilt from its tokens."""
    assembled = []
    for index, document in enumerate(documents):
        parts: list[str] = []
        last_end = -1  # the reference's marker for "no token yet"
        for token in tokens:
            if token["begin"] < document["begin"] or token["end"] > document["end"]:
                continue
            begin = token["begin"]
            if last_end != -1 and begin > last_end + 1:
                parts.append(_separator(document, last_end, begin) if preserve_position else " ")
            parts.append(token["result"] or "")
            last_end = token["end"]
        text = "".join(parts)
        start = document["begin"]
        assembled.append(
            make_annotation(DOCUMENT, start, start + len(text) - 1, text, {"sentence": str(index)})
        )
    return assembled


class TokenAssembler(AnnotatorModel):
    """Rebuild document text from (cleaned) tokens, one document per input document.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT, TOKEN``    ``DOCUMENT``
    ====================== ======================

    Parameters
    ----------
    inputCols
        A document (or sentence) column and a token column.
    outputCol
        The rebuilt document column.
    preservePosition
        Between tokens with a gap, keep the whitespace the document has there (tabs, line
        breaks, several spaces) instead of one space; False by default.

    Examples
    --------
    The reference's example removes stop words and punctuation before assembling; here the
    tokens come straight from the Tokenizer, and the layout decides the separators:

    >>> from pyspark.ml import Pipeline
    >>> from annotators import (
    ...     DocumentAssembler,
    ...     SentenceDetector,
    ...     TokenAssembler,
    ...     Tokenizer,
    ... )
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     SentenceDetector().setInputCols(["document"]).setOutputCol("sentences"),
    ...     Tokenizer().setInputCols(["sentences"]).setOutputCol("token"),
    ...     TokenAssembler().setInputCols(["sentences", "token"]).setOutputCol("cleanText"),
    ... ]
    >>> data = spark.createDataFrame([("Spark NLP  is\\tfast. It scales.",)], "text string")
    >>> model = Pipeline(stages=stages).fit(data)
    >>> model.transform(data).selectExpr("explode(cleanText)").show(truncate=False)
    +----------------------------------------------------------+
    |col                                                       |
    +----------------------------------------------------------+
    |{document, 0, 17, Spark NLP is fast., {sentence -> 0}, []}|
    |{document, 20, 29, It scales., {sentence -> 1}, []}       |
    +----------------------------------------------------------+
    <BLANKLINE>
    >>> _ = model.stages[-1].setPreservePosition(True)
    >>> [row.result for row in model.transform(data).first().cleanText]
    ['Spark NLP  is\\tfast.', 'It scales.']
    """

    preservePosition = Param(
        Params._dummy(),
        "preservePosition",
        "keep the whitespace between tokens as the document has it, instead of one space",
        TypeConverters.toBoolean,
    )

    input_annotator_types = (DOCUMENT, TOKEN)
    output_annotator_type = DOCUMENT

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str | None = None,
        preservePosition: bool = False,
    ) -> None:
        super().__init__()
        # The reference's Python sets no default; its JVM's (what an unset stage does) is false.
        self._setDefault(preservePosition=False)
        self._set_keywords(self._input_kwargs)

    def setPreservePosition(self, value: bool) -> Self:
        return self._set(preservePosition=value)

    def getPreservePosition(self) -> bool:
        return self.getOrDefault(self.preservePosition)

    def row_core(self) -> AnnotateFn:
        return functools.partial(assemble_tokens, preserve_position=self.getPreservePosition())
