"""RegexTokenizer: documents split into tokens by a delimiter regex (Spark NLP's RegexTokenizer).

How a document becomes tokens, as in the reference:
1. lowercase its text first if ``toLowercase``;
2. split it on ``pattern`` with Java's ``String.split`` rules (no trailing empty pieces);
3. place each piece by searching for it from the end of the previous one, so offsets count from
   the document's own ``begin``; ``positionalMask`` names the reference's second placement
   algorithm, which places every piece at the same position, so both settings agree here;
4. drop empty pieces and those outside ``minLength..maxLength``;
5. with ``trimWhitespace``, delete every whitespace character inside each token, and unless
   ``preservePosition``, move its offsets past the leading and trailing whitespace removed.

Each token carries its document's ``sentence`` metadata ("0" when absent). Without lowercasing
or trimming, every token's text is the document's text at its offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import regex
from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import DOCUMENT, TOKEN, AnnotationDict, make_annotation, sentence_key
from annotators.params import bounded_int, check_min_max, java_pattern
from annotators.patterns import PicklesWithoutPatterns, compile_java_pattern
from annotators.stage import AnnotateFn, AnnotatorModel, keyword_only
from annotators.text_resources import java_split

if TYPE_CHECKING:
    from typing import Self

__all__ = ["RegexTokenizer", "SplitRules", "split_tokens"]

_SPACE = regex.compile(r"\s")
_LEADING = regex.compile(r"\A\s*")
_TRAILING = regex.compile(r"\s*\Z")


@dataclass(frozen=True)
class SplitRules(PicklesWithoutPatterns):
    """The tokenizer's settings as plain data; the pattern is compiled once per process."""

    pattern: str = r"\s+"
    to_lowercase: bool = False
    min_length: int = 1
    max_length: int | None = None
    trim_whitespace: bool = False
    preserve_position: bool = True
    _compiled: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._compiled["pattern"] = compile_java_pattern(self.pattern, "pattern")


def split_tokens(text: str, rules: SplitRules = SplitRules()) -> list[tuple[int, int, str]]:
    """``(begin, end_inclusive, text)`` of each token of one document text, offsets from 0."""
    content = text.lower() if rules.to_lowercase else text
    placed: list[tuple[int, int, str]] = []
    cursor = 0
    for piece in java_split(rules._compiled["pattern"], content):
        found = content.find(piece, cursor)
        begin = found if found >= 0 else cursor  # a split piece is always found; never guess
        cursor = begin + len(piece)
        if (
            piece
            and len(piece) >= rules.min_length
            and (rules.max_length is None or len(piece) <= rules.max_length)
        ):
            placed.append((begin, begin + len(piece) - 1, piece))
    if not rules.trim_whitespace:
        return placed
    trimmed = []
    for begin, end, piece in placed:
        if not rules.preserve_position:
            begin += len(_LEADING.match(piece).group())  # type: ignore[union-attr]
            end -= len(_TRAILING.search(piece).group())  # type: ignore[union-attr]
        trimmed.append((begin, end, _SPACE.sub("", piece)))
    return trimmed


def _regex_token_annotator(rules: SplitRules) -> AnnotateFn:
    def annotate(documents: list[AnnotationDict]) -> list[AnnotationDict]:
        out: list[AnnotationDict] = []
        for document in documents:
            base = document["begin"]
            metadata = {"sentence": sentence_key(document)}
            for begin, end, token in split_tokens(document["result"] or "", rules):
                out.append(make_annotation(TOKEN, base + begin, base + end, token, metadata))
        return out

    return annotate


class RegexTokenizer(AnnotatorModel):
    """Splits documents into tokens wherever a delimiter regex matches.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT``           ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    inputCols, outputCol
        ``["document"]`` and ``regexToken`` by default.
    pattern
        The delimiter, a Java regex; ``\\s+`` (runs of whitespace) by default.
    toLowercase
        Lowercase the text before splitting; False by default.
    minLength, maxLength
        Tokens shorter or longer are dropped; 1 and unset (no limit) by default.
    positionalMask
        The reference's alternative offset algorithm; it places tokens exactly as the default
        one does, so it changes nothing. False by default.
    trimWhitespace
        Delete every whitespace character inside tokens (for delimiters that leave some);
        False by default.
    preservePosition
        With ``trimWhitespace``, keep the untrimmed offsets (True, the default) or move them
        past the leading and trailing whitespace removed.

    Examples
    --------
    The reference's example:

    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, RegexTokenizer
    >>> documentAssembler = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> regexTokenizer = (
    ...     RegexTokenizer()
    ...     .setInputCols(["document"])
    ...     .setOutputCol("regexToken")
    ...     .setToLowercase(True)
    ... )
    >>> pipeline = Pipeline().setStages([documentAssembler, regexTokenizer])
    >>> data = spark.createDataFrame([["This is my first sentence.\\nThis is my second."]]).toDF(
    ...     "text"
    ... )
    >>> result = pipeline.fit(data).transform(data)
    >>> result.selectExpr("regexToken.result").show(truncate=False)
    +-------------------------------------------------------+
    |result                                                 |
    +-------------------------------------------------------+
    |[this, is, my, first, sentence., this, is, my, second.]|
    +-------------------------------------------------------+
    <BLANKLINE>

    Any delimiter regex; offsets are the document's:

    >>> from annotators import LightPipeline
    >>> commas = RegexTokenizer(pattern=r"\\s*,\\s*", outputCol="field")
    >>> light = LightPipeline(Pipeline(stages=[documentAssembler, commas]).fit(data))
    >>> [(t.result, t.begin, t.end) for t in light.fullAnnotate("red, green ,blue")[0]["field"]]
    [('red', 0, 2), ('green', 5, 9), ('blue', 12, 15)]
    """

    pattern = Param(
        Params._dummy(),
        "pattern",
        "delimiter regex (Java syntax) that splits the text into tokens; default \\s+",
        java_pattern("pattern"),
    )
    toLowercase = Param(
        Params._dummy(),
        "toLowercase",
        "whether to lowercase the text before splitting it",
        TypeConverters.toBoolean,
    )
    minLength = Param(
        Params._dummy(), "minLength", "minimum token length (>= 0)", bounded_int("minLength", 0)
    )
    maxLength = Param(
        Params._dummy(), "maxLength", "maximum token length (>= 1)", bounded_int("maxLength", 1)
    )
    positionalMask = Param(
        Params._dummy(),
        "positionalMask",
        "the reference's alternative offset algorithm (places tokens the same way)",
        TypeConverters.toBoolean,
    )
    trimWhitespace = Param(
        Params._dummy(),
        "trimWhitespace",
        "whether to delete whitespace characters inside tokens",
        TypeConverters.toBoolean,
    )
    preservePosition = Param(
        Params._dummy(),
        "preservePosition",
        "with trimWhitespace, whether to keep the untrimmed token offsets",
        TypeConverters.toBoolean,
    )

    input_annotator_types = (DOCUMENT,)
    output_annotator_type = TOKEN

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the parameters as keywords (``RegexTokenizer(pattern=",")``)."""
        super().__init__()
        self._setDefault(
            inputCols=["document"],
            outputCol="regexToken",
            toLowercase=False,
            minLength=1,
            pattern="\\s+",
            positionalMask=False,
            trimWhitespace=False,
            preservePosition=True,
        )
        self._set_keywords(self._input_kwargs)

    def setPattern(self, value: str) -> Self:
        return self._set(pattern=value)

    def getPattern(self) -> str:
        return self.getOrDefault(self.pattern)

    def setToLowercase(self, value: bool) -> Self:
        return self._set(toLowercase=value)

    def getToLowercase(self) -> bool:
        return self.getOrDefault(self.toLowercase)

    def setMinLength(self, value: int) -> Self:
        return self._set(minLength=value)

    def getMinLength(self) -> int:
        return self.getOrDefault(self.minLength)

    def setMaxLength(self, value: int) -> Self:
        return self._set(maxLength=value)

    def getMaxLength(self) -> int | None:
        return self.getOrDefault(self.maxLength) if self.isDefined(self.maxLength) else None

    def setPositionalMask(self, value: bool) -> Self:
        return self._set(positionalMask=value)

    def getPositionalMask(self) -> bool:
        return self.getOrDefault(self.positionalMask)

    def setTrimWhitespace(self, value: bool) -> Self:
        return self._set(trimWhitespace=value)

    def getTrimWhitespace(self) -> bool:
        return self.getOrDefault(self.trimWhitespace)

    def setPreservePosition(self, value: bool) -> Self:
        return self._set(preservePosition=value)

    def getPreservePosition(self) -> bool:
        return self.getOrDefault(self.preservePosition)

    def rules(self) -> SplitRules:
        """The settings as plain data; checks minLength <= maxLength."""
        maximum = self.getMaxLength()
        if maximum is not None:
            check_min_max(type(self).__name__, self.getMinLength(), maximum)
        return SplitRules(
            pattern=self.getPattern(),
            to_lowercase=self.getToLowercase(),
            min_length=self.getMinLength(),
            max_length=maximum,
            trim_whitespace=self.getTrimWhitespace(),
            preserve_position=self.getPreservePosition(),
        )

    def row_core(self) -> AnnotateFn:
        return _regex_token_annotator(self.rules())
