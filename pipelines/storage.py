"""The job's output commit: the complete old output or the complete new one, on any Hadoop store.

Everything the job keeps beside the target has a name that starts with ``.<target name>.``, so
readers of a partitioned table (``lake/date=1``) never see it as data:

- ``.<name>.lock``: held for the whole job, a lease renewed while the job runs (a failed
  renewal is retried); a second job on the same target stops at once. It is created
  exclusively (on local disk a hard link, since Hadoop's local create is check-then-create).
  A lock whose lease ran out, or whose process is gone (same host, boot and PID namespace: a
  pid from another container means nothing here), is taken over, and only as it was observed:
  one job wins a takeover token named by the lock's text, reads the lock again and removes it
  only if unchanged. Before the commit, and before each step that changes the target, the job
  checks that the lock is still its own and its lease current; if not, it stops (before the
  journal, with the target untouched).
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

import hashlib
import json
import os
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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
#: What a commit stopped for a lost lock leaves (for the error).
LEFT_FOR_THE_HOLDER = (
    "the journal says what is left; the job that holds the lock, or the next run, finishes it"
)
#: Seconds a lock file that is not a lock (empty: being written on HDFS) is given to become one.
UNREADABLE_LOCK_WAIT_S = 2.0
#: Seconds after which a takeover token (``.<name>.lock.takeover-*``) left by a dead job lapses.
TAKEOVER_TOKEN_LAPSE_S = 60.0


def _first_line(exc: BaseException) -> str:
    """An exception's first line, without Py4J's prefix and Java's stack trace."""
    text = str(exc).strip()
    if "Exception:" in text:  # Py4J: "An error occurred while calling ...\n: java...Exception: ..."
        text = text.split("\n: ", 1)[-1]
    return (text.splitlines() or [type(exc).__name__])[0][:300]


def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When a process started (clock ticks since boot, /proc/<pid>/stat field 22): with the
    pid, it names one process, where the pid alone may have been reused."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def process_identity() -> dict[str, Any]:
    """What the lock records of its job's process: the host, and where its pid means
    something: the boot (``boot``) and the PID namespace (``pidns``: a container has its own,
    whatever its host name). None where the system does not say (not Linux)."""
    try:
        namespace: str | None = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = None
    return {
        "host": socket.gethostname(),
        "boot": _read_text("/proc/sys/kernel/random/boot_id"),
        "pidns": namespace,
        "pid": os.getpid(),
        "started": _start_ticks(os.getpid()),
    }


def _parse_owner(text: str | None) -> dict[str, Any] | None:
    """A lock file's owner record, or None if the text is not one (empty, cut, damaged)."""
    try:
        owner = json.loads(text or "")
    except ValueError:
        return None
    return owner if isinstance(owner, dict) and isinstance(owner.get("run"), str) else None


#: The identity fields that must match for a lock's pid to be looked up here.
SAME_PLACE = ("host", "boot", "pidns")


def _owner_gone(owner: dict[str, Any]) -> str | None:
    """Why the process that wrote a lock is gone, or None if it may be alive.

    Its pid is looked up only where it means the same process: same host, boot and PID
    namespace. A lock from another machine or container (or without those fields) lapses by
    its lease alone.
    """
    here = process_identity()
    if any(owner.get(key) is None or owner.get(key) != here[key] for key in SAME_PLACE):
        return None
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return f"process {pid} is gone"
    except PermissionError:
        pass  # alive, another user's
    started = owner.get("started")
    now = _start_ticks(pid)
    if isinstance(started, int) and now is not None and now != started:
        return f"process {pid} is gone (its pid now names another process)"
    return None


@dataclass(frozen=True)
class _Seen:
    """A lock file as observed: its text, and seconds since it was last written."""

    text: str
    age_s: float


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
        self._lost: str | None = None  # why this job no longer holds the lock, once it does not
        self._renewed_at = time.monotonic()
        self._renewer = threading.Thread(
            target=self._renew, name="spark-deberta-lease", daemon=True
        )
        self._parent = parent

    # -- the lock ---------------------------------------------------------------------------

    def __enter__(self) -> OutputCommit:
        self._make_parent()
        self._acquire()
        self._renewer.start()  # before recovery, which may take a while on an object store
        try:
            self.recover()
            self._check_mode()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, failed: type[BaseException] | None, *exc_info: object) -> None:
        try:
            try:
                # A journal naming this staging folder means a commit to finish: keep it.
                journal = self.files.read(self.journal)
                named = journal is not None and self._name_of(self.staging) in journal
                if self.files.exists(self.staging) and not named:
                    self.files.delete(self.staging)
            finally:
                self._release()
        except Exception:
            # Leaving on the job's own error (a dead JVM, say) the clean-up may fail too: the
            # job's error is the one to report, and the next run's recovery clears the staging
            # folder and the lapsed lock.
            if failed is None:
                raise

    def _owner(self) -> str:
        return json.dumps(
            {"run": self.run, **process_identity(), "lease_s": self.lease_s, "at": time.time()}
        )

    def _make_parent(self) -> None:
        """Create the target's folder, or say in one line which file stands in the way."""
        try:
            self.files.mkdirs(self._parent)
            return
        except Exception as exc:  # Py4J: FileAlreadyExists, ParentNotDirectory, permissions
            cause = _first_line(exc)
        above = self.files.path(self._parent)
        while above is not None:
            if self.files.is_file(str(above)):
                raise JobError(
                    f"output {self.target}: {above} is a file, so no folder can be made under "
                    "it; choose an output path whose folders are folders (or move the file)"
                )
            above = above.getParent()
        raise JobError(
            f"output {self.target}: cannot create its folder {self._parent} ({cause}); check "
            "the path and its permissions"
        )

    def _read_lock(self) -> str | None:
        """The lock file's text, None if there is no lock; a clear error if it cannot be read."""
        try:
            text = self.files.read(self.lock)
            if text is None and self.files.is_folder(self.lock):
                raise OSError("it is a folder, not a file")
        except Exception as exc:
            raise JobError(
                f"output {self.target}: its lock {self.lock} cannot be read "
                f"({_first_line(exc)}); if no job is writing {self.target}, delete "
                f"{self.lock} and run the job again"
            ) from exc
        return text

    def _observe(self) -> _Seen | None:
        """The lock as it is now (text and age), or None if it went away meanwhile. A lock
        whose text changes between two reads is being written or renewed: age 0."""
        first = self._read_lock()
        if first is None:
            return None
        try:
            age_s = time.time() - self.files.modified_ms(self.lock) / 1000
        except Exception:  # the lock vanished meanwhile: its owner finished
            return None
        second = self._read_lock()
        if second is None:
            return None
        return _Seen(second, age_s if first == second else 0.0)

    def _acquire(self) -> None:
        """Create the lock exclusively; a stale one is taken over only as it was observed."""
        unreadable_since: float | None = None
        for attempt in range(50):
            if self.files.write(self.lock, self._owner(), exclusive=True):
                self._renewed_at = time.monotonic()
                return
            seen = self._observe()
            if seen is None:
                continue  # released meanwhile: try to create it again
            stale = self._stale_reason(seen)
            if stale is not None:
                self._take_over(seen, stale)
            elif _parse_owner(seen.text) is not None:
                raise JobError(
                    f"output {self.target} is being written by another job "
                    f"({seen.text.strip()}); two jobs must not write one output. If that job "
                    f"is dead, its lock {self.lock} lapses {self.lease_s:.0f} s after its last "
                    "renewal, or delete the lock file"
                )
            else:
                # Not a lock: one being written (on HDFS a created file is empty until it is
                # closed) becomes one within moments; anything else is damage.
                unreadable_since = unreadable_since or time.monotonic()
                if time.monotonic() - unreadable_since > UNREADABLE_LOCK_WAIT_S:
                    raise JobError(
                        f"output {self.target}: its lock {self.lock} holds no job's lock "
                        f"({seen.text[:80]!r}); if no job is writing {self.target}, delete "
                        f"{self.lock} and run the job again"
                    )
            time.sleep(0.05 + 0.05 * random.random() * min(attempt, 5))
        raise JobError(f"output {self.target}: could not take the lock {self.lock}; try again")

    def _stale_reason(self, seen: _Seen) -> str | None:
        """Why the observed lock's owner is gone, or None if it may still be writing. The lease
        is the one its owner renews by (in the lock), else this job's."""
        owner = _parse_owner(seen.text)
        lease_s = owner.get("lease_s") if owner is not None else None
        if not isinstance(lease_s, (int, float)) or isinstance(lease_s, bool) or lease_s <= 0:
            lease_s = self.lease_s
        if seen.age_s > lease_s:
            return f"lease not renewed for {seen.age_s:.0f} s"
        return None if owner is None else _owner_gone(owner)

    def _take_over(self, seen: _Seen, reason: str) -> None:
        """Remove the stale lock, if it is still the one observed.

        Of several jobs that observed the same stale lock, the one that creates its takeover
        token (exclusively, named by the observed text) removes it, and only after reading it
        again: a lock created or renewed since is someone's live lock and is left alone. The
        token goes when this is done; one left by a job that died here lapses after a minute.
        """
        digest = hashlib.sha256(seen.text.encode("utf-8")).hexdigest()[:16]
        token = f"{self.lock}.takeover-{digest}"
        if not self.files.write(token, self.run, exclusive=True):
            try:
                age_s = time.time() - self.files.modified_ms(token) / 1000
            except Exception:  # finished meanwhile
                return
            if age_s > TAKEOVER_TOKEN_LAPSE_S:
                self.files.delete(token)
            return
        try:
            if self._read_lock() == seen.text:
                self.files.delete(self.lock)
                print(f"spark-deberta: took over the lock {self.lock} ({reason})", file=sys.stderr)
        finally:
            self.files.delete(token)

    def _mine(self, text: str | None) -> bool:
        owner = _parse_owner(text)
        return owner is not None and owner.get("run") == self.run

    def _renew_once(self) -> None:
        """Renew the lease if the lock is still this job's; note the loss if it is not."""
        text = self._read_lock()
        if not self._mine(text):
            self._lost = (
                "its lock file is gone"
                if text is None
                else f"the lock now names another job ({text.strip()[:200]})"
            )
            return
        faults.inject("lease", "renew")
        self.files.write(self.lock, self._owner())
        self._renewed_at = time.monotonic()

    def _renew(self) -> None:
        """Renew every quarter lease; after a failure, retry sooner and keep trying (a lease
        lapses only after every renewal in a whole lease has failed)."""
        every, retry = max(self.lease_s / 4, 0.05), max(self.lease_s / 32, 0.05)
        failures, wait = 0, every
        while self._lost is None and not self._stop.wait(wait):
            try:
                self._renew_once()
            except Exception as exc:  # a disk or network hiccup, or the session stopping
                failures += 1
                wait = retry
                if failures == 1:
                    print(
                        f"spark-deberta: WARNING: could not renew the lock {self.lock} "
                        f"({_first_line(exc)}); retrying",
                        file=sys.stderr,
                    )
            else:
                failures, wait = 0, every

    def _check_owner(self, refused: str) -> None:
        """Stop unless this job still holds the lock: its run in the lock file, its lease
        renewed within the lease. ``refused`` says what that leaves, for the error."""
        problem = self._lost
        if problem is None:
            try:
                text = self._read_lock()
            except JobError as exc:
                problem = str(exc)
            else:
                since_s = time.monotonic() - self._renewed_at
                if not self._mine(text):
                    problem = (
                        "its lock file is gone"
                        if text is None
                        else f"the lock now names another job ({text.strip()[:200]})"
                    )
                elif since_s > self.lease_s:
                    problem = (
                        f"its lease ran out ({since_s:.0f} s since the last renewal, lease "
                        f"{self.lease_s:.0f} s), so another job may be writing"
                    )
        if problem is not None:
            raise JobError(
                f"output {self.target}: this job no longer holds its lock {self.lock}: "
                f"{problem}; {refused}"
            )

    def _release(self) -> None:
        self._stop.set()
        if self._renewer.is_alive():  # a renewal in flight must not recreate the lock
            self._renewer.join(timeout=60)
        try:
            mine = self._mine(self._read_lock())
        except JobError:
            mine = False
        if mine:
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
        """Carry a journaled commit through to its end; safe to repeat from any step, but only
        by the lock's holder (checked before each step that changes the target)."""
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
        self._check_owner(LEFT_FOR_THE_HOLDER)
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
                    self._check_owner(LEFT_FOR_THE_HOLDER)
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
        self._check_owner(LEFT_FOR_THE_HOLDER)
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
        self._check_owner(LEFT_FOR_THE_HOLDER)
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

    def commit(self, rows: int | None = None) -> None:
        """Replace the target with the checked staging folder, journaled step by step.

        Refused, with the target untouched, when this job no longer holds the lock or when the
        staging folder is gone or (``rows`` > 0) holds no data files: another job may have
        taken over and removed it.
        """
        untouched = f"nothing was committed and {self.target} is as it was; run the job again"
        self._check_owner(untouched)
        self._check_staging(rows, untouched)
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
        try:  # the last moment to refuse: once the journal is in place, the commit is made
            _step("journal-draft")
            self._check_owner(untouched)
        except Exception as exc:
            self.files.delete(draft)
            if isinstance(exc, JobError):
                raise
            raise JobError(f"the commit of {self.target} failed ({exc}); {untouched}") from exc
        if self.files.exists(self.journal):
            raise JobError(
                f"output {self.target}: another commit's journal {self.journal} appeared while "
                f"this job held the lock; the new output is in {self.staging}. "
                "Look at both before deleting either"
            )
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

    def _check_staging(self, rows: int | None, refused: str) -> None:
        """The staging folder must still hold what the job wrote (and checked)."""
        names = self.files.files(self.staging)
        data = [n for n in names if n.rpartition("/")[2] not in (SUCCESS, COMMIT_MARKER)]
        if not names or (rows and not data):
            state = "is gone" if not self.files.exists(self.staging) else "holds no data files"
            raise JobError(
                f"output {self.target}: the staging folder {self.staging} {state} (did another "
                f"job take over the lock and remove it?); {refused}"
            )
