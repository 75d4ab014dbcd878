"""The token stages' cores as plain functions (no Spark): RegexTokenizer, Normalizer,
StopWordsCleaner, Stemmer and Lemmatizer, against the reference's documented examples
(/work/shared/REFERENCE_FACTS.md §1.2-§1.10, from the reference's docstrings and Scala source)
and the laws their offsets keep."""

from __future__ import annotations

from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from annotators.annotation import TOKEN, make_annotation
from annotators.errors import ParamError, StageInputError
from annotators.lemmatizer import Lemmatizer, parse_lemma_lines
from annotators.normalizer import Normalizer, NormalizeRules, normalize, parse_slang_lines
from annotators.regex_tokenizer import RegexTokenizer, SplitRules, split_tokens
from annotators.stemmer import stem, stem_tokens
from annotators.stop_words_cleaner import (
    StopWordsCleaner,
    default_stop_words,
    lower_for_locale,
    remove_stop_words,
)
from annotators.text_resources import java_split, java_trim, read_lines
from annotators.tokenizer import tokenize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def tokens_of(text: str) -> list[dict]:
    """The repository Tokenizer's tokens of a text (the reference examples' tokenizer)."""
    return [
        make_annotation(TOKEN, start, end - 1, text[start:end], {"sentence": "0"})
        for start, end in tokenize(text)
    ]


# -- Java string rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "pieces"),
    [
        # java.lang.String.split's documented examples ("boo:and:foo").
        (":", "boo:and:foo", ["boo", "and", "foo"]),
        ("o", "boo:and:foo", ["b", "", ":and:f"]),
        # A positive-width match at the start leaves a leading empty piece; trailing ones go.
        (",", ",a,,b,,", ["", "a", "", "b"]),
        # A zero-width match at the start does not (Java 8+); nothing matched gives the text.
        ("", "abc", ["a", "b", "c"]),
        ("x", "abc", ["abc"]),
        ("x", "", [""]),
        (r"\s+", "   ", []),
        (".", "abc", []),
    ],
)
def test_java_split(pattern: str, text: str, pieces: list[str]) -> None:
    assert java_split(regex.compile(pattern), text) == pieces


def test_java_trim_strips_only_control_characters_and_space() -> None:
    assert java_trim("\t pick \n") == "pick"
    assert java_trim("\u00a0pick\u00a0") == "\u00a0pick\u00a0"


# -- RegexTokenizer ---------------------------------------------------------------------------


def test_regex_tokenizer_reference_example() -> None:
    """REFERENCE_FACTS §1.2, the reference's RegexTokenizer docstring example."""
    text = "This is my first sentence.\nThis is my second."
    tokens = split_tokens(text, SplitRules(to_lowercase=True))
    assert [t for _, _, t in tokens] == [
        "this", "is", "my", "first", "sentence.", "this", "is", "my", "second.",
    ]  # fmt: skip
    assert [(b, e) for b, e, _ in tokens][:2] == [(0, 3), (5, 6)]


def test_regex_tokenizer_lengths_and_trimming() -> None:
    text = "a bb  ccc , dddd"
    assert [t for *_, t in split_tokens(text, SplitRules(min_length=2, max_length=3))] == [
        "bb",
        "ccc",
    ]
    # A comma delimiter leaves the spaces around it; trimming deletes them.
    kept = split_tokens(" x y ,z ", SplitRules(pattern=",", trim_whitespace=True))
    assert kept == [(0, 4, "xy"), (6, 7, "z")]
    moved = split_tokens(
        " x y ,z ", SplitRules(pattern=",", trim_whitespace=True, preserve_position=False)
    )
    assert moved == [(1, 3, "xy"), (6, 6, "z")]


def test_regex_tokenizer_settings_are_checked() -> None:
    with pytest.raises(ParamError, match="pattern: pattern '\\[' is not a valid regex"):
        RegexTokenizer(pattern="[")
    with pytest.raises(ParamError, match="maxLength must be >= 1"):
        RegexTokenizer().setMaxLength(0)
    with pytest.raises(StageInputError, match="maxLength \\(2\\) must be >= minLength \\(3\\)"):
        RegexTokenizer(minLength=3, maxLength=2).rules()


PATTERNS = [r"\s+", r"\s", ",", r"\W+", r"(?=[A-Z])", "", ".", "a|b", r"\p{P}"]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60), pattern=st.sampled_from(PATTERNS))
def test_regex_tokens_are_the_document_text_at_their_offsets(text: str, pattern: str) -> None:
    """Without lowercasing or trimming, every token is the document's text at its offsets,
    tokens come in order without overlapping, and no text (any Unicode, empty, whitespace
    only, every character a delimiter) makes the core fail."""
    previous_end = -1
    for begin, end, token in split_tokens(text, SplitRules(pattern=pattern)):
        assert token and text[begin : end + 1] == token
        assert begin > previous_end
        previous_end = end


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_regex_tokens_with_every_option_never_fail(text: str) -> None:
    rules = SplitRules(
        pattern=",", to_lowercase=True, trim_whitespace=True, preserve_position=False
    )
    for _, _, token in split_tokens(text, rules):
        assert not regex.search(r"\s", token)


# -- Normalizer -------------------------------------------------------------------------------


def test_normalizer_reference_example() -> None:
    """REFERENCE_FACTS §1.3, the reference's Normalizer docstring example."""
    text = "John and Peter are brothers. However they don't support each other that much."
    rules = NormalizeRules(patterns=(r"[^\w\d\s]",), lowercase=True)
    assert [t["result"] for t in normalize(tokens_of(text), rules)] == [
        "john", "and", "peter", "are", "brothers", "however", "they", "dont", "support",
        "each", "other", "that", "much",
    ]  # fmt: skip


def test_normalizer_default_pattern_keeps_letters_of_any_script_and_plus() -> None:
    tokens = [make_annotation(TOKEN, 4, 11, "Ça-va+1!", {"sentence": "2"})]
    [token] = normalize(tokens, NormalizeRules())
    assert (token["result"], token["begin"], token["end"]) == ("Çava+", 4, 8)
    assert token["metadata"] == {"sentence": "2"}


def test_normalizer_slang_words_share_the_token_begin() -> None:
    slang = parse_slang_lines((FIXTURES / "slang.csv").read_text().splitlines(), ",", False)
    assert slang == {"u": "you", "gr8": "great", "idk": "I do not know"}
    out = normalize([make_annotation(TOKEN, 10, 12, "IDK")], NormalizeRules(slang=slang))
    assert [(t["result"], t["begin"], t["end"]) for t in out] == [
        ("I", 10, 10), ("do", 10, 11), ("not", 10, 12), ("know", 10, 13),
    ]  # fmt: skip
    # Case-sensitive slang keys are kept as written and matched exactly.
    exact = parse_slang_lines(["Gr8 -> great", "x"], r"\s*->\s*", True)
    assert exact == {"Gr8": "great", "x": "x"}
    assert [t["result"] for t in normalize(tokens_of("gr8 Gr8"), NormalizeRules(slang=exact, slang_match_case=True))] == ["gr", "great"]  # fmt: skip


def test_normalizer_length_bounds_and_settings() -> None:
    rules = NormalizeRules(min_length=3, max_length=4)
    assert [t["result"] for t in normalize(tokens_of("a abc abcde"), rules)] == ["abc"]
    with pytest.raises(ParamError, match="cleanupPatterns: pattern"):
        Normalizer().setCleanupPatterns(["("])
    with pytest.raises(ParamError, match="read_as 'BINARY' is not supported"):
        Normalizer().setSlangDictionary("slang.txt", ",", read_as="BINARY")
    with pytest.raises(ParamError, match="slangDictionary delimiter: pattern"):
        Normalizer().setSlangDictionary("slang.txt", "(")
    # A delimiter already in options wins over the argument (the reference's Python rule).
    stage = Normalizer().setSlangDictionary("s.txt", ",", options={"delimiter": ";"})
    assert stage.getSlangDictionary() == {
        "path": "s.txt",
        "readAs": "TEXT",
        "options": {"delimiter": ";"},
    }


# -- StopWordsCleaner -------------------------------------------------------------------------


def test_stop_words_default_is_spark_mllib_english_list() -> None:
    """REFERENCE_FACTS §1.4: Spark MLlib's english.txt, 181 lowercase entries."""
    words = StopWordsCleaner().getStopWords()
    assert len(words) == 181 and words[:5] == ["i", "me", "my", "myself", "we"]
    assert {"don't", "it's", "won't"} <= set(words)
    assert words == list(default_stop_words("english"))
    with pytest.raises(ParamError, match="language 'klingon' has no default list"):
        StopWordsCleaner.loadDefaultStopWords("klingon")


def test_stop_words_reference_example() -> None:
    """REFERENCE_FACTS §1.4, the reference's docstring example (sentence tokens)."""
    stage = StopWordsCleaner()
    annotate = stage.row_core()
    out = annotate(tokens_of("This is my first sentence. This is my second."))
    assert [t["result"] for t in out] == ["first", "sentence", ".", "second", "."]
    assert out[0] == tokens_of("This is my first sentence.")[3]  # re-emitted unchanged


def test_stop_words_case_and_locale() -> None:
    tokens = tokens_of("The the THE Işık")
    assert [t["result"] for t in remove_stop_words(tokens, frozenset({"the"}), True, "en")] == [
        "The",
        "THE",
        "Işık",
    ]
    turkish = StopWordsCleaner(stopWords=["ışık"], locale="tr_TR").row_core()
    assert [t["result"] for t in turkish(tokens_of("IŞIK ışık light"))] == ["light"]
    assert lower_for_locale("İI", "tr") == "iı" and lower_for_locale("I", "en_US") == "i"
    with pytest.raises(ParamError, match="locale 'en US!' is not a locale name"):
        StopWordsCleaner().setLocale("en US!")


# -- Stemmer ----------------------------------------------------------------------------------


def test_stemmer_reference_example() -> None:
    """REFERENCE_FACTS §1.9, the reference's Stemmer docstring example."""
    tokens = tokens_of("Peter Pipers employees are picking pecks of pickled peppers.")
    out = stem_tokens(tokens)
    assert [t["result"] for t in out] == [
        "peter", "piper", "employe", "ar", "pick", "peck", "of", "pickl", "pepper", ".",
    ]  # fmt: skip
    assert [(t["begin"], t["end"], t["metadata"]) for t in out] == [
        (t["begin"], t["end"], t["metadata"]) for t in tokens
    ]


@pytest.mark.parametrize(
    ("word", "porter", "reference"),
    [
        # Porter's (1980) published answers, which we give; the reference's own code (its
        # rule-order and *o quirks, REFERENCE_FACTS §1.9 and Stemmer.scala) gives the third.
        ("feed", "feed", "fe"),
        ("agreed", "agre", "agr"),
        ("need", "need", "ne"),
        ("document", "document", "docum"),
        ("fixed", "fix", "fixe"),
        ("caresses", "caress", "caress"),
        ("relational", "relat", "relat"),
        ("hopping", "hop", "hop"),
    ],
)
def test_stemmer_gives_porter_stems(word: str, porter: str, reference: str) -> None:
    assert stem(word) == porter
    assert stem(word.upper()) == porter  # always lowercase


@settings(max_examples=200, deadline=None)
@given(word=st.text(max_size=20))
def test_stems_are_lowercase_and_never_fail(word: str) -> None:
    result = stem(word)
    assert result == result.lower() and result == stem(word.lower())


# -- Lemmatizer -------------------------------------------------------------------------------


def test_lemma_dictionary_fixture() -> None:
    """REFERENCE_FACTS §1.10: the reference's documented dictionary format."""
    lines = read_lines("dictionary", str(FIXTURES / "lemmas_small.txt"), None)
    lemmas = parse_lemma_lines(lines, "->", "\t")
    assert lemmas["picking"] == "pick" and lemmas["pickled"] == "pickle"
    assert lemmas["peppers"] == "pepper" and len(lemmas) == 16


def test_lemma_dictionary_parsing_rules() -> None:
    lines = [
        "go -> goes went",  # lemma not among its forms: not a key
        "be",  # fewer than 2 parts: skipped
        "run -> runs ran -> ignored",  # text after a second key delimiter is ignored
        "running -> ran",  # a later line overwrites
        " walk  ->  walk   walks ",  # parts trimmed; empty forms skipped
    ]
    assert parse_lemma_lines(lines, "->", r"\s+") == {
        "goes": "go",
        "went": "go",
        "runs": "run",
        "ran": "running",
        "walk": "walk",
        "walks": "walk",
    }


def test_lemmatizer_dictionary_settings() -> None:
    stage = Lemmatizer().setDictionary("d.txt", "->", "\t", options={"keyDelimiter": ":"})
    assert stage.getDictionary()["options"] == {
        "keyDelimiter": ":",
        "valueDelimiter": "\t",
    }  # options win over the arguments, as in the reference's Python
    assert Lemmatizer().setDictionary("d.txt", "->", "\t").getDictionary()["options"] == {
        "format": "text",
        "keyDelimiter": "->",
        "valueDelimiter": "\t",
    }
    with pytest.raises(ParamError, match="read_as 'XML' is not supported"):
        Lemmatizer().setDictionary("d.txt", "->", "\t", read_as="XML")
    with pytest.raises(ParamError, match="options need 'valueDelimiter'"):
        Lemmatizer()._set(
            dictionary={"path": "d", "readAs": "TEXT", "options": {"keyDelimiter": ","}}
        )
    with pytest.raises(StageInputError, match="does not exist"):
        read_lines("dictionary", str(FIXTURES / "no_such_dictionary.txt"), None)


def test_dictionaries_in_a_folder_are_read_recursively(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a.txt").write_text("pick -> picks\n", encoding="utf-8")
    (tmp_path / "b" / "c.txt").write_text("peck -> pecks\n", encoding="utf-8")
    (tmp_path / ".a.txt.crc").write_bytes(b"\x00\x01")  # Hadoop's checksums are not lines
    lines = read_lines("dictionary", tmp_path.as_uri(), None)
    assert parse_lemma_lines(lines, "->", " ") == {"picks": "pick", "pecks": "peck"}
