"""Normalizer (an estimator) and NormalizerModel: tokens cleaned by regexes, with an optional
slang dictionary (Spark NLP's Normalizer).

``fit`` reads the slang dictionary (``setSlangDictionary``) into the model's ``slangDict``; the
model then, for each token, as in the reference:
1. looks the token up in the slang map (lowercased first unless ``slangMatchCase``); a hit is
   split on single spaces into words, a miss is the token itself;
2. deletes every match of each ``cleanupPatterns`` regex, in order (default ``[^\\pL+]``: it
   keeps Unicode letters and, because it sits in the class, ``+``);
3. lowercases if ``lowercase``;
4. drops empty words and words outside ``minLength..maxLength``;
5. emits each word as a token at the original ``begin``, ending ``begin + len - 1``, with the
   original token's metadata (words from one slang entry share their ``begin``).

The slang file: each line is split on ``delimiter`` (a Java regex); the first piece, trimmed, is
the key and the last, trimmed, the value; a later line wins. Keys are lowercased unless
``slangMatchCase``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame

from annotators.annotation import TOKEN, AnnotationDict, make_annotation
from annotators.errors import ParamError, StageInputError
from annotators.params import bounded_int, check_min_max, java_patterns
from annotators.patterns import PicklesWithoutPatterns, compile_java_pattern
from annotators.stage import (
    AnnotateFn,
    AnnotatorEstimator,
    AnnotatorModel,
    AnnotatorParams,
    copy_params,
    keyword_only,
)
from annotators.text_resources import (
    ReadAs,
    external_resource,
    java_split,
    java_trim,
    make_resource,
    read_lines,
    read_with_spark,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "NormalizeRules",
    "Normalizer",
    "NormalizerModel",
    "normalize",
    "parse_slang_lines",
    "string_map",
]


def string_map(name: str) -> Any:
    """A Param converter: a dict of strings to strings (a fitted dictionary)."""

    def convert(value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ParamError(f"{name} must be a dict of strings to strings, got {type(value)}")
        return dict(value)

    return convert


def parse_slang_lines(lines: list[str], delimiter: str, match_case: bool) -> dict[str, str]:
    """The slang map of a dictionary's lines (see the module docstring). A line that splits into
    nothing (only delimiters) is skipped."""
    pattern = compile_java_pattern(delimiter, "slangDictionary delimiter")
    slang: dict[str, str] = {}
    for line in lines:
        pieces = java_split(pattern, line)
        if not pieces:
            continue
        key = java_trim(pieces[0])
        slang[key if match_case else key.lower()] = java_trim(pieces[-1])
    return slang


@dataclass(frozen=True)
class NormalizeRules(PicklesWithoutPatterns):
    """The model's settings as plain data; the patterns are compiled once per process."""

    patterns: tuple[str, ...] = ("[^\\pL+]",)
    lowercase: bool = False
    slang: dict[str, str] = field(default_factory=dict, hash=False)
    slang_match_case: bool = False
    min_length: int = 0
    max_length: int | None = None
    _compiled: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._compiled["patterns"] = [
            compile_java_pattern(p, "cleanupPatterns") for p in self.patterns
        ]

    def keeps(self, word: str) -> bool:
        return (
            bool(word)
            and self.min_length <= len(word)
            and (self.max_length is None or len(word) <= self.max_length)
        )


def normalize(tokens: list[AnnotationDict], rules: NormalizeRules) -> list[AnnotationDict]:
    """The normalized tokens of one row (the model's core)."""
    out: list[AnnotationDict] = []
    for token in tokens:
        text = token["result"] or ""
        key = text if rules.slang_match_case else text.lower()
        replacement = rules.slang.get(key) if rules.slang else None
        for word in replacement.split(" ") if replacement is not None else [text]:
            for pattern in rules._compiled["patterns"]:
                word = pattern.sub("", word)
            if rules.lowercase:
                word = word.lower()
            if rules.keeps(word):
                begin = token["begin"]
                metadata = token.get("metadata")
                out.append(make_annotation(TOKEN, begin, begin + len(word) - 1, word, metadata))
    return out


class _NormalizerParams(AnnotatorParams):
    cleanupPatterns = Param(
        Params._dummy(),
        "cleanupPatterns",
        "regexes (Java syntax) whose matches are deleted from each token, in order",
        java_patterns("cleanupPatterns"),
    )
    lowercase = Param(
        Params._dummy(),
        "lowercase",
        "whether to lowercase tokens (after cleanup)",
        TypeConverters.toBoolean,
    )
    slangMatchCase = Param(
        Params._dummy(),
        "slangMatchCase",
        "whether slang keys match case-sensitively",
        TypeConverters.toBoolean,
    )
    minLength = Param(
        Params._dummy(),
        "minLength",
        "minimum token length (>= 0)",
        bounded_int("minLength", 0),
    )
    maxLength = Param(
        Params._dummy(),
        "maxLength",
        "maximum token length (>= minLength)",
        bounded_int("maxLength", 0),
    )

    def _set_normalizer_defaults(self) -> None:
        self._setDefault(
            cleanupPatterns=["[^\\pL+]"], lowercase=False, slangMatchCase=False, minLength=0
        )

    def setCleanupPatterns(self, value: list[str]) -> Self:
        return self._set(cleanupPatterns=value)

    def getCleanupPatterns(self) -> list[str]:
        return self.getOrDefault(self.cleanupPatterns)

    def setLowercase(self, value: bool) -> Self:
        return self._set(lowercase=value)

    def getLowercase(self) -> bool:
        return self.getOrDefault(self.lowercase)

    def setSlangMatchCase(self, value: bool) -> Self:
        return self._set(slangMatchCase=value)

    def getSlangMatchCase(self) -> bool:
        return self.getOrDefault(self.slangMatchCase)

    def setMinLength(self, value: int) -> Self:
        return self._set(minLength=value)

    def getMinLength(self) -> int:
        return self.getOrDefault(self.minLength)

    def setMaxLength(self, value: int) -> Self:
        return self._set(maxLength=value)

    def getMaxLength(self) -> int | None:
        return self.getOrDefault(self.maxLength) if self.isDefined(self.maxLength) else None

    def _check_lengths(self) -> None:
        maximum = self.getMaxLength()
        if maximum is not None:
            check_min_max(type(self).__name__, self.getMinLength(), maximum)


class NormalizerModel(AnnotatorModel, _NormalizerParams):
    """A fitted Normalizer: its settings and the slang map read from its dictionary.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``TOKEN``              ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    cleanupPatterns, lowercase, slangMatchCase, minLength, maxLength
        As in ``Normalizer`` (``[^\\pL+]``, False, False, 0, unset).
    slangDict
        The slang map, word to replacement (keys lowercased unless ``slangMatchCase``);
        empty by default.

    Examples
    --------
    >>> from pyspark.ml import PipelineModel
    >>> from annotators import DocumentAssembler, LightPipeline, NormalizerModel, Tokenizer
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token").fit(spark.range(0)),
    ...     NormalizerModel(inputCols=["token"], outputCol="normal", slangDict={"pls": "please"}),
    ... ]
    >>> LightPipeline(PipelineModel(stages)).annotate("Pls, call C++ now!")["normal"]
    ['please', 'call', 'C++', 'now']
    """

    slangDict = Param(
        Params._dummy(),
        "slangDict",
        "the slang map read by fit: word to its replacement",
        string_map("slangDict"),
    )

    input_annotator_types = (TOKEN,)
    output_annotator_type = TOKEN

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the parameters as keywords."""
        super().__init__()
        self._set_normalizer_defaults()
        self._setDefault(slangDict={})
        self._set_keywords(self._input_kwargs)

    def setSlangDict(self, value: dict[str, str]) -> Self:
        return self._set(slangDict=value)

    def getSlangDict(self) -> dict[str, str]:
        return self.getOrDefault(self.slangDict)

    def row_core(self) -> AnnotateFn:
        return partial(normalize, rules=self.rules())

    def rules(self) -> NormalizeRules:
        """The settings as plain data; checks minLength <= maxLength and the patterns."""
        self._check_lengths()
        return NormalizeRules(
            patterns=tuple(self.getCleanupPatterns()),
            lowercase=self.getLowercase(),
            slang=self.getSlangDict(),
            slang_match_case=self.getSlangMatchCase(),
            min_length=self.getMinLength(),
            max_length=self.getMaxLength(),
        )


class Normalizer(AnnotatorEstimator, _NormalizerParams):
    """Cleans tokens with regexes and replaces slang from a dictionary; ``fit`` reads the
    dictionary and returns a NormalizerModel.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``TOKEN``              ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    cleanupPatterns
        Regexes (Java syntax) whose matches are deleted from each token, in order;
        ``["[^\\pL+]"]`` by default, which keeps letters of any script and ``+``.
    lowercase
        Lowercase the cleaned tokens; False by default.
    slangDictionary
        A delimited text file of ``word<delimiter>replacement`` lines, set with
        ``setSlangDictionary(path, delimiter)``; a replacement of several words gives several
        tokens. Unset by default.
    slangMatchCase
        Match slang words case-sensitively; False by default.
    minLength, maxLength
        Tokens shorter or longer are dropped; 0 and unset (no limit) by default.

    Examples
    --------
    The reference's example:

    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, Normalizer, Tokenizer
    >>> documentAssembler = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> tokenizer = Tokenizer().setInputCols(["document"]).setOutputCol("token")
    >>> normalizer = (
    ...     Normalizer()
    ...     .setInputCols(["token"])
    ...     .setOutputCol("normalized")
    ...     .setLowercase(True)
    ...     .setCleanupPatterns([r"[^\\w\\d\\s]"])
    ... )
    >>> pipeline = Pipeline().setStages([documentAssembler, tokenizer, normalizer])
    >>> data = spark.createDataFrame(
    ...     [["John and Peter are brothers. However they don't support each other that much."]]
    ... ).toDF("text")
    >>> result = pipeline.fit(data).transform(data)
    >>> result.selectExpr("normalized.result").show(truncate=False)
    +----------------------------------------------------------------------------------------+
    |result                                                                                  |
    +----------------------------------------------------------------------------------------+
    |[john, and, peter, are, brothers, however, they, dont, support, each, other, that, much]|
    +----------------------------------------------------------------------------------------+
    <BLANKLINE>

    A slang dictionary (``tests/fixtures/slang.csv`` holds ``u,you`` and ``gr8,great``):

    >>> from annotators import LightPipeline
    >>> slang = Normalizer(inputCols=["token"], outputCol="normal").setSlangDictionary(
    ...     "tests/fixtures/slang.csv", ","
    ... )
    >>> model = Pipeline(stages=[documentAssembler, tokenizer, slang]).fit(data)
    >>> LightPipeline(model).annotate("U r GR8!")["normal"]
    ['you', 'r', 'great']
    """

    slangDictionary = Param(
        Params._dummy(),
        "slangDictionary",
        "delimited text of word<delimiter>replacement lines; needs 'delimiter' in its options",
        external_resource("slangDictionary", ("delimiter",)),
    )

    input_annotator_types = (TOKEN,)

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the parameters as keywords."""
        super().__init__()
        self._set_normalizer_defaults()
        self._set_keywords(self._input_kwargs)

    def setSlangDictionary(
        self,
        path: str,
        delimiter: str,
        read_as: str = ReadAs.TEXT,
        options: dict[str, str] | None = None,
    ) -> Self:
        """The slang file: ``path``, its ``delimiter`` (a Java regex; a ``delimiter`` already
        in ``options`` wins, as in the reference), ``read_as`` TEXT (lines of text, a folder
        read recursively) or SPARK (Spark's reader with ``options["format"]``, two columns:
        word and replacement), and reader ``options`` (``{"format": "text"}`` by default)."""
        merged = dict({"format": "text"} if options is None else options)
        merged.setdefault("delimiter", delimiter)
        return self._set(slangDictionary=make_resource(path, read_as, merged))

    def getSlangDictionary(self) -> dict[str, Any]:
        return self.getOrDefault(self.slangDictionary)

    def _read_slang(self, dataset: DataFrame) -> dict[str, str]:
        resource = self.getSlangDictionary()
        match_case = self.getSlangMatchCase()
        delimiter = resource["options"]["delimiter"]
        spark = dataset.sparkSession
        if resource["readAs"] == ReadAs.TEXT:
            lines = read_lines("slangDictionary", resource["path"], spark)
            return parse_slang_lines(lines, delimiter, match_case)
        frame = read_with_spark("slangDictionary", resource, spark)
        if len(frame.columns) == 1:  # lines of text: split them as TEXT does
            lines = [row[0] for row in frame.collect() if row[0] is not None]
            return parse_slang_lines(lines, delimiter, match_case)
        if len(frame.columns) != 2:
            raise StageInputError(
                f"slangDictionary: Spark read {len(frame.columns)} columns from "
                f"{resource['path']} ({', '.join(frame.columns)}); a slang dictionary has two, "
                "word and replacement (set the reader's 'delimiter' option)"
            )
        slang: dict[str, str] = {}
        for key, value in frame.collect():
            if key is None or value is None:
                continue
            slang[str(key) if match_case else str(key).lower()] = java_trim(str(value))
        return slang

    def _fit(self, dataset: DataFrame) -> NormalizerModel:
        self._check_lengths()
        model = NormalizerModel()
        copy_params(self, model)
        if self.isDefined(self.slangDictionary):
            model.setSlangDict(self._read_slang(dataset))
        model.rules()  # compile now: a bad pattern fails on the driver, not in a worker
        return model
