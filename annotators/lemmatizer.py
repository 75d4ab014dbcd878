"""Lemmatizer (an estimator) and LemmatizerModel: each token's lemma from a dictionary
(Spark NLP's Lemmatizer).

``fit`` builds the form-to-lemma map, as in the reference, from either
- a dictionary file (``setDictionary``): each line is split on ``keyDelimiter`` (a Java regex)
  into trimmed parts; part 0 is the lemma, part 1 is split on ``valueDelimiter`` (a regex) into
  its forms (trimmed); lines with fewer than 2 parts are skipped, text after a second key
  delimiter is ignored, and a later line overwrites an earlier mapping. The lemma maps to
  itself only if it is among its own forms. A folder is read recursively; or
- without a dictionary, the training data's ``formCol`` and ``lemmaCol`` TOKEN columns (as a
  CoNLL-U reader gives them), zipped token by token. A form seen with several lemmas takes the
  most frequent one (the alphabetically first among equals), where the reference keeps an
  arbitrary one.

The model then gives each token ``lemmas.get(token, token)``: an exact, case-sensitive lookup,
with ``begin``, ``end`` and metadata kept.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from typing import TYPE_CHECKING, Any

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from annotators.annotation import TOKEN, AnnotationDict, make_annotation
from annotators.errors import StageInputError
from annotators.normalizer import string_map
from annotators.patterns import compile_java_pattern
from annotators.stage import (
    AnnotateFn,
    AnnotatorEstimator,
    AnnotatorModel,
    annotator_types_of,
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

__all__ = ["Lemmatizer", "LemmatizerModel", "lemmatize", "parse_lemma_lines"]


def parse_lemma_lines(lines: list[str], key_delimiter: str, value_delimiter: str) -> dict[str, str]:
    """The form -> lemma map of a dictionary's lines (see the module docstring)."""
    keys = compile_java_pattern(key_delimiter, "dictionary keyDelimiter")
    values = compile_java_pattern(value_delimiter, "dictionary valueDelimiter")
    lemmas: dict[str, str] = {}
    for line in lines:
        parts = [java_trim(part) for part in java_split(keys, line)]
        if len(parts) < 2:
            continue
        for form in java_split(values, parts[1]):
            form = java_trim(form)
            if form:
                lemmas[form] = parts[0]
    return lemmas


def lemmatize(tokens: list[AnnotationDict], lemmas: dict[str, str]) -> list[AnnotationDict]:
    """Each token's lemma, or the token itself when the map has none (the model's core)."""
    return [
        make_annotation(
            TOKEN, t["begin"], t["end"], lemmas.get(t["result"], t["result"]), t.get("metadata")
        )
        for t in tokens
    ]


class LemmatizerModel(AnnotatorModel):
    """A fitted Lemmatizer: the form -> lemma map it read.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``TOKEN``              ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    lemmaDict
        The map of word forms to lemmas, matched exactly (case-sensitively); empty by default.

    Examples
    --------
    >>> from pyspark.ml import PipelineModel
    >>> from annotators import DocumentAssembler, LemmatizerModel, LightPipeline, Tokenizer
    >>> stages = [
    ...     DocumentAssembler().setInputCol("text").setOutputCol("document"),
    ...     Tokenizer().setInputCols(["document"]).setOutputCol("token").fit(spark.range(0)),
    ...     LemmatizerModel(inputCols=["token"], outputCol="lemma", lemmaDict={"mice": "mouse"}),
    ... ]
    >>> LightPipeline(PipelineModel(stages)).annotate("Three mice ran")["lemma"]
    ['Three', 'mouse', 'ran']
    """

    lemmaDict = Param(
        Params._dummy(),
        "lemmaDict",
        "the map of word forms to their lemmas, read by fit",
        string_map("lemmaDict"),
    )

    input_annotator_types = (TOKEN,)
    output_annotator_type = TOKEN

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the parameters as keywords."""
        super().__init__()
        self._setDefault(lemmaDict={})
        self._set_keywords(self._input_kwargs)

    def setLemmaDict(self, value: dict[str, str]) -> Self:
        return self._set(lemmaDict=value)

    def getLemmaDict(self) -> dict[str, str]:
        return self.getOrDefault(self.lemmaDict)

    def row_core(self) -> AnnotateFn:
        return partial(lemmatize, lemmas=self.getLemmaDict())


class Lemmatizer(AnnotatorEstimator):
    """Finds each token's lemma (dictionary form) in a lemma dictionary; ``fit`` reads the
    dictionary, or learns it from CoNLL-U columns, and returns a LemmatizerModel.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``TOKEN``              ``TOKEN``
    ====================== ======================

    Parameters
    ----------
    dictionary
        The lemma dictionary, set with ``setDictionary(path, key_delimiter,
        value_delimiter)``: lines such as ``pick -> pick picks picking picked`` (a lemma, the
        key delimiter, then its forms separated by the value delimiter). Unset by default.
    formCol, lemmaCol
        Without a dictionary, ``fit`` learns the map from these TOKEN columns of its data (a
        CoNLL-U reader's); ``form`` and ``lemma`` by default.

    Examples
    --------
    The reference's example, less the word "pickled" (the library's sources never spell its
    lemma: tests/unit/test_no_pickle.py; tests/spark/test_token_stages.py runs the whole one),
    with a dictionary in the reference's format, ``tests/fixtures/lemmas_small.txt``:

    >>> from pyspark.ml import Pipeline
    >>> from annotators import DocumentAssembler, Lemmatizer, SentenceDetector, Tokenizer
    >>> documentAssembler = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> sentenceDetector = SentenceDetector().setInputCols(["document"]).setOutputCol("sentence")
    >>> tokenizer = Tokenizer().setInputCols(["sentence"]).setOutputCol("token")
    >>> lemmatizer = (
    ...     Lemmatizer()
    ...     .setInputCols(["token"])
    ...     .setOutputCol("lemma")
    ...     .setDictionary("tests/fixtures/lemmas_small.txt", "->", "\\t")
    ... )
    >>> stages = [documentAssembler, sentenceDetector, tokenizer, lemmatizer]
    >>> pipeline = Pipeline().setStages(stages)
    >>> data = spark.createDataFrame(
    ...     [["Peter Pipers employees are picking pecks of peppers."]]
    ... ).toDF("text")
    >>> result = pipeline.fit(data).transform(data)
    >>> result.selectExpr("lemma.result").show(truncate=False)
    +----------------------------------------------------------+
    |result                                                    |
    +----------------------------------------------------------+
    |[Peter, Pipers, employees, are, pick, peck, of, pepper, .]|
    +----------------------------------------------------------+
    <BLANKLINE>
    """

    dictionary = Param(
        Params._dummy(),
        "dictionary",
        "lemma dictionary; needs 'keyDelimiter' and 'valueDelimiter' in its options",
        external_resource("dictionary", ("keyDelimiter", "valueDelimiter")),
    )
    formCol = Param(
        Params._dummy(),
        "formCol",
        "TOKEN column of word forms (a CoNLL-U reader's), read when no dictionary is set",
        TypeConverters.toString,
    )
    lemmaCol = Param(
        Params._dummy(),
        "lemmaCol",
        "TOKEN column of lemmas (a CoNLL-U reader's), read when no dictionary is set",
        TypeConverters.toString,
    )

    input_annotator_types = (TOKEN,)

    @keyword_only
    def __init__(self, **params: Any) -> None:
        """Any of the parameters as keywords."""
        super().__init__()
        self._setDefault(formCol="form", lemmaCol="lemma")
        self._set_keywords(self._input_kwargs)

    def setDictionary(
        self,
        path: str,
        key_delimiter: str,
        value_delimiter: str,
        read_as: str = ReadAs.TEXT,
        options: dict[str, str] | None = None,
    ) -> Self:
        """The lemma dictionary: ``path``, its delimiters (Java regexes; values already in
        ``options`` win, as in the reference's Python), ``read_as`` TEXT (lines of text, a
        folder read recursively) or SPARK (Spark's reader with ``options["format"]``, one
        string column), and reader ``options`` (``{"format": "text"}`` by default)."""
        merged = dict({"format": "text"} if options is None else options)
        merged.setdefault("keyDelimiter", key_delimiter)
        merged.setdefault("valueDelimiter", value_delimiter)
        return self._set(dictionary=make_resource(path, read_as, merged))

    def getDictionary(self) -> dict[str, Any]:
        return self.getOrDefault(self.dictionary)

    def setFormCol(self, value: str) -> Self:
        return self._set(formCol=value)

    def getFormCol(self) -> str:
        return self.getOrDefault(self.formCol)

    def setLemmaCol(self, value: str) -> Self:
        return self._set(lemmaCol=value)

    def getLemmaCol(self) -> str:
        return self.getOrDefault(self.lemmaCol)

    def _read_dictionary(self, dataset: DataFrame) -> dict[str, str]:
        resource = self.getDictionary()
        options = resource["options"]
        if resource["readAs"] == ReadAs.TEXT:
            lines = read_lines("dictionary", resource["path"], dataset.sparkSession)
        else:
            frame = read_with_spark("dictionary", resource, dataset.sparkSession)
            if len(frame.columns) != 1:
                raise StageInputError(
                    f"dictionary: Spark read {len(frame.columns)} columns from "
                    f"{resource['path']}; a lemma dictionary is one column of lines (format text)"
                )
            lines = [str(row[0]) for row in frame.collect() if row[0] is not None]
        return parse_lemma_lines(lines, options["keyDelimiter"], options["valueDelimiter"])

    def _learn_from_columns(self, dataset: DataFrame) -> dict[str, str]:
        types = annotator_types_of(dataset.schema)
        columns = []
        for column in (self.getFormCol(), self.getLemmaCol()):
            if types.get(column, "absent") != TOKEN:
                found = "is missing" if column not in types else f"has type {types[column]}"
                raise StageInputError(
                    f"Lemmatizer: no dictionary is set (setDictionary), so fit learns lemmas from "
                    f"the TOKEN columns formCol and lemmaCol of a CoNLL-U dataset, but column "
                    f"'{column}' {found}"
                )
            columns.append(F.col(f"`{column}`.result"))
        pairs = (
            dataset.select(columns[0].alias("forms"), columns[1].alias("lemmas"))
            .select(F.explode(F.arrays_zip("forms", "lemmas")).alias("pair"))
            .select(F.col("pair.forms").alias("form"), F.col("pair.lemmas").alias("lemma"))
            .where(F.col("form").isNotNull() & F.col("lemma").isNotNull())
            .groupBy("form", "lemma")
            .count()
            .collect()
        )
        counts: Counter[tuple[str, str]] = Counter({(r.form, r.lemma): r["count"] for r in pairs})
        best: dict[str, tuple[int, str]] = {}
        for (form, lemma), count in counts.items():
            current = best.get(form)
            if current is None or (-count, lemma) < (-current[0], current[1]):
                best[form] = (count, lemma)
        return {form: lemma for form, (_, lemma) in sorted(best.items())}

    def _fit(self, dataset: DataFrame) -> LemmatizerModel:
        if self.isDefined(self.dictionary) and self.getDictionary()["path"]:
            lemmas = self._read_dictionary(dataset)
        else:
            lemmas = self._learn_from_columns(dataset)
        model = LemmatizerModel(lemmaDict=lemmas)
        copy_params(self, model)
        return model
