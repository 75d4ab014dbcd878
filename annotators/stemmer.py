"""Stemmer: each token's Porter stem, lowercased (Spark NLP's Stemmer).

The stems come from the original Porter (1980) algorithm as the Snowball project maintains it
(``snowballstemmer``'s ``porter``; PyStemmer's C build of the same when installed), on the
lowercased token. One token in, one token out: ``begin``, ``end`` and metadata are kept.

Where the reference differs from the published algorithm, on purpose here (see
docs/migrating.md): its own Porter code tries each step's rules in list order and takes the
first whose condition holds, strips ``ed`` before trying ``eed``, and tests the middle letter
of a consonant-vowel-consonant ending against w/x/y; so it stems "need" to "ne", "document" to
"docum", "fixed" to "fixe" and "agreed" to "agr", where Porter gives "need", "document", "fix"
and "agre". ``language`` is kept for scripts that set it and, as in the reference, changes
nothing: the stemmer is always English Porter.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import TOKEN, AnnotationDict, make_annotation
from annotators.stage import AnnotateFn, AnnotatorModel, keyword_only

if TYPE_CHECKING:
    from typing import Self

__all__ = ["Stemmer", "stem", "stem_tokens"]


@functools.lru_cache(maxsize=1)
def _porter() -> Any:
    """One Porter stemmer per process (built lazily: the stage's core is pickled without it)."""
    import snowballstemmer

    return snowballstemmer.stemmer("porter")


def stem(word: str) -> str:
    """The lowercase Porter stem of one word."""
    return str(_porter().stemWord(word.lower()))


def stem_tokens(tokens: list[AnnotationDict]) -> list[AnnotationDict]:
    """One stem per token of one row (the stage's core)."""
    return [
        make_annotation(TOKEN, t["begin"], t["end"], stem(t["result"] or ""), t.get("metadata"))
        for t in tokens
    ]


class Stemmer(AnnotatorModel):
    """Reduces each token to its Porter stem, lowercased ("picking" -> "pick").

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``TOKEN``              ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    language
        Kept for scripts that set it; the stemmer is always English Porter, as in the
        reference. ``english`` by default.

    Examples
    --------
    The reference's example:

    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, Stemmer, Tokenizer
    >>> documentAssembler = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> tokenizer = Tokenizer().setInputCols(["document"]).setOutputCol("token")
    >>> stemmer = Stemmer().setInputCols(["token"]).setOutputCol("stem")
    >>> pipeline = Pipeline().setStages([documentAssembler, tokenizer, stemmer])
    >>> data = spark.createDataFrame(
    ...     [["Peter Pipers employees are picking pecks of pickled peppers."]]
    ... ).toDF("text")
    >>> result = pipeline.fit(data).transform(data)
    >>> result.selectExpr("stem.result").show(truncate=False)
    +-------------------------------------------------------------+
    |result                                                       |
    +-------------------------------------------------------------+
    |[peter, piper, employe, ar, pick, peck, of, pickl, pepper, .]|
    +-------------------------------------------------------------+
    <BLANKLINE>
    """

    language = Param(
        Params._dummy(),
        "language",
        "the text's language; the stemmer is always English Porter, as in the reference",
        TypeConverters.toString,
    )

    input_annotator_types = (TOKEN,)
    output_annotator_type = TOKEN

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the parameters as keywords (``Stemmer(inputCols=["token"])``)."""
        super().__init__()
        self._setDefault(language="english")
        self._set_keywords(self._input_kwargs)

    def setLanguage(self, value: str) -> Self:
        return self._set(language=value)

    def getLanguage(self) -> str:
        return self.getOrDefault(self.language)

    def row_core(self) -> AnnotateFn:
        return stem_tokens
