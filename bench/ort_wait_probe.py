"""Where ONNX Runtime's seconds go inside the job, against its ceiling (a probe, not a test).

    python bench/ort_wait_probe.py          # after bench/run.py has built the xsmall models

Times every ``OnnxRuntimeEngine.run`` call, wall and CPU, in every process that runs one: the
ceiling's process-per-core layout (as ``bench/run.py`` times it) and the job's Python workers
(``local[2]``, fp32), alternately, three rounds, as ``bench/run.py`` runs them (``run_ours``
with the ceiling timed between runs). A worker whose engine's wall exceeds its CPU
was waiting for a core while other work (the JVM converting and writing, the worker's own text
stages and conversions) ran on it. The timer is installed by a ``sitecustomize`` module that
this script puts first on ``PYTHONPATH`` before any worker starts; the package is not changed.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LOG_ENV = "SPARK_DEBERTA_ORT_PROBE_LOG"

#: Installed in each process that imports it: wraps the engine's ``run`` to append one line per
#: call (time, wall s, CPU s, batch, length) to a file named after the process.
SITECUSTOMIZE = f'''
import os, time
if os.environ.get("{LOG_ENV}"):
    from annotators.deberta import encoder as _encoder
    _run = _encoder.OnnxRuntimeEngine.run
    def _timed_run(self, input_ids, attention_mask):
        wall, cpu = time.perf_counter(), time.process_time()
        out = _run(self, input_ids, attention_mask)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        path = os.path.join(os.environ["{LOG_ENV}"], f"{{os.getpid()}}.tsv")
        with open(path, "a") as log:
            log.write(f"{{time.time()}}\\t{{wall}}\\t{{cpu}}\\t{{input_ids.shape[0]}}\\t"
                      f"{{input_ids.shape[1]}}\\n")
        return out
    _encoder.OnnxRuntimeEngine.run = _timed_run
'''


def engine_seconds(log: Path, start: float, end: float) -> list[tuple[float, float, int]]:
    """Per process that ran the engine between ``start`` and ``end``: wall s, CPU s, calls."""
    per: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for path in log.glob("*.tsv"):
        for line in path.read_text().splitlines():
            at, wall, cpu, _, _ = line.split("\t")
            if start <= float(at) <= end:
                row = per[path.name]
                row[0] += float(wall)
                row[1] += float(cpu)
                row[2] += 1
    return sorted((round(w, 2), round(c, 2), int(k)) for w, c, k in per.values())


def main() -> None:
    log = Path(tempfile.mkdtemp(prefix="ort-probe-"))
    hook = Path(tempfile.mkdtemp(prefix="ort-probe-hook-"))
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    # Before any process starts: the ceiling's spawned processes and Spark's workers inherit it.
    os.environ[LOG_ENV] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(hook), str(ROOT), os.environ.get("PYTHONPATH")) if p
    )
    from bench import run as bench

    work = bench.ROOT / "bench" / ".work" / "xsmall"
    _, folder = bench.prepare_models(work / "models", "xsmall")
    documents = bench.load_documents(3000)
    sequences = bench.plan_corpus(documents, folder)
    _, _, timer = bench.ceiling(sequences, folder, 2, "onnxruntime", "fp32")
    windows: list[tuple[float, float]] = []  # each ceiling timing's, in wall-clock time

    def ceiling_window() -> float:
        start = time.time()
        seconds = timer.once()
        windows.append((start, time.time()))
        return seconds

    # The benchmark's own path (start-up, warm-up, timed runs), the ceiling timed between runs.
    runs_dir = work / "ort-probe"
    runs_dir.mkdir(parents=True, exist_ok=True)
    row = bench.run_ours(runs_dir, documents, folder, "fp32", 3, 2, between=ceiling_window)
    print("case | timed s | per process: engine wall s, engine CPU s, calls")
    for round_, seconds in enumerate(row["between_times"]):
        start, end = windows[round_]
        print(f"ceiling {round_} | {seconds:.2f} | {engine_seconds(log, start, end)}")
        if round_ < len(row["times"]):  # the job's run lies between two ceiling timings
            job_window = engine_seconds(log, end, windows[round_ + 1][0])
            print(f"job {round_} | {row['times'][round_]:.2f} | {job_window}")


if __name__ == "__main__":
    main()
