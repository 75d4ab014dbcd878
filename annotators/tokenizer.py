"""Tokenizer (an estimator) and TokenizerModel: Spark NLP's rule-based tokenization.

How a sentence becomes tokens, as in the reference:
1. exceptions: every match of an exception pattern is protected, whitespace inside it included,
   so "New York" can be one token;
2. candidates: the matches of ``targetPattern`` (default ``\\S+``);
3. a candidate that overlaps or contains an exception is one token as it is;
4. otherwise the first rule ``prefix + infix + suffix`` that matches splits it, one token per
   regex group. The default rule peels a run of ``contextChars`` off each end: ``"(hello)."``
   gives ``(``, ``hello``, ``).``;
5. each group is split further by ``splitPattern`` or ``splitChars`` when set;
6. empty tokens and tokens outside ``minLength..maxLength`` are dropped.

Differences from the reference, on purpose: user patterns are compiled with the ``regex`` module
(Java's ``\\z`` is accepted); ``\\S`` is Unicode-aware, so a no-break space or an ideographic
space separates tokens; splitChars are literal characters, not regex fragments; split offsets
are exact for separators of any length.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import regex
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame

from annotators.annotation import DOCUMENT, TOKEN, AnnotationDict, make_annotation
from annotators.errors import ParamError
from annotators.params import bounded_int, check_min_max, java_pattern, java_patterns
from annotators.patterns import PicklesWithoutPatterns, compile_java_pattern
from annotators.stage import (
    AnnotateFn,
    AnnotatorEstimator,
    AnnotatorModel,
    AnnotatorParams,
    copy_params,
    keyword_only,
)
from annotators.text_resources import ReadAs

DEFAULT_CONTEXT_CHARS = (".", ",", ";", ":", "!", "?", "*", "-", "(", ")", '"', "'")
_PROTECT_CHAR = "\u2188"  # stands in for whitespace inside an exception; never whitespace itself


@dataclass(frozen=True)
class TokenRules(PicklesWithoutPatterns):
    """The tokenizer's settings as plain data, compiled once per process."""

    target_pattern: str = r"\S+"
    context_chars: tuple[str, ...] = DEFAULT_CONTEXT_CHARS
    prefix_pattern: str | None = None
    suffix_pattern: str | None = None
    infix_patterns: tuple[str, ...] | None = None
    exceptions: tuple[str, ...] = ()
    case_sensitive_exceptions: bool = True
    split_chars: tuple[str, ...] = ()
    split_pattern: str | None = None
    min_length: int = 0
    max_length: int = 99999
    _compiled: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        compiled = self._compiled
        compiled["target"] = compile_java_pattern(self.target_pattern, "targetPattern")
        flags = 0 if self.case_sensitive_exceptions else regex.IGNORECASE
        compiled["exceptions"] = [
            regex.compile(compile_java_pattern(e, "exceptions").pattern, flags | regex.VERSION0)
            for e in self.exceptions
        ]
        compiled["rules"] = (
            [compile_java_pattern(r, "infixPatterns") for r in self._rule_patterns()]
            if self.uses_custom_rules
            else []
        )
        split: regex.Pattern[str] | None = None
        if self.split_pattern:
            split = compile_java_pattern(self.split_pattern, "splitPattern")
        elif self.split_chars:
            chars = [c[-1] for c in self.split_chars]  # "\\-" (Java-escaped) means "-"
            split = regex.compile("|".join(regex.escape(c) for c in chars))
        compiled["split"] = split
        compiled["context"] = "".join(self.context_chars)

    @property
    def uses_custom_rules(self) -> bool:
        return any(
            p is not None for p in (self.prefix_pattern, self.suffix_pattern, self.infix_patterns)
        )

    def _rule_patterns(self) -> list[str]:
        quoted = regex.escape("".join(self.context_chars))
        prefix = self.prefix_pattern or rf"\A([{quoted}]*)"
        suffix = self.suffix_pattern or rf"([{quoted}]*)\z"
        infixes = self.infix_patterns or (rf"([^{quoted}](?:.*[^{quoted}])*)",)
        return [prefix + infix + suffix for infix in infixes]


# -- the core --------------------------------------------------------------------------------


def tokenize(text: str, rules: TokenRules = TokenRules()) -> list[tuple[int, int]]:
    """Token spans of ``text`` as ``(start, end_exclusive)``."""
    compiled = rules._compiled
    exception_spans = _exception_spans(text, compiled["exceptions"])
    search_text = _protect(text, exception_spans) if exception_spans else text
    starts = [s for s, _ in exception_spans]
    spans: list[tuple[int, int]] = []
    for m in compiled["target"].finditer(search_text):
        start, end = m.span()
        if start == end:
            continue
        candidate = text[start:end]
        if compiled["exceptions"] and (
            _overlaps(exception_spans, starts, start, end)
            or any(p.search(candidate) for p in compiled["exceptions"])
        ):
            spans.append((start, end))
            continue
        for group_start, group_end in _rule_groups(candidate, rules):
            spans.extend(_split_group(text, start + group_start, start + group_end, rules))
    return [(s, e) for s, e in spans if e > s and rules.min_length <= e - s <= rules.max_length]


def _exception_spans(text: str, patterns: list[regex.Pattern[str]]) -> list[tuple[int, int]]:
    spans = sorted(m.span() for p in patterns for m in p.finditer(text) if m.end() > m.start())
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _protect(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, position = [], 0
    for start, end in spans:
        pieces.append(text[position:start])
        pieces.append("".join(_PROTECT_CHAR if c.isspace() else c for c in text[start:end]))
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _overlaps(spans: list[tuple[int, int]], starts: list[int], start: int, end: int) -> bool:
    i = bisect.bisect_left(starts, end)
    return i > 0 and spans[i - 1][1] > start


def _rule_groups(candidate: str, rules: TokenRules) -> list[tuple[int, int]]:
    """Group spans (relative to the candidate) of the first rule that matches it."""
    if not rules.uses_custom_rules:
        context = rules._compiled["context"]
        head = len(candidate) - len(candidate.lstrip(context))
        tail = len(candidate.rstrip(context))
        if tail <= head:  # nothing but context characters: the reference keeps it whole
            return [(0, len(candidate))]
        return [(0, head), (head, tail), (tail, len(candidate))]
    for rule in rules._compiled["rules"]:
        m = rule.search(candidate)
        if m is not None:
            groups = [m.span(i) for i in range(1, (m.re.groups or 0) + 1)]
            return [(s, e) for s, e in groups if s >= 0]
    return [(0, len(candidate))]


def _split_group(text: str, start: int, end: int, rules: TokenRules) -> list[tuple[int, int]]:
    split = rules._compiled["split"]
    if split is None or start == end:
        return [(start, end)]
    out, position = [], start
    for m in split.finditer(text, start, end):
        if m.end() == m.start():
            continue
        out.append((position, m.start()))
        position = m.end()
    out.append((position, end))
    return out


def _token_annotator(rules: TokenRules) -> AnnotateFn:
    def annotate(sentences: list[AnnotationDict]) -> list[AnnotationDict]:
        out: list[AnnotationDict] = []
        for index, sentence in enumerate(sentences):
            text = sentence["result"] or ""
            base = sentence["begin"]
            number = (sentence.get("metadata") or {}).get("sentence", str(index))
            for start, end in tokenize(text, rules):
                out.append(
                    make_annotation(
                        TOKEN, base + start, base + end - 1, text[start:end], {"sentence": number}
                    )
                )
        return out

    return annotate


# -- the stages ------------------------------------------------------------------------------


def _one_char(name: str, allow_escaped: bool = False):  # type: ignore[no-untyped-def]
    def convert(value: Any) -> list[str]:
        chars = TypeConverters.toListString(value)
        for c in chars:
            escaped = allow_escaped and len(c) == 2 and c[0] == "\\"
            if len(c) != 1 and not escaped:
                raise ParamError(f"{name}: every element must be one character, got {c!r}")
        return chars

    return convert


def _infix_complaint(pattern: str) -> str | None:
    return None if "(" in pattern and ")" in pattern else "must use regex groups (one token each)"


class _TokenizerParams(AnnotatorParams):
    targetPattern = Param(
        Params._dummy(),
        "targetPattern",
        "pattern of token candidates (default \\S+)",
        java_pattern("targetPattern"),
    )
    prefixPattern = Param(
        Params._dummy(),
        "prefixPattern",
        "regex with groups, starting with \\A, for token prefixes",
        java_pattern(
            "prefixPattern", lambda p: None if p.startswith("\\A") else "must begin with \\A"
        ),
    )
    suffixPattern = Param(
        Params._dummy(),
        "suffixPattern",
        "regex with groups, ending with \\z, for token suffixes",
        java_pattern("suffixPattern", lambda p: None if p.endswith("\\z") else "must end with \\z"),
    )
    infixPatterns = Param(
        Params._dummy(),
        "infixPatterns",
        "regexes with groups that split a candidate",
        java_patterns("infixPatterns", _infix_complaint),
    )
    exceptions = Param(
        Params._dummy(),
        "exceptions",
        "patterns of tokens never split (may contain spaces)",
        java_patterns("exceptions"),
    )
    exceptionsPath = Param(
        Params._dummy(),
        "exceptionsPath",
        "text file with one exception per line",
        TypeConverters.toString,
    )
    caseSensitiveExceptions = Param(
        Params._dummy(),
        "caseSensitiveExceptions",
        "whether exceptions match case-sensitively",
        TypeConverters.toBoolean,
    )
    contextChars = Param(
        Params._dummy(),
        "contextChars",
        "characters peeled off token edges",
        _one_char("contextChars"),
    )
    splitChars = Param(
        Params._dummy(),
        "splitChars",
        "characters that split the inside of tokens",
        _one_char("splitChars", allow_escaped=True),
    )
    splitPattern = Param(
        Params._dummy(),
        "splitPattern",
        "regex that splits the inside of tokens (beats splitChars)",
        java_pattern("splitPattern"),
    )
    minLength = Param(
        Params._dummy(), "minLength", "minimum token length", bounded_int("minLength", 0)
    )
    maxLength = Param(
        Params._dummy(), "maxLength", "maximum token length", bounded_int("maxLength", 0)
    )

    def _set_tokenizer_defaults(self) -> None:
        self._setDefault(
            outputCol="token",
            targetPattern=r"\S+",
            contextChars=list(DEFAULT_CONTEXT_CHARS),
            caseSensitiveExceptions=True,
            minLength=0,
            maxLength=99999,
        )

    def setTargetPattern(self, value: str) -> Any:
        return self._set(targetPattern=value)

    def getTargetPattern(self) -> str:
        return self.getOrDefault(self.targetPattern)

    def setPrefixPattern(self, value: str) -> Any:
        return self._set(prefixPattern=value)

    def getPrefixPattern(self) -> str:
        return self.getOrDefault(self.prefixPattern)

    def setSuffixPattern(self, value: str) -> Any:
        return self._set(suffixPattern=value)

    def getSuffixPattern(self) -> str:
        return self.getOrDefault(self.suffixPattern)

    def setInfixPatterns(self, value: list[str]) -> Any:
        return self._set(infixPatterns=list(value))

    def addInfixPattern(self, value: str) -> Any:
        current = (
            self.getOrDefault(self.infixPatterns) if self.isDefined(self.infixPatterns) else []
        )
        return self.setInfixPatterns([value, *current])

    def getInfixPatterns(self) -> list[str]:
        return self.getOrDefault(self.infixPatterns)

    def setExceptions(self, value: list[str]) -> Any:
        return self._set(exceptions=list(value))

    def addException(self, value: str) -> Any:
        current = self.getOrDefault(self.exceptions) if self.isDefined(self.exceptions) else []
        return self.setExceptions([*current, value])

    def getExceptions(self) -> list[str]:
        return self.getOrDefault(self.exceptions) if self.isDefined(self.exceptions) else []

    def setExceptionsPath(self, path: str, read_as: str = ReadAs.TEXT, options: Any = None) -> Any:
        """A text file with one exception per line (Spark NLP's ``ReadAs.TEXT``, the only form
        read here: other ``read_as`` values and reader options are refused, not ignored)."""
        if str(read_as).upper() != ReadAs.TEXT:
            raise ParamError(
                f"setExceptionsPath: read_as '{read_as}' is not supported; only TEXT (one "
                "exception per line) is read"
            )
        if options not in (None, {}, {"format": "text"}):
            raise ParamError(
                f"setExceptionsPath: options {options!r} are not supported; the file is read as "
                "plain text"
            )
        return self._set(exceptionsPath=path)

    def getExceptionsPath(self) -> str:
        return self.getOrDefault(self.exceptionsPath)

    def setCaseSensitiveExceptions(self, value: bool) -> Any:
        return self._set(caseSensitiveExceptions=value)

    def getCaseSensitiveExceptions(self) -> bool:
        return self.getOrDefault(self.caseSensitiveExceptions)

    def setContextChars(self, value: list[str]) -> Any:
        return self._set(contextChars=value)

    def addContextChars(self, value: str) -> Any:
        return self._set(contextChars=[*self.getContextChars(), value])

    def getContextChars(self) -> list[str]:
        return self.getOrDefault(self.contextChars)

    def setSplitChars(self, value: list[str]) -> Any:
        return self._set(splitChars=value)

    def addSplitChars(self, value: str) -> Any:
        current = self.getOrDefault(self.splitChars) if self.isDefined(self.splitChars) else []
        return self._set(splitChars=[*current, value])

    def getSplitChars(self) -> list[str]:
        return self.getOrDefault(self.splitChars) if self.isDefined(self.splitChars) else []

    def setSplitPattern(self, value: str) -> Any:
        compile_java_pattern(value, "splitPattern")
        return self._set(splitPattern=value)

    def getSplitPattern(self) -> str:
        return self.getOrDefault(self.splitPattern)

    def setMinLength(self, value: int) -> Any:
        return self._set(minLength=value)

    def getMinLength(self) -> int:
        return self.getOrDefault(self.minLength)

    def setMaxLength(self, value: int) -> Any:
        return self._set(maxLength=value)

    def getMaxLength(self) -> int:
        return self.getOrDefault(self.maxLength)

    def _optional(self, param: Param) -> Any:
        return self.getOrDefault(param) if self.isDefined(param) else None

    def rules(self, extra_exceptions: tuple[str, ...] = ()) -> TokenRules:
        """The settings as plain data; checks minLength <= maxLength."""
        check_min_max(type(self).__name__, self.getMinLength(), self.getMaxLength())
        infixes = self._optional(self.infixPatterns)
        return TokenRules(
            target_pattern=self.getTargetPattern(),
            context_chars=tuple(self.getContextChars()),
            prefix_pattern=self._optional(self.prefixPattern),
            suffix_pattern=self._optional(self.suffixPattern),
            infix_patterns=tuple(infixes) if infixes else None,
            exceptions=tuple(self.getExceptions()) + extra_exceptions,
            case_sensitive_exceptions=self.getCaseSensitiveExceptions(),
            split_chars=tuple(self.getSplitChars()),
            split_pattern=self._optional(self.splitPattern),
            min_length=self.getMinLength(),
            max_length=self.getMaxLength(),
        )


class TokenizerModel(AnnotatorModel, _TokenizerParams):
    """A fitted Tokenizer: ``document`` (sentences) in, ``token`` out.

    ``Tokenizer.fit`` returns one, with the exceptions of ``exceptionsPath`` added to
    ``exceptions``; it can also be built directly, without fitting.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT``           ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    outputCol, targetPattern, contextChars, exceptions, caseSensitiveExceptions
        As in ``Tokenizer`` (``token``, ``\\S+``, ``. , ; : ! ? * - ( ) " '``, none, True).
    prefixPattern, suffixPattern, infixPatterns, splitChars, splitPattern
        As in ``Tokenizer``; unset by default.
    minLength, maxLength
        Tokens shorter or longer are dropped; 0 and 99999 by default.

    Examples
    --------
    >>> from pyspark.ml import PipelineModel
    >>> from annotators import DocumentAssembler, LightPipeline, TokenizerModel
    >>> document = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> token = TokenizerModel(inputCols=["document"], outputCol="token", splitChars=["-"])
    >>> light = LightPipeline(PipelineModel([document, token]))
    >>> light.annotate("A well-known trick.")["token"]
    ['A', 'well', 'known', 'trick', '.']
    """

    input_annotator_types = (DOCUMENT,)
    output_annotator_type = TOKEN

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the tokenizer's parameters as keywords."""
        super().__init__()
        self._set_tokenizer_defaults()
        self._set_keywords(self._input_kwargs)

    def row_core(self) -> AnnotateFn:
        return _token_annotator(self.rules())


class Tokenizer(AnnotatorEstimator, _TokenizerParams):
    """Rule-based tokenizer; ``fit`` reads ``exceptionsPath`` and returns a TokenizerModel.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT``           ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    outputCol
        The token column, ``token`` by default.
    targetPattern
        The regex of token candidates, ``\\S+`` by default.
    contextChars
        Characters peeled off each end of a candidate, a run of them as one token; by default
        ``. , ; : ! ? * - ( ) " '``.
    exceptions, exceptionsPath, caseSensitiveExceptions
        Patterns (spaces allowed) whose matches stay whole, and a text file of more, one a
        line, read by ``fit``; none by default, matched case-sensitively unless
        ``caseSensitiveExceptions`` is False (True by default).
    prefixPattern, suffixPattern, infixPatterns
        Regexes with groups (one token per group) for a candidate's start, end and middle,
        each replacing that part of the default rule; a prefix starts with ``\\A``, a suffix
        ends with ``\\z``; unset by default.
    splitChars, splitPattern
        Characters, or a regex, that split the inside of tokens; unset by default.
    minLength, maxLength
        Tokens shorter or longer are dropped; 0 and 99999 by default.

    Examples
    --------
    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, LightPipeline, Tokenizer
    >>> document = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> tokenizer = (
    ...     Tokenizer()
    ...     .setInputCols(["document"])
    ...     .setOutputCol("token")
    ...     .setExceptions(["New York"])
    ... )
    >>> data = spark.createDataFrame([("",)], "text string")
    >>> model = Pipeline(stages=[document, tokenizer]).fit(data)
    >>> light = LightPipeline(model)
    >>> light.annotate("(Hello) I can't wait for New York tonight!")["token"]
    ['(', 'Hello', ')', 'I', "can't", 'wait', 'for', 'New York', 'tonight', '!']
    >>> [(t.result, t.begin, t.end) for t in light.fullAnnotate("New York now!")[0]["token"]]
    [('New York', 0, 7), ('now', 9, 11), ('!', 12, 12)]
    """

    @keyword_only
    def __init__(
        self, *, inputCols: list[str] | None = None, outputCol: str = "token", **params: Any
    ) -> None:
        """Any of the tokenizer's parameters as keywords (``splitChars=["-"]``)."""
        super().__init__()
        self._set_tokenizer_defaults()
        self._set_keywords(self._input_kwargs)

    def _fit(self, dataset: DataFrame) -> TokenizerModel:
        model = TokenizerModel()
        copy_params(self, model)
        if self.isDefined(self.exceptionsPath):
            lines = _read_lines(self.getExceptionsPath(), dataset)
            model._set(exceptions=[*self.getExceptions(), *lines])
        model.rules()  # compile now: a bad pattern fails on the driver, not in a worker
        return model


def _read_lines(path: str, dataset: DataFrame) -> list[str]:
    scheme = urlparse(path).scheme
    if scheme in ("", "file"):
        local = urlparse(path).path if scheme else path
        try:
            with open(local, encoding="utf-8") as handle:
                return [line.strip() for line in handle if line.strip()]
        except OSError as exc:
            raise ParamError(f"exceptionsPath: cannot read {path}: {exc}") from exc
    rows = dataset.sparkSession.read.text(path).collect()
    return [r.value.strip() for r in rows if r.value and r.value.strip()]
