"""The benchmark's smoke run: the whole script on the tiny shape, so that it never rots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_benchmark_runs_every_path_on_the_tiny_shape(tmp_path) -> None:
    command = [sys.executable, str(ROOT / "bench" / "run.py"), "--shape", "tiny"]
    command += ["--sentences", "60", "--runs", "1", "--light-calls", "5"]
    command += ["--growth-documents", "100", "300", "--slot-sentences", "30"]
    command += ["--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK")}
    done = subprocess.run(command, capture_output=True, text=True, timeout=1100, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not (tmp_path / "out" / "tiny.partial.json").exists()  # removed when the run ends well
    result = json.loads((tmp_path / "out" / "tiny.json").read_text())
    rows = result["rows"]
    assert len(rows) == 12
    assert result["corpus"]["sentences"] >= 30
    for name, row in rows.items():
        assert row["startup_s"] > 0, name
        if "seconds" in row:
            assert row["seconds"] > 0 and row["positions"] > 0, name
            assert 0 < row["padding"] <= 1, name
        if name[0] in "234":  # Spark paths: the workers' memory was seen
            assert row["rss_mib"] > 50, name
    light = rows["5 LightPipeline, single texts"]
    assert light["p95_ms"] >= light["p50_ms"] > 0 and light["engine_p50_ms"] > 0
    assert set(result["ratios"]) == {
        "fp32_vs_ceiling",
        "bf16_vs_its_ceiling",
        "int8_vs_its_ceiling",
        "best_vs_fp32",
        "fp32_vs_baseline",
        "fp32_vs_sorted_baseline",
        "int8_vs_fp32",
        "light_p50_vs_engine",
        "framework_bound_vs_in_process",
        "time_per_token_largest_vs_smallest",
    }
    growth = result["growth"]
    assert [row["documents"] for row in growth["rows"].values()] == [100, 300, 12, 100]
    assert growth["chained_vs_unchained"] > 0
    for row in growth["rows"].values():
        assert row["tokens"] > 0 and row["run_s"] > 0 and row["worker_peak_mib"] > 50
        assert row["driver_jvm_peak_mib"] > 50 and row["first_job_s"] > 0
        assert row["again_us_per_token"] > 0
    assert growth["again_largest_vs_smallest"] > 0
    assert growth["in_process"]["tokens"] > 0
    slots = result["task_slots"]
    cores = os.cpu_count() or 1
    assert list(slots["rows"]) == [f"tiny, spark.task.cpus={n}" for n in sorted({1, cores})]
    for name, row in slots["rows"].items():
        assert row["task_slots"] == cores // int(name.rsplit("=", 1)[1]), name
        assert row["sentences_per_s"] > 0 and row["python_processes"] >= 2, name  # daemon too
        # A sum sampled every 50 ms against a high-water mark: both seen, neither compared.
        assert row["together_peak_mib"] > 50 and row["largest_peak_mib"] > 50, name
    for name, row in rows.items():
        if "seconds" in row:
            assert 0 < row["of_peak"] < 1.5 and row["peak"] in ("fp32", "bf16", "int8"), name
    assert set(result["peaks"]) == {"fp32", "bf16", "int8"}
    assert result["flops_per_piece"]["total"] > result["flops_per_piece"]["dense"] > 0
    ceilings = ("1 ceiling: ONNX Runtime fp32 alone", "1b ceiling: OpenVINO bf16 alone")
    for name in (*ceilings, "1c ceiling: ONNX Runtime int8 alone"):
        layouts = result["ceiling_sweeps"][name]["sequences_per_s_by_layout"]
        assert "1 process x 2 threads" in layouts and rows[name]["layout"] in layouts
    for name in (*ceilings, "1c ceiling: ONNX Runtime int8 alone"):
        # timed between the runs of our path on its engine: before the one run and after it
        assert len(rows[name]["times"]) == 2 and rows[name]["timed_between"], name
        assert rows[name]["alone_s"] > 0, name
    cosines = result["cosine_to_fp32"]
    assert cosines["OpenVINO fp32"]["min"] > 0.99999
    assert 0.999 < cosines["OpenVINO bf16"]["mean"] <= 1.0 and 0.99 < cosines["int8"]["mean"] <= 1
    # The sorted baseline pads less than the one in input order.
    assert (
        rows["4b baseline: PyTorch pandas UDF, length-sorted batches"]["padding"]
        > rows["4 baseline: PyTorch pandas UDF"]["padding"]
    )
    assert result["map_in_arrow_vs_arrow_udf"] > 0
    table = (tmp_path / "out" / "tiny.md").read_text()
    assert "| 2 ours fp32 |" in table and "fp32 vs baseline" in table
    assert table.strip() in done.stdout
    assert "| tiny, spark.task.cpus=1 | " in table


def test_the_readme_has_the_benchmark_table_markers() -> None:
    from bench.run import README, README_END, README_START

    assert README == ROOT / "README.md"
    # The table stays in the README's Benchmark section; the methodology is docs/benchmark.md.
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Benchmark\n", 1)[1].split("\n## ", 1)[0]
    assert section.index(README_START) < section.index(README_END)
    assert "(docs/benchmark.md)" in section


def test_the_methodology_page_has_both_of_its_table_markers() -> None:
    from bench.run import BENCHMARK_DOC, README_END, README_START, SLOTS_END, SLOTS_START

    text = BENCHMARK_DOC.read_text(encoding="utf-8")
    assert text.index(README_START) < text.index(README_END)
    assert text.index(README_END) < text.index(SLOTS_START) < text.index(SLOTS_END)
