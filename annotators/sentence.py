"""SentenceDetector: rule-based sentence boundaries in the pragmatic-segmenter tradition.

The design differs from the reference on purpose: it never rewrites the text (the reference
replaces protected periods with placeholder symbols and maps offsets back). Instead it finds
every *terminal cluster* (a run of ``.!?…`` with any closing quotes or brackets after it),
decides for each whether it ends a sentence by reading the words around it, and cuts the
original string there. Offsets are therefore exact by construction for any Unicode text.

Rules, in the order they apply inside one paragraph:
1. custom bounds (regexes) cut first; with ``useCustomBoundsOnly`` nothing else cuts;
2. a blank line always ends a sentence; a single newline never does;
3. list items (``1.``, ``2)``, ``3.)``, ``a.``, bullets) start new sentences when they form a run;
4. a terminal cluster followed by whitespace (or a CJK full stop anywhere) is a candidate,
   and ``_cut_after`` decides it from the abbreviation, number, initial, ellipsis and
   quotation rules. Periods inside URLs, e-mails, numbers and ``[...]`` are never candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from annotators.annotation import DOCUMENT, AnnotationDict, column_metadata, make_annotation
from annotators.params import bounded_int, check_min_max, choice, java_patterns
from annotators.patterns import PicklesWithoutPatterns, compile_java_pattern
from annotators.sentence_rules import (
    GENERAL,
    NEVER_FINAL,
    NUMERIC,
    PREPOSITIVE,
    SENTENCE_STARTERS,
)
from annotators.stage import AnnotateFn, AnnotatorModel, keyword_only

CLOSERS = "\"'”’»)]}」』"
OPENERS = "\"'“‘«([{¿¡「『"
BULLETS = "•▪◦‣⁃●○■□➢➤"
CUSTOM_BOUNDS_STRATEGIES = ("none", "prepend", "append")

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
#: A terminal cluster: periods may be spaced (". . ."), other terminals run together.
_CLUSTER = re.compile(r"(?:[.!?…‽](?:[.!?…‽]| (?=\.(?:[\s.!?…‽\"'”’»)\]]|$)))*)[\"'”’»)\]}」』]*")
_CJK_CLUSTER = re.compile(r"[。！？]+[\"'”’»)\]}」』]*")
#: Spans whose periods never end a sentence: URLs, e-mail addresses, bracketed ellipses.
_PROTECTED = re.compile(
    r"(?:https?://|ftp://|www\.)\S+?(?=[.!?,;:]*(?:\s|$))"
    r"|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|\[(?:\.\.\.|…|\. \. \.)\]"
)
_LIST_MARKER = re.compile(
    rf"(?:(?<=\s)|^)(?:[{BULLETS}] ?)?(?P<label>\d{{1,3}}|[a-z])(?P<punct>\.\)|\)|\.)(?=\s)"
)
_BULLET = re.compile(rf"(?:(?<=\s)|^)[{BULLETS}](?=\s|\w)")
_MULTI_PERIOD_ABBREVIATION = re.compile(r"^(?:[^\W\d_]\.)+[^\W\d_]$")


@dataclass(frozen=True)
class SentenceRules(PicklesWithoutPatterns):
    """The detector's settings as plain data: what the Spark stage and LightPipeline share."""

    use_abbreviations: bool = True
    detect_lists: bool = True
    custom_bounds: tuple[str, ...] = ()
    use_custom_bounds_only: bool = False
    custom_bounds_strategy: str = "none"
    split_length: int | None = None
    min_length: int = 0
    max_length: int = 99999
    #: Drop sentences longer than ``max_length`` (maxLength set, as the reference does); False
    #: cuts them into pieces instead, so an unset maxLength loses no text.
    drop_over_max: bool = False
    _compiled_bounds: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        compiled = tuple(compile_java_pattern(b, "customBounds") for b in self.custom_bounds)
        object.__setattr__(self, "_compiled_bounds", compiled)


#: Characters of every kind a text holds; a custom bound that matches each of them alone would
#: drop the whole text (the classic slip: "." for a literal period).
_ANY_CHARACTER_PROBES = ("a", "Z", "7", "é", "Ж", "語", ",", "-", "_")


def _bound_complaint(pattern: str) -> str | None:
    """Refuse a custom bound that matches any single character: with it every character is a
    bound, and no sentence (and no token after it) would survive."""
    compiled = compile_java_pattern(pattern, "customBounds")
    if all(compiled.fullmatch(probe) for probe in _ANY_CHARACTER_PROBES):
        return (
            "matches any single character, so every character would be a sentence bound and "
            "the text would be lost (escape a literal period as '\\.')"
        )
    return None


# -- the core --------------------------------------------------------------------------------


#: Metadata a sentence piece carries when the detector cut it at maxLength (maxLength unset:
#: cut, not dropped); the job's summary counts them as ``sentences_cut``.
CUT_KEY, CUT_AT_MAX_LENGTH = "cut", "maxLength"


def split_sentences(text: str, rules: SentenceRules = SentenceRules()) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` as ``(start, end_exclusive)``, trimmed of whitespace.

    Applies every rule including splitLength, minLength and maxLength.
    """
    return [(start, end) for start, end, _ in sentence_pieces(text, rules)]


def sentence_pieces(
    text: str, rules: SentenceRules = SentenceRules()
) -> list[tuple[int, int, bool]]:
    """``split_sentences``, each span with whether it is a piece of a sentence cut at
    maxLength."""
    pieces = _custom_bound_pieces(text, rules)
    spans: list[tuple[int, int]] = []
    for start, end in pieces:
        if rules.use_custom_bounds_only and rules._compiled_bounds:
            spans.append((start, end))
            continue
        for para_start, para_end in _paragraphs(text, start, end):
            spans.extend(_pragmatic_spans(text, para_start, para_end, rules))
    out: list[tuple[int, int, bool]] = []
    for start, end in spans:
        trimmed = _trim(text, start, end)
        if trimmed is None:
            continue
        for piece in _force_split(text, *trimmed, rules.split_length):
            cut = piece[1] - piece[0] > rules.max_length and not rules.drop_over_max
            if cut:
                pieces = _force_split(text, *piece, rules.max_length, break_words=True)
            else:
                pieces = [piece]
            out.extend(
                (*p, cut) for p in pieces if rules.min_length <= p[1] - p[0] <= rules.max_length
            )
    return out


def _custom_bound_pieces(text: str, rules: SentenceRules) -> list[tuple[int, int]]:
    if not rules._compiled_bounds:
        return [(0, len(text))]
    cuts: list[tuple[int, int]] = []  # (end of this piece, start of the next)
    for pattern in rules._compiled_bounds:
        for m in pattern.finditer(text):
            if m.end() == m.start():
                continue
            if rules.custom_bounds_strategy == "prepend":
                cuts.append((m.start(), m.start()))
            elif rules.custom_bounds_strategy == "append":
                cuts.append((m.end(), m.end()))
            else:
                cuts.append((m.start(), m.end()))
    pieces, position = [], 0
    for end, next_start in sorted(cuts):
        if end < position:
            continue
        pieces.append((position, end))
        position = next_start
    pieces.append((position, len(text)))
    return pieces


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out, position = [], start
    for m in _PARAGRAPH_BREAK.finditer(text, start, end):
        out.append((position, m.start()))
        position = m.end()
    out.append((position, end))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _force_split(
    text: str, start: int, end: int, limit: int | None, break_words: bool = False
) -> list[tuple[int, int]]:
    """Cut a span longer than ``limit`` at whitespace. A single word longer than ``limit`` stays
    whole, as the reference keeps it (its SentenceDetectorBoundsSpec): no word is broken, unless
    ``break_words`` (pieces of at most ``limit``, for a word such as a base64 blob that would
    otherwise be dropped by maxLength) cuts it right at the limit."""
    if not limit or end - start <= limit:
        return [(start, end)]
    out = []
    while end - start > limit:
        cut = start + limit
        space = cut
        while space > start and not text[space].isspace():
            space -= 1
        if space > start:
            cut = space
        elif not break_words:  # one word longer than the limit: up to its end
            while cut < end and not text[cut].isspace():
                cut += 1
        out.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        out.append((start, end))
    return [piece for piece in (_trim(text, *p) for p in out) if piece]


def _pragmatic_spans(
    text: str, start: int, end: int, rules: SentenceRules
) -> list[tuple[int, int]]:
    protected = _protected_positions(text, start, end)
    cuts: set[int] = set()
    if rules.detect_lists:
        for marker_start, punct_positions in _list_items(text, start, end):
            if marker_start > start:
                cuts.add(marker_start)
            protected.update(punct_positions)
    for m in _CLUSTER.finditer(text, start, end):
        if m.start() in protected:
            continue
        after = m.end()
        if after < end and not text[after].isspace():
            continue
        cut = _cut_after(text, m.start(), m.end(), end, rules)
        if cut is not None:
            cuts.add(cut)
    for m in _CJK_CLUSTER.finditer(text, start, end):
        cuts.add(m.end())
    spans, position = [], start
    for cut in sorted(c for c in cuts if start < c < end):
        spans.append((position, cut))
        position = cut
    spans.append((position, end))
    return spans


def _protected_positions(text: str, start: int, end: int) -> set[int]:
    positions: set[int] = set()
    for m in _PROTECTED.finditer(text, start, end):
        positions.update(range(m.start(), m.end()))
    return positions


def _list_items(text: str, start: int, end: int) -> list[tuple[int, set[int]]]:
    """Start offsets of list items that form a numbered or lettered run, or bullets.

    A marker counts only when its neighbour continues the sequence (1 then 2, a then b), so a
    stray "p. 55" or "I have 2) things" is left alone.
    """
    markers = []
    for m in _LIST_MARKER.finditer(text, start, end):
        label = m.group("label")
        value = int(label) if label.isdigit() else ord(label) - ord("a") + 1
        kind = ("digit" if label.isdigit() else "letter", m.group("punct"))
        punct = set(range(m.start("punct"), m.end("punct")))
        markers.append((m.start(), value, kind, punct))
    items: list[tuple[int, set[int]]] = []
    for i, (position, value, kind, punct) in enumerate(markers):
        before = markers[i - 1] if i > 0 else None
        after = markers[i + 1] if i + 1 < len(markers) else None
        if (before and before[2] == kind and before[1] + 1 == value) or (
            after and after[2] == kind and after[1] == value + 1
        ):
            items.append((position, punct))
    bullets = [m.start() for m in _BULLET.finditer(text, start, end)]
    if len(bullets) >= 2:
        marked = {position for position, _ in items}
        items.extend((b, set()) for b in bullets if b not in marked and b + 2 not in marked)
    return items


def _word_before(text: str, position: int, floor: int) -> tuple[str, int]:
    """The whitespace-delimited word ending at ``position`` (its openers stripped) and its start."""
    begin = position
    while begin > floor and not text[begin - 1].isspace():
        begin -= 1
    word = text[begin:position]
    stripped = word.lstrip(OPENERS)
    return stripped, begin + len(word) - len(stripped)


def _next_word(text: str, position: int, end: int) -> str:
    while position < end and text[position].isspace():
        position += 1
    stop = position
    while stop < end and not text[stop].isspace():
        stop += 1
    return text[position:stop]


def _first_letter(word: str) -> str:
    """The first character after opening punctuation ('"The' -> 'T')."""
    stripped = word.lstrip(OPENERS)
    return stripped[:1]


def _cut_after(
    text: str, cluster_start: int, cluster_end: int, end: int, rules: SentenceRules
) -> int | None:
    """Where a terminal cluster ends a sentence (usually ``cluster_end``), or None."""
    nxt = _next_word(text, cluster_end, end)
    if not nxt:
        return cluster_end
    cluster = text[cluster_start:cluster_end]
    marks = cluster.rstrip(CLOSERS)
    has_closer = len(marks) < len(cluster)
    first = _first_letter(nxt)
    if first.islower():
        # "Is it? he asked" ends at the question mark (pySBD and the reference agree); an
        # exclamation mark before a lower-case word does not ("Yahoo! in ...", the golden rules)
        question = not marks.rstrip("?") and not has_closer
        return cluster_end if question and not _inside_quotation(text, cluster_start) else None
    periods = marks.count(".")
    if "…" in marks or periods >= 2:
        return _ellipsis_cut(text, cluster_start, marks, cluster_end, first)
    if marks != ".":
        return cluster_end  # ! ? and mixtures, before a capital, digit or symbol
    word, word_start = _word_before(text, cluster_start, 0)
    if rules.detect_lists and not has_closer and _is_line_enumerator(text, word, word_start):
        return None  # "9. Right upper lobe ..." numbers its line, it is not a sentence
    if has_closer or not rules.use_abbreviations:
        return cluster_end
    return None if _period_is_abbreviation(text, word, word_start, nxt) else cluster_end


#: How far back ``_inside_quotation`` looks for an open quotation mark.
_QUOTATION_LOOKBACK = 2000


def _inside_quotation(text: str, position: int) -> bool:
    """Whether an opened quotation is still open at ``position`` (“How so? how can it ...”):
    a question inside one does not end the sentence before a lower-case word (pySBD agrees)."""
    before = text[max(0, position - _QUOTATION_LOOKBACK) : position]
    return before.count("“") > before.count("”") or before.count('"') % 2 == 1


def _is_line_enumerator(text: str, word: str, word_start: int) -> bool:
    """A number of one to three digits that opens its line ("9." in "9. Right lobe"): an
    enumerator even without a neighbouring item to continue a list run."""
    if not (word.isdigit() and len(word) <= 3):
        return False
    position = word_start
    while position > 0 and text[position - 1] in " \t":
        position -= 1
    return position == 0 or text[position - 1] in "\r\n"


def _ellipsis_cut(
    text: str, cluster_start: int, marks: str, cluster_end: int, first: str
) -> int | None:
    """Three dots mark an omission inside a sentence; four mark an omission plus a full stop.

    Spaced dots follow the style guides (". . ." continues, ". . . ." ends); when the first of
    four spaced dots is attached to a word ("compounds. . . . The"), that period ends the sentence
    and the following ". . ." opens the next one. Unspaced "..." or "…" before a capital ends it.
    """
    if not (first.isupper() or first.isdigit()):
        return None
    dots = marks.count(".") + 3 * marks.count("…")
    spaced = " " in marks
    if not spaced:
        return cluster_end
    if dots < 4:
        return None
    attached = cluster_start > 0 and not text[cluster_start - 1].isspace()
    return cluster_start + 1 if attached else cluster_end


def _period_is_abbreviation(text: str, word: str, word_start: int, nxt: str) -> bool:
    """Does the period after ``word`` belong to it (rather than ending the sentence)?"""
    if not word:
        return False
    key = word.lower()
    first = _first_letter(nxt)
    if key in NEVER_FINAL or key in PREPOSITIVE:
        return True
    if first.isdigit():
        known = key in NUMERIC or key in GENERAL
        return known or len(word) == 1 or word.endswith("°")
    if len(word) == 1 and word.isalpha():
        return _is_initial(text, word, word_start)
    if _MULTI_PERIOD_ABBREVIATION.match(word):
        return nxt.lower().strip("\"'“‘(").rstrip(".,;:!?") not in SENTENCE_STARTERS
    return False


def _is_initial(text: str, letter: str, letter_start: int) -> bool:
    """A capital letter and a period is a name's initial when a name comes before it.

    "Jonas E. Smith" and "Albert I. Jones" keep going; "you and I. Did" ends. At the start of a
    sentence ("E. Smith went") it is an initial too.
    """
    if not letter.isupper():
        return False
    previous, _ = _word_before(text, _skip_space_back(text, letter_start), 0)
    if not previous:
        return True
    head = previous.rstrip(",")
    return head[:1].isupper() and not head.endswith((".", "!", "?"))


def _skip_space_back(text: str, position: int) -> int:
    while position > 0 and text[position - 1].isspace():
        position -= 1
    return position


# -- the stage -------------------------------------------------------------------------------


def _sentence_annotator(rules: SentenceRules) -> AnnotateFn:
    def annotate(documents: list[AnnotationDict]) -> list[AnnotationDict]:
        out: list[AnnotationDict] = []
        for document in documents:
            text = document["result"] or ""
            base = document["begin"]
            for start, end, cut in sentence_pieces(text, rules):
                metadata = {"sentence": str(len(out))}
                if cut:
                    metadata[CUT_KEY] = CUT_AT_MAX_LENGTH
                piece = text[start:end]
                out.append(make_annotation(DOCUMENT, base + start, base + end - 1, piece, metadata))
        return out

    return annotate


class SentenceDetector(AnnotatorModel):
    """Split documents into sentences (``document`` in and out) with Spark NLP's parameters.

    ====================== ======================
    Input Annotation types Output Annotation type
    ====================== ======================
    ``DOCUMENT``           ``DOCUMENT``
    ====================== ======================

    Parameters
    ----------
    outputCol
        The sentence column, ``sentence`` by default.
    useAbbreviations
        A period after a known abbreviation (``Mr.``, ``p.m.``) does not end a sentence; True
        by default.
    detectLists
        Numbered, lettered and bulleted list items start sentences; True by default.
    customBounds
        Regexes that cut the text wherever they match; none by default. A regex that matches
        any single character (``.`` for a literal period) is refused: it would drop the text.
    useCustomBoundsOnly
        Cut at the custom bounds only, with no other rule; False by default.
    customBoundsStrategy
        What becomes of a custom bound's match: ``none`` (the default: dropped), ``prepend``
        (it starts the next sentence) or ``append`` (it ends the previous one).
    explodeSentences
        On Spark, one row per sentence instead of one per document; False by default.
    splitLength
        Sentences longer than this are cut at whitespace; unset by default.
    minLength, maxLength
        Sentences shorter or longer are dropped; 0 and 99999 by default. Unset, maxLength drops
        nothing: a longer sentence (text without sentence punctuation: logs, transcripts) is cut
        into pieces of at most 99999 characters, at whitespace where it can, each piece's
        metadata marked ``cut: maxLength``.

    Examples
    --------
    >>> from pyspark.ml import PipelineModel
    >>> from annotators import DocumentAssembler, LightPipeline, SentenceDetector
    >>> document = DocumentAssembler().setInputCol("text").setOutputCol("document")
    >>> sentence = SentenceDetector().setInputCols(["document"]).setOutputCol("sentence")
    >>> light = LightPipeline(PipelineModel([document, sentence]))
    >>> text = "Mr. Smith went to Washington. He arrived at 5 p.m. on Monday!"
    >>> light.annotate(text)["sentence"]
    ['Mr. Smith went to Washington.', 'He arrived at 5 p.m. on Monday!']
    >>> [(s.begin, s.end) for s in light.fullAnnotate(text)[0]["sentence"]]
    [(0, 28), (30, 60)]

    On Spark, with a row per sentence:

    >>> rows = SentenceDetector(inputCols=["document"], explodeSentences=True)
    >>> data = document.transform(spark.createDataFrame([(text,)], "text string"))
    >>> rows.transform(data).select("sentence.result").show(truncate=False)
    +---------------------------------+
    |result                           |
    +---------------------------------+
    |[Mr. Smith went to Washington.]  |
    |[He arrived at 5 p.m. on Monday!]|
    +---------------------------------+
    <BLANKLINE>
    """

    useAbbreviations = Param(
        Params._dummy(),
        "useAbbreviations",
        "whether to apply abbreviations at sentence detection",
        TypeConverters.toBoolean,
    )
    detectLists = Param(
        Params._dummy(),
        "detectLists",
        "whether to take lists into consideration",
        TypeConverters.toBoolean,
    )
    customBounds = Param(
        Params._dummy(),
        "customBounds",
        "regexes that explicitly mark sentence bounds",
        java_patterns("customBounds", _bound_complaint),
    )
    useCustomBoundsOnly = Param(
        Params._dummy(),
        "useCustomBoundsOnly",
        "only use custom bounds for sentence detection",
        TypeConverters.toBoolean,
    )
    customBoundsStrategy = Param(
        Params._dummy(),
        "customBoundsStrategy",
        "how to return matched custom bounds: none (drop), prepend, append",
        choice("customBoundsStrategy", CUSTOM_BOUNDS_STRATEGIES),
    )
    explodeSentences = Param(
        Params._dummy(),
        "explodeSentences",
        "whether to explode each sentence into its own row",
        TypeConverters.toBoolean,
    )
    splitLength = Param(
        Params._dummy(),
        "splitLength",
        "length at which sentences are forcibly split",
        bounded_int("splitLength", 0),
    )
    minLength = Param(
        Params._dummy(),
        "minLength",
        "minimum allowed length of a sentence",
        bounded_int("minLength", 0),
    )
    maxLength = Param(
        Params._dummy(),
        "maxLength",
        "maximum allowed length of a sentence",
        bounded_int("maxLength", 1),
    )

    input_annotator_types = (DOCUMENT,)
    output_annotator_type = DOCUMENT

    @keyword_only
    def __init__(
        self,
        *,
        inputCols: list[str] | None = None,
        outputCol: str = "sentence",
        useAbbreviations: bool = True,
        detectLists: bool = True,
        customBounds: list[str] | None = None,
        useCustomBoundsOnly: bool = False,
        customBoundsStrategy: str = "none",
        explodeSentences: bool = False,
        splitLength: int | None = None,
        minLength: int = 0,
        maxLength: int = 99999,
    ) -> None:
        super().__init__()
        self._setDefault(
            outputCol="sentence",
            useAbbreviations=True,
            detectLists=True,
            customBounds=[],
            useCustomBoundsOnly=False,
            customBoundsStrategy="none",
            explodeSentences=False,
            minLength=0,
            maxLength=99999,
        )
        self._set_keywords(self._input_kwargs)

    def setUseAbbreviations(self, value: bool) -> SentenceDetector:
        return self._set(useAbbreviations=value)

    def getUseAbbreviations(self) -> bool:
        return self.getOrDefault(self.useAbbreviations)

    def setDetectLists(self, value: bool) -> SentenceDetector:
        return self._set(detectLists=value)

    def getDetectLists(self) -> bool:
        return self.getOrDefault(self.detectLists)

    def setCustomBounds(self, value: list[str]) -> SentenceDetector:
        return self._set(customBounds=value)

    def getCustomBounds(self) -> list[str]:
        return self.getOrDefault(self.customBounds)

    def setUseCustomBoundsOnly(self, value: bool) -> SentenceDetector:
        return self._set(useCustomBoundsOnly=value)

    def getUseCustomBoundsOnly(self) -> bool:
        return self.getOrDefault(self.useCustomBoundsOnly)

    def setCustomBoundsStrategy(self, value: str) -> SentenceDetector:
        return self._set(customBoundsStrategy=value)

    def getCustomBoundsStrategy(self) -> str:
        return self.getOrDefault(self.customBoundsStrategy)

    def setExplodeSentences(self, value: bool) -> SentenceDetector:
        return self._set(explodeSentences=value)

    def getExplodeSentences(self) -> bool:
        return self.getOrDefault(self.explodeSentences)

    def setSplitLength(self, value: int) -> SentenceDetector:
        return self._set(splitLength=value)

    def getSplitLength(self) -> int:
        return self.getOrDefault(self.splitLength)

    def setMinLength(self, value: int) -> SentenceDetector:
        return self._set(minLength=value)

    def getMinLength(self) -> int:
        return self.getOrDefault(self.minLength)

    def setMaxLength(self, value: int) -> SentenceDetector:
        return self._set(maxLength=value)

    def getMaxLength(self) -> int:
        return self.getOrDefault(self.maxLength)

    def rules(self) -> SentenceRules:
        """The settings as plain data; checks minLength <= maxLength."""
        check_min_max("SentenceDetector", self.getMinLength(), self.getMaxLength())
        return SentenceRules(
            use_abbreviations=self.getUseAbbreviations(),
            detect_lists=self.getDetectLists(),
            custom_bounds=tuple(self.getCustomBounds()),
            use_custom_bounds_only=self.getUseCustomBoundsOnly(),
            custom_bounds_strategy=self.getCustomBoundsStrategy(),
            split_length=self.getSplitLength() if self.isDefined(self.splitLength) else None,
            min_length=self.getMinLength(),
            max_length=self.getMaxLength(),
            drop_over_max=self.isSet(self.maxLength),
        )

    def row_core(self) -> AnnotateFn:
        return _sentence_annotator(self.rules())

    def reshapes_rows(self) -> bool:
        return self.getExplodeSentences()

    def _after_transform(self, dataset: DataFrame) -> DataFrame:
        if not self.getExplodeSentences():
            return dataset
        output = self.getOutputCol()
        others = [F.col(c) for c in dataset.columns if c != output]
        # explode_outer: a document without sentences (null, empty) keeps its row, with none.
        exploded = dataset.select(*others, F.explode_outer(F.col(output)).alias("__sentence"))
        sentence = F.col("__sentence")
        single = F.when(sentence.isNull(), F.array()).otherwise(F.array(sentence))
        single = single.cast(dataset.schema[output].dataType).alias(
            output, metadata=column_metadata(self.output_annotator_type)
        )
        return exploded.select(*others, single)
