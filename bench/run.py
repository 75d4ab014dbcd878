"""Benchmark: our pipeline against ONNX Runtime alone and against a PyTorch pandas UDF, in one run.

    python bench/run.py                     # xsmall shape, 3000 sentences, 3 runs (about 20 min)
    python bench/run.py --update-readme     # and put the table into README.md
    python bench/run.py --shape tiny --sentences 40 --runs 1   # the smoke run the tests do

Needs the export extra (torch, transformers, onnx). It builds a random-weight checkpoint with
exactly microsoft/deberta-v3-xsmall's configuration (speed does not depend on the weights'
values), exports it with our exporter (fp32 and int8), and times, on the same real sentences
(data/bench, public domain):

1. ceiling: ONNX Runtime alone in this process on pre-computed piece ids, globally length-sorted,
   best batch size, all cores;
2. ours fp32: the job (DocumentAssembler -> SentenceDetector -> Tokenizer -> DeBertaEmbeddings,
   written to Parquet) in local[*];
3. ours int8: the same with the int8 model;
   (2c: ours fp32 again with the transport PySpark 3.5 and 4.0 use, ``mapInArrow``, forced
   with ``SPARK_DEBERTA_TRANSPORT``; 2b: ours fp32 on the corpus as a few long documents)
4. baseline: DebertaV2Model in PyTorch in a pandas UDF (bench/baseline.py), same sentences, same
   Spark settings;
5. LightPipeline: single texts, latency per call.

Each Spark path runs in a fresh SparkContext: its start-up (a one-document job: Python workers,
model load, first batch) is timed first, then one untimed warm-up run of the corpus (every
Python worker loads its model once), then the corpus ``--runs`` times (median). Python
workers' peak RSS is read from /proc while the jobs run. Writes ``<out>/<shape>.json`` and
``<out>/<shape>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from annotators.sentence import split_sentences  # noqa: E402

CORPUS = ROOT / "data" / "bench" / "pride_and_prejudice.txt"
README = ROOT / "README.md"
TRANSPORT_ROW = "2c ours fp32, mapInArrow transport (Spark 3.5/4.0's)"
README_START = "<!-- benchmark table: start -->"
README_END = "<!-- benchmark table: end -->"
SPARK_CONF = ROOT / "conf" / "spark" / "local.conf"
#: The real model's vocabulary: the embedding matrix is part of the model's size and load time.
XSMALL_VOCAB = 128100
BATCH_SIZES = (4, 8, 16, 32, 64)
LONG_DOCUMENTS = 12
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
GOALS = {"fp32_vs_ceiling": 0.85, "fp32_vs_baseline": 1.5, "int8_vs_fp32": 1.4}


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


def prepare_models(work: Path, shape_name: str) -> tuple[Path, Path]:
    """A random checkpoint of the shape and its exported model folder (reused when present)."""
    from annotators.deberta import synthetic
    from annotators.deberta.export import export_checkpoint

    shape = {"xsmall": synthetic.XSMALL, "tiny": synthetic.TINY}[shape_name]
    vocab_size = XSMALL_VOCAB if shape_name == "xsmall" else None
    stamp = {"shape": shape, "vocab_size": vocab_size, "corpus": CORPUS.stat().st_size}
    checkpoint, folder = work / "checkpoint", work / "model"
    stamp_file = work / "stamp.json"
    if stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        return checkpoint, folder
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log(f"building a random {shape_name} checkpoint and exporting it (fp32 + int8)")
    # A vocabulary trained on the corpus: English words take about as many pieces as with
    # DeBERTa-v3's own 128k vocabulary, which cannot be downloaded here.
    spm_model = synthetic.train_spm(
        work, [CORPUS], vocab_size=8000 if shape_name == "xsmall" else 1000
    )
    synthetic.build_random_checkpoint(checkpoint, spm_model, shape, vocab_size=vocab_size)
    export_checkpoint(
        str(checkpoint), folder, quantize="int8", name=f"bench_{shape_name}", overwrite=True
    )
    stamp_file.write_text(json.dumps(stamp))
    return checkpoint, folder


# -- measuring ---------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median_time(runs: int, action: Callable[[], object]) -> tuple[float, list[float]]:
    times = [timed(action) for _ in range(runs)]
    return statistics.median(times), times


def spark_path(
    runs: int, startup: Callable[[], object], job: Callable[[], object], warm_up: bool = True
) -> dict[str, Any]:
    """Start-up (a one-document job), one untimed warm-up run of the corpus, then timed runs.

    The warm-up lets every Python worker load its model once, as a long job does; its time is
    kept in the results (``warm_up_s``), and start-up is reported on its own.
    """
    row: dict[str, Any] = {"startup_s": timed(startup)}
    if warm_up:
        row["warm_up_s"] = timed(job)
    row["seconds"], row["times"] = median_time(runs, job)
    return row


class WorkerMemory:
    """Peak RSS (VmHWM) of each PySpark Python worker, sampled from /proc."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peaks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
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
            self._stop.wait(self.interval)

    def __enter__(self) -> WorkerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_mib(self) -> float:
        return round(max(self.peaks.values(), default=0) / 1024, 1)


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
    from pipelines.embed import build_pipeline

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
    for row in LightPipeline(text_stages)._run_many(documents):
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


def ceiling(
    sequences: Sequences, folder: Path, runs: int, cores: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """ONNX Runtime alone, our session options, every core, best batch size."""
    from annotators.deberta.encoder import Runtime, model_location

    settings = job_stages(folder)[3].setThreads(cores).shipped_settings()
    started = time.perf_counter()
    runtime = Runtime(settings, *model_location(settings))
    special = settings.special_tokens
    lengths = [len(p) + 2 for p in sequences.pieces]
    order = sorted(range(len(lengths)), key=lengths.__getitem__)

    def batches_of(size: int, indices: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for start in range(0, len(indices), size):
            group = indices[start : start + size]
            width = max(lengths[i] for i in group)
            ids = np.full((len(group), width), special["[PAD]"], dtype=np.int64)
            mask = np.zeros((len(group), width), dtype=np.int64)
            for row, i in enumerate(group):
                piece_ids = sequences.pieces[i]
                ids[row, : len(piece_ids) + 2] = [special["[CLS]"], *piece_ids, special["[SEP]"]]
                mask[row, : len(piece_ids) + 2] = 1
            out.append((ids, mask))
        return out

    first = batches_of(8, order[:8])[0]
    runtime.run(*first)
    startup = time.perf_counter() - started
    # Choose the batch size on every third sequence (all lengths), then time the whole corpus.
    sample = order[::3]
    sweep = {}
    for size in BATCH_SIZES:
        prepared = batches_of(size, sample)
        seconds, _ = median_time(1, lambda p=prepared: [runtime.run(*b) for b in p])
        sweep[size] = round(len(sample) / seconds, 1)
    best = max(sweep, key=sweep.__getitem__)
    prepared = batches_of(best, order)
    seconds, times = median_time(runs, lambda: [runtime.run(*b) for b in prepared])
    groups = [order[s : s + best] for s in range(0, len(order), best)]
    row = {
        "seconds": seconds,
        "times": times,
        "startup_s": startup,
        "batch_size": best,
        "padding": padding_efficiency(lengths, groups),
    }
    return row, {"sequences_per_s_by_batch_size": sweep}


# -- Spark paths -----------------------------------------------------------------------------


@contextmanager
def fresh_spark(cores: int) -> Iterator[Any]:
    """A new SparkContext with the project's local settings (fresh Python workers)."""
    from pyspark.sql import SparkSession

    from pipelines.embed import read_spark_conf

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("spark-deberta-bench").master(f"local[{cores}]")
    for key, value in read_spark_conf(str(SPARK_CONF)).items():
        if key != "spark.master":
            builder = builder.config(key, value)
    spark = builder.config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()


def ours(
    spark: Any, documents_file: Path, folder: Path, output: Path, precision: str
) -> dict[str, object]:
    from pipelines.embed import parse_args, run

    argv = ["--input", str(documents_file), "--output", str(output), "--mode", "overwrite"]
    argv += ["--model", str(folder), "--set", f"embeddings.precision={precision}"]
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
) -> dict[str, Any]:
    corpus = work / f"documents-{len(documents)}-{precision}.txt"
    corpus.write_text("\n".join(documents) + "\n", encoding="utf-8")
    one = work / "one-document.txt"
    one.write_text(documents[0] + "\n", encoding="utf-8")
    with fresh_spark(cores) as spark, WorkerMemory() as memory:
        row = spark_path(
            runs,
            lambda: ours(spark, one, folder, work / "out-startup", precision),
            lambda: ours(spark, corpus, folder, work / f"out-{precision}", precision),
            warm_up=warm_up,
        )
    return {**row, "rss_mib": memory.peak_mib()}


def run_baseline(
    work: Path, sentences: list[str], checkpoint: Path, runs: int, cores: int
) -> dict[str, Any]:
    from bench.baseline import embed_sentences

    def job(spark: Any, rows: list[str], output: Path) -> None:
        frame = spark.createDataFrame([(i, s) for i, s in enumerate(rows)], "id long, text string")
        frame = frame.repartition(spark.sparkContext.defaultParallelism)
        embed = embed_sentences(str(checkpoint), batch_size=8, max_length=128)
        frame.withColumn("embeddings", embed("text")).write.mode("overwrite").parquet(str(output))

    with fresh_spark(cores) as spark, WorkerMemory() as memory:
        row = spark_path(
            runs,
            lambda: job(spark, sentences[:1], work / "baseline-startup"),
            lambda: job(spark, sentences, work / "baseline-out"),
        )
    return {**row, "rss_mib": memory.peak_mib()}


def baseline_positions(sentences: list[str], checkpoint: Path) -> tuple[int, float]:
    """Real positions the baseline computes, and its padding (batches of 8, input order)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    lengths = [
        len(ids) for ids in tokenizer(sentences, truncation=True, max_length=128)["input_ids"]
    ]
    batches = [list(range(s, min(s + 8, len(lengths)))) for s in range(0, len(lengths), 8)]
    return sum(lengths), padding_efficiency(lengths, batches)


def run_light(documents: list[str], folder: Path, calls: int) -> dict[str, Any]:
    """LightPipeline on single texts: start-up (build + first call), then latency per call."""
    from pyspark.ml import PipelineModel

    from annotators import LightPipeline

    started = time.perf_counter()
    light = LightPipeline(PipelineModel(job_stages(folder)))
    light.annotate(documents[0])
    startup = time.perf_counter() - started
    latencies = []
    for text in documents[:calls]:
        begun = time.perf_counter()
        light.annotate(text)
        latencies.append((time.perf_counter() - begun) * 1000)
    return {
        "startup_s": startup,
        "calls": len(latencies),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p95_ms": float(np.percentile(latencies, 95)),
    }


def int8_cosine(sequences: Sequences, folder: Path, sample: int = 200) -> float:
    """Mean cosine similarity of int8 to fp32 token vectors on corpus sentences."""
    import onnxruntime as ort

    from annotators.deberta.package import load_model_folder

    model = load_model_folder(folder)
    special = model.manifest["special_tokens"]
    sessions = [
        ort.InferenceSession(str(model.model_file(p)), providers=["CPUExecutionProvider"])
        for p in ("fp32", "int8")
    ]
    cosines = []
    for piece_ids in sequences.pieces[:sample]:
        ids = np.array([[special["[CLS]"], *piece_ids, special["[SEP]"]]], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        fp32, int8 = (s.run(None, feeds)[0][0] for s in sessions)
        dots = (fp32 * int8).sum(-1)
        cosines.extend(dots / (np.linalg.norm(fp32, axis=-1) * np.linalg.norm(int8, axis=-1)))
    return round(float(np.mean(cosines)), 5)


# -- report ----------------------------------------------------------------------------------


def report(result: dict[str, Any]) -> str:
    rows = result["rows"]
    sentences = result["corpus"]["sentences"]
    lines = [
        f"{result['shape']} shape, {sentences} sentences ({result['corpus']['documents']} "
        f"paragraphs), {result['runs']} runs each (median), "
        f"{result['machine']['cores']} cores: {result['machine']['cpu']} "
        f"({' '.join(result['machine']['cpu_flags'])})",
        "",
        "| path | sentences/s | pieces/s | padding | start-up s | worker peak RSS MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in rows.items():
        if "seconds" not in row:
            continue
        lines.append(
            f"| {name} | {row.get('sentences', sentences) / row['seconds']:.1f} "
            f"| {row['positions'] / row['seconds']:.0f}"
            f" | {row.get('padding', '')} | {row['startup_s']:.1f} | {row.get('rss_mib', '')} |"
        )
    light = rows["5 LightPipeline, single texts"]
    lines += [
        "",
        f"LightPipeline, {light['calls']} single paragraphs: p50 {light['p50_ms']:.1f} ms, "
        f"p95 {light['p95_ms']:.1f} ms per call; start-up {light['startup_s']:.1f} s.",
        "",
        "| ratio (sentences/s) | value | goal |",
        "| --- | ---: | ---: |",
    ]
    for name, value in result["ratios"].items():
        goal = GOALS[name]
        mark = "met" if value >= goal else "not met"
        lines.append(f"| {name.replace('_', ' ')} | {value:.2f} | >= {goal} ({mark}) |")
    lines += ["", f"int8 cosine similarity to fp32 (token vectors): {result['int8_cosine']}"]
    lines += [
        f"Spark 3.5/4.0's transport (mapInArrow) against 4.1+'s (arrow_udf), fp32 sentences/s: "
        f"{result['map_in_arrow_vs_arrow_udf']:.2f}"
    ]
    return "\n".join(lines) + "\n"


def update_readme(table: str, command: str) -> None:
    text = README.read_text(encoding="utf-8")
    if README_START not in text:
        raise SystemExit(f"README.md has no '{README_START}' marker")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    block = f"{README_START}\n`{command}`, {time.strftime('%Y-%m-%d')}:\n\n{table}{README_END}"
    README.write_text(head + block + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=("xsmall", "tiny"), default="xsmall")
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--light-calls", type=int, default=100)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".work")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    work = args.work / args.shape
    checkpoint, folder = prepare_models(work / "models", args.shape)
    documents = load_documents(args.sentences)
    runs_dir = work / "runs"
    runs_dir.mkdir(parents=True, exist_ok=True)

    # Start the JVM and warm its first Parquet write now, so no path's start-up includes them.
    with fresh_spark(cores) as spark:
        spark.range(100).write.mode("overwrite").parquet(str(runs_dir / "warm-up"))
    log("LightPipeline")
    light = run_light(documents, folder, args.light_calls)
    log("planning the corpus on the driver")
    sequences = plan_corpus(documents, folder)
    positions = sequences.real_positions
    log(f"{len(sequences.sentences)} sentences, {len(sequences.pieces)} sequences; ceiling")
    ceiling_row, sweep = ceiling(sequences, folder, args.runs, cores)
    rows: dict[str, dict[str, Any]] = {"1 ceiling: ONNX Runtime alone": ceiling_row}
    padding = ours_padding(sequences, batch_size=8, max_length=128, chunk=256)
    for name, precision in (("2 ours fp32", "fp32"), ("3 ours int8", "int8")):
        log(name)
        rows[name] = run_ours(runs_dir, documents, folder, precision, args.runs, cores)
        rows[name]["padding"] = padding
    # The transport of Spark 3.5/4.0 (mapInArrow: whole rows through Python), here, same run.
    from annotators.spark_compat import MAP_IN_ARROW, TRANSPORT_ENV

    log(f"2c ours fp32, {MAP_IN_ARROW} transport")
    os.environ[TRANSPORT_ENV] = MAP_IN_ARROW
    try:
        rows[TRANSPORT_ROW] = run_ours(runs_dir, documents, folder, "fp32", args.runs, cores)
    finally:
        del os.environ[TRANSPORT_ENV]
    rows[TRANSPORT_ROW]["padding"] = padding
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
    log("4 baseline: PyTorch pandas UDF")
    rows["4 baseline: PyTorch pandas UDF"] = run_baseline(
        runs_dir, sequences.sentences, checkpoint, args.runs, cores
    )
    baseline_real, baseline_padding = baseline_positions(sequences.sentences, checkpoint)
    for name, row in rows.items():
        row.setdefault("positions", baseline_real if name.startswith("4") else positions)
    rows["4 baseline: PyTorch pandas UDF"]["padding"] = baseline_padding
    rows["5 LightPipeline, single texts"] = light

    def rate(name: str) -> float:
        return len(sequences.sentences) / rows[name]["seconds"]

    ratios = {
        "fp32_vs_ceiling": rate("2 ours fp32") / rate("1 ceiling: ONNX Runtime alone"),
        "fp32_vs_baseline": rate("2 ours fp32") / rate("4 baseline: PyTorch pandas UDF"),
        "int8_vs_fp32": rate("3 ours int8") / rate("2 ours fp32"),
    }
    transport_cost = rate(TRANSPORT_ROW) / rate("2 ours fp32")
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
        "rows": rows,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "map_in_arrow_vs_arrow_udf": round(transport_cost, 3),
        "ceiling_sweep": sweep,
        "int8_cosine": int8_cosine(sequences, folder),
    }
    table = report(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.shape}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{args.shape}.md").write_text(table)
    print(table)
    if args.update_readme:
        command = "python bench/run.py " + " ".join(a for a in (argv or sys.argv[1:]))
        update_readme(table, command.replace(" --update-readme", "").strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
