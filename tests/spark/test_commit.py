"""The output commit: a lock for the whole job, hidden staging, and a journal that makes a driver
killed at any step of the commit harmless (the next run finishes it).

The commit runs on the test session's real Spark and Hadoop filesystems: local disk, and viewfs
(a Hadoop filesystem under a non-local scheme, mounted on a temporary folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotators.errors import JobError
from pipelines.job import write_all_or_nothing
from pipelines.storage import OutputCommit, process_identity

pytestmark = [pytest.mark.classic]

ROOT = Path(__file__).resolve().parents[2]


def write(spark, target: str, mode: str, rows: int, **options) -> None:
    with OutputCommit(spark, target, mode, **options) as output:
        write_all_or_nothing(spark.range(0, rows), output, rows)


def count(spark, target: Path | str) -> int:
    return spark.read.parquet(str(target)).count()


def hidden(folder: Path, name: str = "out") -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


def test_a_second_job_on_the_same_output_stops_at_once(spark, tmp_path) -> None:
    target = str(tmp_path / "out")
    with OutputCommit(spark, target, "overwrite") as first:
        with pytest.raises(JobError, match="is being written by another job"):
            OutputCommit(spark, target, "overwrite").__enter__()
        write_all_or_nothing(spark.range(0, 3), first, 3)
    assert count(spark, target) == 3 and hidden(tmp_path) == []
    write(spark, target, "overwrite", 4)  # the lock was released
    assert count(spark, target) == 4


def test_a_running_job_keeps_its_lock_past_the_lease_by_renewing_it(spark, tmp_path) -> None:
    target = str(tmp_path / "out")
    for _ in range(3):  # and a finished job leaves no lock behind, even with fast renewals
        with OutputCommit(spark, target, "overwrite", lease_s=0.3):
            time.sleep(1.0)
            with pytest.raises(JobError, match="being written by another job"):
                OutputCommit(spark, target, "overwrite", lease_s=0.3).__enter__()
        assert hidden(tmp_path) == []


def test_an_output_that_appears_while_the_job_runs_is_not_replaced(spark, tmp_path) -> None:
    target = str(tmp_path / "out")
    with (
        pytest.raises(JobError, match="already exists"),
        OutputCommit(spark, target, "error") as output,
    ):
        spark.range(0, 5).write.parquet(target)  # someone ignoring the lock
        write_all_or_nothing(spark.range(0, 3), output, 3)
    assert count(spark, target) == 5 and hidden(tmp_path) == []


def test_a_dead_jobs_lock_and_staging_are_taken_over(spark, tmp_path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / ".out.lock"
    # Same host, boot and PID namespace as this process (a pid is looked up only there).
    lock.write_text(json.dumps({**process_identity(), "run": "x", "pid": dead.pid}))
    (tmp_path / ".out.writing-deadbeef0000").mkdir()
    write(spark, str(tmp_path / "out"), "error", 2)
    assert count(spark, tmp_path / "out") == 2 and hidden(tmp_path) == []

    # Another host's lock: it lapses with its lease, not before.
    lock.write_text(json.dumps({"run": "y", "host": "elsewhere", "pid": 1}))
    with pytest.raises(JobError, match="being written by another job"):
        write(spark, str(tmp_path / "out"), "overwrite", 3, lease_s=60)
    old = time.time() - 120
    os.utime(lock, (old, old))
    write(spark, str(tmp_path / "out"), "overwrite", 3, lease_s=60)
    assert count(spark, tmp_path / "out") == 3 and hidden(tmp_path) == []


def test_staging_never_shows_up_as_a_partition_of_the_table(spark, tmp_path) -> None:
    lake = tmp_path / "lake"
    write(spark, str(lake / "date=1"), "error", 2)
    with OutputCommit(spark, str(lake / "date=2"), "error") as output:
        spark.range(0, 7).write.parquet(output.staging)
        table = spark.read.parquet(str(lake))
        assert table.count() == 2 and sorted(r.date for r in table.collect()) == [1, 1]
        output.commit()
    assert spark.read.parquet(str(lake)).count() == 9


@pytest.mark.parametrize("protocol", ["rename", "marker"])
def test_commit_on_a_non_local_hadoop_filesystem(spark, tmp_path, protocol) -> None:
    mount = f"lake{protocol}"
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    hadoop.set(f"fs.viewfs.mounttable.{mount}.link./data", tmp_path.as_uri())
    target = f"viewfs://{mount}/data/out"
    write(spark, target, "error", 3, protocol=protocol)
    write(spark, target, "overwrite", 5, protocol=protocol)
    assert count(spark, target) == 5 and count(spark, tmp_path / "out") == 5
    assert (tmp_path / "out" / "_SUCCESS").exists() and hidden(tmp_path) == []


def test_a_commit_that_fails_midway_keeps_the_new_output_for_the_next_run(
    spark, tmp_path, monkeypatch
) -> None:
    target = tmp_path / "out"
    write(spark, str(target), "error", 3)
    monkeypatch.setenv("SPARK_DEBERTA_FAULT", "commit:after-journal:raise")
    with pytest.raises(JobError, match="the commit of .* failed .*the next run .* finishes it"):
        write(spark, str(target), "overwrite", 5)
    assert count(spark, target) == 3 and (tmp_path / ".out.commit").exists()
    (staging,) = tmp_path.glob(".out.writing-*")  # the complete new output, kept
    assert count(spark, f"{staging}/*.parquet") == 5
    monkeypatch.delenv("SPARK_DEBERTA_FAULT")
    with pytest.raises(JobError, match="already exists"):  # the next run finishes the commit
        write(spark, str(target), "error", 1)
    assert count(spark, target) == 5 and hidden(tmp_path) == []


#: A driver that replaces ``out`` (3 old rows) with 5 new rows and dies at one commit step; on
#: viewfs when a mount is given (no atomic exchange there: the commit renames twice).
DYING_DRIVER = """
import sys
from pyspark.sql import SparkSession
from pipelines.job import write_all_or_nothing
from pipelines.storage import OutputCommit
builder = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
target, protocol, *mount = sys.argv[1:]
if mount:
    builder = builder.config(f"spark.hadoop.fs.viewfs.mounttable.{mount[0]}.link./data", mount[1])
spark = builder.getOrCreate()
with OutputCommit(spark, target, "overwrite", protocol=protocol) as output:
    write_all_or_nothing(spark.range(0, 5), output, 5)
"""

LOCAL_RENAME_STEPS = ["after-journal", "after-exchange", "before-journal-delete"]
RENAME_STEPS = ["after-journal", "after-retire", "after-move", "before-journal-delete"]
MARKER_STEPS = ["after-journal", "after-unmark", "after-first-file", "before-journal-delete"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("store", "protocol", "step"),
    [("local", "rename", s) for s in LOCAL_RENAME_STEPS]
    + [("viewfs", "rename", s) for s in RENAME_STEPS]
    + [("local", "marker", s) for s in MARKER_STEPS],
)
def test_a_driver_killed_during_the_commit_leaves_old_or_new_and_the_next_run_repairs(
    spark, tmp_path, store, protocol, step
) -> None:
    target = tmp_path / "out"
    write(spark, str(target), "error", 3)
    where, mount = str(target), []
    if store == "viewfs":
        mount = [f"dying{len(step)}", tmp_path.as_uri()]
        where = f"viewfs://{mount[0]}/data/out"
    env = {**os.environ, "SPARK_DEBERTA_FAULT": f"commit:{step}", "PYTHONPATH": str(ROOT)}
    died = subprocess.run(
        [sys.executable, "-c", DYING_DRIVER, where, protocol, *mount],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert died.returncode == -9, died.stderr[-3000:]
    if protocol == "marker":  # a marker reader: complete, or not there at all
        if (target / "_SUCCESS").exists():
            assert count(spark, target) in (3, 5)
    elif store == "local":  # the atomic exchange: never neither
        assert count(spark, target) in (3, 5)
    else:  # two renames: only between them is the target absent
        assert target.is_dir() == (step != "after-retire")
        if target.is_dir():
            assert count(spark, target) in (3, 5)
    # The next run on this output (here, one that only needs the lock) finishes the commit.
    with pytest.raises(JobError, match="already exists"):
        OutputCommit(spark, str(target), "error").__enter__()
    assert count(spark, target) == 5 and (target / "_SUCCESS").exists()
    assert hidden(tmp_path) == [] and not (target / ".spark-deberta-commit").exists()


@pytest.mark.parametrize("left", ["", '{"protocol": "rename", "run": "0123', "\x00\x00"])
def test_a_journal_cut_short_by_a_dead_driver_does_not_block_later_runs(
    spark, tmp_path, capsys, left
) -> None:
    """A journal that is empty or cut short was being written when its job died: before any
    change to the target, so the next run removes it and goes on (it used to stop every run
    until a person deleted it)."""
    target = tmp_path / "out"
    write(spark, str(target), "error", 3)
    (tmp_path / ".out.commit").write_text(left, encoding="utf-8")
    write(spark, str(target), "overwrite", 5)
    assert count(spark, target) == 5 and hidden(tmp_path) == []
    assert "left incomplete by a job that died" in capsys.readouterr().err


def test_a_journal_that_parses_but_names_nothing_usable_still_stops_the_job(
    spark, tmp_path
) -> None:
    """Whole JSON without the fields of a protocol is not a torn write: a person must look."""
    target = tmp_path / "out"
    write(spark, str(target), "error", 3)
    (tmp_path / ".out.commit").write_text('{"protocol": "other"}', encoding="utf-8")
    with pytest.raises(JobError, match="journal .* is unreadable"):
        write(spark, str(target), "overwrite", 5)
    assert count(spark, target) == 3


@pytest.mark.slow
def test_a_driver_killed_while_writing_the_journal_leaves_the_old_output(spark, tmp_path) -> None:
    """Killed with the journal drafted but not in place: the target was never touched, and the
    next run removes the draft and the staging folder."""
    target = tmp_path / "out"
    write(spark, str(target), "error", 3)
    env = {**os.environ, "SPARK_DEBERTA_FAULT": "commit:journal-draft", "PYTHONPATH": str(ROOT)}
    died = subprocess.run(
        [sys.executable, "-c", DYING_DRIVER, str(target), "rename"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert died.returncode == -9, died.stderr[-3000:]
    assert count(spark, target) == 3 and not (tmp_path / ".out.commit").exists()
    assert any(name.startswith(".out.journal-") for name in hidden(tmp_path))
    with pytest.raises(JobError, match="already exists"):
        OutputCommit(spark, str(target), "error").__enter__()
    assert count(spark, target) == 3 and hidden(tmp_path) == []
