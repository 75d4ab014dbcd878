"""Faults mid-job: a killed Python worker, a killed executor, a job that cannot finish, and two
jobs at once. Each runs the real job through spark-submit; the output must hold every input id
exactly once, or nothing at all."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cluster import SPARK_SUBMIT, environment, standalone_cluster, submit, summary_of

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "pride_and_prejudice.txt"
JOB = str(ROOT / "pipelines" / "embed.py")
#: Small Arrow batches, so that every partition has several and a fault lands mid-partition.
SMALL_BATCHES = ["--conf", "spark.sql.execution.arrow.maxRecordsPerBatch=4"]


def documents(tmp_path: Path, count: int = 60) -> tuple[Path, list[int]]:
    """JSON lines with explicit ids, so the output can be checked id by id."""
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()[:count]
    source = tmp_path / "docs.jsonl"
    source.write_text(
        "".join(json.dumps({"doc": 1000 + i, "text": t}) + "\n" for i, t in enumerate(lines))
    )
    return source, [1000 + i for i in range(len(lines))]


def job_args(source: Path, output: Path) -> list[str]:
    return [JOB, "--input", str(source), "--id-col", "doc", "--output", str(output),
            "--set", "input.partitions=4", "--set", "job.progress_interval_s=0"]  # fmt: skip


def assert_every_id_once(output: Path, ids: list[int]) -> None:
    table = pq.read_table(output, columns=["id", "token", "embeddings"])
    assert sorted(table.column("id").to_pylist()) == [str(i) for i in ids]  # JSON ids: strings
    rows = table.to_pylist()
    assert all(len(r["embeddings"]) == len(r["token"]) > 0 for r in rows)


def test_a_python_worker_killed_mid_partition_is_retried_and_no_row_is_lost(tmp_path) -> None:
    source, ids = documents(tmp_path)
    marker = tmp_path / "fired"
    output = tmp_path / "out"
    done = submit(
        ["--master", "local[2,4]", *SMALL_BATCHES, *job_args(source, output)],
        env={"SPARK_DEBERTA_FAULT": "worker", "SPARK_DEBERTA_FAULT_ONCE": str(marker)},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert marker.exists()  # the fault fired, and the job still wrote every row once
    assert int(summary_of(done.stdout)["rows"]) == len(ids)
    assert_every_id_once(output, ids)


def test_a_job_that_cannot_finish_leaves_no_output(tmp_path) -> None:
    source, _ = documents(tmp_path, 40)
    output = tmp_path / "out"
    done = submit(
        ["--master", "local[2,2]", *SMALL_BATCHES, *job_args(source, output)],
        env={"SPARK_DEBERTA_FAULT": "worker"},  # every attempt dies
    )
    assert done.returncode == 1, done.stderr[-4000:]
    # spark-submit merges the Python driver's stderr into its stdout.
    ours = [
        line
        for line in done.stdout.splitlines()
        if "spark-deberta run:" in line and "WARNING" not in line  # the random-model warning
    ]
    # our own words (Spark's cause follows them, in whatever wording that Spark uses)
    assert ours and "the Spark job failed" in ours[0] and "nothing was written" in ours[0], ours
    assert "Traceback" not in done.stdout
    assert not output.exists() and not list(tmp_path.glob("out.__*"))


def test_an_executor_killed_on_a_standalone_cluster_is_replaced_and_no_row_is_lost(
    tmp_path,
) -> None:
    source, ids = documents(tmp_path)
    marker = tmp_path / "fired"
    output = tmp_path / "out"
    (tmp_path / "cluster").mkdir()
    with standalone_cluster(tmp_path / "cluster") as master:
        done = submit(
            [
                "--master", master, "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.executor.memory=1g", "--conf", "spark.ui.enabled=false",
                "--conf", "spark.executorEnv.SPARK_DEBERTA_FAULT=executor",
                "--conf", f"spark.executorEnv.SPARK_DEBERTA_FAULT_ONCE={marker}",
                *SMALL_BATCHES, *job_args(source, output),
            ]
        )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert marker.exists()
    assert "ExecutorLostFailure" in done.stderr or "Lost executor" in done.stderr
    assert_every_id_once(output, ids)


def test_two_jobs_at_once_on_one_machine_never_share_an_output(tmp_path) -> None:
    source, ids = documents(tmp_path, 30)
    first, second = tmp_path / "first", tmp_path / "second"
    jobs = [
        subprocess.Popen(
            [SPARK_SUBMIT, "--master", "local[1]", *job_args(source, output)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        for output in (first, second, first)
    ]
    results = [job.communicate(timeout=420) for job in jobs]
    codes = [job.returncode for job in jobs]
    assert codes[1] == 0, results[1][1][-4000:]
    # On one output, one job wins; the other stops (the lock, or the finished output).
    assert sorted((codes[0], codes[2])) == [0, 1], [r[1][-2000:] for r in results]
    loser = "".join(results[0] if codes[0] else results[2])  # spark-submit: stdout and stderr
    assert "being written by another job" in loser or "already exists" in loser, loser[-2000:]
    for output in (first, second):
        assert_every_id_once(output, ids)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith((".first", ".second"))]


def test_a_driver_killed_during_an_overwrite_commit_is_repaired_by_the_rerun(tmp_path) -> None:
    source, ids = documents(tmp_path, 20)
    output = tmp_path / "out"
    args = ["--master", "local[2]", *job_args(source, output), "--mode", "overwrite"]
    assert submit(args).returncode == 0
    killed = submit(args, env={"SPARK_DEBERTA_FAULT": "commit:after-exchange"})
    assert killed.returncode != 0
    assert_every_id_once(output, ids)  # the new output, swapped in whole; the old one hidden
    assert (tmp_path / ".out.commit").exists()
    rerun = submit(args)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    assert "finished the interrupted commit" in rerun.stdout + rerun.stderr
    assert_every_id_once(output, ids)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]


def test_a_driver_jvm_that_dies_mid_job_is_said_in_one_line_and_the_rerun_writes(
    tmp_path,
) -> None:
    """Killing the driver's JVM mid-job is what running out of driver memory looks like. Run as
    ``spark-deberta run`` runs (Python starts the JVM), the user gets one line and no
    traceback; the output is untouched, and the next run clears the staging folder and the
    lock and writes every row."""
    import sys

    source, ids = documents(tmp_path, 40)
    output = tmp_path / "out"
    command = [sys.executable, "-m", "pipelines.job", *job_args(source, output)[1:]]
    conf = tmp_path / "spark.conf"
    conf.write_text("spark.master local[2]\nspark.sql.execution.arrow.maxRecordsPerBatch 4\n")
    killed = subprocess.run(
        [*command, "--spark-conf", str(conf)],
        capture_output=True,
        text=True,
        env=environment({"SPARK_DEBERTA_FAULT": "driver-jvm"}),
        cwd=ROOT,
        timeout=420,
    )
    said = killed.stdout + killed.stderr
    assert killed.returncode == 1, said[-4000:]
    assert "Traceback" not in said, said[-4000:]
    ours = [line for line in said.splitlines() if line.startswith("spark-deberta run: ")]
    assert any("JVM stopped answering" in line or "the Spark job failed" in line for line in ours)
    assert not output.exists()
    rerun = submit(["--master", "local[2]", *job_args(source, output)])
    assert rerun.returncode == 0, rerun.stdout[-4000:]
    assert_every_id_once(output, ids)
    assert not list(tmp_path.glob("out.__*"))
