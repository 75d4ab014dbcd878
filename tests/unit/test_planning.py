"""The encoder's planning functions, property-tested: windows cover every piece with the
documented overlap, every token gets exactly one output from a window that holds its first
piece, pairs fit and are cut longest-first, batches hold every sequence once within budget.

These are pure functions of lengths and ids: no model, no Spark.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from annotators.deberta.encoder import (
    CLS_POSITION,
    EncoderSettings,
    best_window,
    plan_batches,
    plan_pair,
    plan_sentence,
    plan_text,
    window_starts,
)

SPECIAL = {"[PAD]": 0, "[CLS]": 1, "[SEP]": 2, "[UNK]": 3}


def encoder_settings(max_length: int, strategy: str = "window") -> EncoderSettings:
    return EncoderSettings(
        model_dir="unused",
        model_file="model.onnx",
        checksum="0",
        special_tokens=SPECIAL,
        output="last_hidden_state",
        output_size=4,
        max_sentence_length=max_length,
        long_sentence_strategy=strategy,
    )


@given(pieces=st.integers(1, 400), window=st.integers(1, 64))
def test_windows_cover_every_piece_with_half_a_window_of_overlap(pieces: int, window: int) -> None:
    starts = window_starts(pieces, window)
    assert starts[0] == 0
    if pieces <= window:
        assert starts == [0]
        return
    assert starts == sorted(set(starts))
    assert starts[-1] == pieces - window  # the last window ends at the last piece
    covered = set()
    for start in starts:
        assert 0 <= start <= pieces - window
        covered.update(range(start, start + window))
    assert covered == set(range(pieces))
    for before, after in itertools.pairwise(starts):
        assert after - before <= max(1, window // 2)  # consecutive windows overlap by >= half


@given(pieces=st.integers(1, 300), window=st.integers(1, 40), data=st.data())
def test_best_window_holds_the_position_with_the_most_context(pieces, window, data) -> None:
    starts = window_starts(pieces, window)
    position = data.draw(st.integers(0, pieces - 1))
    chosen = best_window(position, starts, window)
    start = starts[chosen]
    assert start <= position < start + window

    def margin(s: int) -> int:
        return min(position - s, s + window - 1 - position)

    holding = [s for s in starts if s <= position < s + window]
    assert margin(start) == max(margin(s) for s in holding)


token_piece_lists = st.lists(st.lists(st.integers(5, 999), min_size=0, max_size=4), max_size=60)


@settings(max_examples=300)
@given(tokens=token_piece_lists, max_length=st.integers(3, 40))
def test_window_planning_gives_every_token_one_output_at_its_first_piece(tokens, max_length):
    sequences, kept = plan_sentence(tokens, encoder_settings(max_length), first_output=10)
    assert kept == list(range(len(tokens)))
    outputs = sorted(target for s in sequences for target, _ in s.targets)
    assert outputs == [10 + i for i in range(len(tokens))]  # each token exactly once
    for sequence in sequences:
        assert 0 < len(sequence.piece_ids) <= max_length - 2 or not any(tokens)
        assert sequence.targets  # no sequence is run for nothing
        for target, position in sequence.targets:
            pieces = tokens[target - 10]
            if pieces:
                assert sequence.piece_ids[position] == pieces[0]
            else:
                assert position == CLS_POSITION


@settings(max_examples=300)
@given(tokens=token_piece_lists, max_length=st.integers(3, 40))
def test_truncate_planning_keeps_the_tokens_before_the_cut(tokens, max_length) -> None:
    limit = max_length - 2
    sequences, kept = plan_sentence(tokens, encoder_settings(max_length, "truncate"), 0)
    assert len(sequences) == (1 if kept else 0)
    assert all(len(sequence.piece_ids) <= limit for sequence in sequences)
    firsts, total = [], 0
    for pieces in tokens[:limit]:
        firsts.append(total)
        total += len(pieces)
    expected = [
        i
        for i, first in enumerate(firsts)
        if first < limit or (not tokens[i] and first <= min(total, limit))
    ]
    assert kept == expected
    assert kept == list(range(len(kept)))  # a prefix: nothing after a dropped token is kept


@given(
    first=st.lists(st.integers(5, 99), max_size=80),
    second=st.lists(st.integers(5, 99), max_size=80),
    max_length=st.integers(5, 64),
)
def test_pairs_fit_and_are_cut_longest_first(first, second, max_length) -> None:
    sequence, truncated = plan_pair(first, second, encoder_settings(max_length), output=3)
    sep = SPECIAL["[SEP]"]
    cut = sequence.piece_ids.index(sep)
    a, b = sequence.piece_ids[:cut], sequence.piece_ids[cut + 1 :]
    assert a == first[: len(a)] and b == second[: len(b)]
    assert len(a) + len(b) + 3 <= max_length
    assert truncated == ((len(a), len(b)) != (len(first), len(second)))
    if truncated:  # the longer side was cut first: the sides end within one of each other,
        # or the shorter one was never cut
        assert abs(len(a) - len(b)) <= 1 or len(a) == len(first) or len(b) == len(second)
        assert len(a) + len(b) == max_length - 3
    assert sequence.targets == [(3, 0)]


@given(pieces=st.lists(st.integers(5, 99), max_size=200), max_length=st.integers(3, 40))
def test_long_texts_are_classified_in_windows_of_every_piece(pieces, max_length) -> None:
    planned = plan_text([[p] for p in pieces], encoder_settings(max_length), first_output=0)
    limit = max_length - 2
    assert [t for s in planned for t, _ in s.targets] == list(range(len(planned)))
    seen = [p for s in planned for p in s.piece_ids]
    assert set(seen) == set(pieces)
    assert all(len(s.piece_ids) <= limit for s in planned)
    [truncated] = plan_text([[p] for p in pieces], encoder_settings(max_length, "truncate"), 0)
    assert truncated.piece_ids == pieces[:limit]


@settings(max_examples=300)
@given(
    lengths=st.lists(st.integers(2, 130), max_size=120),
    batch_size=st.integers(1, 16),
    max_length=st.integers(3, 130),
)
def test_batches_hold_every_sequence_once_within_budget(lengths, batch_size, max_length):
    budget = batch_size * max_length
    batches = plan_batches(lengths, batch_size, budget)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    widths = []
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        width = max(lengths[i] for i in batch)
        assert len(batch) == 1 or len(batch) * width <= budget  # padded positions in budget
        widths.append(width)
    assert widths == sorted(widths)  # length-sorted: little padding
