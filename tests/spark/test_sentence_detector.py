"""SentenceDetector: the golden rules, every parameter, and the Spark stage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotators import DocumentAssembler, SentenceDetector
from annotators.sentence import SentenceRules, sentence_pieces, split_sentences
from tests.support import annotations_of

GOLDEN = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "golden_rules_en.json").read_text()
)
#: Rules we knowingly fail; README.md explains each. A rule that starts passing fails the test
#: (strict xfail) so the README's score cannot go stale.
KNOWN_FAILURES = {18}


DEFAULT_RULES = SentenceRules()


def sentences(text: str, rules: SentenceRules = DEFAULT_RULES) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text, rules)]


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(r, id=f"{r['number']:02d}-{r['name']}", marks=pytest.mark.xfail(strict=True))
        if r["number"] in KNOWN_FAILURES
        else pytest.param(r, id=f"{r['number']:02d}-{r['name']}")
        for r in GOLDEN["rules"]
    ],
)
def test_golden_rule(rule: dict) -> None:
    assert sentences(rule["text"]) == rule["sentences"]


def test_golden_rules_score_meets_the_goal() -> None:
    passed = sum(sentences(r["text"]) == r["sentences"] for r in GOLDEN["rules"])
    assert len(GOLDEN["rules"]) == 48
    assert passed == 48 - len(KNOWN_FAILURES) >= 46


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "First paragraph without a stop\n\nSecond one",
            ["First paragraph without a stop", "Second one"],
        ),
        ("A line\nbroken by a PDF.", ["A line\nbroken by a PDF."]),
        ("   ", []),
        ("", []),
        ("No terminal at all", ["No terminal at all"]),
        (
            "안녕하세요. 만나서 반갑습니다! 잘 지내요?",
            ["안녕하세요.", "만나서 반갑습니다!", "잘 지내요?"],
        ),
        ("今天天气很好。我们去公园吧！", ["今天天气很好。", "我们去公园吧！"]),
        ("Dr. Watson arrived. He sat down.", ["Dr. Watson arrived.", "He sat down."]),
        (
            "See e.g. Smith and approx. 5 others. Then stop.",
            ["See e.g. Smith and approx. 5 others.", "Then stop."],
        ),
        ("Wait... What happened?", ["Wait...", "What happened?"]),
        ("• apples • pears • plums", ["• apples", "• pears", "• plums"]),
        ("He said \u201cgo.\u201d Then he left.", ["He said \u201cgo.\u201d", "Then he left."]),
    ],
)
def test_boundaries(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_abbreviation_rules_can_be_switched_off() -> None:
    text = "I can see Mt. Fuji from here."
    assert sentences(text, SentenceRules(use_abbreviations=False)) == [
        "I can see Mt.",
        "Fuji from here.",
    ]


def test_list_detection_can_be_switched_off() -> None:
    text = "1) The first item 2) The second item"
    assert sentences(text, SentenceRules(detect_lists=False)) == [text]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("none", ["first part", "second part", "third"]),
        ("prepend", ["first part", "|| second part", "|| third"]),
        ("append", ["first part ||", "second part ||", "third"]),
    ],
)
def test_custom_bounds_strategies(strategy: str, expected: list[str]) -> None:
    rules = SentenceRules(custom_bounds=(r"\|\|",), custom_bounds_strategy=strategy)
    assert sentences("first part || second part || third", rules) == expected


def test_custom_bounds_only_ignores_the_pragmatic_rules() -> None:
    text = "One. Two; three. Four"
    mixed = SentenceRules(custom_bounds=(";",))
    only = SentenceRules(custom_bounds=(";",), use_custom_bounds_only=True)
    assert sentences(text, mixed) == ["One.", "Two", "three.", "Four"]
    assert sentences(text, only) == ["One. Two", "three. Four"]


def test_split_length_cuts_long_sentences_at_whitespace_and_keeps_long_words_whole() -> None:
    text = "aaaa bbbb cccc dddd " + "x" * 25 + " yy zz"
    pieces = sentences(text, SentenceRules(split_length=10))
    assert pieces == ["aaaa bbbb", "cccc dddd", "x" * 25, "yy zz"]
    assert all(len(p) <= 10 for p in pieces if " " in p)


def test_min_and_max_length_drop_sentences_outside_the_range() -> None:
    text = "Hi. This one is long enough. Ok."
    assert sentences(text, SentenceRules(min_length=4)) == ["This one is long enough."]
    assert sentences(text, SentenceRules(max_length=3, drop_over_max=True)) == ["Hi.", "Ok."]


def test_bad_parameters_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match="customBoundsStrategy 'middle' is not supported"):
        SentenceDetector().setCustomBoundsStrategy("middle")
    with pytest.raises(ValueError, match="minLength must be >= 0, got -1"):
        SentenceDetector().setMinLength(-1)
    # a cross-parameter rule: checked when the stage runs, whatever order the values came in
    with pytest.raises(ValueError, match="maxLength \\(2\\) must be >= minLength \\(5\\)"):
        SentenceDetector().setMinLength(5).setMaxLength(2).row_core()
    with pytest.raises(ValueError, match="customBounds: pattern '\\(' is not a valid regex"):
        SentenceDetector().setCustomBounds(["("]).rules()


def test_defaults_match_the_reference() -> None:
    detector = SentenceDetector()
    assert detector.getUseAbbreviations() is True
    assert detector.getDetectLists() is True
    assert detector.getUseCustomBoundsOnly() is False
    assert detector.getCustomBounds() == []
    assert detector.getCustomBoundsStrategy() == "none"
    assert detector.getExplodeSentences() is False
    assert (detector.getMinLength(), detector.getMaxLength()) == (0, 99999)
    assert detector.getOutputCol() == "sentence"


def test_spark_stage_offsets_and_metadata(spark) -> None:
    text = "  Hello World. My name is Jonas.  "
    df = spark.createDataFrame([(text,)], "text string")
    document = DocumentAssembler().setInputCol("text").transform(df)
    out = SentenceDetector().setInputCols(["document"]).setOutputCol("sentence").transform(document)
    assert out.schema["sentence"].metadata == {"annotatorType": "document"}
    [found] = annotations_of(out.collect(), "sentence")
    assert [(a["begin"], a["end"], a["result"], a["metadata"]) for a in found] == [
        (2, 13, "Hello World.", {"sentence": "0"}),
        (15, 31, "My name is Jonas.", {"sentence": "1"}),
    ]
    assert all(text[a["begin"] : a["end"] + 1] == a["result"] for a in found)


def test_explode_sentences_gives_one_row_per_sentence(spark) -> None:
    df = spark.createDataFrame([(1, "One. Two. Three."), (2, "Four.")], "id int, text string")
    document = DocumentAssembler().setInputCol("text").transform(df)
    detector = SentenceDetector().setInputCols("document").setExplodeSentences(True)
    out = detector.transform(document)
    rows = out.orderBy("id").collect()
    assert [(r.id, [a.result for a in r.sentence]) for r in rows] == [
        (1, ["One."]),
        (1, ["Two."]),
        (1, ["Three."]),
        (2, ["Four."]),
    ]
    assert out.schema["sentence"].metadata == {"annotatorType": "document"}


def test_a_sentence_past_the_default_max_length_is_cut_not_dropped() -> None:
    """Text without sentence punctuation (logs, transcripts, a base64 blob) runs past the
    default maxLength (99999): it is cut into pieces of at most 99999 characters, at whitespace
    where it can, and no character is lost. A maxLength the user sets still drops, as the
    reference's does."""
    text = "word " * 30_000 + "x" * 150_000 + " tail"
    spans = split_sentences(text)
    assert all(end - start <= 99_999 for start, end in spans)
    assert "".join(text[s:e] for s, e in spans).replace(" ", "") == text.replace(" ", "")
    assert split_sentences(text, SentenceRules(drop_over_max=True)) == []
    short = "A short one.\n\n" + text
    flags = [cut for _, _, cut in sentence_pieces(short)]
    assert flags == [False] + [True] * len(spans)  # only the pieces of the cut sentence
    detector = SentenceDetector()
    assert not detector.rules().drop_over_max
    assert detector.setMaxLength(99_999).rules().drop_over_max


def test_a_max_length_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="maxLength must be >= 1"):
        SentenceDetector(maxLength=0)


@pytest.mark.parametrize(
    "unit",
    ["www.", "http://a", ".", ". ", "?", "1. ", "a@", "a.b@c.d ", "[...", '"a? b ', "A. ", "x"],
)
def test_long_repetitive_text_loses_no_character(unit: str) -> None:
    """About 150,000 characters of one repeated unit: every non-space character comes out once,
    in order (and, under the tier's time budget, without a pattern that backtracks per
    character: an e-mail pattern once took a minute on one long word)."""
    text = unit * (150_000 // len(unit))
    spans = split_sentences(text)
    assert all(a < b for a, b in spans)
    kept = "".join(text[s:e] for s, e in spans)
    assert "".join(kept.split()) == "".join(text.split())
