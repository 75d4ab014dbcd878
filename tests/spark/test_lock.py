"""The output lock under races and faults (issue 24, findings 8, 9, 10 and 14's output part).

One job at a time holds ``.<name>.lock``: jobs entering at once, or taking over a dead job's
lock at once, never hold it together; a pid is judged only in its own PID namespace; a failed
lease renewal is retried; a job that lost its lock, or whose staging folder lost its rows, does
not commit; a damaged lock or an output under a file is one clear line. Real Spark, real local
files; the multi-process check starts real drivers.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from annotators.errors import JobError
from annotators.hadoop_files import HadoopFiles
from pipelines.storage import OutputCommit, process_identity

pytestmark = [pytest.mark.classic]

ROOT = Path(__file__).resolve().parents[2]


def count(spark, target: Path | str) -> int:
    return spark.read.parquet(str(target)).count()


def hidden(folder: Path, name: str = "out") -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}."))


def dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def lock_of(pid: int, **fields: object) -> str:
    """A lock as a job in this host, boot and PID namespace writes it, for ``pid``."""
    return json.dumps({**process_identity(), "run": "0123456789ab", "pid": pid, **fields})


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Py4J" not in message and "at org." not in message
    return message


# -- finding 8: exclusive under races ----------------------------------------------------------


class Holding:
    """How many jobs hold one output's lock now, at most, and in all (guarded by ``guard``)."""

    def __init__(self, start: threading.Barrier) -> None:
        self.start, self.guard = start, threading.Lock()
        self.now = self.most = self.held = 0


def contend(spark, folder: Path, state: Holding, errors: list[str]) -> None:
    """One job: enter with the others, note holding the lock, hold it a moment, leave."""
    state.start.wait()
    try:
        with OutputCommit(spark, str(folder / "out"), "overwrite", lease_s=60) as output:
            with state.guard:
                state.now += 1
                state.held += 1
                state.most = max(state.most, state.now)
            if output.run not in (folder / ".out.lock").read_text():
                errors.append(f"{folder.name}: the lock does not name its holder")
            time.sleep(0.02)
            with state.guard:
                state.now -= 1
    except JobError as exc:
        if "being written by another job" not in str(exc):
            errors.append(str(exc))


@pytest.mark.parametrize("left", ["nothing", "a dead job's lock", "a lapsed lease"])
def test_jobs_entering_at_once_never_hold_the_lock_together(spark, tmp_path, left) -> None:
    """Several jobs (threads of this driver, each its own OutputCommit: the lock is files, not
    processes) enter at the same moment, over and over; at no moment do two hold the lock, and
    the lock file names the one that does. Hadoop's local create is check-then-create, and a
    takeover used to rename aside whatever lock was there by then, another job's fresh one."""
    jobs, trials = 5, 12
    overlaps: list[int] = []
    errors: list[str] = []
    holders_per_trial = []
    for trial in range(trials):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        if left == "a dead job's lock":
            (folder / ".out.lock").write_text(lock_of(dead_pid()))
        elif left == "a lapsed lease":
            (folder / ".out.lock").write_text(lock_of(os.getpid(), host="elsewhere"))
            age(folder / ".out.lock", 120)
        state = Holding(threading.Barrier(jobs))
        threads = [
            threading.Thread(target=contend, args=(spark, folder, state, errors))
            for _ in range(jobs)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if state.most > 1:
            overlaps.append(trial)
        holders_per_trial.append(state.held)
        assert hidden(folder) == []
    assert overlaps == [], f"two jobs held the lock at once in trials {overlaps}"
    assert errors == []
    assert min(holders_per_trial) >= 1  # and the lock was not lost to everyone


#: A driver that, at each agreed moment, tries to take the lock of output ``t<i>/out`` from
#: three threads and notes when it held it (wall clock: the drivers share this machine's clock).
CONTENDER = """
import json, sys, threading, time
from pathlib import Path
from pyspark.sql import SparkSession
from annotators.errors import JobError
from pipelines.storage import OutputCommit
root, name, trials = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
spark = SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false").getOrCreate()
(root / f"ready-{name}").touch()
while not (root / "go").exists():
    time.sleep(0.05)
start = float((root / "go").read_text())
held, errors = [], []
def contend(trial):
    time.sleep(max(0.0, start + trial * 0.5 - time.time()))
    try:
        with OutputCommit(spark, str(root / f"t{trial}" / "out"), "overwrite", lease_s=60):
            began = time.time()
            time.sleep(0.05)
            held.append([trial, began, time.time()])
    except JobError as exc:
        if "being written by another job" not in str(exc):
            errors.append(str(exc))
for trial in range(trials):
    threads = [threading.Thread(target=contend, args=(trial,)) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
assert not errors, errors
(root / f"held-{name}.json").write_text(json.dumps(held))
"""


@pytest.mark.slow
def test_drivers_entering_at_once_never_hold_the_lock_together(tmp_path) -> None:
    """Three drivers (processes, each with its Spark and three contending threads) enter at
    agreed moments, on outputs with no lock, a dead driver's lock, or a lapsed one: holding
    times never overlap."""
    drivers, trials = 3, 12
    for trial in range(trials):
        folder = tmp_path / f"t{trial}"
        folder.mkdir()
        if trial % 3 == 1:
            (folder / ".out.lock").write_text(lock_of(dead_pid()))
        elif trial % 3 == 2:
            (folder / ".out.lock").write_text(lock_of(1, host="elsewhere"))
            age(folder / ".out.lock", 120)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    running = [
        subprocess.Popen(
            [sys.executable, "-c", CONTENDER, str(tmp_path), str(n), str(trials)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(drivers)
    ]
    try:
        deadline = time.time() + 240
        while len(list(tmp_path.glob("ready-*"))) < drivers and time.time() < deadline:
            assert all(p.poll() is None for p in running), "a driver stopped before the start"
            time.sleep(0.2)
        (tmp_path / "go").write_text(str(time.time() + 1.0))
        for process in running:
            _, err = process.communicate(timeout=120)
            assert process.returncode == 0, err[-3000:]
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
    held = [json.loads((tmp_path / f"held-{n}.json").read_text()) for n in range(drivers)]
    for trial in range(trials):
        spans = sorted((b, e) for one in held for t, b, e in one if t == trial)
        assert spans, f"trial {trial}: no driver got the lock"
        for (_, end), (begin, _) in itertools.pairwise(spans):
            assert end <= begin, f"trial {trial}: two drivers held the lock at once"
        assert hidden(tmp_path / f"t{trial}") == []


# -- finding 9: a pid means something only in its own PID namespace ---------------------------


def test_a_lock_from_another_pid_namespace_lapses_only_with_its_lease(spark, tmp_path) -> None:
    """A job in a container with this host's name: its pid is not a process here, yet it may be
    writing. Its lock lapses by its lease, not by a pid lookup (which used to delete the live
    job's staging mid-write)."""
    target, lock = str(tmp_path / "out"), tmp_path / ".out.lock"
    lock.write_text(lock_of(dead_pid(), pidns="pid:[1]"))
    (tmp_path / ".out.writing-0123456789ab").mkdir()  # the other job's staging
    with pytest.raises(JobError, match="being written by another job"):
        OutputCommit(spark, target, "overwrite", lease_s=60).__enter__()
    assert (tmp_path / ".out.writing-0123456789ab").is_dir()
    age(lock, 120)
    with OutputCommit(spark, target, "overwrite", lease_s=60):
        pass
    assert hidden(tmp_path) == []


def test_a_pid_now_naming_another_process_does_not_keep_a_dead_jobs_lock(spark, tmp_path) -> None:
    """Same namespace, the pid alive but started at another time: the pid was reused, the job
    that wrote the lock is gone."""
    lock = tmp_path / ".out.lock"
    lock.write_text(lock_of(os.getpid(), started=1))
    with OutputCommit(spark, str(tmp_path / "out"), "overwrite", lease_s=60):
        pass
    lock.write_text(lock_of(os.getpid()))  # this very process: alive, so held
    with pytest.raises(JobError, match="being written by another job"):
        OutputCommit(spark, str(tmp_path / "out"), "overwrite", lease_s=60).__enter__()


# -- finding 10: renewal, ownership and staging at the commit ----------------------------------


def break_lock_writes(monkeypatch, output: OutputCommit, times: int | None) -> None:
    """Make writing this job's lock fail (a disk or network fault): ``times`` times, or always."""
    real, failures = output.files.write, [0]

    def flaky(path: str, text: str, exclusive: bool = False) -> bool:
        if path == output.lock and (times is None or failures[0] < times):
            failures[0] += 1
            raise OSError("injected: the store did not answer")
        return real(path, text, exclusive)

    monkeypatch.setattr(output.files, "write", flaky)


def test_a_failed_lease_renewal_is_retried(spark, tmp_path, monkeypatch) -> None:
    """One failed renewal used to stop renewing for good: the lock lapsed under a live job."""
    target = str(tmp_path / "out")
    with OutputCommit(spark, target, "error", lease_s=0.4) as output:
        break_lock_writes(monkeypatch, output, times=2)
        time.sleep(2.0)  # five leases
        with pytest.raises(JobError, match="being written by another job"):
            OutputCommit(spark, target, "overwrite", lease_s=0.4).__enter__()
        spark.range(0, 3).write.parquet(output.staging)
        output.commit(rows=3)
    assert count(spark, target) == 3 and hidden(tmp_path) == []


def test_a_job_that_lost_its_lock_leaves_the_old_output(spark, tmp_path, monkeypatch) -> None:
    """Its renewals failing, a job's lease lapses; another job takes over and removes its
    staging. Its commit used to replace the 3-row output with an empty folder."""
    target = tmp_path / "out"
    spark.range(0, 3).write.parquet(str(target))
    with OutputCommit(spark, str(target), "overwrite", lease_s=0.4) as first:
        spark.range(0, 5).write.parquet(first.staging)
        break_lock_writes(monkeypatch, first, times=None)
        time.sleep(1.0)
        with OutputCommit(spark, str(target), "overwrite", lease_s=0.4):
            assert not Path(first.files.local_path(first.staging)).exists()
            with pytest.raises(JobError, match="no longer holds its lock") as refused:
                first.commit()
    assert "is as it was" in one_line(refused)
    assert count(spark, target) == 3 and hidden(tmp_path) == []


def test_a_job_whose_lease_ran_out_does_not_commit(spark, tmp_path, monkeypatch) -> None:
    """Nobody took over yet, but another job may be about to: past its lease, a job stops."""
    target = tmp_path / "out"
    spark.range(0, 3).write.parquet(str(target))
    with OutputCommit(spark, str(target), "overwrite", lease_s=0.4) as output:
        spark.range(0, 5).write.parquet(output.staging)
        break_lock_writes(monkeypatch, output, times=None)
        time.sleep(1.0)
        with pytest.raises(JobError, match="lease ran out"):
            output.commit()
    assert count(spark, target) == 3 and hidden(tmp_path) == []


def test_staging_that_lost_its_rows_is_not_committed(spark, tmp_path) -> None:
    target = tmp_path / "out"
    spark.range(0, 3).write.parquet(str(target))
    with OutputCommit(spark, str(target), "overwrite") as output:
        spark.range(0, 5).write.parquet(output.staging)
        staging = Path(output.files.local_path(output.staging))
        for part in staging.glob("*.parquet"):
            part.unlink()
        with pytest.raises(JobError, match="holds no data files"):
            output.commit(rows=5)
        shutil.rmtree(staging)
        with pytest.raises(JobError, match="staging folder .* is gone"):
            output.commit()
    assert count(spark, target) == 3 and hidden(tmp_path) == []


# -- finding 14 (output): one line, not a Py4J trace -------------------------------------------


@pytest.mark.parametrize("under", ["some.txt/out", "some.txt/deeper/out"])
def test_an_output_under_a_regular_file_is_one_clear_line(spark, tmp_path, under) -> None:
    (tmp_path / "some.txt").write_text("not a folder")
    with pytest.raises(JobError, match="some.txt is a file") as refused:
        OutputCommit(spark, str(tmp_path / under), "error").__enter__()
    one_line(refused)


@pytest.mark.parametrize("damage", ["checksum", "folder", "garbage"])
def test_a_damaged_lock_is_one_clear_line_and_a_lapsed_one_is_taken_over(
    spark, tmp_path, damage
) -> None:
    lock = tmp_path / ".out.lock"
    if damage == "checksum":  # written through Hadoop (with its .crc), then changed outside
        HadoopFiles(spark, str(tmp_path)).fs.create(
            HadoopFiles(spark, str(tmp_path)).path(str(lock)), True
        ).close()
        lock.write_text("{")
    elif damage == "folder":
        lock.mkdir()
    else:
        lock.write_bytes(b"\x00\x01 not json")
    with pytest.raises(JobError, match="delete .*lock and run the job again") as refused:
        OutputCommit(spark, str(tmp_path / "out"), "error").__enter__()
    one_line(refused)
    if damage != "folder":  # a file that holds no lock lapses like any lock
        age(lock, 120)
        with OutputCommit(spark, str(tmp_path / "out"), "error", lease_s=60):
            pass
        assert hidden(tmp_path) == []
