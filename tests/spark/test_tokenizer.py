"""Tokenizer and TokenizerModel: Spark NLP's default behaviour and every parameter."""

from __future__ import annotations

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from annotators import DocumentAssembler, Tokenizer
from annotators.tokenizer import DEFAULT_CONTEXT_CHARS, TokenRules, tokenize
from tests.support import annotations_of

DEFAULT_RULES = TokenRules()


def tokens(text: str, rules: TokenRules = DEFAULT_RULES) -> list[str]:
    return [text[start:end] for start, end in tokenize(text, rules)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, world.", ["Hello", ",", "world", "."]),
        ('He said "(hi)." ok', ["He", "said", '"(', "hi", ')."', "ok"]),
        ("I'm well-known... really?!", ["I'm", "well-known", "...", "really", "?!"]),
        ("e-mail: a@b.com", ["e-mail", ":", "a@b.com"]),
        ("한국어 문장입니다. 😀👍", ["한국어", "문장입니다", ".", "😀👍"]),
        ("tab\tnew\nline  spaces", ["tab", "new", "line", "spaces"]),
        ("---", ["---"]),
        ("", []),
    ],
)
def test_default_tokenization(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .,;:!?*-()\"'\n😀한"))))
def test_default_rule_equals_the_reference_regex_rule(text: str) -> None:
    """The fast default path is the reference's prefix/infix/suffix regex, written out."""
    quoted = regex.escape("".join(DEFAULT_CONTEXT_CHARS))
    as_regex = TokenRules(infix_patterns=(rf"([^{quoted}](?:.*[^{quoted}])*)",))
    assert tokenize(text, as_regex) == tokenize(text)


def test_exceptions_keep_multi_word_tokens_whole() -> None:
    rules = TokenRules(exceptions=("New York", "e-mail"))
    assert tokens("I love New York. Send e-mail now", rules) == [
        "I",
        "love",
        "New York.",
        "Send",
        "e-mail",
        "now",
    ]


def test_case_insensitive_exceptions() -> None:
    sensitive = TokenRules(exceptions=("new york",))
    insensitive = TokenRules(exceptions=("new york",), case_sensitive_exceptions=False)
    assert tokens("New York", sensitive) == ["New", "York"]
    assert tokens("New York", insensitive) == ["New York"]


def test_split_chars_and_split_pattern() -> None:
    assert tokens("well-known fact", TokenRules(split_chars=("-",))) == ["well", "known", "fact"]
    assert tokens("a.b", TokenRules(split_chars=(".",), context_chars=())) == ["a", "b"]
    text = "Tokens in this-text will#be#split"
    assert tokens(text, TokenRules(split_pattern="-|#")) == [
        "Tokens",
        "in",
        "this",
        "text",
        "will",
        "be",
        "split",
    ]


def test_infix_prefix_and_suffix_patterns() -> None:
    french = TokenRules(infix_patterns=(r"([\p{L}\w]+'{1})([\p{L}\w]+)",))
    assert tokens("l'une d'un l'extrême", french) == ["l'", "une", "d'", "un", "l'", "extrême"]
    custom = TokenRules(prefix_pattern=r"\A([#@]*)", suffix_pattern=r"([!]*)\z")
    assert tokens("#tag! @you", custom) == ["#", "tag", "!", "@", "you"]


def test_target_pattern_picks_candidates() -> None:
    assert tokens("abc 123 DEF", TokenRules(target_pattern="[a-z]+")) == ["abc"]


def test_min_and_max_length() -> None:
    assert tokens("a bb ccc dddd", TokenRules(min_length=2, max_length=3)) == ["bb", "ccc"]


def test_setters_validate_with_clear_messages() -> None:
    with pytest.raises(ValueError, match="prefixPattern must begin with"):
        Tokenizer().setPrefixPattern("([a-z]*)")
    with pytest.raises(ValueError, match="suffixPattern must end with"):
        Tokenizer().setSuffixPattern("([a-z]*)")
    with pytest.raises(ValueError, match="infixPatterns must use regex groups"):
        Tokenizer().setInfixPatterns(["[a-z]+"])
    with pytest.raises(
        ValueError, match="contextChars: every element must be one character, got 'ab'"
    ):
        Tokenizer().setContextChars(["ab"])
    with pytest.raises(ValueError, match="targetPattern: pattern '\\[' is not a valid regex"):
        Tokenizer().setTargetPattern("[")
    with pytest.raises(ValueError, match="minLength must be >= 0, got -2"):
        Tokenizer().setMinLength(-2)


def test_defaults_match_the_reference() -> None:
    tokenizer = Tokenizer()
    assert tokenizer.getTargetPattern() == "\\S+"
    assert tokenizer.getContextChars() == list(DEFAULT_CONTEXT_CHARS)
    assert tokenizer.getCaseSensitiveExceptions() is True
    assert (tokenizer.getMinLength(), tokenizer.getMaxLength()) == (0, 99999)
    assert tokenizer.getOutputCol() == "token"


def test_add_infix_pattern_goes_first() -> None:
    tokenizer = Tokenizer().setInfixPatterns(["(b)"]).addInfixPattern("(a)")
    assert tokenizer.getInfixPatterns() == ["(a)", "(b)"]


def test_fit_reads_exceptions_path_and_tokenizes_in_spark(spark, tmp_path) -> None:
    path = tmp_path / "exceptions.txt"
    path.write_text("New York\n\nice cream\n", encoding="utf-8")
    df = spark.createDataFrame([("I like ice cream in New York.",)], "text string")
    document = DocumentAssembler().setInputCol("text").transform(df)
    model = Tokenizer().setInputCols(["document"]).setExceptionsPath(str(path)).fit(document)
    assert model.getExceptions() == ["New York", "ice cream"]
    out = model.transform(document)
    assert out.schema["token"].metadata == {"annotatorType": "token"}
    [found] = annotations_of(out.collect(), "token")
    # As in the reference, a candidate holding an exception stays whole, punctuation included.
    assert [a["result"] for a in found] == ["I", "like", "ice cream", "in", "New York."]
    assert all(a["metadata"] == {"sentence": "0"} for a in found)


def test_missing_exceptions_file_is_named(spark) -> None:
    df = spark.createDataFrame([("x",)], "text string")
    document = DocumentAssembler().setInputCol("text").transform(df)
    with pytest.raises(ValueError, match=r"exceptionsPath: cannot read /no/such/file\.txt"):
        Tokenizer().setInputCols("document").setExceptionsPath("/no/such/file.txt").fit(document)


def test_rules_pickle_as_plain_settings_without_compiled_patterns() -> None:
    """A Connect client may run another `regex` release than the server's workers: compiled
    patterns (whose pickled flags changed meaning between releases) must not travel."""
    import pickle

    from annotators.sentence import SentenceRules

    for rules in (TokenRules(exceptions=("New York",)), SentenceRules(custom_bounds=("@@",))):
        data = pickle.dumps(rules)
        assert b"regex" not in data and b"_compiled" not in data
        assert pickle.loads(data) == rules
    copy = pickle.loads(pickle.dumps(TokenRules(exceptions=("New York",))))
    assert tokenize("I love New York today", copy)[2] == (7, 15)
