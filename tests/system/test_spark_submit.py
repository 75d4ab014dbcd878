"""The job through spark-submit, as users run it: local[2], and a standalone cluster whose
worker cannot see the driver's model folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cluster import cluster_with_driver_only_model, submit, summary_of

pytestmark = [pytest.mark.slow, pytest.mark.compat, pytest.mark.classic]

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "frankenstein.txt"


def test_spark_submit_local(tmp_path) -> None:
    output = tmp_path / "out"
    done = submit(
        [
            "--master", "local[2]", "--properties-file", str(ROOT / "conf" / "spark" / "local.conf"),
            str(ROOT / "pipelines" / "embed.py"), "--config", str(ROOT / "conf" / "job.yaml"),
            "--input", str(SAMPLE), "--output", str(output), "--set", "job.progress_interval_s=1",
        ]
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    # The job's own reads (hidden staging folder) leave no warnings or stack traces in the log.
    assert "Exception" not in done.stderr and "All paths were ignored" not in done.stderr
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    summary = summary_of(done.stdout)
    assert int(summary["rows"]) == len(lines) and summary["output"] == str(output)
    assert summary["master"] == "local[2]"
    assert float(summary["tokens_per_second"]) > 0
    table = pq.read_table(output)
    assert table.num_rows == len(lines)
    assert len(set(table.column("id").to_pylist())) == len(lines)


def test_spark_submit_on_a_standalone_cluster_with_a_driver_only_model(tmp_path) -> None:
    output = tmp_path / "out"
    with cluster_with_driver_only_model(tmp_path) as (master, model, _):
        done = submit(
            [
                "--master", master, "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.executor.memory=1g", "--conf", "spark.ui.enabled=false",
                str(ROOT / "pipelines" / "embed.py"), "--input", str(SAMPLE),
                "--output", str(output), "--model", str(model),
                "--set", "output.partitions=3",
            ]
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    # The job's own reads (hidden staging folder) leave no warnings or stack traces in the log.
    assert "Exception" not in done.stderr and "All paths were ignored" not in done.stderr
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    summary = summary_of(done.stdout)
    assert int(summary["rows"]) == len(lines)
    assert summary["master"] == master  # spark-submit's --master, not a local default
    # The cluster's fresh workers load the model; their loads reach the driver's summary.
    assert int(summary["worker_model_loads"]) >= 1
    assert float(summary["worker_model_load_seconds"]) > 0
    table = pq.read_table(output, columns=["id", "token", "embeddings"])
    assert table.num_rows == len(lines)
    rows = table.to_pylist()
    assert sum(len(r["embeddings"]) for r in rows) == sum(len(r["token"]) for r in rows)


def test_a_settings_file_reaches_the_jvm_it_launches() -> None:
    """Settings that only apply when the JVM starts (driver memory) come from --spark-conf."""
    script = (
        "from pipelines.session import session\n"
        "s = session('conf/spark/local.conf')\n"
        "heap = s.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()\n"
        "print('SETTINGS', s.sparkContext.master, heap > 3 * 2**30)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SETTINGS local[*] True" in done.stdout  # a 4g heap, not the 1g default
