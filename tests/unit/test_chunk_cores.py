"""The pure cores of TokenAssembler, Doc2Chunk, Chunk2Doc and Token2Chunk, without Spark.

Rules from the reference's sources (``TokenAssembler.scala``, ``Doc2Chunk.scala``,
``Chunk2Doc.scala``, ``Token2Chunk.scala``; /work/shared/REFERENCE_FACTS.md §1.5-§1.8), and
properties of TokenAssembler's join on generated token layouts.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from annotators.annotation import CHUNK, DOCUMENT, TOKEN, make_annotation
from annotators.chunks import (
    chunks_to_documents,
    documents_to_chunks,
    find_chunks,
    tokens_to_chunks,
)
from annotators.errors import StageInputError
from annotators.token_assembler import assemble_tokens


def document(text: str, begin: int = 0, **metadata: str) -> dict:
    return make_annotation(DOCUMENT, begin, begin + len(text) - 1, text, metadata or None)


def tokens_of(text: str, words: list[str], offset: int = 0, sentence: str = "0") -> list[dict]:
    """Token annotations of ``words``, found left to right in ``text`` (absolute offsets)."""
    found, start = [], 0
    for word in words:
        at = text.index(word, start)
        begin = offset + at
        found.append(
            make_annotation(TOKEN, begin, begin + len(word) - 1, word, {"sentence": sentence})
        )
        start = at + len(word)
    return found


def target(text: str | None, start: int | None = None) -> dict:
    """What Doc2Chunk's Spark side hands the core for one chunkCol string."""
    return make_annotation(CHUNK, start, 0, text)  # type: ignore[arg-type]


# -- TokenAssembler ----------------------------------------------------------------------------


def test_token_assembler_reference_example_layout() -> None:
    """The reference's docstring example (sparknlp/base/token_assembler.py): after Normalizer
    and StopWordsCleaner the tokens below remain, at the Tokenizer's offsets of the sentence;
    the reference prints ``[document, 0, 80, Spark NLP opensource text processing library
    advanced natural language processing, [sentence -> 0], []]``."""
    text = "Spark NLP is an open-source text processing library for advanced natural language processing."
    kept = [
        "Spark",
        "NLP",
        "open-source",
        "text",
        "processing",
        "library",
        "advanced",
        "natural",
        "language",
        "processing",
    ]
    tokens = tokens_of(text, kept)
    for token in tokens:  # the Normalizer's cleanup keeps the offsets, changes the text
        token["result"] = token["result"].replace("-", "")
    [out] = assemble_tokens([document(text)], tokens)
    assert (out["annotatorType"], out["begin"], out["end"]) == (DOCUMENT, 0, 80)
    assert (
        out["result"]
        == "Spark NLP opensource text processing library advanced natural language processing"
    )
    assert out["metadata"] == {"sentence": "0"}


def test_token_assembler_gaps_adjacency_and_preserve_position() -> None:
    text = "Hello,  world\t!\n\nBye"
    tokens = tokens_of(text, ["Hello", ",", "world", "!", "Bye"])
    [plain] = assemble_tokens([document(text)], tokens)
    assert plain["result"] == "Hello, world ! Bye"
    [kept] = assemble_tokens([document(text)], tokens, preserve_position=True)
    assert kept["result"] == text
    # a removed token's characters are dropped, only the whitespace of the gap is kept
    without_comma = [t for t in tokens if t["result"] != ","]
    [dropped] = assemble_tokens([document(text)], without_comma, preserve_position=True)
    assert dropped["result"] == "Hello  world\t!\n\nBye"


@pytest.mark.parametrize(
    ("gap", "kept"),
    [
        ("\u2028", "\u2028"),  # the JVM's \v is every vertical whitespace: kept
        ("\x85", "\x85"),
        ("\x0b", "\x0b"),
        ("\x1c", " "),  # Python calls it whitespace, the reference's class does not
        ("\u00a0", " "),  # no-break space is not in the class either
        ("-", " "),  # no whitespace in the gap: one space
    ],
)
def test_token_assembler_preserved_whitespace_is_the_references_class(gap: str, kept: str) -> None:
    text = f"a{gap}b"
    tokens = tokens_of(text, ["a", "b"])
    [out] = assemble_tokens([document(text)], tokens, preserve_position=True)
    assert out["result"] == f"a{kept}b"


def test_token_assembler_documents_tokens_and_indexes() -> None:
    """Each document takes the tokens inside it; metadata is only its position in the row; a
    document without tokens is empty with end = begin - 1; overlapping tokens join directly."""
    text = "One two. Three four."
    first, second = document("One two.", 0, sentence="7"), document("Three four.", 9, sentence="9")
    tokens = tokens_of(text, ["One", "two", ".", "Three", "four", "."])
    out = assemble_tokens([first, second, document("", 30)], tokens)
    assert [(a["begin"], a["end"], a["result"], a["metadata"]) for a in out] == [
        (0, 7, "One two.", {"sentence": "0"}),
        (9, 19, "Three four.", {"sentence": "1"}),
        (30, 29, "", {"sentence": "2"}),
    ]
    overlapping = [make_annotation(TOKEN, 0, 2, "One"), make_annotation(TOKEN, 1, 4, "ne t")]
    assert assemble_tokens([first], overlapping)[0]["result"] == "Onene t"


WORD = st.text(alphabet="abcXYZé.,'-0", min_size=1, max_size=6)
#: Whitespace the reference keeps with preservePosition ("" = the next token touches this one).
GAP = st.sampled_from(["", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\f", "\u2028", " \n "])


@st.composite
def layouts(draw: st.DrawFn) -> tuple[str, int, list[str], list[str]]:
    """A document text (its begin), its words and the gaps after each word but the last."""
    words = draw(st.lists(WORD, min_size=1, max_size=12))
    gaps = [draw(GAP) for _ in words[1:]]
    lead, trail = draw(st.sampled_from(["", " ", "\n"])), draw(st.sampled_from(["", " ", "\t"]))
    text = lead + "".join(w + g for w, g in zip(words, [*gaps, ""], strict=True)) + trail
    return text, draw(st.integers(0, 50)), words, gaps


def layout_tokens(text: str, begin: int, words: list[str]) -> list[dict]:
    return tokens_of(text, words, offset=begin)


@settings(max_examples=200, deadline=None)
@given(layouts())
def test_token_assembler_rebuilds_whitespace_separated_text(layout) -> None:
    """With every token kept, preservePosition gives the document's text from the first token
    to the last; without it every whitespace run becomes one space and touching tokens stay
    joined; offsets are ``begin = document begin``, ``end = begin + len - 1``."""
    text, begin, words, gaps = layout
    tokens = layout_tokens(text, begin, words)
    doc = document(text, begin)
    [kept] = assemble_tokens([doc], tokens, preserve_position=True)
    first, last = tokens[0]["begin"] - begin, tokens[-1]["end"] - begin
    assert kept["result"] == text[first : last + 1]
    [plain] = assemble_tokens([doc], tokens)
    expected = words[0] + "".join(
        (" " if g else "") + w for g, w in zip(gaps, words[1:], strict=True)
    )
    assert plain["result"] == expected
    for out in (kept, plain):
        assert out["begin"] == begin
        assert out["end"] == begin + len(out["result"]) - 1
        assert out["metadata"] == {"sentence": "0"}
    # tokens outside the document change nothing
    outside = make_annotation(TOKEN, begin + len(text), begin + len(text) + 2, "out")
    assert assemble_tokens([doc], [*tokens, outside]) == [plain]


@settings(max_examples=200, deadline=None)
@given(layouts(), st.data())
def test_token_assembler_with_removed_tokens(layout, data) -> None:
    """Removing tokens (stop words, punctuation) with preservePosition: the output is the kept
    tokens in order, each separated from the previous one by nothing when they touch, else by
    the whitespace the document holds between them, or one space when it holds none."""
    text, begin, words, _ = layout
    tokens = layout_tokens(text, begin, words)
    keep = data.draw(st.lists(st.booleans(), min_size=len(tokens), max_size=len(tokens)))
    kept = [t for t, k in zip(tokens, keep, strict=True) if k]
    [out] = assemble_tokens([document(text, begin)], kept, preserve_position=True)
    result, position = out["result"], 0
    for previous, token in zip([None, *kept], kept, strict=False):
        if previous is not None:
            separator = re.match(r"\s*", result[position:]).group()
            gap = text[previous["end"] + 1 - begin : token["begin"] - begin]
            expected = "".join(ch for ch in gap if ch.isspace()) or " " if gap else ""
            assert separator == expected
            position += len(separator)
        assert result[position : position + len(token["result"])] == token["result"]
        position += len(token["result"])
    assert position == len(result)
    assert out["end"] == begin + len(result) - 1


# -- Doc2Chunk ---------------------------------------------------------------------------------

SPARK_NLP = (
    "Spark NLP is an open-source text processing library for advanced natural language processing."
)


def test_doc2chunk_reference_example() -> None:
    """The reference's docstring example (sparknlp/base/doc2_chunk.py) with isArray."""
    chunks = find_chunks(
        [document(SPARK_NLP, sentence="0")],
        [
            target("Spark NLP"),
            target("text processing library"),
            target("natural language processing"),
        ],
    )
    assert [
        (c["annotatorType"], c["begin"], c["end"], c["result"], c["metadata"]) for c in chunks
    ] == [
        (CHUNK, 0, 8, "Spark NLP", {"sentence": "0", "chunk": "0"}),
        (CHUNK, 28, 50, "text processing library", {"sentence": "0", "chunk": "1"}),
        (CHUNK, 65, 91, "natural language processing", {"sentence": "0", "chunk": "2"}),
    ]
    assert all(SPARK_NLP[c["begin"] : c["end"] + 1] == c["result"] for c in chunks)


def test_doc2chunk_start_index_and_first_occurrence() -> None:
    doc = [document("a b a b a")]
    assert [c["begin"] for c in find_chunks(doc, [target("a"), target("a")])] == [0, 0]
    assert [c["begin"] for c in find_chunks(doc, [target("a", 1)])] == [4]
    assert [c["begin"] for c in find_chunks(doc, [target("a", -3)])] == [0]  # as Java: from 0
    assert find_chunks(doc, [target("a", 99)]) == []
    # by word index: the 3rd space-separated piece starts at 4; a missing word is not found
    assert [c["begin"] for c in find_chunks(doc, [target("a", 2)], by_token_index=True)] == [4]
    assert find_chunks(doc, [target("a", 5)], by_token_index=True) == []
    assert [c["begin"] for c in find_chunks(doc, [target("a", None)], by_token_index=True)] == [0]


def test_doc2chunk_offsets_are_inside_the_document_text() -> None:
    """The reference does not add the document's begin: offsets index the document's text."""
    [chunk] = find_chunks([document("New York", 20)], [target("York")])
    assert (chunk["begin"], chunk["end"]) == (4, 7)


def test_doc2chunk_case() -> None:
    doc = [document("Spark NLP")]
    assert find_chunks(doc, [target("spark")]) == []  # case-sensitive by default
    found = find_chunks(doc, [target("spark"), target("NLP")], lower_case=True)
    assert [(c["begin"], c["result"]) for c in found] == [(0, "spark"), (6, "NLP")]
    # lowering keeps the length, so offsets stay right after characters such as "İ"
    [after] = find_chunks([document("İstanbul Spark")], [target("spark")], lower_case=True)
    assert after["begin"] == 9


def test_doc2chunk_missing_chunks() -> None:
    doc = [document("Spark NLP", sentence="0")]
    assert find_chunks(doc, [target("Flink"), target(" "), target(""), target(None)]) == []
    with pytest.raises(
        StageInputError, match="cannot find the chunk 'Flink' in the document 'Spark NLP'"
    ):
        find_chunks(doc, [target("Flink")], fail_on_missing=True)
    with pytest.raises(StageInputError, match="cannot find the chunk ' '"):
        find_chunks(doc, [target(" ")], fail_on_missing=True)


def test_doc2chunk_metadata_and_whole_documents() -> None:
    doc = document("Spark NLP", sentence="3", chunk="9")
    [chunk] = find_chunks([doc], [target("x"), target("NLP")])
    assert chunk["metadata"] == {"sentence": "3", "chunk": "1"}
    [whole] = documents_to_chunks([doc])
    assert (whole["annotatorType"], whole["begin"], whole["end"], whole["result"]) == (
        CHUNK,
        0,
        8,
        "Spark NLP",
    )
    assert whole["metadata"] == {"sentence": "3", "chunk": "0"}


# -- Chunk2Doc, Token2Chunk --------------------------------------------------------------------


def test_token2chunk_reference_example() -> None:
    """The reference's docstring example (sparknlp/annotator/token2_chunk.py): no chunk key."""
    text = "One Two Three Four"
    chunks = tokens_to_chunks(tokens_of(text, text.split()))
    assert [
        (c["annotatorType"], c["begin"], c["end"], c["result"], c["metadata"]) for c in chunks
    ] == [
        (CHUNK, 0, 2, "One", {"sentence": "0"}),
        (CHUNK, 4, 6, "Two", {"sentence": "0"}),
        (CHUNK, 8, 12, "Three", {"sentence": "0"}),
        (CHUNK, 14, 17, "Four", {"sentence": "0"}),
    ]


def test_chunk2doc_reference_example() -> None:
    """The reference's docstring example (sparknlp/annotator/chunk2_doc.py), its entities."""
    metadata = [
        {"entity": "LOC", "sentence": "0", "chunk": "0"},
        {"entity": "LOC", "sentence": "0", "chunk": "1"},
    ]
    chunks = [
        make_annotation(CHUNK, 0, 7, "New York", metadata[0], [0.5]),
        make_annotation(CHUNK, 13, 22, "New Jersey", metadata[1]),
    ]
    documents = chunks_to_documents(chunks)
    assert documents == [
        make_annotation(DOCUMENT, 0, 7, "New York", metadata[0]),
        make_annotation(DOCUMENT, 13, 22, "New Jersey", metadata[1]),
    ]
    assert documents[0]["metadata"] is not chunks[0]["metadata"]  # a copy, not shared
