"""The job's Spark session: settings files, the classic-session check, progress on stderr."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import TextIO

from pyspark.sql import SparkSession

from annotators.errors import ConfigError, JobError
from annotators.session import new_session


def _duration(seconds: float) -> str:
    """``42s``, ``5m08s``, ``2h03m``: short enough for one status line."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def progress_line(
    elapsed: float,
    records: int,
    tokens: int,
    total: int | None,
    annotating: float | None,
    tasks: tuple[int, int, int] | None,
) -> str:
    """One status line: records and tokens done, rate and ETA, and the running tasks.

    ``elapsed`` counts from the start of the job's Spark work, ``annotating`` (None until then)
    from the start of the annotating (write) job, whose rate the ETA extrapolates from the
    fraction of the ``total`` records done. ``tasks`` is (done, all, running) over the active
    stages.
    """
    parts = [f"[{_duration(elapsed):>6}]"]
    if total is None or annotating is None:
        parts.append("reading and checking the input")
    else:
        done = min(records, total)
        share = done / total if total else 1.0
        rate = tokens / annotating if annotating > 0 else 0.0
        if done >= total:
            eta = "writing"
        elif done == 0:
            eta = "ETA when the first task ends"
        else:
            eta = f"ETA {_duration(annotating * (total - done) / done)}"
        parts.append(
            f"{done:,}/{total:,} records ({share:.0%}), {tokens:,} tokens, "
            f"{rate:,.0f} tokens/s, {eta}"
        )
    if tasks is not None:
        finished, count, running = tasks
        parts.append(f"| tasks {finished}/{count} done, {running} running")
    return " ".join(parts)


class JobProgress:
    """The job's progress on stderr every ``interval`` seconds (0: never).

    Records and tokens are counted by the embeddings stage into two Python accumulators
    (``pipelines.stages.count_progress``); Spark merges a task's updates on the driver when the
    task ends, on local and standalone masters alike, so the counts move task by task (a large
    input gets several tasks per core for that: ``pipelines.job.task_count``). Between task
    ends the line still shows the elapsed time and the running tasks. On a terminal the line is
    rewritten in place; in a log each interval is a line of its own.
    """

    def __init__(self, spark: SparkSession, interval: float, stream: TextIO | None = None) -> None:
        self.spark = spark
        self.interval = interval
        self.stream = stream or sys.stderr
        self.records = spark.sparkContext.accumulator(0)
        self.tokens = spark.sparkContext.accumulator(0)
        self.total: int | None = None
        self._annotating_since: float | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._printed = False

    @property
    def enabled(self) -> bool:
        return self.interval > 0

    def annotating(self, total: int) -> None:
        """The annotating job starts now, over ``total`` records (counted up front)."""
        self.total = total
        self._annotating_since = time.monotonic()

    def line(self) -> str:
        now = time.monotonic()
        since = self._annotating_since
        return progress_line(
            now - self._started,
            int(self.records.value),
            int(self.tokens.value),
            self.total,
            None if since is None else now - since,
            self._tasks(),
        )

    def _tasks(self) -> tuple[int, int, int] | None:
        tracker = self.spark.sparkContext.statusTracker()
        infos = [tracker.getStageInfo(stage) for stage in tracker.getActiveStageIds()]
        infos = [info for info in infos if info is not None]
        if not infos:
            return None
        return (
            sum(i.numCompletedTasks for i in infos),
            sum(i.numTasks for i in infos),
            sum(i.numActiveTasks for i in infos),
        )

    def _print(self) -> None:
        text = self.line()
        if self.stream.isatty():  # one line, rewritten in place (\x1b[K clears what is left)
            self.stream.write(f"\r{text}\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._printed = True

    def _report(self) -> None:
        while not self._stop.wait(self.interval):
            self._print()

    def __enter__(self) -> JobProgress:
        self._started = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(
                target=self._report, name="spark-deberta-progress", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._printed and self.stream.isatty():
            self.stream.write("\n")  # leave the last status line on the terminal
            self.stream.flush()


def read_spark_conf(path: str) -> dict[str, str]:
    """``spark.key value`` (or ``spark.key=value``) lines of a spark-defaults file."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"Spark settings file {file} does not exist")
    settings = {}
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"(spark\.[^\s=]+)\s*[=\s]\s*(\S.*)", line)
        if found is None:
            raise ConfigError(f"{file}:{number}: expected 'spark.key value', got '{line}'")
        settings[found.group(1)] = found.group(2).strip()
    return settings


def refuse_connect() -> None:
    """The job needs the driver's JVM; say so before any work instead of failing midway."""
    raise JobError(
        "the job needs a classic Spark session: it commits its output with the Hadoop "
        "FileSystem API of the driver's JVM, which a Spark Connect client does not have. Run it "
        "with spark-submit or `spark-deberta run` (no SPARK_REMOTE, no spark.remote); on Spark "
        "Connect (Databricks serverless, shared clusters) use the stages in a notebook and "
        "write with df.write (README: Where it runs)"
    )


def session(spark_conf: str | None = None) -> SparkSession:
    """The active session, or a new one: local[*] when no master is configured.

    A local session's Python workers run this interpreter (unless PYSPARK_PYTHON says
    otherwise), so the job works from a virtual environment that is not activated.
    """
    settings = read_spark_conf(spark_conf) if spark_conf else {}
    if os.environ.get("SPARK_REMOTE") or "spark.remote" in settings:
        refuse_connect()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    spark = new_session(settings)
    quiet_accumulator_server(spark)
    return spark


def quiet_accumulator_server(spark: SparkSession) -> None:
    """Keep PySpark's accumulator server from printing a traceback when the JVM dies.

    Its thread reads the JVM's accumulator updates; a JVM killed or out of memory closes the
    socket mid-read, and the server prints the ``EOFError``. The job says in one line what
    happened (``pipelines.exits``), so that traceback only buries it. Any other error still
    prints.
    """
    server = getattr(spark.sparkContext, "_accumulatorServer", None)
    if server is None:
        return
    default = server.handle_error

    def handle_error(request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (EOFError, ConnectionError)):
            return
        default(request, client_address)

    server.handle_error = handle_error
