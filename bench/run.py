"""Benchmark: our pipeline against ONNX Runtime alone and against a PyTorch pandas UDF, in one run.

    python bench/run.py                     # xsmall shape, 3000 sentences, 3 runs (about 50 min)
    python bench/run.py --update-readme     # and put the table into README.md
    python bench/run.py --shape tiny --sentences 40 --runs 1   # the smoke run the tests do

Needs the export extra (torch, transformers, onnx). It builds a random-weight checkpoint with
exactly microsoft/deberta-v3-xsmall's configuration (speed does not depend on the weights'
values), exports it with our exporter (fp32 and int8), and times, on the same real sentences
(data/bench, public domain):

1. ceiling: ONNX Runtime fp32 alone in this process on pre-computed piece ids, globally
   length-sorted, best batch size, all cores; 1b: the same for OpenVINO bf16; 1c: for ONNX
   Runtime int8; each is chosen first, then timed between the runs of our path on the same
   engine (before each and after the last), so that the machine's drift moves both sides;
2. ours fp32: the job (DocumentAssembler -> SentenceDetector -> Tokenizer -> DeBertaEmbeddings,
   written to Parquet) in local[*];
   (2b: on the corpus as a few long documents; 2c: with the transport PySpark 3.5 and 4.0 use,
   ``mapInArrow``, forced with ``SPARK_DEBERTA_TRANSPORT``; 2d: on the OpenVINO engine)
3. ours int8: the same with the int8 model; 3b: OpenVINO bf16;
4. baseline: DebertaV2Model in PyTorch in a pandas UDF (bench/baseline.py), same sentences, same
   Spark settings; 4b: the same with length-sorted batches, as a careful user writes it;
5. LightPipeline: single texts, latency per call, against the engine alone on the same texts'
   pieces (the same batches, the same engine object);
6. cost as the work grows: the job with the bundled tiny model at growing sizes;
7. memory per executor: the job with ``spark.task.cpus`` 1 and equal to the cores, on xsmall
   and base shapes (``--only task-slots`` runs this section alone).

It also measures the machine's matmul peak (torch, every core) for fp32, bf16 and int8, and
gives each path's fraction of the peak of its precision: real pieces/s x model FLOPs per piece
(``flops_per_piece``) / peak.

Each Spark path runs in a fresh SparkContext: its start-up (a one-document job: Python workers,
model load, first batch) is timed first, then one untimed warm-up run of the corpus (every
Python worker loads its model once), then the corpus ``--runs`` times (median). Python
workers' peak RSS is read from /proc while the jobs run. Writes ``<out>/<shape>.json`` and
``<out>/<shape>.md``; while it runs, ``<out>/<shape>.partial.json`` holds every section measured
so far (removed when the run ends well), so a late failure keeps the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import multiprocessing
import os
import platform
import queue
import re
import shlex
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from annotators.chain import FUSE_ENV  # noqa: E402
from annotators.sentence import split_sentences  # noqa: E402

CORPUS = ROOT / "data" / "bench" / "pride_and_prejudice.txt"
README = ROOT / "README.md"
TRANSPORT_ROW = "2c ours fp32, mapInArrow transport (Spark 3.5/4.0's)"
README_START = "<!-- benchmark table: start -->"
README_END = "<!-- benchmark table: end -->"
SLOTS_START = "<!-- task slots table: start -->"
SLOTS_END = "<!-- task slots table: end -->"
#: The cost-growth table lives in the methodology page; the README points to it.
BENCHMARK_DOC = ROOT / "docs" / "benchmark.md"
GROWTH_POINTER = (
    "Cost as the work grows (10,000 and 100,000 documents, chains off): "
    "[docs/benchmark.md](docs/benchmark.md#cost-as-the-work-grows)."
)
SPARK_CONF = ROOT / "conf" / "spark" / "local.conf"
#: DeBERTa-v3's vocabulary (xsmall's and base's): the embedding matrix is part of the model's
#: size and load time.
V3_VOCAB = 128100
BATCH_SIZES = (4, 8, 16, 32, 64)
LONG_DOCUMENTS = 12
#: The growth section's control case: every stage its own crossing.
UNCHAINED = f"chains off ({FUSE_ENV}=0)"
CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
)
#: Ratio -> (goal, whether the ratio must exceed it rather than reach it).
GOALS = {
    "fp32_vs_ceiling": (0.95, False),
    "bf16_vs_its_ceiling": (0.95, False),
    "int8_vs_its_ceiling": (0.95, False),
    "best_vs_fp32": (2.0, False),
    "fp32_vs_baseline": (1.5, False),
    "fp32_vs_sorted_baseline": (1.0, True),
    "int8_vs_fp32": (1.4, False),
    # a time ratio: at most the goal
    "light_p50_vs_engine": (1.5, False),
    "framework_bound_vs_in_process": (0.90, False),
    "time_per_token_largest_vs_smallest": (1.10, False),
}
#: Ratios that must stay at or under their goal (times, not rates).
AT_MOST = frozenset({"light_p50_vs_engine"})
#: Ratios that must stay within their goal of 1, either way (time per token flat with size).
WITHIN = frozenset({"time_per_token_largest_vs_smallest"})
CEILING = "1 ceiling: ONNX Runtime fp32 alone"
BF16_CEILING = "1b ceiling: OpenVINO bf16 alone"
INT8_CEILING = "1c ceiling: ONNX Runtime int8 alone"
OURS_FP32 = "2 ours fp32"
OURS_OPENVINO_FP32 = "2d ours fp32, OpenVINO"
OURS_INT8 = "3 ours int8"
OURS_BF16 = "3b ours bf16, OpenVINO"
#: Each of our paths whose ceiling is timed between its runs: path -> ceiling.
PAIRED_CEILING = {OURS_FP32: CEILING, OURS_BF16: BF16_CEILING, OURS_INT8: INT8_CEILING}
BASELINE = "4 baseline: PyTorch pandas UDF"
SORTED_BASELINE = "4b baseline: PyTorch pandas UDF, length-sorted batches"
LIGHT = "5 LightPipeline, single texts"
#: The precision whose peak each path is measured against.
ROW_PRECISION = {
    BF16_CEILING: "bf16",
    INT8_CEILING: "int8",
    OURS_INT8: "int8",
    OURS_BF16: "bf16",
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the machine and the corpus --------------------------------------------------------------


def machine() -> dict[str, Any]:
    import onnxruntime
    import pyspark
    import torch
    import transformers

    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    flags = re.search(r"flags\s*:\s*(.*)", cpuinfo)
    present = set(flags.group(1).split()) if flags else set()
    memory = re.search(r"MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text())
    return {
        "cores": os.cpu_count(),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "cpu_flags": [f for f in CPU_FLAGS if f in present],
        "memory_gib": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "pyspark": pyspark.__version__,
    }


def load_documents(sentences: int) -> list[str]:
    """The corpus's first paragraphs, up to ``sentences`` sentences."""
    documents, count = [], 0
    for line in CORPUS.read_text(encoding="utf-8").splitlines():
        if count >= sentences:
            break
        documents.append(line)
        count += len(split_sentences(line))
    return documents


# -- the models ------------------------------------------------------------------------------


def prepare_models(work: Path, shape_name: str, int8: bool = True) -> tuple[Path, Path]:
    """A random checkpoint of the shape and its exported model folder (reused when present);
    with ``int8``, the folder holds the int8 graph too."""
    from annotators.deberta import synthetic
    from annotators.deberta.export import export_checkpoint

    shape = {"base": synthetic.BASE, "xsmall": synthetic.XSMALL, "tiny": synthetic.TINY}[shape_name]
    vocab_size = None if shape_name == "tiny" else V3_VOCAB
    stamp = {
        "shape": shape,
        "vocab_size": vocab_size,
        "corpus": CORPUS.stat().st_size,
        "int8": int8,
    }
    checkpoint, folder = work / "checkpoint", work / "model"
    stamp_file = work / "stamp.json"
    if stamp_file.exists():
        stored = json.loads(stamp_file.read_text())
        # A folder with the int8 graph serves a caller that needs fp32 only.
        if stored == stamp or stored == {**stamp, "int8": True}:
            return checkpoint, folder
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log(f"building a random {shape_name} checkpoint and exporting it (fp32{' + int8' * int8})")
    # A vocabulary trained on the corpus: English words take about as many pieces as with
    # DeBERTa-v3's own 128k vocabulary, which cannot be downloaded here.
    spm_model = synthetic.train_spm(
        work, [CORPUS], vocab_size=1000 if shape_name == "tiny" else 8000
    )
    synthetic.build_random_checkpoint(checkpoint, spm_model, shape, vocab_size=vocab_size)
    export_checkpoint(
        str(checkpoint),
        folder,
        quantize="int8" if int8 else None,
        name=f"bench_{shape_name}",
        overwrite=True,
    )
    stamp_file.write_text(json.dumps(stamp))
    return checkpoint, folder


# -- measuring ---------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def spark_path(
    runs: int,
    startup: Callable[[], object],
    job: Callable[[], object],
    warm_up: bool = True,
    between: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Start-up (a one-document job), one untimed warm-up run of the corpus, then timed runs.

    The warm-up lets every Python worker load its model once, as a long job does; its time is
    kept in the results (``warm_up_s``), and start-up is reported on its own. ``between`` (a
    ceiling's timing) runs before each timed run and after the last, so that a drift in the
    machine's speed moves both sides of the ratio (``between_times``).
    """
    row: dict[str, Any] = {"startup_s": timed(startup)}
    if warm_up:
        row["warm_up_s"] = timed(job)
    times, between_times = [], []
    for _ in range(runs):
        if between is not None:
            between_times.append(between())
        times.append(timed(job))
    if between is not None:
        between_times.append(between())
        row["between_times"] = between_times
    row["seconds"], row["times"] = statistics.median(times), times
    return row


class WorkerMemory:
    """Peak RSS (VmHWM) of each PySpark Python worker, and the peak of all workers' RSS at once
    (what an executor's Python side holds: it must fit in its memory overhead), from /proc."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self.together_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            together = 0
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    if b"pyspark.daemon" not in (entry / "cmdline").read_bytes():
                        continue
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                found = re.search(r"VmHWM:\s*(\d+) kB", status)
                if found:
                    self.peaks[int(entry.name)] = max(
                        self.peaks.get(int(entry.name), 0), int(found.group(1))
                    )
                now = re.search(r"VmRSS:\s*(\d+) kB", status)
                together += int(now.group(1)) if now else 0
            self.together_kib = max(self.together_kib, together)
            self._stop.wait(self.interval)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mib(self) -> float:
        return round(max(self.peaks.values(), default=0) / 1024, 1)

    def together_mib(self) -> float:
        return round(self.together_kib / 1024, 1)


@dataclass
class Sequences:
    """The corpus as the encoder sees it: piece ids per sequence, specials excluded."""

    sentences: list[str]
    pieces: list[list[int]]
    per_document: list[int]  # sequences of each document, in order

    @property
    def real_positions(self) -> int:
        return sum(len(p) + 2 for p in self.pieces)


def job_stages(folder: Path) -> list[Any]:
    """The job's four stages at their default settings, with this model, fitted."""
    from pipelines.config import defaults
    from pipelines.stages import build_pipeline

    config = defaults()
    config["model"]["name"] = str(folder)
    document, sentence, tokenizer, embeddings = build_pipeline(config).getStages()
    return [document, sentence, tokenizer.fit(None), embeddings]


def plan_corpus(documents: list[str], folder: Path) -> Sequences:
    """Run the text stages and the encoder's planner on the driver (no model run)."""
    from pyspark.ml import PipelineModel

    from annotators import LightPipeline
    from annotators.deberta.encoder import group_by_sentence, plan_sentence, runtime_for

    stages = job_stages(folder)
    text_stages = PipelineModel(stages[:3])
    settings = stages[3].shipped_settings()
    runtime = runtime_for(settings)
    sentences, pieces, per_document = [], [], []
    for row in LightPipeline(text_stages).run_rows(documents):
        sentences.extend(a["result"] for a in row["sentence"])
        count = 0
        for sentence in group_by_sentence(row["token"]):
            token_pieces = [runtime.token_pieces(t["result"]) for t in sentence]
            planned, _ = plan_sentence(token_pieces, settings, 0)
            pieces.extend(s.piece_ids for s in planned)
            count += len(planned)
        per_document.append(count)
    return Sequences(sentences, pieces, per_document)


def padding_efficiency(lengths: list[int], batches: list[list[int]]) -> float:
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return round(sum(lengths) / padded, 3)


def ours_padding(sequences: Sequences, batch_size: int, max_length: int, chunk: int) -> float:
    """Our planner's padding over the corpus cut into chunks of ``chunk`` documents, as a
    partition's Arrow batches are (partition edges move chunk edges a little)."""
    from annotators.deberta.encoder import plan_batches

    lengths = [len(p) + 2 for p in sequences.pieces]
    batches, first = [], 0
    for start in range(0, len(sequences.per_document), chunk):
        count = sum(sequences.per_document[start : start + chunk])
        chunk_lengths = lengths[first : first + count]
        for batch in plan_batches(chunk_lengths, batch_size, batch_size * max_length):
            batches.append([first + i for i in batch])
        first += count
    return padding_efficiency(lengths, batches)


def fresh_runtime(folder: Path, engine: str, precision: str, threads: int) -> Any:
    """A new runtime (not the process's cached one) with the job's embeddings settings."""
    from annotators.deberta.encoder import Runtime, model_location

    stage = job_stages(folder)[3].setThreads(threads).setEngine(engine).setPrecision(precision)
    settings = stage.shipped_settings()
    return Runtime(settings, *model_location(settings))


@dataclass
class CeilingTimer:
    """An engine's ceiling as chosen (batch size, layout), timing the whole corpus again on
    demand: the job's runs of the same engine are timed between its timings."""

    folder: Path
    engine: str
    precision: str
    prepared: list[tuple[np.ndarray, np.ndarray]]
    runtime: Any  # the in-process engine; None when the layout is a process per core
    processes: int

    def once(self) -> float:
        if self.runtime is not None:
            return timed(lambda: [self.runtime.run(*b) for b in self.prepared])
        seconds, _ = parallel_ceiling(
            self.folder, self.engine, self.precision, self.prepared, 1, self.processes
        )
        return seconds


def ceiling(
    sequences: Sequences,
    folder: Path,
    cores: int,
    engine: str = "onnxruntime",
    precision: str = "fp32",
) -> tuple[dict[str, Any], dict[str, Any], CeilingTimer]:
    """An engine alone on pre-computed, globally length-sorted batches, our engine settings,
    at the best batch size of a sweep, the better of two layouts: one process with a thread per
    core, and a process per core with one thread each (the job's own layout), each process
    taking every other batch. Each layout is timed once to choose, the chosen one once more
    (``alone_s``); the row's seconds then come from the timer, between the runs of the job on
    the same engine and precision (``main``)."""
    from annotators.deberta.encoder import padded_batch

    started = time.perf_counter()
    runtime = fresh_runtime(folder, engine, precision, cores)
    special = runtime.settings.special_tokens
    lengths = [len(p) + 2 for p in sequences.pieces]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)

    def batches_of(size: int, indices: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            padded_batch([sequences.pieces[i] for i in indices[start : start + size]], special)
            for start in range(0, len(indices), size)
        ]

    first = batches_of(8, order[:8])[0]
    runtime.run(*first)
    startup = time.perf_counter() - started
    # Choose the batch size on every third sequence (all lengths), then time the whole corpus.
    sample = order[::3]
    sweep = {}
    for size in BATCH_SIZES:
        prepared = batches_of(size, sample)
        seconds = timed(lambda p=prepared: [runtime.run(*b) for b in p])
        sweep[size] = round(len(sample) / seconds, 1)
    best = max(sweep, key=sweep.__getitem__)
    prepared = batches_of(best, order)
    layouts = {
        f"1 process x {cores} threads": (
            timed(lambda: [runtime.run(*b) for b in prepared]),
            1,
        )
    }
    processes = min(cores, len(prepared))  # a tiny corpus may make a single batch
    if processes > 1:
        seconds, _ = parallel_ceiling(folder, engine, precision, prepared, 1, processes)
        layouts[f"{processes} processes x 1 thread"] = (seconds, processes)
    layout = min(layouts, key=lambda name: layouts[name][0])
    processes = layouts[layout][1]
    timer = CeilingTimer(
        folder, engine, precision, prepared, runtime if processes == 1 else None, processes
    )
    # The faster of two single timings is biased low: the chosen layout is timed once more.
    alone = timer.once()
    groups = [order[s : s + best] for s in range(0, len(order), best)]
    row = {
        # until it is timed between our path's runs (main), its figure is this one
        "seconds": alone,
        "times": [alone],
        "alone_s": alone,
        "timed_between": False,
        "layout": layout,
        "startup_s": startup,
        "batch_size": best,
        "padding": padding_efficiency(lengths, groups),
    }
    by_layout = {name: round(len(order) / t, 1) for name, (t, _) in layouts.items()}
    return (
        row,
        {"sequences_per_s_by_batch_size": sweep, "sequences_per_s_by_layout": by_layout},
        timer,
    )


def _ceiling_process(
    folder: str,
    engine: str,
    precision: str,
    batches: list[tuple[np.ndarray, np.ndarray]],
    runs: int,
    start: Any,
    times: Any,
) -> None:
    """One single-threaded engine timing its share of the batches, in step with the others."""
    runtime = fresh_runtime(Path(folder), engine, precision, threads=1)
    runtime.run(*batches[0])
    for _ in range(runs):
        start.wait()
        times.put(timed(lambda: [runtime.run(*b) for b in batches]))


def parallel_ceiling(
    folder: Path,
    engine: str,
    precision: str,
    batches: list[tuple[np.ndarray, np.ndarray]],
    runs: int,
    processes: int,
) -> tuple[float, list[float]]:
    """Wall time of ``processes`` single-threaded engines sharing the batches (median of
    ``runs``; each run lasts until the slowest process finishes)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start, times = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(
            target=_ceiling_process,
            args=(str(folder), engine, precision, batches[n::processes], runs, start, times),
            daemon=True,  # a failed sibling leaves the others at the barrier: they must not
            # keep this process from exiting
        )
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()

    def next_time() -> float:
        while True:
            try:
                return times.get(timeout=5)
            except queue.Empty:
                failed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
                if failed:
                    raise RuntimeError(f"a ceiling process failed (exit codes {failed})") from None

    walls = [max(next_time() for _ in workers) for _ in range(runs)]
    for worker in workers:
        worker.join()
    return statistics.median(walls), walls


# -- Spark paths -----------------------------------------------------------------------------


@contextmanager
def fresh_spark(cores: int, settings: dict[str, str] | None = None) -> Iterator[Any]:
    """A new SparkContext with the project's local settings (fresh Python workers), and
    ``settings`` over them."""
    from pyspark.sql import SparkSession

    from pipelines.session import read_spark_conf

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("spark-deberta-bench").master(f"local[{cores}]")
    for key, value in read_spark_conf(str(SPARK_CONF)).items():
        if key != "spark.master":
            builder = builder.config(key, value)
    for key, value in (settings or {}).items():
        builder = builder.config(key, value)
    spark = builder.config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def ours(
    spark: Any, documents_file: Path, folder: Path, output: Path, precision: str, engine: str
) -> dict[str, object]:
    from pipelines.arguments import parse_args
    from pipelines.job import run

    argv = ["--input", str(documents_file), "--output", str(output), "--mode", "overwrite"]
    argv += ["--model", str(folder), "--precision", precision, "--engine", engine]
    argv += ["--set", "job.progress_interval_s=0"]
    return run(parse_args(argv), spark)


def run_ours(
    work: Path,
    documents: list[str],
    folder: Path,
    precision: str,
    runs: int,
    cores: int,
    warm_up: bool = True,
    engine: str = "onnxruntime",
    between: Callable[[], float] | None = None,
) -> dict[str, Any]:
    corpus = work / f"documents-{len(documents)}.txt"
    corpus.write_text("\n".join(documents) + "\n", encoding="utf-8")
    one = work / "one-document.txt"
    one.write_text(documents[0] + "\n", encoding="utf-8")
    output = work / f"out-{engine}-{precision}"
    with fresh_spark(cores) as spark, WorkerMemory() as memory:
        row = spark_path(
            runs,
            lambda: ours(spark, one, folder, work / "out-startup", precision, engine),
            lambda: ours(spark, corpus, folder, output, precision, engine),
            warm_up=warm_up,
            between=between,
        )
    return {**row, "rss_mib": memory.peak_mib()}


# -- cost as the work grows ---------------------------------------------------------------------


def paragraphs(count: int) -> list[str]:
    """The corpus's non-empty paragraphs, repeated to ``count`` documents."""
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [lines[i % len(lines)] for i in range(count)]


def _peak_kib(pid: int) -> int:
    found = re.search(r"VmHWM:\s*(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) if found else 0


def _reset_peak(pid: int) -> None:
    """Start a process's peak RSS (VmHWM) afresh: Linux resets it on "5" to clear_refs."""
    with contextlib.suppress(OSError):  # not allowed: the peak covers the whole process
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def driver_jvm_pid() -> int | None:
    """The local driver's JVM: the java child of this process."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and b"java" in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except (OSError, IndexError, ValueError):
            continue
    return None


def in_process_rate(documents: list[str], folder: Path) -> dict[str, Any]:
    """The job's four stages in this process, pinned to one core with one engine thread,
    ``LightPipeline.fullAnnotate`` on batches of 256 documents: tokens per second per core."""
    from pyspark.ml import PipelineModel

    from annotators import LightPipeline

    stages = job_stages(folder)
    stages[3].setThreads(1)
    light = LightPipeline(PipelineModel(stages))
    light.fullAnnotate(documents[:8])
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(affinity)})
    try:
        tokens, started = 0, time.perf_counter()
        for start in range(0, len(documents), 256):
            for result in light.fullAnnotate(documents[start : start + 256]):
                tokens += len(result["token"])
        seconds = time.perf_counter() - started
    finally:
        os.sched_setaffinity(0, affinity)
    return {"documents": len(documents), "tokens": tokens, "seconds": seconds}


def in_fresh_process(case: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """``case(*args)`` in a new interpreter: its own driver JVM and Python, as a job has, so
    their start and peaks are the case's and not this run's earlier sections'."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as driver:
        return driver.submit(case, *args).result()


def growth_case(
    corpus: Path, one: Path, folder: Path, work: Path, cores: int, chained: bool
) -> dict[str, Any]:
    """One cost-growth case, in a fresh process: the session's start (the JVM's too), a
    one-document job (Python workers, model load, first batch), then the job; the peak RSS of
    the driver's JVM and Python process over the job alone, and of every Python worker; then
    the same job again, warm (its time only)."""
    os.environ[FUSE_ENV] = "1" if chained else "0"
    began = time.perf_counter()
    with fresh_spark(cores) as spark, WorkerMemory() as memory:
        session_s = time.perf_counter() - began
        jvm = driver_jvm_pid()
        began = time.perf_counter()
        ours(spark, one, folder, work / "growth-first", "fp32", "onnxruntime")
        first_s = time.perf_counter() - began
        for pid in (os.getpid(), jvm):
            if pid:
                _reset_peak(pid)
        summary = ours(spark, corpus, folder, work / "growth-out", "fp32", "onnxruntime")
        jvm_mib = round(_peak_kib(jvm) / 1024, 1) if jvm else None
        python_mib = round(_peak_kib(os.getpid()) / 1024, 1)
        worker_mib = memory.peak_mib()
        # The same job again in the same session: what a warm JVM and warm workers take, to
        # tell a per-process warm-up from a per-job cost.
        again = ours(spark, corpus, folder, work / "growth-out", "fp32", "onnxruntime")
    tokens = int(summary["tokens"])
    if int(again["tokens"]) != tokens:
        raise RuntimeError(f"the same job gave {tokens} tokens, then {again['tokens']}")
    return {
        "tokens": tokens,
        "session_s": round(session_s, 2),
        "first_job_s": round(first_s, 2),
        "run_s": float(summary["run_seconds"]),
        "us_per_token": round(float(summary["run_seconds"]) / tokens * 1e6, 2),
        "again_us_per_token": round(float(again["run_seconds"]) / tokens * 1e6, 2),
        "driver_jvm_peak_mib": jvm_mib,
        "driver_python_peak_mib": python_mib,
        "worker_peak_mib": worker_mib,
    }


def run_growth(
    work: Path, sizes: list[int], cores: int, keep: Callable[..., None] = lambda **_: None
) -> dict[str, Any]:
    """The job with the bundled tiny model (the model almost free: the framework's cost shows)
    at each size and on the smallest size's text as ``LONG_DOCUMENTS`` long documents: start-up
    apart (session; first one-document job: model load and first batch), then the steady run's
    time per token, and the peak memory of the driver (JVM and Python) and of every worker."""
    from annotators.deberta.pretrained import BUNDLED_DIR

    folder = BUNDLED_DIR / "deberta_v3_tiny_random_en"
    one = work / "growth-one.txt"
    one.write_text(paragraphs(1)[0] + "\n", encoding="utf-8")
    cases = [(f"{size} documents", paragraphs(size), True) for size in sizes]
    # The smallest size's text: the largest's as 12 documents makes rows of about 570,000
    # tokens and their vectors, which ran a 4 GB driver out of heap (2026-12-02).
    smallest = paragraphs(min(sizes))
    long = [" ".join(smallest[i::LONG_DOCUMENTS]) for i in range(LONG_DOCUMENTS)]
    cases.append((f"{min(sizes)} documents' text as {LONG_DOCUMENTS} documents", long, True))
    # The smallest size again with each stage its own crossing (annotators.chain's off switch).
    cases.append((f"{min(sizes)} documents, {UNCHAINED}", paragraphs(min(sizes)), False))
    rows: dict[str, dict[str, Any]] = {}
    for name, documents, chained in cases:
        corpus = work / f"growth-{len(documents)}-{len(documents[0])}.txt"
        corpus.write_text("\n".join(documents) + "\n", encoding="utf-8")
        log(f"growth: {name}")
        row = in_fresh_process(growth_case, corpus, one, folder, work, cores, chained)
        rows[name] = {"documents": len(documents), **row}
        keep(growth_rows=rows)
    log("growth: the same stages in this process, one core")
    in_process = in_process_rate(paragraphs(min(max(sizes), 5000)), folder)
    job, small = rows[f"{max(sizes)} documents"], rows[f"{min(sizes)} documents"]
    per_core = job["tokens"] / job["run_s"] / cores
    return {
        "model": folder.name,
        "rows": rows,
        "in_process": in_process,
        "job_tokens_per_s_per_core": round(per_core, 1),
        "in_process_tokens_per_s": round(in_process["tokens"] / in_process["seconds"], 1),
        "chained_vs_unchained": round(
            rows[f"{min(sizes)} documents, {UNCHAINED}"]["us_per_token"] / small["us_per_token"],
            2,
        ),
        "again_largest_vs_smallest": round(
            job["again_us_per_token"] / small["again_us_per_token"], 3
        ),
    }


# -- memory per executor ------------------------------------------------------------------------


def slot_case(
    corpus: Path, one: Path, folder: Path, work: Path, cores: int, task_cpus: int
) -> dict[str, Any]:
    """One memory-per-executor case, in a fresh process: start-up, a warm-up run, a timed run;
    the Python processes seen (the PySpark daemon among them) and their memory."""
    settings = {"spark.task.cpus": str(task_cpus)}
    with fresh_spark(cores, settings) as spark, WorkerMemory() as memory:
        run = functools.partial(ours, spark, folder=folder, engine="onnxruntime")
        row = spark_path(
            1,
            functools.partial(run, one, output=work / "slots-startup", precision="fp32"),
            functools.partial(run, corpus, output=work / "slots-out", precision="fp32"),
        )
    return {
        **row,
        "python_processes": len(memory.peaks),
        "together_peak_mib": memory.together_mib(),
        "largest_peak_mib": memory.peak_mib(),
    }


def run_task_slots(
    work: Path,
    models: dict[str, Path],
    documents: list[str],
    cores: int,
    keep: Callable[..., None] = lambda **_: None,
) -> dict[str, Any]:
    """Each Python worker holds its own engine, so an executor with N task slots holds N copies
    of the weights. For each model shape, the job with ``spark.task.cpus`` 1 (every core its
    own task, each engine one thread) and equal to the cores (one task, one engine with every
    core): sentences per second after a warm-up, and the peak of all Python workers' RSS at
    once."""
    corpus = work / f"slots-{len(documents)}.txt"
    corpus.write_text("\n".join(documents) + "\n", encoding="utf-8")
    one = work / "one-document.txt"
    one.write_text(documents[0] + "\n", encoding="utf-8")
    sentences = sum(len(split_sentences(d)) for d in documents)
    rows: dict[str, dict[str, Any]] = {}
    for shape, folder in models.items():
        for task_cpus in sorted({1, cores}):
            name = f"{shape}, spark.task.cpus={task_cpus}"
            log(f"task slots: {name}")
            row = in_fresh_process(slot_case, corpus, one, folder, work, cores, task_cpus)
            rows[name] = {
                "task_slots": cores // task_cpus,
                "sentences_per_s": round(sentences / row["seconds"], 1),
                **row,
            }
            keep(task_slot_rows=rows)
    return {"sentences": sentences, "cores": cores, "rows": rows}


def run_baseline(
    work: Path,
    sentences: list[str],
    checkpoint: Path,
    runs: int,
    cores: int,
    sort_by_length: bool = False,
) -> dict[str, Any]:
    from bench.baseline import embed_sentences

    def job(spark: Any, rows: list[str], output: Path) -> None:
        frame = spark.createDataFrame([(i, s) for i, s in enumerate(rows)], "id long, text string")
        frame = frame.repartition(spark.sparkContext.defaultParallelism)
        embed = embed_sentences(
            str(checkpoint), batch_size=8, max_length=128, sort_by_length=sort_by_length
        )
        frame.withColumn("embeddings", embed("text")).write.mode("overwrite").parquet(str(output))

    with fresh_spark(cores) as spark, WorkerMemory() as memory:
        row = spark_path(
            runs,
            lambda: job(spark, sentences[:1], work / "baseline-startup"),
            lambda: job(spark, sentences, work / "baseline-out"),
        )
    return {**row, "rss_mib": memory.peak_mib()}


def baseline_positions(
    sentences: list[str], checkpoint: Path, shares: int
) -> tuple[int, float, float]:
    """Real positions the baseline computes, and its padding with batches of 8 in input order
    and length-sorted within each of ``shares`` round-robin shares (the partitions)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    lengths = [
        len(ids) for ids in tokenizer(sentences, truncation=True, max_length=128)["input_ids"]
    ]
    batches = [list(range(s, min(s + 8, len(lengths)))) for s in range(0, len(lengths), 8)]
    sorted_batches = []
    for share in range(shares):
        indices = sorted(range(share, len(lengths), shares), key=lengths.__getitem__)
        sorted_batches += [indices[s : s + 8] for s in range(0, len(indices), 8)]
    return (
        sum(lengths),
        padding_efficiency(lengths, batches),
        padding_efficiency(lengths, sorted_batches),
    )


def run_light(documents: list[str], folder: Path, calls: int) -> dict[str, Any]:
    """LightPipeline on single texts: start-up (build + first call), then latency per call;
    and the engine alone on each text's pieces, batched as the stage batches them, on the very
    engine object the LightPipeline uses: what is left is the rest of the pipeline."""
    from pyspark.ml import PipelineModel

    from annotators import LightPipeline
    from annotators.deberta.encoder import padded_batch, plan_batches, runtime_for

    started = time.perf_counter()
    stages = job_stages(folder)
    light = LightPipeline(PipelineModel(stages))
    light.annotate(documents[0])
    startup = time.perf_counter() - started
    texts = documents[:calls]
    latencies = []
    for text in texts:
        begun = time.perf_counter()
        light.annotate(text)
        latencies.append((time.perf_counter() - begun) * 1000)
    settings = stages[3].shipped_settings()
    runtime = runtime_for(settings)
    special = runtime.settings.special_tokens
    engine = []
    for text in texts:
        pieces = plan_corpus([text], folder).pieces
        lengths = [len(p) + 2 for p in pieces]
        budget = settings.batch_size * settings.max_sentence_length
        batches = [
            padded_batch([pieces[i] for i in batch], special)
            for batch in plan_batches(lengths, settings.batch_size, budget)
        ]
        begun = time.perf_counter()
        for batch in batches:
            runtime.run(*batch)
        engine.append((time.perf_counter() - begun) * 1000)
    return {
        "startup_s": startup,
        "calls": len(latencies),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "engine_p50_ms": float(np.percentile(engine, 50)),
        "engine_p95_ms": float(np.percentile(engine, 95)),
    }


def cosine_to_fp32(
    sequences: Sequences, folder: Path, engine: str, precision: str, sample: int = 300
) -> dict[str, float]:
    """Cosine similarity of token vectors to ONNX Runtime fp32's, over every third corpus
    sequence up to ``sample`` (mean and minimum), one sequence per run (no padding)."""
    from annotators.deberta.encoder import runtime_for

    stage = job_stages(folder)[3]
    special = stage.model_folder().manifest.special_tokens
    reference = runtime_for(stage.settings())
    other = runtime_for(stage.setEngine(engine).setPrecision(precision).settings())
    cosines = []
    for piece_ids in sequences.pieces[::3][:sample]:
        ids = np.array([[special["[CLS]"], *piece_ids, special["[SEP]"]]], dtype=np.int64)
        mask = np.ones_like(ids)
        a, b = reference.run(ids, mask)[0], other.run(ids, mask)[0]
        cosines.extend((a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)))
    return {"mean": round(float(np.mean(cosines)), 6), "min": round(float(np.min(cosines)), 6)}


# -- the machine's peak and the model's FLOPs ------------------------------------------------


def matmul_peaks(cores: int, size: int = 2048, reps: int = 10) -> dict[str, float]:
    """GFLOP/s (GOP/s for int8) of a square matmul with torch on ``cores`` threads: the
    practical peak of each precision on this CPU."""
    import torch

    torch.set_num_threads(cores)
    a, b = torch.randn(size, size), torch.randn(size, size)
    operands = {
        "fp32": (a, b, torch.matmul),
        "bf16": (a.bfloat16(), b.bfloat16(), torch.matmul),
        "int8": (
            torch.randint(-128, 128, (size, size), dtype=torch.int8),
            torch.randint(-128, 128, (size, size), dtype=torch.int8),
            torch._int_mm,
        ),
    }
    peaks = {}
    for name, (x, y, multiply) in operands.items():
        multiply(x, y)
        repeat = lambda x=x, y=y, m=multiply: [m(x, y) for _ in range(reps)]  # noqa: E731
        best = min(timed(repeat) for _ in (1, 2))
        peaks[name] = round(2 * size**3 * reps / best / 1e9, 1)
    return peaks


def flops_per_piece(checkpoint: Path, mean_length: float) -> dict[str, float]:
    """Model FLOPs for one real piece (2 per multiply-add), by part, per the config.

    Counted per layer: the Q, K, V and output projections (4 h^2) and the feed-forward
    (2 h i), the attention scores and weighted sum over the sequence (2 L h, L the mean padded
    length), and DeBERTa's content-to-position and position-to-content scores against the
    2 x position_buckets relative positions (2 x 2k h). Not counted: the per-batch projection
    of the relative positions, softmax, layer norms, embeddings and padding.
    """
    config = json.loads((checkpoint / "config.json").read_text())
    h, i, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    span = 2 * (config.get("position_buckets") or config["max_position_embeddings"])
    parts = {
        "dense": 2 * layers * (4 * h * h + 2 * h * i),
        "attention": 2 * layers * 2 * mean_length * h,
        "relative": 2 * layers * 2 * span * h,
    }
    return {**{k: round(v) for k, v in parts.items()}, "total": round(sum(parts.values()))}


# -- report ----------------------------------------------------------------------------------


def goal_cell(name: str, value: float) -> str:
    """A ratio's goal and whether this run met it: ``>= 0.95 (met)``."""
    goal, strict = GOALS[name]
    if name in WITHIN:
        met, wanted = abs(value - 1) <= goal - 1 + 1e-9, f"1 ± {goal - 1:.2f}"
    elif name in AT_MOST:
        met, wanted = value <= goal, f"<= {goal}"
    else:
        met, wanted = (
            (value > goal if strict else value >= goal),
            f"{'>' if strict else '>='} {goal}",
        )
    return f"{wanted} ({'met' if met else 'not met'})"


def report(result: dict[str, Any]) -> str:
    rows = result["rows"]
    sentences = result["corpus"]["sentences"]
    lines = [
        f"{result['shape']} shape, {sentences} sentences ({result['corpus']['documents']} "
        f"paragraphs), {result['runs']} runs each (median; a ceiling: its {result['runs'] + 1} "
        "timings between our path's runs), "
        f"{result['machine']['cores']} cores: {result['machine']['cpu']} "
        f"({' '.join(result['machine']['cpu_flags'])})",
        "",
        "| path | sentences/s | pieces/s | of peak | padding | start-up s | worker peak RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows.items():
        if "seconds" not in row:
            continue
        lines.append(
            f"| {name} | {row.get('sentences', sentences) / row['seconds']:.1f} "
            f"| {row['positions'] / row['seconds']:.0f} | {row['of_peak']:.2f} ({row['peak']})"
            f" | {row.get('padding', '')} | {row['startup_s']:.1f} | {row.get('rss_mib', '')} |"
        )
    flops, peaks = result["flops_per_piece"], result["peaks"]
    light = rows[LIGHT]
    lines += [
        "",
        f"LightPipeline, {light['calls']} single paragraphs: p50 {light['p50_ms']:.1f} ms, "
        f"p95 {light['p95_ms']:.1f} ms per call (the engine alone on the same pieces: p50 "
        f"{light['engine_p50_ms']:.1f} ms, p95 {light['engine_p95_ms']:.1f} ms); start-up "
        f"{light['startup_s']:.1f} s.",
        "",
        f"Of peak: pieces/s x {flops['total'] / 1e6:.1f} MFLOP per piece (dense "
        f"{flops['dense'] / 1e6:.1f}, attention {flops['attention'] / 1e6:.1f}, relative "
        f"positions {flops['relative'] / 1e6:.1f}) / the matmul peak of the path's precision, "
        f"measured in this run: fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f} GFLOP/s, "
        f"int8 {peaks['int8']:.0f} GOP/s.",
        "",
        "| ratio (sentences/s; LightPipeline: ms per call) | value | goal |",
        "| --- | ---: | ---: |",
    ]
    for name, value in result["ratios"].items():
        lines.append(f"| {name.replace('_', ' ')} | {value:.2f} | {goal_cell(name, value)} |")
    cosines = result["cosine_to_fp32"]
    lines += [
        "",
        f"Best path (best vs fp32): {result['best']}.",
        "Cosine similarity of token vectors to ONNX Runtime fp32 (mean, min): "
        + "; ".join(f"{k} {v['mean']}, {v['min']}" for k, v in cosines.items()),
    ]
    lines += [
        f"Spark 3.5/4.0's transport (mapInArrow) against 4.1+'s (arrow_udf), fp32 sentences/s: "
        f"{result['map_in_arrow_vs_arrow_udf']:.2f}.",
        "Each ceiling is timed between the runs of our path on its engine and precision; its "
        "speed then against once more when it was chosen, before the job's paths (the "
        "machine's drift, and the job's idle session beside the ceiling): "
        + ", ".join(
            f"{name.split(': ')[1]} {rows[name]['alone_s'] / rows[name]['seconds']:.2f}"
            for name in PAIRED_CEILING.values()
        )
        + ".",
    ]
    return "\n".join(lines) + "\n"


def growth_report(result: dict[str, Any]) -> str:
    """The cost-growth section's table (docs/benchmark.md; the README keeps the headline)."""
    growth = result["growth"]
    lines = [
        f"Cost as the work grows (the job, {growth['model']}: the model almost free; each case "
        "a fresh process; start-up apart: the session with the JVM's launch, then a "
        "one-document job that loads the model and runs its first batch; then the job's run "
        "seconds; peak RSS over the job; then the same job again in the same session, warm):",
        "",
        "| input | documents | tokens | session s | first job s | run s | µs per token "
        "| again: µs per token | driver JVM MiB | driver Python MiB | worker peak MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in growth["rows"].items():
        lines.append(
            f"| {name} | {row['documents']} | {row['tokens']} | {row['session_s']:.1f} "
            f"| {row['first_job_s']:.1f} | {row['run_s']:.1f} | {row['us_per_token']:.1f} "
            f"| {row['again_us_per_token']:.1f} "
            f"| {row['driver_jvm_peak_mib']} | {row['driver_python_peak_mib']} "
            f"| {row['worker_peak_mib']} |"
        )
    inner = growth["in_process"]
    lines += [
        "",
        f"The same four stages in one process on one core (LightPipeline.fullAnnotate, batches "
        f"of 256, {inner['documents']} documents): {growth['in_process_tokens_per_s']:.0f} "
        f"tokens/s; the job at the largest size: {growth['job_tokens_per_s_per_core']:.0f} "
        "tokens/s per core. Consecutive annotators as one chain against each its own "
        f"crossing ({UNCHAINED}), run seconds per token: {growth['chained_vs_unchained']:.2f} "
        "times faster. Time per token, the largest size against the smallest, when each job "
        f"runs again warm: {growth['again_largest_vs_smallest']:.2f}.",
    ]
    return "\n".join(lines) + "\n"


def task_slots_report(result: dict[str, Any]) -> str:
    """The memory-per-executor section's table (docs/benchmark.md)."""
    slots = result["task_slots"]
    lines = [
        f"Memory per executor (the job, fp32, {slots['sentences']} sentences, local"
        f"[{slots['cores']}], each case a fresh process; each Python worker that runs the "
        "model holds its own engine; sentences/s of one run after a warm-up run; Python "
        "processes seen, the PySpark daemon among them; the peak of their RSS at once, and the "
        "largest one's peak):",
        "",
        "| model, spark.task.cpus | task slots | sentences/s | Python processes "
        "| all at once MiB | largest MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in slots["rows"].items():
        lines.append(
            f"| {name} | {row['task_slots']} | {row['sentences_per_s']:.1f} "
            f"| {row['python_processes']} | {row['together_peak_mib']} "
            f"| {row['largest_peak_mib']} |"
        )
    return "\n".join(lines) + "\n"


def replace_between_markers(
    path: Path, text: str, start: str = README_START, end: str = README_END
) -> None:
    """Put ``text`` between the file's ``start`` and ``end`` markers."""
    content = path.read_text(encoding="utf-8")
    if start not in content:
        raise SystemExit(f"{path.name} has no '{start}' marker")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}{end}{tail}", encoding="utf-8")


def stamp(command: str) -> str:
    return f"`{command}`, {time.strftime('%Y-%m-%d')}:\n\n"


def update_readme(table: str, growth: str, command: str) -> None:
    """The headline table into the README, the cost-growth table into docs/benchmark.md."""
    replace_between_markers(README, f"{stamp(command)}{table}\n{GROWTH_POINTER}\n")
    replace_between_markers(BENCHMARK_DOC, f"{stamp(command)}{growth}")


def update_task_slots_doc(table: str, command: str) -> None:
    """The memory-per-executor table into docs/benchmark.md."""
    replace_between_markers(BENCHMARK_DOC, f"{stamp(command)}{table}", SLOTS_START, SLOTS_END)


def save_progress(path: Path, sections: dict[str, Any]) -> None:
    """Write what the run has measured so far, so that a failure late in a long run (the
    2026-12-02 run lost 48 minutes of figures to one out-of-memory case) keeps the rest. The
    file is replaced whole (a rename), so a crash while writing leaves the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(json.dumps(sections, indent=2, default=str) + "\n")
    staging.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--shape", choices=("xsmall", "tiny"), default="xsmall")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--light-calls", type=int, default=100)
    parser.add_argument(
        "--growth-documents",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="the cost-growth section's job sizes (documents), with the bundled tiny model",
    )
    parser.add_argument(
        "--slot-shapes",
        nargs="+",
        choices=("tiny", "xsmall", "base"),
        help="the memory-per-executor section's model shapes (default: the shape, and base "
        "after xsmall)",
    )
    parser.add_argument(
        "--slot-sentences",
        type=int,
        default=600,
        help="the memory-per-executor section's corpus (sentences)",
    )
    parser.add_argument(
        "--only",
        choices=("task-slots",),
        help="run only this section (its own results file; --update-readme puts only its table)",
    )
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--update-readme", action="store_true")
    given = list(argv if argv is not None else sys.argv[1:])
    args = parser.parse_args(given)
    if args.slot_sentences < 1:
        parser.error("--slot-sentences must be at least 1")
    # As a user would type it again: quoted, without the flag that only writes the docs.
    command = shlex.join(["python", "bench/run.py", *(a for a in given if a != "--update-readme")])
    cores = os.cpu_count() or 1
    work = args.work / args.shape
    runs_dir = work / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)
    slot_shapes = args.slot_shapes or (
        [args.shape, "base"] if args.shape == "xsmall" else [args.shape]
    )
    # Every model is built before anything is timed, so a failed export stops the run at once.
    # The main shape's folder (fp32 and int8) serves the slots' fp32 as it is (prepare_models).
    if args.only is None:
        checkpoint, folder = prepare_models(work / "models", args.shape)
    slot_models = {
        shape: prepare_models(args.work / shape / "models", shape, int8=False)[1]
        for shape in slot_shapes
    }
    if args.only == "task-slots":
        slots = run_task_slots(runs_dir, slot_models, load_documents(args.slot_sentences), cores)
        result = {"shape": args.shape, "machine": machine(), "task_slots": slots}
        table = task_slots_report(result)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "task-slots.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "task-slots.md").write_text(table)
        print(table)
        if args.update_readme:
            update_task_slots_doc(table, command)
        return 0
    documents = load_documents(args.sentences)
    progress_file = args.out / f"{args.shape}.partial.json"
    progress_file.unlink(missing_ok=True)  # an earlier run's, not this one's
    progress: dict[str, Any] = {"shape": args.shape, "machine": machine(), "rows": {}}

    def keep(**sections: Any) -> None:
        progress.update(sections)
        save_progress(progress_file, progress)

    # Start the JVM and warm its first Parquet write now, so no path's start-up includes them.
    with fresh_spark(cores) as spark:
        spark.range(100).write.mode("overwrite").parquet(str(runs_dir / "warm-up"))
    log("matmul peaks")
    peaks = matmul_peaks(cores)
    keep(peaks=peaks)
    log("LightPipeline")
    light = run_light(documents, folder, args.light_calls)
    keep(light=light)
    log("planning the corpus on the driver")
    sequences = plan_corpus(documents, folder)
    positions = sequences.real_positions
    log(f"{len(sequences.sentences)} sentences, {len(sequences.pieces)} sequences; ceilings")
    rows: dict[str, dict[str, Any]] = {}
    sweeps, timers = {}, {}
    for name, engine, precision in (
        (CEILING, "onnxruntime", "fp32"),
        (BF16_CEILING, "openvino", "bf16"),
        (INT8_CEILING, "onnxruntime", "int8"),
    ):
        rows[name], sweeps[name], timers[name] = ceiling(
            sequences, folder, cores, engine, precision
        )
        keep(rows=rows, ceiling_sweeps=sweeps)
    padding = ours_padding(sequences, batch_size=8, max_length=128, chunk=256)
    for name, engine, precision in (
        (OURS_FP32, "onnxruntime", "fp32"),
        (OURS_OPENVINO_FP32, "openvino", "fp32"),
        (OURS_INT8, "onnxruntime", "int8"),
        (OURS_BF16, "openvino", "bf16"),
    ):
        log(name)
        paired = PAIRED_CEILING.get(name)
        rows[name] = run_ours(
            runs_dir,
            documents,
            folder,
            precision,
            args.runs,
            cores,
            engine=engine,
            # popped: each engine is freed once its path is done
            between=timers.pop(paired).once if paired else None,
        )
        rows[name]["padding"] = padding
        if paired:
            # The ceiling's figure is its timings between this path's runs (interleaved).
            between_times = rows[name].pop("between_times")
            rows[paired].update(
                seconds=statistics.median(between_times), times=between_times, timed_between=True
            )
        keep(rows=rows)
    # The transport of Spark 3.5/4.0 (mapInArrow: whole rows through Python), here, same run.
    from annotators.spark_compat import MAP_IN_ARROW, TRANSPORT_ENV

    log(f"2c ours fp32, {MAP_IN_ARROW} transport")
    os.environ[TRANSPORT_ENV] = MAP_IN_ARROW
    try:
        rows[TRANSPORT_ROW] = run_ours(runs_dir, documents, folder, "fp32", args.runs, cores)
    finally:
        del os.environ[TRANSPORT_ENV]
    rows[TRANSPORT_ROW]["padding"] = padding
    keep(rows=rows)
    # The same text as a few very long documents: memory must not grow with document length.
    log("2b ours fp32, long documents")
    long_documents = [" ".join(documents[i::LONG_DOCUMENTS]) for i in range(LONG_DOCUMENTS)]
    long_plan = plan_corpus(long_documents, folder)
    long_row = run_ours(runs_dir, long_documents, folder, "fp32", 1, cores, warm_up=False)
    long_row.update(
        padding=ours_padding(long_plan, batch_size=8, max_length=128, chunk=256),
        positions=long_plan.real_positions,
        sentences=len(long_plan.sentences),
    )
    rows[f"2b ours fp32, as {LONG_DOCUMENTS} long documents (1 run)"] = long_row
    keep(rows=rows)
    for name, sort_by_length in ((BASELINE, False), (SORTED_BASELINE, True)):
        log(name)
        rows[name] = run_baseline(
            runs_dir, sequences.sentences, checkpoint, args.runs, cores, sort_by_length
        )
        keep(rows=rows)
    baseline_real, baseline_padding, sorted_padding = baseline_positions(
        sequences.sentences, checkpoint, cores
    )
    rows[BASELINE]["padding"] = baseline_padding
    rows[SORTED_BASELINE]["padding"] = sorted_padding
    mean_length = positions / len(sequences.pieces) / padding
    flops = flops_per_piece(checkpoint, mean_length)
    for name, row in rows.items():
        row.setdefault("positions", baseline_real if name.startswith("4") else positions)
        row["peak"] = ROW_PRECISION.get(name, "fp32")
        achieved = row["positions"] / row["seconds"] * flops["total"] / 1e9
        row["of_peak"] = round(achieved / peaks[row["peak"]], 5)
    rows[LIGHT] = light
    growth = run_growth(runs_dir, sorted(args.growth_documents), cores, keep)
    slots = run_task_slots(runs_dir, slot_models, load_documents(args.slot_sentences), cores, keep)
    keep(task_slots=slots)

    def rate(name: str) -> float:
        return len(sequences.sentences) / rows[name]["seconds"]

    best = max((OURS_FP32, OURS_OPENVINO_FP32, OURS_INT8, OURS_BF16), key=rate)
    ratios = {
        "fp32_vs_ceiling": rate(OURS_FP32) / rate(CEILING),
        "bf16_vs_its_ceiling": rate(OURS_BF16) / rate(BF16_CEILING),
        "int8_vs_its_ceiling": rate(OURS_INT8) / rate(INT8_CEILING),
        "best_vs_fp32": rate(best) / rate(OURS_FP32),
        "fp32_vs_baseline": rate(OURS_FP32) / rate(BASELINE),
        "fp32_vs_sorted_baseline": rate(OURS_FP32) / rate(SORTED_BASELINE),
        "int8_vs_fp32": rate(OURS_INT8) / rate(OURS_FP32),
    }
    ratios["light_p50_vs_engine"] = light["p50_ms"] / light["engine_p50_ms"]
    ratios["framework_bound_vs_in_process"] = (
        growth["job_tokens_per_s_per_core"] / growth["in_process_tokens_per_s"]
    )
    sizes = sorted(args.growth_documents)
    ratios["time_per_token_largest_vs_smallest"] = (
        growth["rows"][f"{sizes[-1]} documents"]["us_per_token"]
        / growth["rows"][f"{sizes[0]} documents"]["us_per_token"]
    )
    transport_cost = rate(TRANSPORT_ROW) / rate(OURS_FP32)
    log("cosine similarity to fp32")
    cosines = {
        "OpenVINO fp32": cosine_to_fp32(sequences, folder, "openvino", "fp32"),
        "OpenVINO bf16": cosine_to_fp32(sequences, folder, "openvino", "bf16"),
        "int8": cosine_to_fp32(sequences, folder, "onnxruntime", "int8"),
    }
    result = {
        "shape": args.shape,
        "runs": args.runs,
        "machine": machine(),
        "corpus": {
            "file": str(CORPUS.relative_to(ROOT)),
            "documents": len(documents),
            "sentences": len(sequences.sentences),
            "sequences": len(sequences.pieces),
            "positions": positions,
        },
        "peaks": peaks,
        "flops_per_piece": flops,
        "rows": rows,
        "best": best,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "map_in_arrow_vs_arrow_udf": round(transport_cost, 3),
        "ceiling_sweeps": sweeps,
        "growth": growth,
        "task_slots": slots,
        "cosine_to_fp32": cosines,
    }
    table, growth_table = report(result), growth_report(result)
    slots_table = task_slots_report(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.shape}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{args.shape}.md").write_text(f"{table}\n{growth_table}\n{slots_table}")
    progress_file.unlink(missing_ok=True)
    print(f"{table}\n{growth_table}\n{slots_table}")
    if args.update_readme:
        update_readme(table, growth_table, command)
        update_task_slots_doc(slots_table, command)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
