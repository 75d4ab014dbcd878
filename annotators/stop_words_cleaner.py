"""StopWordsCleaner: drops the tokens that are stop words (Spark NLP's StopWordsCleaner).

The default list is Spark MLlib's English one, the list ``StopWordsRemover`` uses; it is read
from the ``org/apache/spark/ml/feature/stopwords/<language>.txt`` files inside the installed
Spark's MLlib jar (beside pyspark, or under ``$SPARK_HOME/jars``), else through a classic
session's JVM, so building the stage needs no session and nothing is copied into this code.

Comparison is exact with ``caseSensitive``; otherwise both sides are lowercased for ``locale``
first (Python's Unicode lowercasing, with Turkish and Azerbaijani dotted/dotless ``I`` handled as
Java does; other locale-specific rules, such as Lithuanian's dot above, are not applied).
Surviving tokens are emitted unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import zipfile
from typing import TYPE_CHECKING, Any

import regex
from pyspark.ml.param import Param, Params, TypeConverters

from annotators.annotation import TOKEN, AnnotationDict
from annotators.errors import ParamError, StageInputError
from annotators.stage import AnnotateFn, AnnotatorModel, keyword_only

if TYPE_CHECKING:
    from typing import Self

__all__ = ["StopWordsCleaner", "default_stop_words", "lower_for_locale", "remove_stop_words"]

#: The languages of Spark MLlib's stop-word lists.
LANGUAGES = (
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "hungarian",
    "italian",
    "norwegian",
    "portuguese",
    "russian",
    "spanish",
    "swedish",
    "turkish",
)
_LIST_PATH = "org/apache/spark/ml/feature/stopwords/{}.txt"
#: A locale as Java names one: language, then optional region/script/variant parts.
_LOCALE = regex.compile(r"[A-Za-z]{2,8}(?:[_-][A-Za-z0-9]{1,8})*")
DEFAULT_LOCALE = "en_US"


def _mllib_jars() -> list[str]:
    """Spark MLlib jars where this Python can see them: beside pyspark, then SPARK_HOME."""
    folders = []
    try:
        import pyspark

        folders.append(os.path.join(os.path.dirname(pyspark.__file__), "jars"))
    except ImportError:  # pragma: no cover - the stage module imports pyspark already
        pass
    if os.environ.get("SPARK_HOME"):
        folders.append(os.path.join(os.environ["SPARK_HOME"], "jars"))
    return [jar for folder in folders for jar in sorted(glob.glob(f"{folder}/spark-mllib_*.jar"))]


def _from_session(language: str) -> list[str] | None:
    """The list through a classic session's JVM (Spark Connect clients have none)."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None or context._jvm is None:
        return None
    remover = context._jvm.org.apache.spark.ml.feature.StopWordsRemover
    return list(remover.loadDefaultStopWords(language))


@functools.cache
def default_stop_words(language: str = "english") -> tuple[str, ...]:
    """Spark MLlib's stop words for ``language``, as ``StopWordsRemover`` loads them."""
    if language not in LANGUAGES:
        raise ParamError(
            f"stop words: language '{language}' has no default list; choose one of: "
            + ", ".join(LANGUAGES)
        )
    for jar in _mllib_jars():
        with zipfile.ZipFile(jar) as archive:
            try:
                text = archive.read(_LIST_PATH.format(language)).decode("utf-8")
            except KeyError:
                continue
        return tuple(line for line in text.splitlines() if line)
    words = _from_session(language)
    if words is None:
        raise StageInputError(
            "stop words: Spark MLlib's lists were not found (no spark-mllib jar beside pyspark "
            "or under $SPARK_HOME/jars, and no classic Spark session); set the words with "
            "setStopWords([...])"
        )
    return tuple(words)


def _locale_text(value: Any) -> str:
    text = TypeConverters.toString(value)
    if not _LOCALE.fullmatch(text):
        raise ParamError(
            f"locale '{text}' is not a locale name; use a language and optional region such as "
            "en_US, tr_TR or de"
        )
    return text


def lower_for_locale(text: str, locale: str) -> str:
    """Lowercase as Java's ``toLowerCase(Locale(locale))`` does for the common cases."""
    if locale[:2].lower() in ("tr", "az"):
        text = text.replace("I", "\u0131").replace("\u0130", "i")
    return text.lower()


def remove_stop_words(
    tokens: list[AnnotationDict], stop_words: frozenset[str], case_sensitive: bool, locale: str
) -> list[AnnotationDict]:
    """The tokens of one row that are not stop words (``stop_words`` already lowercased for
    ``locale`` unless ``case_sensitive``)."""
    if case_sensitive:
        return [t for t in tokens if t["result"] not in stop_words]
    return [t for t in tokens if lower_for_locale(t["result"] or "", locale) not in stop_words]


class StopWordsCleaner(AnnotatorModel):
    """Drops tokens that are stop words; the rest pass unchanged.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``TOKEN``              ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    inputCols, outputCol
        ``["token"]`` and ``cleanedToken`` by default.
    stopWords
        The words to drop; Spark MLlib's English list by default
        (``StopWordsCleaner.loadDefaultStopWords(language)`` gives the others).
    caseSensitive
        Compare exactly; False (the default) compares lowercased words.
    locale
        The locale to lowercase for when not case-sensitive; ``en_US`` by default.

    Examples
    --------
    The reference's example:

    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, SentenceDetector, StopWordsCleaner, Tokenizer
    >>> documentAssembler = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> sentenceDetector = SentenceDetector().setInputCols(["document"]).setOutputCol("sentence")
    >>> tokenizer = Tokenizer().setInputCols(["sentence"]).setOutputCol("token")
    >>> stopWords = (
    ...     StopWordsCleaner()
    ...     .setInputCols(["token"])
    ...     .setOutputCol("cleanTokens")
    ...     .setCaseSensitive(False)
    ... )
    >>> pipeline = Pipeline().setStages([documentAssembler, sentenceDetector, tokenizer, stopWords])
    >>> data = spark.createDataFrame(
    ...     [
    ...         ["This is my first sentence. This is my second."],
    ...         ["This is my third sentence. This is my forth."],
    ...     ]
    ... ).toDF("text")
    >>> result = pipeline.fit(data).transform(data)
    >>> result.selectExpr("cleanTokens.result").show(truncate=False)
    +-------------------------------+
    |result                         |
    +-------------------------------+
    |[first, sentence, ., second, .]|
    |[third, sentence, ., forth, .] |
    +-------------------------------+
    <BLANKLINE>
    >>> StopWordsCleaner.loadDefaultStopWords("german")[:4]
    ['aber', 'alle', 'allem', 'allen']
    """

    stopWords = Param(
        Params._dummy(), "stopWords", "the words to drop", TypeConverters.toListString
    )
    caseSensitive = Param(
        Params._dummy(),
        "caseSensitive",
        "whether to compare words exactly (else lowercased)",
        TypeConverters.toBoolean,
    )
    locale = Param(
        Params._dummy(),
        "locale",
        "locale to lowercase for when not case-sensitive (en_US, tr_TR, ...)",
        _locale_text,
    )

    input_annotator_types = (TOKEN,)
    output_annotator_type = TOKEN

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the parameters as keywords (``StopWordsCleaner(stopWords=["a", "the"])``)."""
        super().__init__()
        self._setDefault(
            inputCols=["token"], outputCol="cleanedToken", caseSensitive=False, locale="en_US"
        )
        # Without Spark's lists here, setStopWords is needed, and running says so.
        with contextlib.suppress(StageInputError):
            self._setDefault(stopWords=list(default_stop_words("english")))
        self._set_keywords(self._input_kwargs)

    @staticmethod
    def loadDefaultStopWords(language: str = "english") -> list[str]:
        """Spark MLlib's stop words for ``language``: danish, dutch, english, finnish, french,
        german, hungarian, italian, norwegian, portuguese, russian, spanish, swedish or
        turkish."""
        return list(default_stop_words(language))

    def setStopWords(self, value: list[str]) -> Self:
        return self._set(stopWords=value)

    def getStopWords(self) -> list[str]:
        if not self.isDefined(self.stopWords):
            default_stop_words("english")  # raises the error that says what to do
        return self.getOrDefault(self.stopWords)

    def setCaseSensitive(self, value: bool) -> Self:
        return self._set(caseSensitive=value)

    def getCaseSensitive(self) -> bool:
        return self.getOrDefault(self.caseSensitive)

    def setLocale(self, value: str) -> Self:
        return self._set(locale=value)

    def getLocale(self) -> str:
        return self.getOrDefault(self.locale)

    def row_core(self) -> AnnotateFn:
        case_sensitive, locale = self.getCaseSensitive(), self.getLocale()
        words = self.getStopWords()
        stop_words = frozenset(
            words if case_sensitive else (lower_for_locale(w, locale) for w in words)
        )
        return functools.partial(
            remove_stop_words, stop_words=stop_words, case_sensitive=case_sensitive, locale=locale
        )
