"""The job's progress line: what it says, and how it is written to a terminal or a log."""

from __future__ import annotations

import io
import time

import pytest

from pipelines.session import JobProgress, progress_line


def test_before_the_annotating_job_the_line_says_so() -> None:
    assert progress_line(3.2, 0, 0, None, None, (1, 2, 1)) == (
        "[    3s] reading and checking the input | tasks 1/2 done, 1 running"
    )


def test_the_line_gives_records_tokens_rate_and_eta() -> None:
    # 40 of 160 records in 20 s: the other 120 take 60 s more at that pace.
    line = progress_line(125.0, 40, 5000, 160, 20.0, (4, 16, 2))
    assert line == (
        "[ 2m05s] 40/160 records (25%), 5,000 tokens, 250 tokens/s, ETA 1m00s "
        "| tasks 4/16 done, 2 running"
    )


@pytest.mark.parametrize(
    ("records", "total", "expected"),
    [
        (0, 160, "0/160 records (0%), 0 tokens, 0 tokens/s, ETA when the first task ends"),
        (160, 160, "160/160 records (100%), 0 tokens, 0 tokens/s, writing"),
        (170, 160, "160/160 records (100%), 0 tokens, 0 tokens/s, writing"),  # a re-run stage
        (0, 0, "0/0 records (100%), 0 tokens, 0 tokens/s, writing"),
    ],
)
def test_the_eta_before_the_first_task_and_after_the_last(records, total, expected) -> None:
    assert progress_line(10.0, records, 0, total, 5.0, None) == f"[   10s] {expected}"


def test_long_etas_read_in_hours() -> None:
    assert "ETA 2h46m" in progress_line(10.0, 1, 0, 1001, 10.0, None)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def lines_written(stream: io.StringIO, wanted: int) -> str:
    """Wait (at most 60 s) until the reporter thread has written ``wanted`` lines."""
    deadline = time.monotonic() + 60
    while stream.getvalue().count("records") < wanted and time.monotonic() < deadline:
        time.sleep(0.02)
    return stream.getvalue()


@pytest.mark.classic  # accumulators need the driver's SparkContext
def test_a_log_gets_a_line_per_interval(spark) -> None:
    log = io.StringIO()
    with JobProgress(spark, 0.02, log) as progress:
        progress.annotating(10)
        progress.records.add(4)
        progress.tokens.add(100)
        written = lines_written(log, 2)
    lines = written.splitlines()
    assert len(lines) >= 2 and "\r" not in written and "\x1b" not in written
    assert all(" 4/10 records (40%), 100 tokens, " in line for line in lines[-2:])


@pytest.mark.classic  # accumulators need the driver's SparkContext
def test_a_terminal_gets_one_line_rewritten_in_place(spark) -> None:
    terminal = Terminal()
    with JobProgress(spark, 0.02, terminal) as progress:
        progress.annotating(10)
        lines_written(terminal, 2)
    written = terminal.getvalue()
    assert written.startswith("\r[") and written.endswith("\x1b[K\n")
    assert written.count("\n") == 1  # only the last line is left standing
    assert written.count("\r") >= 2


@pytest.mark.classic  # accumulators need the driver's SparkContext
def test_interval_zero_prints_nothing(spark) -> None:
    log = io.StringIO()
    with JobProgress(spark, 0, log) as progress:
        progress.annotating(10)
        time.sleep(0.1)
    assert not progress.enabled and log.getvalue() == ""
