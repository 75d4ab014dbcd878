"""Where the job's time goes at the framework-bound end: the bundled tiny model, many documents.

    python bench/profile_job.py                         # 10,000 and 50,000 lines
    python bench/profile_job.py --lines 2000 --runs 1   # a quick look
    python bench/profile_job.py --spark-conf none ...   # Spark's defaults, as the README's command

With a two-layer, 32-wide model the encoder is nearly free, so what is left is the framework:
Spark's start-up, the JVM <-> Python crossings (one Arrow UDF per stage, each carrying its input
annotation columns to Python and its output column back), the conversion of nested annotation
structs between Arrow and the cores' dicts, the Parquet write, the input count and check, the
read-back row check and the commit. For each input size (the benchmark corpus's paragraphs,
``data/bench``, repeated to ``--lines`` lines) this measures, in a fresh local session (its own
JVM) made as ``spark-deberta run`` makes it, with ``--spark-conf`` (``conf/spark/local.conf``
by default, as ``bench/run.py``; ``none`` for Spark's defaults, whose 1 GB driver heap ran out
in the row check at 50,000 lines here):

1. **the job** (``pipelines.job.run``, the code path of ``spark-deberta run``) with its
   driver-side phases timed: Spark start-up, a one-document job (Python workers, model load,
   first batch), then the corpus (first run cold, then ``--runs`` warm runs: the run of median
   wall time), each phase with the CPU seconds of the JVM and of the Python workers (from /proc);
2. **truncated pipelines** on the job's own input frame: the input alone, DocumentAssembler,
   +SentenceDetector, +Tokenizer, +DeBertaEmbeddings, each written to Parquet and to the
   ``noop`` sink, so each stage's added wall and CPU time can be read as a difference; the whole
   chain also on Spark 3.5/4.0's transport (``mapInArrow``); and the whole pipeline fused
   (``annotators.fuse``: the three Python stages in one crossing per batch, both transports),
   whose Parquet output is checked against the staged pipeline's. The job itself fuses, as
   ``spark-deberta run`` does; ``SPARK_DEBERTA_FUSE=0`` in the environment profiles it
   staged. ``--truncated-runs`` rounds, each measuring every case once (a shared machine's load
   then falls on all cases alike); the run of median CPU seconds is shown;
3. **in process**: the same four stages in ``LightPipeline.fullAnnotate`` in batches of 256 on
   one core (one engine thread): the baseline tokens/s per core.

Inside the Python workers every stage's core is timed (CPU and wall), and so are the Arrow
conversions (``annotations_from_arrow``, ``annotations_to_arrow``; in a fused chain the one read
counts on its first stage and the writes on its last), through Spark accumulators; what a
worker spends beyond those is PySpark's own (Arrow IPC over the socket, the worker loop). On a
shared machine read the CPU seconds: wall times move with other users' load (the load average
is recorded). Writes ``--out/<name>.md`` and ``<name>.json``.

The repository is not changed: the timers are wrappers installed by this script (the stages'
``batch_core`` of the fitted stages, the conversion functions inside the workers, the job's
phase functions on the driver).
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import platform
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyarrow as pa  # noqa: E402
from pyspark.accumulators import AccumulatorParam  # noqa: E402

CORPUS = ROOT / "data" / "bench" / "pride_and_prejudice.txt"
#: Set in the driver's environment before the JVM starts, so the Python workers inherit it and
#: install the conversion timers when they import this module (to unpickle a timed core).
TIMERS_ENV = "SPARK_DEBERTA_PROFILE_TIMERS"
LIGHT_BATCH = 256
#: The truncated cases' name for the whole pipeline run as one chain (``annotators.fuse``).
FUSED = "one crossing (annotators.fuse)"

# -- timers inside the Python workers ---------------------------------------------------------

#: Slots of a stage's timing vector (an accumulator per stage).
SLOTS = (
    "core_cpu",
    "core_wall",
    "from_arrow_cpu",
    "from_arrow_wall",
    "to_arrow_cpu",
    "to_arrow_wall",
    "rows",
    "chunks",
    "load_cpu",  # core calls that created a model session (the first in a process)
    "load_wall",
    "loads",
)
_INDEX = {name: i for i, name in enumerate(SLOTS)}


class VectorParam(AccumulatorParam):
    """An accumulator of a fixed-length list of floats (one per ``SLOTS`` entry)."""

    def zero(self, value: list[float]) -> list[float]:
        return [0.0] * len(value)

    def addInPlace(self, value1: list[float], value2: list[float]) -> list[float]:
        return [a + b for a, b in zip(value1, value2, strict=True)]


class LocalSum:
    """The same interface as an accumulator, for timing on the driver (LightPipeline)."""

    def __init__(self) -> None:
        self.value = [0.0] * len(SLOTS)

    def add(self, term: list[float]) -> None:
        self.value = [a + b for a, b in zip(self.value, term, strict=True)]


#: Conversion time seen since the last core call in this process: a chunk's input columns are
#: converted just before its core runs, so it belongs to the next core call's stage.
_PENDING_FROM = [0.0, 0.0]
#: The accumulator of the stage whose core ran last in this process (a chunk's output is
#: converted right after its core).
_CURRENT: list[Any] = [None]


def _vector(**values: float) -> list[float]:
    out = [0.0] * len(SLOTS)
    for name, value in values.items():
        out[_INDEX[name]] = value
    return out


def _loaded_runtimes() -> int:
    """Model loads this worker has done (``encoder.model_loads``; none before it is imported)."""
    encoder = sys.modules.get("annotators.deberta.encoder")
    return len(encoder.model_loads()) if encoder is not None else 0


def run_timed(core: Callable[[Any], Any], accumulator: Any, rows: Any) -> Any:
    """Run one chunk through ``core``, adding its times and the pending conversion time."""
    _CURRENT[0] = accumulator
    from_cpu, from_wall = _PENDING_FROM
    _PENDING_FROM[0] = _PENDING_FROM[1] = 0.0
    runtimes = _loaded_runtimes()
    cpu, wall = time.process_time(), time.perf_counter()
    out = core(rows)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    loaded = _loaded_runtimes() > runtimes
    accumulator.add(
        _vector(
            core_cpu=cpu,
            core_wall=wall,
            from_arrow_cpu=from_cpu,
            from_arrow_wall=from_wall,
            rows=len(rows),
            chunks=1,
            load_cpu=cpu if loaded else 0.0,
            load_wall=wall if loaded else 0.0,
            loads=1 if loaded else 0,
        )
    )
    return out


def timed_core(core: Callable[[Any], Any], accumulator: Any) -> Callable[[Any], Any]:
    """``core`` (a stage's batch core), timed into ``accumulator``; picklable."""

    def annotate_rows(rows: Any) -> Any:
        return run_timed(core, accumulator, rows)

    return annotate_rows


def install_conversion_timers() -> None:
    """Time ``annotations_from_arrow``/``annotations_to_arrow`` as ``annotators.stage`` calls
    them (in this process: a Python worker imports this module to unpickle a timed core)."""
    import annotators.stage as stage_module

    if getattr(stage_module, "_profile_timers", False):
        return
    read, write = stage_module.annotations_from_arrow, stage_module.annotations_to_arrow

    def timed_read(array: pa.Array) -> Any:
        cpu, wall = time.process_time(), time.perf_counter()
        out = read(array)
        _PENDING_FROM[0] += time.process_time() - cpu
        _PENDING_FROM[1] += time.perf_counter() - wall
        return out

    def timed_write(rows: Any) -> pa.Array:
        cpu, wall = time.process_time(), time.perf_counter()
        out = write(rows)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if _CURRENT[0] is not None:
            _CURRENT[0].add(_vector(to_arrow_cpu=cpu, to_arrow_wall=wall))
        return out

    stage_module.annotations_from_arrow = timed_read
    stage_module.annotations_to_arrow = timed_write
    stage_module._profile_timers = True


if os.environ.get(TIMERS_ENV) and __name__ != "__main__":
    install_conversion_timers()


# -- CPU seconds of the JVM and its Python workers --------------------------------------------


class ProcessCpu:
    """CPU seconds of a JVM and of every process below it (PySpark's daemon and workers),
    sampled from /proc; a process that ends keeps its last sampled time."""

    def __init__(self, jvm_pid: int, interval: float = 0.5) -> None:
        self.jvm_pid = jvm_pid
        self.interval = interval
        self.tick = os.sysconf("SC_CLK_TCK")
        self.latest: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _stat(self, pid: str) -> tuple[int, float] | None:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        fields = text[text.rindex(")") + 2 :].split()
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / self.tick

    def sample(self) -> None:
        stats = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                found = self._stat(entry)
                if found is not None:
                    stats[int(entry)] = found
        below = {self.jvm_pid}
        changed = True
        while changed:
            changed = False
            for pid, (parent, _) in stats.items():
                if parent in below and pid not in below:
                    below.add(pid)
                    changed = True
        with self._lock:
            for pid in below:
                if pid in stats:
                    self.latest[pid] = stats[pid][1]

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> ProcessCpu:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def mark(self) -> dict[int, float]:
        self.sample()
        with self._lock:
            return dict(self.latest)

    def since(self, mark: dict[int, float]) -> dict[str, float]:
        now = self.mark()
        jvm = now.get(self.jvm_pid, 0.0) - mark.get(self.jvm_pid, 0.0)
        python = sum(v - mark.get(pid, 0.0) for pid, v in now.items() if pid != self.jvm_pid)
        return {"jvm_cpu": round(jvm, 2), "python_cpu": round(python, 2)}


# -- inputs and the session -------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[profile {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def paragraphs() -> list[str]:
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_file(work: Path, lines: int) -> Path:
    """The benchmark corpus's paragraphs, repeated to ``lines`` lines (one document each)."""
    source = paragraphs()
    path = work / f"corpus-{lines}.txt"
    if not path.exists():
        path.write_text(
            "".join(source[i % len(source)] + "\n" for i in range(lines)), encoding="utf-8"
        )
    return path


def timed_session(spark_conf: str | None) -> tuple[Any, float]:
    """A fresh session as ``spark-deberta run`` makes it, and the seconds it took."""
    from pipelines.session import session

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    os.environ[TIMERS_ENV] = "1"
    started = time.perf_counter()
    spark = session(spark_conf)
    seconds = time.perf_counter() - started
    spark.sparkContext.setLogLevel("ERROR")
    return spark, seconds


def stop_jvm(spark: Any) -> None:
    """Stop the session and its JVM, so the next size starts Spark afresh (closing the JVM's
    stdin is what makes PySpark's gateway JVM exit)."""
    from pyspark import SparkContext

    try:
        spark.stop()
    except Exception as exc:  # the JVM died (a failed job): nothing left to stop
        log(f"stopping the session: {type(exc).__name__}")
    gateway = SparkContext._gateway
    if gateway is None:
        return
    try:
        gateway.shutdown()
    except Exception as exc:
        log(f"closing the gateway: {type(exc).__name__}")
    gateway.proc.stdin.close()
    gateway.proc.wait(timeout=120)
    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkContext._active_spark_context = None


def jvm_pid(spark: Any) -> int:
    return int(spark.sparkContext._gateway.proc.pid)


# -- the job, its phases timed ------------------------------------------------------------------


def _phase_functions() -> list[tuple[Any, str, str]]:
    """(owner, attribute, phase): the job's driver-side steps, in the order they run."""
    from pyspark.ml import Pipeline
    from pyspark.sql.readwriter import DataFrameWriter

    import pipelines.job as job
    from pipelines.storage import OutputCommit

    return [
        (job, "job_config", "config"),
        (job, "build_pipeline", "stages and model load/check (driver)"),
        (job, "model_note", "stages and model load/check (driver)"),
        (job, "check_input_exists", "input and output path checks"),
        (job, "check_paths_apart", "input and output path checks"),
        (OutputCommit, "__enter__", "lock and recovery"),
        (job, "read_documents", "input plan"),
        (job, "checked_documents", "input read, count and check"),
        (job, "spread", "spread (plan)"),
        (Pipeline, "fit", "fit (Tokenizer)"),
        (job, "transform", "transform (plan)"),
        (DataFrameWriter, "parquet", "annotate + Parquet write"),
        (job, "write_all_or_nothing", "_write_all_or_nothing"),
        (OutputCommit, "commit", "commit"),
        (OutputCommit, "__exit__", "staging cleanup and unlock"),
    ]


@contextmanager
def job_phases(cpu: ProcessCpu, stage_timers: dict[str, Any]) -> Iterator[dict[str, dict]]:
    """Time the job's phases (wall, JVM and Python CPU) while inside; the fitted stages' cores
    are timed into ``stage_timers`` (stage name -> accumulator)."""
    import pipelines.job as job

    phases: dict[str, dict[str, float]] = {}
    originals = []

    def wrap(owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            mark, started = cpu.mark(), time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                row = phases.setdefault(label, {"wall": 0.0, "jvm_cpu": 0.0, "python_cpu": 0.0})
                row["wall"] += time.perf_counter() - started
                for key, value in cpu.since(mark).items():
                    row[key] += value

        originals.append((owner, name, original))
        setattr(owner, name, timed)

    for owner, name, label in _phase_functions():
        wrap(owner, name, label)
    planned = job.transform  # already timed as the plan phase

    def timed_stages_transform(model: Any, documents: Any, exploded: bool) -> Any:
        time_stages(model.stages, stage_timers, documents.sparkSession)
        return planned(model, documents, exploded)

    originals.append((job, "transform", planned))
    job.transform = timed_stages_transform
    try:
        yield phases
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def time_stages(stages: list[Any], timers: dict[str, Any], spark: Any) -> None:
    """Make each fitted Python stage's core add its times to an accumulator of its name."""
    from annotators.stage import AnnotatorModel

    for stage in stages:
        if not isinstance(stage, AnnotatorModel):
            continue
        name = type(stage).__name__
        if name not in timers:
            timers[name] = (
                spark.sparkContext.accumulator(_vector(), VectorParam())
                if spark is not None
                else LocalSum()
            )
        original = type(stage).batch_core

        def batch_core(original: Any = original, stage: Any = stage, name: str = name) -> Any:
            return timed_core(original(stage), timers[name])

        stage.batch_core = batch_core


def stage_values(timers: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {
        name: {slot: round(v, 3) for slot, v in zip(SLOTS, acc.value, strict=True)}
        for name, acc in timers.items()
    }


def run_job(spark: Any, cpu: ProcessCpu, corpus: Path, output: Path) -> dict[str, Any]:
    """``spark-deberta run --input corpus --output output --mode overwrite``, profiled."""
    from pipelines.arguments import parse_args
    from pipelines.job import run

    argv = ["--input", str(corpus), "--output", str(output), "--mode", "overwrite"]
    argv += ["--set", "job.progress_interval_s=0"]
    timers: dict[str, Any] = {}
    mark, started, driver = cpu.mark(), time.perf_counter(), time.thread_time()
    with job_phases(cpu, timers) as phases:
        summary = run(parse_args(argv), spark)
    wall, driver = time.perf_counter() - started, time.thread_time() - driver
    total = cpu.since(mark)
    inner = phases.pop("_write_all_or_nothing")
    check = {
        key: inner[key]
        - phases["annotate + Parquet write"][key]
        - phases.get("commit", {}).get(key, 0.0)
        for key in inner
    }
    phases["row check (read back)"] = check
    return {
        "wall": round(wall, 3),
        **total,
        "driver_cpu": round(driver, 2),
        "load_average": os.getloadavg()[0],
        "summary": summary,
        "phases": {k: {m: round(v, 3) for m, v in row.items()} for k, row in phases.items()},
        "stages": stage_values(timers),
    }


def median_run(runs: list[dict[str, Any]], by_cpu: bool = False) -> dict[str, Any]:
    """The run of median wall time, or CPU seconds (an actual run, so its parts add up); of
    two, the lower."""
    ordered = sorted(runs, key=lambda r: r["jvm_cpu"] + r["python_cpu"] if by_cpu else r["wall"])
    return ordered[(len(ordered) - 1) // 2]


# -- truncated pipelines, staged and fused ------------------------------------------------------


def job_frame(spark: Any, corpus: Path) -> tuple[Any, Any, int]:
    """The job's input frame (read, cached, counted, checked, spread) and its cached source."""
    from pipelines.inputs import checked_documents, read_documents
    from pipelines.job import spread

    cached = read_documents(spark, str(corpus), "text", "text", None).cache()
    documents = checked_documents(cached, "fail", explicit_ids=False)
    return spread(documents.frame, None, documents.rows), cached, documents.rows


def fitted_stages(frame: Any) -> list[Any]:
    from pipelines.config import defaults
    from pipelines.stages import build_pipeline

    return list(build_pipeline(defaults()).fit(frame).stages)


def fused(frame: Any, stages: list[Any]) -> Any:
    """The staged stages as ``annotators.fuse`` runs them: one crossing per batch for the
    Python stages (the code the job runs by default); built with ``SPARK_DEBERTA_FUSE=1``
    (its case's environment), whatever the job's says."""
    from annotators.chain import StageChain, fuse

    model = fuse(stages)
    assert any(isinstance(s, StageChain) for s in model.stages), model.stages
    return model.transform(frame)


@contextmanager
def environment(overrides: dict[str, str]) -> Iterator[None]:
    """``overrides`` in ``os.environ`` while inside (a case's transport and chain switch, read
    when its plan is built); the previous values come back after."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


LEVELS = (
    "input only (id, text)",
    "DocumentAssembler",
    "+ SentenceDetector",
    "+ Tokenizer",
    "+ DeBertaEmbeddings",
)


def write_to(frame: Any, sink: str, path: Path) -> None:
    if sink == "noop":
        frame.write.format("noop").mode("overwrite").save()
    else:
        frame.write.mode("overwrite").parquet(str(path))


def measure(cpu: ProcessCpu, action: Callable[[], object], timers: dict[str, Any]) -> dict:
    before = {k: list(v.value) for k, v in timers.items()}
    mark, started, driver = cpu.mark(), time.perf_counter(), time.thread_time()
    action()
    wall, driver = time.perf_counter() - started, time.thread_time() - driver
    after = stage_values(timers)
    stages = {
        name: {
            slot: round(values[slot] - before.get(name, [0.0] * len(SLOTS))[_INDEX[slot]], 3)
            for slot in SLOTS
        }
        for name, values in after.items()
    }
    stages = {k: v for k, v in stages.items() if v["chunks"]}
    return {
        "wall": round(wall, 3),
        **cpu.since(mark),
        "driver_cpu": round(driver, 2),
        "load_average": os.getloadavg()[0],
        "stages": stages,
    }


def truncated(
    spark: Any,
    cpu: ProcessCpu,
    corpus: Path,
    work: Path,
    runs: int,
    only: list[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Each truncated pipeline (each stage its own crossing), and the whole one fused, to noop
    and to Parquet: median of ``runs``."""
    from annotators.chain import FUSE_ENV
    from annotators.spark_compat import ARROW_UDF, MAP_IN_ARROW, TRANSPORT_ENV

    frame, cached, _ = job_frame(spark, corpus)
    stages = fitted_stages(frame)
    timers: dict[str, Any] = {}
    time_stages(stages, timers, spark)

    def chained(count: int) -> Any:
        out = frame
        for stage in stages[:count]:
            out = stage.transform(out)
        return out

    # (name, build, environment while building: a named transport is refused where missing)
    cases: list[tuple[str, Callable[[], Any], dict[str, str]]] = [
        (name, (lambda n=n: chained(n)), {}) for n, name in enumerate(LEVELS)
    ]
    mapped = {TRANSPORT_ENV: MAP_IN_ARROW}
    cases.append((f"{LEVELS[-1]}, {MAP_IN_ARROW}", lambda: chained(4), mapped))
    for transport in (ARROW_UDF, MAP_IN_ARROW):
        chain_on = {TRANSPORT_ENV: transport, FUSE_ENV: "1"}
        cases.append((f"{FUSED}, {transport}", lambda: fused(frame, stages), chain_on))
    if only:  # the staged chain stays: the others' outputs are checked against it
        cases = [c for c in cases if c[0] == LEVELS[-1] or any(o in c[0] for o in only)]
    log("warming the workers (the whole chain to noop, untimed)")
    write_to(chained(4), "noop", work / "unused")
    samples: dict[str, list[dict[str, Any]]] = {}
    results: dict[str, dict[str, Any]] = {}
    try:
        # Runs outermost: each round measures every case once, so a change in the machine's
        # load (it is shared) spreads over all cases instead of falling on a few.
        for round_number in range(runs):
            for name, build, overrides in cases:
                for sink in ("noop", "parquet"):
                    with environment(overrides):
                        built = build()
                    path = work / f"level-{re.sub(r'[^a-z0-9]+', '-', name.lower())}"
                    sample = measure(cpu, lambda b=built, p=path, s=sink: write_to(b, s, p), timers)
                    samples.setdefault(f"{name} -> {sink}", []).append(sample)
                    log(f"round {round_number + 1}: {name} -> {sink}: {sample['wall']:.1f} s")
        for key, runs_of_case in samples.items():
            row = median_run(runs_of_case, by_cpu=True)
            row["walls"] = [s["wall"] for s in runs_of_case]
            row["cpus"] = [round(s["jvm_cpu"] + s["python_cpu"], 2) for s in runs_of_case]
            results[key] = row
        results["identical"] = {"checked": same_output(work, LEVELS[-1], cases)}
    finally:
        cached.unpersist()
    return results


def same_output(work: Path, staged: str, cases: list[tuple[str, Any, Any]]) -> dict[str, bool]:
    """Whether each variant's Parquet output equals the staged pipeline's (rows by id)."""
    import pyarrow.parquet as pq

    def table(name: str) -> pa.Table:
        folder = work / f"level-{re.sub(r'[^a-z0-9]+', '-', name.lower())}"
        return pq.read_table(folder).sort_by("id")

    def same(found: pa.Table, reference: pa.Table) -> bool:
        key = b"org.apache.spark.sql.parquet.row.metadata"  # Spark's schema, column metadata too
        return (
            found.column_names == reference.column_names
            and found.schema.metadata.get(key) == reference.schema.metadata.get(key)
            and found.equals(reference)
        )

    reference = table(staged)
    return {
        name: same(table(name), reference)
        for name, _, _ in cases
        if name != staged and ("crossing" in name or "mapInArrow" in name)
    }


# -- in process ------------------------------------------------------------------------------


def in_process(corpus: Path, limit: int) -> dict[str, Any]:
    """The four stages in ``LightPipeline.fullAnnotate``, batches of 256, one core."""
    from pyspark.ml import PipelineModel

    from annotators import LightPipeline
    from pipelines.config import defaults
    from pipelines.stages import build_pipeline

    config = defaults()
    config["embeddings"]["threads"] = 1
    document, sentence, tokenizer, embeddings = build_pipeline(config).getStages()
    stages = [document, sentence, tokenizer.fit(None), embeddings]
    timers: dict[str, Any] = {}
    time_stages(stages, timers, None)
    light = LightPipeline(PipelineModel(stages))
    texts = corpus.read_text(encoding="utf-8").splitlines()[:limit]
    light.fullAnnotate(texts[:LIGHT_BATCH])  # the model session, caches
    timers.clear()
    time_stages(stages, timers, None)
    light = LightPipeline(PipelineModel(stages))
    tokens = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), LIGHT_BATCH):
        rows = light.fullAnnotate(texts[start : start + LIGHT_BATCH])
        tokens += sum(len(row["token"]) for row in rows)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "documents": len(texts),
        "tokens": tokens,
        "wall": round(wall, 3),
        "cpu": round(cpu, 3),
        "tokens_per_s": round(tokens / wall, 1),
        "tokens_per_cpu_s": round(tokens / cpu, 1),
        "stages": stage_values(timers),
    }


# -- the report -------------------------------------------------------------------------------


def cpu_model() -> str:
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    found = re.search(r"model name\s*:\s*(.*)", info)
    return found.group(1).strip() if found else platform.processor()


def _f(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def report(result: dict[str, Any]) -> str:
    lines = [
        f"Framework-bound profile: bundled tiny model ({result['model']}), "
        f"{result['cores']} cores ({result['cpu']}), PySpark {result['pyspark']}, "
        f"Spark conf: {result['spark_conf'] or 'none (spark-deberta run defaults)'}. "
        f"Command: `{result['command']}`.",
        "",
    ]
    for lines_count, size in result["sizes"].items():
        if "job" not in size:
            light = size["in_process"]
            lines += [
                f"### {int(lines_count):,} documents: the job failed",
                "",
                f"{size.get('error', 'no result')[:600]}",
                "",
                f"In process: {_f(light['tokens_per_s'], 0)} tokens/s, "
                f"{_f(light['tokens_per_cpu_s'], 0)} per CPU second ({light['tokens']:,} "
                "tokens).",
                "",
            ]
            continue
        job = size["job"]
        summary = job["summary"]
        tokens = summary["tokens"]
        light = size["in_process"]
        per_core = tokens / job["wall"] / result["cores"]
        lines += [
            f"### {int(lines_count):,} documents ({tokens:,} tokens, "
            f"{summary['sentences']:,} sentences)",
            "",
            f"Spark session start {_f(size['session_s'])} s; one-document job (Python "
            f"workers, model load, first batch) {_f(size['first_job_s'])} s; first corpus run "
            f"(cold) {_f(size['cold_run_s'])} s; warm runs {size['warm_walls']} s "
            f"(median below).",
            "",
            "| job phase (driver) | wall s | share | JVM CPU s | Python workers CPU s |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for phase, row in job["phases"].items():
            lines.append(
                f"| {phase} | {_f(row['wall'], 2)} | {row['wall'] / job['wall']:.0%} | "
                f"{_f(row['jvm_cpu'])} | {_f(row['python_cpu'])} |"
            )
        job_cpu = job["jvm_cpu"] + job["python_cpu"] + job["driver_cpu"]
        write = job["phases"]["annotate + Parquet write"]
        write_cpu = write["jvm_cpu"] + write["python_cpu"]
        loads = size["cold"]["stages"].get("DeBertaEmbeddings", {})
        lines += [
            f"| **whole run()** (driver thread {_f(job['driver_cpu'])} CPU s) | "
            f"**{_f(job['wall'], 2)}** | 100% | {_f(job['jvm_cpu'])} | "
            f"{_f(job['python_cpu'])} |",
            "",
            f"Job: {_f(tokens / job['wall'], 0)} tokens/s over run() "
            f"({_f(per_core, 0)} per core; summary run_seconds {summary['run_seconds']}, "
            f"tokens_per_second {summary['tokens_per_second']:,}); "
            f"{_f(tokens / job_cpu, 0)} tokens per CPU second over run() (JVM + Python workers "
            f"+ driver), {_f(tokens / write_cpu, 0)} over the annotate + write job alone. "
            f"In process (LightPipeline.fullAnnotate, batches of {LIGHT_BATCH}, one core, "
            f"{light['documents']:,} documents): {_f(light['tokens_per_s'], 0)} tokens/s, "
            f"{_f(light['tokens_per_cpu_s'], 0)} per CPU second. Job per core / in process, "
            f"wall: **{per_core / light['tokens_per_s']:.2f}**; per CPU second: "
            f"**{tokens / job_cpu / light['tokens_per_cpu_s']:.2f}** (run()), "
            f"**{tokens / write_cpu / light['tokens_per_cpu_s']:.2f}** (the annotate + write "
            f"job). Cold run: {int(loads.get('loads', 0))} model loads in the workers, "
            f"{_f(loads.get('load_cpu', 0.0), 2)} CPU s with their first chunks. Load "
            f"average (1 min) at the end of the median run: {job['load_average']:.1f}.",
            "",
            "| Python stage, CPU s | job: core | Arrow->dicts | dicts->Arrow | model load "
            "(in core) | rows | in process: core, scaled to the job's tokens |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, row in job["stages"].items():
            local = light["stages"].get(name, {})
            lines.append(
                f"| {name} | {_f(row['core_cpu'], 2)} | {_f(row['from_arrow_cpu'], 2)} | "
                f"{_f(row['to_arrow_cpu'], 2)} | {_f(row['load_cpu'], 2)} "
                f"({int(row['loads'])}) | {int(row['rows']):,} | "
                f"{_f(local.get('core_cpu', 0.0) * tokens / light['tokens'], 2)} |"
            )
        staged = sum(
            r["core_cpu"] + r["from_arrow_cpu"] + r["to_arrow_cpu"] for r in job["stages"].values()
        )
        lines += [
            "",
            f"In the annotate + write job: Python workers {_f(write['python_cpu'])} CPU s, of "
            f"which the stages' cores and conversions {_f(staged)}; the rest "
            f"({_f(write['python_cpu'] - staged)}) is PySpark's worker (Arrow IPC, the loop); "
            f"JVM {_f(write['jvm_cpu'])} CPU s.",
            "",
        ]
        trunc = size.get("truncated")
        if trunc:
            lines += [
                "| pipeline -> sink | wall s | JVM CPU s | Python CPU s | cores CPU s | "
                "Arrow->dicts | dicts->Arrow |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for name, row in trunc.items():
                if name == "identical":
                    continue
                stages = row["stages"].values()
                lines.append(
                    f"| {name} | {_f(row['wall'], 2)} | {_f(row['jvm_cpu'])} | "
                    f"{_f(row['python_cpu'])} | {_f(sum(s['core_cpu'] for s in stages), 2)} | "
                    f"{_f(sum(s['from_arrow_cpu'] for s in stages), 2)} | "
                    f"{_f(sum(s['to_arrow_cpu'] for s in stages), 2)} |"
                )
            if not all(f"{level} -> noop" in trunc for level in LEVELS):
                lines += ["", f"Output equal to the staged pipeline's: {trunc['identical']}", ""]
                continue
            lines += ["", "Added by each stage (difference to the previous pipeline):", ""]
            lines += [
                "| stage | noop: wall s | JVM CPU | Python CPU | parquet: wall s | JVM CPU | "
                "Python CPU |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
            ]
            for before, after in itertools.pairwise(LEVELS):
                cells = []
                for sink in ("noop", "parquet"):
                    a, b = trunc[f"{after} -> {sink}"], trunc[f"{before} -> {sink}"]
                    cells += [
                        _f(a["wall"] - b["wall"], 2),
                        _f(a["jvm_cpu"] - b["jvm_cpu"]),
                        _f(a["python_cpu"] - b["python_cpu"]),
                    ]
                lines.append(f"| {after} | " + " | ".join(cells) + " |")
            lines += ["", f"Output equal to the staged pipeline's: {trunc['identical']}", ""]
    return "\n".join(lines)


def profile_size(args: argparse.Namespace, lines: int, with_truncated: bool) -> dict[str, Any]:
    """Everything measured for one input size, in a fresh session (its own JVM)."""
    corpus = corpus_file(args.work, lines)
    size: dict[str, Any] = {}
    log(f"{lines} lines: in process")
    size["in_process"] = in_process(corpus, min(lines, args.light_lines))
    log(f"{lines} lines: Spark session")
    spark, size["session_s"] = timed_session(args.spark_conf)
    try:
        with ProcessCpu(jvm_pid(spark)) as cpu:
            one = args.work / "one-document.txt"
            one.write_text(paragraphs()[0] + "\n", encoding="utf-8")
            started = time.perf_counter()
            size["first_job"] = run_job(spark, cpu, one, args.work / "out-one")
            size["first_job_s"] = round(time.perf_counter() - started, 3)
            log(f"{lines} lines: the job, cold")
            size["cold"] = run_job(spark, cpu, corpus, args.work / "out")
            size["cold_run_s"] = size["cold"]["wall"]
            warm = []
            for number in range(args.runs):
                log(f"{lines} lines: the job, warm run {number + 1}")
                warm.append(run_job(spark, cpu, corpus, args.work / "out"))
            size["job"] = median_run(warm)
            size["warm_walls"] = [r["wall"] for r in warm]
            if with_truncated:
                log(f"{lines} lines: truncated pipelines")
                size["truncated"] = truncated(
                    spark, cpu, corpus, args.work, args.truncated_runs, args.truncated_only
                )
    except Exception as exc:  # a failed job is a finding: keep what was measured
        size["error"] = f"{type(exc).__name__}: " + (str(exc).strip().splitlines() or [""])[0]
        log(f"{lines} lines failed: {size['error'][:300]}")
    finally:
        stop_jvm(spark)
    return size


def shown_path(path: str | None) -> str | None:
    """A path inside the repository as a relative one (the report is read from there)."""
    if path and Path(path).resolve().is_relative_to(ROOT):
        return os.path.relpath(Path(path).resolve(), ROOT)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[10000, 50000])
    parser.add_argument("--runs", type=int, default=2, help="warm job runs (median)")
    parser.add_argument(
        "--truncated-lines",
        type=int,
        nargs="*",
        default=None,
        help="sizes that also get the truncated pipelines (default: the smallest)",
    )
    parser.add_argument("--truncated-runs", type=int, default=1)
    parser.add_argument(
        "--truncated-only",
        nargs="*",
        default=None,
        help="only the truncated cases whose names contain one of these (default: all)",
    )
    parser.add_argument("--name", default="profile_tiny", help="results file name")
    parser.add_argument("--light-lines", type=int, default=10000, help="in-process documents")
    parser.add_argument(
        "--spark-conf",
        default=str(ROOT / "conf" / "spark" / "local.conf"),
        help="as spark-deberta run --spark-conf; none: Spark's defaults",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work" / "profile")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.spark_conf == "none":
        args.spark_conf = None
    truncated_lines = (
        [min(args.lines)] if args.truncated_lines is None else list(args.truncated_lines)
    )
    args.work.mkdir(parents=True, exist_ok=True)
    import pyspark

    command = "python bench/profile_job.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result: dict[str, Any] = {
        "command": command.strip(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "pyspark": pyspark.__version__,
        "model": "deberta_v3_tiny_random",
        "spark_conf": shown_path(args.spark_conf),
        "sizes": {},
    }
    for lines in args.lines:
        result["sizes"][str(lines)] = profile_size(args, lines, lines in truncated_lines)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=1) + "\n")
        (args.out / f"{args.name}.md").write_text(report(result) + "\n")
    print(report(result))
    shutil.rmtree(args.work / "out", ignore_errors=True)
    return 0


if __name__ == "__main__":
    # Run as the module bench.profile_job, so that the workers unpickle its timers by name.
    sys.exit(importlib.import_module("bench.profile_job").main())
