"""RegexTokenizer, Normalizer, StopWordsCleaner, Stemmer and Lemmatizer on Spark: the reference's
documented examples (REFERENCE_FACTS.md §1.2, §1.3, §1.4, §1.9, §1.10, from its docstrings), fit
from files, save/load of the fitted models in a Pipeline, and LightPipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.ml import Pipeline, PipelineModel

from annotators import (
    DocumentAssembler,
    Lemmatizer,
    LemmatizerModel,
    LightPipeline,
    Normalizer,
    NormalizerModel,
    RegexTokenizer,
    SentenceDetector,
    Stemmer,
    StopWordsCleaner,
    Tokenizer,
)
from annotators.errors import StageInputError
from tests.support import annotations_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LEMMAS = str(FIXTURES / "lemmas_small.txt")
PETER = "Peter Pipers employees are picking pecks of pickled peppers."


def document() -> DocumentAssembler:
    return DocumentAssembler().setInputCol("text").setOutputCol("document")


def tokenizer(source: str = "document") -> Tokenizer:
    return Tokenizer().setInputCols([source]).setOutputCol("token")


def results(rows: list, column: str) -> list[list[str]]:  # type: ignore[type-arg]
    """Each collected row's annotation results in one column."""
    return [[a["result"] for a in row] for row in annotations_of(rows, column)]


@pytest.mark.compat
def test_the_five_stages_reproduce_the_reference_examples(spark) -> None:
    """One pipeline, every stage's documented example output (the reference's docstrings)."""
    stages = [
        document(),
        RegexTokenizer().setInputCols(["document"]).setOutputCol("regexToken").setToLowercase(True),
        SentenceDetector().setInputCols(["document"]).setOutputCol("sentence"),
        tokenizer("sentence"),
        Normalizer()
        .setInputCols(["token"])
        .setOutputCol("normalized")
        .setLowercase(True)
        .setCleanupPatterns([r"[^\w\d\s]"]),
        StopWordsCleaner().setInputCols(["token"]).setOutputCol("cleanTokens"),
        Stemmer().setInputCols(["token"]).setOutputCol("stem"),
        Lemmatizer()
        .setInputCols(["token"])
        .setOutputCol("lemma")
        .setDictionary(LEMMAS, "->", "\t"),
    ]
    texts = [
        "This is my first sentence.\nThis is my second.",
        "John and Peter are brothers. However they don't support each other that much.",
        "This is my third sentence. This is my forth.",
        PETER,
    ]
    data = spark.createDataFrame([(t,) for t in texts], "text string")
    result = Pipeline(stages=stages).fit(data).transform(data)
    rows = result.collect()
    regex_tokens, normalized, cleaned, stems, lemmas = (
        results(rows, c) for c in ("regexToken", "normalized", "cleanTokens", "stem", "lemma")
    )
    assert regex_tokens[0] == [
        "this", "is", "my", "first", "sentence.", "this", "is", "my", "second.",
    ]  # fmt: skip
    assert normalized[1] == [
        "john", "and", "peter", "are", "brothers", "however", "they", "dont", "support", "each",
        "other", "that", "much",
    ]  # fmt: skip
    assert cleaned[0] == ["first", "sentence", ".", "second", "."]
    assert cleaned[2] == ["third", "sentence", ".", "forth", "."]
    assert stems[3] == [
        "peter", "piper", "employe", "ar", "pick", "peck", "of", "pickl", "pepper", ".",
    ]  # fmt: skip
    assert lemmas[3] == [
        "Peter", "Pipers", "employees", "are", "pick", "peck", "of", "pickle", "pepper", ".",
    ]  # fmt: skip
    first = annotations_of(rows, "regexToken")[0]
    assert first[5]["begin"] == 27 and first[5]["metadata"] == {"sentence": "0"}
    types = {f.name: f.metadata.get("annotatorType") for f in result.schema.fields}
    assert {types[c] for c in ("regexToken", "normalized", "cleanTokens", "stem", "lemma")} == {
        "token"
    }


@pytest.mark.ml_persistence
def test_fitted_models_survive_pipeline_save_and_load(spark, tmp_path: Path) -> None:
    stages = [
        document(),
        tokenizer(),
        Normalizer(inputCols=["token"], outputCol="normal", lowercase=True).setSlangDictionary(
            str(FIXTURES / "slang.csv"), ","
        ),
        Lemmatizer(inputCols=["token"], outputCol="lemma").setDictionary(LEMMAS, "->", "\t"),
        StopWordsCleaner(inputCols=["token"], outputCol="clean", stopWords=["u"]),
        Stemmer(inputCols=["lemma"], outputCol="stem"),
        RegexTokenizer(inputCols=["document"], outputCol="pieces", pattern=","),
    ]
    data = spark.createDataFrame([("U were picking peppers, gr8!",)], "text string")
    model = Pipeline(stages=stages).fit(data)
    assert isinstance(model.stages[2], NormalizerModel)
    assert isinstance(model.stages[3], LemmatizerModel)
    model.write().overwrite().save(str(tmp_path / "model"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    assert loaded.stages[2].getSlangDict() == {"u": "you", "gr8": "great", "idk": "I do not know"}
    assert loaded.stages[3].getLemmaDict()["picking"] == "pick"
    columns = ["normal", "lemma", "clean", "stem", "pieces"]
    before, after = model.transform(data).collect(), loaded.transform(data).collect()
    assert all(annotations_of(before, c) == annotations_of(after, c) for c in columns)
    assert [a["result"] for a in annotations_of(after, "normal")[0]] == [
        "you", "were", "picking", "peppers", "great",
    ]  # fmt: skip
    assert [a["result"] for a in annotations_of(after, "stem")[0]] == [
        "u", "were", "pick", "pepper", ",", "gr8", "!",
    ]  # fmt: skip


def test_light_pipeline_runs_the_fitted_stages(spark) -> None:
    stages = [
        document(),
        tokenizer(),
        Lemmatizer(inputCols=["token"], outputCol="lemma").setDictionary(LEMMAS, "->", "\t"),
        Normalizer(inputCols=["lemma"], outputCol="normal", lowercase=True, minLength=2),
        StopWordsCleaner(inputCols=["normal"], outputCol="clean"),
        Stemmer(inputCols=["clean"], outputCol="stem"),
    ]
    model = Pipeline(stages=stages).fit(spark.createDataFrame([("",)], "text string"))
    light = LightPipeline(model)
    annotated = light.annotate("The peppers were pickled, a pick!")
    assert annotated["lemma"] == ["The", "pepper", "were", "pickle", ",", "a", "pick", "!"]
    assert annotated["normal"] == ["the", "pepper", "were", "pickle", "pick"]
    assert annotated["clean"] == ["pepper", "pickle", "pick"]
    assert annotated["stem"] == ["pepper", "pickl", "pick"]
    # LightPipeline and Spark agree, offsets included.
    frame = model.transform(
        spark.createDataFrame([("The peppers were pickled, a pick!",)], "text string")
    )
    full = light.fullAnnotate("The peppers were pickled, a pick!")[0]["stem"]
    assert [(a.begin, a.end, a.result) for a in full] == [
        (a["begin"], a["end"], a["result"]) for a in annotations_of(frame.collect(), "stem")[0]
    ]


def test_lemmatizer_learns_from_conllu_columns(spark) -> None:
    """Without a dictionary, fit zips the formCol and lemmaCol TOKEN columns (REFERENCE_FACTS
    §1.10); a form seen with two lemmas takes the more frequent one."""
    forms = DocumentAssembler().setInputCol("forms").setOutputCol("forms_doc")
    lemmas = DocumentAssembler().setInputCol("lemmas").setOutputCol("lemmas_doc")
    form_tokens = Tokenizer().setInputCols(["forms_doc"]).setOutputCol("form")
    lemma_tokens = Tokenizer().setInputCols(["lemmas_doc"]).setOutputCol("lemma")
    rows = [("mice ran saw", "mouse run see"), ("saw mice", "saw mouse"), ("saw", "see")]
    data = spark.createDataFrame(rows, "forms string, lemmas string")
    prepared = Pipeline(stages=[forms, lemmas, form_tokens, lemma_tokens]).fit(data)
    conllu = prepared.transform(data)
    model = Lemmatizer(inputCols=["form"], outputCol="lemmatized").fit(conllu)
    assert model.getLemmaDict() == {"mice": "mouse", "ran": "run", "saw": "see"}
    with pytest.raises(StageInputError, match="column 'lemma' is missing"):
        Lemmatizer(inputCols=["form"], outputCol="x").fit(conllu.drop("lemma"))
    with pytest.raises(StageInputError, match="column 'forms' has type None"):
        Lemmatizer(inputCols=["form"], outputCol="x", formCol="forms").fit(conllu)


def test_dictionaries_read_with_spark(spark, tmp_path: Path) -> None:
    """``read_as=SPARK``: Spark's reader with the given format (REFERENCE_FACTS §1.3, §1.10)."""
    slang = tmp_path / "slang_csv"
    slang.mkdir()
    (slang / "part-0.csv").write_text("lol,laughing\nbrb,be right back\n", encoding="utf-8")
    normalizer = Normalizer(inputCols=["token"], outputCol="normal").setSlangDictionary(
        str(slang), ",", read_as="SPARK", options={"format": "csv"}
    )
    lemmatizer = Lemmatizer(inputCols=["token"], outputCol="lemma").setDictionary(
        LEMMAS, "->", "\t", read_as="SPARK"
    )
    data = spark.createDataFrame([("",)], "text string")
    model = Pipeline(stages=[document(), tokenizer(), normalizer, lemmatizer]).fit(data)
    annotated = LightPipeline(model).annotate("LOL brb picking")
    assert annotated["normal"] == ["laughing", "be", "right", "back", "picking"]
    assert annotated["lemma"] == ["LOL", "brb", "pick"]


def test_bad_settings_fail_on_the_driver_with_clear_errors(spark, tmp_path: Path) -> None:
    data = spark.createDataFrame([("a b",)], "text string")
    with pytest.raises(StageInputError, match="maxLength \\(1\\) must be >= minLength \\(2\\)"):
        Pipeline(stages=[document(), tokenizer(), Normalizer(inputCols=["token"], outputCol="n", minLength=2, maxLength=1)]).fit(data)  # fmt: skip
    missing = Lemmatizer(inputCols=["token"], outputCol="l").setDictionary(
        str(tmp_path / "none.txt"), "->", "\t"
    )
    with pytest.raises(StageInputError, match="none.txt does not exist"):
        Pipeline(stages=[document(), tokenizer(), missing]).fit(data)
    wrong = RegexTokenizer(inputCols=["token"], outputCol="t")
    with pytest.raises(StageInputError, match="needs columns of type document"):
        Pipeline(stages=[document(), tokenizer(), wrong]).fit(data).transform(data)


def test_regex_tokenizer_on_empty_and_whitespace_documents(spark) -> None:
    rows = [("",), ("   \n\t ",), (None,), ("one",)]
    data = spark.createDataFrame(rows, "text string")
    stages = [
        document(),
        RegexTokenizer(pattern=r"\s+"),
        RegexTokenizer(pattern=".", outputCol="dots"),
    ]
    rows = Pipeline(stages=stages).fit(data).transform(data).collect()
    assert results(rows, "regexToken") == [[], [], [], ["one"]]
    # Every character is a delimiter but the newline: Java's "." excludes line terminators.
    assert results(rows, "dots") == [[], ["\n"], [], []]
