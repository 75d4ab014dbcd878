"""The job's output commit: the complete old output or the complete new one, on any Hadoop store.

Everything the job keeps beside the target has a name that starts with ``.<target name>.``, so
readers of a partitioned table (``lake/date=1``) never see it as data:

- ``.<name>.lock``: held for the whole job, a lease renewed while the job runs; a second job on
  the same target stops at once. A lock whose owner died (same host, no such process) or whose
  lease ran out is taken over.
- ``.<name>.writing-<run>``: where Spark writes; checked (rows, counts) before the commit.
- ``.<name>.commit``: the journal, written whole beside (``.<name>.journal-<run>``) and renamed
  into place before the first change to the target, and removed after the last. A run that
  finds one finishes that commit first, so a driver killed at any step leaves nothing that the
  next run cannot repair.

Two protocols, by store:

- ``rename`` (local disk, HDFS, viewfs: atomic directory rename): on local disk (Linux) the
  new folder and the old one trade places in one atomic exchange, then the old one is deleted;
  a reader sees the complete old folder or the complete new one at every moment. Elsewhere the
  old output moves to ``.<name>.replaced-<run>`` and the new one onto the target: between the
  two renames (milliseconds) the target is absent, and a driver killed there leaves both
  copies hidden and journaled for the next run.
- ``marker`` (object stores: s3a, gs, abfs, wasb, dbfs, ...; rename there is copy and delete):
  the target's ``_SUCCESS`` is removed first, old files are deleted, new files are moved in one
  by one, and ``_SUCCESS`` is written last. A reader that requires ``_SUCCESS`` (Spark's
  ``spark.read`` does not; check for it) sees the complete old or the complete new output. The
  lock there is best effort: object stores have no exclusive create.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from pyspark.sql import SparkSession

from annotators import faults
from annotators.errors import JobError
from annotators.hadoop_files import HadoopFiles

#: Stores whose directory rename is atomic; every other scheme commits with the marker protocol.
ATOMIC_RENAME_SCHEMES = frozenset({"file", "hdfs", "viewfs"})
COMMIT_PROTOCOLS = ("auto", "rename", "marker")
#: What to do when the output exists: refuse, or replace it once the new one is complete.
OUTPUT_MODES = ("error", "overwrite")
SUCCESS = "_SUCCESS"
#: Written into the staging folder before a rename commit: found in the target with this run's
#: id, it says that an atomic exchange has already put the new output there.
COMMIT_MARKER = ".spark-deberta-commit"


def _step(name: str) -> None:
    """Die (``commit:<step>``) or fail (``commit:<step>:raise``) here if the fault-injection
    hook names this commit step (tests only; ``annotators.faults``)."""
    faults.inject("commit", name)


def _valid_journal(journal: object) -> bool:
    """Whether a parsed journal has the fields its protocol needs, of the right types."""
    if not isinstance(journal, dict):
        return False
    if journal.get("protocol") == "rename":
        return all(isinstance(journal.get(k), str) for k in ("run", "staging", "retired"))
    if journal.get("protocol") == "marker":
        files = journal.get("files")
        return (
            isinstance(journal.get("staging"), str)
            and isinstance(files, list)
            and all(isinstance(f, str) for f in files)
        )
    return False


class OutputCommit:
    """The lock, staging folder and commit of one job's output; use it as a context manager.

    Entering takes the lock, finishes any commit a dead job left half done, removes staging
    folders of dead jobs, and applies ``mode`` (``error``: the target must not exist).
    Leaving removes this run's staging folder and releases the lock.
    """

    def __init__(
        self,
        spark: SparkSession,
        target: str,
        mode: str,
        protocol: str = "auto",
        lease_s: float = 600.0,
    ) -> None:
        self.files = HadoopFiles(spark, target)
        self.target = self.files.qualified(target.rstrip("/") or target)
        parent, _, self.name = self.target.rpartition("/")
        self.mode = mode
        self.protocol = (
            protocol
            if protocol != "auto"
            else ("rename" if self.files.scheme() in ATOMIC_RENAME_SCHEMES else "marker")
        )
        self.lease_s = lease_s
        self.run = uuid.uuid4().hex[:12]
        self._prefix = f"{parent}/.{self.name}."
        self.lock = self._prefix + "lock"
        self.journal = self._prefix + "commit"
        self.staging = f"{self._prefix}writing-{self.run}"
        self._stop = threading.Event()
        self._renewer = threading.Thread(
            target=self._renew, name="spark-deberta-lease", daemon=True
        )
        self._parent = parent

    # -- the lock ---------------------------------------------------------------------------

    def __enter__(self) -> OutputCommit:
        self.files.mkdirs(self._parent)
        self._acquire()
        try:
            self.recover()
            self._check_mode()
        except BaseException:
            self._release()
            raise
        self._renewer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            # A journal naming this staging folder means a commit to finish: keep it for that.
            journal = self.files.read(self.journal)
            named = journal is not None and self._name_of(self.staging) in journal
            if self.files.exists(self.staging) and not named:
                self.files.delete(self.staging)
        finally:
            self._release()

    def _owner(self) -> str:
        return json.dumps(
            {"run": self.run, "host": socket.gethostname(), "pid": os.getpid(), "at": time.time()}
        )

    def _acquire(self) -> None:
        for _ in range(5):
            if self.files.write(self.lock, self._owner(), exclusive=True):
                return
            stale = self._stale_reason()
            if stale is None:
                held = self.files.read(self.lock) or "{}"
                raise JobError(
                    f"output {self.target} is being written by another job ({held.strip()}); "
                    "two jobs must not write one output. If that job is dead, its lock "
                    f"{self.lock} lapses {self.lease_s:.0f} s after its last renewal, or delete "
                    "the lock file"
                )
            if stale != "released":
                # Of several jobs taking over, one wins the rename; the others try again.
                aside = f"{self.lock}.stale-{self.run}"
                if self.files.rename(self.lock, aside):
                    self.files.delete(aside)
        raise JobError(f"output {self.target}: could not take the lock {self.lock}; try again")

    def _stale_reason(self) -> str | None:
        """Why the lock's owner is gone, or None if it may still be writing."""
        try:
            age_s = time.time() - self.files.modified_ms(self.lock) / 1000
        except Exception:  # the lock vanished meanwhile: its owner finished
            return "released"
        if age_s > self.lease_s:
            return f"lease not renewed for {age_s:.0f} s"
        try:
            owner = json.loads(self.files.read(self.lock) or "{}")
        except ValueError:
            return None  # being written right now
        if not isinstance(owner, dict):
            return None
        if owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
            try:
                os.kill(owner["pid"], 0)
            except ProcessLookupError:
                return f"process {owner['pid']} is gone"
            except PermissionError:
                return None
        return None

    def _renew(self) -> None:
        while not self._stop.wait(max(self.lease_s / 4, 0.05)):
            try:
                self.files.write(self.lock, self._owner())
            except Exception:  # the session is stopping; the lock lapses by itself
                return

    def _release(self) -> None:
        self._stop.set()
        if self._renewer.is_alive():  # a renewal in flight must not recreate the lock
            self._renewer.join(timeout=60)
        owner = self.files.read(self.lock)
        if owner and f'"{self.run}"' in owner:
            self.files.delete(self.lock)

    # -- mode and recovery ------------------------------------------------------------------

    def _check_mode(self) -> None:
        if self.mode == "error" and self.files.exists(self.target):
            raise JobError(
                f"output {self.target} already exists; pass --mode overwrite to replace it"
            )

    def _sibling(self, name: str) -> str:
        """A journaled name beside the target as a path (names, not paths, are journaled, so
        the journal holds wherever the store is mounted or however it is addressed)."""
        if not isinstance(name, str) or not name.startswith(f".{self.name}.") or "/" in name:
            raise JobError(f"output {self.target}: the journal {self.journal} names {name!r}")
        return f"{self._parent}/{name}"

    def _name_of(self, path: str) -> str:
        return path.rpartition("/")[2]

    def _siblings(self) -> Iterator[str]:
        start = f".{self.name}."
        for name in self.files.names(self._parent):
            if name.startswith(start):
                yield f"{self._parent}/{name}"

    def recover(self) -> None:
        """Finish a commit that a dead job left half done; remove dead jobs' staging folders."""
        text = self.files.read(self.journal)
        if text is not None:
            try:
                journal = json.loads(text)
            except ValueError:
                journal = None
            if journal is None:
                # Empty or cut short: its writer died while writing it, so before the first
                # change to the target (which only follows a complete journal); nothing to do.
                self.files.delete(self.journal)
                print(
                    f"spark-deberta: removed the commit journal {self.journal}, left incomplete "
                    f"by a job that died before changing {self.target}",
                    file=sys.stderr,
                )
            elif not _valid_journal(journal):
                raise JobError(
                    f"output {self.target}: the commit journal {self.journal} is unreadable; "
                    "look at the folders beside the target that start with "
                    f"'.{self.name}.' and delete the journal when the target is right"
                )
            else:
                self._finish(journal)
                print(
                    f"spark-deberta: finished the interrupted commit of {self.target}",
                    file=sys.stderr,
                )
        for sibling in self._siblings():
            dead_staging = sibling.startswith(self._prefix + "writing-")
            dead_journal = sibling.startswith(self._prefix + "journal-")
            if (dead_staging and sibling != self.staging) or dead_journal:
                self.files.delete(sibling)

    def _finish(self, journal: dict[str, Any]) -> None:
        """Carry a journaled commit through to its end; safe to repeat from any step."""
        if journal["protocol"] == "rename":
            self._finish_rename(
                self._sibling(journal["staging"]), self._sibling(journal["retired"]), journal["run"]
            )
        else:
            self._finish_marker(self._sibling(journal["staging"]), journal["files"])
        _step("before-journal-delete")
        self.files.delete(self.journal)

    def _finish_rename(self, staging: str, retired: str, run: str) -> None:
        files = self.files
        marker = f"{self.target}/{COMMIT_MARKER}"
        exchanged = files.read(marker) == run
        if files.exists(staging):
            if exchanged:  # since the exchange, the staging name holds the old output
                files.delete(staging)
            elif files.exists(self.target) and files.exchange(staging, self.target):
                _step("after-exchange")
                files.delete(staging)
            else:
                if files.exists(self.target):
                    if files.exists(retired):
                        raise JobError(
                            f"output {self.target}: the interrupted commit left both {staging} "
                            f"(new) and {retired} (old) beside an existing target; move the "
                            f"one you want to {self.target} by hand and delete {self.journal}"
                        )
                    self._rename(self.target, retired)
                    _step("after-retire")
                self._rename(staging, self.target)
                _step("after-move")
        elif not files.exists(self.target) and files.exists(retired):
            self._rename(retired, self.target)  # the new output is gone: keep the old one
        if files.exists(retired):
            files.delete(retired)
        if files.exists(marker):
            files.delete(marker)

    def _finish_marker(self, staging: str, new_files: list[str]) -> None:
        files, wanted = self.files, set(new_files)
        files.delete(f"{self.target}/{SUCCESS}")
        _step("after-unmark")
        for old in files.files(self.target):
            if old not in wanted:
                files.delete(f"{self.target}/{old}")
        for relative in new_files:
            source, destination = f"{staging}/{relative}", f"{self.target}/{relative}"
            if files.exists(source):
                files.mkdirs(destination.rpartition("/")[0])
                if files.exists(destination):
                    files.delete(destination)
                if not files.rename(source, destination):
                    raise OSError(f"could not move {source} to {destination}")
                _step("after-first-file")
            elif not files.exists(destination):
                raise JobError(
                    f"output {self.target}: {relative} is in neither {staging} nor the target; "
                    f"the commit cannot be finished. Rerun the job with --mode overwrite"
                )
        files.write(f"{self.target}/{SUCCESS}", "")
        files.delete(staging)

    def _rename(self, source: str, target: str) -> None:
        """Rename a folder, and check that it went where asked: Hadoop moves a folder *into* an
        existing one and still answers true."""
        if self.files.exists(target):
            raise JobError(f"cannot move {source} to {target}: {target} exists")
        if not self.files.rename(source, target) or self.files.exists(source):
            raise JobError(f"could not move {source} to {target}")
        inside = f"{target}/{source.rpartition('/')[2]}"
        if self.files.exists(inside):
            raise JobError(f"moving {source} to {target} put it inside {target} ({inside})")

    # -- the commit -------------------------------------------------------------------------

    def commit(self) -> None:
        """Replace the target with the checked staging folder, journaled step by step."""
        self._check_mode()  # again: it may have appeared while the job ran
        if self.protocol == "rename":
            journal: dict[str, Any] = {
                "protocol": "rename",
                "run": self.run,
                "staging": self._name_of(self.staging),
                "retired": f".{self.name}.replaced-{self.run}",
            }
            self.files.write(f"{self.staging}/{COMMIT_MARKER}", self.run)
        else:
            new_files = [f for f in self.files.files(self.staging) if f != SUCCESS]
            journal = {
                "protocol": "marker",
                "staging": self._name_of(self.staging),
                "files": new_files,
            }
        # Written beside, then renamed into place: the journal is whole or absent, never cut.
        draft = f"{self._prefix}journal-{self.run}"
        self.files.write(draft, json.dumps(journal), exclusive=True)
        _step("journal-draft")
        if not self.files.rename(draft, self.journal) or self.files.exists(draft):
            raise JobError(
                f"output {self.target}: could not put the commit journal in place at "
                f"{self.journal} (is another one there?); the new output is in {self.staging}"
            )
        try:
            _step("after-journal")
            self._finish(journal)
        except Exception as exc:
            raise JobError(
                f"the commit of {self.target} failed ({exc}); the new output is complete in "
                f"{self.staging} and the journal {self.journal} says what is left to do: the "
                "next run of the job on this output finishes it"
            ) from exc
